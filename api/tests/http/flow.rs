//! Whole flows: a top-up approved from the queue with live updates, a
//! purchase from the wallet, and cached reads refreshed by events.
use std::time::Duration;

use chrono::Utc;
use domain::access::RoleName;
use domain::{CardNumber, CustomerId};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use tgfake::TgUser;

use crate::common::Harness;

/// Reads Server-Sent Events from `/api/live` into a channel of (event, data).
pub(crate) async fn listen(h: &Harness, token: &str) -> tokio::sync::mpsc::UnboundedReceiver<(String, Value)> {
    let res = h.http.get(format!("{}/api/live", h.base)).bearer_auth(token).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["content-type"], "text/event-stream");
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        let mut res = res;
        let mut buffer = String::new();
        while let Ok(Some(chunk)) = res.chunk().await {
            buffer.push_str(&String::from_utf8_lossy(&chunk));
            while let Some(end) = buffer.find("\n\n") {
                let block: String = buffer.drain(..end + 2).collect();
                let mut event = String::from("message");
                let mut data = String::new();
                for line in block.lines() {
                    if let Some(e) = line.strip_prefix("event:") {
                        event = e.trim().to_string();
                    } else if let Some(d) = line.strip_prefix("data:") {
                        data.push_str(d.trim());
                    }
                }
                if !data.is_empty() && tx.send((event, serde_json::from_str(&data).unwrap_or(Value::Null))).is_err() {
                    return;
                }
            }
        }
    });
    let (first, _) = tokio::time::timeout(Duration::from_secs(5), rx.recv()).await.unwrap().unwrap();
    assert_eq!(first, "ready");
    rx
}

pub(crate) async fn next_of(rx: &mut tokio::sync::mpsc::UnboundedReceiver<(String, Value)>, kind: &str) -> Value {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        match tokio::time::timeout(left, rx.recv()).await {
            Ok(Some((k, data))) if k == kind => return data,
            Ok(Some(_)) => continue,
            _ => panic!("no `{kind}` event arrived"),
        }
    }
}

#[tokio::test]
async fn an_admin_approves_a_top_up_from_the_queue_and_everyone_hears_of_it() {
    let h = Harness::start().await;
    h.staff(70, "boss", RoleName::Admin).await;
    h.staff(71, "seller", RoleName::Seller).await;
    h.cmd
        .add_card(
            &domain::Actor::System,
            CardNumber::parse("6037-9975-9999-9993").unwrap(),
            "Reza Ahmadi".into(),
            Some("Melli".into()),
            Utc::now(),
        )
        .await
        .unwrap();
    h.customer(72, "ali").await;
    h.customer(73, "someone_else").await;
    let boss = h.staff_token(70).await;
    let seller = h.staff_token(71).await;
    let ali = h.customer_token(72).await;
    let other = h.customer_token(73).await;
    let mut boss_live = listen(&h, &boss).await;
    let mut ali_live = listen(&h, &ali).await;
    let mut other_live = listen(&h, &other).await;
    let mut seller_live = listen(&h, &seller).await;

    // Ali asks to top up and is told which card to pay.
    let top_up = h.post("/api/me/top-ups", Some(&ali), json!({"amount": "250,000"})).await;
    assert_eq!(top_up.status, StatusCode::CREATED, "{:?}", top_up.body);
    assert_eq!(top_up.body["card_number"], "6037 9975 9999 9993");
    assert_eq!(top_up.body["amount"], "250000");
    let payment: uuid::Uuid = top_up.body["payment_id"].as_str().unwrap().parse().unwrap();

    // He sends the receipt photo to the bot, which records it (as the bot does, by file id).
    let photo = b"\xFF\xD8\xFF\xE0 a jpeg receipt";
    let (_, file_id) = h.tg.send_photo(&TgUser::new(72, "ali"), photo, None);
    let payer = h.cmd.actor(CustomerId(72)).await.unwrap();
    h.cmd.submit_receipt(&payer, payment, file_id, Utc::now()).await.unwrap();

    // The admin hears of it, sees it in the queue, and sees the photo.
    let heard = next_of(&mut boss_live, "receipt_submitted").await;
    assert_eq!(heard["data"]["payment_id"], payment.to_string());
    let queue = h.get("/api/admin/payments/pending", &boss).await;
    let row = queue
        .body
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["payment_id"] == payment.to_string())
        .cloned();
    let row = row.expect("the receipt is in the queue once the event was announced");
    assert_eq!(row["amount"], "250000");
    assert_eq!(row["username"], "ali");
    let image = h
        .http
        .get(format!("{}{}", h.base, row["receipt_url"].as_str().unwrap()))
        .bearer_auth(&boss)
        .send()
        .await
        .unwrap();
    assert_eq!(image.status(), StatusCode::OK);
    assert_eq!(image.headers()["content-type"], "image/jpeg");
    assert_eq!(image.bytes().await.unwrap().as_ref(), photo);

    // Approve; a second click is refused.
    let before = h.get("/api/me", &ali).await.body["balance"].clone();
    assert_eq!(before, "0");
    let ok = h
        .call(Method::POST, &format!("/api/admin/payments/{payment}/approve"), Some(&boss), None)
        .await;
    assert_eq!(ok.status, StatusCode::NO_CONTENT, "{:?}", ok.body);
    let twice = h
        .call(Method::POST, &format!("/api/admin/payments/{payment}/approve"), Some(&boss), None)
        .await;
    assert_eq!((twice.status, twice.code()), (StatusCode::CONFLICT, "already_decided"));

    // Ali hears the decision and his (cached) balance is already new when he does.
    let decided = next_of(&mut ali_live, "payment_decided").await;
    assert_eq!(decided["data"]["status"], "approved");
    let wallet = next_of(&mut ali_live, "wallet_changed").await;
    assert_eq!(wallet["data"]["balance"], "250000");
    assert_eq!(h.get("/api/me", &ali).await.body["balance"], "250000");
    assert!(h
        .get("/api/admin/payments/pending", &boss)
        .await
        .body
        .as_array()
        .unwrap()
        .is_empty());
    let customer = h.get("/api/admin/customers/72", &boss).await;
    assert_eq!(customer.body["balance"], "250000");

    // Nobody else heard about Ali's money.
    tokio::time::sleep(Duration::from_millis(300)).await;
    while let Ok((kind, data)) = other_live.try_recv() {
        assert!(!data.to_string().contains("250000"), "{kind} leaked to another customer: {data}");
    }
    while let Ok((kind, _)) = seller_live.try_recv() {
        assert!(
            kind != "receipt_submitted" && kind != "payment_decided" && kind != "wallet_changed",
            "{kind} reached the seller"
        );
    }
    h.finish().await;
}

#[tokio::test]
async fn a_customer_buys_a_plan_from_the_wallet_once_per_request_id() {
    let h = Harness::start().await;
    h.staff(80, "boss", RoleName::Admin).await;
    h.customer_referred(81, "buyer", Some(82)).await; // the referrer does not exist yet: ignored
    h.staff(82, "seller", RoleName::Seller).await;
    h.customer_referred(83, "referred", Some(82)).await;
    let boss = h.staff_token(80).await;
    let plan = h
        .post(
            "/api/admin/plans",
            Some(&boss),
            json!({"name": "Monthly 50GB", "duration_days": 30, "traffic_gb": 50, "price": "100,000", "locations": ["France"]}),
        )
        .await;
    assert_eq!(plan.status, StatusCode::CREATED, "{:?}", plan.body);
    let plan_id = plan.body["id"].as_str().unwrap().to_string();
    h.post(
        "/api/admin/customers/83/wallet-adjustments",
        Some(&boss),
        json!({"amount": "150000", "note": "gift"}),
    )
    .await;
    // Sellers earn 10% (the commerce module's policy, set through its command).
    h.cmd
        .set_commission_rate(
            &domain::Actor::System,
            None,
            Some(domain::commission::CommissionRate::Percent { percent: 10.into() }),
            Utc::now(),
        )
        .await
        .unwrap();
    let buyer = h.customer_token(83).await;

    let request = json!({"plan_id": plan_id, "location": "France", "request_id": uuid::Uuid::new_v4()});
    let first = h.post("/api/me/subscriptions", Some(&buyer), request.clone()).await;
    assert_eq!(first.status, StatusCode::OK, "{:?}", first.body);
    assert_eq!(first.body["status"], "active");
    let again = h.post("/api/me/subscriptions", Some(&buyer), request).await;
    assert_eq!(again.body, first.body, "a repeated request returns the first outcome");
    let broke = h
        .post(
            "/api/me/subscriptions",
            Some(&buyer),
            json!({"plan_id": plan_id, "location": "France"}),
        )
        .await;
    assert_eq!(broke.body["status"], "failed", "50,000 left cannot pay 100,000: {:?}", broke.body);
    let nowhere = h
        .post(
            "/api/me/subscriptions",
            Some(&buyer),
            json!({"plan_id": plan_id, "location": "Mars"}),
        )
        .await;
    assert_eq!(nowhere.status, StatusCode::UNPROCESSABLE_ENTITY);

    h.eventually("the subscription is in the read model", || async {
        h.get("/api/me/subscriptions", &buyer)
            .await
            .body
            .as_array()
            .is_some_and(|s| s.iter().any(|s| s["status"] == "active"))
    })
    .await;
    assert_eq!(h.get("/api/me", &buyer).await.body["balance"], "50000");

    // The seller who referred the buyer sees the sale (as commerce attributed it),
    // their commission and the buyer's points; nobody else's.
    let seller = h.staff_token(82).await;
    h.eventually("the sale is attributed to the seller", || async {
        let sales = h.get("/api/seller/sales", &seller).await;
        sales.body.as_array().is_some_and(|s| s.len() == 1)
    })
    .await;
    let sales = h.get("/api/seller/sales", &seller).await;
    let sale = &sales.body[0];
    assert_eq!(
        (sale["customer"].as_i64(), sale["amount"].as_str()),
        (Some(83), Some("100000")),
        "{sale}"
    );
    let customers = h.get("/api/seller/customers", &seller).await;
    assert_eq!(customers.body.as_array().unwrap().len(), 1);
    h.eventually("the seller's day total", || async {
        let days = h.get("/api/seller/performance", &seller).await;
        days.body.as_array().is_some_and(|d| d.iter().any(|d| d["sales_total"] == "100000"))
    })
    .await;
    h.eventually("the seller's commission", || async {
        let c = h.get("/api/seller/commissions", &seller).await;
        c.body["commissions"].as_array().is_some_and(|c| c.len() == 1) && c.body["summary"]["sales_count"] == 1
    })
    .await;
    let c = h.get("/api/seller/commissions", &seller).await;
    assert_eq!(c.body["commissions"][0]["commission"], "10000", "{:?}", c.body);
    assert_eq!(c.body["summary"]["pending"], "10000", "inside the refund window");
    assert_eq!(h.get("/api/seller/withdrawals", &seller).await.body, json!([]));
    let points = h.get("/api/me/points", &buyer).await;
    assert_eq!(points.status, StatusCode::OK, "{:?}", points.body);
    assert!(points.body["balance"].is_i64());
    // Another seller sees none of it; a customer cannot use seller or commerce admin routes.
    h.staff(84, "other_seller", RoleName::Seller).await;
    let other = h.staff_token(84).await;
    assert_eq!(h.get("/api/seller/sales", &other).await.body, json!([]));
    assert_eq!(h.get("/api/seller/commissions", &other).await.body["commissions"], json!([]));
    for path in [
        "/api/seller/sales",
        "/api/seller/commissions",
        "/api/admin/withdrawals",
        "/api/admin/points/leaderboard",
    ] {
        assert_eq!(h.get(path, &buyer).await.status, StatusCode::FORBIDDEN, "{path}");
    }
    assert_eq!(h.get("/api/admin/withdrawals", &boss).await.status, StatusCode::OK);
    assert_eq!(h.get("/api/admin/discounts", &boss).await.status, StatusCode::OK);
    h.finish().await;
}

#[tokio::test]
async fn cached_reads_are_served_from_memory_until_an_event_changes_them() {
    let h = Harness::start().await;
    h.staff(90, "boss", RoleName::Admin).await;
    let boss = h.staff_token(90).await;
    let mut live = listen(&h, &boss).await;
    let created = h
        .post(
            "/api/admin/plans",
            Some(&boss),
            json!({"name": "Weekly", "duration_days": 7, "traffic_gb": 0, "price": "30000", "locations": ["Germany"]}),
        )
        .await;
    let id = created.body["id"].as_str().unwrap().to_string();
    // Once the API announces the new plan, its cache entry was dropped after the read model had it.
    next_of(&mut live, "plans_changed").await;
    let plans = h.call(Method::GET, "/api/plans", None, None).await;
    assert_eq!(plans.body.as_array().map(Vec::len), Some(1), "{:?}", plans.body);

    // Change the row behind the API's back: the cache still answers.
    sqlx::query("UPDATE plans SET name = 'edited by hand'")
        .execute(h.pool())
        .await
        .unwrap();
    let cached = h.call(Method::GET, "/api/plans", None, None).await;
    assert_eq!(cached.body[0]["name"], "Weekly", "served from the cache");

    // A real change is an event: the cache is dropped once the read model has it.
    let priced = h
        .call(
            Method::PUT,
            &format!("/api/admin/plans/{id}/price"),
            Some(&boss),
            Some(json!({"price": "35000"})),
        )
        .await;
    assert_eq!(priced.status, StatusCode::NO_CONTENT, "{:?}", priced.body);
    next_of(&mut live, "plans_changed").await;
    assert_eq!(h.call(Method::GET, "/api/plans", None, None).await.body[0]["price"], "35000");
    assert_eq!(
        h.call(Method::GET, "/api/plans", None, None).await.body[0]["name"],
        "edited by hand"
    );

    // Reports: approve nothing, adjust a wallet; the day total follows.
    h.customer(91, "c").await;
    h.post(
        "/api/admin/customers/91/wallet-adjustments",
        Some(&boss),
        json!({"amount": "1234", "note": "x"}),
    )
    .await;
    h.eventually("daily totals include the credit", || async {
        let days = h.get("/api/admin/reports/daily", &boss).await;
        days.body
            .as_array()
            .is_some_and(|d| d.iter().any(|d| d["wallet_credits_total"] == "1234"))
    })
    .await;
    let overview = h.get("/api/admin/overview", &boss).await;
    assert_eq!(overview.body["customers"], 2);
    assert_eq!(overview.body["wallet_balances_total"], "1234");
    h.finish().await;
}
