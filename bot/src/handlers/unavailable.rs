//! Commands whose capability the backbone does not have yet. Each answers
//! honestly that it is not available; each is its own function so it can be
//! wired to the real capability (withdrawals and payout cards: issue 6; live
//! chat, broadcasts, license: issue 7).
use crate::app::{BotError, Ctx, Screen};
use crate::callback::Action;

async fn not_available(ctx: &Ctx<'_>, feature_key: &str) -> Result<(), BotError> {
    let text = ctx.ta("not-available", &[("feature", ctx.t(feature_key))]);
    ctx.show(Screen::new(text).button(ctx.btn(ctx.t("btn-menu"), Action::Menu))).await?;
    Ok(())
}

/// `/support` and `/chat`.
pub async fn live_chat(ctx: &Ctx<'_>) -> Result<(), BotError> {
    not_available(ctx, "feature-live-chat").await
}

/// `/broadcast` (staff with `manage_content`).
pub async fn broadcast(ctx: &Ctx<'_>) -> Result<(), BotError> {
    ctx.require(domain::Permission::ManageContent)?;
    not_available(ctx, "feature-broadcast").await
}

/// `/license` (admins).
pub async fn license(ctx: &Ctx<'_>) -> Result<(), BotError> {
    ctx.require(domain::Permission::ManageRoles)?;
    not_available(ctx, "feature-license").await
}

/// `/withdraw` (sellers).
pub async fn withdraw(ctx: &Ctx<'_>) -> Result<(), BotError> {
    ctx.require(domain::Permission::Sell)?;
    not_available(ctx, "feature-withdraw").await
}

/// `/cards` for a seller (their payout cards).
pub async fn seller_cards(ctx: &Ctx<'_>) -> Result<(), BotError> {
    ctx.require(domain::Permission::Sell)?;
    not_available(ctx, "feature-seller-cards").await
}
