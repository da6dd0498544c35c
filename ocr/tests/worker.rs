//! The OCR worker on the real PostgreSQL with the real Tesseract: a receipt
//! submitted for a card payment is fetched, read and attached to the payment;
//! an exact match is approved only when the operator allows it; the same
//! bank receipt shown for a second payment is flagged and left to an admin.
//! Receipt files come from a directory and from a fake Telegram Bot API.
use std::sync::Arc;

use axum::extract::{Path, Query};
use axum::routing::get;
use axum::{Json, Router};
use chrono::{FixedOffset, Utc};
use commands::Commands;
use domain::access::{Actor, RoleName};
use domain::payment::{PaymentPurpose, PaymentStatus};
use domain::{CardNumber, CustomerId, Language, Toman};
use eventstore::testing::TestDb;
use ocr::{LocalFiles, OcrSettings, OcrWorker, ReceiptFiles, TelegramFiles, TesseractReader};
use workers::Consumer;

const CUSTOMER: CustomerId = CustomerId(500);

/// An English bank receipt for `toman` to card 6037-9975-9999-9993, paid now.
fn receipt_text(toman: i64, tracking: &str) -> String {
    let tehran = Utc::now().with_timezone(&FixedOffset::east_opt(3 * 3600 + 1800).unwrap());
    let rials = (toman * 10).to_string();
    let grouped: Vec<String> = rials
        .as_bytes()
        .rchunks(3)
        .rev()
        .map(|c| String::from_utf8(c.to_vec()).unwrap())
        .collect();
    format!(
        "Card to Card Transfer Receipt\nAmount: {} Rials\nDestination card: 6037 9975 9999 9993\nTracking number: {tracking}\nDate: {}\nTime: {}\n",
        grouped.join(","),
        tehran.format("%Y/%m/%d"),
        tehran.format("%H:%M:%S")
    )
}

async fn card_payment(cmd: &Commands, card: uuid::Uuid, file: &str) -> uuid::Uuid {
    let p = cmd
        .create_card_payment(
            CUSTOMER,
            Toman::from_int(250_000).unwrap(),
            PaymentPurpose::WalletTopUp,
            Some(card),
            Utc::now(),
        )
        .await
        .unwrap();
    let customer = cmd.actor(CUSTOMER).await.unwrap();
    cmd.submit_receipt(&customer, p, file.into(), Utc::now()).await.unwrap();
    p
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn submitted_receipts_are_read_flagged_and_auto_approved_only_when_exact() {
    let db = TestDb::new().await.unwrap();
    let cmd = Commands::new(db.pool.clone());
    let now = Utc::now();
    cmd.register_customer(CustomerId(1), None, Language::En, None, now).await.unwrap();
    cmd.grant_role(&Actor::System, CustomerId(1), RoleName::Admin, now).await.unwrap();
    cmd.register_customer(CUSTOMER, None, Language::Fa, None, now).await.unwrap();
    let admin = cmd.actor(CustomerId(1)).await.unwrap();
    let card = cmd
        .add_card(&admin, CardNumber::parse("6037997599999993").unwrap(), "Reza".into(), None, now)
        .await
        .unwrap();

    let dir = std::env::temp_dir().join(format!("mrjbot-ocr-worker-{}", uuid::Uuid::new_v4().simple()));
    let image = ocr::synth::render(&dir, "good", &receipt_text(250_000, "84521377"), "DejaVu Sans", 14, 0).unwrap();
    assert!(image.ends_with("good.tif"));

    let first = card_payment(&cmd, card, "good.tif").await;
    let second = card_payment(&cmd, card, "good.tif").await; // the same bank receipt again
    let missing = card_payment(&cmd, card, "no-such-file.tif").await;

    let worker = OcrWorker {
        commands: cmd.clone(),
        reader: Arc::new(TesseractReader::new(None).unwrap()),
        files: Arc::new(LocalFiles { root: dir.clone() }),
        settings: OcrSettings { auto_approve: true },
    };
    // Through the feed path: the worker handles the stored events in order.
    let events = eventstore::read_after(&db.pool, 0, 10_000).await.unwrap();
    let done = worker.handle(&events).await.unwrap();
    assert_eq!(done, events.last().unwrap().position);
    assert_eq!(worker.checkpoint().await.unwrap(), done);

    assert_eq!(
        cmd.payment(first).await.unwrap().status,
        PaymentStatus::Approved,
        "exact match, auto-approval on"
    );
    assert_eq!(cmd.balance(CUSTOMER).await.unwrap(), Toman::from_int(250_000).unwrap());
    let second_state = cmd.payment(second).await.unwrap();
    assert_eq!(
        second_state.status,
        PaymentStatus::AwaitingReview,
        "a reused receipt waits for an admin"
    );
    assert_eq!(
        second_state.reading_flags,
        Some(vec![domain::payment::ReceiptFlag::TrackingReused { payment: first }])
    );
    assert_eq!(
        cmd.payment(missing).await.unwrap().reading_flags,
        None,
        "an unreadable file is skipped, not guessed"
    );

    // The reading is in the admins' read model beside the receipt.
    for p in projections::all() {
        projections::catch_up(&db.pool, p.as_ref(), 500).await.unwrap();
    }
    let (amount, card_read, tracking, flags): (Option<rust_decimal::Decimal>, Option<String>, Option<String>, Vec<String>) =
        sqlx::query_as("SELECT amount, card, tracking, flags FROM receipt_readings WHERE payment_id = $1")
            .bind(second)
            .fetch_one(&db.pool)
            .await
            .unwrap();
    assert_eq!(amount, Some(rust_decimal::Decimal::from(250_000)));
    assert_eq!(card_read.as_deref(), Some("6037997599999993"));
    assert_eq!(tracking.as_deref(), Some("84521377"));
    assert_eq!(flags, vec!["tracking_reused".to_string()]);
    assert!(projections::audit::audit(&db.pool).await.unwrap().is_clean());

    // With auto-approval off, even an exact match waits for an admin.
    ocr::synth::render(&dir, "other", &receipt_text(250_000, "99887766"), "DejaVu Sans", 14, 0).unwrap();
    let third = card_payment(&cmd, card, "other.tif").await;
    let manual = OcrWorker {
        settings: OcrSettings { auto_approve: false },
        ..worker
    };
    manual.read_receipt(third, "other.tif").await.unwrap();
    let third_state = cmd.payment(third).await.unwrap();
    assert_eq!(third_state.status, PaymentStatus::AwaitingReview);
    assert_eq!(third_state.reading_flags, Some(vec![]));
    let _ = std::fs::remove_dir_all(&dir);
    db.drop_database().await.unwrap();
}

#[derive(serde::Deserialize)]
struct FileId {
    file_id: String,
}

#[tokio::test]
async fn telegram_files_are_downloaded_through_get_file() {
    let token = "123:ABC";
    let app = Router::new()
        .route(
            "/{bot}/getFile",
            get(|Path(bot): Path<String>, Query(q): Query<FileId>| async move {
                if bot != "bot123:ABC" {
                    return Json(serde_json::json!({"ok": false, "error_code": 401, "description": "Unauthorized"}));
                }
                match q.file_id.as_str() {
                    "AgACAgIAAxk" => Json(serde_json::json!({"ok": true, "result": {"file_id": q.file_id, "file_unique_id": "u1", "file_size": 5, "file_path": "photos/file_7.jpg"}})),
                    _ => Json(serde_json::json!({"ok": false, "error_code": 400, "description": "Bad Request: invalid file_id"})),
                }
            }),
        )
        .route(
            "/file/{bot}/photos/{name}",
            get(|Path((bot, name)): Path<(String, String)>| async move {
                if bot == "bot123:ABC" && name == "file_7.jpg" {
                    (axum::http::StatusCode::OK, b"\xff\xd8img".to_vec())
                } else {
                    (axum::http::StatusCode::NOT_FOUND, Vec::new())
                }
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });

    let files = TelegramFiles::new(&url, token).unwrap();
    assert_eq!(files.fetch("tg:AgACAgIAAxk").await.unwrap(), b"\xff\xd8img".to_vec());
    assert!(matches!(files.fetch("nope").await, Err(ocr::FileError::NotFound(_))));
    let wrong = TelegramFiles::new(&url, "999:XYZ").unwrap();
    assert!(wrong.fetch("AgACAgIAAxk").await.is_err());

    let local = LocalFiles {
        root: std::env::temp_dir(),
    };
    assert!(matches!(local.fetch("../etc/passwd").await, Err(ocr::FileError::NotFound(_))));
}
