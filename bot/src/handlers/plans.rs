//! `/plans` and the buy flow: location → plan → pay from the wallet (with a
//! confirmation) or by card-to-card (the bot shows the card and the exact
//! amount, then waits for the receipt photo).
use chrono::Utc;
use commands::PurchaseOutcome;
use domain::payment::PaymentPurpose;
use domain::{Location, Toman};
use projections::views::{self, PlanRow};
use uuid::Uuid;

use crate::app::{BotError, Ctx, Screen};
use crate::callback::{location_handle, nonce, Action};
use crate::i18n::esc;

/// Namespace of ids the bot derives (purchases from nonces, payments from updates).
pub const BOT_NS: Uuid = Uuid::from_u128(0x6d726a62_6f74_4000_8000_00000000b047);

/// The id of whatever an update creates: handling the update again names the same thing.
pub fn derived_id(kind: &str, user: i64, seed: &[u8]) -> Uuid {
    let mut name = format!("{kind}:{user}:").into_bytes();
    name.extend_from_slice(seed);
    Uuid::new_v5(&BOT_NS, &name)
}

pub fn traffic(ctx: &Ctx<'_>, gb: i32) -> String {
    if gb == 0 {
        ctx.t("traffic-unlimited")
    } else {
        ctx.ta("traffic-gb", &[("gb", ctx.num(i64::from(gb)))])
    }
}

fn price(p: &PlanRow) -> Toman {
    Toman::new(p.price).unwrap_or_default()
}

async fn active_locations(ctx: &Ctx<'_>) -> Result<Vec<String>, BotError> {
    let mut locations: Vec<String> = Vec::new();
    for p in views::plans(&ctx.app.pool, true).await? {
        for l in p.locations {
            if !locations.iter().any(|x| x.eq_ignore_ascii_case(&l)) {
                locations.push(l);
            }
        }
    }
    locations.sort();
    Ok(locations)
}

async fn location_name(ctx: &Ctx<'_>, handle: [u8; 8]) -> Result<String, BotError> {
    active_locations(ctx)
        .await?
        .into_iter()
        .find(|l| location_handle(l) == handle)
        .ok_or(BotError::NotFound)
}

pub async fn locations(ctx: &Ctx<'_>) -> Result<(), BotError> {
    let locations = active_locations(ctx).await?;
    if locations.is_empty() {
        ctx.show(Screen::new(ctx.t("plans-none")).button(ctx.btn(ctx.t("btn-menu"), Action::Menu)))
            .await?;
        return Ok(());
    }
    let mut screen = Screen::new(ctx.t("plans-choose-location"));
    for pair in locations.chunks(2) {
        screen = screen.row(
            pair.iter()
                .map(|l| ctx.btn(format!("📍 {l}"), Action::Location(location_handle(l))))
                .collect(),
        );
    }
    ctx.show(screen.button(ctx.btn(ctx.t("btn-menu"), Action::Menu))).await?;
    Ok(())
}

pub async fn location(ctx: &Ctx<'_>, handle: [u8; 8]) -> Result<(), BotError> {
    let name = location_name(ctx, handle).await?;
    let mut screen = Screen::new(ctx.ta("plans-in-location", &[("location", esc(&name))]));
    for p in views::plans(&ctx.app.pool, true).await? {
        if !p.locations.iter().any(|l| l.eq_ignore_ascii_case(&name)) {
            continue;
        }
        let label = ctx.ta(
            "plan-button",
            &[
                ("name", p.name.clone()),
                ("days", ctx.num(i64::from(p.duration_days))),
                ("traffic", traffic(ctx, p.traffic_gb)),
                ("price", ctx.money(price(&p))),
            ],
        );
        screen = screen.button(ctx.btn(
            label,
            Action::Plan {
                plan: p.id,
                location: handle,
            },
        ));
    }
    ctx.show(screen.button(ctx.back(Action::Locations))).await?;
    Ok(())
}

async fn offer(ctx: &Ctx<'_>, plan: Uuid, handle: [u8; 8]) -> Result<(PlanRow, String), BotError> {
    let p = views::plan(&ctx.app.pool, plan)
        .await?
        .filter(|p| p.active)
        .ok_or(BotError::NotFound)?;
    let location = p
        .locations
        .iter()
        .find(|l| location_handle(l) == handle)
        .cloned()
        .ok_or(BotError::NotFound)?;
    Ok((p, location))
}

pub async fn plan(ctx: &Ctx<'_>, plan: Uuid, handle: [u8; 8]) -> Result<(), BotError> {
    let (p, location) = match offer(ctx, plan, handle).await {
        Ok(o) => o,
        Err(BotError::NotFound) => {
            ctx.show(Screen::new(ctx.t("plan-unavailable")).button(ctx.back(Action::Locations)))
                .await?;
            return Ok(());
        }
        Err(e) => return Err(e),
    };
    let balance = ctx.app.commands.balance(ctx.customer()).await?;
    let text = ctx.ta(
        "plan-detail",
        &[
            ("name", esc(&p.name)),
            ("location", esc(&location)),
            ("days", ctx.num(i64::from(p.duration_days))),
            ("traffic", traffic(ctx, p.traffic_gb)),
            ("price", ctx.money(price(&p))),
            ("balance", ctx.money(balance)),
        ],
    );
    let screen = Screen::new(text)
        .button(ctx.btn(ctx.t("btn-pay-wallet"), Action::PayWallet { plan, location: handle }))
        .button(ctx.btn(ctx.t("btn-pay-card"), Action::PayCard { plan, location: handle }))
        .button(ctx.back(Action::Location(handle)));
    ctx.show(screen).await?;
    Ok(())
}

/// Pay from the wallet: a confirmation whose button names the purchase.
pub async fn confirm(ctx: &Ctx<'_>, plan: Uuid, handle: [u8; 8]) -> Result<(), BotError> {
    let (p, location) = offer(ctx, plan, handle).await?;
    let balance = ctx.app.commands.balance(ctx.customer()).await?;
    let cost = price(&p);
    let Some(after) = balance.checked_sub(cost) else {
        let missing = cost.checked_sub(balance).unwrap_or(cost);
        let text = ctx.ta(
            "buy-insufficient",
            &[
                ("balance", ctx.money(balance)),
                ("price", ctx.money(cost)),
                ("missing", ctx.money(missing)),
            ],
        );
        let screen = Screen::new(text)
            .button(ctx.btn(ctx.t("btn-pay-card"), Action::PayCard { plan, location: handle }))
            .button(ctx.btn(ctx.t("btn-topup"), Action::TopUp))
            .button(ctx.back(Action::Plan { plan, location: handle }));
        ctx.show(screen).await?;
        return Ok(());
    };
    let text = ctx.ta(
        "buy-confirm",
        &[
            ("name", esc(&p.name)),
            ("location", esc(&location)),
            ("price", ctx.money(cost)),
            ("after", ctx.money(after)),
        ],
    );
    let screen = Screen::new(text).row(vec![
        ctx.btn(
            ctx.t("btn-confirm"),
            Action::ConfirmBuy {
                plan,
                location: handle,
                nonce: nonce(),
            },
        ),
        ctx.btn(ctx.t("btn-cancel"), Action::Plan { plan, location: handle }),
    ]);
    ctx.show(screen).await?;
    Ok(())
}

/// Buys. The subscription id comes from the button's nonce, so a second
/// click (or a redelivered update) returns the first purchase's outcome.
/// Answers at once, then edits the message with the result.
pub async fn buy(ctx: &Ctx<'_>, plan: Uuid, handle: [u8; 8], nonce: [u8; 8]) -> Result<(), BotError> {
    let (p, location) = offer(ctx, plan, handle).await?;
    ctx.ack(None, false).await?;
    let shown = ctx.show(Screen::new(ctx.t("buy-processing"))).await?;
    let subscription = derived_id("buy", ctx.user, &nonce);
    let location = Location::parse(&location).map_err(|_| BotError::NotFound)?;
    let outcome = ctx
        .app
        .commands
        .purchase_plan(&ctx.actor, ctx.customer(), plan, &location, subscription, Utc::now())
        .await?;
    let screen = match outcome {
        PurchaseOutcome::Active { expires_at, .. } => {
            Screen::new(ctx.ta("buy-done", &[("name", esc(&p.name)), ("date", ctx.date(expires_at))]))
                .button(ctx.btn(ctx.t("btn-subscriptions"), Action::Subscription(subscription)))
        }
        PurchaseOutcome::Failed { reason, .. } => Screen::new(ctx.ta("buy-failed", &[("reason", esc(&reason))]))
            .button(ctx.btn(ctx.t("btn-topup"), Action::TopUp))
            .button(ctx.btn(ctx.t("btn-menu"), Action::Menu)),
    };
    ctx.edit(shown, screen).await?;
    Ok(())
}

/// Card-to-card for a plan: a payment of exactly the plan's price.
pub async fn pay_by_card(ctx: &Ctx<'_>, plan: Uuid, handle: [u8; 8]) -> Result<(), BotError> {
    let (p, location) = offer(ctx, plan, handle).await?;
    let location = Location::parse(&location).map_err(|_| BotError::NotFound)?;
    let purpose = ctx.app.commands.plan_purpose(plan, &location).await?;
    let amount = match &purpose {
        PaymentPurpose::PlanPurchase { plan, .. } => plan.price,
        _ => price(&p),
    };
    let id = derived_id("pay", ctx.user, &ctx.update_id.to_be_bytes());
    let payment = ctx
        .app
        .commands
        .create_card_payment_as(id, ctx.customer(), amount, purpose, Utc::now())
        .await?;
    super::payment::show_card_payment(ctx, payment).await
}
