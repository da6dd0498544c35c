//! `/profile`: account, roles, wallet, referral count and the invitation link.
use crate::app::{BotError, Ctx, Screen};
use crate::callback::Action;
use crate::i18n::esc;

pub fn invite_link(ctx: &Ctx<'_>) -> String {
    format!("https://t.me/{}?start=ref_{}", ctx.app.bot_username, ctx.user)
}

pub async fn profile(ctx: &Ctx<'_>) -> Result<(), BotError> {
    let customer = projections::views::customer(&ctx.app.pool, ctx.user).await?;
    let referrals = projections::views::referrals(&ctx.app.pool, ctx.user).await?;
    let balance = ctx.app.commands.balance(ctx.customer()).await?;
    let roles = customer
        .as_ref()
        .map(|c| c.roles.join(", "))
        .filter(|r| !r.is_empty())
        .unwrap_or_else(|| ctx.t("roles-none"));
    let since = customer
        .as_ref()
        .map(|c| ctx.date(c.registered_at))
        .unwrap_or_else(|| ctx.t("none"));
    let text = ctx.ta(
        "profile",
        &[
            ("id", ctx.user.to_string()),
            (
                "username",
                ctx.username
                    .as_deref()
                    .map(|u| format!("@{}", esc(u)))
                    .unwrap_or_else(|| ctx.t("none")),
            ),
            ("language", ctx.t("language-name")),
            ("roles", esc(&roles)),
            ("balance", ctx.money(balance)),
            ("date", since),
            ("referrals", ctx.num(referrals)),
            ("link", invite_link(ctx)),
        ],
    );
    let screen = Screen::new(text)
        .button(ctx.btn(ctx.t("btn-language"), Action::LanguageMenu))
        .button(ctx.btn(ctx.t("btn-menu"), Action::Menu));
    ctx.show(screen).await?;
    Ok(())
}
