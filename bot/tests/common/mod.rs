//! A whole installation for conversation tests: a fresh database on the real
//! PostgreSQL, the backbone's projectors and process manager on the direct
//! feed, the fake Telegram server, and the bot pointed at it.
#![allow(dead_code)]
use std::sync::Arc;
use std::time::Duration;

use bot::{App, BotConfig, BotSettings, Mode};
use chrono::Utc;
use commands::Commands;
use domain::access::{Actor, RoleName};
use domain::plan::PlanSpec;
use domain::{CardNumber, CustomerId, Location, Toman};
use eventstore::testing::TestDb;
use tgfake::{Message, TgFake, TgUser};
use tokio::task::JoinHandle;
use uuid::Uuid;
use workers::{run_consumer, DirectFeed, Feed, ProcessManager, ProjectorConsumer, Shutdown};

pub const SECRET: &str = "test secret key, long enough";
pub const WAIT: Duration = Duration::from_secs(20);

pub struct World {
    pub db: Option<TestDb>,
    pub fake: TgFake,
    pub app: Arc<App>,
    pub commands: Commands,
    stop: tokio::sync::watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

pub fn config(fake: &TgFake) -> BotConfig {
    BotConfig {
        token: fake.token().to_string(),
        api_url: fake.api_url(),
        secret_key: SECRET.into(),
        mode: Mode::Polling,
        lanes: 8,
        settings: BotSettings::default(),
    }
}

impl World {
    pub async fn start() -> World {
        let db = TestDb::new().await.expect("test database");
        let fake = TgFake::start().await;
        let pool = db.pool.clone();
        let (stop, shutdown) = Shutdown::new();
        let feed: Arc<dyn Feed> = Arc::new(DirectFeed::new(pool.clone()));
        let mut tasks = Vec::new();
        for projector in projections::all() {
            let consumer = Arc::new(ProjectorConsumer {
                pool: pool.clone(),
                projector,
            });
            tasks.push(tokio::spawn(run_consumer(feed.clone(), consumer, shutdown.clone())));
        }
        let commands = Commands::new(pool.clone());
        tasks.push(tokio::spawn(run_consumer(
            feed.clone(),
            Arc::new(ProcessManager {
                commands: commands.clone(),
            }),
            shutdown.clone(),
        )));
        let config = config(&fake);
        let app = bot::build(&config, pool.clone()).await.expect("bot starts");
        tasks.extend(bot::spawn(app.clone(), config, feed, Duration::from_secs(3600), shutdown));
        World {
            db: Some(db),
            fake,
            app,
            commands,
            stop,
            tasks,
        }
    }

    pub fn pool(&self) -> &sqlx::PgPool {
        &self.app.pool
    }

    pub async fn stop(mut self) {
        let _ = self.stop.send(true);
        for t in self.tasks.drain(..) {
            t.abort();
            let _ = t.await;
        }
        if let Some(db) = self.db.take() {
            db.drop_database().await.expect("drop test database");
        }
    }

    /// The newest message id in the chat (the user's or the bot's).
    pub fn mark(&self, chat: i64) -> i64 {
        self.fake.chat(chat).iter().map(|m| m.message_id).max().unwrap_or(0)
    }

    /// Waits for the bot to send a message after `mark` containing `needle`.
    pub async fn reply_after(&self, chat: i64, mark: i64, needle: &str) -> Message {
        let n = needle.to_string();
        self.fake
            .wait_for(chat, WAIT, move |m| m.message_id > mark && m.body().contains(&n))
            .await
    }

    /// The user writes `text`; returns the bot's first reply containing `needle`.
    pub async fn say(&self, user: &TgUser, text: &str, needle: &str) -> Message {
        let mark = self.mark(user.id);
        self.fake.send_text(user, text);
        self.reply_after(user.id, mark, needle).await
    }

    /// Presses a button on `message` and waits until some message shows `needle`
    /// (an edit of the same message or a new one).
    pub async fn press(&self, user: &TgUser, message: &Message, button: &str, needle: &str) -> Message {
        let before = self.fake.message(user.id, message.message_id).map(|m| m.edits).unwrap_or(0);
        let mark = self.mark(user.id);
        let id = message.message_id;
        self.fake.click_button(user, id, button);
        let n = needle.to_string();
        self.fake
            .wait_for(user.id, WAIT, move |m| {
                ((m.message_id == id && m.edits > before) || m.message_id > mark) && m.body().contains(&n)
            })
            .await
    }

    /// Waits until the bot has handled update `update_id`.
    pub async fn handled(&self, update_id: i64) {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let done: Option<bool> = sqlx::query_scalar("SELECT handled_at IS NOT NULL FROM bot_inbox WHERE update_id = $1")
                .bind(update_id)
                .fetch_optional(self.pool())
                .await
                .unwrap();
            if done == Some(true) {
                return;
            }
            assert!(tokio::time::Instant::now() < deadline, "update {update_id} was not handled");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Waits until every read model and the notifier have caught up with the store.
    pub async fn settle(&self) {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let head = eventstore::head(self.pool()).await.unwrap();
            let mut behind = false;
            for p in projections::all() {
                if eventstore::checkpoint(self.pool(), p.name()).await.unwrap() < head {
                    behind = true;
                }
            }
            for c in ["process_manager", bot::notifier::CHECKPOINT] {
                if eventstore::checkpoint(self.pool(), c).await.unwrap() < head {
                    behind = true;
                }
            }
            if !behind {
                return;
            }
            assert!(tokio::time::Instant::now() < deadline, "consumers did not catch up");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    pub async fn events(&self) -> i64 {
        eventstore::head(self.pool()).await.unwrap()
    }

    /// Makes `user` an admin (as the operator's CLI does).
    pub async fn make_admin(&self, user: &TgUser) {
        self.say(user, "/start", "").await;
        self.commands
            .grant_role(&Actor::System, CustomerId(user.id), RoleName::Admin, Utc::now())
            .await
            .unwrap();
    }

    pub async fn add_plan(&self, name: &str, days: u32, gb: u32, price: i64, location: &str) -> Uuid {
        self.commands
            .create_plan(
                &Actor::System,
                PlanSpec {
                    name: name.into(),
                    duration_days: days,
                    traffic_gb: gb,
                    price: Toman::from_int(price).unwrap(),
                    locations: vec![Location::parse(location).unwrap()],
                },
                Utc::now(),
            )
            .await
            .unwrap()
    }

    pub async fn add_card(&self) -> Uuid {
        self.commands
            .add_card(
                &Actor::System,
                CardNumber::parse("6037997599999993").unwrap(),
                "Reza Ahmadi".into(),
                Some("Melli".into()),
                Utc::now(),
            )
            .await
            .unwrap()
    }

    pub async fn balance(&self, user: &TgUser) -> Toman {
        self.commands.balance(CustomerId(user.id)).await.unwrap()
    }
}
