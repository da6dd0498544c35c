//! Payment-method rules on the real PostgreSQL: each money path once, under
//! concurrency; every fraud path refused and recorded.
use std::collections::BTreeSet;
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use commands::{Commands, GatewayOutcome, UsdtOffer};
use domain::access::{Actor, RoleName};
use domain::payment::{PaymentPurpose, PaymentStatus, ReceiptFlag, ReceiptReading, RefusalReason, TronTransfer};
use domain::{CardNumber, CustomerId, Language, Toman};
use eventstore::testing::TestDb;
use rust_decimal::Decimal;
use uuid::Uuid;

const CUSTOMER: CustomerId = CustomerId(500);
const AUTHORITY: &str = "A0000000000000000000000000000wwOGYpd";
const USDT: &str = "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t";
const ADDRESS: &str = "TJmmqjb1DK9TTZbQXzRQ2AuA94z4gKAPFh";

fn toman(v: i64) -> Toman {
    Toman::from_int(v).unwrap()
}

async fn world() -> (TestDb, Commands) {
    let db = TestDb::new().await.unwrap();
    let cmd = Commands::new(db.pool.clone());
    let now = Utc::now();
    cmd.register_customer(CustomerId(1), None, Language::En, None, now).await.unwrap();
    cmd.grant_role(&Actor::System, CustomerId(1), RoleName::Admin, now).await.unwrap();
    cmd.register_customer(CUSTOMER, None, Language::Fa, None, now).await.unwrap();
    (db, cmd)
}

fn offer() -> UsdtOffer {
    UsdtOffer {
        address: ADDRESS.into(),
        contract: USDT.into(),
        rate: Decimal::from(60_000),
        confirmations: 19,
        valid_for: Duration::hours(1),
    }
}

fn transfer(hash: &str, amount: Decimal, at: DateTime<Utc>) -> TronTransfer {
    TronTransfer {
        tx_hash: hash.into(),
        contract: USDT.into(),
        from: "TYE218dMfzo2TH348AbKyHD2G8PjGo7ESS".into(),
        to: ADDRESS.into(),
        amount,
        block: 1000,
        block_time: at,
        confirmations: 25,
        succeeded: true,
        failure: None,
    }
}

#[tokio::test]
async fn fifty_concurrent_zarinpal_verifications_credit_the_wallet_once() {
    let (db, cmd) = world().await;
    let now = Utc::now();
    let payment = cmd
        .create_zarinpal_payment(CUSTOMER, toman(150_000), PaymentPurpose::WalletTopUp, now)
        .await
        .unwrap();
    cmd.record_zarinpal_authority(payment, AUTHORITY, now).await.unwrap();
    assert_eq!(
        cmd.reference_holder(domain::reference::ReferenceKind::ZarinpalAuthority, AUTHORITY)
            .await
            .unwrap(),
        Some(payment)
    );
    let cmd = Arc::new(cmd);
    let tasks: Vec<_> = (0..50)
        .map(|_| {
            let cmd = cmd.clone();
            tokio::spawn(async move {
                cmd.confirm_zarinpal(payment, AUTHORITY, 201, None, 1_500_000, Utc::now())
                    .await
                    .unwrap()
            })
        })
        .collect();
    let outcomes: Vec<GatewayOutcome> = futures::future::join_all(tasks).await.into_iter().map(Result::unwrap).collect();
    assert_eq!(
        outcomes.iter().filter(|o| **o == GatewayOutcome::Approved).count(),
        1,
        "{outcomes:?}"
    );
    assert!(outcomes
        .iter()
        .all(|o| matches!(o, GatewayOutcome::Approved | GatewayOutcome::Refused(RefusalReason::Replayed))));
    assert_eq!(cmd.balance(CUSTOMER).await.unwrap(), toman(150_000));
    let refused: i64 = sqlx::query_scalar("SELECT count(*) FROM events WHERE event_type = 'GatewayAttemptRefused'")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(refused, 1, "a replay is recorded once, not once per retry");
    db.drop_database().await.unwrap();
}

#[tokio::test]
async fn a_zarinpal_amount_mismatch_is_refused_and_credits_nothing() {
    let (db, cmd) = world().await;
    let now = Utc::now();
    let payment = cmd
        .create_zarinpal_payment(CUSTOMER, toman(150_000), PaymentPurpose::WalletTopUp, now)
        .await
        .unwrap();
    cmd.record_zarinpal_authority(payment, AUTHORITY, now).await.unwrap();
    let outcome = cmd.confirm_zarinpal(payment, AUTHORITY, 7, None, 150_000, now).await.unwrap();
    assert_eq!(outcome, GatewayOutcome::Refused(RefusalReason::WrongAmount));
    // Seen again: still refused, not recorded twice.
    let outcome = cmd.confirm_zarinpal(payment, AUTHORITY, 7, None, 150_000, now).await.unwrap();
    assert_eq!(outcome, GatewayOutcome::Refused(RefusalReason::WrongAmount));
    assert_eq!(cmd.balance(CUSTOMER).await.unwrap(), Toman::ZERO);
    assert_eq!(cmd.payment(payment).await.unwrap().status, PaymentStatus::AwaitingGateway);
    // A second payment cannot take the first one's authority.
    let other = cmd
        .create_zarinpal_payment(CUSTOMER, toman(1_000), PaymentPurpose::WalletTopUp, now)
        .await
        .unwrap();
    assert!(cmd.record_zarinpal_authority(other, AUTHORITY, now).await.is_err());
    db.drop_database().await.unwrap();
}

#[tokio::test]
async fn thirty_concurrent_usdt_payments_of_one_price_get_distinct_amounts() {
    let (db, cmd) = world().await;
    let cmd = Arc::new(cmd);
    let tasks: Vec<_> = (0..30)
        .map(|_| {
            let cmd = cmd.clone();
            tokio::spawn(async move {
                cmd.create_usdt_payment(CUSTOMER, toman(600_000), PaymentPurpose::WalletTopUp, &offer(), Utc::now())
                    .await
                    .unwrap()
            })
        })
        .collect();
    let created: Vec<_> = futures::future::join_all(tasks).await.into_iter().map(Result::unwrap).collect();
    let amounts: BTreeSet<Decimal> = created.iter().map(|(_, d)| d.usdt).collect();
    assert_eq!(amounts.len(), 30, "{amounts:?}");
    for a in &amounts {
        // 600,000 / 60,000 = 10 USDT, plus a tag of 0.001–0.999.
        assert!(*a > Decimal::from(10) && *a < Decimal::from(11), "{a}");
        assert!(a.scale() <= 3);
    }
    // Each amount names its payment.
    for (id, d) in &created {
        assert_eq!(cmd.usdt_payment_for_amount(d.usdt).await.unwrap(), Some(*id));
    }
    db.drop_database().await.unwrap();
}

#[tokio::test]
async fn a_transaction_hash_pays_one_payment_even_when_two_race_for_it() {
    let (db, cmd) = world().await;
    let now = Utc::now();
    let (p1, d1) = cmd
        .create_usdt_payment(CUSTOMER, toman(600_000), PaymentPurpose::WalletTopUp, &offer(), now)
        .await
        .unwrap();
    let (p2, d2) = cmd
        .create_usdt_payment(CUSTOMER, toman(600_000), PaymentPurpose::WalletTopUp, &offer(), now)
        .await
        .unwrap();
    let cmd = Arc::new(cmd);
    let hash = "c0ffee00000000000000000000000000000000000000000000000000000000aa";
    let at = now + Duration::minutes(1);
    let tasks: Vec<_> = (0..20)
        .map(|i| {
            let cmd = cmd.clone();
            let (p, amount) = if i % 2 == 0 { (p1, d1.usdt) } else { (p2, d2.usdt) };
            tokio::spawn(async move { cmd.confirm_tron_transfer(p, transfer(hash, amount, at), Utc::now()).await.unwrap() })
        })
        .collect();
    let outcomes: Vec<_> = futures::future::join_all(tasks).await.into_iter().map(Result::unwrap).collect();
    assert_eq!(
        outcomes.iter().filter(|o| **o == GatewayOutcome::Approved).count(),
        1,
        "{outcomes:?}"
    );
    let statuses = [cmd.payment(p1).await.unwrap().status, cmd.payment(p2).await.unwrap().status];
    assert_eq!(
        statuses.iter().filter(|s| **s == PaymentStatus::Approved).count(),
        1,
        "{statuses:?}"
    );
    assert_eq!(cmd.balance(CUSTOMER).await.unwrap(), toman(600_000));
    db.drop_database().await.unwrap();
}

#[tokio::test]
async fn an_old_transaction_cannot_pay_a_new_payment_that_reuses_the_amount() {
    let (db, cmd) = world().await;
    let now = Utc::now();
    let (p1, d1) = cmd
        .create_usdt_payment(CUSTOMER, toman(600_000), PaymentPurpose::WalletTopUp, &offer(), now)
        .await
        .unwrap();
    let hash = "AB00000000000000000000000000000000000000000000000000000000000001";
    let t = transfer(hash, d1.usdt, now + Duration::minutes(1));
    assert_eq!(
        cmd.confirm_tron_transfer(p1, t.clone(), now).await.unwrap(),
        GatewayOutcome::Approved
    );
    // The amount is free again once p1 is paid…
    assert_eq!(cmd.usdt_payment_for_amount(d1.usdt).await.unwrap(), None);
    // …so a later payment may get it, but the old transaction (hash in any case) is spent.
    let (p2, _) = cmd
        .create_usdt_payment(CUSTOMER, toman(600_000), PaymentPurpose::WalletTopUp, &offer(), now)
        .await
        .unwrap();
    let replay = TronTransfer {
        tx_hash: hash.to_ascii_lowercase(),
        ..t
    };
    assert_eq!(
        cmd.confirm_tron_transfer(p2, replay.clone(), now).await.unwrap(),
        GatewayOutcome::Refused(RefusalReason::ReferenceUsed)
    );
    assert_eq!(
        cmd.confirm_tron_transfer(p1, replay, now).await.unwrap(),
        GatewayOutcome::Refused(RefusalReason::Replayed)
    );
    assert_eq!(cmd.balance(CUSTOMER).await.unwrap(), toman(600_000));
    db.drop_database().await.unwrap();
}

#[tokio::test]
async fn an_expired_usdt_payment_fails_and_frees_its_amount() {
    let (db, cmd) = world().await;
    let now = Utc::now();
    let (p, d) = cmd
        .create_usdt_payment(CUSTOMER, toman(600_000), PaymentPurpose::WalletTopUp, &offer(), now)
        .await
        .unwrap();
    cmd.fail_gateway_payment(p, "expired".into(), now).await.unwrap();
    assert_eq!(cmd.usdt_payment_for_amount(d.usdt).await.unwrap(), None);
    let late = transfer("ee", d.usdt, now + Duration::minutes(5));
    assert_eq!(
        cmd.confirm_tron_transfer(p, late, now).await.unwrap(),
        GatewayOutcome::Refused(RefusalReason::Replayed)
    );
    assert_eq!(cmd.balance(CUSTOMER).await.unwrap(), Toman::ZERO);
    db.drop_database().await.unwrap();
}

async fn card_payment_with_receipt(cmd: &Commands, file: &str) -> Uuid {
    let now = Utc::now();
    let admin = cmd.actor(CustomerId(1)).await.unwrap();
    if sqlx::query_scalar::<_, i64>("SELECT count(*) FROM events WHERE aggregate_type = 'Card'")
        .fetch_one(&cmd.pool)
        .await
        .unwrap()
        == 0
    {
        cmd.add_card(&admin, CardNumber::parse("6037997599999993").unwrap(), "Reza".into(), None, now)
            .await
            .unwrap();
    }
    let card: Uuid = sqlx::query_scalar("SELECT aggregate_id::uuid FROM events WHERE aggregate_type = 'Card' LIMIT 1")
        .fetch_one(&cmd.pool)
        .await
        .unwrap();
    let p = cmd
        .create_card_payment(CUSTOMER, toman(250_000), PaymentPurpose::WalletTopUp, Some(card), now)
        .await
        .unwrap();
    let customer = cmd.actor(CUSTOMER).await.unwrap();
    cmd.submit_receipt(&customer, p, file.into(), now).await.unwrap();
    p
}

fn exact_reading(tracking: &str) -> ReceiptReading {
    ReceiptReading {
        amount: Some(toman(250_000)),
        card: Some("603799******9993".into()),
        tracking: Some(tracking.into()),
        paid_at: Some(Utc::now()),
        engine: "test".into(),
        text: "…".into(),
    }
}

#[tokio::test]
async fn a_tracking_number_seen_on_another_payment_is_flagged_and_blocks_auto_approval() {
    let (db, cmd) = world().await;
    let p1 = card_payment_with_receipt(&cmd, "tg:a").await;
    let p2 = card_payment_with_receipt(&cmd, "tg:b").await;
    let now = Utc::now();
    assert_eq!(
        cmd.record_receipt_reading(p1, "tg:a", exact_reading("84521377"), now)
            .await
            .unwrap(),
        vec![]
    );
    // Reading the same receipt of p1 again is not a reuse.
    assert_eq!(
        cmd.record_receipt_reading(p1, "tg:a", exact_reading("84521377"), now)
            .await
            .unwrap(),
        vec![]
    );
    assert_eq!(
        cmd.record_receipt_reading(p2, "tg:b", exact_reading("84521377"), now)
            .await
            .unwrap(),
        vec![ReceiptFlag::TrackingReused { payment: p1 }]
    );
    assert!(cmd.auto_approve_receipt(p2, now).await.is_err());
    cmd.auto_approve_receipt(p1, now).await.unwrap();
    assert_eq!(cmd.balance(CUSTOMER).await.unwrap(), toman(250_000));
    db.drop_database().await.unwrap();
}
