//! Reminders and auto-renewal on the real PostgreSQL: each fires exactly
//! once with two schedulers running at once and across a restart (a
//! scheduler cut after its first step, then replaced).
mod common;

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use commands::{AutoRenewalStep, Commands, PurchaseOutcome};
use domain::access::Actor;
use domain::plan::PlanSpec;
use domain::{AnyEvent, CustomerId, Language, Location, Toman};
use eventstore::testing::TestDb;
use rust_decimal::Decimal;
use sqlx::PgPool;
use tgfake::{TgFake, TgUser};
use tgops::{Courier, Dispatcher, DispatcherConfig, Groups, RateLimiter, ReminderConfig, ReminderScheduler, Telegram};
use uuid::Uuid;
use workers::{DirectFeed, Feed};

use common::*;

const LEAD: chrono::Duration = chrono::Duration::hours(24);

fn toman(v: i64) -> Toman {
    Toman::from_int(v).unwrap()
}

fn scheduler(pool: &PgPool) -> ReminderScheduler {
    ReminderScheduler {
        commands: Commands::new(pool.clone()),
        config: ReminderConfig::default(),
    }
}

/// A customer with `balance` in the wallet who bought the 30-day plan.
async fn subscriber(cmd: &Commands, admin: &Actor, plan: Uuid, id: CustomerId, balance: i64) -> (Uuid, DateTime<Utc>) {
    let now = Utc::now();
    cmd.register_customer(id, Some(format!("c{}", id.0)), Language::En, None, now)
        .await
        .unwrap();
    cmd.adjust_wallet(admin, id, Decimal::from(balance), "opening balance".into(), now)
        .await
        .unwrap();
    let sub = Uuid::new_v4();
    let bought = cmd
        .purchase_plan(
            &cmd.actor(id).await.unwrap(),
            id,
            plan,
            &Location::parse("France").unwrap(),
            sub,
            now,
        )
        .await
        .unwrap();
    let PurchaseOutcome::Active { expires_at, .. } = bought else {
        panic!("{bought:?}")
    };
    (sub, expires_at)
}

async fn events_of(pool: &PgPool, aggregate_type: &str, id: &str) -> Vec<String> {
    eventstore::read_aggregate(pool, aggregate_type, id)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.event_type)
        .collect()
}

async fn ledger_refs(pool: &PgPool, customer: CustomerId) -> Vec<String> {
    sqlx::query_scalar("SELECT reference FROM wallet_ledger WHERE customer = $1 AND direction = 'debit' ORDER BY position")
        .bind(customer.0)
        .fetch_all(pool)
        .await
        .unwrap()
}

/// Runs `step(at)` on two schedulers at once, three rounds each.
async fn two_schedulers(pool: &PgPool, at: DateTime<Utc>) -> usize {
    let (a, b) = (scheduler(pool), scheduler(pool));
    let mut finished = 0;
    for _ in 0..3 {
        let (ra, rb) = tokio::join!(a.step(at), b.step(at));
        finished += ra.unwrap().renewals_finished + rb.unwrap().renewals_finished;
    }
    finished
}

#[tokio::test]
async fn auto_renewal_renews_each_term_once_with_two_schedulers_and_after_a_crash() {
    let db = TestDb::new().await.unwrap();
    let pool = db.pool.clone();
    let cmd = Commands::new(pool.clone());
    let admin = admin(&cmd).await;
    let feed: Arc<dyn Feed> = Arc::new(DirectFeed::new(pool.clone()));
    let mut tasks = Tasks::new();
    tasks.projectors(&pool, feed.clone());
    let now = Utc::now();
    let spec = PlanSpec {
        name: "Monthly 50GB".into(),
        duration_days: 30,
        traffic_gb: 50,
        price: toman(150_000),
        locations: vec![Location::parse("France").unwrap()],
    };
    let plan = cmd.create_plan(&admin, spec, now).await.unwrap();

    let rich = CustomerId(5001);
    let (sub, term1) = subscriber(&cmd, &admin, plan, rich, 1_000_000).await;
    let poor = CustomerId(5002);
    let (poor_sub, poor_term) = subscriber(&cmd, &admin, plan, poor, 150_000).await;
    let someone = CustomerId(5003);
    cmd.register_customer(someone, None, Language::En, None, now).await.unwrap();
    // Only the customer (or staff) switches it on.
    let denied = cmd.set_auto_renewal(&cmd.actor(someone).await.unwrap(), sub, true, now).await;
    assert!(denied.is_err(), "{denied:?}");
    assert!(cmd.set_auto_renewal(&cmd.actor(rich).await.unwrap(), sub, true, now).await.unwrap());
    assert!(
        !cmd.set_auto_renewal(&cmd.actor(rich).await.unwrap(), sub, true, now).await.unwrap(),
        "a repeat changes nothing"
    );
    assert!(cmd
        .set_auto_renewal(&cmd.actor(poor).await.unwrap(), poor_sub, true, now)
        .await
        .unwrap());
    projections_caught_up(&pool).await;

    // Not due yet: two days before the end, with a one-day lead.
    assert_eq!(two_schedulers(&pool, term1 - chrono::Duration::days(2)).await, 0);
    assert_eq!(cmd.subscription(sub).await.unwrap().charges, 1);

    // A scheduler starts the renewal and dies before paying it.
    let due = term1 - chrono::Duration::hours(12);
    assert_eq!(cmd.begin_auto_renewal(sub, LEAD, due).await.unwrap(), Some(2));
    // After the restart two schedulers run at once: the renewal is finished once.
    assert_eq!(
        two_schedulers(&pool, due).await,
        2,
        "the rich and the poor customer's renewals, once each"
    );
    projections_caught_up(&pool).await;
    let renewed = cmd.subscription(sub).await.unwrap();
    assert_eq!(renewed.charges, 2);
    assert_eq!(renewed.expires_at, Some(term1 + chrono::Duration::days(30)));
    assert_eq!(ledger_refs(&pool, rich).await, vec![format!("sub:{sub}:1"), format!("sub:{sub}:2")]);
    let kinds = events_of(&pool, "AutoRenewal", &sub.to_string()).await;
    assert_eq!(kinds, ["AutoRenewalEnabled", "AutoRenewalStarted", "AutoRenewalSucceeded"]);

    // The customer who cannot pay: one failed charge, one failure, no retry this term.
    let poor_state = cmd.subscription(poor_sub).await.unwrap();
    assert_eq!(poor_state.charges, 2);
    assert_eq!(poor_state.expires_at, Some(poor_term));
    let kinds = events_of(&pool, "AutoRenewal", &poor_sub.to_string()).await;
    assert_eq!(kinds, ["AutoRenewalEnabled", "AutoRenewalStarted", "AutoRenewalFailed"]);
    assert_eq!(two_schedulers(&pool, due + chrono::Duration::hours(6)).await, 0);
    assert_eq!(cmd.subscription(poor_sub).await.unwrap().charges, 2);
    let failures: Vec<String> = events_of(&pool, "Subscription", &poor_sub.to_string())
        .await
        .into_iter()
        .filter(|t| t == "ChargeFailed")
        .collect();
    assert_eq!(failures.len(), 1);

    // The next term renews again, once, and a scheduler cut after the
    // subscription's charge was requested (before the debit) is finished once.
    let term2 = renewed.expires_at.unwrap();
    let due2 = term2 - chrono::Duration::hours(1);
    assert_eq!(cmd.begin_auto_renewal(sub, LEAD, due2).await.unwrap(), Some(3));
    cmd.request_auto_renewal(sub, 3, due2).await.unwrap();
    assert_eq!(two_schedulers(&pool, due2).await, 1);
    // Asked again at once (the read model may still show the renewal open),
    // the new term is a month away: nothing starts.
    assert_eq!(cmd.run_auto_renewal(sub, LEAD, due2).await.unwrap(), AutoRenewalStep::Idle);
    projections_caught_up(&pool).await;
    assert_eq!(cmd.subscription(sub).await.unwrap().charges, 3);
    assert_eq!(ledger_refs(&pool, rich).await.len(), 3);
    let read: (bool, i32, Option<i32>) =
        sqlx::query_as("SELECT enabled, renewals, open_charge FROM auto_renewals WHERE subscription_id = $1")
            .bind(sub)
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(read, (true, 2, None));

    // Switched off: nothing more.
    cmd.set_auto_renewal(&cmd.actor(rich).await.unwrap(), sub, false, now)
        .await
        .unwrap();
    let term3 = cmd.subscription(sub).await.unwrap().expires_at.unwrap();
    assert_eq!(cmd.run_auto_renewal(sub, LEAD, term3).await.unwrap(), AutoRenewalStep::Idle);

    tasks.stop().await;
    db.drop_database().await.unwrap();
}

#[tokio::test]
async fn a_points_expiry_reminder_fires_and_is_delivered_once_with_two_schedulers_and_after_a_restart() {
    let db = TestDb::new().await.unwrap();
    let pool = db.pool.clone();
    let fake = TgFake::start().await;
    let cmd = Commands::new(pool.clone());
    let admin = admin(&cmd).await;
    let feed: Arc<dyn Feed> = Arc::new(DirectFeed::new(pool.clone()));
    let tg = Telegram::new(fake.token(), &fake.api_url(), Duration::from_secs(10)).unwrap();
    let dispatcher = Dispatcher::new(pool.clone(), tg, RateLimiter::new(100.0), DispatcherConfig::default());
    let mut tasks = Tasks::new();
    tasks.projectors(&pool, feed.clone());
    tasks.consumer(
        feed.clone(),
        Arc::new(workers::CommerceConsumer {
            commands: Commands::new(pool.clone()),
        }),
    );
    tasks.consumer(
        feed.clone(),
        Arc::new(Courier {
            pool: pool.clone(),
            commands: Commands::new(pool.clone()),
            groups: Groups::new(),
            wake: Some(dispatcher.wake.clone()),
        }),
    );
    tasks.spawn(dispatcher.clone().run_until_stopped(tasks.shutdown.clone()));

    let spec = PlanSpec {
        name: "Monthly".into(),
        duration_days: 30,
        traffic_gb: 50,
        price: toman(150_000),
        locations: vec![Location::parse("France").unwrap()],
    };
    let plan = cmd.create_plan(&admin, spec, Utc::now()).await.unwrap();
    let customer = CustomerId(6001);
    fake.add_user(&TgUser::new(customer.0, "Sara"));
    subscriber(&cmd, &admin, plan, customer, 200_000).await;
    // The purchase earned points in a lot that expires in a year.
    eventually(Duration::from_secs(30), "the purchase's points lot", || async {
        let n: i64 = sqlx::query_scalar("SELECT count(*) FROM points_lots WHERE customer = $1")
            .bind(customer.0)
            .fetch_one(&pool)
            .await
            .unwrap();
        n == 1
    })
    .await;
    let (points, expires_at): (i64, DateTime<Utc>) = sqlx::query_as("SELECT remaining, expires_at FROM points_lots WHERE customer = $1")
        .bind(customer.0)
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(points, 150);

    // Four days before: not yet. Two days before: two schedulers, one reminder.
    let (a, b) = (scheduler(&pool), scheduler(&pool));
    assert_eq!(a.step(expires_at - chrono::Duration::days(4)).await.unwrap().points_reminders, 0);
    let at = expires_at - chrono::Duration::days(2);
    let mut fired = 0;
    for _ in 0..3 {
        let (ra, rb) = tokio::join!(a.step(at), b.step(at));
        fired += ra.unwrap().points_reminders + rb.unwrap().points_reminders;
    }
    assert_eq!(fired, 1);
    // A scheduler started afresh (a restart) a day later fires nothing more.
    projections_caught_up(&pool).await;
    assert_eq!(
        scheduler(&pool)
            .step(at + chrono::Duration::days(1))
            .await
            .unwrap()
            .points_reminders,
        0
    );

    let message = fake.wait_for_text(customer.0, "150 of your loyalty points expire").await;
    assert!(
        message.body().contains(&tgops::i18n::date(Language::En, expires_at)),
        "{}",
        message.body()
    );
    caught_up(&pool, tgops::COURIER_CHECKPOINT).await;
    eventually(Duration::from_secs(20), "the outbox to drain", || async {
        outbox_open(&pool).await == 0
    })
    .await;
    assert_eq!(fake.messages(customer.0).len(), 1);
    let fired: Vec<AnyEvent> = eventstore::read_aggregate(&pool, "Reminders", &customer.to_string())
        .await
        .unwrap()
        .iter()
        .map(|e| AnyEvent::decode(&e.aggregate_type, &e.payload).unwrap())
        .collect();
    assert_eq!(fired.len(), 1);

    tasks.stop().await;
    db.drop_database().await.unwrap();
}
