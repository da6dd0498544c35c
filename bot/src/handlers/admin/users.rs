//! `/users`: find a customer, block or unblock them, grant or revoke a role,
//! adjust their wallet with a reason.
use chrono::Utc;
use domain::{CustomerId, Permission, RoleName};
use projections::views;
use rust_decimal::Decimal;
use uuid::Uuid;

use crate::app::{BotError, Ctx, Screen};
use crate::callback::Action;
use crate::i18n::esc;
use crate::store::Session;

pub async fn prompt(ctx: &Ctx<'_>) -> Result<(), BotError> {
    ctx.require(Permission::ManageUsers)?;
    ctx.set_session(Session::FindUser).await?;
    ctx.show(Screen::new(ctx.t("users-prompt")).button(ctx.back(Action::AdminMenu)))
        .await?;
    Ok(())
}

pub async fn find(ctx: &Ctx<'_>, query: &str) -> Result<(), BotError> {
    ctx.require(Permission::ManageUsers)?;
    let query = crate::i18n::ascii_digits(query);
    match views::find_customer(&ctx.app.pool, &query).await? {
        Some(c) => {
            ctx.set_session(Session::Idle).await?;
            card(ctx, c.telegram_id).await
        }
        None => {
            ctx.send(Screen::new(ctx.ta("user-not-found", &[("query", esc(&query))]))).await?;
            Ok(())
        }
    }
}

pub async fn card(ctx: &Ctx<'_>, user: i64) -> Result<(), BotError> {
    ctx.require(Permission::ManageUsers)?;
    let c = views::customer(&ctx.app.pool, user).await?.ok_or(BotError::NotFound)?;
    let subs = views::subscriptions_of(&ctx.app.pool, user).await?.len() as i64;
    let text = ctx.ta(
        "user-card",
        &[
            (
                "name",
                c.username
                    .as_deref()
                    .map(|u| format!("@{}", esc(u)))
                    .unwrap_or_else(|| ctx.t("none")),
            ),
            ("id", user.to_string()),
            ("language", esc(&c.language)),
            (
                "roles",
                if c.roles.is_empty() {
                    ctx.t("roles-none")
                } else {
                    esc(&c.roles.join(", "))
                },
            ),
            ("balance", ctx.money_dec(c.balance)),
            ("blocked", if c.blocked { ctx.t("yes") } else { ctx.t("no") }),
            ("subs", ctx.num(subs)),
            ("referrer", c.referrer.map(|r| r.to_string()).unwrap_or_else(|| ctx.t("none"))),
        ],
    );
    let mut screen = Screen::new(text);
    screen = screen.button(if c.blocked {
        ctx.btn(ctx.t("btn-unblock"), Action::Unblock(user))
    } else {
        ctx.btn(ctx.t("btn-block"), Action::Block(user))
    });
    if ctx.has(Permission::ManageRoles) {
        screen = screen.row(vec![
            ctx.btn(ctx.t("btn-grant"), Action::GrantMenu(user)),
            ctx.btn(ctx.t("btn-revoke"), Action::RevokeMenu(user)),
        ]);
    }
    if ctx.has(Permission::AdjustWallets) {
        screen = screen.button(ctx.btn(ctx.t("btn-adjust"), Action::Adjust(user)));
    }
    ctx.show(screen.button(ctx.back(Action::Users))).await?;
    Ok(())
}

pub async fn block_prompt(ctx: &Ctx<'_>, user: i64) -> Result<(), BotError> {
    ctx.require(Permission::ManageUsers)?;
    ctx.set_session(Session::BlockReason { user }).await?;
    ctx.send(Screen::new(ctx.ta("block-reason-prompt", &[("id", user.to_string())])))
        .await?;
    Ok(())
}

pub async fn block(ctx: &Ctx<'_>, user: i64, reason: &str) -> Result<(), BotError> {
    ctx.require(Permission::ManageUsers)?;
    ctx.set_session(Session::Idle).await?;
    ctx.app
        .commands
        .block_customer(&ctx.actor, CustomerId(user), reason.to_string(), Utc::now())
        .await?;
    ctx.send(Screen::new(ctx.ta("user-blocked-done", &[("id", user.to_string())])).button(ctx.btn(ctx.t("btn-back"), Action::User(user))))
        .await?;
    Ok(())
}

pub async fn unblock(ctx: &Ctx<'_>, user: i64) -> Result<(), BotError> {
    ctx.require(Permission::ManageUsers)?;
    ctx.app.commands.unblock_customer(&ctx.actor, CustomerId(user), Utc::now()).await?;
    ctx.show(
        Screen::new(ctx.ta("user-unblocked-done", &[("id", user.to_string())])).button(ctx.btn(ctx.t("btn-back"), Action::User(user))),
    )
    .await?;
    Ok(())
}

/// Every role, built-in first, then custom roles in the order they were
/// defined (that order never changes, so a button's index stays valid).
async fn all_roles(ctx: &Ctx<'_>) -> Result<Vec<RoleName>, BotError> {
    let mut roles = RoleName::BUILT_IN.to_vec();
    let custom: Vec<String> = sqlx_roles(ctx).await?;
    roles.extend(custom.into_iter().filter_map(|r| RoleName::parse(&r).ok()));
    Ok(roles)
}

async fn sqlx_roles(ctx: &Ctx<'_>) -> Result<Vec<String>, BotError> {
    Ok(views::custom_roles(&ctx.app.pool).await?)
}

pub async fn grant_menu(ctx: &Ctx<'_>, user: i64) -> Result<(), BotError> {
    ctx.require(Permission::ManageRoles)?;
    let held = ctx
        .app
        .commands
        .customer_state(CustomerId(user))
        .await?
        .ok_or(BotError::NotFound)?
        .roles;
    let mut screen = Screen::new(ctx.ta("grant-choose", &[("id", user.to_string())]));
    let buttons: Vec<_> = all_roles(ctx)
        .await?
        .into_iter()
        .enumerate()
        .filter(|(_, r)| !held.contains(r))
        .map(|(i, r)| ctx.btn(r.to_string(), Action::Grant { user, role: i as u8 }))
        .collect();
    for pair in buttons.chunks(2) {
        screen = screen.row(pair.to_vec());
    }
    ctx.show(screen.button(ctx.back(Action::User(user)))).await?;
    Ok(())
}

pub async fn grant(ctx: &Ctx<'_>, user: i64, role: u8) -> Result<(), BotError> {
    ctx.require(Permission::ManageRoles)?;
    let role = all_roles(ctx).await?.get(role as usize).cloned().ok_or(BotError::NotFound)?;
    ctx.app
        .commands
        .grant_role(&ctx.actor, CustomerId(user), role.clone(), Utc::now())
        .await?;
    let text = ctx.ta("role-granted-done", &[("role", role.to_string()), ("id", user.to_string())]);
    ctx.show(Screen::new(text).button(ctx.btn(ctx.t("btn-back"), Action::User(user))))
        .await?;
    Ok(())
}

pub async fn revoke_menu(ctx: &Ctx<'_>, user: i64) -> Result<(), BotError> {
    ctx.require(Permission::ManageRoles)?;
    let held = ctx
        .app
        .commands
        .customer_state(CustomerId(user))
        .await?
        .ok_or(BotError::NotFound)?
        .roles;
    let mut screen = Screen::new(ctx.ta("revoke-choose", &[("id", user.to_string())]));
    let buttons: Vec<_> = all_roles(ctx)
        .await?
        .into_iter()
        .enumerate()
        .filter(|(_, r)| held.contains(r))
        .map(|(i, r)| ctx.btn(r.to_string(), Action::Revoke { user, role: i as u8 }))
        .collect();
    for pair in buttons.chunks(2) {
        screen = screen.row(pair.to_vec());
    }
    ctx.show(screen.button(ctx.back(Action::User(user)))).await?;
    Ok(())
}

pub async fn revoke(ctx: &Ctx<'_>, user: i64, role: u8) -> Result<(), BotError> {
    ctx.require(Permission::ManageRoles)?;
    let role = all_roles(ctx).await?.get(role as usize).cloned().ok_or(BotError::NotFound)?;
    ctx.app
        .commands
        .revoke_role(&ctx.actor, CustomerId(user), role.clone(), Utc::now())
        .await?;
    let text = ctx.ta("role-revoked-done", &[("role", role.to_string()), ("id", user.to_string())]);
    ctx.show(Screen::new(text).button(ctx.btn(ctx.t("btn-back"), Action::User(user))))
        .await?;
    Ok(())
}

pub async fn adjust_prompt(ctx: &Ctx<'_>, user: i64) -> Result<(), BotError> {
    ctx.require(Permission::AdjustWallets)?;
    ctx.set_session(Session::AdjustAmount { user }).await?;
    ctx.send(Screen::new(ctx.ta("adjust-amount-prompt", &[("id", user.to_string())])))
        .await?;
    Ok(())
}

pub async fn adjust_amount(ctx: &Ctx<'_>, user: i64, text: &str) -> Result<(), BotError> {
    ctx.require(Permission::AdjustWallets)?;
    let cleaned: String = crate::i18n::ascii_digits(text)
        .chars()
        .filter(|c| !matches!(c, ',' | ' ' | '+'))
        .map(|c| if c == '−' { '-' } else { c })
        .collect();
    let delta = match cleaned.parse::<Decimal>() {
        Ok(d) if !d.is_zero() && d.fract().is_zero() => d,
        _ => {
            ctx.send(Screen::new(ctx.t("adjust-amount-invalid"))).await?;
            return Ok(());
        }
    };
    // Named now, so that the adjustment applies once however often the note arrives.
    let reference = super::super::plans::derived_id("adjust", ctx.user, &ctx.update_id.to_be_bytes());
    ctx.set_session(Session::AdjustNote {
        user,
        delta: delta.to_string(),
        reference,
    })
    .await?;
    let shown = format!("{}{}", if delta.is_sign_negative() { "−" } else { "+" }, ctx.money_dec(delta));
    ctx.send(Screen::new(ctx.ta("adjust-note-prompt", &[("amount", shown)]))).await?;
    Ok(())
}

pub async fn adjust(ctx: &Ctx<'_>, user: i64, delta: &str, reference: Uuid, note: &str) -> Result<(), BotError> {
    ctx.require(Permission::AdjustWallets)?;
    let delta: Decimal = delta.parse().map_err(|_| BotError::NotFound)?;
    ctx.app
        .commands
        .adjust_wallet_as(
            &ctx.actor,
            CustomerId(user),
            delta,
            note.trim().to_string(),
            format!("adjust:{reference}"),
            Utc::now(),
        )
        .await?;
    ctx.set_session(Session::Idle).await?;
    let shown = format!("{}{}", if delta.is_sign_negative() { "−" } else { "+" }, ctx.money_dec(delta));
    ctx.send(
        Screen::new(ctx.ta("adjust-done", &[("id", user.to_string()), ("amount", shown)]))
            .button(ctx.btn(ctx.t("btn-back"), Action::User(user))),
    )
    .await?;
    Ok(())
}
