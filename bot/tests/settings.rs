//! Feature toggles from `/settings` through the bot, against the fake
//! Telegram server on the real PostgreSQL.
mod common;

use std::collections::BTreeSet;

use bot::callback::{Action, Signer};
use chrono::Utc;
use common::{World, SECRET};
use domain::access::{Actor, Permission, RoleName};
use domain::features::Feature;
use domain::CustomerId;
use tgfake::TgUser;

async fn last_answer(w: &World, update: i64) -> String {
    w.handled(update).await;
    w.fake.callback_answers().last().unwrap().clone().text.unwrap_or_default()
}

async fn feature_events(w: &World) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM events WHERE aggregate_type = 'Features'")
        .fetch_one(w.pool())
        .await
        .unwrap()
}

#[tokio::test]
async fn an_admin_switches_a_licensed_feature_once_and_is_refused_a_feature_the_license_does_not_cover() {
    // A license from a throwaway vendor covering live chat only.
    let (issuer, verifier) = licensing::testing::vendor();
    assert!(licensing::replace_vendor_key(verifier));
    let w = World::start().await;
    let mut claims = licensing::testing::claims(3);
    claims.features = [Feature::Chat].into_iter().collect();
    let key = issuer.issue(&claims).unwrap();
    w.commands.install_license(&Actor::System, &key, Utc::now()).await.unwrap();
    let admin = TgUser::new(1000, "Boss").username("boss").language("en");
    w.make_admin(&admin).await;
    w.add_plan("Monthly", 30, 50, 150_000, "France").await;
    w.settle().await;

    // From the admin menu: the plan catalog as before, then the features.
    let menu = w.say(&admin, "/admin", "Admin").await;
    let screen = w.press(&admin, &menu, "Settings", "Features").await;
    let body = screen.body();
    assert!(body.contains("Monthly") && body.contains("To add a plan"), "{body}");
    assert!(body.contains("live chat: off · licensed"), "{body}");
    assert!(body.contains("AI answers: off · not licensed"), "{body}");
    assert!(body.contains("loyalty points: on · no license needed"), "{body}");
    assert!(screen.button("Turn off loyalty points").is_some(), "{:?}", screen.buttons());
    let turn_on = screen.button("Turn on live chat").unwrap().callback_data.unwrap();

    // Turning live chat on appends exactly one event; the screen shows it on.
    w.settle().await;
    let events = w.events().await;
    let on = w.press(&admin, &screen, "Turn on live chat", "live chat: on").await;
    assert!(on.button("Turn off live chat").is_some(), "{:?}", on.buttons());
    assert_eq!(w.events().await, events + 1);
    assert_eq!(feature_events(&w).await, 1);
    assert!(w.commands.feature_enabled(Feature::Chat, Utc::now()).await.unwrap());

    // The same (now stale) button again: it asks for the state already set; nothing is appended.
    let answer = last_answer(&w, w.fake.click(&admin, screen.message_id, &turn_on)).await;
    assert!(answer.contains("was already on; nothing changed"), "{answer}");
    assert_eq!(w.events().await, events + 1);

    // AI answers are outside the license: refused with the domain's reason, nothing appended.
    let refused = on.button("Turn on AI answers").unwrap().callback_data.unwrap();
    let answer = last_answer(&w, w.fake.click(&admin, on.message_id, &refused)).await;
    assert!(answer.contains("AI answers cannot be turned on"), "{answer}");
    assert!(answer.contains("the license includes only chat"), "{answer}");
    assert_eq!(w.events().await, events + 1);
    assert!(!w.commands.feature_toggles().await.unwrap().is_enabled(Feature::Ai));

    // Switching off is never refused; points (no license needed) go off and on.
    let off = w.press(&admin, &on, "Turn off loyalty points", "loyalty points: off").await;
    w.press(&admin, &off, "Turn on loyalty points", "loyalty points: on").await;
    assert_eq!(feature_events(&w).await, 3);

    // In Persian too.
    let fa = TgUser::new(1001, "Nima").language("fa");
    w.make_admin(&fa).await;
    let screen = w.say(&fa, "/settings", "قابلیت‌ها").await;
    assert!(screen.body().contains("خارج از لایسنس"), "{}", screen.body());
    w.stop().await;
}

#[tokio::test]
async fn staff_without_manage_settings_do_not_see_the_toggles_and_a_forged_toggle_is_refused() {
    let w = World::start().await;
    let admin = TgUser::new(1000, "Boss").language("en");
    w.make_admin(&admin).await;
    // A catalog keeper (manage_plans only) and a receipt admin (no settings at all).
    let keeper = TgUser::new(2000, "Kian").language("en");
    w.say(&keeper, "/start", "Welcome").await;
    let role = RoleName::parse("catalog").unwrap();
    let c = &w.commands;
    c.define_role(&Actor::System, role.clone(), BTreeSet::from([Permission::ManagePlans]), Utc::now())
        .await
        .unwrap();
    c.grant_role(&Actor::System, CustomerId(2000), role, Utc::now()).await.unwrap();
    let clerk = TgUser::new(3000, "Sara").language("en");
    w.say(&clerk, "/start", "Welcome").await;
    c.grant_role(&Actor::System, CustomerId(3000), RoleName::ReceiptAdmin, Utc::now())
        .await
        .unwrap();
    w.settle().await;

    let screen = w.say(&keeper, "/settings", "To add a plan").await;
    assert!(!screen.body().contains("Features"), "{}", screen.body());
    assert!(screen.buttons().iter().all(|b| !b.text.contains("Turn ")), "{:?}", screen.buttons());
    w.say(&clerk, "/settings", "do not have permission").await;
    let menu = w.say(&clerk, "/admin", "Admin").await;
    assert!(menu.button("Settings").is_none(), "{:?}", menu.buttons());

    let events = w.events().await;
    // A correctly signed toggle made for people without manage_settings.
    for (user, id) in [(&keeper, 2000), (&clerk, 3000)] {
        let forged = Signer::new(SECRET).sign(
            id,
            &Action::FeatureSet {
                feature: Feature::Points,
                enabled: false,
            },
        );
        let mark = w.mark(id);
        let answer = last_answer(&w, w.fake.click(user, mark, &forged)).await;
        assert!(answer.contains("do not have permission"), "{answer}");
    }
    // The admin's own button replayed by someone else.
    let admin_screen = w.say(&admin, "/settings", "Features").await;
    let data = admin_screen.button("Turn off loyalty points").unwrap().callback_data.unwrap();
    let mark = w.mark(3000);
    let answer = last_answer(&w, w.fake.click(&clerk, mark, &data)).await;
    assert!(answer.contains("not valid"), "{answer}");
    w.settle().await;
    assert_eq!(w.events().await, events, "refused buttons append nothing");
    assert_eq!(feature_events(&w).await, 0);
    assert!(w.commands.feature_toggles().await.unwrap().is_enabled(Feature::Points));
    w.stop().await;
}
