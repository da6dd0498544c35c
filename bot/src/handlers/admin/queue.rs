//! `/payments`: the pending-receipt queue — the receipt photo, the expected
//! amount, approve and reject. Deciding is the domain's: a second click or a
//! second admin gets "already handled".
use chrono::{DateTime, Utc};
use commands::CommandError;
use domain::payment::PaymentError;
use domain::{Language, Permission, Toman};
use projections::views;
use teloxide::payloads::{EditMessageCaptionSetters, SendPhotoSetters};
use teloxide::requests::Requester;
use teloxide::types::{ChatId, InputFile, MessageId, ParseMode};
use uuid::Uuid;

use crate::app::{send, BotError, Ctx, Screen};
use crate::callback::Action;
use crate::i18n::{esc, Texts};
use crate::store::Session;

/// What an admin sees about a receipt (also used by the notifier).
#[allow(clippy::too_many_arguments)]
pub fn caption(
    texts: &Texts,
    lang: Language,
    customer: i64,
    username: Option<&str>,
    amount: Toman,
    card: &str,
    holder: &str,
    purpose: &str,
    submitted: DateTime<Utc>,
) -> String {
    let who = match username {
        Some(u) => format!("@{} (<code>{customer}</code>)", esc(u)),
        None => format!("<code>{customer}</code>"),
    };
    texts.get(
        lang,
        "admin-receipt",
        &[
            ("customer", who),
            ("amount", texts.money(lang, amount)),
            ("card", esc(card)),
            ("holder", esc(holder)),
            ("purpose", purpose.to_string()),
            ("date", crate::i18n::date(lang, submitted)),
        ],
    )
}

pub fn purpose(texts: &Texts, lang: Language, purpose: &str, plan: Option<&str>) -> String {
    match (purpose, plan) {
        ("plan_purchase", Some(p)) => esc(p),
        _ => texts.get(lang, "purpose-top-up", &[]),
    }
}

pub async fn show(ctx: &Ctx<'_>) -> Result<(), BotError> {
    ctx.require(Permission::ApproveReceipts)?;
    let queue = views::receipt_queue(&ctx.app.pool, 10).await?;
    if queue.is_empty() {
        ctx.show(Screen::new(ctx.t("admin-queue-empty")).button(ctx.back(Action::AdminMenu)))
            .await?;
        return Ok(());
    }
    let total = views::receipt_queue_len(&ctx.app.pool).await?;
    ctx.show(Screen::new(ctx.ta("admin-queue-title", &[("count", ctx.num(total))])))
        .await?;
    for r in queue {
        let username = views::customer(&ctx.app.pool, r.customer).await?.and_then(|c| c.username);
        let text = caption(
            &ctx.app.texts,
            ctx.lang,
            r.customer,
            username.as_deref(),
            Toman::new(r.amount).unwrap_or_default(),
            r.card_number.as_deref().unwrap_or(""),
            r.card_holder.as_deref().unwrap_or(""),
            &purpose(&ctx.app.texts, ctx.lang, &r.purpose, r.plan_name.as_deref()),
            r.submitted_at.unwrap_or_else(Utc::now),
        );
        let markup = Screen::default()
            .row(vec![
                ctx.btn(ctx.t("btn-approve"), Action::Approve(r.payment_id)),
                ctx.btn(ctx.t("btn-reject"), Action::Reject(r.payment_id)),
            ])
            .markup();
        let file = r.receipt.clone().unwrap_or_default();
        let photo = ctx
            .app
            .tg
            .send_photo(ChatId(ctx.chat), InputFile::file_id(file.into()))
            .caption(text.clone())
            .parse_mode(ParseMode::Html)
            .reply_markup(markup.clone());
        if send(photo).await.is_err() {
            // Not a photo (a PDF receipt, say): the text and buttons still go out.
            let mut s = Screen::new(text);
            s.rows = markup.inline_keyboard;
            ctx.send(s).await?;
        }
    }
    Ok(())
}

/// Shows the decision on the queue message the button was on.
async fn mark(ctx: &Ctx<'_>, text: String) -> Result<(), BotError> {
    if let Some(message) = ctx.message {
        let req = ctx
            .app
            .tg
            .edit_message_caption(ChatId(ctx.chat), MessageId(message))
            .caption(text.clone())
            .parse_mode(ParseMode::Html);
        if send(req).await.is_ok() {
            return Ok(());
        }
        ctx.edit(message, Screen::new(text)).await?;
    } else {
        ctx.send(Screen::new(text)).await?;
    }
    Ok(())
}

fn who(ctx: &Ctx<'_>) -> String {
    ctx.username
        .as_deref()
        .map(|u| format!("@{}", esc(u)))
        .unwrap_or_else(|| esc(&ctx.first_name))
}

async fn already(ctx: &Ctx<'_>, status: &str) -> Result<(), BotError> {
    let status = match status {
        "approved" => ctx.t("pay-approved"),
        "rejected" => ctx.t("pay-rejected"),
        other => esc(other),
    };
    ctx.ack(Some(ctx.ta("admin-already-handled", &[("status", status)])), true).await
}

pub async fn approve(ctx: &Ctx<'_>, payment: Uuid) -> Result<(), BotError> {
    ctx.require(Permission::ApproveReceipts)?;
    match ctx.app.commands.approve_payment(&ctx.actor, payment, Utc::now()).await {
        Ok(()) => {
            ctx.ack(Some(ctx.t("approve-done")), false).await?;
            mark(ctx, ctx.ta("admin-decided-approved", &[("by", who(ctx))])).await
        }
        Err(CommandError::Payment(PaymentError::AlreadyDecided(status))) => already(ctx, status).await,
        Err(e) => Err(e.into()),
    }
}

pub const REASONS: [&str; 4] = ["reason-amount", "reason-unreadable", "reason-duplicate", "reason-missing"];

pub async fn reject_menu(ctx: &Ctx<'_>, payment: Uuid) -> Result<(), BotError> {
    ctx.require(Permission::ApproveReceipts)?;
    if let Some(p) = ctx.app.commands.payment_state(payment).await? {
        use domain::payment::PaymentStatus as S;
        match p.status {
            S::Approved => return already(ctx, "approved").await,
            S::Rejected => return already(ctx, "rejected").await,
            _ => {}
        }
    }
    let mut screen = Screen::new(ctx.t("reject-choose"));
    for (i, key) in REASONS.iter().enumerate() {
        screen = screen.button(ctx.btn(ctx.t(key), Action::RejectWith { payment, reason: i as u8 }));
    }
    ctx.set_session(Session::RejectReason { payment }).await?;
    ctx.send(screen.button(ctx.btn(ctx.t("btn-cancel"), Action::Cancel))).await?;
    Ok(())
}

/// A listed reason, written in the customer's language (they read it).
pub async fn reject_with(ctx: &Ctx<'_>, payment: Uuid, reason: u8) -> Result<(), BotError> {
    ctx.require(Permission::ApproveReceipts)?;
    let key = REASONS.get(reason as usize).ok_or(BotError::NotFound)?;
    let p = ctx.app.commands.payment_state(payment).await?.ok_or(BotError::NotFound)?;
    let lang = match p.customer {
        Some(c) => ctx.app.commands.customer_state(c).await?.map(|c| c.language).unwrap_or_default(),
        None => Language::Fa,
    };
    let text = ctx.app.texts.get(lang, key, &[]);
    reject(ctx, payment, &text).await
}

pub async fn reject(ctx: &Ctx<'_>, payment: Uuid, reason: &str) -> Result<(), BotError> {
    ctx.require(Permission::ApproveReceipts)?;
    ctx.set_session(Session::Idle).await?;
    match ctx
        .app
        .commands
        .reject_payment(&ctx.actor, payment, reason.to_string(), Utc::now())
        .await
    {
        Ok(()) => {
            ctx.ack(Some(ctx.t("reject-done")), false).await?;
            let text = ctx.ta("admin-decided-rejected", &[("by", who(ctx)), ("reason", esc(reason))]);
            let count = views::receipt_queue_len(&ctx.app.pool).await?;
            let next = ctx.btn(ctx.ta("btn-admin-queue", &[("count", ctx.num(count))]), Action::Queue);
            ctx.show(Screen::new(text).button(next)).await?;
            Ok(())
        }
        Err(CommandError::Payment(PaymentError::AlreadyDecided(status))) => {
            if ctx.query.lock().map(|q| q.is_some()).unwrap_or(false) {
                already(ctx, status).await
            } else {
                let status = if status == "approved" {
                    ctx.t("pay-approved")
                } else {
                    ctx.t("pay-rejected")
                };
                ctx.send(Screen::new(ctx.ta("admin-already-handled", &[("status", status)])))
                    .await?;
                Ok(())
            }
        }
        Err(e) => Err(e.into()),
    }
}
