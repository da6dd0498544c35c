//! The customer's side of live chat and their notifications: only their own
//! chat and rows, the `chat` feature, one message per request id, ratings
//! after closing and only 1–5, and the agent's answer heard live.
use std::time::Duration;

use chrono::Utc;
use domain::access::RoleName;
use domain::features::Feature;
use reqwest::StatusCode;
use serde_json::json;
use uuid::Uuid;

use crate::common::Harness;
use crate::flow::{listen, next_of};

async fn customer_messages(h: &Harness) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM events WHERE event_type = 'CustomerWrote'")
        .fetch_one(h.pool())
        .await
        .unwrap()
}

#[tokio::test]
async fn a_customer_chats_with_an_agent_from_the_dashboard_and_nobody_else_reaches_the_chat() {
    let (issuer, verifier) = licensing::testing::vendor();
    assert!(licensing::replace_vendor_key(verifier));
    let h = Harness::start().await;
    h.staff(200, "agent", RoleName::SupportAgent).await;
    h.customer(201, "asker").await;
    h.customer(202, "nosy").await;
    let agent = h.staff_token(200).await;
    let asker = h.customer_token(201).await;
    let nosy = h.customer_token(202).await;

    // Live chat is off (no license, not switched on): refused with the domain's reason.
    let off = h.post("/api/me/chat", Some(&asker), json!({})).await;
    assert_eq!(
        (off.status, off.code()),
        (StatusCode::UNPROCESSABLE_ENTITY, "chat_disabled"),
        "{:?}",
        off.body
    );
    assert_eq!(off.body["message"], "live chat is switched off");
    let none = h.get("/api/me/chat", &asker).await;
    assert_eq!(none.status, StatusCode::OK, "{:?}", none.body);
    assert_eq!(none.body["chat"], serde_json::Value::Null);

    let key = issuer.issue(&licensing::testing::claims(1)).unwrap();
    h.cmd.install_license(&domain::Actor::System, &key, Utc::now()).await.unwrap();
    h.cmd
        .set_feature(&domain::Actor::System, Feature::Chat, true, Utc::now())
        .await
        .unwrap();
    let mut asker_live = listen(&h, &asker).await;
    let mut agent_live = listen(&h, &agent).await;
    let mut nosy_live = listen(&h, &nosy).await;

    // Open, and opening again gives the same chat.
    let opened = h.post("/api/me/chat", Some(&asker), json!({})).await;
    assert_eq!(opened.status, StatusCode::CREATED, "{:?}", opened.body);
    let chat = opened.body["id"].as_str().unwrap().to_string();
    let again = h.post("/api/me/chat", Some(&asker), json!({})).await;
    assert_eq!((again.status, again.body["id"].as_str()), (StatusCode::OK, Some(chat.as_str())));
    assert_eq!(next_of(&mut asker_live, "chat_changed").await["data"]["chat_id"], chat);

    // Bad input writes nothing.
    let blank = h
        .post(
            &format!("/api/me/chat/{chat}/messages"),
            Some(&asker),
            json!({"text": " ", "request_id": Uuid::new_v4()}),
        )
        .await;
    assert_eq!(
        (blank.status, blank.code()),
        (StatusCode::UNPROCESSABLE_ENTITY, "validation_failed")
    );
    assert!(blank.body["details"]["fields"]["text"].is_string(), "{:?}", blank.body);
    let long = h
        .post(
            &format!("/api/me/chat/{chat}/messages"),
            Some(&asker),
            json!({"text": "x".repeat(4097), "request_id": Uuid::new_v4()}),
        )
        .await;
    assert_eq!(long.code(), "validation_failed");

    // Another customer can neither read nor write nor close nor rate it.
    let peek = h.get(&format!("/api/me/chat/{chat}"), &nosy).await;
    assert_eq!(peek.status, StatusCode::NOT_FOUND, "{:?}", peek.body);
    assert_eq!(h.get("/api/me/chat", &nosy).await.body["chat"], serde_json::Value::Null);
    let meddle = h
        .post(
            &format!("/api/me/chat/{chat}/messages"),
            Some(&nosy),
            json!({"text": "hi", "request_id": Uuid::new_v4()}),
        )
        .await;
    assert_eq!(meddle.status, StatusCode::NOT_FOUND, "{:?}", meddle.body);
    assert_eq!(
        h.post(&format!("/api/me/chat/{chat}/close"), Some(&nosy), json!({})).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        h.post(&format!("/api/me/chat/{chat}/rating"), Some(&nosy), json!({"stars": 5}))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    let nowhere = Uuid::new_v4();
    assert_eq!(
        h.get(&format!("/api/me/chat/{nowhere}"), &asker).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(customer_messages(&h).await, 0);

    // The customer writes twice with one request id: one message, heard by the customer.
    let request = json!({"text": "my link stopped working", "request_id": Uuid::new_v4()});
    let sent = h
        .post(&format!("/api/me/chat/{chat}/messages"), Some(&asker), request.clone())
        .await;
    assert_eq!(sent.status, StatusCode::NO_CONTENT, "{:?}", sent.body);
    let resent = h.post(&format!("/api/me/chat/{chat}/messages"), Some(&asker), request).await;
    assert_eq!(resent.status, StatusCode::NO_CONTENT);
    assert_eq!(customer_messages(&h).await, 1);
    let mine = next_of(&mut asker_live, "chat_message").await;
    assert_eq!(
        (mine["data"]["sender"].as_str(), mine["data"]["text"].as_str()),
        (Some("customer"), Some("my link stopped working"))
    );

    // The agent sees it in the queue, takes the chat, and the customer's next message reaches them live.
    h.eventually("the chat is queued with the dashboard message", || async {
        let q = h.get("/api/admin/chats?status=queued", &agent).await.body;
        q.as_array()
            .is_some_and(|l| l.iter().any(|c| c["id"] == chat && c["last_text"] == "my link stopped working"))
    })
    .await;
    let took = h.post(&format!("/api/admin/chats/{chat}/take"), Some(&agent), json!({})).await;
    assert_eq!(took.status, StatusCode::NO_CONTENT, "{:?}", took.body);
    let more = h
        .post(
            &format!("/api/me/chat/{chat}/messages"),
            Some(&asker),
            json!({"text": "still broken", "request_id": Uuid::new_v4()}),
        )
        .await;
    assert_eq!(more.status, StatusCode::NO_CONTENT, "{:?}", more.body);
    loop {
        let m = next_of(&mut agent_live, "chat_message").await;
        if m["data"]["text"] == "still broken" {
            assert_eq!(m["data"]["sender"], "customer");
            break;
        }
    }

    // The agent answers; the customer hears it live and finds it in the history.
    let answer = h
        .post(
            &format!("/api/admin/chats/{chat}/messages"),
            Some(&agent),
            json!({"text": "Try the new link.", "request_id": Uuid::new_v4()}),
        )
        .await;
    assert_eq!(answer.status, StatusCode::NO_CONTENT, "{:?}", answer.body);
    loop {
        let m = next_of(&mut asker_live, "chat_message").await;
        if m["data"]["sender"] == "agent" {
            assert_eq!(m["data"]["text"], "Try the new link.");
            break;
        }
    }
    let history = h.get("/api/me/chat", &asker).await;
    assert_eq!(history.body["chat"]["id"], chat);
    assert_eq!(history.body["chat"]["status"], "assigned");
    let said: Vec<(&str, &str)> = history.body["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| (m["sender"].as_str().unwrap(), m["text"].as_str().unwrap()))
        .collect();
    assert_eq!(
        said,
        [
            ("customer", "my link stopped working"),
            ("customer", "still broken"),
            ("agent", "Try the new link.")
        ]
    );
    assert!(
        history.body["messages"][2].get("sender_id").is_none(),
        "the agent is not named to the customer"
    );
    assert_eq!(history.body["can_rate"], false);
    assert_eq!(h.get(&format!("/api/me/chat/{chat}"), &asker).await.body["chat"]["id"], chat);

    // Rating: only after closing, only 1–5.
    let early = h
        .post(&format!("/api/me/chat/{chat}/rating"), Some(&asker), json!({"stars": 5}))
        .await;
    assert_eq!(
        (early.status, early.code()),
        (StatusCode::UNPROCESSABLE_ENTITY, "still_open"),
        "{:?}",
        early.body
    );
    let closed = h.post(&format!("/api/me/chat/{chat}/close"), Some(&asker), json!({})).await;
    assert_eq!(closed.status, StatusCode::NO_CONTENT, "{:?}", closed.body);
    let late = h
        .post(
            &format!("/api/me/chat/{chat}/messages"),
            Some(&asker),
            json!({"text": "hello?", "request_id": Uuid::new_v4()}),
        )
        .await;
    assert_eq!((late.status, late.code()), (StatusCode::UNPROCESSABLE_ENTITY, "closed"));
    for stars in [json!(0), json!(6), json!(-1), json!(1000)] {
        let bad = h
            .post(&format!("/api/me/chat/{chat}/rating"), Some(&asker), json!({"stars": stars}))
            .await;
        assert_eq!(
            (bad.status, bad.code()),
            (StatusCode::UNPROCESSABLE_ENTITY, "validation_failed"),
            "{stars}"
        );
        assert!(bad.body["details"]["fields"]["stars"].is_string(), "{:?}", bad.body);
    }
    let rated = h
        .post(&format!("/api/me/chat/{chat}/rating"), Some(&asker), json!({"stars": 4}))
        .await;
    assert_eq!(rated.status, StatusCode::NO_CONTENT, "{:?}", rated.body);
    let twice = h
        .post(&format!("/api/me/chat/{chat}/rating"), Some(&asker), json!({"stars": 2}))
        .await;
    assert_eq!((twice.status, twice.code()), (StatusCode::CONFLICT, "already_rated"));
    h.eventually("the rating is in the history", || async {
        let c = h.get("/api/me/chat", &asker).await.body;
        c["chat"]["rating"] == 4 && c["chat"]["status"] == "closed" && c["can_rate"] == false
    })
    .await;

    // The other customer heard nothing of it.
    tokio::time::sleep(Duration::from_millis(300)).await;
    while let Ok((kind, data)) = nosy_live.try_recv() {
        assert!(!kind.starts_with("chat_"), "another customer heard {kind}: {data}");
    }
    h.finish().await;
}

#[tokio::test]
async fn a_customer_reads_only_their_own_notifications_newest_first_as_plain_text() {
    let h = Harness::start().await;
    h.customer(301, "reader").await;
    h.customer(302, "other").await;
    let reader = h.customer_token(301).await;
    let other = h.customer_token(302).await;
    let pool = h.pool();
    let bot = |key: &str, chat: i64, text: &str, minutes: i64, sent: bool, failed: Option<&str>, edit: bool| {
        let message = if edit {
            json!({"text": text, "edit_of": "approved:x"})
        } else {
            json!({"text": text})
        };
        sqlx::query(
            "INSERT INTO bot_outbox (dedupe_key, chat_id, message, created_at, sent_at, failed) \
             VALUES ($1, $2, $3, now() - make_interval(mins => $4::int), CASE WHEN $5 THEN now() END, $6)",
        )
        .bind(key.to_string())
        .bind(chat)
        .bind(message)
        .bind(i32::try_from(minutes).unwrap())
        .bind(sent)
        .bind(failed.map(str::to_string))
        .execute(pool)
    };
    bot(
        "a",
        301,
        "<b>Payment approved</b>: 150,000 &lt;script&gt;alert(1)&lt;/script&gt;",
        50,
        true,
        None,
        false,
    )
    .await
    .unwrap();
    bot("b", 301, "Subscription <i>ready</i>", 40, false, None, false).await.unwrap();
    bot("c", 301, "never delivered", 30, false, Some("blocked"), false).await.unwrap();
    bot("d", 301, "an edit", 20, true, None, true).await.unwrap();
    bot("e", 302, "someone else's", 10, true, None, false).await.unwrap();
    for (key, chat, kind, topic, state, minutes) in [
        ("r1", 301_i64, "direct", "reminder", "pending", 35),
        ("r2", 301, "direct", "reminder", "uncertain", 34),
        ("r3", 301, "direct", "support", "sent", 33),
        ("r4", 302, "direct", "reminder", "sent", 5),
    ] {
        sqlx::query(
            "INSERT INTO tg_outbox (dedupe_key, chat_id, kind, topic, body, state, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, now() - make_interval(mins => $7::int))",
        )
        .bind(key)
        .bind(chat)
        .bind(kind)
        .bind(topic)
        .bind(json!({"text": format!("points expire <b>soon</b> ({key})"), "html": true}))
        .bind(state)
        .bind(minutes)
        .execute(pool)
        .await
        .unwrap();
    }

    let mine = h.get("/api/me/notifications", &reader).await;
    assert_eq!(mine.status, StatusCode::OK, "{:?}", mine.body);
    let seen: Vec<(&str, &str, &str)> = mine
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|n| {
            (
                n["source"].as_str().unwrap(),
                n["status"].as_str().unwrap(),
                n["text"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        seen,
        [
            ("reminder", "pending", "points expire soon (r1)"),
            ("bot", "pending", "Subscription ready"),
            ("bot", "sent", "Payment approved: 150,000 <script>alert(1)</script>"),
        ]
    );
    let page = h.get("/api/me/notifications?limit=1&offset=1", &reader).await;
    assert_eq!(page.body.as_array().map(Vec::len), Some(1));
    assert_eq!(page.body[0]["text"], "Subscription ready");
    let bad = h.get("/api/me/notifications?limit=0", &reader).await;
    assert_eq!((bad.status, bad.code()), (StatusCode::UNPROCESSABLE_ENTITY, "validation_failed"));

    let theirs = h.get("/api/me/notifications", &other).await;
    let texts: Vec<&str> = theirs
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["text"].as_str().unwrap())
        .collect();
    assert_eq!(texts, ["points expire soon (r4)", "someone else's"]);
    h.finish().await;
}
