//! A running API over a fresh real PostgreSQL database, with the read-model
//! projectors and the process manager running on the direct feed (as in
//! `mrjbot serve`), and a fake Telegram Bot API server (`tgfake`).
#![allow(dead_code)]

use std::sync::Arc;
use std::time::Duration;

use api::auth::password;
use api::{ApiConfig, AppState, TelegramConfig};
use chrono::Utc;
use commands::Commands;
use domain::access::{Actor, RoleName};
use domain::staff::NewPassword;
use domain::{CustomerId, Language};
use eventstore::testing::TestDb;
use reqwest::{Method, StatusCode};
use serde_json::Value;
use tgfake::{TgFake, TgUser};
use tokio::sync::watch;
use workers::{run_consumer, DirectFeed, Feed, ProcessManager, ProjectorConsumer, Shutdown};

pub const PASSPHRASE: &str = "test passphrase that is long enough";
pub const PASSWORD: &str = "correct horse battery";

pub struct Harness {
    pub db: Option<TestDb>,
    pub base: String,
    pub http: reqwest::Client,
    pub tg: TgFake,
    pub state: AppState,
    pub cmd: Commands,
    stop: watch::Sender<bool>,
}

pub struct Answer {
    pub status: StatusCode,
    pub body: Value,
    pub headers: reqwest::header::HeaderMap,
}

impl Answer {
    pub fn code(&self) -> &str {
        self.body["code"].as_str().unwrap_or("")
    }
}

impl Harness {
    pub async fn start() -> Harness {
        Self::start_with(ApiConfig::default()).await
    }

    pub async fn start_with(config: ApiConfig) -> Harness {
        let db = TestDb::new().await.expect("test database");
        let tg = TgFake::start().await;
        let state = AppState::new(
            db.pool.clone(),
            config,
            PASSPHRASE,
            Some(TelegramConfig {
                api_url: tg.api_url(),
                token: tg.token().to_string(),
            }),
        )
        .expect("state");
        let (stop, shutdown) = Shutdown::new();
        let feed: Arc<dyn Feed> = Arc::new(DirectFeed::new(db.pool.clone()));
        for projector in projections::all() {
            let consumer = Arc::new(ProjectorConsumer {
                pool: db.pool.clone(),
                projector,
            });
            tokio::spawn(run_consumer(feed.clone(), consumer, shutdown.clone()));
        }
        let cmd = Commands::new(db.pool.clone());
        tokio::spawn(run_consumer(
            feed.clone(),
            Arc::new(ProcessManager { commands: cmd.clone() }),
            shutdown.clone(),
        ));
        // Commerce (sales attribution, commissions, points), as `mrjbot serve` runs it.
        tokio::spawn(run_consumer(
            feed.clone(),
            Arc::new(workers::CommerceConsumer { commands: cmd.clone() }),
            shutdown.clone(),
        ));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(api::serve(listener, state.clone(), feed, shutdown));
        Harness {
            db: Some(db),
            base,
            http: reqwest::Client::new(),
            tg,
            state,
            cmd,
            stop,
        }
    }

    pub async fn finish(mut self) {
        let _ = self.stop.send(true);
        tokio::time::sleep(Duration::from_millis(50)).await;
        if let Some(db) = self.db.take() {
            db.drop_database().await.unwrap();
        }
    }

    pub fn pool(&self) -> &sqlx::PgPool {
        &self.db.as_ref().unwrap().pool
    }

    pub async fn call(&self, method: Method, path: &str, token: Option<&str>, body: Option<Value>) -> Answer {
        let mut req = self.http.request(method, format!("{}{path}", self.base));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let res = req.send().await.expect("request");
        let status = res.status();
        let headers = res.headers().clone();
        let bytes = res.bytes().await.unwrap();
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes).unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()))
        };
        Answer { status, body, headers }
    }

    pub async fn get(&self, path: &str, token: &str) -> Answer {
        self.call(Method::GET, path, Some(token), None).await
    }

    pub async fn post(&self, path: &str, token: Option<&str>, body: Value) -> Answer {
        self.call(Method::POST, path, token, Some(body)).await
    }

    /// A registered customer the fake Telegram knows (so the bot can write to them).
    pub async fn customer(&self, id: i64, username: &str) -> CustomerId {
        self.customer_referred(id, username, None).await
    }

    pub async fn customer_referred(&self, id: i64, username: &str, referrer: Option<i64>) -> CustomerId {
        let cid = CustomerId(id);
        self.cmd
            .register_customer(cid, Some(username.into()), Language::En, referrer.map(CustomerId), Utc::now())
            .await
            .unwrap();
        self.tg.add_user(&TgUser::new(id, username));
        cid
    }

    /// A customer holding `role`, with a staff account and [`PASSWORD`].
    pub async fn staff(&self, id: i64, username: &str, role: RoleName) -> CustomerId {
        let cid = self.customer(id, username).await;
        self.cmd.grant_role(&Actor::System, cid, role, Utc::now()).await.unwrap();
        let hash = password::hash(&NewPassword::parse(PASSWORD).unwrap());
        self.cmd.create_staff_account(&Actor::System, cid, hash, Utc::now()).await.unwrap();
        cid
    }

    pub async fn staff_login(&self, id: i64) -> Value {
        let a = self
            .post(
                "/api/auth/staff/login",
                None,
                serde_json::json!({ "telegram_id": id, "password": PASSWORD }),
            )
            .await;
        assert_eq!(a.status, StatusCode::OK, "{:?}", a.body);
        a.body
    }

    pub async fn staff_token(&self, id: i64) -> String {
        self.staff_login(id).await["access_token"].as_str().unwrap().to_string()
    }

    /// Asks for a code, reads it from the fake Telegram chat, signs in.
    pub async fn customer_login(&self, id: i64) -> Value {
        let before = self.tg.messages(id).len();
        let a = self
            .post("/api/auth/customer/code", None, serde_json::json!({ "telegram_id": id }))
            .await;
        assert_eq!(a.status, StatusCode::ACCEPTED, "{:?}", a.body);
        let code = self.code_from_chat(id, before).await;
        let a = self
            .post(
                "/api/auth/customer/login",
                None,
                serde_json::json!({ "telegram_id": id, "code": code }),
            )
            .await;
        assert_eq!(a.status, StatusCode::OK, "{:?}", a.body);
        a.body
    }

    pub async fn customer_token(&self, id: i64) -> String {
        self.customer_login(id).await["access_token"].as_str().unwrap().to_string()
    }

    /// The six digits in the bot's newest message to `chat` (after the first `skip`).
    pub async fn code_from_chat(&self, chat: i64, skip: usize) -> String {
        let tg = self.tg.clone();
        assert!(
            tg.wait_until(Duration::from_secs(10), move |t| t.messages(chat).len() > skip).await,
            "no code was sent to {chat}"
        );
        let m = self.tg.messages(chat).pop().unwrap();
        let body = m.body().to_string();
        body.split(|c: char| !c.is_ascii_digit())
            .find(|w| w.len() == 6)
            .unwrap_or_else(|| panic!("no code in {body:?}"))
            .to_string()
    }

    /// Polls until `f` is true (read models and caches catch up asynchronously).
    pub async fn eventually<F, Fut>(&self, what: &str, mut f: F)
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = bool>,
    {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
        while tokio::time::Instant::now() < deadline {
            if f().await {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("timed out waiting for: {what}");
    }
}
