//! Live chat for agents: the queue, a chat's history, taking, answering and
//! closing through the `SupportChat` aggregate, and `chat_message` events
//! only to the chat's customer and agent.
use std::time::Duration;

use chrono::Utc;
use domain::access::RoleName;
use domain::features::Feature;
use domain::support::ChatContent;
use domain::CustomerId;
use reqwest::StatusCode;
use serde_json::json;

use crate::common::Harness;
use crate::flow::{listen, next_of};

fn text(t: &str) -> ChatContent {
    ChatContent::Text { text: t.into() }
}

/// The next `chat_message` event from `sender` (a customer hears their own messages too).
async fn message_from(rx: &mut tokio::sync::mpsc::UnboundedReceiver<(String, serde_json::Value)>, sender: &str) -> serde_json::Value {
    loop {
        let m = next_of(rx, "chat_message").await;
        if m["data"]["sender"] == sender {
            return m;
        }
    }
}

async fn replies(h: &Harness) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM events WHERE event_type = 'AgentReplied'")
        .fetch_one(h.pool())
        .await
        .unwrap()
}

#[tokio::test]
async fn an_agent_takes_answers_and_closes_a_chat_and_only_its_people_hear_the_messages() {
    // Live chat needs the `chat` feature, licensed and switched on.
    let (issuer, verifier) = licensing::testing::vendor();
    assert!(licensing::replace_vendor_key(verifier));
    let h = Harness::start().await;
    let key = issuer.issue(&licensing::testing::claims(1)).unwrap();
    h.cmd.install_license(&domain::Actor::System, &key, Utc::now()).await.unwrap();
    h.cmd
        .set_feature(&domain::Actor::System, Feature::Chat, true, Utc::now())
        .await
        .unwrap();

    h.staff(100, "agent_one", RoleName::SupportAgent).await;
    h.staff(101, "agent_two", RoleName::SupportAgent).await;
    h.staff(102, "seller", RoleName::Seller).await;
    h.customer(103, "asker").await;
    let one = h.staff_token(100).await;
    let two = h.staff_token(101).await;
    let seller = h.staff_token(102).await;
    let asker = h.customer_token(103).await;
    let mut one_live = listen(&h, &one).await;
    let mut two_live = listen(&h, &two).await;
    let mut asker_live = listen(&h, &asker).await;
    let mut seller_live = listen(&h, &seller).await;

    // The customer opens a chat in the bot and writes.
    let payer = h.cmd.actor(CustomerId(103)).await.unwrap();
    let chat = h.cmd.open_support_chat(&payer, Utc::now()).await.unwrap().chat;
    h.cmd
        .post_to_support(&payer, chat, 1, text("my link stopped working"), Utc::now())
        .await
        .unwrap();
    let changed = next_of(&mut two_live, "chat_changed").await;
    assert_eq!(changed["data"]["chat_id"], chat.to_string());

    // Only agents see the queue.
    for token in [&seller, &asker] {
        let a = h.get("/api/admin/chats", token).await;
        assert_eq!((a.status, a.code()), (StatusCode::FORBIDDEN, "forbidden"), "{:?}", a.body);
        assert_eq!(a.body["details"]["permission"], "answer_support");
        let a = h.get(&format!("/api/admin/chats/{chat}"), token).await;
        assert_eq!(a.status, StatusCode::FORBIDDEN);
        let a = h.post(&format!("/api/admin/chats/{chat}/take"), Some(token), json!({})).await;
        assert_eq!(a.status, StatusCode::FORBIDDEN);
    }
    h.eventually("the chat is in the queue with its message", || async {
        let q = h.get("/api/admin/chats?status=queued", &one).await.body;
        q.as_array()
            .is_some_and(|l| l.iter().any(|c| c["id"] == chat.to_string() && c["messages"] == 1))
    })
    .await;
    let queue = h.get("/api/admin/chats", &one).await.body;
    assert_eq!(queue[0]["status"], "queued");
    assert_eq!(queue[0]["username"], "asker");
    assert_eq!(queue[0]["last_text"], "my link stopped working");
    assert!(queue[0]["waiting_since"].is_string());

    // Answering needs the chat: not before taking it.
    let early = h
        .post(
            &format!("/api/admin/chats/{chat}/messages"),
            Some(&one),
            json!({"text": "hi", "request_id": uuid::Uuid::new_v4()}),
        )
        .await;
    assert_eq!(
        (early.status, early.code()),
        (StatusCode::UNPROCESSABLE_ENTITY, "not_assigned"),
        "{:?}",
        early.body
    );
    let took = h.post(&format!("/api/admin/chats/{chat}/take"), Some(&one), json!({})).await;
    assert_eq!(took.status, StatusCode::NO_CONTENT, "{:?}", took.body);
    let again = h.post(&format!("/api/admin/chats/{chat}/take"), Some(&one), json!({})).await;
    assert_eq!(again.status, StatusCode::NO_CONTENT, "taking one's own chat again changes nothing");
    let stolen = h.post(&format!("/api/admin/chats/{chat}/take"), Some(&two), json!({})).await;
    assert_eq!(
        (stolen.status, stolen.code()),
        (StatusCode::CONFLICT, "already_assigned"),
        "{:?}",
        stolen.body
    );
    let other = h
        .post(
            &format!("/api/admin/chats/{chat}/messages"),
            Some(&two),
            json!({"text": "hi", "request_id": uuid::Uuid::new_v4()}),
        )
        .await;
    assert_eq!(
        (other.status, other.code()),
        (StatusCode::UNPROCESSABLE_ENTITY, "assigned_to_other"),
        "{:?}",
        other.body
    );

    // Bad input writes nothing.
    let blank = h
        .post(
            &format!("/api/admin/chats/{chat}/messages"),
            Some(&one),
            json!({"text": "   ", "request_id": uuid::Uuid::new_v4()}),
        )
        .await;
    assert_eq!(
        (blank.status, blank.code()),
        (StatusCode::UNPROCESSABLE_ENTITY, "validation_failed")
    );
    assert!(blank.body["details"]["fields"]["text"].is_string(), "{:?}", blank.body);
    let long = h
        .post(
            &format!("/api/admin/chats/{chat}/messages"),
            Some(&one),
            json!({"text": "x".repeat(4097), "request_id": uuid::Uuid::new_v4()}),
        )
        .await;
    assert_eq!(long.code(), "validation_failed");
    let no_id = h
        .post(&format!("/api/admin/chats/{chat}/messages"), Some(&one), json!({"text": "hi"}))
        .await;
    assert_eq!(no_id.status, StatusCode::UNPROCESSABLE_ENTITY, "{:?}", no_id.body);
    let bad_status = h.get("/api/admin/chats?status=everything", &one).await;
    assert_eq!(
        (bad_status.status, bad_status.code()),
        (StatusCode::UNPROCESSABLE_ENTITY, "validation_failed")
    );
    let nowhere = uuid::Uuid::new_v4();
    assert_eq!(
        h.get(&format!("/api/admin/chats/{nowhere}"), &one).await.status,
        StatusCode::NOT_FOUND
    );
    for action in ["take", "close"] {
        let a = h.post(&format!("/api/admin/chats/{nowhere}/{action}"), Some(&one), json!({})).await;
        assert_eq!(a.status, StatusCode::NOT_FOUND, "{action}");
    }
    let a = h
        .post(
            &format!("/api/admin/chats/{nowhere}/messages"),
            Some(&one),
            json!({"text": "hi", "request_id": uuid::Uuid::new_v4()}),
        )
        .await;
    assert_eq!(a.status, StatusCode::NOT_FOUND);
    assert_eq!(replies(&h).await, 0);

    // The answer, sent twice with one request id, is one message.
    let request = json!({"text": "Try the new link in your subscriptions.", "request_id": uuid::Uuid::new_v4()});
    let sent = h
        .post(&format!("/api/admin/chats/{chat}/messages"), Some(&one), request.clone())
        .await;
    assert_eq!(sent.status, StatusCode::NO_CONTENT, "{:?}", sent.body);
    let resent = h.post(&format!("/api/admin/chats/{chat}/messages"), Some(&one), request).await;
    assert_eq!(resent.status, StatusCode::NO_CONTENT);
    assert_eq!(replies(&h).await, 1);
    let heard = message_from(&mut asker_live, "agent").await;
    assert_eq!(
        (heard["data"]["sender"].as_str(), heard["data"]["text"].as_str()),
        (Some("agent"), Some("Try the new link in your subscriptions."))
    );
    let echoed = message_from(&mut one_live, "agent").await;
    assert_eq!(echoed["data"]["sender"], "agent");

    // The customer answers in the bot; the agent hears it.
    h.cmd
        .post_to_support(&payer, chat, 2, text("works now, thanks"), Utc::now())
        .await
        .unwrap();
    let back = message_from(&mut one_live, "customer").await;
    assert_eq!(
        (back["data"]["sender"].as_str(), back["data"]["text"].as_str()),
        (Some("customer"), Some("works now, thanks"))
    );

    let history = h.get(&format!("/api/admin/chats/{chat}"), &one).await;
    assert_eq!(history.status, StatusCode::OK, "{:?}", history.body);
    assert_eq!(history.body["chat"]["status"], "assigned");
    assert_eq!(history.body["chat"]["agent"], 100);
    let said: Vec<(String, String)> = history.body["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| (m["sender"].as_str().unwrap().to_string(), m["text"].as_str().unwrap().to_string()))
        .collect();
    assert_eq!(
        said,
        [
            ("customer".to_string(), "my link stopped working".to_string()),
            ("agent".to_string(), "Try the new link in your subscriptions.".to_string()),
            ("customer".to_string(), "works now, thanks".to_string()),
        ]
    );
    assert_eq!(
        h.get("/api/admin/chats?status=mine", &one).await.body.as_array().map(Vec::len),
        Some(1)
    );
    assert_eq!(h.get("/api/admin/chats?status=mine", &two).await.body, json!([]));

    // Close; answering a closed chat is refused.
    let closed = h.post(&format!("/api/admin/chats/{chat}/close"), Some(&one), json!({})).await;
    assert_eq!(closed.status, StatusCode::NO_CONTENT, "{:?}", closed.body);
    let late = h
        .post(
            &format!("/api/admin/chats/{chat}/messages"),
            Some(&one),
            json!({"text": "one more", "request_id": uuid::Uuid::new_v4()}),
        )
        .await;
    assert_eq!(
        (late.status, late.code()),
        (StatusCode::UNPROCESSABLE_ENTITY, "closed"),
        "{:?}",
        late.body
    );
    h.eventually("the chat is closed in the read model", || async {
        h.get("/api/admin/chats?status=closed", &one)
            .await
            .body
            .as_array()
            .is_some_and(|l| l.len() == 1)
    })
    .await;

    // Nobody else heard the messages: not the other agent, not the seller.
    tokio::time::sleep(Duration::from_millis(300)).await;
    while let Ok((kind, data)) = two_live.try_recv() {
        assert_ne!(kind, "chat_message", "the other agent heard a message: {data}");
    }
    while let Ok((kind, data)) = seller_live.try_recv() {
        assert!(!kind.starts_with("chat_"), "the seller heard {kind}: {data}");
    }
    h.finish().await;
}
