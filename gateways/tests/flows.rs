//! Both gateways end to end against their fakes on 127.0.0.1 and the real
//! PostgreSQL: the happy paths, every fraud path refused and recorded, and
//! `audit` clean afterwards.
use std::sync::Arc;

use chrono::{Duration, Utc};
use commands::{Commands, UsdtOffer};
use domain::access::{Actor, RoleName};
use domain::payment::{PaymentPurpose, PaymentStatus};
use domain::{CustomerId, Language, Toman};
use eventstore::testing::TestDb;
use gateways::tron::fake::{FakeToken, FakeTransfer, FakeTronGrid};
use gateways::tron::{address, TronClient, TronConfig, UsdtWatcher, USDT_MAINNET};
use gateways::zarinpal::fake::FakeZarinpal;
use gateways::zarinpal::{callback_router, CallbackOutcome, ZarinpalCheckout, ZarinpalClient, ZarinpalConfig, ZarinpalError};

const CUSTOMER: CustomerId = CustomerId(500);
const MERCHANT: &str = "1344b5d4-0048-11e8-94db-005056a205be";

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

async fn audit_is_clean(pool: &sqlx::PgPool) {
    for p in projections::all() {
        projections::catch_up(pool, p.as_ref(), 500).await.unwrap();
    }
    let report = projections::audit::audit(pool).await.unwrap();
    assert!(report.is_clean(), "{:?}", report.mismatches);
}

async fn count(pool: &sqlx::PgPool, sql: &str) -> i64 {
    sqlx::query_scalar(sql).fetch_one(pool).await.unwrap()
}

fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

async fn checkout(cmd: &Commands, fake: &FakeZarinpal, callback_base: &str) -> ZarinpalCheckout {
    let client = ZarinpalClient::new(ZarinpalConfig {
        base_url: fake.base_url.clone(),
        merchant_id: MERCHANT.into(),
        callback_url: format!("{callback_base}/payments/zarinpal/callback"),
    })
    .unwrap();
    ZarinpalCheckout::new(client, cmd.clone())
}

#[tokio::test]
async fn zarinpal_pays_through_the_browser_once_and_refuses_replays_and_strangers() {
    let (db, cmd) = world().await;
    let fake = FakeZarinpal::start(false).await.unwrap();
    fake.register_merchant(MERCHANT);
    // The callback server needs the checkout, whose callback URL needs the server's address.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let checkout = Arc::new(checkout(&cmd, &fake, &base).await);
    let router = callback_router(checkout.clone());
    tokio::spawn(async move { axum::serve(listener, router).await });

    let started = checkout
        .start(CUSTOMER, toman(150_000), PaymentPurpose::WalletTopUp, Utc::now())
        .await
        .unwrap();
    assert_eq!(started.redirect_url, format!("{}/pg/StartPay/{}", fake.base_url, started.authority));
    let session = fake.session(&started.authority).unwrap();
    assert_eq!(session.amount, 1_500_000, "Zarinpal is asked in rials");
    assert_eq!(session.order_id, Some(started.payment.to_string()));

    // The customer pays at the bank and is redirected to our callback.
    let bank = browser()
        .get(format!("{}?outcome=paid", started.redirect_url))
        .send()
        .await
        .unwrap();
    assert_eq!(bank.status(), 302);
    let callback = bank.headers()["location"].to_str().unwrap().to_string();
    assert!(callback.starts_with(&base), "{callback}");
    let page = browser().get(&callback).send().await.unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.text().await.unwrap().contains("Payment received"));
    assert_eq!(cmd.balance(CUSTOMER).await.unwrap(), toman(150_000));

    // The same callback again (a refresh, or an attacker replaying it): refused, recorded, no credit.
    let again = browser().get(&callback).send().await.unwrap();
    assert_eq!(again.status(), 409);
    assert_eq!(cmd.balance(CUSTOMER).await.unwrap(), toman(150_000));
    assert_eq!(fake.verify_calls(), 1, "a decided payment is not verified again");

    // An authority no payment requested: refused and recorded on its own stream.
    let stranger = format!("{base}/payments/zarinpal/callback?Authority=A00000000000000000000000000000999999&Status=OK");
    assert_eq!(browser().get(&stranger).send().await.unwrap().status(), 409);
    // Garbage is refused without a trace.
    let garbage = format!("{base}/payments/zarinpal/callback?Authority=%3Cscript%3E&Status=OK");
    assert_eq!(browser().get(&garbage).send().await.unwrap().status(), 409);
    assert_eq!(
        browser()
            .get(format!("{base}/payments/zarinpal/callback"))
            .send()
            .await
            .unwrap()
            .status(),
        400
    );

    assert_eq!(
        count(&db.pool, "SELECT count(*) FROM events WHERE event_type = 'GatewayAttemptRefused'").await,
        1
    );
    assert_eq!(
        count(&db.pool, "SELECT count(*) FROM events WHERE event_type = 'UnmatchedReferenceSeen'").await,
        1
    );
    audit_is_clean(&db.pool).await;
    assert_eq!(
        count(
            &db.pool,
            "SELECT count(*) FROM gateway_payments WHERE status = 'approved' AND ref_id IS NOT NULL"
        )
        .await,
        1
    );
    assert_eq!(count(&db.pool, "SELECT count(*) FROM gateway_incidents").await, 2);
    db.drop_database().await.unwrap();
}

#[tokio::test]
async fn twenty_concurrent_callbacks_credit_once() {
    let (db, cmd) = world().await;
    let fake = FakeZarinpal::start(true).await.unwrap(); // sandbox: any UUID merchant
    let checkout = Arc::new(checkout(&cmd, &fake, "https://shop.example").await);
    let started = checkout
        .start(CUSTOMER, toman(90_000), PaymentPurpose::WalletTopUp, Utc::now())
        .await
        .unwrap();
    assert!(started.authority.starts_with('S'));
    fake.pay(&started.authority).unwrap();
    let tasks: Vec<_> = (0..20)
        .map(|_| {
            let c = checkout.clone();
            let a = started.authority.clone();
            tokio::spawn(async move { c.handle_callback(&a, "OK", Utc::now()).await.unwrap() })
        })
        .collect();
    let outcomes: Vec<_> = futures::future::join_all(tasks).await.into_iter().map(Result::unwrap).collect();
    let approved = outcomes.iter().filter(|o| matches!(o, CallbackOutcome::Approved { .. })).count();
    assert_eq!(approved, 1, "{outcomes:?}");
    assert_eq!(cmd.balance(CUSTOMER).await.unwrap(), toman(90_000));
    audit_is_clean(&db.pool).await;
    db.drop_database().await.unwrap();
}

#[tokio::test]
async fn zarinpal_cancellations_wrong_amounts_inactive_terminals_and_lost_callbacks() {
    let (db, cmd) = world().await;
    let fake = FakeZarinpal::start(false).await.unwrap();
    fake.register_merchant(MERCHANT);
    let checkout = checkout(&cmd, &fake, "https://shop.example").await;
    let now = Utc::now();

    // Cancelled at the bank: Status=NOK fails the payment, nothing credited.
    let s = checkout
        .start(CUSTOMER, toman(10_000), PaymentPurpose::WalletTopUp, now)
        .await
        .unwrap();
    fake.cancel(&s.authority).unwrap();
    assert_eq!(
        checkout.handle_callback(&s.authority, "NOK", now).await.unwrap(),
        CallbackOutcome::NotPaid { payment: s.payment }
    );
    assert_eq!(cmd.payment(s.payment).await.unwrap().status, PaymentStatus::Failed);
    // A forged Status=OK afterwards is a replay of a decided payment.
    assert!(matches!(
        checkout.handle_callback(&s.authority, "OK", now).await.unwrap(),
        CallbackOutcome::Refused { .. }
    ));

    // Status=OK forged for an unpaid session: verify says -51, the payment fails.
    let s = checkout
        .start(CUSTOMER, toman(20_000), PaymentPurpose::WalletTopUp, now)
        .await
        .unwrap();
    assert_eq!(
        checkout.handle_callback(&s.authority, "OK", now).await.unwrap(),
        CallbackOutcome::NotPaid { payment: s.payment }
    );

    // A session whose amount differs from ours: -50, refused and recorded, still pending.
    let s = checkout
        .start(CUSTOMER, toman(30_000), PaymentPurpose::WalletTopUp, now)
        .await
        .unwrap();
    fake.pay(&s.authority).unwrap();
    fake.tamper_amount(&s.authority, 1_000);
    assert_eq!(
        checkout.handle_callback(&s.authority, "OK", now).await.unwrap(),
        CallbackOutcome::Refused {
            payment: Some(s.payment),
            reason: domain::payment::RefusalReason::WrongAmount
        }
    );
    assert_eq!(cmd.payment(s.payment).await.unwrap().status, PaymentStatus::AwaitingGateway);

    // Paid, but the customer never came back: the reconciler verifies it from unVerified.
    let lost = checkout
        .start(CUSTOMER, toman(40_000), PaymentPurpose::WalletTopUp, now)
        .await
        .unwrap();
    fake.pay(&lost.authority).unwrap();
    assert_eq!(checkout.reconcile(now).await.unwrap(), 1);
    assert_eq!(checkout.reconcile(now).await.unwrap(), 0);
    assert_eq!(cmd.balance(CUSTOMER).await.unwrap(), toman(40_000));
    assert_eq!(checkout.client().inquiry(&lost.authority).await.unwrap().status, "VERIFIED");

    // An inactive terminal: -11 on request, the payment fails at once.
    fake.deactivate_merchant(MERCHANT);
    let err = checkout
        .start(CUSTOMER, toman(50_000), PaymentPurpose::WalletTopUp, now)
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            gateways::zarinpal::CheckoutError::Gateway(ZarinpalError::Api { code: -11, .. })
        ),
        "{err:?}"
    );
    assert_eq!(
        count(&db.pool, "SELECT count(*) FROM events WHERE event_type = 'GatewayPaymentFailed'").await,
        3
    );
    audit_is_clean(&db.pool).await;
    db.drop_database().await.unwrap();
}

#[tokio::test]
async fn the_zarinpal_client_reports_validation_errors_and_unknown_authorities() {
    let fake = FakeZarinpal::start(false).await.unwrap();
    let bad = ZarinpalClient::new(ZarinpalConfig {
        base_url: fake.base_url.clone(),
        merchant_id: "short".into(),
        callback_url: "not a url".into(),
    })
    .unwrap();
    let err = bad.request(10_000, "d", "o").await.unwrap_err();
    assert!(
        matches!(&err, ZarinpalError::Api { code: -9, validations, .. } if !validations.is_empty()),
        "{err:?}"
    );
    fake.register_merchant(MERCHANT);
    let good = ZarinpalClient::new(ZarinpalConfig {
        base_url: fake.base_url.clone(),
        merchant_id: MERCHANT.into(),
        callback_url: "https://shop.example/cb".into(),
    })
    .unwrap();
    assert_eq!(
        good.verify(10_000, "A00000000000000000000000000000000001")
            .await
            .unwrap_err()
            .code(),
        Some(-54)
    );
    let r = good.request(20_000, "d", "o").await.unwrap();
    fake.pay(&r.authority).unwrap();
    assert_eq!(good.unverified().await.unwrap().len(), 1);
    assert_eq!(good.verify(20_000, &r.authority).await.unwrap().code, 100);
    assert_eq!(good.verify(20_000, &r.authority).await.unwrap().code, 101);
    good.reverse(&r.authority).await.unwrap();
    assert_eq!(good.reverse(&r.authority).await.unwrap_err().code(), Some(-61));
    let down = ZarinpalClient::new(ZarinpalConfig {
        base_url: "http://127.0.0.1:9".into(),
        merchant_id: MERCHANT.into(),
        callback_url: "https://x".into(),
    })
    .unwrap();
    assert!(matches!(down.inquiry("A").await, Err(ZarinpalError::Unavailable(_))));
}

fn transfer(tx: u64, token: FakeToken, to: &str, value: u128) -> FakeTransfer {
    FakeTransfer {
        tx_id: format!("{tx:064x}"),
        token,
        from: address::from_seed(1000 + tx),
        to: to.to_string(),
        value,
        block: 0,
        failure: None,
    }
}

/// USDT base units (6 decimals) of a decimal amount.
fn units(d: rust_decimal::Decimal) -> u128 {
    (d * rust_decimal::Decimal::from(1_000_000)).trunc().to_string().parse().unwrap()
}

#[tokio::test]
async fn the_usdt_watcher_confirms_good_transfers_and_refuses_every_fraud() {
    let (db, cmd) = world().await;
    let ours = address::from_seed(1);
    let grid = FakeTronGrid::start(70_000_000).await.unwrap();
    // The fake chain's clock is behind ours: offers are made "then".
    let now = chrono::TimeZone::timestamp_millis_opt(&Utc, gateways::tron::fake::block_time_ms(grid.head())).unwrap();
    let offer = UsdtOffer {
        address: ours.clone(),
        contract: USDT_MAINNET.into(),
        rate: rust_decimal::Decimal::from(60_000),
        confirmations: 19,
        valid_for: Duration::hours(1),
    };
    let mut pay = Vec::new();
    for amount in [600_000, 600_000, 600_000, 600_000] {
        pay.push(
            cmd.create_usdt_payment(
                CUSTOMER,
                toman(amount),
                PaymentPurpose::WalletTopUp,
                &offer,
                now - Duration::seconds(30),
            )
            .await
            .unwrap(),
        );
    }
    audit_is_clean(&db.pool).await; // brings gateway_payments up to date for the watcher
    let watcher = UsdtWatcher {
        client: TronClient::new(TronConfig {
            base_url: grid.base_url.clone(),
            api_key: Some("key-123".into()),
        })
        .unwrap(),
        commands: cmd.clone(),
        address: ours.clone(),
        expiry_grace: Duration::minutes(10),
        interval: std::time::Duration::from_secs(3),
    };
    let scam = address::from_seed(666);
    let good = grid.add(transfer(1, FakeToken::usdt(), &ours, units(pay[0].1.usdt)));
    grid.add(FakeTransfer {
        failure: Some("OUT_OF_ENERGY".into()),
        ..transfer(2, FakeToken::usdt(), &ours, units(pay[1].1.usdt))
    });
    grid.add(transfer(3, FakeToken::look_alike(&scam), &ours, units(pay[2].1.usdt)));
    grid.add(transfer(4, FakeToken::usdt(), &ours, 1_234_567)); // nobody owes 1.234567
    grid.add(transfer(5, FakeToken::usdt(), &address::from_seed(2), units(pay[3].1.usdt))); // to someone else

    // Not enough confirmations yet: the good one waits; the bad ones are refused now.
    grid.advance(5);
    let r = watcher.step(now).await.unwrap();
    assert_eq!((r.approved, r.waiting, r.refused, r.unmatched), (0, 1, 2, 1), "{r:?}");
    assert_eq!(cmd.balance(CUSTOMER).await.unwrap(), Toman::ZERO);

    grid.advance(19);
    let r = watcher.step(now).await.unwrap();
    assert_eq!(r.approved, 1, "{r:?}");
    assert_eq!(cmd.balance(CUSTOMER).await.unwrap(), toman(600_000));
    assert_eq!(cmd.payment(pay[0].0).await.unwrap().status, PaymentStatus::Approved);
    for (p, _) in &pay[1..] {
        assert_eq!(cmd.payment(*p).await.unwrap().status, PaymentStatus::AwaitingGateway);
    }
    // Polling again changes nothing and records nothing new.
    let events = count(&db.pool, "SELECT count(*) FROM events").await;
    watcher.step(now).await.unwrap();
    assert_eq!(count(&db.pool, "SELECT count(*) FROM events").await, events);

    // The good transaction replayed for a new payment that got the freed amount: refused.
    audit_is_clean(&db.pool).await;
    let reasons: Vec<String> = sqlx::query_scalar("SELECT reason FROM gateway_incidents ORDER BY position")
        .fetch_all(&db.pool)
        .await
        .unwrap();
    assert_eq!(reasons, ["failed_transaction", "wrong_token", "wrong_amount"]);
    let again = cmd
        .confirm_tron_transfer(
            pay[1].0,
            domain::payment::TronTransfer {
                tx_hash: good.clone(),
                contract: USDT_MAINNET.into(),
                from: address::from_seed(1001),
                to: ours.clone(),
                amount: pay[1].1.usdt,
                block: grid.head() - 24,
                block_time: now,
                confirmations: 24,
                succeeded: true,
                failure: None,
            },
            now,
        )
        .await
        .unwrap();
    assert_eq!(
        again,
        commands::GatewayOutcome::Refused(domain::payment::RefusalReason::ReferenceUsed)
    );

    // Offers past their deadline (and the grace) expire and free their amounts.
    let later = now + Duration::hours(2);
    let r = watcher.step(later).await.unwrap();
    assert_eq!(r.expired, 3, "{r:?}");
    assert!(grid.api_keys().iter().all(|k| k == "key-123") && !grid.api_keys().is_empty());
    audit_is_clean(&db.pool).await;
    assert_eq!(
        count(&db.pool, "SELECT count(*) FROM gateway_payments WHERE status = 'failed'").await,
        3
    );
    db.drop_database().await.unwrap();
}
