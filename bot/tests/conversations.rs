//! Whole conversations against the fake Telegram server, on the real
//! PostgreSQL, with the backbone's consumers running.
mod common;

use std::time::Duration;

use bot::callback::{Action, Signer};
use common::{World, SECRET, WAIT};
use domain::payment::PaymentStatus;
use domain::{CustomerId, Language, Toman};
use tgfake::TgUser;

fn toman(v: i64) -> Toman {
    Toman::from_int(v).unwrap()
}

#[tokio::test]
async fn a_referred_customer_tops_up_by_receipt_an_admin_approves_and_the_customer_buys_a_plan() {
    let w = World::start().await;
    let admin = TgUser::new(1000, "Boss").username("boss").language("en");
    w.make_admin(&admin).await;
    w.add_card().await;
    w.add_plan("Monthly 50GB", 30, 50, 150_000, "France").await;
    let referrer = TgUser::new(2000, "Ali").language("fa");
    w.say(&referrer, "/start", "خوش آمدید").await;

    // A newcomer arrives through the referral link and chooses English.
    let sara = TgUser::new(3000, "Sara").username("sara").language("en");
    let welcome = w.say(&sara, "/start ref_2000", "Welcome, Sara").await;
    assert!(welcome.body().contains("Choose your language"));
    let menu = w.press(&sara, &welcome, "English", "Language set to English").await;
    assert!(menu.body().contains("0 Toman"), "{}", menu.body());
    w.settle().await;
    let row = projections::views::customer(w.pool(), 3000).await.unwrap().unwrap();
    assert_eq!(row.referrer, Some(2000));
    assert_eq!(row.language, "en");

    // Top-up by card-to-card: the card and the exact amount, then the receipt photo.
    let wallet = w.say(&sara, "/wallet", "Your wallet").await;
    let amounts = w.press(&sara, &wallet, "Top up", "Choose an amount").await;
    let card = w.press(&sara, &amounts, "200,000 Toman", "Card-to-card payment").await;
    assert!(card.body().contains("6037 9975 9999 9993"), "{}", card.body());
    assert!(card.body().contains("200,000 Toman"));
    assert!(card.body().contains("Reza Ahmadi — Melli"));
    let mark = w.mark(3000);
    w.fake.send_photo(&sara, b"a photo of a bank receipt", None);
    w.reply_after(3000, mark, "Receipt received").await;

    // The receipt reaches the admin's queue, with its photo and buttons.
    let item = w
        .fake
        .wait_for(1000, WAIT, |m| m.photo.is_some() && m.body().contains("Receipt to review"))
        .await;
    assert!(
        item.body().contains("200,000 Toman") && item.body().contains("@sara"),
        "{}",
        item.body()
    );
    let answers = w.fake.callback_answers().len();
    let approve = item.button("Approve").unwrap().callback_data.unwrap();
    w.fake.click(&admin, item.message_id, &approve);
    w.fake
        .wait_for(1000, WAIT, |m| {
            m.message_id == item.message_id && m.body().contains("Approved by @boss")
        })
        .await;
    assert!(w.fake.wait_until(WAIT, |f| f.callback_answers().len() > answers).await);
    // The customer is told, and the wallet holds the money.
    w.fake
        .wait_for(3000, WAIT, |m| m.body().contains("was approved and added to your wallet"))
        .await;
    assert_eq!(w.balance(&sara).await, toman(200_000));
    // The decision replaced the buttons; a second click (a stale client) is "already handled".
    assert!(w.fake.message(1000, item.message_id).unwrap().buttons().is_empty());
    let events = w.events().await;
    let update = w.fake.click(&admin, item.message_id, &approve);
    w.handled(update).await;
    let last = w.fake.callback_answers().last().unwrap().clone();
    assert!(last.text.unwrap().contains("already approved"), "second click answered");
    assert_eq!(w.events().await, events);

    // The customer buys the plan from the wallet and sees the subscription.
    let plans = w.say(&sara, "/plans", "Choose a location").await;
    let list = w.press(&sara, &plans, "France", "Plans in France").await;
    let detail = w.press(&sara, &list, "Monthly 50GB", "Price").await;
    let confirm = w.press(&sara, &detail, "Pay from wallet", "Balance after").await;
    assert!(confirm.body().contains("50,000 Toman"), "{}", confirm.body());
    let confirm_data = confirm.button("Confirm").unwrap().callback_data.unwrap();
    let done = w.press(&sara, &confirm, "Confirm", "is active until").await;
    assert!(done.body().contains("link will be sent here"));
    assert_eq!(w.balance(&sara).await, toman(50_000));
    w.settle().await;
    let subs = w.say(&sara, "/subscription", "Your subscriptions").await;
    let sub = w.press(&sara, &subs, "Monthly 50GB", "Status").await;
    assert!(
        sub.body().contains("active") && sub.body().contains("29 days left") || sub.body().contains("30 days left"),
        "{}",
        sub.body()
    );
    assert!(sub.body().contains("connection link is being prepared"), "{}", sub.body());
    // Pressing Confirm again buys nothing more.
    let events = w.events().await;
    let update = w.fake.click(&sara, confirm.message_id, &confirm_data);
    w.handled(update).await;
    assert_eq!(w.balance(&sara).await, toman(50_000));
    let subs: i64 = sqlx::query_scalar("SELECT count(*) FROM subscriptions WHERE customer = 3000")
        .fetch_one(w.pool())
        .await
        .unwrap();
    w.settle().await;
    assert_eq!(subs, 1);
    assert!(w.events().await == events, "a repeated confirmation appends no event");
    w.stop().await;
}

#[tokio::test]
async fn a_non_admin_forging_an_admin_button_is_refused_and_nothing_changes() {
    let w = World::start().await;
    let admin = TgUser::new(1100, "Boss").language("en");
    w.make_admin(&admin).await;
    w.add_card().await;
    let customer = TgUser::new(3100, "Sara").language("en");
    w.say(&customer, "/start", "Welcome").await;
    let wallet = w.say(&customer, "/wallet", "Your wallet").await;
    let amounts = w.press(&customer, &wallet, "Top up", "Choose an amount").await;
    w.press(&customer, &amounts, "100,000", "Card-to-card payment").await;
    let mark = w.mark(3100);
    w.fake.send_photo(&customer, b"receipt", None);
    w.reply_after(3100, mark, "Receipt received").await;
    let item = w.fake.wait_for(1100, WAIT, |m| m.body().contains("Receipt to review")).await;
    let approve = item.button("Approve").unwrap().callback_data.unwrap();
    w.settle().await;
    let payment: uuid::Uuid = sqlx::query_scalar("SELECT id FROM payments WHERE customer = 3100")
        .fetch_one(w.pool())
        .await
        .unwrap();

    // 1. The admin's own button, replayed by the customer: its signature is the admin's.
    let events = w.events().await;
    let own = w.mark(3100);
    let update = w.fake.click(&customer, own, &approve);
    w.handled(update).await;
    let answer = w.fake.callback_answers().last().unwrap().clone();
    assert_eq!(answer.from, 3100);
    assert!(answer.text.unwrap().contains("not valid"));
    // 2. A correctly signed Approve made for the customer (as if the key leaked):
    //    the permission check refuses it.
    let forged = Signer::new(SECRET).sign(3100, &Action::Approve(payment));
    let update = w.fake.click(&customer, own, &forged);
    w.handled(update).await;
    let answer = w.fake.callback_answers().last().unwrap().clone();
    assert!(answer.text.unwrap().contains("do not have permission"));
    // 3. Garbage.
    let update = w.fake.click(&customer, own, "xyz");
    w.handled(update).await;

    w.settle().await;
    assert_eq!(w.events().await, events, "no event was appended");
    let p = w.commands.payment_state(payment).await.unwrap().unwrap();
    assert_eq!(p.status, PaymentStatus::AwaitingReview);
    assert_eq!(w.balance(&customer).await, Toman::ZERO);
    w.stop().await;
}

#[tokio::test]
async fn a_duplicated_update_changes_nothing() {
    let w = World::start().await;
    w.add_card().await;
    w.add_plan("Weekly", 7, 10, 40_000, "Germany").await;
    let user = TgUser::new(3200, "Reza").language("en");
    w.say(&user, "/start", "Welcome").await;
    let wallet = w.say(&user, "/wallet", "Your wallet").await;
    let amounts = w.press(&user, &wallet, "Top up", "Choose an amount").await;
    let update = w.fake.click_button(&user, amounts.message_id, "100,000");
    w.handled(update).await;
    w.fake.wait_for(3200, WAIT, |m| m.body().contains("Card-to-card payment")).await;
    w.settle().await;
    let events = w.events().await;
    let sent = w.fake.requests().len();

    // Telegram delivers the same update again (same update_id).
    w.fake.redeliver(update);
    assert!(w.fake.wait_until(WAIT, |f| f.pending_updates() == 0).await);
    // A later update proves the redelivery was read and passed over.
    let probe = w.say(&user, "/help", "What I can do").await;
    assert!(probe.message_id > 0);
    w.settle().await;
    assert_eq!(w.events().await, events, "no second payment");
    let payments: i64 = sqlx::query_scalar("SELECT count(*) FROM payments WHERE customer = 3200")
        .fetch_one(w.pool())
        .await
        .unwrap();
    assert_eq!(payments, 1);
    // Only the /help exchange went out: getUpdates polls aside, one sendMessage.
    let sends = w.fake.requests()[sent..]
        .iter()
        .filter(|r| !r.method.eq_ignore_ascii_case("getUpdates"))
        .count();
    assert_eq!(sends, 1, "{:?}", &w.fake.requests()[sent..]);
    w.stop().await;
}

#[tokio::test]
async fn both_languages_render_every_screen_without_a_missing_key() {
    let w = World::start().await;
    w.add_card().await;
    w.add_plan("Monthly", 30, 0, 120_000, "France").await;
    for (id, lang) in [(4000, Language::Fa), (4001, Language::En)] {
        let user = TgUser::new(id, "Nima").username("nima").language(lang.code());
        w.make_admin(&user).await;
        w.commands
            .adjust_wallet(
                &domain::Actor::System,
                CustomerId(id),
                rust_decimal::Decimal::from(500_000),
                "gift".into(),
                chrono::Utc::now(),
            )
            .await
            .unwrap();
        w.settle().await;
        let commands = [
            "/start",
            "/help",
            "/language",
            "/plans",
            "/wallet",
            "/transactions",
            "/subscription",
            "/profile",
            "/points",
            "/payment",
            "/support",
            "/chat",
            "/admin",
            "/users",
            "/payments",
            "/subscriptions",
            "/settings",
            "/broadcast",
            "/stats",
            "/servers",
            "/cards",
            "/reports",
            "/license",
            "/seller",
            "/sales",
            "/commission",
            "/withdraw",
            "/withdrawals",
            "/balance",
            "/nonsense",
        ];
        for c in commands {
            let mark = w.mark(id);
            let update = w.fake.send_text(&user, c);
            w.handled(update).await;
            let replies: Vec<_> = w.fake.messages(id).into_iter().filter(|m| m.message_id > mark).collect();
            assert!(!replies.is_empty(), "{c} in {lang:?} got no answer");
            for m in replies {
                assert!(!m.body().contains('⟦'), "{c} in {lang:?}: {}", m.body());
                if lang == Language::Fa {
                    assert!(!m.body().contains("Toman"), "{c}: {}", m.body());
                }
            }
        }
        // Buttons deeper down: a plan, the purchase, the subscription.
        let plans = w.say(&user, "/plans", "").await;
        let list = w.press(&user, &plans, "France", "France").await;
        let detail = w.press(&user, &list, "Monthly", "Monthly").await;
        let confirm = w
            .press(&user, &detail, if lang == Language::Fa { "کیف پول" } else { "wallet" }, "")
            .await;
        let active = if lang == Language::Fa {
            "فعال است"
        } else {
            "is active until"
        };
        let done = w
            .press(&user, &confirm, if lang == Language::Fa { "تأیید" } else { "Confirm" }, active)
            .await;
        assert!(!done.body().contains('⟦'));
        if lang == Language::Fa {
            assert!(
                done.body().contains('۱') || done.body().contains('۰'),
                "Persian digits: {}",
                done.body()
            );
        }
    }
    // Persian amounts: Persian digits, Arabic thousands separator, RTL-isolated.
    let fa = w.fake.messages(4000);
    assert!(fa.iter().any(|m| m.body().contains("۵۰۰٬۰۰۰") && m.body().contains("تومان")));
    tokio::time::sleep(Duration::from_millis(10)).await;
    w.stop().await;
}

#[tokio::test]
async fn the_benchmark_runs_on_a_small_load() {
    let db = eventstore::testing::TestDb::new().await.unwrap();
    let report = bot::bench::run(db.pool.clone(), 6, 8, 4).await.unwrap();
    assert_eq!(report.updates, 48);
    assert!(report.updates_per_second() > 0.0);
    let handled: i64 = sqlx::query_scalar("SELECT count(*) FROM bot_inbox WHERE handled_at IS NOT NULL AND error IS NULL")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(handled, 54, "every update handled without an error");
    db.drop_database().await.unwrap();
}
