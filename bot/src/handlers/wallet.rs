//! `/wallet`, top-up by card-to-card, and `/transactions` (paged).
use chrono::Utc;
use domain::payment::PaymentPurpose;
use domain::Toman;
use projections::views;

use crate::app::{BotError, Ctx, Screen};
use crate::callback::Action;
use crate::store::Session;

const PER_PAGE: i64 = 8;

pub async fn wallet(ctx: &Ctx<'_>) -> Result<(), BotError> {
    let balance = ctx.app.commands.balance(ctx.customer()).await?;
    let screen = Screen::new(ctx.ta("wallet", &[("balance", ctx.money(balance))]))
        .row(vec![
            ctx.btn(ctx.t("btn-topup"), Action::TopUp),
            ctx.btn(ctx.t("btn-transactions"), Action::Transactions(0)),
        ])
        .button(ctx.btn(ctx.t("btn-menu"), Action::Menu));
    ctx.show(screen).await?;
    Ok(())
}

pub async fn top_up(ctx: &Ctx<'_>) -> Result<(), BotError> {
    let min = ctx.app.settings.min_top_up;
    let mut screen = Screen::new(ctx.ta("topup-choose", &[("min", ctx.money(min))]));
    let buttons: Vec<_> = ctx
        .app
        .settings
        .top_up_presets
        .iter()
        .map(|k| {
            let amount = Toman::from_int(i64::from(*k) * 1000).unwrap_or_default();
            ctx.btn(ctx.money(amount), Action::TopUpAmount(*k))
        })
        .collect();
    for pair in buttons.chunks(2) {
        screen = screen.row(pair.to_vec());
    }
    ctx.set_session(Session::TopUpAmount).await?;
    ctx.show(screen.button(ctx.back(Action::Wallet))).await?;
    Ok(())
}

/// Starts a card-to-card top-up; the payment's id comes from the update,
/// so a redelivered update shows the same payment instead of a second one.
pub async fn top_up_amount(ctx: &Ctx<'_>, toman: u64) -> Result<(), BotError> {
    let amount = Toman::from_int(toman as i64).map_err(|e| commands::CommandError::Storage(e.to_string()))?;
    if amount < ctx.app.settings.min_top_up {
        ctx.send(Screen::new(
            ctx.ta("topup-too-small", &[("min", ctx.money(ctx.app.settings.min_top_up))]),
        ))
        .await?;
        return Ok(());
    }
    let id = super::plans::derived_id("pay", ctx.user, &ctx.update_id.to_be_bytes());
    let payment = ctx
        .app
        .commands
        .create_card_payment_as(id, ctx.customer(), amount, PaymentPurpose::WalletTopUp, Utc::now())
        .await?;
    super::payment::show_card_payment(ctx, payment).await
}

/// An amount typed after "Top up" (Persian digits and separators welcome).
pub async fn typed_amount(ctx: &Ctx<'_>, text: &str) -> Result<(), BotError> {
    match text.parse::<Toman>() {
        Ok(t) if t.value().fract().is_zero() && !t.is_zero() => {
            let toman: u64 = t.value().try_into().unwrap_or(0);
            top_up_amount(ctx, toman).await
        }
        _ => {
            ctx.send(Screen::new(ctx.t("topup-invalid"))).await?;
            Ok(())
        }
    }
}

fn reason(ctx: &Ctx<'_>, kind: &str) -> String {
    match kind {
        "top_up" => ctx.t("tx-top_up"),
        "charge" => ctx.t("tx-charge"),
        "refund" => ctx.t("tx-refund"),
        "charge_reversal" => ctx.t("tx-charge_reversal"),
        "adjustment" => ctx.t("tx-adjustment"),
        _ => ctx.t("tx-other"),
    }
}

pub async fn transactions(ctx: &Ctx<'_>, page: i64) -> Result<(), BotError> {
    let (rows, total) = views::ledger_page(&ctx.app.pool, ctx.user, page, PER_PAGE).await?;
    if total == 0 {
        ctx.show(Screen::new(ctx.t("transactions-empty")).button(ctx.back(Action::Wallet)))
            .await?;
        return Ok(());
    }
    let pages = (total + PER_PAGE - 1) / PER_PAGE;
    let mut text = ctx.ta("transactions-title", &[("page", ctx.num(page + 1)), ("pages", ctx.num(pages))]);
    for r in rows {
        text.push('\n');
        text.push_str(&ctx.ta(
            "tx-line",
            &[
                ("date", ctx.date(r.at)),
                ("sign", if r.direction == "credit" { "+".into() } else { "−".into() }),
                ("amount", ctx.money_dec(r.amount)),
                ("reason", reason(ctx, &r.reason)),
                ("balance", ctx.money_dec(r.balance_after)),
            ],
        ));
    }
    let mut nav = Vec::new();
    if page > 0 {
        nav.push(ctx.btn(ctx.t("btn-prev"), Action::Transactions((page - 1) as u16)));
    }
    if page + 1 < pages {
        nav.push(ctx.btn(ctx.t("btn-next"), Action::Transactions((page + 1) as u16)));
    }
    ctx.show(Screen::new(text).row(nav).button(ctx.back(Action::Wallet))).await?;
    Ok(())
}
