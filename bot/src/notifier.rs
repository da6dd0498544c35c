//! Tells people what happened, from the backbone's event feed: a payment
//! approved or rejected, a subscription active, ready (with its link and QR
//! code), expiring, expired or cancelled; a seller's withdrawal approved,
//! rejected or paid; and puts each new receipt in front of everyone who may
//! approve it, and each new withdrawal request in front of everyone who may
//! decide it (`adjust_wallets`), with Approve/Reject buttons — every copy
//! edited to show the decision once it is made.
//!
//! Exactly once per event: [`Notifier`] is a feed consumer with its own
//! checkpoint (`bot_notifier`); it writes one `bot_outbox` row per (event,
//! recipient) — keyed, so a replay inserts nothing — in the same transaction
//! that moves its checkpoint. [`Sender`] delivers the outbox, waiting out
//! 429s, and marks each row sent with Telegram's message id. The one window
//! left is a crash after Telegram accepted a message and before the row is
//! marked: that message is sent again on restart (Telegram has no
//! idempotency key to close it).
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use domain::commission::SellerEvent;
use domain::payment::{PaymentEvent, PaymentPurpose};
use domain::subscription::{ChargeKind, SubscriptionEvent};
use domain::{ActorRef, AnyEvent, CustomerId, Language};
use eventstore::StoredEvent;
use serde::{Deserialize, Serialize};
use teloxide::payloads::{EditMessageCaptionSetters, EditMessageTextSetters, SendMessageSetters, SendPhotoSetters};
use teloxide::requests::Requester;
use teloxide::types::{ChatId, InlineKeyboardButton, InlineKeyboardMarkup, InputFile, MessageId, ParseMode};
use teloxide::{ApiError, RequestError};
use tokio::sync::Notify;
use uuid::Uuid;
use workers::{Consumer, FeedError, Shutdown};

use crate::app::App;
use crate::callback::Action;
use crate::handlers::admin::queue;
use crate::handlers::withdraw::{card_shown, seller_label};
use crate::i18n::{esc, Texts};

pub const CHECKPOINT: &str = "bot_notifier";

/// A message the outbox holds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutMessage {
    pub text: String,
    /// Inline buttons: (label, callback data already signed for the recipient).
    #[serde(default)]
    pub buttons: Vec<Vec<(String, String)>>,
    /// Sent as a photo (this file id) with `text` as its caption.
    #[serde(default)]
    pub photo: Option<String>,
    /// A link to send as a QR code after the text.
    #[serde(default)]
    pub qr: Option<String>,
    /// Instead of a new message: edit the message sent for this outbox key
    /// (its text or caption), removing its buttons.
    #[serde(default)]
    pub edit_of: Option<String>,
}

impl OutMessage {
    fn text(text: String) -> OutMessage {
        OutMessage {
            text,
            buttons: Vec::new(),
            photo: None,
            qr: None,
            edit_of: None,
        }
    }
}

/// One row to queue.
#[derive(Debug, Clone, PartialEq)]
pub struct Outgoing {
    pub key: String,
    pub chat: i64,
    pub message: OutMessage,
}

pub struct Notifier {
    pub app: Arc<App>,
    /// Woken after each batch, so the sender does not wait for its poll.
    pub wake: Arc<Notify>,
}

fn texts(app: &App) -> &Texts {
    &app.texts
}

impl Notifier {
    async fn language(&self, id: CustomerId) -> Result<Language, FeedError> {
        Ok(self.app.commands.customer_state(id).await?.map(|c| c.language).unwrap_or_default())
    }

    async fn plan_of(&self, subscription: Uuid) -> Result<(String, String), FeedError> {
        let s = self.app.commands.subscription(subscription).await?;
        Ok((
            s.plan.map(|p| p.name).unwrap_or_default(),
            s.location.map(|l| l.to_string()).unwrap_or_default(),
        ))
    }

    fn who(&self, by: &ActorRef) -> String {
        match by {
            ActorRef::System => "system".into(),
            ActorRef::User(id) => id.to_string(),
        }
    }

    /// The messages `event` causes.
    pub async fn render(&self, event: &StoredEvent) -> Result<Vec<Outgoing>, FeedError> {
        let decoded = AnyEvent::decode(&event.aggregate_type, &event.payload).map_err(|e| FeedError::Malformed(e.to_string()))?;
        let id = || Uuid::parse_str(&event.aggregate_id).map_err(|e| FeedError::Malformed(e.to_string()));
        let t = texts(&self.app);
        let pos = event.position;
        let mut out = Vec::new();
        match decoded {
            AnyEvent::Payment(PaymentEvent::ReceiptSubmitted {
                customer,
                amount,
                file,
                at,
            }) => {
                let payment = id()?;
                let p = self.app.commands.payment_state(payment).await?;
                let (card, holder) = match p.as_ref().and_then(|p| p.method.clone()) {
                    Some(domain::payment::PaymentMethod::CardToCard { card }) => (card.number.to_string(), card.holder),
                    _ => (String::new(), String::new()),
                };
                let plan = match p.as_ref().and_then(|p| p.purpose.clone()) {
                    Some(PaymentPurpose::PlanPurchase { plan, .. }) => Some(plan.name),
                    _ => None,
                };
                let username = projections::views::customer(&self.app.pool, customer.0)
                    .await?
                    .and_then(|c| c.username);
                for admin in projections::views::receipt_approvers(&self.app.pool).await? {
                    let lang = self.language(CustomerId(admin)).await?;
                    let purpose = queue::purpose(
                        t,
                        lang,
                        if plan.is_some() { "plan_purchase" } else { "wallet_top_up" },
                        plan.as_deref(),
                    );
                    let caption = queue::caption(t, lang, customer.0, username.as_deref(), amount, &card, &holder, &purpose, at);
                    let sign = |a: &Action| self.app.signer.sign(admin, a);
                    out.push(Outgoing {
                        key: format!("receipt:{payment}:{admin}:{pos}"),
                        chat: admin,
                        message: OutMessage {
                            text: caption,
                            buttons: vec![vec![
                                (t.get(lang, "btn-approve", &[]), sign(&Action::Approve(payment))),
                                (t.get(lang, "btn-reject", &[]), sign(&Action::Reject(payment))),
                            ]],
                            photo: Some(file.clone()),
                            qr: None,
                            edit_of: None,
                        },
                    });
                }
            }
            AnyEvent::Payment(PaymentEvent::PaymentApproved {
                customer,
                amount,
                purpose,
                by,
                ..
            }) => {
                let payment = id()?;
                let lang = self.language(customer).await?;
                let text = match &purpose {
                    PaymentPurpose::PlanPurchase { plan, .. } => t.get(
                        lang,
                        "notify-approved-plan",
                        &[("amount", t.money(lang, amount)), ("plan", esc(&plan.name))],
                    ),
                    _ => t.get(lang, "notify-approved-topup", &[("amount", t.money(lang, amount))]),
                };
                out.push(Outgoing {
                    key: format!("approved:{payment}"),
                    chat: customer.0,
                    message: OutMessage::text(text),
                });
                out.extend(
                    self.close_queue_items(payment, "admin-decided-approved", &self.who(&by), None)
                        .await?,
                );
            }
            AnyEvent::Payment(PaymentEvent::PaymentRejected { customer, reason, by, .. }) => {
                let payment = id()?;
                let lang = self.language(customer).await?;
                let amount = self
                    .app
                    .commands
                    .payment_state(payment)
                    .await?
                    .map(|p| p.amount)
                    .unwrap_or_default();
                let text = t.get(
                    lang,
                    "notify-rejected",
                    &[("amount", t.money(lang, amount)), ("reason", esc(&reason))],
                );
                out.push(Outgoing {
                    key: format!("rejected:{payment}"),
                    chat: customer.0,
                    message: OutMessage::text(text),
                });
                out.extend(
                    self.close_queue_items(payment, "admin-decided-rejected", &self.who(&by), Some(&reason))
                        .await?,
                );
            }
            AnyEvent::Subscription(SubscriptionEvent::ChargeSettled {
                customer,
                charge_no,
                kind,
                expires_at,
                traffic_gb,
                ..
            }) => {
                let sub = id()?;
                if matches!(kind, ChargeKind::Purchase) && self.bought_in_chat(sub).await? {
                    // The buyer watched it happen in the chat; no second message.
                    return Ok(out);
                }
                let lang = self.language(customer).await?;
                let (plan, location) = self.plan_of(sub).await?;
                let date = crate::i18n::date(lang, expires_at);
                let text = match kind {
                    ChargeKind::Purchase => format!(
                        "{}\n{}",
                        t.get(
                            lang,
                            "notify-sub-active",
                            &[("plan", esc(&plan)), ("location", esc(&location)), ("date", date)]
                        ),
                        t.get(lang, "notify-link-pending", &[])
                    ),
                    ChargeKind::Renewal { .. } => t.get(lang, "notify-sub-renewed", &[("plan", esc(&plan)), ("date", date)]),
                    ChargeKind::Traffic { .. } => {
                        let traffic = if traffic_gb == 0 {
                            t.get(lang, "traffic-unlimited", &[])
                        } else {
                            t.get(lang, "traffic-gb", &[("gb", crate::i18n::number(lang, i64::from(traffic_gb)))])
                        };
                        t.get(lang, "notify-sub-traffic", &[("plan", esc(&plan)), ("traffic", traffic)])
                    }
                };
                out.push(Outgoing {
                    key: format!("settled:{sub}:{charge_no}"),
                    chat: customer.0,
                    message: OutMessage::text(text),
                });
            }
            AnyEvent::Subscription(SubscriptionEvent::ChargeFailed {
                customer,
                charge_no,
                reason,
                ..
            }) => {
                let sub = id()?;
                if charge_no == 1 && self.bought_in_chat(sub).await? {
                    return Ok(out);
                }
                let lang = self.language(customer).await?;
                let (plan, _) = self.plan_of(sub).await?;
                out.push(Outgoing {
                    key: format!("failed:{sub}:{charge_no}"),
                    chat: customer.0,
                    message: OutMessage::text(t.get(lang, "notify-charge-failed", &[("plan", esc(&plan)), ("reason", esc(&reason))])),
                });
            }
            AnyEvent::Subscription(SubscriptionEvent::SubscriptionProvisioned { customer, sub_url, .. }) => {
                let sub = id()?;
                let lang = self.language(customer).await?;
                let (plan, _) = self.plan_of(sub).await?;
                let mut message = OutMessage::text(t.get(lang, "notify-sub-ready", &[("plan", esc(&plan)), ("link", esc(&sub_url))]));
                message.qr = Some(sub_url);
                out.push(Outgoing {
                    key: format!("ready:{sub}:{pos}"),
                    chat: customer.0,
                    message,
                });
            }
            AnyEvent::Subscription(SubscriptionEvent::SubscriptionExpired { customer, .. }) => {
                let sub = id()?;
                let lang = self.language(customer).await?;
                let (plan, _) = self.plan_of(sub).await?;
                out.push(Outgoing {
                    key: format!("expired:{sub}:{pos}"),
                    chat: customer.0,
                    message: OutMessage::text(t.get(lang, "notify-sub-expired", &[("plan", esc(&plan))])),
                });
            }
            AnyEvent::Subscription(SubscriptionEvent::SubscriptionCancelled {
                customer, refund, reason, ..
            }) => {
                let sub = id()?;
                let lang = self.language(customer).await?;
                let (plan, _) = self.plan_of(sub).await?;
                let text = t.get(
                    lang,
                    "notify-sub-cancelled",
                    &[("plan", esc(&plan)), ("reason", esc(&reason)), ("refund", t.money(lang, refund))],
                );
                out.push(Outgoing {
                    key: format!("cancelled:{sub}"),
                    chat: customer.0,
                    message: OutMessage::text(text),
                });
            }
            AnyEvent::Subscription(SubscriptionEvent::TrafficThresholdCrossed { customer, threshold, .. }) => {
                let sub = id()?;
                let lang = self.language(customer).await?;
                let (plan, _) = self.plan_of(sub).await?;
                let text = t.get(
                    lang,
                    "notify-traffic",
                    &[("percent", crate::i18n::number(lang, i64::from(threshold))), ("plan", esc(&plan))],
                );
                out.push(Outgoing {
                    key: format!("traffic:{sub}:{pos}"),
                    chat: customer.0,
                    message: OutMessage::text(text),
                });
            }
            AnyEvent::Seller(SellerEvent::WithdrawalRequested {
                seller,
                withdrawal_id,
                amount,
                card,
                holder,
                at,
                ..
            }) => {
                let username = projections::views::customer(&self.app.pool, seller.0)
                    .await?
                    .and_then(|c| c.username);
                let who = seller_label(username.as_deref(), seller.0);
                for admin in projections::views::permission_holders(&self.app.pool, domain::Permission::AdjustWallets).await? {
                    let lang = self.language(CustomerId(admin)).await?;
                    let text = t.get(
                        lang,
                        "notify-withdrawal-requested",
                        &[
                            ("seller", who.clone()),
                            ("amount", t.money(lang, amount)),
                            ("card", card_shown(card.as_str())),
                            ("holder", esc(&holder)),
                            ("date", crate::i18n::date(lang, at)),
                        ],
                    );
                    let sign = |a: &Action| self.app.signer.sign(admin, a);
                    let mut message = OutMessage::text(text);
                    message.buttons = vec![vec![
                        (t.get(lang, "btn-approve", &[]), sign(&Action::WithdrawalApprove(withdrawal_id))),
                        (t.get(lang, "btn-reject", &[]), sign(&Action::WithdrawalReject(withdrawal_id))),
                    ]];
                    out.push(Outgoing {
                        key: format!("withdrawal-request:{withdrawal_id}:{admin}"),
                        chat: admin,
                        message,
                    });
                }
            }
            AnyEvent::Seller(SellerEvent::WithdrawalApproved {
                seller,
                withdrawal_id,
                amount,
                by,
                ..
            }) => {
                let lang = self.language(seller).await?;
                out.push(Outgoing {
                    key: format!("withdrawal-approved:{withdrawal_id}"),
                    chat: seller.0,
                    message: OutMessage::text(t.get(lang, "notify-withdrawal-approved", &[("amount", t.money(lang, amount))])),
                });
                out.extend(
                    self.close_withdrawal_items(withdrawal_id, "admin-withdrawal-approved", &[("by", self.staff_name(&by).await?)])
                        .await?,
                );
            }
            AnyEvent::Seller(SellerEvent::WithdrawalRejected {
                seller,
                withdrawal_id,
                amount,
                reason,
                by,
                ..
            }) => {
                let lang = self.language(seller).await?;
                let text = t.get(
                    lang,
                    "notify-withdrawal-rejected",
                    &[("amount", t.money(lang, amount)), ("reason", esc(&reason))],
                );
                out.push(Outgoing {
                    key: format!("withdrawal-rejected:{withdrawal_id}"),
                    chat: seller.0,
                    message: OutMessage::text(text),
                });
                out.extend(
                    self.close_withdrawal_items(
                        withdrawal_id,
                        "admin-withdrawal-rejected",
                        &[("by", self.staff_name(&by).await?), ("reason", esc(&reason))],
                    )
                    .await?,
                );
            }
            AnyEvent::Seller(SellerEvent::WithdrawalPaid {
                seller,
                withdrawal_id,
                amount,
                card,
                bank_reference,
                by,
                ..
            }) => {
                let lang = self.language(seller).await?;
                let text = t.get(
                    lang,
                    "notify-withdrawal-paid",
                    &[
                        ("amount", t.money(lang, amount)),
                        ("card", card.masked()),
                        ("reference", esc(&bank_reference)),
                    ],
                );
                out.push(Outgoing {
                    key: format!("withdrawal-paid:{withdrawal_id}"),
                    chat: seller.0,
                    message: OutMessage::text(text),
                });
                out.extend(
                    self.close_withdrawal_items(
                        withdrawal_id,
                        "admin-withdrawal-paid",
                        &[("by", self.staff_name(&by).await?), ("reference", esc(&bank_reference))],
                    )
                    .await?,
                );
            }
            _ => {}
        }
        Ok(out)
    }

    /// Whether the customer bought this subscription themselves in the chat
    /// (then the chat already showed the outcome).
    async fn bought_in_chat(&self, subscription: Uuid) -> Result<bool, FeedError> {
        let events = eventstore::read_aggregate(&self.app.pool, "Subscription", &subscription.to_string()).await?;
        for e in events {
            if let Ok(AnyEvent::Subscription(SubscriptionEvent::SubscriptionRequested { customer, by, .. })) =
                AnyEvent::decode(&e.aggregate_type, &e.payload)
            {
                return Ok(by == ActorRef::User(customer));
            }
        }
        Ok(false)
    }

    /// Edits every admin's copy of a decided receipt: the decision, no buttons.
    async fn close_queue_items(&self, payment: Uuid, key: &str, by: &str, reason: Option<&str>) -> Result<Vec<Outgoing>, FeedError> {
        let items: Vec<(String, i64)> = sqlx::query_as("SELECT dedupe_key, chat_id FROM bot_outbox WHERE dedupe_key LIKE $1")
            .bind(format!("receipt:{payment}:%"))
            .fetch_all(&self.app.pool)
            .await?;
        let mut out = Vec::new();
        for (item, chat) in items {
            let lang = self.language(CustomerId(chat)).await?;
            let mut args = vec![("by", esc(by))];
            if let Some(r) = reason {
                args.push(("reason", esc(r)));
            }
            let mut message = OutMessage::text(self.app.texts.get(lang, key, &args));
            message.edit_of = Some(item.clone());
            out.push(Outgoing {
                key: format!("decided:{item}"),
                chat,
                message,
            });
        }
        Ok(out)
    }

    /// Who decided, as staff see it: `@username` when known, else the id.
    async fn staff_name(&self, by: &ActorRef) -> Result<String, FeedError> {
        if let ActorRef::User(id) = by {
            let customer = projections::views::customer(&self.app.pool, id.0).await?;
            if let Some(u) = customer.and_then(|c| c.username) {
                return Ok(format!("@{}", esc(&u)));
            }
        }
        Ok(esc(&self.who(by)))
    }

    /// Edits every staff copy of a withdrawal request to show the decision
    /// (message `key`) below the request; an approved one keeps Mark paid /
    /// Reject, signed for each recipient.
    async fn close_withdrawal_items(&self, withdrawal: Uuid, key: &str, args: &[(&str, String)]) -> Result<Vec<Outgoing>, FeedError> {
        let items: Vec<(String, i64, Option<String>)> =
            sqlx::query_as("SELECT dedupe_key, chat_id, message->>'text' FROM bot_outbox WHERE dedupe_key LIKE $1")
                .bind(format!("withdrawal-request:{withdrawal}:%"))
                .fetch_all(&self.app.pool)
                .await?;
        let t = texts(&self.app);
        let mut out = Vec::new();
        for (item, chat, original) in items {
            let lang = self.language(CustomerId(chat)).await?;
            let line = t.get(lang, key, args);
            let mut message = OutMessage::text(format!("{}\n\n{line}", original.unwrap_or_default()));
            if key == "admin-withdrawal-approved" {
                let sign = |a: &Action| self.app.signer.sign(chat, a);
                message.buttons = vec![vec![
                    (t.get(lang, "btn-withdrawal-paid", &[]), sign(&Action::WithdrawalPay(withdrawal))),
                    (t.get(lang, "btn-reject", &[]), sign(&Action::WithdrawalReject(withdrawal))),
                ]];
            }
            message.edit_of = Some(item.clone());
            out.push(Outgoing {
                key: format!("{key}:{item}"),
                chat,
                message,
            });
        }
        Ok(out)
    }

    /// Reminders before expiry, three days and one day ahead: once per
    /// subscription, expiry date and step (a renewal moves the date, so the
    /// next period is reminded again). Returns how many were queued.
    pub async fn remind_expiring(&self, now: DateTime<Utc>) -> Result<u64, FeedError> {
        let t = texts(&self.app);
        let mut queued = 0;
        for s in projections::views::expiring(&self.app.pool, now, now + chrono::Duration::days(3)).await? {
            let Some(expires) = s.expires_at else { continue };
            let step = if expires - now <= chrono::Duration::days(1) { "1d" } else { "3d" };
            let lang = self.language(CustomerId(s.customer)).await?;
            let days = (expires - now).num_days().max(0);
            let text = t.get(
                lang,
                "notify-sub-expiring",
                &[
                    ("plan", esc(&s.plan_name)),
                    ("date", crate::i18n::date(lang, expires)),
                    ("days", crate::i18n::number(lang, days)),
                ],
            );
            let row = Outgoing {
                key: format!("expiring:{}:{}:{step}", s.id, expires.timestamp()),
                chat: s.customer,
                message: OutMessage::text(text),
            };
            queued += insert(&self.app.pool, &[row]).await?;
        }
        if queued > 0 {
            self.wake.notify_one();
        }
        Ok(queued)
    }

    pub async fn run_reminders(self: Arc<Self>, interval: Duration, mut shutdown: Shutdown) {
        loop {
            if let Err(e) = self.remind_expiring(Utc::now()).await {
                tracing::warn!(error = %e, "expiry reminders failed");
            }
            tokio::select! {
                _ = tokio::time::sleep(interval) => {},
                _ = shutdown.stopped() => return,
            }
        }
    }
}

async fn insert<'c, E>(conn: E, rows: &[Outgoing]) -> Result<u64, sqlx::Error>
where
    E: sqlx::PgExecutor<'c>,
{
    if rows.is_empty() {
        return Ok(0);
    }
    let keys: Vec<&str> = rows.iter().map(|r| r.key.as_str()).collect();
    let chats: Vec<i64> = rows.iter().map(|r| r.chat).collect();
    let messages: Vec<serde_json::Value> = rows
        .iter()
        .map(|r| serde_json::to_value(&r.message).expect("messages serialize"))
        .collect();
    let done = sqlx::query(
        "INSERT INTO bot_outbox (dedupe_key, chat_id, message) SELECT * FROM UNNEST($1::text[], $2::bigint[], $3::jsonb[]) \
         ON CONFLICT (dedupe_key) DO NOTHING",
    )
    .bind(&keys)
    .bind(&chats)
    .bind(&messages)
    .execute(conn)
    .await?;
    Ok(done.rows_affected())
}

#[async_trait]
impl Consumer for Notifier {
    fn name(&self) -> String {
        CHECKPOINT.to_string()
    }

    async fn checkpoint(&self) -> Result<i64, FeedError> {
        Ok(eventstore::checkpoint(&self.app.pool, CHECKPOINT).await?)
    }

    async fn handle(&self, events: &[StoredEvent]) -> Result<i64, FeedError> {
        let start = self.checkpoint().await?;
        let mut rows: Vec<(i64, Outgoing)> = Vec::new();
        let mut last = start;
        for e in events.iter().filter(|e| e.position > start) {
            if e.position != last + 1 {
                return Err(FeedError::Malformed(format!(
                    "expected position {} but got {}",
                    last + 1,
                    e.position
                )));
            }
            for row in self.render(e).await? {
                rows.push((e.position, row));
            }
            last = e.position;
        }
        let mut tx = self.app.pool.begin().await?;
        let locked = eventstore::lock_checkpoint(&mut tx, CHECKPOINT).await?;
        // Another instance may have moved on meanwhile: keep only what is new.
        let fresh: Vec<Outgoing> = rows.into_iter().filter(|(p, _)| *p > locked).map(|(_, r)| r).collect();
        insert(&mut *tx, &fresh).await?;
        let done = last.max(locked);
        eventstore::set_checkpoint(&mut tx, CHECKPOINT, done).await?;
        tx.commit().await?;
        if !fresh.is_empty() {
            self.wake.notify_one();
        }
        Ok(done)
    }
}

/// Delivers the outbox.
pub struct Sender {
    pub app: Arc<App>,
    pub wake: Arc<Notify>,
}

/// What one delivery attempt ended in.
#[derive(Debug, PartialEq)]
enum Delivery {
    Sent(Option<i32>),
    Later(Duration),
    /// The person blocked the bot or the chat is gone: never retried.
    Gone(String),
    Failed(String),
}

fn markup(buttons: &[Vec<(String, String)>]) -> InlineKeyboardMarkup {
    InlineKeyboardMarkup::new(buttons.iter().map(|row| {
        row.iter()
            .map(|(t, d)| InlineKeyboardButton::callback(t.clone(), d.clone()))
            .collect::<Vec<_>>()
    }))
}

fn classify(e: RequestError) -> Delivery {
    match e {
        RequestError::RetryAfter(s) => Delivery::Later(s.duration()),
        RequestError::Api(ApiError::BotBlocked | ApiError::ChatNotFound | ApiError::UserDeactivated | ApiError::BotKicked) => {
            Delivery::Gone(e.to_string())
        }
        RequestError::Api(ApiError::MessageNotModified) => Delivery::Sent(None),
        other => Delivery::Failed(other.to_string()),
    }
}

impl Sender {
    /// Sends due rows, at most `limit`; returns how many rows it settled.
    pub async fn step(&self, limit: i64) -> Result<usize, sqlx::Error> {
        let rows: Vec<(i64, i64, serde_json::Value, i32)> = sqlx::query_as(
            "UPDATE bot_outbox SET lease_until = now() + interval '60 seconds', attempts = attempts + 1 \
             WHERE id IN (SELECT id FROM bot_outbox WHERE sent_at IS NULL AND failed IS NULL AND not_before <= now() \
             AND (lease_until IS NULL OR lease_until < now()) ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED) \
             RETURNING id, chat_id, message, attempts",
        )
        .bind(limit)
        .fetch_all(&self.app.pool)
        .await?;
        let settled = rows.len();
        let mut sorted = rows;
        sorted.sort_by_key(|r| r.0);
        for (id, chat, message, attempts) in sorted {
            let outcome = match serde_json::from_value::<OutMessage>(message) {
                Ok(m) => self.deliver(chat, &m).await?,
                Err(e) => Delivery::Gone(format!("undecodable: {e}")),
            };
            match outcome {
                Delivery::Sent(message_id) => {
                    sqlx::query("UPDATE bot_outbox SET sent_at = now(), message_id = $2, lease_until = NULL WHERE id = $1")
                        .bind(id)
                        .bind(message_id.map(i64::from))
                        .execute(&self.app.pool)
                        .await?;
                }
                Delivery::Later(wait) => {
                    sqlx::query("UPDATE bot_outbox SET not_before = now() + make_interval(secs => $2), lease_until = NULL WHERE id = $1")
                        .bind(id)
                        .bind(wait.as_secs_f64())
                        .execute(&self.app.pool)
                        .await?;
                }
                Delivery::Gone(reason) => {
                    sqlx::query("UPDATE bot_outbox SET failed = $2, lease_until = NULL WHERE id = $1")
                        .bind(id)
                        .bind(reason)
                        .execute(&self.app.pool)
                        .await?;
                }
                Delivery::Failed(reason) => {
                    // Outages and the like: back off, give up after a day's worth of tries.
                    let wait = 2f64.powi(attempts.min(10)).min(600.0);
                    sqlx::query(
                        "UPDATE bot_outbox SET not_before = now() + make_interval(secs => $2), lease_until = NULL, \
                         failed = CASE WHEN attempts >= 200 THEN $3 END WHERE id = $1",
                    )
                    .bind(id)
                    .bind(wait)
                    .bind(reason)
                    .execute(&self.app.pool)
                    .await?;
                }
            }
        }
        Ok(settled)
    }

    async fn deliver(&self, chat: i64, m: &OutMessage) -> Result<Delivery, sqlx::Error> {
        let tg = &self.app.tg;
        if let Some(target) = &m.edit_of {
            type Target = (Option<i64>, Option<chrono::DateTime<Utc>>, Option<String>, serde_json::Value);
            let sent: Option<Target> = sqlx::query_as("SELECT message_id, sent_at, failed, message FROM bot_outbox WHERE dedupe_key = $1")
                .bind(target)
                .fetch_optional(&self.app.pool)
                .await?;
            return Ok(match sent {
                Some((Some(message_id), Some(_), _, original)) => {
                    let is_photo = original.get("photo").is_some_and(|p| !p.is_null());
                    let result = if is_photo {
                        let original_caption = original["text"].as_str().unwrap_or("").to_string();
                        let mut req = tg
                            .edit_message_caption(ChatId(chat), MessageId(message_id as i32))
                            .caption(format!("{original_caption}\n\n{}", m.text))
                            .parse_mode(ParseMode::Html);
                        if !m.buttons.is_empty() {
                            req = req.reply_markup(markup(&m.buttons));
                        }
                        crate::app::send(req).await.map(|_| ())
                    } else {
                        let mut req = tg
                            .edit_message_text(ChatId(chat), MessageId(message_id as i32), m.text.clone())
                            .parse_mode(ParseMode::Html);
                        if !m.buttons.is_empty() {
                            req = req.reply_markup(markup(&m.buttons));
                        }
                        crate::app::send(req).await.map(|_| ())
                    };
                    match result {
                        Ok(()) => Delivery::Sent(Some(message_id as i32)),
                        Err(e @ RequestError::Api(_)) => match classify(e) {
                            Delivery::Failed(r) => Delivery::Gone(r),
                            other => other,
                        },
                        Err(e) => classify(e),
                    }
                }
                // The message to edit is not sent yet: try again shortly.
                Some((_, None, None, _)) => Delivery::Later(Duration::from_secs(1)),
                _ => Delivery::Gone("nothing to edit".into()),
            });
        }
        let sent = if let Some(photo) = &m.photo {
            let mut req = tg
                .send_photo(ChatId(chat), InputFile::file_id(photo.clone().into()))
                .caption(m.text.clone())
                .parse_mode(ParseMode::Html);
            if !m.buttons.is_empty() {
                req = req.reply_markup(markup(&m.buttons));
            }
            match crate::app::send(req).await {
                Ok(msg) => Ok(msg),
                // Not a photo (a PDF receipt): send the text and buttons alone.
                Err(RequestError::Api(ApiError::WrongFileId | ApiError::Unknown(_))) => {
                    let mut req = tg.send_message(ChatId(chat), m.text.clone()).parse_mode(ParseMode::Html);
                    if !m.buttons.is_empty() {
                        req = req.reply_markup(markup(&m.buttons));
                    }
                    crate::app::send(req).await
                }
                Err(e) => Err(e),
            }
        } else {
            let mut req = tg.send_message(ChatId(chat), m.text.clone()).parse_mode(ParseMode::Html);
            if !m.buttons.is_empty() {
                req = req.reply_markup(markup(&m.buttons));
            }
            crate::app::send(req).await
        };
        let message = match sent {
            Ok(msg) => msg,
            Err(e) => return Ok(classify(e)),
        };
        if let Some(link) = &m.qr {
            if let Ok(png) = crate::qr::png(link) {
                let lang = self
                    .app
                    .commands
                    .customer_state(CustomerId(chat))
                    .await
                    .ok()
                    .flatten()
                    .map(|c| c.language);
                let caption = self.app.texts.get(lang.unwrap_or_default(), "qr-caption", &[]);
                let req = tg
                    .send_photo(ChatId(chat), InputFile::memory(png).file_name("qr.png"))
                    .caption(caption);
                if let Err(e) = crate::app::send(req).await {
                    tracing::warn!(chat, error = %e, "QR code not sent (the link was)");
                }
            }
        }
        Ok(Delivery::Sent(Some(message.id.0)))
    }

    pub async fn run_until_stopped(self, mut shutdown: Shutdown) {
        loop {
            let busy = match self.step(50).await {
                Ok(n) => n > 0,
                Err(e) => {
                    tracing::warn!(error = %e, "outbox step failed");
                    false
                }
            };
            if busy {
                continue;
            }
            tokio::select! {
                _ = self.wake.notified() => {},
                _ = tokio::time::sleep(Duration::from_millis(500)) => {},
                _ = shutdown.stopped() => return,
            }
        }
    }
}
