//! The provisioner as `mrjbot serve` runs it: a durable JetStream consumer
//! fed by the relay, beside the projectors and the process manager.
mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use commands::Commands;
use common::{count, Shop};
use domain::subscription::{Provisioning, SubscriptionEvent as E};
use workers::{run_consumer, Feed, NatsConfig, NatsFeed, ProcessManager, ProjectorConsumer, Relay, Shutdown};
use xui_fake::{FakeConfig, FakePanel};

fn nats_url() -> String {
    std::env::var("MRJ_TEST_NATS_URL").unwrap_or_else(|_| "nats://127.0.0.1:4222".into())
}

fn start(shop: &Shop, feed: &NatsFeed) -> (tokio::sync::watch::Sender<bool>, Vec<tokio::task::JoinHandle<()>>) {
    let (stop, shutdown) = Shutdown::new();
    let pool = shop.db.pool.clone();
    let mut tasks = Vec::new();
    let relay = Relay::new(pool.clone(), feed.clone());
    let s = shutdown.clone();
    tasks.push(tokio::spawn(async move {
        let _ = relay.run_until_stopped(s).await;
    }));
    let dyn_feed: Arc<dyn Feed> = Arc::new(feed.clone());
    for projector in projections::all() {
        let c = Arc::new(ProjectorConsumer {
            pool: pool.clone(),
            projector,
        });
        tasks.push(tokio::spawn(run_consumer(dyn_feed.clone(), c, shutdown.clone())));
    }
    let pm = Arc::new(ProcessManager {
        commands: Commands::new(pool.clone()),
    });
    tasks.push(tokio::spawn(run_consumer(dyn_feed.clone(), pm, shutdown.clone())));
    tasks.push(tokio::spawn(run_consumer(dyn_feed, Arc::new(shop.consumer()), shutdown)));
    (stop, tasks)
}

async fn wait_until<F: std::future::Future<Output = bool>>(what: &str, f: impl Fn() -> F) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !f().await {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn through_nats_redelivered_and_replayed_events_leave_exactly_one_client_each() {
    let shop = Shop::new().await;
    let cfg = FakeConfig::classic();
    let fake = FakePanel::start(cfg.clone()).await;
    shop.add_panel(&fake, &cfg, "fr-1", "France", 100).await;
    let feed = NatsFeed::connect(
        NatsConfig {
            url: nats_url(),
            prefix: format!("t{}", uuid::Uuid::new_v4().simple()),
        },
        shop.db.pool.clone(),
    )
    .await
    .unwrap();
    let (stop, tasks) = start(&shop, &feed);
    let mut subs = Vec::new();
    for i in 0..4 {
        let c = shop.customer(9500 + i).await;
        subs.push(shop.buy(c, "France").await);
    }
    let cmd = shop.cmd.clone();
    let ids = subs.clone();
    wait_until("every subscription provisioned", || {
        let (cmd, ids) = (cmd.clone(), ids.clone());
        async move {
            for id in ids {
                if !matches!(cmd.subscription(id).await.unwrap().provisioning, Provisioning::Provisioned(_)) {
                    return false;
                }
            }
            true
        }
    })
    .await;
    assert_eq!(fake.client_count(), 4);

    // JetStream redelivers: the same events published again under new message ids.
    let events = eventstore::read_after(&shop.db.pool, 0, 10_000).await.unwrap();
    for e in &events {
        let mut headers = async_nats::HeaderMap::new();
        headers.insert("Nats-Msg-Id", format!("again-{}", e.position).as_str());
        feed.jetstream
            .publish_with_headers(
                feed.config.subject(&e.aggregate_type),
                headers,
                serde_json::to_vec(e).unwrap().into(),
            )
            .await
            .unwrap()
            .await
            .unwrap();
    }
    // And a crash before the checkpoint moved: everything is handled again.
    let _ = stop.send(true);
    for t in tasks {
        let _ = t.await;
    }
    sqlx::query("UPDATE checkpoints SET position = 0 WHERE name = 'provisioner'")
        .execute(&shop.db.pool)
        .await
        .unwrap();
    let (stop, tasks) = start(&shop, &feed);
    let pool = shop.db.pool.clone();
    wait_until("the provisioner to replay to the head", || {
        let pool = pool.clone();
        async move { eventstore::checkpoint(&pool, "provisioner").await.unwrap() >= eventstore::head(&pool).await.unwrap() }
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let _ = stop.send(true);
    for t in tasks {
        let _ = t.await;
    }
    assert_eq!(fake.client_count(), 4, "exactly one client per subscription");
    for s in &subs {
        assert_eq!(count(&shop.events(*s).await, |e| matches!(e, E::SubscriptionProvisioned { .. })), 1);
    }
    feed.delete_stream().await.unwrap();
    shop.drop().await;
}
