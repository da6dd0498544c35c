//! Opening a live chat while the read model lags: however many times a
//! customer asks at once, and wherever the `support_chats` projector is in
//! its work, they get one open chat.
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use commands::Commands;
use domain::access::Actor;
use domain::features::Feature;
use domain::{CustomerId, Language};
use eventstore::testing::TestDb;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_opens_while_the_read_model_catches_up_give_one_chat() {
    let db = TestDb::new().await.expect("test database");
    let pool = db.pool.clone();
    let (issuer, verifier) = licensing::testing::vendor();
    assert!(licensing::replace_vendor_key(verifier));
    let cmd = Commands::new(pool.clone());
    let now = Utc::now();
    let key = issuer.issue(&licensing::testing::claims(1)).unwrap();
    cmd.install_license(&Actor::System, &key, now).await.unwrap();
    cmd.set_feature(&Actor::System, Feature::Chat, true, now).await.unwrap();

    // The projectors run all the time, so the read model moves under the opens.
    let stop = Arc::new(AtomicBool::new(false));
    let projector = {
        let (pool, stop) = (pool.clone(), stop.clone());
        tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                for p in projections::all() {
                    projections::catch_up(&pool, p.as_ref(), 500).await.unwrap();
                }
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        })
    };

    for (round, customer) in (0..6).map(|i| (i, CustomerId(9_100 + i))) {
        cmd.register_customer(customer, None, Language::En, None, now).await.unwrap();
        let actor = cmd.actor(customer).await.unwrap();
        // Earlier chats, closed, so the numbering does not start at one.
        for _ in 0..round % 3 {
            let opened = cmd.open_support_chat(&actor, Utc::now()).await.unwrap();
            cmd.close_support_chat(&actor, opened.chat, Utc::now()).await.unwrap();
        }
        let mut opens = tokio::task::JoinSet::new();
        for _ in 0..12 {
            let (cmd, actor) = (cmd.clone(), actor.clone());
            opens.spawn(async move { cmd.open_support_chat(&actor, Utc::now()).await.unwrap() });
        }
        let results = opens.join_all().await;
        let chats: std::collections::BTreeSet<_> = results.iter().map(|o| o.chat).collect();
        assert_eq!(chats.len(), 1, "customer {customer:?} got {chats:?}");
        assert!(results.iter().filter(|o| o.new).count() <= 1);
        // Asked again later, the same chat.
        let again = cmd.open_support_chat(&actor, Utc::now()).await.unwrap();
        assert_eq!((again.chat, again.new), (*chats.iter().next().unwrap(), false));
        assert_eq!(cmd.open_chat_of(customer).await.unwrap(), Some(again.chat));
    }
    stop.store(true, Ordering::Relaxed);
    projector.await.unwrap();
    db.drop_database().await.unwrap();
}
