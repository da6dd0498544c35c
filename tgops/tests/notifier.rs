//! The staff-group notifier on the real PostgreSQL, NATS JetStream and the
//! fake Telegram Bot API: bursts are batched, and 429s, an outage and a
//! courier killed mid-stream lose and duplicate nothing.
mod common;

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use commands::Commands;
use domain::{CustomerId, Language};
use eventstore::testing::TestDb;
use rust_decimal::Decimal;
use tgfake::{Fault, TgFake};
use tgops::{Courier, Dispatcher, DispatcherConfig, Group, Groups, RateLimiter, Telegram, Topic};
use workers::Feed;

use common::*;

const USERS: i64 = -100_001;
const FINANCE: i64 = -100_002;
const SUPPORT: i64 = -100_003;

fn groups() -> Groups {
    Groups::new()
        .with(
            Topic::Users,
            Some(Group {
                chat_id: USERS,
                language: Language::En,
            }),
        )
        .with(
            Topic::Finance,
            Some(Group {
                chat_id: FINANCE,
                language: Language::Fa,
            }),
        )
        .with(
            Topic::Support,
            Some(Group {
                chat_id: SUPPORT,
                language: Language::En,
            }),
        )
}

fn dispatcher(db: &TestDb, fake: &TgFake) -> Dispatcher {
    let tg = Telegram::new(fake.token(), &fake.api_url(), Duration::from_secs(10)).unwrap();
    Dispatcher::new(
        db.pool.clone(),
        tg,
        RateLimiter::new(200.0),
        DispatcherConfig {
            group_interval: Duration::from_millis(150),
            lease: Duration::from_secs(2),
            idle: Duration::from_millis(100),
            ..DispatcherConfig::default()
        },
    )
}

fn courier(db: &TestDb, dispatcher: &Dispatcher) -> Arc<Courier> {
    Arc::new(Courier {
        pool: db.pool.clone(),
        commands: Commands::new(db.pool.clone()),
        groups: groups(),
        wake: Some(dispatcher.wake.clone()),
    })
}

/// Every line the bot wrote to a group, in order, messages split into lines.
fn lines(fake: &TgFake, chat: i64) -> Vec<String> {
    fake.messages(chat)
        .iter()
        .flat_map(|m| m.body().lines().map(str::to_string).collect::<Vec<_>>())
        .collect()
}

#[tokio::test]
async fn a_notifier_facing_429s_an_outage_and_a_crash_loses_and_duplicates_nothing() {
    let db = TestDb::new().await.unwrap();
    let fake = TgFake::start().await;
    for (chat, title) in [(USERS, "users"), (FINANCE, "finance"), (SUPPORT, "support")] {
        fake.add_group(chat, title);
    }
    let nats = nats(&db.pool).await;
    let feed: Arc<dyn Feed> = Arc::new(nats.clone());
    let cmd = Commands::new(db.pool.clone());
    let admin = admin(&cmd).await;

    let mut relay = common::Tasks::new();
    relay.relay(&db.pool, &nats);
    let dispatcher = dispatcher(&db, &fake);
    let mut send = common::Tasks::new();
    send.spawn(dispatcher.clone().run_until_stopped(send.shutdown.clone()));
    let mut consume = common::Tasks::new();
    consume.consumer(feed.clone(), courier(&db, &dispatcher));

    // Telegram asks to slow down three times while the first burst goes out.
    for _ in 0..3 {
        fake.fail_next(Some("sendMessage"), Fault::RetryAfter(1));
    }
    let now = Utc::now();
    let mut customers = Vec::new();
    for i in 1..=30 {
        let id = CustomerId(1000 + i);
        cmd.register_customer(id, Some(format!("cust{i}")), Language::Fa, None, now)
            .await
            .unwrap();
        customers.push(id);
    }
    for k in 1..=10 {
        let to = customers[k - 1];
        cmd.adjust_wallet(&admin, to, Decimal::from(1000 * k as i64), format!("note-{k}"), now)
            .await
            .unwrap();
    }

    // Then Telegram goes down; meanwhile more happens and the courier is killed and restarted.
    tokio::time::sleep(Duration::from_millis(400)).await;
    fake.set_outage(true);
    for i in 31..=50 {
        let id = CustomerId(1000 + i);
        cmd.register_customer(id, Some(format!("cust{i}")), Language::En, None, now)
            .await
            .unwrap();
        customers.push(id);
        if i == 40 {
            consume.kill();
            consume = common::Tasks::new();
            consume.consumer(feed.clone(), courier(&db, &dispatcher));
        }
    }
    for k in 11..=15 {
        cmd.adjust_wallet(&admin, customers[k - 11], Decimal::from(-(k as i64)), format!("note-{k}"), now)
            .await
            .unwrap();
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    fake.set_outage(false);

    caught_up(&db.pool, tgops::COURIER_CHECKPOINT).await;
    eventually(Duration::from_secs(60), "the outbox to drain", || async {
        outbox_open(&db.pool).await == 0
    })
    .await;

    // Faced for real: 429s and 502s were answered.
    let answers: Vec<u16> = fake.requests_of("sendMessage").iter().map(|r| r.status).collect();
    assert!(answers.iter().filter(|s| **s == 429).count() >= 3, "{answers:?}");
    assert!(answers.contains(&502), "{answers:?}");

    // The users group got every registration once, in order, in English.
    let mut want = vec!["🆕 New customer 1".to_string(), "🎖 1 got role admin from system".to_string()];
    want.extend((1..=50).map(|i| format!("🆕 New customer @cust{i} ({})", 1000 + i)));
    let users = lines(&fake, USERS);
    if users != want {
        let rows: Vec<(i64, String, Option<String>)> =
            sqlx::query_as("SELECT id, state, error FROM tg_outbox WHERE chat_id = $1 ORDER BY id")
                .bind(USERS)
                .fetch_all(&db.pool)
                .await
                .unwrap();
        eprintln!("{rows:#?}");
        for m in fake.messages(USERS) {
            eprintln!("{} {:?}", m.message_id, m.body());
        }
        eprintln!(
            "{:?}",
            fake.requests_of("sendMessage")
                .iter()
                .map(|r| (r.status, r.params.get("chat_id").cloned()))
                .collect::<Vec<_>>()
        );
    }
    assert_eq!(users, want);

    // The finance group got every adjustment once, in order, in Persian.
    let finance = lines(&fake, FINANCE);
    assert_eq!(finance.len(), 15, "{finance:#?}");
    for (k, line) in finance.iter().enumerate() {
        assert!(line.ends_with(&format!("note-{}", k + 1)), "{line}");
        assert!(line.contains("کیف پول"), "{line}");
    }
    assert!(finance[0].contains("۱٬۰۰۰"), "{}", finance[0]);

    // Bursts were batched: fewer messages than lines.
    assert!(fake.messages(USERS).len() < users.len(), "{} messages", fake.messages(USERS).len());
    let figures = tgops::outbox::figures(&db.pool).await.unwrap();
    assert_eq!((figures.uncertain, figures.failed, figures.blocked), (0, 0, 0), "{figures:?}");
    assert_eq!(figures.sent, 50 + 1 + 1 + 15);

    consume.stop().await;
    send.stop().await;
    relay.stop().await;
    nats.delete_stream().await.unwrap();
    db.drop_database().await.unwrap();
}

#[tokio::test]
async fn a_send_cut_off_by_a_crash_is_marked_uncertain_and_never_sent_twice() {
    let db = TestDb::new().await.unwrap();
    let fake = TgFake::start().await;
    fake.add_group(USERS, "users");
    let cmd = Commands::new(db.pool.clone());
    let dispatcher = dispatcher(&db, &fake);
    let courier = courier(&db, &dispatcher);
    let now = Utc::now();
    for i in 1..=3 {
        cmd.register_customer(CustomerId(2000 + i), None, Language::En, None, now)
            .await
            .unwrap();
    }
    let events = eventstore::read_after(&db.pool, 0, 100).await.unwrap();
    workers::Consumer::handle(courier.as_ref(), &events).await.unwrap();
    // A replay of the same events queues nothing more.
    workers::Consumer::handle(courier.as_ref(), &events).await.unwrap();
    let queued: i64 = sqlx::query_scalar("SELECT count(*) FROM tg_outbox")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(queued, 3);

    // A process claims the lines and dies before it learns the answer.
    sqlx::query("UPDATE tg_outbox SET state = 'sending', attempt_id = gen_random_uuid(), claimed_at = now()")
        .execute(&db.pool)
        .await
        .unwrap();
    let report = dispatcher.step().await.unwrap();
    assert_eq!(report.messages, 0, "a claim inside its lease is left alone");
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let report = dispatcher.step().await.unwrap();
    assert_eq!(report.recovered, 3);
    assert_eq!(report.messages, 0);
    assert!(fake.messages(USERS).is_empty(), "never sent again");
    let figures = tgops::outbox::figures(&db.pool).await.unwrap();
    assert_eq!(figures.uncertain, 3);

    // Later lines for the chat flow again.
    cmd.register_customer(CustomerId(2004), None, Language::En, None, now)
        .await
        .unwrap();
    let events = eventstore::read_after(&db.pool, 0, 100).await.unwrap();
    workers::Consumer::handle(courier.as_ref(), &events).await.unwrap();
    dispatcher.step().await.unwrap();
    assert_eq!(lines(&fake, USERS), vec!["🆕 New customer 2004".to_string()]);
    db.drop_database().await.unwrap();
}
