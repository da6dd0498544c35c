//! The payments queue carries what OCR read on each receipt, with the
//! mismatches the domain flagged, beside the photo.
use chrono::{Duration as Span, Utc};
use domain::access::RoleName;
use domain::payment::{PaymentPurpose, ReceiptReading};
use domain::{CardNumber, CustomerId, Toman};
use reqwest::StatusCode;
use serde_json::Value;

use crate::common::Harness;

const FILE: &str = "AgACfile-of-the-receipt";

async fn pending_top_up(h: &Harness, customer: i64, amount: i64) -> uuid::Uuid {
    let id = h
        .cmd
        .create_card_payment(
            CustomerId(customer),
            Toman::from_int(amount).unwrap(),
            PaymentPurpose::WalletTopUp,
            None,
            Utc::now() - Span::minutes(10),
        )
        .await
        .unwrap();
    let payer = h.cmd.actor(CustomerId(customer)).await.unwrap();
    h.cmd
        .submit_receipt(&payer, id, FILE.into(), Utc::now() - Span::minutes(9))
        .await
        .unwrap();
    id
}

fn reading(amount: i64, tracking: &str) -> ReceiptReading {
    ReceiptReading {
        amount: Some(Toman::from_int(amount).unwrap()),
        card: Some("6037997599999993".into()),
        tracking: Some(tracking.into()),
        paid_at: Some(Utc::now() - Span::minutes(5)),
        engine: "tesseract 5.3.0".into(),
        text: "مبلغ ۱۲۰,۰۰۰ ریال".into(),
    }
}

fn row(queue: &Value, payment: uuid::Uuid) -> Value {
    queue
        .as_array()
        .and_then(|rows| rows.iter().find(|r| r["payment_id"] == payment.to_string()))
        .cloned()
        .unwrap_or(Value::Null)
}

#[tokio::test]
async fn the_queue_shows_each_receipts_ocr_reading_and_its_mismatches() {
    let h = Harness::start().await;
    h.cmd
        .add_card(
            &domain::Actor::System,
            CardNumber::parse("6037997599999993").unwrap(),
            "Reza Ahmadi".into(),
            None,
            Utc::now() - Span::hours(1),
        )
        .await
        .unwrap();
    h.staff(50, "boss", RoleName::Admin).await;
    h.staff(51, "seller", RoleName::Seller).await;
    for (id, name) in [(52, "a"), (53, "b"), (54, "c"), (55, "d")] {
        h.customer(id, name).await;
    }
    let wrong_amount = pending_top_up(&h, 52, 250_000).await;
    let reused = pending_top_up(&h, 53, 50_000).await;
    let exact = pending_top_up(&h, 54, 70_000).await;
    let unread = pending_top_up(&h, 55, 90_000).await;

    let flags = h
        .cmd
        .record_receipt_reading(wrong_amount, FILE, reading(120_000, "111222333"), Utc::now())
        .await
        .unwrap();
    assert_eq!(flags.len(), 1, "{flags:?}");
    h.cmd
        .record_receipt_reading(reused, FILE, reading(50_000, "111222333"), Utc::now())
        .await
        .unwrap();
    h.cmd
        .record_receipt_reading(exact, FILE, reading(70_000, "999888777"), Utc::now())
        .await
        .unwrap();

    let boss = h.staff_token(50).await;
    h.eventually("the three readings are in the queue", || async {
        let q = h.get("/api/admin/payments/pending", &boss).await.body;
        [wrong_amount, reused, exact].iter().all(|p| !row(&q, *p)["ocr_read_at"].is_null())
    })
    .await;
    let queue = h.get("/api/admin/payments/pending", &boss).await.body;

    let a = row(&queue, wrong_amount);
    assert_eq!(a["amount"], "250000");
    assert_eq!(a["ocr_amount"], "120000");
    assert_eq!(a["ocr_card"], "6037997599999993");
    assert_eq!(a["ocr_tracking"], "111222333");
    assert_eq!(a["ocr_flags"], serde_json::json!(["amount_differs"]));
    assert_eq!(a["ocr_flag_details"][0]["flag"], "amount_differs");
    assert_eq!(a["ocr_engine"], "tesseract 5.3.0");
    assert!(a["ocr_text"].as_str().unwrap().contains("۱۲۰"));

    let b = row(&queue, reused);
    assert_eq!(b["ocr_flags"], serde_json::json!(["tracking_reused"]), "{b}");
    assert_eq!(b["ocr_flag_details"][0]["payment"], wrong_amount.to_string());

    let c = row(&queue, exact);
    assert_eq!(c["ocr_flags"], serde_json::json!([]), "an exact match has no flag: {c}");
    assert_eq!(c["ocr_amount"], "70000");

    let d = row(&queue, unread);
    assert_eq!(d["amount"], "90000");
    assert!(d["ocr_read_at"].is_null() && d["ocr_flags"].is_null(), "no reading yet: {d}");

    // The reading is for approvers only.
    let seller = h.staff_token(51).await;
    let refused = h.get("/api/admin/payments/pending", &seller).await;
    assert_eq!((refused.status, refused.code()), (StatusCode::FORBIDDEN, "forbidden"));
    assert_eq!(refused.body["details"]["permission"], "approve_receipts");
    h.finish().await;
}
