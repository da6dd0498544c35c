//! One module per command (customers, staff, sellers), and the router that
//! sends each update to its handler.
pub mod admin;
pub mod commerce;
pub mod ops;
pub mod payment;
pub mod plans;
pub mod profile;
pub mod seller;
pub mod start;
pub mod subscription;
pub mod wallet;
pub mod withdraw;

use chrono::Utc;
use commands::CommandError;
use domain::payment::PaymentError;
use domain::wallet::WalletError;
use domain::{CustomerId, Language};
use std::sync::Mutex;

use crate::app::{App, BotError, Ctx};
use crate::callback::Action;
use crate::command::{Command, Incoming, Input};
use crate::store::Session;

/// The person's language as their events say, for a customer we know.
fn language_of(code: Option<&str>) -> Language {
    match code {
        Some(c) if c.to_ascii_lowercase().starts_with("en") => Language::En,
        _ => Language::Fa,
    }
}

fn referrer(input: &Input) -> Option<CustomerId> {
    match input {
        Input::Command(Command::Start(Some(payload))) => payload.strip_prefix("ref_").and_then(|r| CustomerId::parse(r).ok()),
        _ => None,
    }
}

/// Handles one update end to end: registers a newcomer, builds the
/// context, routes, and turns errors into a message for the person.
pub async fn handle(app: &App, inc: Incoming) -> Result<(), BotError> {
    let id = CustomerId(inc.from.id);
    let mut newcomer = false;
    let customer = match app.commands.customer_state(id).await? {
        Some(c) => c,
        None => {
            let language = language_of(inc.from.language_code.as_deref());
            match app
                .commands
                .register_customer(id, inc.from.username.clone(), language, referrer(&inc.input), Utc::now())
                .await
            {
                Ok(()) => newcomer = true,
                // Registered meanwhile by a parallel update: fine.
                Err(CommandError::Customer(domain::customer::CustomerError::AlreadyRegistered)) => {}
                Err(e) => return Err(e.into()),
            }
            app.commands.customer_state(id).await?.ok_or(BotError::NotFound)?
        }
    };
    let (query, message) = match &inc.input {
        Input::Callback { query_id, message_id, .. } => (Some(query_id.clone()), *message_id),
        Input::ForgedCallback { query_id, .. } => (Some(query_id.clone()), None),
        _ => (None, None),
    };
    let actor = match app.commands.actor(id).await {
        Ok(a) => a,
        Err(CommandError::Blocked(_)) => {
            let ctx = Ctx {
                app,
                update_id: inc.update_id,
                chat: inc.chat_id,
                user: inc.from.id,
                first_name: inc.from.first_name.clone(),
                username: inc.from.username.clone(),
                lang: customer.language,
                actor: domain::Actor::user(id, []),
                message: None,
                query: Mutex::new(query),
            };
            if ctx.query.lock().map(|q| q.is_some()).unwrap_or(false) {
                return ctx.ack(Some(ctx.t("error-blocked")), true).await;
            }
            ctx.send(crate::app::Screen::new(ctx.t("error-blocked"))).await?;
            return Ok(());
        }
        Err(e) => return Err(e.into()),
    };
    let ctx = Ctx {
        app,
        update_id: inc.update_id,
        chat: inc.chat_id,
        user: inc.from.id,
        first_name: inc.from.first_name.clone(),
        username: inc.from.username.clone(),
        lang: customer.language,
        actor,
        message,
        query: Mutex::new(query),
    };
    let result = route(&ctx, inc.input, newcomer).await;
    match result {
        Ok(()) => ctx.ack(None, false).await,
        Err(e) => report(&ctx, e).await,
    }
}

async fn route(ctx: &Ctx<'_>, input: Input, newcomer: bool) -> Result<(), BotError> {
    match input {
        Input::Command(c) => {
            // A command ends whatever the bot was waiting for.
            ctx.set_session(Session::Idle).await?;
            command(ctx, c, newcomer).await
        }
        Input::Callback { action, .. } => callback(ctx, action).await,
        Input::ForgedCallback { error, .. } => {
            tracing::warn!(user = ctx.user, %error, "refused a forged or foreign button");
            ctx.ack(Some(ctx.t("error-bad-button")), true).await
        }
        Input::File { file_id, photo, caption } => match ctx.session().await? {
            // A photo or file for a live chat (issue 7); otherwise a receipt.
            Session::Ops { ops } if ops::on_file(ctx, ops.clone(), file_id.clone(), photo, caption).await? => Ok(()),
            _ => payment::on_file(ctx, file_id).await,
        },
        Input::Text(text) => on_text(ctx, text).await,
        Input::Other => Ok(()),
    }
}

async fn command(ctx: &Ctx<'_>, c: Command, newcomer: bool) -> Result<(), BotError> {
    match c {
        Command::Start(_) => start::start(ctx, newcomer).await,
        Command::Help => start::help(ctx).await,
        Command::Language => start::language_menu(ctx).await,
        Command::Cancel => start::menu(ctx).await,
        Command::Plans => plans::locations(ctx).await,
        Command::Wallet => wallet::wallet(ctx).await,
        Command::Transactions => wallet::transactions(ctx, 0).await,
        Command::Subscription => subscription::list(ctx).await,
        Command::Profile => profile::profile(ctx).await,
        Command::Payment => payment::list(ctx).await,
        Command::Points => commerce::points(ctx).await,
        Command::Support | Command::Chat => ops::support(ctx).await,
        Command::Admin => admin::menu(ctx).await,
        Command::Users => admin::users::prompt(ctx).await,
        Command::Payments => admin::queue::show(ctx).await,
        Command::Subscriptions => admin::subs::overview(ctx).await,
        Command::Settings => admin::catalog::plans(ctx).await,
        Command::Cards => {
            if ctx.has(domain::Permission::ManageCards) {
                admin::catalog::cards(ctx).await
            } else {
                withdraw::payout_cards(ctx).await
            }
        }
        Command::Stats => admin::reports::stats(ctx).await,
        Command::Reports => admin::reports::reports(ctx, 7).await,
        Command::Servers => admin::reports::servers(ctx).await,
        Command::Broadcast => ops::broadcast_menu(ctx).await,
        Command::License => admin::license::show(ctx).await,
        Command::Seller => seller::menu(ctx).await,
        Command::Sales => seller::sales(ctx).await,
        Command::Commission => commerce::commission(ctx).await,
        Command::Withdraw => withdraw::show(ctx).await,
        Command::Withdrawals => withdraw::queue(ctx).await,
        Command::Balance => seller::balance(ctx).await,
        Command::Unknown(name) if ops::command(ctx, &name).await? => Ok(()),
        Command::Unknown(_) => ctx.send(crate::app::Screen::new(ctx.t("unknown-command"))).await.map(|_| ()),
    }
}

async fn callback(ctx: &Ctx<'_>, action: Action) -> Result<(), BotError> {
    use Action as A;
    match action {
        A::Menu => start::menu(ctx).await,
        A::Help => start::help(ctx).await,
        A::LanguageMenu => start::language_menu(ctx).await,
        A::SetLanguage(l) => start::set_language(ctx, l).await,
        A::Cancel => {
            ctx.set_session(Session::Idle).await?;
            start::menu(ctx).await
        }
        A::Locations => plans::locations(ctx).await,
        A::Location(h) => plans::location(ctx, h).await,
        A::Plan { plan, location } => plans::plan(ctx, plan, location).await,
        A::PayWallet { plan, location } => plans::confirm(ctx, plan, location).await,
        A::ConfirmBuy { plan, location, nonce } => plans::buy(ctx, plan, location, nonce).await,
        A::PayCard { plan, location } => plans::pay_by_card(ctx, plan, location).await,
        A::Wallet => wallet::wallet(ctx).await,
        A::TopUp => wallet::top_up(ctx).await,
        A::TopUpAmount(k) => wallet::top_up_amount(ctx, u64::from(k) * 1000).await,
        A::Transactions(p) => wallet::transactions(ctx, i64::from(p)).await,
        A::Subscriptions => subscription::list(ctx).await,
        A::Subscription(s) => subscription::detail(ctx, s).await,
        A::Qr(s) => subscription::qr(ctx, s).await,
        A::Renew(s) => subscription::renew_confirm(ctx, s).await,
        A::ConfirmRenew { subscription, nonce } => subscription::renew(ctx, subscription, nonce).await,
        A::Payments => payment::list(ctx).await,
        A::SendReceipt(p) => payment::send_receipt(ctx, p).await,
        A::Profile => profile::profile(ctx).await,
        A::AdminMenu => admin::menu(ctx).await,
        A::Queue => admin::queue::show(ctx).await,
        A::Approve(p) => admin::queue::approve(ctx, p).await,
        A::Reject(p) => admin::queue::reject_menu(ctx, p).await,
        A::RejectWith { payment, reason } => admin::queue::reject_with(ctx, payment, reason).await,
        A::Users => admin::users::prompt(ctx).await,
        A::User(u) => admin::users::card(ctx, u).await,
        A::Block(u) => admin::users::block_prompt(ctx, u).await,
        A::Unblock(u) => admin::users::unblock(ctx, u).await,
        A::GrantMenu(u) => admin::users::grant_menu(ctx, u).await,
        A::Grant { user, role } => admin::users::grant(ctx, user, role).await,
        A::RevokeMenu(u) => admin::users::revoke_menu(ctx, u).await,
        A::Revoke { user, role } => admin::users::revoke(ctx, user, role).await,
        A::Adjust(u) => admin::users::adjust_prompt(ctx, u).await,
        A::AdminSubs => admin::subs::overview(ctx).await,
        A::CancelSub { subscription, refund } => admin::subs::cancel_prompt(ctx, subscription, refund).await,
        A::Settings => admin::catalog::plans(ctx).await,
        A::PlanPrice(p) => admin::catalog::price_prompt(ctx, p).await,
        A::PlanRetire(p) => admin::catalog::retire(ctx, p).await,
        A::Cards => admin::catalog::cards(ctx).await,
        A::CardRetire(c) => admin::catalog::retire_card(ctx, c).await,
        A::Stats => admin::reports::stats(ctx).await,
        A::Reports(d) => admin::reports::reports(ctx, d).await,
        A::Servers => admin::reports::servers(ctx).await,
        A::Broadcast => ops::broadcast_menu(ctx).await,
        A::Ops(a) => ops::callback(ctx, a).await,
        A::License => admin::license::show(ctx).await,
        A::FeatureSet { feature, enabled } => admin::features::set(ctx, feature, enabled).await,
        A::Withdraw => withdraw::show(ctx).await,
        A::WithdrawStart => withdraw::start(ctx).await,
        A::WithdrawTo(card) => withdraw::to_card(ctx, card).await,
        A::ConfirmWithdraw { nonce } => withdraw::request(ctx, nonce).await,
        A::Withdrawals => withdraw::queue(ctx).await,
        A::WithdrawalApprove(w) => withdraw::approve(ctx, w).await,
        A::WithdrawalReject(w) => withdraw::reject_prompt(ctx, w).await,
        A::WithdrawalPay(w) => withdraw::pay_prompt(ctx, w).await,
        A::Points => commerce::points(ctx).await,
        A::RedeemMenu => commerce::redeem_menu(ctx).await,
        A::RedeemPick(r) => commerce::redeem_confirm(ctx, r).await,
        A::ConfirmRedeem { reward, nonce } => commerce::redeem(ctx, reward, nonce).await,
    }
}

/// Text that is not a command: the answer to what the bot asked for.
async fn on_text(ctx: &Ctx<'_>, text: String) -> Result<(), BotError> {
    match ctx.session().await? {
        Session::Idle => start::fallback(ctx).await,
        Session::Receipt { .. } => ctx.send(crate::app::Screen::new(ctx.t("receipt-unexpected"))).await.map(|_| ()),
        Session::TopUpAmount => wallet::typed_amount(ctx, &text).await,
        Session::FindUser => admin::users::find(ctx, &text).await,
        Session::BlockReason { user } => admin::users::block(ctx, user, &text).await,
        Session::AdjustAmount { user } => admin::users::adjust_amount(ctx, user, &text).await,
        Session::AdjustNote { user, delta, reference } => admin::users::adjust(ctx, user, &delta, reference, &text).await,
        Session::RejectReason { payment } => admin::queue::reject(ctx, payment, text.trim()).await,
        Session::CancelReason { subscription, refund } => admin::subs::cancel(ctx, subscription, &refund, &text).await,
        Session::SubsOfCustomer => admin::subs::of_customer(ctx, &text).await,
        Session::AddPlan => admin::catalog::add_plan(ctx, &text).await,
        Session::PlanPrice { plan } => admin::catalog::set_price(ctx, plan, &text).await,
        Session::AddCard => admin::catalog::add_card(ctx, &text).await,
        Session::WithdrawAmount => withdraw::typed_amount(ctx, &text).await,
        Session::WithdrawCard { amount } => withdraw::typed_card(ctx, &amount, &text).await,
        Session::WithdrawConfirm { .. } => ctx.send(crate::app::Screen::new(ctx.t("withdraw-press-confirm"))).await.map(|_| ()),
        Session::WithdrawalReference { withdrawal } => withdraw::pay(ctx, withdrawal, &text).await,
        Session::WithdrawalRejectReason { withdrawal } => withdraw::reject(ctx, withdrawal, &text).await,
        Session::Ops { ops } => ops::on_text(ctx, ops, text).await,
    }
}

/// Turns an error into a message for the person; infrastructure errors are
/// logged with their cause and shown only as "something went wrong".
async fn report(ctx: &Ctx<'_>, e: BotError) -> Result<(), BotError> {
    let text = match &e {
        BotError::Denied(_) | BotError::Command(CommandError::Customer(domain::customer::CustomerError::Denied(_))) => {
            ctx.t("error-denied")
        }
        BotError::Command(CommandError::Payment(PaymentError::Denied(_))) => ctx.t("error-denied"),
        BotError::Command(CommandError::Wallet(WalletError::Denied(_))) => ctx.t("error-denied"),
        BotError::Command(CommandError::Commission(domain::commission::CommissionError::Denied(_))) => ctx.t("error-denied"),
        BotError::Command(CommandError::Points(domain::points::PointsError::Denied(_))) => ctx.t("error-denied"),
        BotError::Command(CommandError::Feature(domain::features::FeatureError::Denied(_))) => ctx.t("error-denied"),
        BotError::Command(CommandError::Blocked(_)) => ctx.t("error-blocked"),
        BotError::Command(CommandError::NoActiveCard) => ctx.t("error-no-card"),
        BotError::NotFound | BotError::Command(CommandError::NotFound(_)) => ctx.t("error-not-found"),
        BotError::Command(c) if c.is_user_error() => ctx.ta("error-rule", &[("detail", crate::i18n::esc(&c.to_string()))]),
        other => {
            tracing::error!(user = ctx.user, update = ctx.update_id, error = %other, "update failed");
            ctx.t("error-generic")
        }
    };
    let has_query = ctx.query.lock().map(|q| q.is_some()).unwrap_or(false);
    if has_query {
        ctx.ack(Some(text), true).await?;
    } else {
        ctx.send(crate::app::Screen::new(text)).await?;
    }
    match e {
        BotError::Database(_) | BotError::Telegram(_) => Err(e),
        BotError::Command(c) if !c.is_user_error() => Err(BotError::Command(c)),
        _ => Ok(()),
    }
}
