//! Live chat support end to end (issue 7): a customer's chat goes from the
//! queue to the least busy agent online, both write (text, a photo, a quick
//! reply) through the bot, the chat closes and is rated — on the real
//! PostgreSQL and the fake Telegram server, with the relay and the tgops
//! dispatcher delivering messages from the events.
mod common;

use std::sync::Arc;
use std::time::Duration;

use bot::handlers::ops::SupportRelay;
use chrono::Utc;
use common::{World, WAIT};
use domain::access::{Actor, RoleName};
use domain::features::Feature;
use domain::CustomerId;
use tgfake::TgUser;
use tgops::{Dispatcher, DispatcherConfig, RateLimiter, Telegram};
use workers::{run_consumer, DirectFeed, Feed, Shutdown};

#[tokio::test]
async fn a_chat_goes_from_the_queue_to_an_agent_to_a_rating() {
    // This shop's license comes from a throwaway vendor (before any Commands exists).
    let (issuer, verifier) = licensing::testing::vendor();
    assert!(licensing::replace_vendor_key(verifier));
    let w = World::start().await;
    let now = Utc::now();
    let key = issuer.issue(&licensing::testing::claims(1)).unwrap();
    w.commands.install_license(&Actor::System, &key, now).await.unwrap();

    // The relay and the outbox dispatcher, as `mrjbot serve` runs them.
    let (stop, shutdown) = Shutdown::new();
    let feed: Arc<dyn Feed> = Arc::new(DirectFeed::new(w.pool().clone()));
    let relay = tokio::spawn(run_consumer(feed, Arc::new(SupportRelay { app: w.app.clone() }), shutdown.clone()));
    let tg = Telegram::new(w.fake.token(), &w.fake.api_url(), Duration::from_secs(10)).unwrap();
    let dispatcher = Dispatcher::new(w.pool().clone(), tg, RateLimiter::new(100.0), DispatcherConfig::default());
    let sender = tokio::spawn(dispatcher.run_until_stopped(shutdown.clone()));
    let assigner = tokio::spawn(
        tgops::SupportDispatcher {
            commands: w.commands.clone(),
            interval: Duration::from_millis(500),
        }
        .run_until_stopped(shutdown.clone()),
    );

    let customer = TgUser::new(500, "Sara").username("sara").language("en");
    let agent = TgUser::new(900, "Reza").username("reza").language("en");
    let idle_agent = TgUser::new(901, "Mina").username("mina").language("en");
    w.say(&customer, "/start", "Welcome").await;
    for a in [&agent, &idle_agent] {
        w.say(a, "/start", "Welcome").await;
        w.commands
            .grant_role(&Actor::System, CustomerId(a.id), RoleName::SupportAgent, now)
            .await
            .unwrap();
    }

    // While live chat is switched off, the customer is told so.
    w.say(&customer, "/support", "Live chat is not available").await;
    w.commands.set_feature(&Actor::System, Feature::Chat, true, now).await.unwrap();

    // No agent online: the chat waits in the queue, with what the customer writes.
    w.say(&customer, "/support", "You are in the support queue").await;
    w.say(&customer, "My VPN is slow since yesterday", "Sent to support").await;
    let mark = w.mark(customer.id);
    let (_, photo) = w.fake.send_photo(&customer, b"a screenshot", Some("speed test"));
    w.reply_after(customer.id, mark, "Sent to support").await;

    // The agent goes online and gets the chat with its history.
    w.say(&agent, "/online", "You are online").await;
    let header = w.fake.wait_for_text(agent.id, "New chat from @sara").await;
    assert!(header.body().contains("2 message(s) so far"), "{}", header.body());
    w.fake.wait_for_text(agent.id, "My VPN is slow since yesterday").await;
    let shot = w.fake.wait_for(agent.id, WAIT, |m| m.photo.is_some()).await;
    assert_eq!(shot.photo.as_ref().unwrap().file_id, photo);
    assert!(shot.body().contains("speed test"), "{}", shot.body());
    w.fake.wait_for_text(customer.id, "@reza").await;
    // Only one agent was online: the other got nothing.
    assert!(w.fake.messages(idle_agent.id).iter().all(|m| !m.body().contains("New chat")));

    // A second agent comes online; the next chat goes to the less busy one.
    w.say(&idle_agent, "/online", "You are online").await;
    let omid = TgUser::new(501, "Omid").username("omid").language("en");
    w.say(&omid, "/start", "Welcome").await;
    w.say(&omid, "/support", "You are in the support queue").await;
    w.fake.wait_for_text(idle_agent.id, "New chat from @omid").await;
    assert!(w.fake.messages(agent.id).iter().all(|m| !m.body().contains("@omid")));

    // The agent answers from the bot.
    w.press(&agent, &shot, "Reply", "Your next messages go to").await;
    w.fake.send_text(&agent, "Please try the Germany server");
    w.fake.wait_for_text(customer.id, "Please try the Germany server").await;
    // The customer writes back; it reaches the agent with buttons.
    w.fake.send_text(&customer, "Better now, thanks!");
    let back = w.fake.wait_for_text(agent.id, "Better now, thanks!").await;
    // A quick reply, kept by a content manager.
    w.commands
        .save_quick_reply(&Actor::System, "bye".into(), "Glad to help. Have a nice day!".into(), now)
        .await
        .unwrap();
    let menu = w.press(&agent, &back, "Quick reply", "Quick reply").await;
    w.fake.click_button(&agent, menu.message_id, "bye");
    w.fake.wait_for_text(customer.id, "Glad to help").await;

    // The customer closes the chat and rates it.
    w.say(&customer, "/endchat", "How did we do?").await;
    let ask = w.fake.wait_for_text(customer.id, "How did we do?").await;
    let one_star = ask.button("1⭐").unwrap().callback_data.unwrap();
    w.fake.wait_for_text(agent.id, "Chat with @sara").await;
    w.press(&customer, &ask, "5⭐", "Thank you for rating us").await;
    w.fake.wait_for_text(agent.id, "rated your chat ⭐⭐⭐⭐⭐").await;
    // A second rating (a stale button) is refused and changes nothing.
    let events = w.events().await;
    let again = w.fake.click(&customer, ask.message_id, &one_star);
    w.handled(again).await;
    assert_eq!(w.events().await, events);

    // Everything was events; the read models hold the conversation and the figures.
    w.settle().await;
    let chat: (String, Option<i64>, Option<i16>, i32, Option<i64>) =
        sqlx::query_as("SELECT status, agent, rating, messages, first_response_secs FROM support_chats WHERE customer = 500")
            .fetch_one(w.pool())
            .await
            .unwrap();
    assert_eq!((chat.0.as_str(), chat.1, chat.2, chat.3), ("closed", Some(900), Some(5), 5));
    assert!(chat.4.is_some(), "the first response time is recorded");
    let kinds: Vec<(String, String)> = sqlx::query_as("SELECT sender, content_type FROM support_messages ORDER BY position")
        .fetch_all(w.pool())
        .await
        .unwrap();
    let kinds: Vec<(&str, &str)> = kinds.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
    assert_eq!(
        kinds,
        [
            ("customer", "text"),
            ("customer", "photo"),
            ("agent", "text"),
            ("customer", "text"),
            ("agent", "text")
        ]
    );
    let figures = tgops::support::agent_figures(w.pool()).await.unwrap();
    let reza = figures.iter().find(|f| f.agent == 900).unwrap();
    assert_eq!(
        (reza.chats_assigned, reza.chats_closed, reza.replies, reza.open_chats),
        (1, 1, 2, 0)
    );
    assert_eq!(reza.mean_rating, Some(5.0));
    assert!(reza.mean_response_secs.is_some() && reza.mean_first_response_secs.is_some());
    let mina = figures.iter().find(|f| f.agent == 901).unwrap();
    assert_eq!((mina.chats_assigned, mina.open_chats, mina.replies), (1, 1, 0));

    let _ = stop.send(true);
    let _ = relay.await;
    let _ = sender.await;
    let _ = assigner.await;
    w.stop().await;
}
