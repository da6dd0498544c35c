//! Withdrawals, points redemption and the license screen through the bot,
//! against the fake Telegram server on the real PostgreSQL.
mod common;

use bot::callback::{Action, Signer};
use chrono::{Duration, Utc};
use commands::Grant;
use common::{World, SECRET, WAIT};
use domain::access::{Actor, RoleName};
use domain::commission::CommissionRate;
use domain::{CustomerId, Language, Location, Toman};
use tgfake::TgUser;
use uuid::Uuid;
use workers::{CommerceConsumer, Consumer};

fn toman(v: i64) -> Toman {
    Toman::from_int(v).unwrap()
}

/// Runs the commerce consumer (not part of the bot's world) to the store's head.
async fn run_commerce(w: &World) {
    let consumer = CommerceConsumer {
        commands: w.commands.clone(),
    };
    loop {
        let from = consumer.checkpoint().await.unwrap();
        let events = eventstore::read_after(w.pool(), from, 500).await.unwrap();
        if events.is_empty() {
            break;
        }
        consumer.handle(&events).await.unwrap();
    }
}

/// `seller` holds the seller role and 100,000 Toman of available commission:
/// a customer they referred bought a 1,000,000 plan three hours ago at 10 %,
/// with a one-hour refund window.
async fn seller_with_commission(w: &World, seller: &TgUser, buyer: CustomerId) {
    w.say(seller, "/start", "").await;
    let t = Utc::now() - Duration::hours(3);
    let c = &w.commands;
    c.grant_role(&Actor::System, CustomerId(seller.id), RoleName::Seller, t)
        .await
        .unwrap();
    c.set_commission_rate(&Actor::System, None, Some(CommissionRate::parse("10%").unwrap()), t)
        .await
        .unwrap();
    c.set_commission_terms(&Actor::System, 1, toman(50_000), t).await.unwrap();
    c.register_customer(buyer, None, Language::En, Some(CustomerId(seller.id)), t)
        .await
        .unwrap();
    c.adjust_wallet(&Actor::System, buyer, 1_000_000.into(), "opening".into(), t)
        .await
        .unwrap();
    let plan = w.add_plan("Yearly", 365, 0, 1_000_000, "France").await;
    let me = c.actor(buyer).await.unwrap();
    c.purchase_plan(&me, buyer, plan, &Location::parse("France").unwrap(), Uuid::new_v4(), t)
        .await
        .unwrap();
    // The process manager may settle the charge itself (dated when it runs):
    // wait for the sale, and release as if the window had passed.
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        w.settle().await;
        run_commerce(w).await;
        c.release_commissions(CustomerId(seller.id), Utc::now() + Duration::hours(2))
            .await
            .unwrap();
        let account = c.seller_account(CustomerId(seller.id)).await.unwrap();
        if account.balance.available == toman(100_000) {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "no commission: {:?}", account.balance);
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    w.settle().await;
}

async fn last_answer(w: &World, update: i64) -> String {
    w.handled(update).await;
    w.fake.callback_answers().last().unwrap().clone().text.unwrap_or_default()
}

#[tokio::test]
async fn a_seller_asks_for_a_withdrawal_and_an_admin_approves_and_pays_it_once() {
    let w = World::start().await;
    let admin = TgUser::new(1000, "Boss").username("boss").language("en");
    w.make_admin(&admin).await;
    let seller = TgUser::new(2000, "Sara").username("sara").language("en");
    seller_with_commission(&w, &seller, CustomerId(3000)).await;
    let buyer = TgUser::new(3000, "Reza").language("en");
    w.say(&buyer, "/start", "Welcome back").await;

    let screen = w.say(&seller, "/withdraw", "Withdrawals").await;
    assert!(screen.body().contains("Available: 100,000 Toman"), "{}", screen.body());
    assert!(screen.body().contains("Smallest withdrawal: 50,000 Toman"), "{}", screen.body());
    let ask = w.press(&seller, &screen, "Request a withdrawal", "How much").await;
    assert!(ask.body().contains("100,000 Toman"));

    // Malformed and over-balance amounts are refused; nothing is written.
    let events = w.events().await;
    w.say(&seller, "a lot", "That is not an amount").await;
    let over = w.say(&seller, "۲۰۰٬۰۰۰", "more than your available commission").await;
    assert!(over.body().contains("200,000 Toman"), "{}", over.body());
    w.say(&seller, "10,000", "The smallest withdrawal is 50,000 Toman").await;
    assert_eq!(w.events().await, events, "a refused amount appends nothing");

    // Persian digits with separators, then the card, then the confirmation.
    w.say(&seller, "۶۰٬۰۰۰", "Which card should receive 60,000 Toman").await;
    w.say(&seller, "6037 9975 9999 | Sara", "valid 16-digit card").await;
    let confirm = w
        .say(&seller, "6037-9975-9999-9993 | Sara Karimi", "Withdraw 60,000 Toman to card")
        .await;
    assert!(confirm.body().contains("6037 9975 9999 9993") && confirm.body().contains("Sara Karimi"));
    let confirm_data = confirm.button("Confirm").unwrap().callback_data.unwrap();
    w.press(&seller, &confirm, "Confirm", "Withdrawal requested").await;
    let account = w.commands.seller_account(CustomerId(2000)).await.unwrap();
    assert_eq!(account.withdrawals.len(), 1);
    assert_eq!(account.balance.available, toman(40_000));
    assert_eq!(account.balance.reserved, toman(60_000));

    // Confirm again (a stale client): nothing more is asked for.
    w.settle().await;
    let events = w.events().await;
    let answer = last_answer(&w, w.fake.click(&seller, confirm.message_id, &confirm_data)).await;
    assert!(answer.contains("already requested"), "{answer}");
    assert_eq!(w.events().await, events);
    assert_eq!(w.commands.seller_account(CustomerId(2000)).await.unwrap().withdrawals.len(), 1);
    let id = *account.withdrawals.keys().next().unwrap();

    // Neither the buyer replaying the seller's button nor a signed approval made
    // for the seller (no adjust_wallets) does anything.
    let own = w.mark(3000);
    let answer = last_answer(&w, w.fake.click(&buyer, own, &confirm_data)).await;
    assert!(answer.contains("not valid"), "{answer}");
    let forged = Signer::new(SECRET).sign(2000, &Action::WithdrawalApprove(id));
    let answer = last_answer(&w, w.fake.click(&seller, confirm.message_id, &forged)).await;
    assert!(answer.contains("do not have permission"), "{answer}");
    let forged = Signer::new(SECRET).sign(3000, &Action::WithdrawStart);
    let answer = last_answer(&w, w.fake.click(&buyer, own, &forged)).await;
    assert!(answer.contains("do not have permission"), "{answer}");
    w.settle().await;
    assert_eq!(w.events().await, events, "refused buttons append nothing");

    // The admin sees it in the admin menu and the queue, approves it, and a second click is "already handled".
    let menu = w.say(&admin, "/admin", "Admin").await;
    assert!(menu.button("Withdrawals (1)").is_some(), "{:?}", menu.buttons());
    let mark = w.mark(1000);
    w.fake.send_text(&admin, "/withdrawals");
    let item = w.reply_after(1000, mark, "Holder: Sara Karimi").await;
    assert!(
        item.body().contains("60,000 Toman") && item.body().contains("@sara"),
        "{}",
        item.body()
    );
    assert!(item.body().contains("6037 9975 9999 9993"));
    let approve = item.button("Approve").unwrap().callback_data.unwrap();
    let approved = w.press(&admin, &item, "Approve", "Approved by @boss").await;
    w.fake.wait_for_text(2000, "Your withdrawal of 60,000 Toman was approved").await;
    let events = w.events().await;
    let answer = last_answer(&w, w.fake.click(&admin, item.message_id, &approve)).await;
    assert!(answer.contains("already handled: approved"), "{answer}");
    assert_eq!(w.events().await, events);

    // Mark paid with the bank's reference; paid once.
    let pay = approved.button("Mark paid").unwrap().callback_data.unwrap();
    let ask = w.press(&admin, &approved, "Mark paid", "tracking number").await;
    assert!(ask.body().contains("60,000 Toman"));
    w.say(&admin, "TR-778812", "Paid: 60,000 Toman").await;
    w.fake
        .wait_for_text(2000, "was paid to 6037-99**-****-9993. Bank reference: TR-778812")
        .await;
    let account = w.commands.seller_account(CustomerId(2000)).await.unwrap();
    assert_eq!(account.balance.paid_out, toman(60_000));
    assert_eq!(account.balance.reserved, Toman::ZERO);
    w.settle().await;
    let events = w.events().await;
    let answer = last_answer(&w, w.fake.click(&admin, approved.message_id, &pay)).await;
    assert!(answer.contains("already handled: paid"), "{answer}");
    assert_eq!(w.events().await, events);
    let paid: i64 = sqlx::query_scalar("SELECT count(*) FROM events WHERE event_type = 'WithdrawalPaid'")
        .fetch_one(w.pool())
        .await
        .unwrap();
    assert_eq!(paid, 1);

    // The seller sees it paid, and /cards shows where withdrawals went.
    let screen = w.say(&seller, "/withdraw", "Withdrawals").await;
    assert!(screen.body().contains("Paid out: 60,000 Toman"), "{}", screen.body());
    assert!(screen.body().contains("paid"), "{}", screen.body());
    let cards = w.say(&seller, "/cards", "Payout cards").await;
    assert!(
        cards
            .body()
            .contains("6037 9975 9999 9993 · Sara Karimi — 1 request(s), 60,000 Toman paid"),
        "{}",
        cards.body()
    );
    // 40,000 left is below the minimum: no request button, the minimum is said.
    assert!(screen.button("Request a withdrawal").is_none());
    assert!(screen.body().contains("once 50,000 Toman is available"), "{}", screen.body());
    // With a lower minimum, a card used before is offered as a button.
    w.commands
        .set_commission_terms(&Actor::System, 1, toman(10_000), Utc::now())
        .await
        .unwrap();
    let screen = w.say(&seller, "/withdraw", "Withdrawals").await;
    w.fake.click_button(&seller, screen.message_id, "Request a withdrawal");
    w.fake.wait_for_text(2000, "How much").await;
    let card = w.say(&seller, "30000", "Which card").await;
    assert!(card.button("6037-99**-****-9993 · Sara Karimi").is_some(), "{:?}", card.buttons());
    let confirm = w
        .press(&seller, &card, "6037-99**-****-9993", "Withdraw 30,000 Toman to card")
        .await;
    w.press(&seller, &confirm, "Confirm", "Withdrawal requested").await;
    assert_eq!(
        w.commands.seller_account(CustomerId(2000)).await.unwrap().balance.available,
        toman(10_000)
    );

    // The admin rejects it with a reason: the seller is told and the money is available again.
    w.settle().await;
    let mark = w.mark(1000);
    w.fake.send_text(&admin, "/withdrawals");
    let item = w.reply_after(1000, mark, "30,000 Toman").await;
    let ask = w.press(&admin, &item, "Reject", "Why is this withdrawal rejected").await;
    assert!(ask.message_id > item.message_id);
    w.say(&admin, "Wrong card holder", "Rejected by @boss: Wrong card holder").await;
    w.fake
        .wait_for_text(2000, "Your withdrawal of 30,000 Toman was rejected: Wrong card holder")
        .await;
    assert_eq!(
        w.commands.seller_account(CustomerId(2000)).await.unwrap().balance.available,
        toman(40_000)
    );
    // The seller's history lists the newest request first.
    w.settle().await;
    let screen = w.say(&seller, "/withdraw", "Your requests").await;
    let body = screen.body();
    let (newer, older) = (body.find("30,000 Toman → ").unwrap(), body.find("60,000 Toman → ").unwrap());
    assert!(newer < older, "{body}");
    assert!(body.contains("rejected") && body.contains("paid"), "{body}");
    w.stop().await;
}

#[tokio::test]
async fn a_customer_redeems_points_once_under_a_repeated_button() {
    let w = World::start().await;
    let user = TgUser::new(4100, "Mina").language("en");
    w.say(&user, "/start", "Welcome").await;
    w.commands
        .grant_points(
            &Actor::System,
            CustomerId(4100),
            1_000,
            Grant::SpecialEvent("Nowruz".into()),
            Utc::now(),
        )
        .await
        .unwrap();
    w.settle().await;
    let points = w.say(&user, "/points", "Balance: 1,000").await;
    let menu = w.press(&user, &points, "Redeem points", "Choose a reward").await;
    // 100 points are worth 1,000 Toman by default; VIP (5,000) is beyond the balance.
    assert!(menu.button("VIP").is_none(), "{:?}", menu.buttons());
    let confirm = w
        .press(&user, &menu, "discount code worth 5,000 Toman — 500 points", "Spend 500 points")
        .await;
    assert!(confirm.body().contains("Points left after: 500"), "{}", confirm.body());
    let data = confirm.button("Confirm").unwrap().callback_data.unwrap();
    let done = w.press(&user, &confirm, "Confirm", "Redeemed 500 points").await;
    assert!(done.body().contains("PTS-"), "{}", done.body());
    let account = w.commands.points_account(CustomerId(4100)).await.unwrap();
    assert_eq!(account.balance, 500);
    assert_eq!(account.redemptions.len(), 1);

    // The same button again, twice: nothing more is spent.
    w.settle().await;
    let events = w.events().await;
    for _ in 0..2 {
        let answer = last_answer(&w, w.fake.click(&user, confirm.message_id, &data)).await;
        assert!(answer.contains("already redeemed"), "{answer}");
    }
    assert_eq!(w.events().await, events);
    let account = w.commands.points_account(CustomerId(4100)).await.unwrap();
    assert_eq!((account.balance, account.redemptions.len()), (500, 1));
    w.stop().await;
}

#[tokio::test]
async fn an_admin_sees_the_installed_license_and_others_do_not() {
    // This shop's license comes from a throwaway vendor (before any Commands exists).
    let (issuer, verifier) = licensing::testing::vendor();
    assert!(licensing::replace_vendor_key(verifier));
    let w = World::start().await;
    let admin = TgUser::new(1000, "Boss").language("en");
    w.make_admin(&admin).await;
    w.say(&admin, "/license", "No license is installed").await;

    let claims = licensing::testing::claims(3);
    let key = issuer.issue(&claims).unwrap();
    w.commands.install_license(&Actor::System, &key, Utc::now()).await.unwrap();
    let screen = w.say(&admin, "/license", "Test shop").await;
    let body = screen.body();
    assert!(body.contains("Valid, licensed to Test shop until"), "{body}");
    assert!(body.contains("Panels: 0 of 3"), "{body}");
    assert!(body.contains("live chat") && body.contains("scheduled backups"), "{body}");
    assert!(body.contains("grace 14 days"), "{body}");
    assert!(body.contains(&claims.license_id.to_string()), "{body}");
    // From the admin menu too.
    let menu = w.say(&admin, "/admin", "Admin").await;
    w.press(&admin, &menu, "License", "Panels: 0 of 3").await;

    // Persian: the same screen in Persian digits.
    let fa = TgUser::new(1001, "Nima").language("fa");
    w.make_admin(&fa).await;
    let screen = w.say(&fa, "/license", "Test shop").await;
    assert!(screen.body().contains("پنل‌ها") && screen.body().contains('۳'), "{}", screen.body());

    // Not for customers.
    let customer = TgUser::new(5000, "Sara").language("en");
    w.say(&customer, "/start", "Welcome").await;
    w.say(&customer, "/license", "do not have permission").await;
    let forged = Signer::new(SECRET).sign(5000, &Action::License);
    let mark = w.mark(5000);
    let answer = last_answer(&w, w.fake.click(&customer, mark, &forged)).await;
    assert!(answer.contains("do not have permission"), "{answer}");
    let _ = WAIT;
    w.stop().await;
}

async fn outbox_keys(w: &World, like: &str) -> Vec<(String, i64)> {
    sqlx::query_as("SELECT dedupe_key, chat_id FROM bot_outbox WHERE dedupe_key LIKE $1 ORDER BY dedupe_key")
        .bind(like)
        .fetch_all(w.pool())
        .await
        .unwrap()
}

#[tokio::test]
async fn a_withdrawal_request_reaches_each_admin_once_with_buttons_and_approving_from_it_works() {
    let w = World::start().await;
    let admin = TgUser::new(1000, "Boss").username("boss").language("en");
    w.make_admin(&admin).await;
    let other = TgUser::new(1001, "Nima").language("fa");
    w.make_admin(&other).await;
    // A receipt admin may not decide withdrawals: not told.
    let clerk = TgUser::new(1500, "Clerk").language("en");
    w.say(&clerk, "/start", "").await;
    w.commands
        .grant_role(&Actor::System, CustomerId(1500), RoleName::ReceiptAdmin, Utc::now())
        .await
        .unwrap();
    let seller = TgUser::new(2000, "Sara").username("sara").language("en");
    seller_with_commission(&w, &seller, CustomerId(3000)).await;

    let screen = w.say(&seller, "/withdraw", "Withdrawals").await;
    w.press(&seller, &screen, "Request a withdrawal", "How much").await;
    w.say(&seller, "60000", "Which card").await;
    let confirm = w
        .say(&seller, "6037-9975-9999-9993 | Sara Karimi", "Withdraw 60,000 Toman to card")
        .await;
    w.press(&seller, &confirm, "Confirm", "Withdrawal requested").await;

    // Each admin gets the request with Approve / Reject, in their language.
    let item = w.fake.wait_for_text(1000, "New withdrawal request").await;
    let body = item.body();
    assert!(body.contains("60,000 Toman") && body.contains("@sara"), "{body}");
    assert!(body.contains("6037 9975 9999 9993") && body.contains("Sara Karimi"), "{body}");
    assert!(
        item.button("Approve").is_some() && item.button("Reject").is_some(),
        "{:?}",
        item.buttons()
    );
    let theirs = w.fake.wait_for_text(1001, "درخواست برداشت تازه").await;
    assert!(theirs.button("تأیید").is_some(), "{:?}", theirs.buttons());
    w.settle().await;
    let rows = outbox_keys(&w, "withdrawal-request:%").await;
    assert_eq!(rows.iter().map(|r| r.1).collect::<Vec<_>>(), vec![1000, 1001], "{rows:?}");

    // Once per event: a notifier re-reading the request (a restart before its
    // checkpoint moved) queues nothing more.
    let position: i64 = sqlx::query_scalar("SELECT position FROM events WHERE event_type = 'WithdrawalRequested'")
        .fetch_one(w.pool())
        .await
        .unwrap();
    let mut tx = w.pool().begin().await.unwrap();
    eventstore::lock_checkpoint(&mut tx, bot::notifier::CHECKPOINT).await.unwrap();
    eventstore::set_checkpoint(&mut tx, bot::notifier::CHECKPOINT, position - 1)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let notifier = bot::notifier::Notifier {
        app: w.app.clone(),
        wake: std::sync::Arc::new(tokio::sync::Notify::new()),
    };
    let events = eventstore::read_after(w.pool(), position - 1, 500).await.unwrap();
    notifier.handle(&events).await.unwrap();
    assert_eq!(outbox_keys(&w, "withdrawal-request:%").await, rows);
    let copies = |chat: i64| {
        w.fake
            .chat(chat)
            .iter()
            .filter(|m| m.body().contains("New withdrawal request") || m.body().contains("درخواست برداشت تازه"))
            .count()
    };
    assert_eq!((copies(1000), copies(1001), copies(1500)), (1, 1, 0));

    // Approving from the notice works once; every copy shows the decision.
    let approved = w.press(&admin, &item, "Approve", "Approved by @boss").await;
    assert!(approved.button("Mark paid").is_some(), "{:?}", approved.buttons());
    w.fake.wait_for_text(2000, "Your withdrawal of 60,000 Toman was approved").await;
    let id = *w
        .commands
        .seller_account(CustomerId(2000))
        .await
        .unwrap()
        .withdrawals
        .keys()
        .next()
        .unwrap();
    assert_eq!(
        w.commands.seller_account(CustomerId(2000)).await.unwrap().withdrawals[&id].status,
        domain::commission::WithdrawalStatus::Approved
    );
    w.fake
        .wait_for(1001, WAIT, |m| m.message_id == theirs.message_id && m.body().contains("@boss"))
        .await;
    w.settle().await;
    let head = w.events().await;
    let answer = last_answer(
        &w,
        w.fake
            .click(&other, theirs.message_id, &theirs.button("تأیید").unwrap().callback_data.unwrap()),
    )
    .await;
    assert!(answer.contains("قبلاً رسیدگی شده"), "{answer}");
    assert_eq!(w.events().await, head, "a second approval appends nothing");
    let approvals: i64 = sqlx::query_scalar("SELECT count(*) FROM events WHERE event_type = 'WithdrawalApproved'")
        .fetch_one(w.pool())
        .await
        .unwrap();
    assert_eq!(approvals, 1);
    w.stop().await;
}
