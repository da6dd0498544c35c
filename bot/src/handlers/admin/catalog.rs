//! `/settings` (the plan catalog: add, reprice, retire; with the feature
//! toggles of [`super::features`] below it for `manage_settings`) and
//! `/cards` (bank cards that receive card-to-card payments: add, retire).
use chrono::Utc;
use domain::plan::PlanSpec;
use domain::{CardNumber, Location, Permission, Toman};
use projections::views;
use uuid::Uuid;

use crate::app::{BotError, Ctx, Screen};
use crate::callback::Action;
use crate::i18n::{ascii_digits, esc};
use crate::store::Session;

/// `/settings`: the plan catalog (`manage_plans`) and the feature toggles
/// (`manage_settings`), each shown only to who holds its permission.
pub async fn plans(ctx: &Ctx<'_>) -> Result<(), BotError> {
    let (catalog, toggles) = (ctx.has(Permission::ManagePlans), ctx.has(Permission::ManageSettings));
    if !catalog && !toggles {
        return Err(BotError::Denied(Permission::ManagePlans));
    }
    let mut text = String::new();
    let mut screen = Screen::default();
    if catalog {
        text = ctx.t("settings");
        for p in views::plans(&ctx.app.pool, false).await? {
            text.push('\n');
            text.push_str(&ctx.ta(
                "plan-line",
                &[
                    ("name", esc(&p.name)),
                    ("days", ctx.num(i64::from(p.duration_days))),
                    ("traffic", super::super::plans::traffic(ctx, p.traffic_gb)),
                    ("price", ctx.money_dec(p.price)),
                    ("locations", esc(&p.locations.join(", "))),
                    ("state", if p.active { ctx.t("plan-on-sale") } else { ctx.t("plan-retired") }),
                ],
            ));
            if p.active {
                screen = screen.row(vec![
                    ctx.btn(ctx.ta("btn-plan-price", &[("name", p.name.clone())]), Action::PlanPrice(p.id)),
                    ctx.btn(ctx.ta("btn-plan-retire", &[("name", p.name.clone())]), Action::PlanRetire(p.id)),
                ]);
            }
        }
        ctx.set_session(Session::AddPlan).await?;
    }
    if toggles {
        let (section, rows) = super::features::section(ctx).await?;
        if !text.is_empty() {
            text.push_str("\n\n");
        }
        text.push_str(&section);
        screen.rows.extend(rows);
    }
    screen.text = text;
    ctx.show(screen.button(ctx.back(Action::AdminMenu))).await?;
    Ok(())
}

fn parse_plan(text: &str) -> Result<PlanSpec, String> {
    let parts: Vec<&str> = text.split('|').map(str::trim).collect();
    let [name, days, gb, price, locations] = parts.as_slice() else {
        return Err("5 parts separated by |".into());
    };
    let days: u32 = ascii_digits(days).parse().map_err(|_| format!("days: {days}"))?;
    let gb: u32 = ascii_digits(gb).parse().map_err(|_| format!("GB: {gb}"))?;
    let price = Toman::positive(price.parse::<Toman>().map_err(|e| e.to_string())?.value()).map_err(|e| e.to_string())?;
    let locations = locations
        .split([',', '،'])
        .map(Location::parse)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| e.to_string())?;
    Ok(PlanSpec {
        name: name.to_string(),
        duration_days: days,
        traffic_gb: gb,
        price,
        locations,
    })
}

pub async fn add_plan(ctx: &Ctx<'_>, text: &str) -> Result<(), BotError> {
    ctx.require(Permission::ManagePlans)?;
    let spec = match parse_plan(text) {
        Ok(s) => s,
        Err(detail) => {
            ctx.send(Screen::new(ctx.ta("plan-format-invalid", &[("detail", esc(&detail))])))
                .await?;
            return Ok(());
        }
    };
    let name = spec.name.clone();
    ctx.app.commands.create_plan(&ctx.actor, spec, Utc::now()).await?;
    ctx.set_session(Session::Idle).await?;
    ctx.send(Screen::new(ctx.ta("plan-added", &[("name", esc(&name))])).button(ctx.back(Action::Settings)))
        .await?;
    Ok(())
}

pub async fn price_prompt(ctx: &Ctx<'_>, plan: Uuid) -> Result<(), BotError> {
    ctx.require(Permission::ManagePlans)?;
    let p = views::plan(&ctx.app.pool, plan).await?.ok_or(BotError::NotFound)?;
    ctx.set_session(Session::PlanPrice { plan }).await?;
    ctx.send(Screen::new(ctx.ta("plan-price-prompt", &[("name", esc(&p.name))])))
        .await?;
    Ok(())
}

pub async fn set_price(ctx: &Ctx<'_>, plan: Uuid, text: &str) -> Result<(), BotError> {
    ctx.require(Permission::ManagePlans)?;
    let price = match text.parse::<Toman>().ok().filter(|t| !t.is_zero()) {
        Some(p) => p,
        None => {
            ctx.send(Screen::new(ctx.t("topup-invalid"))).await?;
            return Ok(());
        }
    };
    let p = views::plan(&ctx.app.pool, plan).await?.ok_or(BotError::NotFound)?;
    ctx.app.commands.change_plan_price(&ctx.actor, plan, price, Utc::now()).await?;
    ctx.set_session(Session::Idle).await?;
    let text = ctx.ta("plan-price-done", &[("name", esc(&p.name)), ("price", ctx.money(price))]);
    ctx.send(Screen::new(text).button(ctx.back(Action::Settings))).await?;
    Ok(())
}

pub async fn retire(ctx: &Ctx<'_>, plan: Uuid) -> Result<(), BotError> {
    ctx.require(Permission::ManagePlans)?;
    let p = views::plan(&ctx.app.pool, plan).await?.ok_or(BotError::NotFound)?;
    ctx.app.commands.retire_plan(&ctx.actor, plan, Utc::now()).await?;
    ctx.show(Screen::new(ctx.ta("plan-retire-done", &[("name", esc(&p.name))])).button(ctx.back(Action::Settings)))
        .await?;
    Ok(())
}

pub async fn cards(ctx: &Ctx<'_>) -> Result<(), BotError> {
    ctx.require(Permission::ManageCards)?;
    let mut text = ctx.t("cards-admin");
    let mut screen = Screen::default();
    for c in views::cards(&ctx.app.pool).await? {
        let number = CardNumber::parse(&c.number).map(|n| n.to_string()).unwrap_or(c.number.clone());
        text.push('\n');
        text.push_str(&ctx.ta(
            "card-line",
            &[
                ("number", number),
                ("holder", esc(&c.holder)),
                ("state", if c.active { ctx.t("card-active") } else { ctx.t("card-retired") }),
                ("count", ctx.num(c.received_count)),
                ("total", ctx.money_dec(c.received_total)),
            ],
        ));
        if c.active {
            let last4 = c
                .number
                .chars()
                .rev()
                .take(4)
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
                .collect::<String>();
            screen = screen.button(ctx.btn(ctx.ta("btn-card-retire", &[("last4", last4)]), Action::CardRetire(c.id)));
        }
    }
    screen.text = text;
    ctx.set_session(Session::AddCard).await?;
    ctx.show(screen.button(ctx.back(Action::AdminMenu))).await?;
    Ok(())
}

pub async fn add_card(ctx: &Ctx<'_>, text: &str) -> Result<(), BotError> {
    ctx.require(Permission::ManageCards)?;
    let parts: Vec<&str> = text.split('|').map(str::trim).collect();
    let parsed = match parts.as_slice() {
        [number, holder, bank] | [number, holder, bank, ..] => CardNumber::parse(number)
            .map(|n| (n, holder.to_string(), Some(bank.to_string()).filter(|b| !b.is_empty())))
            .map_err(|e| e.to_string()),
        [number, holder] => CardNumber::parse(number)
            .map(|n| (n, holder.to_string(), None))
            .map_err(|e| e.to_string()),
        _ => Err("number | holder | bank".to_string()),
    };
    let (number, holder, bank) = match parsed {
        Ok(p) if !p.1.is_empty() => p,
        Ok(_) => {
            ctx.send(Screen::new(ctx.ta("card-format-invalid", &[("detail", "holder".into())])))
                .await?;
            return Ok(());
        }
        Err(detail) => {
            ctx.send(Screen::new(ctx.ta("card-format-invalid", &[("detail", esc(&detail))])))
                .await?;
            return Ok(());
        }
    };
    let shown = number.masked();
    ctx.app.commands.add_card(&ctx.actor, number, holder, bank, Utc::now()).await?;
    ctx.set_session(Session::Idle).await?;
    ctx.send(Screen::new(ctx.ta("card-added", &[("number", shown)])).button(ctx.back(Action::Cards)))
        .await?;
    Ok(())
}

pub async fn retire_card(ctx: &Ctx<'_>, card: Uuid) -> Result<(), BotError> {
    ctx.require(Permission::ManageCards)?;
    let c = views::cards(&ctx.app.pool)
        .await?
        .into_iter()
        .find(|c| c.id == card)
        .ok_or(BotError::NotFound)?;
    ctx.app.commands.retire_card(&ctx.actor, card, Utc::now()).await?;
    let shown = CardNumber::parse(&c.number).map(|n| n.masked()).unwrap_or(c.number);
    ctx.show(Screen::new(ctx.ta("card-retire-done", &[("number", shown)])).button(ctx.back(Action::Cards)))
        .await?;
    Ok(())
}
