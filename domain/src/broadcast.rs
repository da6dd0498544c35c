//! Bulk messages to customers (aggregate id = the campaign's UUID).
//!
//! Staff with `manage_content` write a message for everyone or a segment
//! (location, plan, role, activity). The broadcast worker resolves the
//! recipients once, records how many there are (`BroadcastStarted`), sends at
//! a configured rate with a per-recipient delivery record, and records the
//! final figures (`BroadcastCompleted`). A campaign can be cancelled while it
//! runs; its figures are still recorded.
use chrono::{DateTime, Utc};
use cqrs_es::event_sink::EventSink;
use cqrs_es::{Aggregate, DomainEvent};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::access::{Actor, ActorRef, Permission, PermissionDenied, RoleName};
use crate::values::Location;

/// Who receives a broadcast. Blocked customers (blocked by staff) never do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Segment {
    All,
    /// Customers with an active subscription at this location.
    Location {
        location: Location,
    },
    /// Customers with an active subscription of this plan.
    Plan {
        plan: Uuid,
    },
    /// Customers holding this role.
    Role {
        role: RoleName,
    },
    /// Customers with at least one active subscription.
    Active,
    /// Customers with no active subscription.
    Inactive,
    /// Customers who registered in the last `days` days.
    RegisteredWithin {
        days: u32,
    },
}

impl Segment {
    /// A short description for reports and the staff groups.
    pub fn describe(&self) -> String {
        match self {
            Segment::All => "all customers".into(),
            Segment::Location { location } => format!("location {location}"),
            Segment::Plan { plan } => format!("plan {plan}"),
            Segment::Role { role } => format!("role {role}"),
            Segment::Active => "customers with an active subscription".into(),
            Segment::Inactive => "customers without an active subscription".into(),
            Segment::RegisteredWithin { days } => format!("registered in the last {days} days"),
        }
    }
}

pub const MAX_TEXT: usize = 4096;

/// A message in the sender's chat that the worker keeps up to date with the
/// campaign's progress.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProgressMessage {
    pub chat_id: i64,
    pub message_id: i64,
}

/// The delivery figures of a campaign.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveryFigures {
    pub sent: u64,
    /// The person blocked the bot (Telegram answered 403).
    pub blocked: u64,
    /// Telegram refused the message for another reason (the chat is gone…).
    pub failed: u64,
    /// The send was interrupted (a crash, or the network failed after the
    /// request left) and Telegram may or may not have delivered it; it is
    /// not sent again, so nobody gets the message twice.
    pub uncertain: u64,
    /// Not attempted (the campaign was cancelled first).
    pub skipped: u64,
}

impl DeliveryFigures {
    pub fn total(&self) -> u64 {
        self.sent + self.blocked + self.failed + self.uncertain + self.skipped
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum BroadcastCommand {
    Create {
        id: Uuid,
        text: String,
        segment: Segment,
        /// Whether broadcasts are switched on (the `broadcasts` feature), loaded by the caller.
        broadcasts_enabled: bool,
        progress: Option<ProgressMessage>,
        by: Actor,
        at: DateTime<Utc>,
    },
    /// The worker resolved the segment to `recipients` people.
    Start {
        recipients: u64,
        at: DateTime<Utc>,
    },
    Cancel {
        by: Actor,
        at: DateTime<Utc>,
    },
    /// Every recipient was attempted (or skipped after a cancellation).
    Complete {
        figures: DeliveryFigures,
        at: DateTime<Utc>,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum BroadcastEvent {
    BroadcastCreated {
        id: Uuid,
        text: String,
        segment: Segment,
        progress: Option<ProgressMessage>,
        by: ActorRef,
        at: DateTime<Utc>,
    },
    BroadcastStarted {
        recipients: u64,
        at: DateTime<Utc>,
    },
    BroadcastCancelled {
        by: ActorRef,
        at: DateTime<Utc>,
    },
    BroadcastCompleted {
        recipients: u64,
        figures: DeliveryFigures,
        cancelled: bool,
        at: DateTime<Utc>,
    },
}

impl DomainEvent for BroadcastEvent {
    fn event_type(&self) -> String {
        match self {
            BroadcastEvent::BroadcastCreated { .. } => "BroadcastCreated",
            BroadcastEvent::BroadcastStarted { .. } => "BroadcastStarted",
            BroadcastEvent::BroadcastCancelled { .. } => "BroadcastCancelled",
            BroadcastEvent::BroadcastCompleted { .. } => "BroadcastCompleted",
        }
        .to_string()
    }
    fn event_version(&self) -> String {
        "1.0".to_string()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BroadcastError {
    #[error("broadcasts are switched off")]
    Disabled,
    #[error("this broadcast already exists")]
    AlreadyExists,
    #[error("no such broadcast")]
    NotFound,
    #[error("a broadcast message is 1 to 4096 characters")]
    InvalidText,
    #[error("a segment of customers registered in the last N days needs N from 1 to 3650")]
    InvalidSegment,
    #[error("the broadcast is {0}")]
    WrongStatus(&'static str),
    #[error("the figures ({got}) do not add up to the recipients ({expected})")]
    FiguresMismatch { expected: u64, got: u64 },
    #[error(transparent)]
    Denied(#[from] PermissionDenied),
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum BroadcastStatus {
    #[default]
    New,
    Created,
    Running,
    Cancelled,
    Completed,
}

impl BroadcastStatus {
    pub fn name(self) -> &'static str {
        match self {
            BroadcastStatus::New => "new",
            BroadcastStatus::Created => "created",
            BroadcastStatus::Running => "running",
            BroadcastStatus::Cancelled => "cancelled",
            BroadcastStatus::Completed => "completed",
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Broadcast {
    pub id: Option<Uuid>,
    pub text: String,
    pub segment: Option<Segment>,
    pub progress: Option<ProgressMessage>,
    pub status: BroadcastStatus,
    pub recipients: Option<u64>,
    pub cancelled: bool,
    pub figures: Option<DeliveryFigures>,
}

impl Aggregate for Broadcast {
    const TYPE: &'static str = "Broadcast";
    type Command = BroadcastCommand;
    type Event = BroadcastEvent;
    type Error = BroadcastError;
    type Services = ();

    async fn handle(&mut self, command: Self::Command, _: &(), sink: &EventSink<Self>) -> Result<(), Self::Error> {
        use BroadcastCommand as C;
        use BroadcastEvent as E;
        use BroadcastStatus as S;
        let event = match command {
            C::Create {
                id,
                text,
                segment,
                broadcasts_enabled,
                progress,
                by,
                at,
            } => {
                by.require(Permission::ManageContent)?;
                if self.id.is_some() {
                    return Err(BroadcastError::AlreadyExists);
                }
                if !broadcasts_enabled {
                    return Err(BroadcastError::Disabled);
                }
                let text = text.trim().to_string();
                if text.is_empty() || text.chars().count() > MAX_TEXT {
                    return Err(BroadcastError::InvalidText);
                }
                if let Segment::RegisteredWithin { days } = segment {
                    if !(1..=3650).contains(&days) {
                        return Err(BroadcastError::InvalidSegment);
                    }
                }
                E::BroadcastCreated {
                    id,
                    text,
                    segment,
                    progress,
                    by: by.reference(),
                    at,
                }
            }
            C::Start { recipients, at } => match self.status {
                S::New => return Err(BroadcastError::NotFound),
                S::Created => E::BroadcastStarted { recipients, at },
                S::Running if self.recipients == Some(recipients) => return Ok(()),
                other => return Err(BroadcastError::WrongStatus(other.name())),
            },
            C::Cancel { by, at } => {
                by.require(Permission::ManageContent)?;
                match self.status {
                    S::New => return Err(BroadcastError::NotFound),
                    S::Created | S::Running => E::BroadcastCancelled { by: by.reference(), at },
                    S::Cancelled => return Ok(()),
                    S::Completed => return Err(BroadcastError::WrongStatus(S::Completed.name())),
                }
            }
            C::Complete { figures, at } => {
                if self.figures.is_some() {
                    return Ok(()); // recorded already (a second worker, or a restart)
                }
                let recipients = match (self.status, self.recipients) {
                    (S::New, _) => return Err(BroadcastError::NotFound),
                    (S::Running | S::Cancelled, Some(r)) => r,
                    // Cancelled before it started: nobody was attempted.
                    (S::Cancelled, None) => 0,
                    (other, _) => return Err(BroadcastError::WrongStatus(other.name())),
                };
                if figures.total() != recipients {
                    return Err(BroadcastError::FiguresMismatch {
                        expected: recipients,
                        got: figures.total(),
                    });
                }
                E::BroadcastCompleted {
                    recipients,
                    figures,
                    cancelled: self.cancelled,
                    at,
                }
            }
        };
        sink.write(event, self).await;
        Ok(())
    }

    fn apply(&mut self, event: Self::Event) {
        match event {
            BroadcastEvent::BroadcastCreated {
                id,
                text,
                segment,
                progress,
                ..
            } => {
                self.id = Some(id);
                self.text = text;
                self.segment = Some(segment);
                self.progress = progress;
                self.status = BroadcastStatus::Created;
            }
            BroadcastEvent::BroadcastStarted { recipients, .. } => {
                self.recipients = Some(recipients);
                self.status = BroadcastStatus::Running;
            }
            BroadcastEvent::BroadcastCancelled { .. } => {
                self.cancelled = true;
                self.status = BroadcastStatus::Cancelled;
            }
            BroadcastEvent::BroadcastCompleted { figures, .. } => {
                self.figures = Some(figures);
                if !self.cancelled {
                    self.status = BroadcastStatus::Completed;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::{loc, t0};
    use crate::values::CustomerId;
    use cqrs_es::test::TestFramework;

    type Given = TestFramework<Broadcast>;

    fn editor() -> Actor {
        Actor::user(CustomerId(1), [Permission::ManageContent])
    }
    fn id() -> Uuid {
        Uuid::from_u128(42)
    }
    fn create(text: &str, segment: Segment, enabled: bool, by: Actor) -> BroadcastCommand {
        BroadcastCommand::Create {
            id: id(),
            text: text.into(),
            segment,
            broadcasts_enabled: enabled,
            progress: None,
            by,
            at: t0(),
        }
    }
    fn created() -> BroadcastEvent {
        BroadcastEvent::BroadcastCreated {
            id: id(),
            text: "New servers in Germany!".into(),
            segment: Segment::Location { location: loc("France") },
            progress: None,
            by: ActorRef::User(CustomerId(1)),
            at: t0(),
        }
    }
    fn started(n: u64) -> BroadcastEvent {
        BroadcastEvent::BroadcastStarted { recipients: n, at: t0() }
    }

    #[test]
    fn staff_with_manage_content_create_a_broadcast_when_switched_on() {
        let segment = Segment::Location { location: loc("France") };
        Given::with(())
            .given_no_previous_events()
            .when(create(" New servers in Germany! ", segment.clone(), true, editor()))
            .then_expect_events(vec![created()]);
        Given::with(())
            .given_no_previous_events()
            .when(create("hi", segment.clone(), false, editor()))
            .then_expect_error(BroadcastError::Disabled);
        Given::with(())
            .given_no_previous_events()
            .when(create("hi", segment, true, Actor::user(CustomerId(2), [Permission::Sell])))
            .then_expect_error(BroadcastError::Denied(PermissionDenied(Permission::ManageContent)));
    }

    #[test]
    fn text_and_segment_are_checked() {
        Given::with(())
            .given_no_previous_events()
            .when(create("  ", Segment::All, true, editor()))
            .then_expect_error(BroadcastError::InvalidText);
        Given::with(())
            .given_no_previous_events()
            .when(create(&"x".repeat(4097), Segment::All, true, editor()))
            .then_expect_error(BroadcastError::InvalidText);
        Given::with(())
            .given_no_previous_events()
            .when(create("hi", Segment::RegisteredWithin { days: 0 }, true, editor()))
            .then_expect_error(BroadcastError::InvalidSegment);
    }

    #[test]
    fn it_starts_once_with_its_recipient_count() {
        Given::with(())
            .given(vec![created()])
            .when(BroadcastCommand::Start { recipients: 10, at: t0() })
            .then_expect_events(vec![started(10)]);
        Given::with(())
            .given(vec![created(), started(10)])
            .when(BroadcastCommand::Start { recipients: 10, at: t0() })
            .then_expect_events(vec![]);
    }

    #[test]
    fn figures_must_add_up_and_are_recorded_once() {
        let figures = DeliveryFigures {
            sent: 7,
            blocked: 2,
            failed: 0,
            uncertain: 1,
            skipped: 0,
        };
        Given::with(())
            .given(vec![created(), started(10)])
            .when(BroadcastCommand::Complete { figures, at: t0() })
            .then_expect_events(vec![BroadcastEvent::BroadcastCompleted {
                recipients: 10,
                figures,
                cancelled: false,
                at: t0(),
            }]);
        Given::with(())
            .given(vec![created(), started(11)])
            .when(BroadcastCommand::Complete { figures, at: t0() })
            .then_expect_error(BroadcastError::FiguresMismatch { expected: 11, got: 10 });
        Given::with(())
            .given(vec![
                created(),
                started(10),
                BroadcastEvent::BroadcastCompleted {
                    recipients: 10,
                    figures,
                    cancelled: false,
                    at: t0(),
                },
            ])
            .when(BroadcastCommand::Complete { figures, at: t0() })
            .then_expect_events(vec![]);
    }

    #[test]
    fn a_cancelled_broadcast_still_reports_and_cannot_restart() {
        let cancelled = BroadcastEvent::BroadcastCancelled {
            by: ActorRef::User(CustomerId(1)),
            at: t0(),
        };
        Given::with(())
            .given(vec![created(), started(3)])
            .when(BroadcastCommand::Cancel { by: editor(), at: t0() })
            .then_expect_events(vec![cancelled.clone()]);
        let figures = DeliveryFigures {
            sent: 1,
            skipped: 2,
            ..Default::default()
        };
        Given::with(())
            .given(vec![created(), started(3), cancelled.clone()])
            .when(BroadcastCommand::Complete { figures, at: t0() })
            .then_expect_events(vec![BroadcastEvent::BroadcastCompleted {
                recipients: 3,
                figures,
                cancelled: true,
                at: t0(),
            }]);
        Given::with(())
            .given(vec![created(), cancelled])
            .when(BroadcastCommand::Start { recipients: 3, at: t0() })
            .then_expect_error(BroadcastError::WrongStatus("cancelled"));
    }
}
