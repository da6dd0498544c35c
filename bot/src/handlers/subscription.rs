//! `/subscription`: status, days and traffic left, the subscription link and
//! its QR code (once the panels have provisioned it), and renewal.
use chrono::Utc;
use commands::PurchaseOutcome;
use domain::Toman;
use projections::views::{self, SubscriptionRow};
use uuid::Uuid;

use crate::app::{BotError, Ctx, Screen};
use crate::callback::{nonce, Action};
use crate::i18n::esc;

pub fn status(ctx: &Ctx<'_>, s: &str) -> String {
    match s {
        "pending" => ctx.t("status-pending"),
        "active" => ctx.t("status-active"),
        "failed" => ctx.t("status-failed"),
        "expired" => ctx.t("status-expired"),
        "cancelled" => ctx.t("status-cancelled"),
        other => esc(other),
    }
}

/// This person's subscription (read model, checked against the owner).
async fn own(ctx: &Ctx<'_>, id: Uuid) -> Result<SubscriptionRow, BotError> {
    views::subscription(&ctx.app.pool, id)
        .await?
        .filter(|s| s.customer == ctx.user)
        .ok_or(BotError::NotFound)
}

pub async fn list(ctx: &Ctx<'_>) -> Result<(), BotError> {
    let subs = views::subscriptions_of(&ctx.app.pool, ctx.user).await?;
    if subs.is_empty() {
        let screen = Screen::new(ctx.t("subs-none"))
            .button(ctx.btn(ctx.t("btn-plans"), Action::Locations))
            .button(ctx.btn(ctx.t("btn-menu"), Action::Menu));
        ctx.show(screen).await?;
        return Ok(());
    }
    let mut screen = Screen::new(ctx.t("subs-title"));
    for s in &subs {
        let label = ctx.ta(
            "sub-button",
            &[
                ("name", s.plan_name.clone()),
                ("location", s.location.clone()),
                ("status", status(ctx, &s.status)),
            ],
        );
        screen = screen.button(ctx.btn(label, Action::Subscription(s.id)));
    }
    ctx.show(screen.button(ctx.btn(ctx.t("btn-menu"), Action::Menu))).await?;
    Ok(())
}

fn traffic_text(ctx: &Ctx<'_>, s: &SubscriptionRow) -> String {
    let total = super::plans::traffic(ctx, s.traffic_gb);
    match s.used_bytes {
        Some(used) => {
            let gb = rust_decimal::Decimal::from(used) / rust_decimal::Decimal::from(domain::subscription::GIB);
            ctx.ta(
                "sub-traffic-used",
                &[
                    ("used", crate::i18n::digits(ctx.lang, &gb.round_dp(2).to_string())),
                    ("total", total),
                ],
            )
        }
        None => ctx.ta("sub-traffic-unknown", &[("total", total)]),
    }
}

pub async fn detail(ctx: &Ctx<'_>, id: Uuid) -> Result<(), BotError> {
    let s = own(ctx, id).await?;
    let mut text = match s.expires_at {
        Some(expires) => {
            let days = (expires - Utc::now()).num_days().max(0);
            ctx.ta(
                "sub-detail",
                &[
                    ("name", esc(&s.plan_name)),
                    ("location", esc(&s.location)),
                    ("status", status(ctx, &s.status)),
                    ("date", ctx.date(expires)),
                    ("days", ctx.num(days)),
                    ("traffic", traffic_text(ctx, &s)),
                ],
            )
        }
        None => ctx.ta(
            "sub-detail-pending",
            &[
                ("name", esc(&s.plan_name)),
                ("location", esc(&s.location)),
                ("status", status(ctx, &s.status)),
            ],
        ),
    };
    let mut screen = Screen::default();
    if s.status == "active" {
        text.push_str("\n\n");
        match &s.sub_url {
            Some(link) => {
                text.push_str(&ctx.ta("sub-link", &[("link", esc(link))]));
                screen = screen.button(ctx.btn(ctx.t("btn-qr"), Action::Qr(s.id)));
            }
            None => text.push_str(&ctx.t("sub-link-pending")),
        }
    }
    if matches!(s.status.as_str(), "active" | "expired") {
        if let Some(plan) = views::plan(&ctx.app.pool, s.plan_id).await?.filter(|p| p.active) {
            let price = Toman::new(plan.price).unwrap_or_default();
            screen = screen.button(ctx.btn(ctx.ta("btn-renew", &[("price", ctx.money(price))]), Action::Renew(s.id)));
        }
    }
    screen.text = text;
    ctx.show(screen.button(ctx.back(Action::Subscriptions))).await?;
    Ok(())
}

pub async fn qr(ctx: &Ctx<'_>, id: Uuid) -> Result<(), BotError> {
    let s = own(ctx, id).await?;
    let Some(link) = s.sub_url else {
        ctx.ack(Some(ctx.t("qr-unavailable")), true).await?;
        return Ok(());
    };
    ctx.ack(None, false).await?;
    let png = crate::qr::png(&link).map_err(commands::CommandError::Storage)?;
    ctx.send_photo(png, ctx.t("qr-caption")).await?;
    Ok(())
}

pub async fn renew_confirm(ctx: &Ctx<'_>, id: Uuid) -> Result<(), BotError> {
    let s = own(ctx, id).await?;
    let plan = views::plan(&ctx.app.pool, s.plan_id)
        .await?
        .filter(|p| p.active)
        .ok_or(BotError::NotFound)?;
    let text = ctx.ta(
        "renew-confirm",
        &[
            ("name", esc(&s.plan_name)),
            ("days", ctx.num(i64::from(plan.duration_days))),
            ("price", ctx.money(Toman::new(plan.price).unwrap_or_default())),
        ],
    );
    let screen = Screen::new(text).row(vec![
        ctx.btn(
            ctx.t("btn-confirm"),
            Action::ConfirmRenew {
                subscription: id,
                nonce: nonce(),
            },
        ),
        ctx.btn(ctx.t("btn-cancel"), Action::Subscription(id)),
    ]);
    ctx.show(screen).await?;
    Ok(())
}

/// Renews from the wallet, once per confirmation button: a second press
/// (or a redelivered update) shows the subscription instead of renewing again.
pub async fn renew(ctx: &Ctx<'_>, id: Uuid, nonce: [u8; 8]) -> Result<(), BotError> {
    let s = own(ctx, id).await?;
    let key = format!("renew:{id}:{}", u64::from_be_bytes(nonce));
    if !crate::store::once(&ctx.app.pool, &key).await? {
        // A second press of the same confirmation: show where things stand.
        return detail(ctx, id).await;
    }
    ctx.ack(None, false).await?;
    let shown = ctx.show(Screen::new(ctx.t("buy-processing"))).await?;
    let outcome = ctx.app.commands.renew_subscription(&ctx.actor, id, Utc::now()).await?;
    let screen = match outcome {
        PurchaseOutcome::Active { expires_at, .. } => {
            Screen::new(ctx.ta("renew-done", &[("name", esc(&s.plan_name)), ("date", ctx.date(expires_at))]))
        }
        PurchaseOutcome::Failed { reason, .. } => {
            Screen::new(ctx.ta("buy-failed", &[("reason", esc(&reason))])).button(ctx.btn(ctx.t("btn-topup"), Action::TopUp))
        }
    };
    ctx.edit(shown, screen.button(ctx.back(Action::Subscription(id)))).await?;
    Ok(())
}
