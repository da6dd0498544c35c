//! Broadcasts on the real PostgreSQL and the fake Telegram Bot API: a
//! 10,000-recipient campaign killed in the middle sends nobody the message
//! twice and reports its figures; the configured rate holds under
//! Telegram's flood limits and 429s; segments pick the right people.
mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use commands::Commands;
use domain::access::{Actor, RoleName};
use domain::broadcast::{ProgressMessage, Segment};
use domain::features::Feature;
use domain::plan::PlanSpec;
use domain::{CustomerId, Language, Location, Toman};
use eventstore::testing::TestDb;
use rust_decimal::Decimal;
use sqlx::PgPool;
use tgfake::{Fault, RateLimits, TgFake, TgUser};
use tgops::broadcast::{report, resolve, BroadcastReport};
use tgops::{Body, BroadcastConfig, BroadcastWorker, RateLimiter, Telegram};
use uuid::Uuid;
use workers::{DirectFeed, Feed};

use common::*;

fn worker(pool: &PgPool, fake: &TgFake, config: BroadcastConfig) -> BroadcastWorker {
    let tg = Telegram::new(fake.token(), &fake.api_url(), Duration::from_secs(10)).unwrap();
    let limiter = RateLimiter::new(config.rate);
    BroadcastWorker::new(Commands::new(pool.clone()), tg, limiter, config)
}

async fn finished(pool: &PgPool, id: Uuid) -> BroadcastReport {
    eventually(Duration::from_secs(120), "the broadcast to finish", || async {
        report(pool, id).await.unwrap().is_some_and(|r| r.completed)
    })
    .await;
    report(pool, id).await.unwrap().unwrap()
}

async fn state_of(pool: &PgPool, id: Uuid) -> Vec<(i64, String)> {
    sqlx::query_as("SELECT chat_id, state FROM broadcast_deliveries WHERE broadcast_id = $1 ORDER BY chat_id")
        .bind(id)
        .fetch_all(pool)
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_10000_recipient_broadcast_killed_midway_sends_nobody_twice_and_reports_its_figures() {
    let db = TestDb::new().await.unwrap();
    let pool = db.pool.clone();
    licensed(&pool, &[Feature::Broadcasts]).await;
    let fake = TgFake::start().await;
    let cmd = Commands::new(pool.clone());
    let admin = admin(&cmd).await;
    let ids: Vec<i64> = (100_000..110_000).collect();
    bulk_customers(&pool, &ids, Language::Fa).await;
    fake.add_user(&TgUser::new(ADMIN.0, "Boss"));
    for id in &ids {
        fake.add_user(&TgUser::new(*id, "C"));
    }
    let blocked: Vec<i64> = ids.iter().copied().filter(|i| i % 200 == 7).collect();
    for id in &blocked {
        fake.block_bot(*id, true);
    }
    let feed: Arc<dyn Feed> = Arc::new(DirectFeed::new(pool.clone()));
    let mut projectors = Tasks::new();
    projectors.projectors_named(&pool, feed, &["customers", "broadcasts"]);

    // The sender's progress message, kept up to date by the worker.
    let tg = Telegram::new(fake.token(), &fake.api_url(), Duration::from_secs(10)).unwrap();
    let progress = tg.send(ADMIN.0, &Body::plain("queued".into())).await.unwrap();
    let id = Uuid::new_v4();
    let text = "New servers in Germany! 🇩🇪".to_string();
    let progress = ProgressMessage {
        chat_id: ADMIN.0,
        message_id: progress,
    };
    cmd.create_broadcast(&admin, id, text.clone(), Segment::All, Some(progress), Utc::now())
        .await
        .unwrap();
    caught_up(&pool, "customers").await;
    caught_up(&pool, "broadcasts").await;
    let started = Instant::now();

    let config = BroadcastConfig {
        rate: 2_000.0,
        concurrency: 32,
        batch: 100,
        lease: Duration::from_secs(1),
        progress_every: Duration::from_millis(500),
        idle: Duration::from_millis(100),
    };
    let mut first = Tasks::new();
    let w1 = worker(&pool, &fake, config.clone());
    first.spawn(w1.run_until_stopped(first.shutdown.clone()));
    let sent = || async {
        sqlx::query_scalar::<_, i64>("SELECT count(*) FROM broadcast_deliveries WHERE state = 'sent'")
            .fetch_one(&pool)
            .await
            .unwrap()
    };
    eventually(Duration::from_secs(60), "4,000 messages", || async { sent().await >= 4_000 }).await;
    // Killed like `kill -9`: wherever it is, a claimed batch included.
    first.kill();
    let at_kill = sent().await;
    assert!(at_kill < 9_000, "killed in the middle ({at_kill})");

    let mut second = Tasks::new();
    let w2 = worker(&pool, &fake, config);
    second.spawn(w2.run_until_stopped(second.shutdown.clone()));
    let r = finished(&pool, id).await;
    second.stop().await;

    // Nobody got it twice; everyone marked sent got it once; blocked users got nothing.
    let recipients = ids.len() as u64 + 1;
    let rows = state_of(&pool, id).await;
    assert_eq!(rows.len() as u64, recipients);
    let mut uncertain_delivered = 0;
    for (chat, state) in &rows {
        let got = fake.messages(*chat).iter().filter(|m| m.body() == text).count();
        match state.as_str() {
            "sent" => assert_eq!(got, 1, "chat {chat}"),
            "blocked" => assert_eq!(got, 0, "chat {chat}"),
            "uncertain" => {
                assert!(got <= 1, "chat {chat}");
                uncertain_delivered += got;
            }
            other => panic!("chat {chat} ended {other}"),
        }
    }
    let f = r.figures;
    eprintln!("10,001 recipients in {:?}", started.elapsed());
    // Every user who blocked the bot is recorded as such (unless their send was the one cut off).
    for chat in &blocked {
        let state = &rows.iter().find(|(c, _)| c == chat).unwrap().1;
        assert!(state == "blocked" || state == "uncertain", "chat {chat}: {state}");
    }
    assert!(
        f.blocked + 100 >= blocked.len() as u64 && f.blocked <= blocked.len() as u64,
        "{f:?}"
    );
    assert_eq!((f.failed, f.skipped), (0, 0));
    assert_eq!(f.sent + f.blocked + f.uncertain, recipients);
    assert!(f.uncertain <= 100, "at most one claimed batch is cut off: {f:?}");
    assert_eq!(r.status, "completed");
    assert_eq!(r.recipients, Some(recipients as i64));
    assert!(f.sent >= recipients - blocked.len() as u64 - 100);
    eprintln!("figures {f:?}, cut-off sends that Telegram did deliver: {uncertain_delivered}");

    // The blocked users are recorded with Telegram's reason.
    let reasons: Vec<String> =
        sqlx::query_scalar("SELECT DISTINCT error FROM broadcast_deliveries WHERE broadcast_id = $1 AND state = 'blocked'")
            .bind(id)
            .fetch_all(&pool)
            .await
            .unwrap();
    assert_eq!(reasons, ["Forbidden: bot was blocked by the user"]);
    // The figures are events, and the read model and the progress message show them.
    let done: (i64, i64, i64) = sqlx::query_as("SELECT sent, blocked, uncertain FROM broadcasts WHERE id = $1")
        .bind(id)
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(done, (f.sent as i64, f.blocked as i64, f.uncertain as i64));
    let shown = fake.message(ADMIN.0, progress.message_id).unwrap();
    assert!(shown.edits >= 2, "progress was shown while sending ({} edits)", shown.edits);
    assert!(shown.body().starts_with("📣 Broadcast finished"), "{}", shown.body());
    assert!(
        shown.body().contains(&tgops::i18n::number(Language::En, f.sent as i64)),
        "{}",
        shown.body()
    );

    projectors.stop().await;
    db.drop_database().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_broadcast_keeps_its_rate_under_telegrams_flood_limits_and_waits_out_429s() {
    let db = TestDb::new().await.unwrap();
    let pool = db.pool.clone();
    licensed(&pool, &[Feature::Broadcasts]).await;
    let fake = TgFake::start().await;
    let cmd = Commands::new(pool.clone());
    let admin = admin(&cmd).await;
    let ids: Vec<i64> = (200_000..200_300).collect();
    bulk_customers(&pool, &ids, Language::En).await;
    for id in ids.iter().chain([ADMIN.0].iter()) {
        fake.add_user(&TgUser::new(*id, "C"));
    }
    let feed: Arc<dyn Feed> = Arc::new(DirectFeed::new(pool.clone()));
    let mut projectors = Tasks::new();
    projectors.projectors(&pool, feed);
    let id = Uuid::new_v4();
    cmd.create_broadcast(&admin, id, "Maintenance tonight".into(), Segment::All, None, Utc::now())
        .await
        .unwrap();
    projections_caught_up(&pool).await;

    // Telegram's limits, a little above the configured 100 a second: the fake
    // answers 429 to any second holding more than 110 messages.
    fake.set_rate_limits(Some(RateLimits {
        per_chat_per_second: 1,
        per_group_per_minute: 20,
        global_per_second: 110,
    }));
    fake.fail_next(Some("sendMessage"), Fault::RetryAfter(1));
    fake.fail_next(Some("sendMessage"), Fault::RetryAfter(1));
    let config = BroadcastConfig {
        rate: 100.0,
        concurrency: 8,
        batch: 40,
        idle: Duration::from_millis(100),
        ..BroadcastConfig::default()
    };
    let started = Instant::now();
    let mut tasks = Tasks::new();
    tasks.spawn(worker(&pool, &fake, config).run_until_stopped(tasks.shutdown.clone()));
    let r = finished(&pool, id).await;
    let elapsed = started.elapsed();
    tasks.stop().await;

    let statuses: Vec<u16> = fake.requests_of("sendMessage").iter().map(|r| r.status).collect();
    assert_eq!(
        statuses.iter().filter(|s| **s == 429).count(),
        2,
        "only the two injected 429s: the pace never tripped the limit"
    );
    assert_eq!(statuses.iter().filter(|s| **s == 200).count(), 301);
    assert_eq!(r.figures.sent, 301);
    // 301 messages at 100 a second take three seconds, plus the two 429 pauses.
    assert!(elapsed >= Duration::from_millis(3_000 + 1_000), "{elapsed:?}");
    assert!(elapsed < Duration::from_secs(20), "{elapsed:?}");
    for id in &ids {
        assert_eq!(fake.messages(*id).len(), 1, "chat {id}");
    }
    projectors.stop().await;
    db.drop_database().await.unwrap();
}

#[tokio::test]
async fn segments_pick_location_plan_role_and_activity_and_a_cancelled_broadcast_skips_the_rest() {
    let db = TestDb::new().await.unwrap();
    let pool = db.pool.clone();
    licensed(&pool, &[Feature::Broadcasts]).await;
    let cmd = Commands::new(pool.clone());
    let admin = admin(&cmd).await;
    let feed: Arc<dyn Feed> = Arc::new(DirectFeed::new(pool.clone()));
    let mut projectors = Tasks::new();
    projectors.projectors(&pool, feed);
    let now = Utc::now();
    let (fr, de) = (Location::parse("France").unwrap(), Location::parse("Germany").unwrap());
    let spec = |name: &str| PlanSpec {
        name: name.into(),
        duration_days: 30,
        traffic_gb: 50,
        price: Toman::from_int(100_000).unwrap(),
        locations: vec![fr.clone(), de.clone()],
    };
    let basic = cmd.create_plan(&admin, spec("Basic"), now).await.unwrap();
    let pro = cmd.create_plan(&admin, spec("Pro"), now).await.unwrap();
    let buy = |c: CustomerId, plan: Uuid, loc: Location| {
        let cmd = cmd.clone();
        let admin = admin.clone();
        async move {
            cmd.register_customer(c, None, Language::En, None, now).await.unwrap();
            cmd.adjust_wallet(&admin, c, Decimal::from(100_000), "gift".into(), now)
                .await
                .unwrap();
            let me = cmd.actor(c).await.unwrap();
            cmd.purchase_plan(&me, c, plan, &loc, Uuid::new_v4(), now).await.unwrap();
        }
    };
    buy(CustomerId(11), basic, fr.clone()).await;
    buy(CustomerId(12), pro, de.clone()).await;
    buy(CustomerId(13), basic, de.clone()).await;
    cmd.register_customer(CustomerId(14), None, Language::En, None, now).await.unwrap();
    cmd.grant_role(&admin, CustomerId(14), RoleName::Seller, now).await.unwrap();
    cmd.register_customer(CustomerId(15), None, Language::En, None, now).await.unwrap();
    cmd.block_customer(&admin, CustomerId(15), "spam".into(), now).await.unwrap();
    projections_caught_up(&pool).await;

    let pick = |segment: Segment| {
        let pool = pool.clone();
        async move {
            let mut ids = resolve(&pool, &segment, Utc::now()).await.unwrap();
            ids.sort();
            ids
        }
    };
    assert_eq!(
        pick(Segment::All).await,
        [1, 11, 12, 13, 14],
        "blocked customers never receive broadcasts"
    );
    assert_eq!(
        pick(Segment::Location {
            location: Location::parse("germany").unwrap()
        })
        .await,
        [12, 13]
    );
    assert_eq!(pick(Segment::Plan { plan: basic }).await, [11, 13]);
    assert_eq!(pick(Segment::Role { role: RoleName::Seller }).await, [14]);
    assert_eq!(pick(Segment::Role { role: RoleName::Admin }).await, [1]);
    assert_eq!(pick(Segment::Active).await, [11, 12, 13]);
    assert_eq!(pick(Segment::Inactive).await, [1, 14]);
    assert_eq!(pick(Segment::RegisteredWithin { days: 1 }).await, [1, 11, 12, 13, 14]);

    // Only staff with manage_content broadcast, and only while the feature is on.
    let seller = cmd.actor(CustomerId(14)).await.unwrap();
    let refused = cmd
        .create_broadcast(&seller, Uuid::new_v4(), "hi".into(), Segment::All, None, now)
        .await;
    assert!(refused.is_err(), "{refused:?}");
    cmd.set_feature(&Actor::System, Feature::Broadcasts, false, now).await.unwrap();
    let off = cmd
        .create_broadcast(&admin, Uuid::new_v4(), "hi".into(), Segment::All, None, now)
        .await;
    assert_eq!(off.unwrap_err().to_string(), "broadcasts are switched off");
    cmd.set_feature(&Actor::System, Feature::Broadcasts, true, now).await.unwrap();

    // A campaign cancelled before any send: everyone is skipped and it still reports.
    let fake = TgFake::start().await;
    let id = Uuid::new_v4();
    cmd.create_broadcast(&admin, id, "Sale!".into(), Segment::Active, None, now)
        .await
        .unwrap();
    projections_caught_up(&pool).await;
    let w = worker(&pool, &fake, BroadcastConfig::default());
    assert_eq!(w.step(Utc::now()).await.unwrap().started, 1);
    assert!(cmd.cancel_broadcast(&admin, id, Utc::now()).await.unwrap());
    w.step(Utc::now()).await.unwrap();
    projections_caught_up(&pool).await;
    let r = report(&pool, id).await.unwrap().unwrap();
    assert!(r.completed);
    assert_eq!(r.status, "cancelled");
    assert_eq!((r.figures.sent, r.figures.skipped), (0, 3));
    assert!(fake.requests_of("sendMessage").is_empty());
    projectors.stop().await;
    db.drop_database().await.unwrap();
}
