//! `/points` (balance, and redeeming points for a reward with a
//! confirmation whose button names the redemption, so a second click spends
//! nothing more) and `/commission` (read-only, commerce read model).
use chrono::Utc;
use commands::CommandError;
use domain::access::RoleName;
use domain::points::{PointsError, PointsRules, Reward as DomainReward};
use domain::{Permission, Toman};
use projections::commerce_views;
use rust_decimal::prelude::ToPrimitive;
use rust_decimal::Decimal;
use uuid::Uuid;

use super::plans::derived_id;
use crate::app::{BotError, Ctx, Screen};
use crate::callback::{nonce, Action, Reward};
use crate::i18n::esc;

/// Points a discount button spends (its value is points × a point's worth).
const DISCOUNT_POINTS: [u64; 4] = [100, 500, 1_000, 5_000];
const DAYS: [u16; 3] = [1, 7, 30];
const GBS: [u16; 3] = [1, 10, 50];

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
    let screen = Screen::new(text)
        .button(ctx.btn(ctx.t("btn-points-redeem"), Action::RedeemMenu))
        .button(ctx.btn(ctx.t("btn-menu"), Action::Menu));
    ctx.show(screen).await?;
    Ok(())
}

fn to_domain(r: Reward) -> DomainReward {
    match r {
        Reward::Discount(t) => DomainReward::Discount {
            value: Toman::from_int(i64::from(t)).unwrap_or_default(),
        },
        Reward::Vip => DomainReward::Vip,
        Reward::Days { subscription, days } => DomainReward::ExtraDays {
            subscription_id: subscription,
            days: u32::from(days),
        },
        Reward::Traffic { subscription, gb } => DomainReward::Traffic {
            subscription_id: subscription,
            gb: u32::from(gb),
        },
    }
}

/// What the reward is, in words (the subscription by its plan's name).
async fn describe(ctx: &Ctx<'_>, r: Reward) -> Result<String, BotError> {
    let plan = |id: Uuid| async move {
        let s = projections::views::subscription(&ctx.app.pool, id)
            .await?
            .filter(|s| s.customer == ctx.user)
            .ok_or(BotError::NotFound)?;
        Ok::<String, BotError>(esc(&s.plan_name))
    };
    Ok(match r {
        Reward::Discount(t) => ctx.ta(
            "reward-discount",
            &[("value", ctx.money(Toman::from_int(i64::from(t)).unwrap_or_default()))],
        ),
        Reward::Vip => ctx.t("reward-vip"),
        Reward::Days { subscription, days } => ctx.ta(
            "reward-days",
            &[("days", ctx.num(i64::from(days))), ("plan", plan(subscription).await?)],
        ),
        Reward::Traffic { subscription, gb } => ctx.ta(
            "reward-traffic",
            &[("gb", ctx.num(i64::from(gb))), ("plan", plan(subscription).await?)],
        ),
    })
}

fn cost(rules: &PointsRules, r: Reward) -> Option<u64> {
    rules.cost(&to_domain(r)).ok()
}

/// The rewards the points policy offers that the balance pays for.
async fn offers(ctx: &Ctx<'_>, rules: &PointsRules, balance: u64) -> Result<Vec<Reward>, BotError> {
    let mut out = Vec::new();
    let unit: Decimal = rules.toman_per_point.value();
    for points in DISCOUNT_POINTS {
        let value = (Decimal::from(points) * unit).floor().to_u32().unwrap_or(0);
        if value > 0 {
            out.push(Reward::Discount(value));
        }
    }
    let customer = ctx.app.commands.customer_state(ctx.customer()).await?;
    if !customer.is_some_and(|c| c.roles.contains(&RoleName::Vip)) {
        out.push(Reward::Vip);
    }
    for s in projections::views::subscriptions_of(&ctx.app.pool, ctx.user).await? {
        if s.status != "active" {
            continue;
        }
        for days in DAYS {
            out.push(Reward::Days { subscription: s.id, days });
        }
        if s.traffic_gb > 0 {
            for gb in GBS {
                out.push(Reward::Traffic { subscription: s.id, gb });
            }
        }
    }
    out.retain(|r| cost(rules, *r).is_some_and(|c| c > 0 && c <= balance));
    Ok(out)
}

/// "Redeem points": the rewards the balance pays for, each with its cost.
pub async fn redeem_menu(ctx: &Ctx<'_>) -> Result<(), BotError> {
    let rules = ctx.app.commands.points_policy().await?.rules;
    let balance = ctx.app.commands.points_account(ctx.customer()).await?.balance;
    let offers = offers(ctx, &rules, balance).await?;
    let mut screen = Screen::new(ctx.ta(
        if offers.is_empty() { "redeem-none" } else { "redeem-menu" },
        &[("balance", ctx.num(balance as i64))],
    ));
    for r in offers {
        let label = ctx.ta(
            "btn-reward",
            &[
                ("reward", describe(ctx, r).await?),
                ("points", ctx.num(cost(&rules, r).unwrap_or(0) as i64)),
            ],
        );
        screen = screen.button(ctx.btn(label, Action::RedeemPick(r)));
    }
    ctx.show(screen.button(ctx.back(Action::Points))).await?;
    Ok(())
}

/// A reward chosen: what it costs and what is left, with the confirmation.
pub async fn redeem_confirm(ctx: &Ctx<'_>, reward: Reward) -> Result<(), BotError> {
    let rules = ctx.app.commands.points_policy().await?.rules;
    let balance = ctx.app.commands.points_account(ctx.customer()).await?.balance;
    let points = rules.cost(&to_domain(reward)).map_err(CommandError::from)?;
    let Some(after) = balance.checked_sub(points) else {
        let text = ctx.ta(
            "redeem-insufficient",
            &[("balance", ctx.num(balance as i64)), ("points", ctx.num(points as i64))],
        );
        ctx.show(Screen::new(text).button(ctx.back(Action::RedeemMenu))).await?;
        return Ok(());
    };
    let text = ctx.ta(
        "redeem-confirm",
        &[
            ("reward", describe(ctx, reward).await?),
            ("points", ctx.num(points as i64)),
            ("after", ctx.num(after as i64)),
        ],
    );
    let screen = Screen::new(text).row(vec![
        ctx.btn(ctx.t("btn-confirm"), Action::ConfirmRedeem { reward, nonce: nonce() }),
        ctx.btn(ctx.t("btn-cancel"), Action::RedeemMenu),
    ]);
    ctx.show(screen).await?;
    Ok(())
}

/// Confirmed: spends the points once. The redemption's id comes from the
/// button's nonce; a second click (or a redelivered update) is told the
/// reward was already given and spends nothing.
pub async fn redeem(ctx: &Ctx<'_>, reward: Reward, nonce: [u8; 8]) -> Result<(), BotError> {
    let id = derived_id("redeem", ctx.user, &nonce);
    if ctx.app.commands.points_account(ctx.customer()).await?.redemptions.contains_key(&id) {
        return ctx.ack(Some(ctx.t("redeem-already")), true).await;
    }
    let what = describe(ctx, reward).await?;
    let done = match ctx
        .app
        .commands
        .redeem_points_as(id, &ctx.actor, ctx.customer(), to_domain(reward), Utc::now())
        .await
    {
        Ok(done) => done,
        Err(CommandError::Points(PointsError::RedemptionExists)) => return ctx.ack(Some(ctx.t("redeem-already")), true).await,
        Err(CommandError::Points(PointsError::InsufficientPoints { balance, requested })) => {
            let text = ctx.ta(
                "redeem-insufficient",
                &[("balance", ctx.num(balance as i64)), ("points", ctx.num(requested as i64))],
            );
            ctx.show(Screen::new(text).button(ctx.back(Action::Points))).await?;
            return Ok(());
        }
        Err(e) => return Err(e.into()),
    };
    let mut text = ctx.ta("redeem-done", &[("reward", what), ("points", ctx.num(done.points as i64))]);
    if let Some(code) = done.code {
        text.push('\n');
        text.push_str(&ctx.ta("redeem-code", &[("code", esc(&code))]));
    }
    ctx.show(Screen::new(text).button(ctx.btn(ctx.t("btn-points"), Action::Points)))
        .await?;
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
