//! Who may do what, and what bad input gets back.
use chrono::Utc;
use domain::access::RoleName;
use domain::payment::PaymentPurpose;
use domain::{CardNumber, CustomerId, Toman};
use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::common::Harness;

/// A customer with a top-up awaiting review (receipt sent, as the bot records it).
async fn pending_top_up(h: &Harness, customer: i64, amount: i64) -> uuid::Uuid {
    let id = h
        .cmd
        .create_card_payment(
            CustomerId(customer),
            Toman::from_int(amount).unwrap(),
            PaymentPurpose::WalletTopUp,
            None,
            Utc::now(),
        )
        .await
        .unwrap();
    let payer = h.cmd.actor(CustomerId(customer)).await.unwrap();
    h.cmd
        .submit_receipt(&payer, id, "AgACfile-of-the-receipt".into(), Utc::now())
        .await
        .unwrap();
    id
}

async fn add_card(h: &Harness) {
    h.cmd
        .add_card(
            &domain::Actor::System,
            CardNumber::parse("6037997599999993").unwrap(),
            "Reza Ahmadi".into(),
            None,
            Utc::now(),
        )
        .await
        .unwrap();
}

#[tokio::test]
async fn a_seller_cannot_approve_a_payment_and_the_payment_stays_pending() {
    let h = Harness::start().await;
    add_card(&h).await;
    h.staff(30, "seller", RoleName::Seller).await;
    h.customer(31, "buyer").await;
    let payment = pending_top_up(&h, 31, 50_000).await;
    let seller = h.staff_token(30).await;

    let approve = h
        .call(Method::POST, &format!("/api/admin/payments/{payment}/approve"), Some(&seller), None)
        .await;
    assert_eq!((approve.status, approve.code()), (StatusCode::FORBIDDEN, "forbidden"));
    assert_eq!(approve.body["details"]["permission"], "approve_receipts");
    let queue = h.get("/api/admin/payments/pending", &seller).await;
    assert_eq!(queue.status, StatusCode::FORBIDDEN);
    let receipt = h.get(&format!("/api/admin/payments/{payment}/receipt"), &seller).await;
    assert_eq!(receipt.status, StatusCode::FORBIDDEN);

    // Nothing happened: no decision event, no money.
    let decided: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM events WHERE aggregate_type = 'Payment' AND event_type IN ('PaymentApproved', 'PaymentRejected')",
    )
    .fetch_one(h.pool())
    .await
    .unwrap();
    assert_eq!(decided, 0);
    assert_eq!(h.cmd.balance(CustomerId(31)).await.unwrap(), Toman::ZERO);

    // The seller's own pages work, and show only their own sales.
    assert_eq!(h.get("/api/seller/sales", &seller).await.status, StatusCode::OK);
    h.finish().await;
}

#[tokio::test]
async fn a_customer_reads_only_their_own_transactions() {
    let h = Harness::start().await;
    h.customer(40, "alice").await;
    h.customer(41, "bob").await;
    let admin = domain::Actor::System;
    h.cmd
        .adjust_wallet(&admin, CustomerId(40), 7_000.into(), "welcome".into(), Utc::now())
        .await
        .unwrap();
    h.cmd
        .adjust_wallet(&admin, CustomerId(41), 9_000.into(), "welcome".into(), Utc::now())
        .await
        .unwrap();
    let alice = h.customer_token(40).await;

    h.eventually("alice's ledger row", || async {
        h.get("/api/me/transactions", &alice)
            .await
            .body
            .as_array()
            .is_some_and(|a| !a.is_empty())
    })
    .await;
    let mine = h.get("/api/me/transactions", &alice).await;
    let rows = mine.body.as_array().unwrap();
    assert!(rows.iter().all(|r| r["customer"] == 40), "{rows:?}");
    assert_eq!(rows[0]["amount"], "7000");

    // Bob's rows through every door a customer might try.
    for path in [
        "/api/admin/customers/41/transactions",
        "/api/admin/customers/41",
        "/api/admin/customers/41/payments",
        "/api/admin/customers?q=bob",
    ] {
        let a = h.get(path, &alice).await;
        assert_eq!(a.status, StatusCode::FORBIDDEN, "{path}: {:?}", a.body);
        assert!(!a.body.to_string().contains("9000"), "{path} leaked bob's money");
    }
    // No route takes another customer's id for "me"; a made-up query parameter is ignored.
    let sneaky = h.get("/api/me/transactions?customer=41", &alice).await;
    assert!(sneaky.body.as_array().unwrap().iter().all(|r| r["customer"] == 40));
    // Someone else's subscription is not found for her.
    let other = h
        .call(
            Method::POST,
            &format!("/api/me/subscriptions/{}/renew", uuid::Uuid::new_v4()),
            Some(&alice),
            None,
        )
        .await;
    assert_eq!(other.status, StatusCode::NOT_FOUND);
    h.finish().await;
}

#[tokio::test]
async fn staff_see_what_their_roles_allow_and_nothing_else() {
    let h = Harness::start().await;
    h.staff(50, "clerk", RoleName::ReceiptAdmin).await;
    h.staff(51, "boss", RoleName::Admin).await;
    let clerk = h.staff_token(50).await;
    let boss = h.staff_token(51).await;
    assert_eq!(h.get("/api/admin/payments/pending", &clerk).await.status, StatusCode::OK);
    for path in [
        "/api/admin/customers",
        "/api/admin/cards",
        "/api/admin/plans",
        "/api/admin/reports/daily",
        "/api/admin/staff",
    ] {
        assert_eq!(h.get(path, &clerk).await.status, StatusCode::FORBIDDEN, "{path}");
        assert_eq!(h.get(path, &boss).await.status, StatusCode::OK, "{path}");
    }
    // A custom role with one permission opens exactly that.
    let defined = h
        .post(
            "/api/admin/roles",
            Some(&boss),
            json!({"name": "night_shift", "permissions": ["view_reports"]}),
        )
        .await;
    assert_eq!(defined.status, StatusCode::CREATED, "{:?}", defined.body);
    h.eventually("the role is in the read model", || async {
        h.get("/api/admin/roles", &boss).await.body["roles"]
            .as_array()
            .is_some_and(|r| r.iter().any(|r| r["name"] == "night_shift"))
    })
    .await;
    let granted = h
        .post("/api/admin/customers/50/roles", Some(&boss), json!({"role": "night_shift"}))
        .await;
    assert_eq!(granted.status, StatusCode::NO_CONTENT, "{:?}", granted.body);
    h.eventually("the clerk now reads reports", || async {
        h.get("/api/admin/reports/daily", &clerk).await.status == StatusCode::OK
    })
    .await;
    assert_eq!(h.get("/api/admin/customers", &clerk).await.status, StatusCode::FORBIDDEN);
    h.finish().await;
}

#[tokio::test]
async fn bad_input_gets_a_clear_error_and_writes_nothing() {
    let h = Harness::start().await;
    h.staff(60, "boss", RoleName::Admin).await;
    let boss = h.staff_token(60).await;
    let events_before: i64 = sqlx::query_scalar("SELECT count(*) FROM events").fetch_one(h.pool()).await.unwrap();

    let card = h
        .post(
            "/api/admin/cards",
            Some(&boss),
            json!({"number": "6037997599999994", "holder": "Reza", "bank": "x".repeat(65)}),
        )
        .await;
    assert_eq!((card.status, card.code()), (StatusCode::UNPROCESSABLE_ENTITY, "validation_failed"));
    let fields = card.body["details"]["fields"].as_object().unwrap();
    assert!(fields.contains_key("number") && fields.contains_key("bank"), "{fields:?}");

    let plan = h
        .post(
            "/api/admin/plans",
            Some(&boss),
            json!({"name": "M", "duration_days": 30, "traffic_gb": 50, "price": "12.34", "locations": ["France", ""]}),
        )
        .await;
    assert_eq!(plan.code(), "validation_failed");
    assert!(plan.body["details"]["fields"]["price"].as_str().unwrap().contains("precision"));
    let zero_days = h
        .post(
            "/api/admin/plans",
            Some(&boss),
            json!({"name": "M", "duration_days": 0, "traffic_gb": 50, "price": "1000", "locations": ["France"]}),
        )
        .await;
    assert_eq!(
        (zero_days.status, zero_days.code()),
        (StatusCode::UNPROCESSABLE_ENTITY, "invalid_duration")
    );

    let raw = h
        .http
        .post(format!("{}/api/admin/cards", h.base))
        .bearer_auth(&boss)
        .header("content-type", "application/json")
        .body("{\"number\": ")
        .send()
        .await
        .unwrap();
    assert_eq!(raw.status(), StatusCode::BAD_REQUEST);
    let body: serde_json::Value = raw.json().await.unwrap();
    assert_eq!(body["code"], "malformed_json");

    let wrong_type = h
        .post("/api/admin/cards", Some(&boss), json!({"number": 6037, "holder": "R"}))
        .await;
    assert_eq!(
        (wrong_type.status, wrong_type.code()),
        (StatusCode::UNPROCESSABLE_ENTITY, "invalid_body")
    );
    let missing = h.post("/api/admin/cards", Some(&boss), json!({"holder": "R"})).await;
    assert!(missing.body["message"].as_str().unwrap().contains("number"), "{:?}", missing.body);

    let bad_path = h
        .call(Method::POST, "/api/admin/payments/not-a-uuid/approve", Some(&boss), None)
        .await;
    assert_eq!((bad_path.status, bad_path.code()), (StatusCode::BAD_REQUEST, "invalid_path"));
    let unknown = h
        .call(
            Method::POST,
            &format!("/api/admin/payments/{}/approve", uuid::Uuid::new_v4()),
            Some(&boss),
            None,
        )
        .await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND, "{:?}", unknown.body);
    let bad_page = h.get("/api/admin/customers?limit=0", &boss).await;
    assert_eq!(bad_page.body["details"]["fields"]["limit"], "limit is 1 to 200");
    let bad_query = h.get("/api/admin/customers?blocked=maybe", &boss).await;
    assert_eq!(bad_query.code(), "invalid_query");
    let bad_range = h.get("/api/admin/reports/daily?from=2026-02-01&to=2026-01-01", &boss).await;
    assert_eq!(bad_range.code(), "validation_failed");
    let weak = h
        .post("/api/admin/staff", Some(&boss), json!({"telegram_id": 60, "password": "short"}))
        .await;
    assert!(weak.body["details"]["fields"]["password"].is_string());
    let negative = h
        .post(
            "/api/admin/customers/60/wallet-adjustments",
            Some(&boss),
            json!({"amount": "-1", "note": "x"}),
        )
        .await;
    assert_eq!(
        (negative.status, negative.code()),
        (StatusCode::UNPROCESSABLE_ENTITY, "insufficient_balance")
    );
    let no_route = h.get("/api/nothing-here", &boss).await;
    assert_eq!((no_route.status, no_route.code()), (StatusCode::NOT_FOUND, "no_such_route"));

    let events_after: i64 = sqlx::query_scalar("SELECT count(*) FROM events").fetch_one(h.pool()).await.unwrap();
    assert_eq!(events_before, events_after, "refused input wrote nothing");
    h.finish().await;
}
