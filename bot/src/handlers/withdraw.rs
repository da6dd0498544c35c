//! Commission withdrawals (issue 6). Sellers: `/withdraw` shows the account
//! (`commands::seller_account`) and asks for a withdrawal — the amount, the
//! card to pay it to, a confirmation whose button names the withdrawal (so a
//! second click or a redelivered update asks for nothing more) — and `/cards`
//! shows the cards their withdrawals went to. Staff with `adjust_wallets`:
//! `/withdrawals` lists the open ones to approve, reject or mark paid; the
//! domain decides each once, a second click is "already handled".
use std::collections::BTreeMap;

use chrono::Utc;
use commands::CommandError;
use domain::commission::{CommissionError, WithdrawalStatus};
use domain::{CardNumber, CustomerId, Permission, Toman};
use projections::commerce_views::{self, WithdrawalRow};
use rust_decimal::Decimal;
use uuid::Uuid;

use super::plans::derived_id;
use crate::app::{BotError, Ctx, Screen};
use crate::callback::{nonce, Action};
use crate::i18n::esc;
use crate::store::Session;

/// How many of the seller's requests `/withdraw` lists.
const HISTORY: usize = 5;

fn status_text(ctx: &Ctx<'_>, status: &str) -> String {
    match status {
        "requested" => ctx.t("withdraw-status-requested"),
        "approved" => ctx.t("withdraw-status-approved"),
        "rejected" => ctx.t("withdraw-status-rejected"),
        "paid" => ctx.t("withdraw-status-paid"),
        other => esc(other),
    }
}

pub(crate) fn card_shown(number: &str) -> String {
    CardNumber::parse(number).map(|c| c.to_string()).unwrap_or_else(|_| esc(number))
}

fn masked(number: &str) -> String {
    CardNumber::parse(number).map(|c| c.masked()).unwrap_or_else(|_| esc(number))
}

/// The id a confirmation button's nonce names.
fn withdrawal_id(ctx: &Ctx<'_>, nonce: [u8; 8]) -> Uuid {
    derived_id("withdraw", ctx.user, &nonce)
}

/// `/withdraw`: the seller's commission and their recent requests.
pub async fn show(ctx: &Ctx<'_>) -> Result<(), BotError> {
    ctx.require(Permission::Sell)?;
    let account = ctx.app.commands.seller_account(ctx.customer()).await?;
    let minimum = ctx.app.commands.commission_policy().await?.withdrawal_minimum;
    let b = account.balance;
    let mut text = ctx.ta(
        "withdraw-screen",
        &[
            ("available", ctx.money(b.available)),
            ("pending", ctx.money(b.pending)),
            ("reserved", ctx.money(b.reserved)),
            ("paid", ctx.money(b.paid_out)),
            ("minimum", ctx.money(minimum)),
        ],
    );
    let rows = commerce_views::seller_withdrawals(&ctx.app.pool, ctx.user).await?;
    if !rows.is_empty() {
        text.push_str("\n\n");
        text.push_str(&ctx.t("withdraw-history"));
        for r in rows.iter().take(HISTORY) {
            text.push('\n');
            text.push_str(&ctx.ta(
                "withdraw-line",
                &[
                    ("date", ctx.date(r.requested_at)),
                    ("amount", ctx.money_dec(r.amount)),
                    ("card", masked(&r.card_number)),
                    ("status", status_text(ctx, &r.status)),
                ],
            ));
        }
    }
    let mut screen = Screen::default();
    if b.available >= minimum && !b.available.is_zero() {
        screen = screen.button(ctx.btn(ctx.t("btn-withdraw-request"), Action::WithdrawStart));
    } else {
        text.push_str("\n\n");
        text.push_str(&ctx.ta("withdraw-below-minimum", &[("minimum", ctx.money(minimum))]));
    }
    screen.text = text;
    ctx.show(screen.button(ctx.btn(ctx.t("btn-menu"), Action::Menu))).await?;
    Ok(())
}

/// "Request a withdrawal": asks for the amount.
pub async fn start(ctx: &Ctx<'_>) -> Result<(), BotError> {
    ctx.require(Permission::Sell)?;
    let account = ctx.app.commands.seller_account(ctx.customer()).await?;
    let minimum = ctx.app.commands.commission_policy().await?.withdrawal_minimum;
    ctx.set_session(Session::WithdrawAmount).await?;
    let text = ctx.ta(
        "withdraw-ask-amount",
        &[("available", ctx.money(account.balance.available)), ("minimum", ctx.money(minimum))],
    );
    ctx.show(Screen::new(text).button(ctx.btn(ctx.t("btn-cancel"), Action::Cancel)))
        .await?;
    Ok(())
}

/// The amount typed in (Persian digits and separators welcome): checked
/// against the available commission and the minimum before anything is asked
/// of the domain (which checks again).
pub async fn typed_amount(ctx: &Ctx<'_>, text: &str) -> Result<(), BotError> {
    ctx.require(Permission::Sell)?;
    let amount = match text.trim().parse::<Toman>() {
        Ok(t) if !t.is_zero() => t,
        _ => {
            ctx.send(Screen::new(ctx.t("withdraw-amount-invalid"))).await?;
            return Ok(());
        }
    };
    let available = ctx.app.commands.seller_account(ctx.customer()).await?.balance.available;
    let minimum = ctx.app.commands.commission_policy().await?.withdrawal_minimum;
    if amount > available {
        let text = ctx.ta(
            "withdraw-over-available",
            &[("amount", ctx.money(amount)), ("available", ctx.money(available))],
        );
        ctx.send(Screen::new(text).button(ctx.btn(ctx.t("btn-cancel"), Action::Cancel)))
            .await?;
        return Ok(());
    }
    if amount < minimum {
        let text = ctx.ta("withdraw-below-min", &[("minimum", ctx.money(minimum))]);
        ctx.send(Screen::new(text).button(ctx.btn(ctx.t("btn-cancel"), Action::Cancel)))
            .await?;
        return Ok(());
    }
    ctx.set_session(Session::WithdrawCard {
        amount: amount.value().to_string(),
    })
    .await?;
    let mut screen = Screen::new(ctx.ta("withdraw-ask-card", &[("amount", ctx.money(amount))]));
    for (number, (holder, _, _)) in used_cards(ctx).await?.into_iter().take(3) {
        let Ok(digits) = number.parse::<u64>() else { continue };
        let label = ctx.ta("btn-withdraw-card", &[("card", masked(&number)), ("holder", holder)]);
        screen = screen.button(ctx.btn(label, Action::WithdrawTo(digits)));
    }
    ctx.send(screen.button(ctx.btn(ctx.t("btn-cancel"), Action::Cancel))).await?;
    Ok(())
}

/// The cards the seller's withdrawals named, newest first: holder, requests, paid.
async fn used_cards(ctx: &Ctx<'_>) -> Result<Vec<(String, (String, i64, Decimal))>, BotError> {
    let rows: Vec<WithdrawalRow> = commerce_views::seller_withdrawals(&ctx.app.pool, ctx.user).await?;
    let mut order: Vec<String> = Vec::new();
    let mut cards: BTreeMap<String, (String, i64, Decimal)> = BTreeMap::new();
    for r in &rows {
        let e = cards.entry(r.card_number.clone()).or_insert_with(|| {
            order.push(r.card_number.clone());
            (r.holder.clone(), 0, Decimal::ZERO)
        });
        e.1 += 1;
        if r.status == "paid" {
            e.2 += r.amount;
        }
    }
    Ok(order.into_iter().filter_map(|n| cards.remove(&n).map(|c| (n, c))).collect())
}

fn session_amount(session: &Session) -> Option<Toman> {
    match session {
        Session::WithdrawCard { amount } => amount.parse().ok(),
        _ => None,
    }
}

/// `number | holder` typed in.
pub async fn typed_card(ctx: &Ctx<'_>, amount: &str, text: &str) -> Result<(), BotError> {
    ctx.require(Permission::Sell)?;
    let amount: Toman = amount.parse().map_err(|_| BotError::NotFound)?;
    let parsed = match text.split_once('|') {
        Some((number, holder)) => CardNumber::parse(number.trim()).ok().map(|n| (n, holder.trim().to_string())),
        None => None,
    };
    match parsed {
        Some((card, holder)) if !holder.is_empty() && holder.chars().count() <= 100 => confirm(ctx, amount, card, holder).await,
        _ => {
            ctx.send(Screen::new(ctx.t("withdraw-card-invalid")).button(ctx.btn(ctx.t("btn-cancel"), Action::Cancel)))
                .await?;
            Ok(())
        }
    }
}

/// A card used before, chosen by its button.
pub async fn to_card(ctx: &Ctx<'_>, digits: u64) -> Result<(), BotError> {
    ctx.require(Permission::Sell)?;
    let Some(amount) = session_amount(&ctx.session().await?) else {
        return expired(ctx).await;
    };
    let number = format!("{digits:016}");
    let holder = used_cards(ctx)
        .await?
        .into_iter()
        .find(|(n, _)| *n == number)
        .map(|(_, (holder, _, _))| holder)
        .ok_or(BotError::NotFound)?;
    let card = CardNumber::parse(&number).map_err(|_| BotError::NotFound)?;
    confirm(ctx, amount, card, holder).await
}

async fn confirm(ctx: &Ctx<'_>, amount: Toman, card: CardNumber, holder: String) -> Result<(), BotError> {
    let n = nonce();
    let text = ctx.ta(
        "withdraw-confirm",
        &[("amount", ctx.money(amount)), ("card", card.to_string()), ("holder", esc(&holder))],
    );
    ctx.set_session(Session::WithdrawConfirm {
        amount: amount.value().to_string(),
        card: card.as_str().to_string(),
        holder,
        nonce: u64::from_be_bytes(n),
    })
    .await?;
    let screen = Screen::new(text).row(vec![
        ctx.btn(ctx.t("btn-confirm"), Action::ConfirmWithdraw { nonce: n }),
        ctx.btn(ctx.t("btn-cancel"), Action::Cancel),
    ]);
    ctx.show(screen).await?;
    Ok(())
}

async fn expired(ctx: &Ctx<'_>) -> Result<(), BotError> {
    ctx.show(Screen::new(ctx.t("withdraw-expired")).button(ctx.btn(ctx.t("btn-menu"), Action::Menu)))
        .await?;
    Ok(())
}

async fn already_requested(ctx: &Ctx<'_>) -> Result<(), BotError> {
    ctx.ack(Some(ctx.t("withdraw-already")), true).await
}

/// Confirm: asks for the withdrawal named by the button's nonce, once.
pub async fn request(ctx: &Ctx<'_>, nonce: [u8; 8]) -> Result<(), BotError> {
    ctx.require(Permission::Sell)?;
    let id = withdrawal_id(ctx, nonce);
    if ctx.app.commands.seller_account(ctx.customer()).await?.withdrawals.contains_key(&id) {
        return already_requested(ctx).await;
    }
    let (amount, card, holder) = match ctx.session().await? {
        Session::WithdrawConfirm {
            amount,
            card,
            holder,
            nonce: n,
        } if n == u64::from_be_bytes(nonce) => (amount, card, holder),
        _ => return expired(ctx).await,
    };
    let amount: Toman = amount.parse().map_err(|_| BotError::NotFound)?;
    let card = CardNumber::parse(&card).map_err(|_| BotError::NotFound)?;
    let shown = card.masked();
    match ctx
        .app
        .commands
        .request_withdrawal_as(id, &ctx.actor, amount, card, holder, Utc::now())
        .await
    {
        Ok(_) => {}
        Err(CommandError::Commission(CommissionError::WithdrawalExists)) => return already_requested(ctx).await,
        Err(e) => return Err(e.into()),
    }
    ctx.set_session(Session::Idle).await?;
    let text = ctx.ta("withdraw-requested", &[("amount", ctx.money(amount)), ("card", shown)]);
    ctx.show(Screen::new(text).button(ctx.btn(ctx.t("btn-withdraw-back"), Action::Withdraw)))
        .await?;
    Ok(())
}

/// `/cards` for a seller. The shop has no payout-card register: a
/// withdrawal names its card when it is asked for, so this lists the cards
/// the seller's withdrawals named, with what was paid to each.
pub async fn payout_cards(ctx: &Ctx<'_>) -> Result<(), BotError> {
    ctx.require(Permission::Sell)?;
    let cards = used_cards(ctx).await?;
    let mut text = if cards.is_empty() {
        ctx.t("payout-cards-none")
    } else {
        ctx.t("payout-cards")
    };
    for (number, (holder, count, paid)) in cards {
        text.push('\n');
        text.push_str(&ctx.ta(
            "payout-card-line",
            &[
                ("card", card_shown(&number)),
                ("holder", esc(&holder)),
                ("count", ctx.num(count)),
                ("paid", ctx.money_dec(paid)),
            ],
        ));
    }
    let screen = Screen::new(text)
        .button(ctx.btn(ctx.t("btn-withdraw-back"), Action::Withdraw))
        .button(ctx.btn(ctx.t("btn-menu"), Action::Menu));
    ctx.show(screen).await?;
    Ok(())
}

// ---- staff ---------------------------------------------------------------------

fn who(ctx: &Ctx<'_>) -> String {
    ctx.username
        .as_deref()
        .map(|u| format!("@{}", esc(u)))
        .unwrap_or_else(|| esc(&ctx.first_name))
}

async fn seller_name(ctx: &Ctx<'_>, seller: i64) -> Result<String, BotError> {
    let username = projections::views::customer(&ctx.app.pool, seller).await?.and_then(|c| c.username);
    Ok(seller_label(username.as_deref(), seller))
}

/// A seller as staff see them: `@username (id)`, or the id alone.
pub(crate) fn seller_label(username: Option<&str>, seller: i64) -> String {
    match username {
        Some(u) => format!("@{} (<code>{seller}</code>)", esc(u)),
        None => format!("<code>{seller}</code>"),
    }
}

fn item_buttons(ctx: &Ctx<'_>, id: Uuid, status: &str) -> Vec<Vec<teloxide::types::InlineKeyboardButton>> {
    match status {
        "requested" => vec![vec![
            ctx.btn(ctx.t("btn-approve"), Action::WithdrawalApprove(id)),
            ctx.btn(ctx.t("btn-reject"), Action::WithdrawalReject(id)),
        ]],
        "approved" => vec![vec![
            ctx.btn(ctx.t("btn-withdrawal-paid"), Action::WithdrawalPay(id)),
            ctx.btn(ctx.t("btn-reject"), Action::WithdrawalReject(id)),
        ]],
        _ => Vec::new(),
    }
}

/// `/withdrawals`: the open withdrawals, one message each with its buttons.
pub async fn queue(ctx: &Ctx<'_>) -> Result<(), BotError> {
    ctx.require(Permission::AdjustWallets)?;
    let open = commerce_views::open_withdrawals(&ctx.app.pool).await?;
    if open.is_empty() {
        ctx.show(Screen::new(ctx.t("withdrawals-empty")).button(ctx.back(Action::AdminMenu)))
            .await?;
        return Ok(());
    }
    ctx.show(Screen::new(ctx.ta("withdrawals-title", &[("count", ctx.num(open.len() as i64))])))
        .await?;
    for r in open.iter().take(10) {
        let text = ctx.ta(
            "withdrawal-item",
            &[
                ("seller", seller_name(ctx, r.seller).await?),
                ("amount", ctx.money_dec(r.amount)),
                ("card", card_shown(&r.card_number)),
                ("holder", esc(&r.holder)),
                ("date", ctx.date(r.requested_at)),
                ("status", status_text(ctx, &r.status)),
            ],
        );
        let mut screen = Screen::new(text);
        screen.rows = item_buttons(ctx, r.id, &r.status);
        ctx.send(screen).await?;
    }
    Ok(())
}

async fn already(ctx: &Ctx<'_>, status: &str) -> Result<(), BotError> {
    let text = ctx.ta("withdrawal-already-handled", &[("status", status_text(ctx, status))]);
    if ctx.query.lock().map(|q| q.is_some()).unwrap_or(false) {
        ctx.ack(Some(text), true).await
    } else {
        ctx.send(Screen::new(text)).await.map(|_| ())
    }
}

/// The withdrawal as the seller's account says (never a read model).
async fn state(ctx: &Ctx<'_>, id: Uuid) -> Result<(CustomerId, domain::commission::Withdrawal), BotError> {
    let seller = ctx.app.commands.withdrawal_seller(id).await?;
    let w = ctx
        .app
        .commands
        .seller_account(seller)
        .await?
        .withdrawals
        .get(&id)
        .cloned()
        .ok_or(BotError::NotFound)?;
    Ok((seller, w))
}

pub async fn approve(ctx: &Ctx<'_>, id: Uuid) -> Result<(), BotError> {
    ctx.require(Permission::AdjustWallets)?;
    match ctx.app.commands.approve_withdrawal(&ctx.actor, id, Utc::now()).await {
        Ok(()) => {
            ctx.ack(Some(ctx.t("approve-done")), false).await?;
            let (seller, w) = state(ctx, id).await?;
            let text = ctx.ta(
                "withdrawal-approved",
                &[
                    ("by", who(ctx)),
                    ("seller", seller_name(ctx, seller.0).await?),
                    ("amount", ctx.money(w.amount)),
                    ("card", w.card.to_string()),
                ],
            );
            let mut screen = Screen::new(text);
            screen.rows = item_buttons(ctx, id, "approved");
            ctx.show(screen).await?;
            Ok(())
        }
        Err(CommandError::Commission(CommissionError::WithdrawalDecided(status))) => already(ctx, status).await,
        Err(e) => Err(e.into()),
    }
}

/// "Mark paid": asks for the bank's tracking reference.
pub async fn pay_prompt(ctx: &Ctx<'_>, id: Uuid) -> Result<(), BotError> {
    ctx.require(Permission::AdjustWallets)?;
    let (_, w) = state(ctx, id).await?;
    match w.status {
        WithdrawalStatus::Approved => {}
        WithdrawalStatus::Requested => {
            return ctx.ack(Some(ctx.t("withdrawal-not-approved")), true).await;
        }
        other => return already(ctx, other.name()).await,
    }
    ctx.set_session(Session::WithdrawalReference { withdrawal: id }).await?;
    let text = ctx.ta(
        "withdrawal-ask-reference",
        &[("amount", ctx.money(w.amount)), ("card", w.card.to_string())],
    );
    ctx.send(Screen::new(text).button(ctx.btn(ctx.t("btn-cancel"), Action::Cancel)))
        .await?;
    Ok(())
}

/// The reference typed in: records the payment, exactly once.
pub async fn pay(ctx: &Ctx<'_>, id: Uuid, reference: &str) -> Result<(), BotError> {
    ctx.require(Permission::AdjustWallets)?;
    let reference = reference.trim();
    if reference.is_empty() {
        ctx.send(Screen::new(ctx.t("withdrawal-reference-required"))).await?;
        return Ok(());
    }
    ctx.set_session(Session::Idle).await?;
    match ctx
        .app
        .commands
        .pay_withdrawal(&ctx.actor, id, reference.to_string(), Utc::now())
        .await
    {
        Ok(()) => {
            let (_, w) = state(ctx, id).await?;
            let text = ctx.ta(
                "withdrawal-paid",
                &[
                    ("by", who(ctx)),
                    ("amount", ctx.money(w.amount)),
                    ("card", w.card.to_string()),
                    ("reference", esc(reference)),
                ],
            );
            ctx.send(Screen::new(text).button(ctx.btn(ctx.t("btn-withdrawals"), Action::Withdrawals)))
                .await?;
            Ok(())
        }
        Err(CommandError::Commission(CommissionError::WithdrawalDecided(status))) => already(ctx, status).await,
        Err(e) => Err(e.into()),
    }
}

/// "Reject": asks for the reason (the seller reads it).
pub async fn reject_prompt(ctx: &Ctx<'_>, id: Uuid) -> Result<(), BotError> {
    ctx.require(Permission::AdjustWallets)?;
    let (_, w) = state(ctx, id).await?;
    if !matches!(w.status, WithdrawalStatus::Requested | WithdrawalStatus::Approved) {
        return already(ctx, w.status.name()).await;
    }
    ctx.set_session(Session::WithdrawalRejectReason { withdrawal: id }).await?;
    ctx.send(Screen::new(ctx.t("withdrawal-ask-reason")).button(ctx.btn(ctx.t("btn-cancel"), Action::Cancel)))
        .await?;
    Ok(())
}

pub async fn reject(ctx: &Ctx<'_>, id: Uuid, reason: &str) -> Result<(), BotError> {
    ctx.require(Permission::AdjustWallets)?;
    let reason = reason.trim();
    if reason.is_empty() {
        ctx.send(Screen::new(ctx.t("withdrawal-ask-reason"))).await?;
        return Ok(());
    }
    ctx.set_session(Session::Idle).await?;
    match ctx
        .app
        .commands
        .reject_withdrawal(&ctx.actor, id, reason.to_string(), Utc::now())
        .await
    {
        Ok(()) => {
            let text = ctx.ta("withdrawal-rejected", &[("by", who(ctx)), ("reason", esc(reason))]);
            ctx.send(Screen::new(text).button(ctx.btn(ctx.t("btn-withdrawals"), Action::Withdrawals)))
                .await?;
            Ok(())
        }
        Err(CommandError::Commission(CommissionError::WithdrawalDecided(status))) => already(ctx, status).await,
        Err(e) => Err(e.into()),
    }
}
