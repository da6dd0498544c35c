//! The fake against a real client: teloxide talks to it exactly as it talks
//! to api.telegram.org, only the base URL differs.
use std::time::Duration;

use serde_json::json;
use teloxide::net::Download;
use teloxide::prelude::*;
use teloxide::types::{InlineKeyboardButton, InlineKeyboardMarkup, InputFile, ParseMode, UpdateKind};
use teloxide::{ApiError, RequestError};
use tgfake::{Fault, RateLimits, TgFake, TgUser};

fn bot(fake: &TgFake) -> Bot {
    Bot::new(fake.token()).set_api_url(fake.api_url().parse().unwrap())
}

#[tokio::test]
async fn get_me_and_a_wrong_token() {
    let fake = TgFake::start().await;
    let me = bot(&fake).get_me().await.unwrap();
    assert_eq!(me.username.as_deref(), Some("mrj_test_bot"));
    let wrong = Bot::new("1:wrong").set_api_url(fake.api_url().parse().unwrap());
    match wrong.get_me().await {
        Err(RequestError::Api(ApiError::InvalidToken)) | Err(RequestError::Api(ApiError::Unknown(_))) => {}
        other => panic!("expected Unauthorized, got {other:?}"),
    }
}

#[tokio::test]
async fn long_polling_delivers_in_order_and_an_offset_confirms() {
    let fake = TgFake::start().await;
    let bot = bot(&fake);
    let alice = TgUser::new(11, "Alice").username("alice").language("fa");
    // A poll with a timeout waits for the update that arrives meanwhile.
    let poll = {
        let bot = bot.clone();
        tokio::spawn(async move { bot.get_updates().timeout(5).await.unwrap() })
    };
    tokio::time::sleep(Duration::from_millis(100)).await;
    fake.send_text(&alice, "/start ref_42");
    let updates = poll.await.unwrap();
    assert_eq!(updates.len(), 1);
    let UpdateKind::Message(m) = &updates[0].kind else {
        panic!("a message")
    };
    assert_eq!(m.text(), Some("/start ref_42"));
    assert_eq!(m.from.as_ref().unwrap().id.0, 11);
    assert_eq!(m.chat.id.0, 11);

    fake.send_text(&alice, "second");
    let again = bot.get_updates().await.unwrap();
    assert_eq!(again.len(), 2, "nothing is confirmed until an offset says so");
    let next = again.last().unwrap().id.0 as i32 + 1;
    assert!(bot.get_updates().offset(next).await.unwrap().is_empty());
    assert_eq!(fake.pending_updates(), 0);

    // Redelivery serves the same update id again.
    fake.redeliver(updates[0].id.0 as i64);
    let redelivered = bot.get_updates().offset(next).await.unwrap();
    assert_eq!(redelivered[0].id, updates[0].id);
}

#[tokio::test]
async fn a_second_poller_ends_the_first_with_409() {
    let fake = TgFake::start().await;
    let first = {
        let bot = bot(&fake);
        tokio::spawn(async move { bot.get_updates().timeout(10).await })
    };
    tokio::time::sleep(Duration::from_millis(100)).await;
    let second = {
        let bot = bot(&fake);
        tokio::spawn(async move { bot.get_updates().timeout(1).await })
    };
    match first.await.unwrap() {
        Err(RequestError::Api(ApiError::TerminatedByOtherGetUpdates)) => {}
        other => panic!("expected a conflict, got {other:?}"),
    }
    assert!(second.await.unwrap().unwrap().is_empty());
}

#[tokio::test]
async fn messages_keyboards_callbacks_and_edits() {
    let fake = TgFake::start().await;
    let bot = bot(&fake);
    let bob = TgUser::new(22, "Bob");
    fake.send_text(&bob, "/plans");
    let keyboard = InlineKeyboardMarkup::new([[InlineKeyboardButton::callback("France 🇫🇷", "loc:fr")]]);
    let sent = bot
        .send_message(ChatId(22), "<b>Plans</b> for you &amp; me")
        .parse_mode(ParseMode::Html)
        .reply_markup(keyboard.clone())
        .await
        .unwrap();
    let stored = fake.last_message(22).unwrap();
    assert_eq!(stored.text.as_deref(), Some("Plans for you & me"));
    assert_eq!(stored.entities[0], json!({"type": "bold", "offset": 0, "length": 5}));
    assert_eq!(sent.id.0 as i64, stored.message_id);

    // The user presses the button; the bot answers the query and edits the message.
    fake.click_button(&bob, stored.message_id, "France");
    let updates = bot.get_updates().await.unwrap();
    let UpdateKind::CallbackQuery(q) = &updates.last().unwrap().kind else {
        panic!("a callback")
    };
    assert_eq!(q.data.as_deref(), Some("loc:fr"));
    bot.answer_callback_query(q.id.clone()).text("ok").await.unwrap();
    assert!(matches!(
        bot.answer_callback_query(q.id.clone()).await,
        Err(RequestError::Api(ApiError::InvalidQueryId))
    ));
    assert_eq!(fake.callback_answers()[0].text.as_deref(), Some("ok"));

    bot.edit_message_text(ChatId(22), sent.id, "Chosen: France").await.unwrap();
    let edited = fake.message(22, stored.message_id).unwrap();
    assert_eq!(edited.edits, 1);
    assert!(edited.reply_markup.is_none(), "an edit without reply_markup drops the keyboard");
    assert!(matches!(
        bot.edit_message_text(ChatId(22), sent.id, "Chosen: France").await,
        Err(RequestError::Api(ApiError::MessageNotModified))
    ));
    bot.edit_message_reply_markup(ChatId(22), sent.id)
        .reply_markup(keyboard)
        .await
        .unwrap();
    assert_eq!(fake.message(22, stored.message_id).unwrap().buttons().len(), 1);
    bot.delete_message(ChatId(22), sent.id).await.unwrap();
    assert!(matches!(
        bot.delete_message(ChatId(22), sent.id).await,
        Err(RequestError::Api(ApiError::MessageToDeleteNotFound))
    ));
}

#[tokio::test]
async fn protocol_errors_are_telegrams() {
    let fake = TgFake::start().await;
    let bot = bot(&fake);
    // Nobody wrote to the bot yet.
    assert!(matches!(
        bot.send_message(ChatId(33), "hi").await,
        Err(RequestError::Api(ApiError::ChatNotFound))
    ));
    let carol = TgUser::new(33, "Carol");
    fake.add_user(&carol);
    // Unescaped markup is refused.
    match bot.send_message(ChatId(33), "a < b").parse_mode(ParseMode::Html).await {
        Err(RequestError::Api(ApiError::CantParseEntities(_))) | Err(RequestError::Api(ApiError::Unknown(_))) => {}
        other => panic!("expected a parse error, got {other:?}"),
    }
    let long = InlineKeyboardMarkup::new([[InlineKeyboardButton::callback("x", "y".repeat(65))]]);
    assert!(matches!(
        bot.send_message(ChatId(33), "hi").reply_markup(long).await,
        Err(RequestError::Api(ApiError::ButtonDataInvalid))
    ));
    // 429 with retry_after, then a blocked user, then an outage.
    fake.fail_next(Some("sendMessage"), Fault::RetryAfter(3));
    match bot.send_message(ChatId(33), "hi").await {
        Err(RequestError::RetryAfter(s)) => assert_eq!(s.seconds(), 3),
        other => panic!("expected RetryAfter, got {other:?}"),
    }
    fake.block_bot(33, true);
    assert!(matches!(
        bot.send_message(ChatId(33), "hi").await,
        Err(RequestError::Api(ApiError::BotBlocked))
    ));
    fake.block_bot(33, false);
    // During an outage every method answers 502 (raw HTTP here: teloxide
    // itself waits 10 s after a server error before returning it).
    fake.set_outage(true);
    let raw = reqwest::Client::new()
        .post(format!("{}/bot{}/sendMessage", fake.api_url(), fake.token()))
        .json(&json!({"chat_id": 33, "text": "hi"}))
        .send()
        .await
        .unwrap();
    assert_eq!(raw.status(), 502);
    assert_eq!(raw.json::<serde_json::Value>().await.unwrap()["ok"], false);
    fake.set_outage(false);
    bot.send_message(ChatId(33), "hi").await.unwrap();
    assert_eq!(fake.requests_of("sendMessage").len(), 7);
}

#[tokio::test]
async fn flood_limits_answer_429() {
    let fake = TgFake::start().await;
    let bot = bot(&fake);
    fake.add_user(&TgUser::new(44, "Dan"));
    fake.set_rate_limits(Some(RateLimits::default()));
    bot.send_message(ChatId(44), "one").await.unwrap();
    match bot.send_message(ChatId(44), "two").await {
        Err(RequestError::RetryAfter(s)) => assert_eq!(s.seconds(), 1),
        other => panic!("expected RetryAfter, got {other:?}"),
    }
    tokio::time::sleep(Duration::from_millis(1050)).await;
    bot.send_message(ChatId(44), "two").await.unwrap();
}

#[tokio::test]
async fn photos_upload_download_and_file_ids() {
    let fake = TgFake::start().await;
    let bot = bot(&fake);
    let erin = TgUser::new(55, "Erin");
    let (_, file_id) = fake.send_photo(&erin, b"receipt-bytes", Some("my receipt"));
    let updates = bot.get_updates().await.unwrap();
    let UpdateKind::Message(m) = &updates[0].kind else {
        panic!("a message")
    };
    let largest = m.photo().unwrap().last().unwrap();
    assert_eq!(largest.file.id.0, file_id);
    assert_eq!(m.caption(), Some("my receipt"));
    let file = bot.get_file(largest.file.id.clone()).await.unwrap();
    let mut bytes = Vec::new();
    bot.download_file(&file.path, &mut bytes).await.unwrap();
    assert_eq!(bytes, b"receipt-bytes");

    // Upload (multipart) and re-send by file id.
    let sent = bot
        .send_photo(ChatId(55), InputFile::memory(b"png-bytes".to_vec()).file_name("qr.png"))
        .caption("<b>QR</b>")
        .parse_mode(ParseMode::Html)
        .await
        .unwrap();
    let stored = fake.last_message(55).unwrap();
    assert_eq!(stored.caption.as_deref(), Some("QR"));
    let id = stored.photo.unwrap().file_id;
    assert_eq!(fake.file_bytes(&id).unwrap(), b"png-bytes");
    assert_eq!(sent.photo().unwrap().last().unwrap().file.id.0, id);
    bot.send_photo(ChatId(55), InputFile::file_id(id.clone().into())).await.unwrap();
    bot.send_document(ChatId(55), InputFile::memory(b"%PDF".to_vec()).file_name("r.pdf"))
        .await
        .unwrap();
    assert!(fake.last_message(55).unwrap().document.is_some());
}

#[tokio::test]
async fn webhook_delivery_retries_until_accepted_and_blocks_polling() {
    use std::sync::{Arc, Mutex};
    let fake = TgFake::start().await;
    let bot = bot(&fake);
    type Received = Vec<(Option<String>, serde_json::Value)>;
    let received: Arc<Mutex<Received>> = Arc::default();
    let fail_first = Arc::new(Mutex::new(true));
    let app = {
        let received = received.clone();
        axum::Router::new().route(
            "/hook",
            axum::routing::post(move |headers: axum::http::HeaderMap, body: axum::Json<serde_json::Value>| {
                let received = received.clone();
                let fail_first = fail_first.clone();
                async move {
                    let mut f = fail_first.lock().unwrap();
                    if *f {
                        *f = false;
                        return axum::http::StatusCode::INTERNAL_SERVER_ERROR;
                    }
                    let secret = headers
                        .get("X-Telegram-Bot-Api-Secret-Token")
                        .map(|v| v.to_str().unwrap().to_string());
                    received.lock().unwrap().push((secret, body.0));
                    axum::http::StatusCode::OK
                }
            }),
        )
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    bot.set_webhook(url.parse().unwrap())
        .secret_token("s3cret".to_string())
        .await
        .unwrap();
    assert!(matches!(bot.get_updates().await, Err(RequestError::Api(_))));
    let id = fake.send_text(&TgUser::new(66, "Finn"), "/start");
    assert!(fake.wait_until(Duration::from_secs(5), |f| f.pending_updates() == 0).await);
    let got = received.lock().unwrap().clone();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].0.as_deref(), Some("s3cret"));
    assert_eq!(got[0].1["update_id"], id);
    assert_eq!(fake.webhook().unwrap().failed_deliveries, 1);
    bot.delete_webhook().await.unwrap();
    assert!(bot.get_updates().await.unwrap().is_empty());
}
