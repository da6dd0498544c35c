//! `/points` and `/commission`: read-only screens over the commerce read
//! models (issue 6). Redeeming points and requesting withdrawals from the
//! bot are not wired yet (see [`super::unavailable`]).
use domain::Permission;
use projections::commerce_views;

use crate::app::{BotError, Ctx, Screen};
use crate::callback::Action;

pub async fn points(ctx: &Ctx<'_>) -> Result<(), BotError> {
    let p = commerce_views::points_balance(&ctx.app.pool, ctx.user).await?;
    let (balance, earned, redeemed, expired) = p
        .as_ref()
        .map(|p| (p.balance, p.earned_total, p.redeemed_total, p.expired_total))
        .unwrap_or_default();
    let next = p
        .and_then(|p| p.next_expiry)
        .map(|at| ctx.date(at))
        .unwrap_or_else(|| ctx.t("none"));
    let text = ctx.ta(
        "points-screen",
        &[
            ("balance", ctx.num(balance)),
            ("earned", ctx.num(earned)),
            ("redeemed", ctx.num(redeemed)),
            ("expired", ctx.num(expired)),
            ("next", next),
        ],
    );
    ctx.show(Screen::new(text).button(ctx.btn(ctx.t("btn-menu"), Action::Menu))).await?;
    Ok(())
}

pub async fn commission(ctx: &Ctx<'_>) -> Result<(), BotError> {
    ctx.require(Permission::Sell)?;
    let s = commerce_views::seller_summary(&ctx.app.pool, ctx.user).await?;
    let z = rust_decimal::Decimal::ZERO;
    let (pending, available, paid, earned, sales, total) = s
        .as_ref()
        .map(|s| (s.pending, s.available, s.paid_out, s.earned_total, s.sales_count, s.sales_total))
        .unwrap_or((z, z, z, z, 0, z));
    let text = ctx.ta(
        "commission-screen",
        &[
            ("pending", ctx.money_dec(pending)),
            ("available", ctx.money_dec(available)),
            ("paid", ctx.money_dec(paid)),
            ("earned", ctx.money_dec(earned)),
            ("sales", ctx.num(sales)),
            ("total", ctx.money_dec(total)),
        ],
    );
    ctx.show(Screen::new(text).button(ctx.btn(ctx.t("btn-menu"), Action::Menu))).await?;
    Ok(())
}
