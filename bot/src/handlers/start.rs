//! `/start` (registration and referral arrive before this runs), `/help`,
//! `/language` and the main menu.
use domain::{Language, Permission};

use crate::app::{BotError, Ctx, Screen};
use crate::callback::Action;
use crate::i18n::esc;

pub fn main_menu(ctx: &Ctx<'_>, text: String) -> Screen {
    let mut s = Screen::new(text)
        .row(vec![ctx.btn(ctx.t("btn-plans"), Action::Locations)])
        .row(vec![
            ctx.btn(ctx.t("btn-wallet"), Action::Wallet),
            ctx.btn(ctx.t("btn-subscriptions"), Action::Subscriptions),
        ])
        .row(vec![
            ctx.btn(ctx.t("btn-payments"), Action::Payments),
            ctx.btn(ctx.t("btn-profile"), Action::Profile),
        ])
        .row(vec![
            ctx.btn(ctx.t("btn-help"), Action::Help),
            ctx.btn(ctx.t("btn-language"), Action::LanguageMenu),
        ]);
    if super::admin::is_staff(ctx) {
        s = s.button(ctx.btn(ctx.t("btn-admin"), Action::AdminMenu));
    }
    s
}

async fn menu_text(ctx: &Ctx<'_>) -> Result<String, BotError> {
    let balance = ctx.app.commands.balance(ctx.customer()).await?;
    Ok(ctx.ta("menu-title", &[("balance", ctx.money(balance))]))
}

pub async fn start(ctx: &Ctx<'_>, newcomer: bool) -> Result<(), BotError> {
    let name = esc(&ctx.first_name);
    if newcomer {
        let text = format!("{}\n\n{}", ctx.ta("welcome-new", &[("name", name)]), ctx.t("choose-language"));
        ctx.send(language_screen(ctx, text)).await?;
        return Ok(());
    }
    let text = format!("{}\n\n{}", ctx.ta("welcome-back", &[("name", name)]), menu_text(ctx).await?);
    ctx.send(main_menu(ctx, text)).await?;
    Ok(())
}

pub async fn menu(ctx: &Ctx<'_>) -> Result<(), BotError> {
    let text = menu_text(ctx).await?;
    ctx.show(main_menu(ctx, text)).await?;
    Ok(())
}

fn language_screen(ctx: &Ctx<'_>, text: String) -> Screen {
    Screen::new(text).row(vec![
        ctx.btn("فارسی 🇮🇷".into(), Action::SetLanguage(Language::Fa)),
        ctx.btn("English 🇬🇧".into(), Action::SetLanguage(Language::En)),
    ])
}

pub async fn language_menu(ctx: &Ctx<'_>) -> Result<(), BotError> {
    ctx.show(language_screen(ctx, ctx.t("choose-language"))).await?;
    Ok(())
}

pub async fn set_language(ctx: &Ctx<'_>, language: Language) -> Result<(), BotError> {
    ctx.app
        .commands
        .change_language(ctx.customer(), language, chrono::Utc::now())
        .await?;
    // Answer in the language just chosen.
    let ctx = Ctx {
        app: ctx.app,
        update_id: ctx.update_id,
        chat: ctx.chat,
        user: ctx.user,
        first_name: ctx.first_name.clone(),
        username: ctx.username.clone(),
        lang: language,
        actor: ctx.actor.clone(),
        message: ctx.message,
        query: std::sync::Mutex::new(ctx.query.lock().unwrap_or_else(|e| e.into_inner()).take()),
    };
    let text = format!("{}\n\n{}", ctx.t("language-set"), menu_text(&ctx).await?);
    ctx.show(main_menu(&ctx, text)).await?;
    ctx.ack(None, false).await
}

pub async fn help(ctx: &Ctx<'_>) -> Result<(), BotError> {
    let mut text = ctx.t("help-customer");
    if super::admin::is_staff(ctx) {
        text = format!("{text}\n\n{}", ctx.t("help-admin"));
    }
    if ctx.has(Permission::Sell) {
        text = format!("{text}\n\n{}", ctx.t("help-seller"));
    }
    ctx.show(Screen::new(text).button(ctx.btn(ctx.t("btn-menu"), Action::Menu))).await?;
    Ok(())
}

pub async fn fallback(ctx: &Ctx<'_>) -> Result<(), BotError> {
    let text = format!("{}\n\n{}", ctx.t("unknown-text"), menu_text(ctx).await?);
    ctx.send(main_menu(ctx, text)).await?;
    Ok(())
}
