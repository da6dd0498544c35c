//! `/stats`, `/reports` (money per day from the `daily_totals` read model)
//! and `/servers` (the panels read model; managing panels from the bot is
//! not built yet).
use chrono::{Duration, Utc};
use domain::Permission;
use projections::views;

use crate::app::{BotError, Ctx, Screen};
use crate::callback::Action;
use crate::i18n::esc;

pub async fn stats(ctx: &Ctx<'_>) -> Result<(), BotError> {
    ctx.require(Permission::ViewReports)?;
    let pool = &ctx.app.pool;
    let (customers, blocked) = views::customer_counts(pool).await?;
    let active = views::subscription_counts(pool)
        .await?
        .into_iter()
        .find(|(s, _)| s == "active")
        .map(|(_, n)| n)
        .unwrap_or(0);
    let queue = views::receipt_queue_len(pool).await?;
    let today = Utc::now().date_naive();
    let day = views::daily_totals(pool, today).await?.into_iter().next();
    let text = ctx.ta(
        "stats",
        &[
            ("customers", ctx.num(customers)),
            ("blocked", ctx.num(blocked)),
            ("active", ctx.num(active)),
            ("queue", ctx.num(queue)),
            ("payments", ctx.num(day.as_ref().map_or(0, |d| d.payments_approved_count))),
            (
                "approved",
                ctx.money_dec(day.as_ref().map_or_else(Default::default, |d| d.payments_approved_total)),
            ),
            ("sales", ctx.num(day.as_ref().map_or(0, |d| d.sales_count))),
            ("sold", ctx.money_dec(day.as_ref().map_or_else(Default::default, |d| d.sales_total))),
        ],
    );
    ctx.show(Screen::new(text).button(ctx.back(Action::AdminMenu))).await?;
    Ok(())
}

pub async fn reports(ctx: &Ctx<'_>, days: u8) -> Result<(), BotError> {
    ctx.require(Permission::ViewReports)?;
    let days = days.clamp(1, 90);
    let since = Utc::now().date_naive() - Duration::days(i64::from(days) - 1);
    let rows = views::daily_totals(&ctx.app.pool, since).await?;
    let mut text = ctx.ta("reports-title", &[("days", ctx.num(i64::from(days)))]);
    if rows.is_empty() {
        text.push('\n');
        text.push_str(&ctx.t("reports-empty"));
    }
    for r in rows {
        let at = r.day.and_hms_opt(12, 0, 0).expect("noon").and_utc();
        text.push('\n');
        text.push_str(&ctx.ta(
            "report-line",
            &[
                ("date", ctx.date(at)),
                ("approved", ctx.money_dec(r.payments_approved_total)),
                ("sales", ctx.money_dec(r.sales_total)),
                ("count", ctx.num(r.sales_count)),
                ("refunds", ctx.money_dec(r.refunds_total)),
            ],
        ));
    }
    let screen = Screen::new(text)
        .row(vec![
            ctx.btn(ctx.ta("btn-days", &[("days", ctx.num(7))]), Action::Reports(7)),
            ctx.btn(ctx.ta("btn-days", &[("days", ctx.num(30))]), Action::Reports(30)),
        ])
        .button(ctx.back(Action::AdminMenu));
    ctx.show(screen).await?;
    Ok(())
}

pub async fn servers(ctx: &Ctx<'_>) -> Result<(), BotError> {
    ctx.require(Permission::ViewReports)?;
    let panels = views::panels(&ctx.app.pool).await?;
    let mut text = ctx.t("servers");
    if panels.is_empty() {
        text.push('\n');
        text.push_str(&ctx.t("servers-none"));
    }
    for p in panels {
        let health = if !p.enabled {
            ctx.t("server-disabled")
        } else if p.healthy {
            ctx.t("server-healthy")
        } else {
            ctx.t("server-unhealthy")
        };
        text.push('\n');
        text.push_str(&ctx.ta(
            "server-line",
            &[
                ("name", esc(&p.name)),
                ("location", esc(&p.location)),
                ("health", health),
                ("clients", ctx.num(i64::from(p.clients))),
                ("capacity", ctx.num(i64::from(p.capacity))),
            ],
        ));
    }
    text.push_str("\n\n");
    text.push_str(&ctx.t("servers-note"));
    ctx.show(Screen::new(text).button(ctx.back(Action::AdminMenu))).await?;
    Ok(())
}
