//! Reminders a scheduler sends customers on time (aggregate id = the
//! customer's Telegram id). Each reminder has a key that names what it is
//! about (for example a points lot and its expiry instant); a key fires once,
//! so a scheduler that restarts, or two that run at once, remind once.
//!
//! The message itself is delivered from the [`ReminderEvent::ReminderFired`]
//! event by the notifier's outbox, keyed by the event, so it is queued once.
use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use cqrs_es::event_sink::EventSink;
use cqrs_es::{Aggregate, DomainEvent};
use serde::{Deserialize, Serialize};

use crate::values::CustomerId;

/// What a reminder is about, with every value its message shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum ReminderKind {
    /// `points` points of lot `reference` expire at `expires_at`.
    PointsExpiring {
        reference: String,
        points: u64,
        expires_at: DateTime<Utc>,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum ReminderCommand {
    Fire {
        customer: CustomerId,
        key: String,
        kind: ReminderKind,
        at: DateTime<Utc>,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum ReminderEvent {
    ReminderFired {
        customer: CustomerId,
        key: String,
        kind: ReminderKind,
        at: DateTime<Utc>,
    },
}

impl DomainEvent for ReminderEvent {
    fn event_type(&self) -> String {
        match self {
            ReminderEvent::ReminderFired { .. } => "ReminderFired",
        }
        .to_string()
    }
    fn event_version(&self) -> String {
        "1.0".to_string()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReminderError {
    #[error("a reminder key is 1 to 200 characters")]
    InvalidKey,
    #[error("these reminders belong to customer {0}")]
    OtherCustomer(CustomerId),
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Reminders {
    pub customer: Option<CustomerId>,
    pub fired: BTreeSet<String>,
}

/// The key of a points-expiry reminder: the lot, its expiry instant, and how
/// many days ahead it warns.
pub fn points_key(reference: &str, expires_at: DateTime<Utc>, days_ahead: u32) -> String {
    format!("points:{reference}:{}:{days_ahead}d", expires_at.timestamp())
}

impl Aggregate for Reminders {
    const TYPE: &'static str = "Reminders";
    type Command = ReminderCommand;
    type Event = ReminderEvent;
    type Error = ReminderError;
    type Services = ();

    async fn handle(&mut self, command: Self::Command, _: &(), sink: &EventSink<Self>) -> Result<(), Self::Error> {
        let ReminderCommand::Fire { customer, key, kind, at } = command;
        if key.trim().is_empty() || key.chars().count() > 200 {
            return Err(ReminderError::InvalidKey);
        }
        if let Some(owner) = self.customer {
            if owner != customer {
                return Err(ReminderError::OtherCustomer(owner));
            }
        }
        if self.fired.contains(&key) {
            return Ok(()); // fired already: a restart or a second scheduler
        }
        sink.write(ReminderEvent::ReminderFired { customer, key, kind, at }, self).await;
        Ok(())
    }

    fn apply(&mut self, event: Self::Event) {
        let ReminderEvent::ReminderFired { customer, key, .. } = event;
        self.customer = Some(customer);
        self.fired.insert(key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::t0;
    use cqrs_es::test::TestFramework;

    type Given = TestFramework<Reminders>;
    const ALICE: CustomerId = CustomerId(1001);

    fn kind() -> ReminderKind {
        ReminderKind::PointsExpiring {
            reference: "sale:1".into(),
            points: 120,
            expires_at: t0(),
        }
    }
    fn fire(key: &str) -> ReminderCommand {
        ReminderCommand::Fire {
            customer: ALICE,
            key: key.into(),
            kind: kind(),
            at: t0(),
        }
    }
    fn fired(key: &str) -> ReminderEvent {
        ReminderEvent::ReminderFired {
            customer: ALICE,
            key: key.into(),
            kind: kind(),
            at: t0(),
        }
    }

    #[test]
    fn a_reminder_fires_once_per_key() {
        Given::with(())
            .given_no_previous_events()
            .when(fire("k1"))
            .then_expect_events(vec![fired("k1")]);
        Given::with(()).given(vec![fired("k1")]).when(fire("k1")).then_expect_events(vec![]);
        Given::with(())
            .given(vec![fired("k1")])
            .when(fire("k2"))
            .then_expect_events(vec![fired("k2")]);
    }

    #[test]
    fn keys_are_checked_and_belong_to_one_customer() {
        Given::with(())
            .given_no_previous_events()
            .when(fire(" "))
            .then_expect_error(ReminderError::InvalidKey);
        Given::with(())
            .given(vec![fired("k1")])
            .when(ReminderCommand::Fire {
                customer: CustomerId(5),
                key: "k9".into(),
                kind: kind(),
                at: t0(),
            })
            .then_expect_error(ReminderError::OtherCustomer(ALICE));
    }

    #[test]
    fn points_keys_name_the_lot_its_expiry_and_the_lead() {
        assert_eq!(points_key("sale:1", t0(), 3), format!("points:sale:1:{}:3d", t0().timestamp()));
    }
}
