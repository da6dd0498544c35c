//! Helpers shared by the integration tests: a real database, NATS, the fake
//! Telegram server, and waiting for the pipeline to settle.
#![allow(dead_code)]
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use commands::Commands;
use domain::access::{Actor, RoleName};
use domain::{CustomerId, Language};
use sqlx::PgPool;
use tokio::task::JoinHandle;
use workers::{run_consumer, Consumer, Feed, NatsConfig, NatsFeed, ProjectorConsumer, Relay, Shutdown};

pub const ADMIN: CustomerId = CustomerId(1);

pub fn nats_url() -> String {
    std::env::var("MRJ_TEST_NATS_URL").unwrap_or_else(|_| "nats://127.0.0.1:4222".into())
}

pub async fn nats(pool: &PgPool) -> NatsFeed {
    let config = NatsConfig {
        url: nats_url(),
        prefix: format!("t{}", uuid::Uuid::new_v4().simple()),
    };
    NatsFeed::connect(config, pool.clone())
        .await
        .expect("NATS with JetStream on MRJ_TEST_NATS_URL")
}

/// Long-running tasks with one stop signal; `kill` drops them wherever they are.
pub struct Tasks {
    pub stop: tokio::sync::watch::Sender<bool>,
    pub shutdown: Shutdown,
    pub handles: Vec<JoinHandle<()>>,
}

impl Tasks {
    pub fn new() -> Tasks {
        let (stop, shutdown) = Shutdown::new();
        Tasks {
            stop,
            shutdown,
            handles: Vec::new(),
        }
    }
    pub fn spawn(&mut self, f: impl std::future::Future<Output = ()> + Send + 'static) {
        self.handles.push(tokio::spawn(f));
    }
    pub fn consumer(&mut self, feed: Arc<dyn Feed>, consumer: Arc<dyn Consumer>) {
        let s = self.shutdown.clone();
        self.spawn(run_consumer(feed, consumer, s));
    }
    pub fn projectors(&mut self, pool: &PgPool, feed: Arc<dyn Feed>) {
        for projector in projections::all() {
            self.consumer(
                feed.clone(),
                Arc::new(ProjectorConsumer {
                    pool: pool.clone(),
                    projector,
                }),
            );
        }
    }
    /// Only the named projectors (faster when a test appends thousands of events).
    pub fn projectors_named(&mut self, pool: &PgPool, feed: Arc<dyn Feed>, names: &[&str]) {
        for name in names {
            self.consumer(
                feed.clone(),
                Arc::new(ProjectorConsumer {
                    pool: pool.clone(),
                    projector: projections::by_name(name).unwrap(),
                }),
            );
        }
    }
    pub fn relay(&mut self, pool: &PgPool, nats: &NatsFeed) {
        let relay = Relay::new(pool.clone(), nats.clone());
        let s = self.shutdown.clone();
        self.spawn(async move {
            relay.run_until_stopped(s).await.expect("relay");
        });
    }
    pub fn kill(self) {
        for h in self.handles {
            h.abort();
        }
    }
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        for h in self.handles {
            let _ = h.await;
        }
    }
}

impl Default for Tasks {
    fn default() -> Self {
        Tasks::new()
    }
}

/// Polls `cond` every 50 ms until it holds; panics with `what` after `timeout`.
pub async fn eventually<F, Fut>(timeout: Duration, what: &str, mut cond: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let start = Instant::now();
    loop {
        if cond().await {
            return;
        }
        if start.elapsed() > timeout {
            panic!("timed out after {timeout:?} waiting for {what}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Waits until checkpoint `name` reaches the store's head.
pub async fn caught_up(pool: &PgPool, name: &str) {
    let what = format!("{name} to reach the head");
    eventually(Duration::from_secs(60), &what, || async {
        let head = eventstore::head(pool).await.unwrap();
        eventstore::checkpoint(pool, name).await.unwrap() >= head
    })
    .await;
}

/// Waits until every projector has reached the head.
pub async fn projections_caught_up(pool: &PgPool) {
    for p in projections::all() {
        caught_up(pool, p.name()).await;
    }
}

/// Registers the operator's admin (id 1) and returns their actor.
pub async fn admin(cmd: &Commands) -> Actor {
    let now = Utc::now();
    cmd.register_customer(ADMIN, None, Language::En, None, now).await.unwrap();
    cmd.grant_role(&Actor::System, ADMIN, RoleName::Admin, now).await.unwrap();
    cmd.actor(ADMIN).await.unwrap()
}

pub async fn outbox_open(pool: &PgPool) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM tg_outbox WHERE state IN ('pending', 'sending')")
        .fetch_one(pool)
        .await
        .unwrap()
}

/// Makes this test process trust a throwaway vendor key (call before any
/// `Commands::new`), installs a license for every feature and switches on
/// `features`.
pub async fn licensed(pool: &PgPool, features: &[domain::features::Feature]) {
    let (issuer, verifier) = licensing::testing::vendor();
    assert!(
        licensing::replace_vendor_key(verifier),
        "the vendor key is replaced once per test process"
    );
    let cmd = Commands::new(pool.clone());
    let now = Utc::now();
    let key = issuer.issue(&licensing::testing::claims(10)).unwrap();
    cmd.install_license(&Actor::System, &key, now).await.unwrap();
    for f in features {
        cmd.set_feature(&Actor::System, *f, true, now).await.unwrap();
    }
}

/// Appends `CustomerRegistered` for `ids` in one statement (as many commands
/// would, only faster), so tests can have thousands of customers.
pub async fn bulk_customers(pool: &PgPool, ids: &[i64], language: Language) {
    let at = Utc::now();
    let payloads: Vec<serde_json::Value> = ids
        .iter()
        .map(|id| {
            serde_json::to_value(domain::customer::CustomerEvent::CustomerRegistered {
                id: CustomerId(*id),
                username: Some(format!("u{id}")),
                language,
                referrer: None,
                at,
            })
            .unwrap()
        })
        .collect();
    let agg_ids: Vec<String> = ids.iter().map(|i| i.to_string()).collect();
    sqlx::query(
        "INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata) \
         SELECT 'Customer', a, 1, 'CustomerRegistered', '1.0', p, '{}'::json FROM UNNEST($1::text[], $2::json[]) AS u(a, p)",
    )
    .bind(&agg_ids)
    .bind(&payloads)
    .execute(pool)
    .await
    .unwrap();
}
