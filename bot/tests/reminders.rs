//! Expiry warnings (3 days and 1 day ahead) fire once per subscription,
//! expiry date and step: with two reminder passes racing, after a restart
//! (a new notifier over the same database), and through the sender to the
//! customer's chat exactly once each.
mod common;

use std::sync::Arc;
use std::time::Duration;

use bot::notifier::Notifier;
use chrono::Utc;
use commands::PurchaseOutcome;
use common::{World, WAIT};
use domain::access::Actor;
use domain::{CustomerId, Language, Location};
use rust_decimal::Decimal;
use tgfake::TgUser;
use uuid::Uuid;

fn notifier(world: &World) -> Arc<Notifier> {
    Arc::new(Notifier {
        app: world.app.clone(),
        wake: Arc::new(tokio::sync::Notify::new()),
    })
}

async fn expiring_rows(world: &World, subscription: Uuid) -> Vec<String> {
    sqlx::query_scalar("SELECT dedupe_key FROM bot_outbox WHERE dedupe_key LIKE $1 ORDER BY dedupe_key")
        .bind(format!("expiring:{subscription}:%"))
        .fetch_all(world.pool())
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn expiry_warnings_fire_once_per_step_with_two_schedulers_and_across_a_restart() {
    let world = World::start().await;
    let user = TgUser::new(7_301, "Sara");
    world.say(&user, "/start", "").await;
    let plan = world.add_plan("Two days", 2, 10, 50_000, "France").await;
    let now = Utc::now();
    world
        .commands
        .adjust_wallet(&Actor::System, CustomerId(user.id), Decimal::from(50_000), "test".into(), now)
        .await
        .unwrap();
    let sub = Uuid::new_v4();
    let bought = world
        .commands
        .purchase_plan(
            &world.commands.actor(CustomerId(user.id)).await.unwrap(),
            CustomerId(user.id),
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
    world.settle().await;
    let language: Language = world.commands.customer_state(CustomerId(user.id)).await.unwrap().unwrap().language;
    let needle = if language == Language::Fa { "منقضی" } else { "expires" };

    // Two days left: the 3-day warning. Two schedulers race on it.
    let (a, b) = (notifier(&world), notifier(&world));
    let (qa, qb) = tokio::join!(a.remind_expiring(now), b.remind_expiring(now));
    assert_eq!(qa.unwrap() + qb.unwrap(), 1, "two racing passes queue one warning");
    assert_eq!(b.remind_expiring(now + chrono::Duration::minutes(5)).await.unwrap(), 0);
    // A restart: a new notifier over the same database remembers.
    assert_eq!(notifier(&world).remind_expiring(now + chrono::Duration::hours(1)).await.unwrap(), 0);

    // Eighteen hours left: the 1-day warning, once, whoever runs it.
    let later = expires_at - chrono::Duration::hours(18);
    let c = notifier(&world);
    let (qa, qb) = tokio::join!(a.remind_expiring(later), c.remind_expiring(later));
    assert_eq!(qa.unwrap() + qb.unwrap(), 1);
    assert_eq!(a.remind_expiring(later + chrono::Duration::hours(1)).await.unwrap(), 0);
    let rows = expiring_rows(&world, sub).await;
    assert_eq!(rows.len(), 2, "{rows:?}");
    assert!(rows[0].ends_with(":1d") && rows[1].ends_with(":3d"), "{rows:?}");

    // The running sender (it polls the outbox) delivers both, once each.
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let sent = world
            .fake
            .chat(user.id)
            .iter()
            .filter(|m| m.from_bot && m.body().contains(needle))
            .count();
        if sent >= 2 {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "the warnings were not delivered");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let sent = world
        .fake
        .chat(user.id)
        .iter()
        .filter(|m| m.from_bot && m.body().contains(needle))
        .count();
    assert_eq!(sent, 2, "each warning reaches the customer once");
    world.stop().await;
}
