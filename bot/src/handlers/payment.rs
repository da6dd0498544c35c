//! `/payment` (a customer's payments), the card-to-card screen, and the
//! receipt photo that follows it.
use chrono::Utc;
use domain::payment::{PaymentMethod, PaymentPurpose, PaymentStatus};
use projections::views;
use uuid::Uuid;

use crate::app::{BotError, Ctx, Screen};
use crate::callback::Action;
use crate::i18n::esc;
use crate::store::Session;

fn purpose_text(ctx: &Ctx<'_>, purpose: &Option<PaymentPurpose>) -> String {
    match purpose {
        Some(PaymentPurpose::PlanPurchase { plan, location }) => {
            ctx.ta("purpose-plan", &[("plan", esc(&plan.name)), ("location", esc(location.as_str()))])
        }
        _ => ctx.t("purpose-top-up"),
    }
}

/// The card and the exact amount to transfer, then: "send the receipt photo".
/// Read from the payment's events, so it is right the moment it is created.
pub async fn show_card_payment(ctx: &Ctx<'_>, payment: Uuid) -> Result<(), BotError> {
    let p = ctx.app.commands.payment_state(payment).await?.ok_or(BotError::NotFound)?;
    if p.customer != Some(ctx.customer()) {
        return Err(BotError::NotFound);
    }
    let Some(PaymentMethod::CardToCard { card }) = &p.method else {
        return Err(BotError::NotFound);
    };
    let bank = views::cards(&ctx.app.pool)
        .await?
        .into_iter()
        .find(|c| c.id == card.card_id)
        .and_then(|c| c.bank)
        .map(|b| format!(" — {}", esc(&b)))
        .unwrap_or_default();
    let text = ctx.ta(
        "card-payment",
        &[
            ("purpose", purpose_text(ctx, &p.purpose)),
            ("amount", ctx.money(p.amount)),
            ("plain", p.amount.value().to_string()),
            ("card", card.number.to_string()),
            ("holder", esc(&card.holder)),
            ("bank", bank),
        ],
    );
    ctx.set_session(Session::Receipt { payment }).await?;
    ctx.show(Screen::new(text).button(ctx.btn(ctx.t("btn-cancel"), Action::Cancel)))
        .await?;
    Ok(())
}

fn status_text(ctx: &Ctx<'_>, status: &str) -> String {
    match status {
        "awaiting_receipt" => ctx.t("pay-awaiting_receipt"),
        "awaiting_review" => ctx.t("pay-awaiting_review"),
        "approved" => ctx.t("pay-approved"),
        "rejected" => ctx.t("pay-rejected"),
        other => ctx.ta("pay-other", &[("status", esc(other))]),
    }
}

pub async fn list(ctx: &Ctx<'_>) -> Result<(), BotError> {
    let payments = views::payments_of(&ctx.app.pool, ctx.user, 10).await?;
    if payments.is_empty() {
        ctx.show(Screen::new(ctx.t("payments-none")).button(ctx.btn(ctx.t("btn-menu"), Action::Menu)))
            .await?;
        return Ok(());
    }
    let mut text = ctx.t("payments-title");
    let mut screen = Screen::default();
    for p in &payments {
        let purpose = if p.purpose == "plan_purchase" {
            ctx.ta(
                "purpose-plan",
                &[
                    ("plan", esc(&plan_name(ctx, p.plan_id).await?)),
                    ("location", esc(p.location.as_deref().unwrap_or(""))),
                ],
            )
        } else {
            ctx.t("purpose-top-up")
        };
        text.push('\n');
        text.push_str(&ctx.ta(
            "payment-line",
            &[
                ("date", ctx.date(p.created_at)),
                ("amount", ctx.money_dec(p.amount)),
                ("purpose", purpose),
                ("status", status_text(ctx, &p.status)),
            ],
        ));
        if let Some(reason) = &p.reject_reason {
            text.push_str("\n   ");
            text.push_str(&ctx.ta("pay-rejected-reason", &[("reason", esc(reason))]));
        }
        if p.status == "awaiting_receipt" && p.method == "card_to_card" {
            screen = screen.button(ctx.btn(
                ctx.ta("btn-send-receipt", &[("amount", ctx.money_dec(p.amount))]),
                Action::SendReceipt(p.id),
            ));
        }
    }
    screen.text = text;
    ctx.show(screen.button(ctx.btn(ctx.t("btn-menu"), Action::Menu))).await?;
    Ok(())
}

async fn plan_name(ctx: &Ctx<'_>, plan: Option<Uuid>) -> Result<String, BotError> {
    Ok(match plan {
        Some(id) => views::plan(&ctx.app.pool, id).await?.map(|p| p.name).unwrap_or_default(),
        None => String::new(),
    })
}

/// "Send receipt" on a payment: checks it is this person's and still waiting.
pub async fn send_receipt(ctx: &Ctx<'_>, payment: Uuid) -> Result<(), BotError> {
    let p = ctx.app.commands.payment_state(payment).await?.ok_or(BotError::NotFound)?;
    if p.customer != Some(ctx.customer()) {
        return Err(BotError::NotFound);
    }
    if p.status != PaymentStatus::AwaitingReceipt {
        let status = match p.status {
            PaymentStatus::Approved => "approved",
            PaymentStatus::Rejected => "rejected",
            PaymentStatus::AwaitingReview => "awaiting_review",
            _ => "other",
        };
        ctx.show(Screen::new(ctx.ta("receipt-decided", &[("status", status_text(ctx, status))])))
            .await?;
        return Ok(());
    }
    show_card_payment(ctx, payment).await
}

/// A photo or document: the receipt of the payment the bot is waiting for.
pub async fn on_file(ctx: &Ctx<'_>, file_id: String) -> Result<(), BotError> {
    let payment = match ctx.session().await? {
        Session::Receipt { payment } => Some(payment),
        _ => {
            // Exactly one payment waiting for a receipt: that one.
            let waiting: Vec<Uuid> = views::payments_of(&ctx.app.pool, ctx.user, 20)
                .await?
                .into_iter()
                .filter(|p| p.status == "awaiting_receipt" && p.method == "card_to_card")
                .map(|p| p.id)
                .collect();
            (waiting.len() == 1).then(|| waiting[0])
        }
    };
    let Some(payment) = payment else {
        ctx.send(Screen::new(ctx.t("receipt-unexpected"))).await?;
        return Ok(());
    };
    ctx.app.commands.submit_receipt(&ctx.actor, payment, file_id, Utc::now()).await?;
    ctx.set_session(Session::Idle).await?;
    ctx.send(Screen::new(ctx.t("receipt-received")).button(ctx.btn(ctx.t("btn-payments"), Action::Payments)))
        .await?;
    Ok(())
}
