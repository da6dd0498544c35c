//! `/seller`, `/sales`, `/balance`: what a seller's invitation link brought.
//! Commission is `/commission`, withdrawals `/withdraw` (see [`super::withdraw`]).
use domain::{Permission, Toman};

use crate::app::{BotError, Ctx, Screen};
use crate::callback::Action;

pub async fn menu(ctx: &Ctx<'_>) -> Result<(), BotError> {
    ctx.require(Permission::Sell)?;
    let count = projections::views::referrals(&ctx.app.pool, ctx.user).await?;
    let text = ctx.ta(
        "seller-menu",
        &[("link", super::profile::invite_link(ctx)), ("count", ctx.num(count))],
    );
    ctx.show(Screen::new(text).button(ctx.btn(ctx.t("btn-menu"), Action::Menu))).await?;
    Ok(())
}

pub async fn sales(ctx: &Ctx<'_>) -> Result<(), BotError> {
    ctx.require(Permission::Sell)?;
    let (customers, subs, total) = projections::views::referral_sales(&ctx.app.pool, ctx.user).await?;
    let text = ctx.ta(
        "sales",
        &[
            ("customers", ctx.num(customers)),
            ("subs", ctx.num(subs)),
            ("total", ctx.money(Toman::new(total).unwrap_or_default())),
        ],
    );
    ctx.show(Screen::new(text).button(ctx.btn(ctx.t("btn-menu"), Action::Menu))).await?;
    Ok(())
}

pub async fn balance(ctx: &Ctx<'_>) -> Result<(), BotError> {
    let balance = ctx.app.commands.balance(ctx.customer()).await?;
    ctx.show(Screen::new(ctx.ta("balance", &[("balance", ctx.money(balance))])).button(ctx.btn(ctx.t("btn-menu"), Action::Menu)))
        .await?;
    Ok(())
}
