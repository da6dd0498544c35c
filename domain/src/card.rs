//! Bank cards that receive card-to-card payments (aggregate id = a UUID).
use chrono::{DateTime, Utc};
use cqrs_es::event_sink::EventSink;
use cqrs_es::{Aggregate, DomainEvent};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::access::{Actor, ActorRef, Permission, PermissionDenied};
use crate::values::CardNumber;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum CardCommand {
    AddCard {
        id: Uuid,
        number: CardNumber,
        holder: String,
        bank: Option<String>,
        by: Actor,
        at: DateTime<Utc>,
    },
    RetireCard {
        by: Actor,
        at: DateTime<Utc>,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum CardEvent {
    CardAdded {
        id: Uuid,
        number: CardNumber,
        holder: String,
        bank: Option<String>,
        by: ActorRef,
        at: DateTime<Utc>,
    },
    CardRetired {
        by: ActorRef,
        at: DateTime<Utc>,
    },
}

impl DomainEvent for CardEvent {
    fn event_type(&self) -> String {
        match self {
            CardEvent::CardAdded { .. } => "CardAdded",
            CardEvent::CardRetired { .. } => "CardRetired",
        }
        .to_string()
    }
    fn event_version(&self) -> String {
        "1.0".to_string()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CardError {
    #[error("this card already exists")]
    AlreadyAdded,
    #[error("no such card")]
    NotFound,
    #[error("the card is already retired")]
    AlreadyRetired,
    #[error("the card holder's name is required (at most 100 characters)")]
    InvalidHolder,
    #[error(transparent)]
    Denied(#[from] PermissionDenied),
}

/// What a payment records about the card it was sent to: a copy, so retiring
/// or re-adding cards never changes past payments.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CardSnapshot {
    pub card_id: Uuid,
    pub number: CardNumber,
    pub holder: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Card {
    pub id: Option<Uuid>,
    pub number: Option<CardNumber>,
    pub holder: String,
    pub retired: bool,
}

impl Card {
    /// The snapshot a new payment records, or `None` when the card cannot receive money.
    pub fn snapshot(&self) -> Option<CardSnapshot> {
        match (&self.id, &self.number, self.retired) {
            (Some(id), Some(number), false) => Some(CardSnapshot {
                card_id: *id,
                number: number.clone(),
                holder: self.holder.clone(),
            }),
            _ => None,
        }
    }
}

impl Aggregate for Card {
    const TYPE: &'static str = "Card";
    type Command = CardCommand;
    type Event = CardEvent;
    type Error = CardError;
    type Services = ();

    async fn handle(&mut self, command: Self::Command, _: &(), sink: &EventSink<Self>) -> Result<(), Self::Error> {
        let event = match command {
            CardCommand::AddCard {
                id,
                number,
                holder,
                bank,
                by,
                at,
            } => {
                by.require(Permission::ManageCards)?;
                if self.id.is_some() {
                    return Err(CardError::AlreadyAdded);
                }
                let holder = holder.trim().to_string();
                if holder.is_empty() || holder.chars().count() > 100 {
                    return Err(CardError::InvalidHolder);
                }
                let bank = bank.map(|b| b.trim().to_string()).filter(|b| !b.is_empty());
                CardEvent::CardAdded {
                    id,
                    number,
                    holder,
                    bank,
                    by: by.reference(),
                    at,
                }
            }
            CardCommand::RetireCard { by, at } => {
                by.require(Permission::ManageCards)?;
                if self.id.is_none() {
                    return Err(CardError::NotFound);
                }
                if self.retired {
                    return Err(CardError::AlreadyRetired);
                }
                CardEvent::CardRetired { by: by.reference(), at }
            }
        };
        sink.write(event, self).await;
        Ok(())
    }

    fn apply(&mut self, event: Self::Event) {
        match event {
            CardEvent::CardAdded { id, number, holder, .. } => {
                self.id = Some(id);
                self.number = Some(number);
                self.holder = holder;
            }
            CardEvent::CardRetired { .. } => self.retired = true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::{card_number, t0};
    use crate::values::CustomerId;
    use cqrs_es::test::TestFramework;

    type Given = TestFramework<Card>;

    fn added() -> CardEvent {
        CardEvent::CardAdded {
            id: Uuid::nil(),
            number: card_number(),
            holder: "Reza Ahmadi".into(),
            bank: None,
            by: ActorRef::System,
            at: t0(),
        }
    }

    #[test]
    fn only_card_managers_add_cards() {
        Given::with(())
            .given_no_previous_events()
            .when(CardCommand::AddCard {
                id: Uuid::nil(),
                number: card_number(),
                holder: "Reza".into(),
                bank: None,
                by: Actor::user(CustomerId(3), [Permission::Sell]),
                at: t0(),
            })
            .then_expect_error(CardError::Denied(PermissionDenied(Permission::ManageCards)));
    }

    #[test]
    fn a_card_needs_its_holders_name() {
        Given::with(())
            .given_no_previous_events()
            .when(CardCommand::AddCard {
                id: Uuid::nil(),
                number: card_number(),
                holder: " ".into(),
                bank: None,
                by: Actor::System,
                at: t0(),
            })
            .then_expect_error(CardError::InvalidHolder);
    }

    #[test]
    fn a_retired_card_gives_no_snapshot_and_retires_once() {
        let mut card = Card::default();
        card.apply(added());
        assert!(card.snapshot().is_some());
        card.apply(CardEvent::CardRetired {
            by: ActorRef::System,
            at: t0(),
        });
        assert!(card.snapshot().is_none());
        Given::with(())
            .given(vec![
                added(),
                CardEvent::CardRetired {
                    by: ActorRef::System,
                    at: t0(),
                },
            ])
            .when(CardCommand::RetireCard {
                by: Actor::System,
                at: t0(),
            })
            .then_expect_error(CardError::AlreadyRetired);
    }
}
