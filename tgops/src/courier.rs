//! The notifier's feed consumer: turns events into outbox rows — one line per
//! (staff group, event position), and reminders to customers — written in the
//! same transaction that moves its checkpoint. A replayed or redelivered
//! event therefore queues nothing twice, and a crash before the commit queues
//! nothing at all (the events are read again). Delivery is the dispatcher's.
use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use commands::Commands;
use domain::reminder::{ReminderEvent, ReminderKind};
use domain::subscription::SubscriptionEvent;
use domain::{AnyEvent, CustomerId, Language};
use eventstore::StoredEvent;
use sqlx::PgPool;
use tokio::sync::Notify;
use workers::{Consumer, FeedError};

use crate::groups::{line, Groups, Lookup};
use crate::i18n;
use crate::outbox::{enqueue, Kind, OutRow};
use crate::telegram::Body;
use crate::texts::t;

pub const COURIER_CHECKPOINT: &str = "tgops_courier";

pub struct Courier {
    pub pool: PgPool,
    pub commands: Commands,
    pub groups: Groups,
    /// Woken after rows are queued, so the dispatcher does not wait for its poll.
    pub wake: Option<Arc<Notify>>,
}

/// Names of plans and panels, fetched from their own events (never a lagging read model).
#[derive(Default)]
struct Facts(HashMap<String, String>);

impl Lookup for Facts {
    fn plan_of(&self, subscription: &str) -> Option<String> {
        self.0.get(&format!("plan:{subscription}")).cloned()
    }
    fn panel_name(&self, panel: &str) -> Option<String> {
        self.0.get(&format!("panel:{panel}")).cloned()
    }
}

impl Courier {
    async fn first_event(&self, aggregate_type: &str, id: &str) -> Result<Option<AnyEvent>, FeedError> {
        let events = eventstore::read_aggregate(&self.pool, aggregate_type, id).await?;
        let Some(first) = events.first() else { return Ok(None) };
        Ok(AnyEvent::decode(&first.aggregate_type, &first.payload).ok())
    }

    async fn facts(&self, event: &AnyEvent, aggregate_id: &str) -> Result<Facts, FeedError> {
        let mut facts = Facts::default();
        let subscription = matches!(
            event,
            AnyEvent::Subscription(SubscriptionEvent::ChargeSettled { .. } | SubscriptionEvent::SubscriptionCancelled { .. })
                | AnyEvent::AutoRenewal(_)
        );
        if subscription {
            if let Some(AnyEvent::Subscription(SubscriptionEvent::SubscriptionRequested { plan, .. })) =
                self.first_event("Subscription", aggregate_id).await?
            {
                facts.0.insert(format!("plan:{aggregate_id}"), plan.name);
            }
        }
        let panel = match event {
            AnyEvent::Panel(_) => Some(aggregate_id.to_string()),
            AnyEvent::Subscription(SubscriptionEvent::ClientMissingOnPanel { placement, .. }) => Some(placement.panel_id.to_string()),
            _ => None,
        };
        if let Some(panel) = panel {
            if let Some(AnyEvent::Panel(domain::panel::PanelEvent::PanelRegistered { spec, .. })) =
                self.first_event("Panel", &panel).await?
            {
                facts.0.insert(format!("panel:{panel}"), spec.name);
            }
        }
        Ok(facts)
    }

    /// `@username (id)`, or the id, escaped.
    async fn display_name(&self, id: CustomerId, cache: &mut HashMap<CustomerId, String>) -> Result<String, FeedError> {
        if let Some(n) = cache.get(&id) {
            return Ok(n.clone());
        }
        let username = match self.first_event("Customer", &id.to_string()).await? {
            Some(AnyEvent::Customer(domain::customer::CustomerEvent::CustomerRegistered { username, .. })) => username,
            _ => None,
        };
        let name = match username {
            Some(u) => format!("@{} ({})", i18n::esc(&u), id.0),
            None => id.0.to_string(),
        };
        cache.insert(id, name.clone());
        Ok(name)
    }

    async fn language_of(&self, id: CustomerId) -> Result<Language, FeedError> {
        Ok(self.commands.customer_state(id).await?.map(|c| c.language).unwrap_or_default())
    }

    /// The rows `event` queues.
    pub async fn render(&self, event: &StoredEvent, names: &mut HashMap<CustomerId, String>) -> Result<Vec<OutRow>, FeedError> {
        let decoded = AnyEvent::decode(&event.aggregate_type, &event.payload).map_err(|e| FeedError::Malformed(e.to_string()))?;
        let mut rows = Vec::new();
        if !self.groups.is_empty() {
            let facts = self.facts(&decoded, &event.aggregate_id).await?;
            if let Some(l) = line(&decoded, &event.aggregate_id, &facts) {
                if let Some(group) = self.groups.get(l.topic) {
                    for person in l.people() {
                        self.display_name(person, names).await?;
                    }
                    let lookup = |c: CustomerId| names.get(&c).cloned().unwrap_or_else(|| c.0.to_string());
                    let text = l.render(group.language, &lookup);
                    rows.push(OutRow {
                        key: format!("line:{}:{}", group.chat_id, event.position),
                        chat: group.chat_id,
                        kind: Kind::Line,
                        topic: Some(l.topic.name().to_string()),
                        position: Some(event.position),
                        body: Body::html(text),
                    });
                }
            }
        }
        if let AnyEvent::Reminder(ReminderEvent::ReminderFired { customer, key, kind, .. }) = &decoded {
            let lang = self.language_of(*customer).await?;
            let text = match kind {
                ReminderKind::PointsExpiring { points, expires_at, .. } => t(
                    lang,
                    "r-points-expiring",
                    &[
                        ("points", i18n::number(lang, i64::try_from(*points).unwrap_or(i64::MAX))),
                        ("date", i18n::date(lang, *expires_at)),
                    ],
                ),
            };
            rows.push(OutRow {
                key: format!("reminder:{}:{key}", customer.0),
                chat: customer.0,
                kind: Kind::Direct,
                topic: Some("reminder".into()),
                position: Some(event.position),
                body: Body::html(text),
            });
        }
        Ok(rows)
    }
}

#[async_trait]
impl Consumer for Courier {
    fn name(&self) -> String {
        COURIER_CHECKPOINT.to_string()
    }

    async fn checkpoint(&self) -> Result<i64, FeedError> {
        Ok(eventstore::checkpoint(&self.pool, COURIER_CHECKPOINT).await?)
    }

    async fn handle(&self, events: &[StoredEvent]) -> Result<i64, FeedError> {
        let start = self.checkpoint().await?;
        let mut names = HashMap::new();
        let mut rows: Vec<(i64, OutRow)> = Vec::new();
        let mut last = start;
        for e in events.iter().filter(|e| e.position > start) {
            if e.position != last + 1 {
                return Err(FeedError::Malformed(format!(
                    "expected position {} but got {}",
                    last + 1,
                    e.position
                )));
            }
            for row in self.render(e, &mut names).await? {
                rows.push((e.position, row));
            }
            last = e.position;
        }
        let mut tx = self.pool.begin().await?;
        let locked = eventstore::lock_checkpoint(&mut tx, COURIER_CHECKPOINT).await?;
        // Another instance may have moved on meanwhile: keep only what is new to it.
        let fresh: Vec<OutRow> = rows.into_iter().filter(|(p, _)| *p > locked).map(|(_, r)| r).collect();
        let queued = enqueue(&mut *tx, &fresh).await?;
        let done = last.max(locked);
        eventstore::set_checkpoint(&mut tx, COURIER_CHECKPOINT, done).await?;
        tx.commit().await?;
        if queued > 0 {
            if let Some(w) = &self.wake {
                w.notify_one();
            }
        }
        Ok(done)
    }
}
