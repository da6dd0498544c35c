//! Money invariants on the real PostgreSQL, under concurrency and crashes.
use std::sync::Arc;

use chrono::Utc;
use commands::{Commands, PurchaseOutcome, Store};
use domain::access::{Actor, Permission, RoleName};
use domain::payment::{PaymentError, PaymentPurpose};
use domain::plan::PlanSpec;
use domain::subscription::{charge_reference, SubscriptionStatus};
use domain::wallet::{Wallet, WalletCommand, WalletReason};
use domain::{CardNumber, CustomerId, Language, Location, Toman};
use eventstore::testing::TestDb;
use uuid::Uuid;

const ADMIN: CustomerId = CustomerId(1);
const CUSTOMER: CustomerId = CustomerId(500);

fn toman(v: i64) -> Toman {
    Toman::from_int(v).unwrap()
}
fn france() -> Location {
    Location::parse("France").unwrap()
}

struct World {
    db: TestDb,
    cmd: Commands,
    admin: Actor,
    plan: Uuid,
    card: Uuid,
}

async fn world() -> World {
    let db = TestDb::new().await.unwrap();
    let cmd = Commands::new(db.pool.clone());
    let now = Utc::now();
    cmd.register_customer(ADMIN, Some("boss".into()), Language::En, None, now)
        .await
        .unwrap();
    cmd.grant_role(&Actor::System, ADMIN, RoleName::Admin, now).await.unwrap();
    let admin = cmd.actor(ADMIN).await.unwrap();
    cmd.register_customer(CUSTOMER, Some("ali".into()), Language::Fa, None, now)
        .await
        .unwrap();
    let plan = cmd
        .create_plan(
            &admin,
            PlanSpec {
                name: "Monthly 50GB".into(),
                duration_days: 30,
                traffic_gb: 50,
                price: toman(100_000),
                locations: vec![france()],
            },
            now,
        )
        .await
        .unwrap();
    let card = cmd
        .add_card(
            &admin,
            CardNumber::parse("6037997599999993").unwrap(),
            "Reza Ahmadi".into(),
            None,
            now,
        )
        .await
        .unwrap();
    World {
        db,
        cmd,
        admin,
        plan,
        card,
    }
}

async fn top_up(w: &World, amount: i64) -> Uuid {
    let now = Utc::now();
    let payment = w
        .cmd
        .create_card_payment(CUSTOMER, toman(amount), PaymentPurpose::WalletTopUp, Some(w.card), now)
        .await
        .unwrap();
    let me = w.cmd.actor(CUSTOMER).await.unwrap();
    w.cmd.submit_receipt(&me, payment, "tg:photo-1".into(), now).await.unwrap();
    payment
}

#[tokio::test]
async fn fifty_concurrent_approvals_credit_the_wallet_exactly_once() {
    let w = Arc::new(world().await);
    let payment = top_up(&w, 250_000).await;
    let tasks: Vec<_> = (0..50)
        .map(|_| {
            let w = w.clone();
            tokio::spawn(async move { w.cmd.approve_payment(&w.admin, payment, Utc::now()).await })
        })
        .collect();
    let mut approved = 0;
    let mut already = 0;
    for t in tasks {
        match t.await.unwrap() {
            Ok(()) => approved += 1,
            Err(commands::CommandError::Payment(PaymentError::AlreadyDecided("approved"))) => already += 1,
            Err(e) => panic!("unexpected error: {e}"),
        }
    }
    assert_eq!((approved, already), (1, 49));
    assert_eq!(w.cmd.balance(CUSTOMER).await.unwrap(), toman(250_000));
    let credits: i64 = sqlx::query_scalar("SELECT count(*) FROM events WHERE event_type = 'WalletCredited'")
        .fetch_one(&w.db.pool)
        .await
        .unwrap();
    assert_eq!(credits, 1);
}

#[tokio::test]
async fn a_hundred_concurrent_purchases_never_overdraw_the_wallet() {
    let w = Arc::new(world().await);
    let payment = top_up(&w, 1_050_000).await; // enough for 10 plans and a half
    w.cmd.approve_payment(&w.admin, payment, Utc::now()).await.unwrap();
    let me = Arc::new(w.cmd.actor(CUSTOMER).await.unwrap());
    let tasks: Vec<_> = (0..100)
        .map(|_| {
            let (w, me) = (w.clone(), me.clone());
            tokio::spawn(async move {
                w.cmd
                    .purchase_plan(&me, CUSTOMER, w.plan, &france(), Uuid::new_v4(), Utc::now())
                    .await
            })
        })
        .collect();
    let mut active = 0;
    let mut failed = 0;
    for t in tasks {
        match t.await.unwrap().unwrap() {
            PurchaseOutcome::Active { .. } => active += 1,
            PurchaseOutcome::Failed { reason, .. } => {
                assert!(reason.contains("insufficient"), "{reason}");
                failed += 1
            }
        }
    }
    assert_eq!((active, failed), (10, 90));
    assert_eq!(w.cmd.balance(CUSTOMER).await.unwrap(), toman(50_000));
    // Every debit has its subscription and every active subscription its debit.
    let debits: i64 = sqlx::query_scalar("SELECT count(*) FROM events WHERE event_type = 'WalletDebited'")
        .fetch_one(&w.db.pool)
        .await
        .unwrap();
    let settled: i64 = sqlx::query_scalar("SELECT count(*) FROM events WHERE event_type = 'ChargeSettled'")
        .fetch_one(&w.db.pool)
        .await
        .unwrap();
    assert_eq!((debits, settled), (10, 10));
}

#[tokio::test]
async fn a_purchase_interrupted_after_the_order_is_finished_by_the_process_manager() {
    let w = world().await;
    let payment = top_up(&w, 100_000).await;
    w.cmd.approve_payment(&w.admin, payment, Utc::now()).await.unwrap();
    let me = w.cmd.actor(CUSTOMER).await.unwrap();
    let sub = Uuid::new_v4();
    // The process "dies" right after recording the order: no debit yet.
    w.cmd
        .request_purchase(&me, CUSTOMER, w.plan, &france(), sub, Utc::now())
        .await
        .unwrap();
    assert_eq!(w.cmd.subscription(sub).await.unwrap().status, SubscriptionStatus::Pending);
    assert_eq!(w.cmd.balance(CUSTOMER).await.unwrap(), toman(100_000));

    // After the restart, the process manager replays every event from the store.
    replay_process_manager(&w).await;
    assert_eq!(w.cmd.subscription(sub).await.unwrap().status, SubscriptionStatus::Active);
    assert_eq!(w.cmd.balance(CUSTOMER).await.unwrap(), Toman::ZERO);
    // Replaying again (a redelivery) changes nothing.
    replay_process_manager(&w).await;
    assert_eq!(w.cmd.balance(CUSTOMER).await.unwrap(), Toman::ZERO);
}

#[tokio::test]
async fn a_purchase_interrupted_after_the_debit_is_settled_without_a_second_debit() {
    let w = world().await;
    let payment = top_up(&w, 100_000).await;
    w.cmd.approve_payment(&w.admin, payment, Utc::now()).await.unwrap();
    let me = w.cmd.actor(CUSTOMER).await.unwrap();
    let sub = Uuid::new_v4();
    w.cmd
        .request_purchase(&me, CUSTOMER, w.plan, &france(), sub, Utc::now())
        .await
        .unwrap();
    // The process "dies" after the debit committed but before the charge settled.
    Store::<Wallet>::new(w.db.pool.clone())
        .execute(
            &CUSTOMER.to_string(),
            WalletCommand::Debit {
                customer: CUSTOMER,
                amount: toman(100_000),
                reason: WalletReason::Charge {
                    subscription_id: sub,
                    charge_no: 1,
                },
                reference: charge_reference(sub, 1),
                at: Utc::now(),
            },
        )
        .await
        .unwrap();
    replay_process_manager(&w).await;
    let s = w.cmd.subscription(sub).await.unwrap();
    assert_eq!(s.status, SubscriptionStatus::Active);
    assert_eq!(s.paid, toman(100_000));
    assert_eq!(w.cmd.balance(CUSTOMER).await.unwrap(), Toman::ZERO);
}

#[tokio::test]
async fn an_approval_interrupted_before_the_credit_is_credited_once_on_replay() {
    let w = world().await;
    let payment = top_up(&w, 70_000).await;
    // Approve through the aggregate only, as if the process died before crediting.
    let purpose = w.cmd.plan_purpose(w.plan, &france()).await.unwrap();
    let plan_payment = w
        .cmd
        .create_card_payment(CUSTOMER, toman(100_000), purpose, Some(w.card), Utc::now())
        .await
        .unwrap();
    let me = w.cmd.actor(CUSTOMER).await.unwrap();
    w.cmd
        .submit_receipt(&me, plan_payment, "tg:photo-2".into(), Utc::now())
        .await
        .unwrap();
    let stores = Store::<domain::payment::Payment>::new(w.db.pool.clone());
    for p in [payment, plan_payment] {
        stores
            .execute(
                &p.to_string(),
                domain::payment::PaymentCommand::ApprovePayment {
                    by: w.admin.clone(),
                    at: Utc::now(),
                },
            )
            .await
            .unwrap();
    }
    assert_eq!(w.cmd.balance(CUSTOMER).await.unwrap(), Toman::ZERO);
    replay_process_manager(&w).await;
    replay_process_manager(&w).await;
    // The top-up stays in the wallet; the plan payment bought its plan.
    assert_eq!(w.cmd.balance(CUSTOMER).await.unwrap(), toman(70_000));
    let sub = w.cmd.subscription(Commands::subscription_for_payment(plan_payment)).await.unwrap();
    assert_eq!(sub.status, SubscriptionStatus::Active);
}

#[tokio::test]
async fn a_cancellation_refunds_once_and_never_more_than_was_paid() {
    let w = world().await;
    let payment = top_up(&w, 100_000).await;
    w.cmd.approve_payment(&w.admin, payment, Utc::now()).await.unwrap();
    let me = w.cmd.actor(CUSTOMER).await.unwrap();
    let sub = Uuid::new_v4();
    w.cmd
        .purchase_plan(&me, CUSTOMER, w.plan, &france(), sub, Utc::now())
        .await
        .unwrap();
    let too_much = w
        .cmd
        .cancel_subscription(&w.admin, sub, toman(100_001), "x".into(), Utc::now())
        .await;
    assert!(too_much.is_err());
    let by_customer = w.cmd.cancel_subscription(&me, sub, toman(1), "x".into(), Utc::now()).await;
    assert!(by_customer.is_err());
    w.cmd
        .cancel_subscription(&w.admin, sub, toman(60_000), "panel lost".into(), Utc::now())
        .await
        .unwrap();
    replay_process_manager(&w).await;
    assert_eq!(w.cmd.balance(CUSTOMER).await.unwrap(), toman(60_000));
}

#[tokio::test]
async fn permissions_come_from_roles_including_custom_ones() {
    let w = world().await;
    let now = Utc::now();
    let seller = CustomerId(600);
    w.cmd
        .register_customer(seller, None, Language::Fa, Some(CUSTOMER), now)
        .await
        .unwrap();
    w.cmd.grant_role(&w.admin, seller, RoleName::Seller, now).await.unwrap();
    let payment = top_up(&w, 10_000).await;
    let as_seller = w.cmd.actor(seller).await.unwrap();
    assert!(w.cmd.approve_payment(&as_seller, payment, now).await.is_err());

    let night = RoleName::parse("night_shift").unwrap();
    assert!(
        w.cmd.grant_role(&w.admin, seller, night.clone(), now).await.is_err(),
        "undefined custom role"
    );
    w.cmd
        .define_role(&w.admin, night.clone(), [Permission::ApproveReceipts].into(), now)
        .await
        .unwrap();
    w.cmd.grant_role(&w.admin, seller, night, now).await.unwrap();
    let as_night_shift = w.cmd.actor(seller).await.unwrap();
    w.cmd.approve_payment(&as_night_shift, payment, now).await.unwrap();
    assert_eq!(w.cmd.balance(CUSTOMER).await.unwrap(), toman(10_000));

    // A blocked member of staff loses every permission.
    w.cmd.block_customer(&w.admin, seller, "left the team".into(), now).await.unwrap();
    assert!(matches!(w.cmd.actor(seller).await, Err(commands::CommandError::Blocked(_))));
}

/// What the process-manager worker does after a restart: every event from
/// the store, in order, through `react`.
async fn replay_process_manager(w: &World) {
    for e in eventstore::read_after(&w.db.pool, 0, 100_000).await.unwrap() {
        w.cmd.react(&e, Utc::now()).await.unwrap();
    }
}
