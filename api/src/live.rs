//! Live updates: a task follows the event feed, waits until the read models
//! include each batch, then invalidates the caches the batch affects and
//! tells connected clients (Server-Sent Events at `GET /api/live`), each only
//! what they may see. A client that hears of an event and refetches reads
//! rows that already include it.
//!
//! The task starts at the store's head: live updates are about what happens
//! from now on; a client loads the current state with the ordinary routes.
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use chrono::{DateTime, Utc};
use domain::customer::CustomerEvent;
use domain::payment::PaymentEvent;
use domain::staff::StaffEvent;
use domain::wallet::WalletEvent;
use domain::{AnyEvent, Permission};
use eventstore::StoredEvent;
use futures::Stream;
use serde::Serialize;
use tokio::sync::broadcast::error::RecvError;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;
use workers::{Feed, FeedError, Shutdown};

use crate::auth::{sessions, AuthUser, SessionKind};
use crate::AppState;

/// The read models the API reads; a batch is announced once all include it.
pub const READ_MODELS: &[&str] = &[
    "customers",
    "roles",
    "plans",
    "cards",
    "payments",
    "pending_receipts",
    "subscriptions",
    "wallet_ledger",
    "daily_totals",
    "staff_accounts",
    "receipt_readings",
    "sales",
    "support_chats",
    "support_messages",
];

/// One update as clients receive it (the SSE `event:` is `kind`, `id:` is `position`).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct LiveEvent {
    /// `receipt_submitted`, `payment_decided`, `payment_changed`, `wallet_changed`,
    /// `subscription_changed`, `customer_changed`, `plans_changed`, `panel_health`, `staff_changed`,
    /// `features_changed`, `license_changed`, `chat_changed`, `chat_message`.
    pub kind: String,
    /// The event's global position.
    pub position: i64,
    pub at: DateTime<Utc>,
    #[schema(value_type = Object)]
    pub data: serde_json::Value,
    #[serde(skip)]
    pub audience: Audience,
}

/// Who may hear of an event: holders of any of `permissions` (staff
/// sessions), the customer it is about, the `people` named (a chat's agent),
/// or everyone signed in.
#[derive(Debug, Clone, Default)]
pub struct Audience {
    pub permissions: Vec<Permission>,
    pub customer: Option<i64>,
    pub people: Vec<i64>,
    pub everyone: bool,
}

impl Audience {
    fn staff(permissions: &[Permission], customer: Option<i64>) -> Audience {
        Audience {
            permissions: permissions.to_vec(),
            customer,
            people: Vec::new(),
            everyone: false,
        }
    }

    /// Only these people (any session of theirs).
    fn people(people: Vec<i64>) -> Audience {
        Audience {
            people,
            ..Audience::default()
        }
    }

    pub fn admits(&self, user: &AuthUser) -> bool {
        self.everyone
            || self.customer == Some(user.id.0)
            || self.people.contains(&user.id.0)
            || (user.kind == SessionKind::Staff && self.permissions.iter().any(|p| user.actor.has(*p)))
    }
}

/// Follows `feed` until `shutdown`, resubscribing after errors.
pub async fn run(state: AppState, feed: Arc<dyn Feed>, mut shutdown: Shutdown) {
    let mut position = match eventstore::head(&state.pool).await {
        Ok(p) => p,
        Err(e) => {
            tracing::warn!(error = %e, "live: cannot read the head; starting from 0");
            0
        }
    };
    let mut failures: u32 = 0;
    while !shutdown.is_stopped() {
        let result: Result<(), FeedError> = async {
            let mut subscription = feed.subscribe("api-live", position).await?;
            loop {
                let batch = tokio::select! {
                    b = subscription.next_batch(500, Duration::from_secs(1)) => b?,
                    _ = shutdown.stopped() => return Ok(()),
                };
                let Some(last) = batch.last().map(|e| e.position) else { continue };
                wait_for_read_models(&state, last).await;
                for event in &batch {
                    handle(&state, event).await;
                }
                subscription.ack(last).await?;
                position = last;
                failures = 0;
            }
        }
        .await;
        if let Err(e) = result {
            failures += 1;
            let backoff = Duration::from_millis(100 * u64::from(failures.min(50)));
            tracing::warn!(error = %e, ?backoff, "live feed failed; resubscribing");
            tokio::select! {
                _ = tokio::time::sleep(backoff) => {},
                _ = shutdown.stopped() => return,
            }
        }
    }
}

async fn wait_for_read_models(state: &AppState, position: i64) {
    let names: Vec<String> = READ_MODELS.iter().map(|s| s.to_string()).collect();
    let deadline = tokio::time::Instant::now() + state.config.projection_wait;
    loop {
        let slowest: Result<Option<i64>, sqlx::Error> = sqlx::query_scalar(
            "SELECT min(coalesce(c.position, 0)) FROM unnest($1::text[]) AS n(name) LEFT JOIN checkpoints c USING (name)",
        )
        .bind(&names)
        .fetch_one(&state.pool)
        .await;
        match slowest {
            Ok(Some(p)) if p >= position => return,
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "live: cannot read checkpoints"),
        }
        if tokio::time::Instant::now() >= deadline {
            tracing::warn!(position, "live: read models are behind; announcing anyway");
            return;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

fn send(state: &AppState, event: &StoredEvent, kind: &str, audience: Audience, data: serde_json::Value) {
    // No receivers is fine: nobody is connected.
    let _ = state.live.send(LiveEvent {
        kind: kind.to_string(),
        position: event.position,
        at: event.recorded_at,
        data,
        audience,
    });
}

async fn subscription_owner(state: &AppState, id: &str) -> Option<i64> {
    let id = Uuid::parse_str(id).ok()?;
    sqlx::query_scalar("SELECT customer FROM subscriptions WHERE id = $1")
        .bind(id)
        .fetch_optional(&state.pool)
        .await
        .ok()
        .flatten()
}

async fn payment_owner(state: &AppState, id: &str) -> Option<i64> {
    let id = Uuid::parse_str(id).ok()?;
    sqlx::query_scalar("SELECT customer FROM payments WHERE id = $1")
        .bind(id)
        .fetch_optional(&state.pool)
        .await
        .ok()
        .flatten()
}

/// Invalidates and announces one event.
pub async fn handle(state: &AppState, event: &StoredEvent) {
    let decoded = match AnyEvent::decode(&event.aggregate_type, &event.payload) {
        Ok(d) => d,
        Err(e) => {
            tracing::warn!(position = event.position, error = %e, "live: undecodable event skipped");
            return;
        }
    };
    let c = &state.cache;
    let id = event.aggregate_id.as_str();
    match &decoded {
        AnyEvent::Customer(e) => {
            let customer = id.parse::<i64>().ok();
            if let Some(cid) = customer {
                c.actors.invalidate(&(cid, SessionKind::Staff));
                c.actors.invalidate(&(cid, SessionKind::Customer));
                c.profiles.invalidate(&cid);
            }
            c.overview.invalidate_all();
            let change = match e {
                CustomerEvent::CustomerRegistered { .. } => "registered",
                CustomerEvent::LanguageChanged { .. } => "language",
                CustomerEvent::CustomerBlocked { .. } => "blocked",
                CustomerEvent::CustomerUnblocked { .. } => "unblocked",
                CustomerEvent::RoleGranted { .. } => "role_granted",
                CustomerEvent::RoleRevoked { .. } => "role_revoked",
            };
            send(
                state,
                event,
                "customer_changed",
                Audience::staff(&[Permission::ManageUsers], customer),
                serde_json::json!({ "customer": customer, "change": change }),
            );
        }
        AnyEvent::Role(_) => {
            // Custom roles change the permissions of everyone holding them.
            c.actors.invalidate_all();
        }
        AnyEvent::Staff(e) => {
            let Ok(cid) = id.parse::<i64>() else { return };
            c.actors.invalidate(&(cid, SessionKind::Staff));
            c.profiles.invalidate(&cid);
            if matches!(e, StaffEvent::StaffAccountSuspended { .. }) {
                // Every API process does this; it is idempotent.
                if let Err(err) = sessions::revoke_all(&state.pool, cid, Some(SessionKind::Staff), None, "account suspended").await {
                    tracing::error!(error = %err, "live: cannot revoke a suspended account's sessions");
                }
                c.sessions.invalidate_all();
            }
            send(
                state,
                event,
                "staff_changed",
                Audience::staff(&[Permission::ManageUsers], Some(cid)),
                serde_json::json!({ "telegram_id": cid, "event": event.event_type }),
            );
        }
        AnyEvent::Wallet(
            WalletEvent::WalletCredited {
                customer, balance_after, ..
            }
            | WalletEvent::WalletDebited {
                customer, balance_after, ..
            },
        ) => {
            c.profiles.invalidate(&customer.0);
            c.daily.invalidate_all();
            c.overview.invalidate_all();
            send(
                state,
                event,
                "wallet_changed",
                Audience::staff(&[Permission::ManageUsers, Permission::AdjustWallets], Some(customer.0)),
                serde_json::json!({ "customer": customer.0, "balance": balance_after.value() }),
            );
        }
        AnyEvent::Payment(e) => {
            c.pending.invalidate_all();
            c.daily.invalidate_all();
            c.overview.invalidate_all();
            let (kind, customer, extra) = match e {
                PaymentEvent::ReceiptSubmitted { customer, amount, .. } => (
                    "receipt_submitted",
                    Some(customer.0),
                    serde_json::json!({ "amount": amount.value() }),
                ),
                PaymentEvent::PaymentApproved { customer, amount, .. } => (
                    "payment_decided",
                    Some(customer.0),
                    serde_json::json!({ "status": "approved", "amount": amount.value() }),
                ),
                PaymentEvent::PaymentRejected { customer, reason, .. } => (
                    "payment_decided",
                    Some(customer.0),
                    serde_json::json!({ "status": "rejected", "reason": reason }),
                ),
                _ => ("payment_changed", payment_owner(state, id).await, serde_json::json!({})),
            };
            let mut data = serde_json::json!({ "payment_id": id, "customer": customer, "event": event.event_type });
            if let (Some(d), Some(x)) = (data.as_object_mut(), extra.as_object()) {
                d.extend(x.clone());
            }
            send(state, event, kind, Audience::staff(&[Permission::ApproveReceipts], customer), data);
        }
        AnyEvent::Subscription(_) => {
            c.daily.invalidate_all();
            c.overview.invalidate_all();
            let customer = subscription_owner(state, id).await;
            send(
                state,
                event,
                "subscription_changed",
                Audience::staff(&[Permission::ManageSubscriptions], customer),
                serde_json::json!({ "subscription_id": id, "customer": customer, "event": event.event_type }),
            );
        }
        AnyEvent::Plan(_) => {
            c.plans.invalidate_all();
            send(
                state,
                event,
                "plans_changed",
                Audience {
                    everyone: true,
                    ..Audience::default()
                },
                serde_json::json!({ "plan_id": id }),
            );
        }
        AnyEvent::Panel(e) => {
            use domain::panel::PanelEvent as P;
            let health = match e {
                P::PanelMarkedHealthy { .. } => Some(serde_json::json!({ "panel_id": id, "healthy": true })),
                P::PanelMarkedUnhealthy { reason, .. } => Some(serde_json::json!({ "panel_id": id, "healthy": false, "reason": reason })),
                _ => None,
            };
            if let Some(data) = health {
                send(
                    state,
                    event,
                    "panel_health",
                    Audience::staff(&[Permission::ManageLocations], None),
                    data,
                );
            }
        }
        AnyEvent::Features(e) => {
            send(
                state,
                event,
                "features_changed",
                Audience::staff(&[Permission::ManageSettings], None),
                serde_json::json!({ "feature": e.feature().name(), "enabled": e.enabled() }),
            );
        }
        AnyEvent::SupportChat(e) => {
            use domain::support::SupportChatEvent as S;
            let (customer, agent) = match e {
                S::ChatOpened { customer, .. } => (*customer, None),
                S::ChatAssigned { customer, agent, .. } => (*customer, Some(*agent)),
                S::CustomerWrote { customer, agent, .. } | S::ChatClosed { customer, agent, .. } | S::ChatRated { customer, agent, .. } => {
                    (*customer, *agent)
                }
                S::AgentReplied { customer, agent, .. } => (*customer, Some(*agent)),
            };
            let agent = agent.map(|a| a.0);
            // Every agent's list changes (queued, taken, closed); no content here.
            send(
                state,
                event,
                "chat_changed",
                Audience::staff(&[Permission::AnswerSupport], Some(customer.0)),
                serde_json::json!({ "chat_id": id, "customer": customer.0, "agent": agent, "event": event.event_type }),
            );
            // The message itself: only to the customer and the chat's agent.
            let message = match e {
                S::CustomerWrote { content, .. } => Some(("customer", content)),
                S::AgentReplied { content, .. } => Some(("agent", content)),
                _ => None,
            };
            if let Some((sender, content)) = message {
                let mut people = vec![customer.0];
                people.extend(agent);
                send(
                    state,
                    event,
                    "chat_message",
                    Audience::people(people),
                    serde_json::json!({
                        "chat_id": id, "customer": customer.0, "agent": agent, "sender": sender,
                        "content_type": content.kind(), "text": content.text(),
                    }),
                );
            }
        }
        AnyEvent::License(_) => {
            send(
                state,
                event,
                "license_changed",
                Audience::staff(&[Permission::ManageSettings], None),
                serde_json::json!({ "event": event.event_type }),
            );
        }
        _ => {}
    }
}

/// Server-Sent Events for the signed-in caller. First a `ready` event (so a
/// client knows it is listening), then the updates it may see; `resync` when
/// this connection fell behind and missed some (refetch everything).
#[utoipa::path(
    get,
    operation_id = "live_stream",
    path = "/api/live",
    tag = "live",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "An endless `text/event-stream`; each `data:` is a LiveEvent", content_type = "text/event-stream", body = LiveEvent),
        (status = 401, description = "Not signed in", body = crate::error::ErrorBody),
    )
)]
pub async fn stream(State(state): State<AppState>, user: AuthUser) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let mut updates = state.live.subscribe();
    let (tx, rx) = tokio::sync::mpsc::channel::<Event>(64);
    tokio::spawn(async move {
        if tx.send(Event::default().event("ready").data("{}")).await.is_err() {
            return;
        }
        // A stream outlives its access token; it ends when the session does.
        let mut check = tokio::time::interval(Duration::from_secs(30));
        check.tick().await;
        loop {
            let next = tokio::select! {
                r = updates.recv() => r,
                // The client went away: stop listening now, not at the next update.
                _ = tx.closed() => return,
                _ = check.tick() => {
                    if !matches!(state.session_active(user.session).await, Ok(true)) {
                        return;
                    }
                    continue;
                }
            };
            let event = match next {
                Ok(e) if e.audience.admits(&user) => {
                    let data = serde_json::to_string(&e).unwrap_or_else(|_| "{}".into());
                    Event::default().event(e.kind.clone()).id(e.position.to_string()).data(data)
                }
                Ok(_) => continue,
                Err(RecvError::Lagged(n)) => Event::default().event("resync").data(format!("{{\"missed\":{n}}}")),
                Err(RecvError::Closed) => return,
            };
            if tx.send(event).await.is_err() {
                return;
            }
        }
    });
    let stream = futures::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|e| (Ok(e), rx)) });
    Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(stream))
}
