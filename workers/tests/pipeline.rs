//! The whole backbone on the real PostgreSQL and NATS: commands append
//! events, a feed carries them, projectors and the process manager consume.
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use commands::{Commands, PurchaseOutcome};
use domain::access::{Actor, RoleName};
use domain::payment::PaymentPurpose;
use domain::plan::PlanSpec;
use domain::{CardNumber, CustomerId, Language, Location, Toman};
use eventstore::testing::TestDb;
use rust_decimal::Decimal;
use sqlx::PgPool;
use tokio::task::JoinHandle;
use uuid::Uuid;
use workers::{run_consumer, DirectFeed, Feed, NatsConfig, NatsFeed, ProcessManager, ProjectorConsumer, Relay, Shutdown};

const ADMIN: CustomerId = CustomerId(1);
const REFERRER: CustomerId = CustomerId(77);
const CUSTOMER: CustomerId = CustomerId(1000);

fn nats_url() -> String {
    std::env::var("MRJ_TEST_NATS_URL").unwrap_or_else(|_| "nats://127.0.0.1:4222".into())
}

fn toman(v: i64) -> Toman {
    Toman::from_int(v).unwrap()
}

struct Pipeline {
    stop: tokio::sync::watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

impl Pipeline {
    fn start(pool: &PgPool, feed: Arc<dyn Feed>, with_process_manager: bool) -> Pipeline {
        let (stop, shutdown) = Shutdown::new();
        let mut tasks = Vec::new();
        for projector in projections::all() {
            let consumer = Arc::new(ProjectorConsumer {
                pool: pool.clone(),
                projector,
            });
            tasks.push(tokio::spawn(run_consumer(feed.clone(), consumer, shutdown.clone())));
        }
        if with_process_manager {
            let pm = Arc::new(ProcessManager {
                commands: Commands::new(pool.clone()),
            });
            tasks.push(tokio::spawn(run_consumer(feed.clone(), pm, shutdown.clone())));
        }
        Pipeline { stop, tasks }
    }

    /// Like `kill -9`: tasks are dropped wherever they are, mid-transaction included.
    fn kill(self) {
        for t in self.tasks {
            t.abort();
        }
    }

    async fn stop(self) {
        let _ = self.stop.send(true);
        for t in self.tasks {
            let _ = t.await;
        }
    }
}

fn start_relay(pool: &PgPool, feed: &NatsFeed) -> (tokio::sync::watch::Sender<bool>, JoinHandle<()>) {
    let (stop, shutdown) = Shutdown::new();
    let relay = Relay::new(pool.clone(), feed.clone());
    let task = tokio::spawn(async move {
        relay.run_until_stopped(shutdown).await.unwrap();
    });
    (stop, task)
}

/// Waits until every projector's checkpoint reaches the store's head.
async fn caught_up(pool: &PgPool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let head = eventstore::head(pool).await.unwrap();
        let behind: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM unnest($1::text[]) AS p(name) \
             LEFT JOIN checkpoints c USING (name) WHERE coalesce(c.position, 0) < $2",
        )
        .bind(projections::all().iter().map(|p| p.name().to_string()).collect::<Vec<_>>())
        .bind(head)
        .fetch_one(pool)
        .await
        .unwrap();
        if behind == 0 {
            return;
        }
        assert!(Instant::now() < deadline, "projectors did not catch up to {head}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A read model's rows, in a stable order, for comparing two tables.
async fn dump(pool: &PgPool, table: &str) -> Vec<String> {
    sqlx::query_scalar(&format!("SELECT to_jsonb(t)::text FROM {table} t ORDER BY 1"))
        .fetch_all(pool)
        .await
        .unwrap()
}

async fn dump_all(pool: &PgPool) -> Vec<Vec<String>> {
    let mut all = Vec::new();
    for p in projections::all() {
        all.push(dump(pool, p.name()).await);
    }
    all
}

/// A referred customer tops up by card-to-card, an admin approves, the
/// customer buys a plan. Returns the subscription id.
async fn customer_journey(cmd: &Commands, pool: &PgPool) -> Uuid {
    let now = Utc::now();
    cmd.register_customer(ADMIN, Some("boss".into()), Language::En, None, now)
        .await
        .unwrap();
    cmd.grant_role(&Actor::System, ADMIN, RoleName::Admin, now).await.unwrap();
    let admin = cmd.actor(ADMIN).await.unwrap();
    let france = Location::parse("France").unwrap();
    let plan = cmd
        .create_plan(
            &admin,
            PlanSpec {
                name: "Monthly 50GB".into(),
                duration_days: 30,
                traffic_gb: 50,
                price: toman(150_000),
                locations: vec![france.clone(), Location::parse("Germany").unwrap()],
            },
            now,
        )
        .await
        .unwrap();
    cmd.add_card(
        &admin,
        CardNumber::parse("6037997599999993").unwrap(),
        "Reza Ahmadi".into(),
        Some("Melli".into()),
        now,
    )
    .await
    .unwrap();
    cmd.register_customer(REFERRER, Some("seller".into()), Language::Fa, None, now)
        .await
        .unwrap();
    cmd.register_customer(CUSTOMER, Some("@ali".into()), Language::Fa, Some(REFERRER), now)
        .await
        .unwrap();

    // The card is chosen from the read model, so wait for the projector.
    caught_up(pool).await;
    let payment = cmd
        .create_card_payment(CUSTOMER, toman(200_000), PaymentPurpose::WalletTopUp, None, now)
        .await
        .unwrap();
    let me = cmd.actor(CUSTOMER).await.unwrap();
    cmd.submit_receipt(&me, payment, "tg:receipt-photo".into(), now).await.unwrap();

    // The receipt is in the admins' queue.
    caught_up(pool).await;
    let queued: (Uuid, Decimal, String) =
        sqlx::query_as("SELECT payment_id, amount, card_holder FROM pending_receipts WHERE receipt IS NOT NULL")
            .fetch_one(pool)
            .await
            .unwrap();
    assert_eq!(queued, (payment, Decimal::from(200_000), "Reza Ahmadi".to_string()));

    cmd.approve_payment(&admin, payment, now).await.unwrap();
    let sub = Uuid::new_v4();
    let outcome = cmd.purchase_plan(&me, CUSTOMER, plan, &france, sub, now).await.unwrap();
    assert!(matches!(outcome, PurchaseOutcome::Active { .. }), "{outcome:?}");
    sub
}

async fn assert_journey_read_models(pool: &PgPool, sub: Uuid) {
    let (balance, referrer, username): (Decimal, Option<i64>, Option<String>) =
        sqlx::query_as("SELECT balance, referrer, username FROM customers WHERE telegram_id = $1")
            .bind(CUSTOMER.0)
            .fetch_one(pool)
            .await
            .unwrap();
    assert_eq!(balance, Decimal::from(50_000));
    assert_eq!(referrer, Some(REFERRER.0));
    assert_eq!(username.as_deref(), Some("ali"));
    let (status, location, paid): (String, String, Decimal) =
        sqlx::query_as("SELECT status, location, paid FROM subscriptions WHERE id = $1")
            .bind(sub)
            .fetch_one(pool)
            .await
            .unwrap();
    assert_eq!(
        (status.as_str(), location.as_str(), paid),
        ("active", "France", Decimal::from(150_000))
    );
    let pending: i64 = sqlx::query_scalar("SELECT count(*) FROM pending_receipts")
        .fetch_one(pool)
        .await
        .unwrap();
    assert_eq!(pending, 0, "an approved receipt leaves the queue");
    let status: String = sqlx::query_scalar("SELECT status FROM payments").fetch_one(pool).await.unwrap();
    assert_eq!(status, "approved");
    let ledger: Vec<(String, Decimal, Decimal)> =
        sqlx::query_as("SELECT direction, amount, balance_after FROM wallet_ledger WHERE customer = $1 ORDER BY position")
            .bind(CUSTOMER.0)
            .fetch_all(pool)
            .await
            .unwrap();
    assert_eq!(
        ledger,
        vec![
            ("credit".into(), Decimal::from(200_000), Decimal::from(200_000)),
            ("debit".into(), Decimal::from(150_000), Decimal::from(50_000)),
        ]
    );
    let (approved, sales): (Decimal, Decimal) = sqlx::query_as("SELECT sum(payments_approved_total), sum(sales_total) FROM daily_totals")
        .fetch_one(pool)
        .await
        .unwrap();
    assert_eq!((approved, sales), (Decimal::from(200_000), Decimal::from(150_000)));
    let received: Decimal = sqlx::query_scalar("SELECT received_total FROM cards")
        .fetch_one(pool)
        .await
        .unwrap();
    assert_eq!(received, Decimal::from(200_000));
    let report = projections::audit::audit(pool).await.unwrap();
    assert!(report.is_clean(), "{:?}", report.mismatches);
}

#[tokio::test]
async fn a_customer_tops_up_and_buys_a_plan_through_the_direct_feed() {
    let db = TestDb::new().await.unwrap();
    let feed: Arc<dyn Feed> = Arc::new(DirectFeed::new(db.pool.clone()));
    let pipeline = Pipeline::start(&db.pool, feed, true);
    let cmd = Commands::new(db.pool.clone());
    let sub = customer_journey(&cmd, &db.pool).await;
    caught_up(&db.pool).await;
    assert_journey_read_models(&db.pool, sub).await;
    pipeline.stop().await;
    db.drop_database().await.unwrap();
}

#[tokio::test]
async fn a_customer_tops_up_and_buys_a_plan_through_nats_jetstream() {
    let db = TestDb::new().await.unwrap();
    let config = NatsConfig {
        url: nats_url(),
        prefix: format!("t{}", Uuid::new_v4().simple()),
    };
    let nats = NatsFeed::connect(config, db.pool.clone()).await.unwrap();
    let (relay_stop, relay) = start_relay(&db.pool, &nats);
    let feed: Arc<dyn Feed> = Arc::new(nats.clone());
    let pipeline = Pipeline::start(&db.pool, feed, true);
    let cmd = Commands::new(db.pool.clone());
    let sub = customer_journey(&cmd, &db.pool).await;
    caught_up(&db.pool).await;
    assert_journey_read_models(&db.pool, sub).await;

    // The events really went through JetStream, once per position.
    let mut stream = nats.jetstream.get_stream(nats.config.stream_name()).await.unwrap();
    let messages = stream.info().await.unwrap().state.messages;
    assert_eq!(messages as i64, eventstore::head(&db.pool).await.unwrap());

    pipeline.stop().await;
    let _ = relay_stop.send(true);
    relay.await.unwrap();
    nats.delete_stream().await.unwrap();
    db.drop_database().await.unwrap();
}

/// Appends a burst of money movements for many customers.
async fn busy_history(cmd: &Commands, customers: i64) {
    let now = Utc::now();
    cmd.register_customer(ADMIN, None, Language::En, None, now).await.unwrap();
    cmd.grant_role(&Actor::System, ADMIN, RoleName::Admin, now).await.unwrap();
    let admin = cmd.actor(ADMIN).await.unwrap();
    let card = cmd
        .add_card(&admin, CardNumber::parse("6037997599999993").unwrap(), "Reza".into(), None, now)
        .await
        .unwrap();
    for c in 0..customers {
        let id = CustomerId(10_000 + c);
        cmd.register_customer(id, None, Language::Fa, None, now).await.unwrap();
        let p = cmd
            .create_card_payment(id, toman(10_000 + c), PaymentPurpose::WalletTopUp, Some(card), now)
            .await
            .unwrap();
        cmd.submit_receipt(&cmd.actor(id).await.unwrap(), p, format!("tg:{c}"), now)
            .await
            .unwrap();
        cmd.approve_payment(&admin, p, now).await.unwrap();
        cmd.adjust_wallet(&admin, id, Decimal::from(-(c % 7 + 1)), "fee".into(), now)
            .await
            .unwrap();
    }
}

#[tokio::test]
async fn projectors_and_relay_killed_mid_stream_leave_read_models_as_if_never_stopped() {
    let db = TestDb::new().await.unwrap();
    let config = NatsConfig {
        url: nats_url(),
        prefix: format!("t{}", Uuid::new_v4().simple()),
    };
    let nats = NatsFeed::connect(config, db.pool.clone()).await.unwrap();
    let cmd = Commands::new(db.pool.clone());

    let writer = {
        let cmd = cmd.clone();
        tokio::spawn(async move { busy_history(&cmd, 60).await })
    };
    // Kill relay and projectors several times while events are being written.
    for round in 0..4 {
        let (_relay_stop, relay) = start_relay(&db.pool, &nats);
        let pipeline = Pipeline::start(&db.pool, Arc::new(nats.clone()), false);
        tokio::time::sleep(Duration::from_millis(150 + 50 * round)).await;
        relay.abort();
        pipeline.kill();
    }
    writer.await.unwrap();
    let (relay_stop, relay) = start_relay(&db.pool, &nats);
    let pipeline = Pipeline::start(&db.pool, Arc::new(nats.clone()), false);
    caught_up(&db.pool).await;
    pipeline.stop().await;
    let _ = relay_stop.send(true);
    relay.await.unwrap();
    let survived = dump_all(&db.pool).await;

    // The reference: every read model rebuilt from the store in one go.
    for p in projections::all() {
        projections::rebuild(&db.pool, p.as_ref()).await.unwrap();
    }
    assert_eq!(survived, dump_all(&db.pool).await);
    let customers: i64 = sqlx::query_scalar("SELECT count(*) FROM wallet_ledger")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(customers, 120);
    assert!(projections::audit::audit(&db.pool).await.unwrap().is_clean());
    nats.delete_stream().await.unwrap();
    db.drop_database().await.unwrap();
}

#[tokio::test]
async fn a_redelivered_event_is_applied_once() {
    let db = TestDb::new().await.unwrap();
    let cmd = Commands::new(db.pool.clone());
    busy_history(&cmd, 3).await;
    let events = eventstore::read_after(&db.pool, 0, 1000).await.unwrap();
    for p in projections::all() {
        projections::project_batch(&db.pool, p.as_ref(), &events).await.unwrap();
        // The same batch again, and an overlapping one, as a redelivery would bring.
        projections::project_batch(&db.pool, p.as_ref(), &events).await.unwrap();
        projections::project_batch(&db.pool, p.as_ref(), &events[events.len() / 2..])
            .await
            .unwrap();
    }
    let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM wallet_ledger")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(rows, 6);
    assert!(projections::audit::audit(&db.pool).await.unwrap().is_clean());
    // A batch with a hole is refused rather than applied out of order.
    let db2 = TestDb::new().await.unwrap();
    let err = projections::project_batch(&db2.pool, &*projections::by_name("wallet_ledger").unwrap(), &events[2..]).await;
    assert!(matches!(err, Err(projections::ProjectionError::Gap { .. })), "{err:?}");
    db.drop_database().await.unwrap();
    db2.drop_database().await.unwrap();
}

#[tokio::test]
async fn a_rebuild_while_live_projectors_run_equals_the_live_model() {
    let db = TestDb::new().await.unwrap();
    let feed: Arc<dyn Feed> = Arc::new(DirectFeed::new(db.pool.clone()));
    let pipeline = Pipeline::start(&db.pool, feed, false);
    let cmd = Commands::new(db.pool.clone());
    let writer = {
        let cmd = cmd.clone();
        tokio::spawn(async move { busy_history(&cmd, 40).await })
    };
    // Rebuild in the middle of the writes, with the live projectors running.
    tokio::time::sleep(Duration::from_millis(300)).await;
    for p in projections::all() {
        projections::rebuild(&db.pool, p.as_ref()).await.unwrap();
    }
    writer.await.unwrap();
    caught_up(&db.pool).await;
    pipeline.stop().await;
    let live = dump_all(&db.pool).await;
    for p in projections::all() {
        projections::rebuild(&db.pool, p.as_ref()).await.unwrap();
    }
    assert_eq!(live, dump_all(&db.pool).await);
    db.drop_database().await.unwrap();
}

#[tokio::test]
async fn audit_catches_a_read_model_row_corrupted_by_hand() {
    let db = TestDb::new().await.unwrap();
    let cmd = Commands::new(db.pool.clone());
    busy_history(&cmd, 5).await;
    for p in projections::all() {
        projections::catch_up(&db.pool, p.as_ref(), 500).await.unwrap();
    }
    assert!(projections::audit::audit(&db.pool).await.unwrap().is_clean());

    sqlx::query("UPDATE customers SET balance = balance + 1 WHERE telegram_id = 10002")
        .execute(&db.pool)
        .await
        .unwrap();
    sqlx::query("UPDATE daily_totals SET sales_total = sales_total + 5")
        .execute(&db.pool)
        .await
        .unwrap();
    sqlx::query("DELETE FROM wallet_ledger WHERE position = (SELECT max(position) FROM wallet_ledger)")
        .execute(&db.pool)
        .await
        .unwrap();
    let report = projections::audit::audit(&db.pool).await.unwrap();
    let text = report.mismatches.join("\n");
    assert_eq!(report.mismatches.len(), 3, "{text}");
    assert!(text.contains("customers: 10002"), "{text}");
    assert!(text.contains("daily_totals"), "{text}");
    assert!(text.contains("wallet_ledger"), "{text}");
    db.drop_database().await.unwrap();
}

#[tokio::test]
async fn balances_at_an_instant_replay_history() {
    let db = TestDb::new().await.unwrap();
    let cmd = Commands::new(db.pool.clone());
    busy_history(&cmd, 2).await;
    let middle = Utc::now();
    tokio::time::sleep(Duration::from_millis(20)).await;
    let admin = cmd.actor(ADMIN).await.unwrap();
    cmd.adjust_wallet(&admin, CustomerId(10_000), Decimal::from(500), "bonus".into(), Utc::now())
        .await
        .unwrap();
    let before = projections::audit::balances_at(&db.pool, middle).await.unwrap();
    let after = projections::audit::balances_at(&db.pool, Utc::now()).await.unwrap();
    assert_eq!(before[&10_000], Decimal::from(9_999));
    assert_eq!(after[&10_000], Decimal::from(10_499));
    db.drop_database().await.unwrap();
}

#[tokio::test]
async fn the_expiry_scheduler_expires_due_subscriptions_once_even_when_two_run() {
    let db = TestDb::new().await.unwrap();
    let cmd = Commands::new(db.pool.clone());
    let sub = customer_journey_without_feed(&cmd, &db.pool).await;
    let later = Utc::now() + chrono::Duration::days(31);
    let a = workers::ExpiryScheduler {
        commands: cmd.clone(),
        interval: Duration::from_secs(1),
    };
    let b = workers::ExpiryScheduler {
        commands: cmd.clone(),
        interval: Duration::from_secs(1),
    };
    assert_eq!(a.step(Utc::now()).await.unwrap(), 0, "not due yet");
    let (x, y) = tokio::join!(a.step(later), b.step(later));
    assert_eq!(x.unwrap() + y.unwrap(), 1);
    let expired: i64 = sqlx::query_scalar("SELECT count(*) FROM events WHERE event_type = 'SubscriptionExpired'")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(expired, 1);
    assert_eq!(
        cmd.subscription(sub).await.unwrap().status,
        domain::subscription::SubscriptionStatus::Expired
    );
    db.drop_database().await.unwrap();
}

/// The journey with projectors run by hand (no feed task).
async fn customer_journey_without_feed(cmd: &Commands, pool: &PgPool) -> Uuid {
    let feed: Arc<dyn Feed> = Arc::new(DirectFeed::new(pool.clone()));
    let pipeline = Pipeline::start(pool, feed, false);
    let sub = customer_journey(cmd, pool).await;
    caught_up(pool).await;
    pipeline.stop().await;
    sub
}
