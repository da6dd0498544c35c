//! `/subscriptions`: counts by status, a customer's subscriptions, and
//! cancellation with or without a refund.
use chrono::Utc;
use domain::{Permission, Toman};
use projections::views;
use uuid::Uuid;

use crate::app::{BotError, Ctx, Screen};
use crate::callback::Action;
use crate::i18n::esc;
use crate::store::Session;

pub async fn overview(ctx: &Ctx<'_>) -> Result<(), BotError> {
    ctx.require(Permission::ManageSubscriptions)?;
    let counts = views::subscription_counts(&ctx.app.pool).await?;
    let count = |s: &str| counts.iter().find(|(k, _)| k == s).map(|(_, n)| *n).unwrap_or(0);
    let text = ctx.ta(
        "subs-admin",
        &[
            ("active", ctx.num(count("active"))),
            ("pending", ctx.num(count("pending"))),
            ("expired", ctx.num(count("expired"))),
            ("cancelled", ctx.num(count("cancelled"))),
        ],
    );
    ctx.set_session(Session::SubsOfCustomer).await?;
    ctx.show(Screen::new(text).button(ctx.back(Action::AdminMenu))).await?;
    Ok(())
}

pub async fn of_customer(ctx: &Ctx<'_>, query: &str) -> Result<(), BotError> {
    ctx.require(Permission::ManageSubscriptions)?;
    let query = crate::i18n::ascii_digits(query);
    let Some(c) = views::find_customer(&ctx.app.pool, &query).await? else {
        ctx.send(Screen::new(ctx.ta("user-not-found", &[("query", esc(&query))]))).await?;
        return Ok(());
    };
    ctx.set_session(Session::Idle).await?;
    let mut text = ctx.ta("subs-admin-customer", &[("id", c.telegram_id.to_string())]);
    let mut screen = Screen::default();
    for s in views::subscriptions_of(&ctx.app.pool, c.telegram_id).await? {
        text.push('\n');
        text.push_str(&ctx.ta(
            "sub-admin-line",
            &[
                ("name", esc(&s.plan_name)),
                ("location", esc(&s.location)),
                ("status", crate::handlers::subscription::status(ctx, &s.status)),
                ("paid", ctx.money_dec(s.paid)),
            ],
        ));
        if matches!(s.status.as_str(), "active" | "expired") && s.pending_charge.is_none() {
            let refundable = Toman::new(s.paid - s.refunded).unwrap_or_default();
            screen = screen.row(vec![
                ctx.btn(
                    ctx.ta("btn-cancel-refund", &[("amount", ctx.money(refundable))]),
                    Action::CancelSub {
                        subscription: s.id,
                        refund: true,
                    },
                ),
                ctx.btn(
                    ctx.t("btn-cancel-norefund"),
                    Action::CancelSub {
                        subscription: s.id,
                        refund: false,
                    },
                ),
            ]);
        }
    }
    screen.text = text;
    ctx.send(screen.button(ctx.back(Action::AdminSubs))).await?;
    Ok(())
}

pub async fn cancel_prompt(ctx: &Ctx<'_>, subscription: Uuid, refund: bool) -> Result<(), BotError> {
    ctx.require(Permission::ManageSubscriptions)?;
    let s = views::subscription(&ctx.app.pool, subscription).await?.ok_or(BotError::NotFound)?;
    let amount = if refund {
        Toman::new(s.paid - s.refunded).unwrap_or_default()
    } else {
        Toman::ZERO
    };
    ctx.set_session(Session::CancelReason {
        subscription,
        refund: amount.value().to_string(),
    })
    .await?;
    ctx.send(Screen::new(ctx.ta("cancel-reason-prompt", &[("refund", ctx.money(amount))])))
        .await?;
    Ok(())
}

pub async fn cancel(ctx: &Ctx<'_>, subscription: Uuid, refund: &str, reason: &str) -> Result<(), BotError> {
    ctx.require(Permission::ManageSubscriptions)?;
    let refund: Toman = refund.parse().map_err(|_| BotError::NotFound)?;
    ctx.set_session(Session::Idle).await?;
    ctx.app
        .commands
        .cancel_subscription(&ctx.actor, subscription, refund, reason.trim().to_string(), Utc::now())
        .await?;
    ctx.send(Screen::new(ctx.ta("cancel-done", &[("refund", ctx.money(refund))])).button(ctx.back(Action::AdminSubs)))
        .await?;
    Ok(())
}
