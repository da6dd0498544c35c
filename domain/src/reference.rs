//! External payment references (aggregate id = `<kind>:<value>`, e.g.
//! `trc20:<tx hash>`, `zarinpal:<authority>`, `usdt-amount:12.347`,
//! `tracking:<receipt tracking number>`).
//!
//! One aggregate per reference makes "used at most once" a rule the event
//! store enforces: two payments racing to claim the same transaction hash
//! append to the same stream, and optimistic concurrency lets exactly one
//! claim through. A reference seen from outside that matches no payment
//! (an unknown Zarinpal authority, a transfer of an amount nobody owes) is
//! recorded here too, so every refused attempt leaves an event.
use chrono::{DateTime, Utc};
use cqrs_es::event_sink::EventSink;
use cqrs_es::{Aggregate, DomainEvent};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::payment::RefusalReason;

/// What kind of outside value a reference is. Part of the aggregate id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReferenceKind {
    /// A Zarinpal authority: bound to the payment that requested it.
    ZarinpalAuthority,
    /// A TRON transaction hash: spent by at most one payment, forever.
    TronTransaction,
    /// A unique USDT amount: held by one pending payment at a time.
    UsdtAmount,
    /// A bank receipt's tracking number, as OCR read it.
    ReceiptTracking,
}

impl ReferenceKind {
    pub fn prefix(self) -> &'static str {
        match self {
            ReferenceKind::ZarinpalAuthority => "zarinpal",
            ReferenceKind::TronTransaction => "trc20",
            ReferenceKind::UsdtAmount => "usdt-amount",
            ReferenceKind::ReceiptTracking => "tracking",
        }
    }

    /// The aggregate id for `value` (transaction hashes are case-insensitive hex).
    pub fn id(self, value: &str) -> String {
        let value = value.trim();
        match self {
            ReferenceKind::TronTransaction => format!("{}:{}", self.prefix(), value.to_ascii_lowercase()),
            _ => format!("{}:{}", self.prefix(), value),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum ReferenceCommand {
    /// Take the reference for `payment`. Repeating it for the same payment
    /// does nothing; another payment gets [`ReferenceError::Taken`].
    Claim {
        reference: String,
        payment: Uuid,
        at: DateTime<Utc>,
    },
    /// Give it back (only amounts are ever released: a pending payment ended).
    Release { payment: Uuid, at: DateTime<Utc> },
    /// Something outside used this reference and nothing matched it.
    RecordUnmatched {
        reference: String,
        reason: RefusalReason,
        detail: String,
        at: DateTime<Utc>,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum ReferenceEvent {
    ReferenceClaimed {
        reference: String,
        payment: Uuid,
        at: DateTime<Utc>,
    },
    ReferenceReleased {
        reference: String,
        payment: Uuid,
        at: DateTime<Utc>,
    },
    UnmatchedReferenceSeen {
        reference: String,
        reason: RefusalReason,
        detail: String,
        at: DateTime<Utc>,
    },
}

impl DomainEvent for ReferenceEvent {
    fn event_type(&self) -> String {
        match self {
            ReferenceEvent::ReferenceClaimed { .. } => "ReferenceClaimed",
            ReferenceEvent::ReferenceReleased { .. } => "ReferenceReleased",
            ReferenceEvent::UnmatchedReferenceSeen { .. } => "UnmatchedReferenceSeen",
        }
        .to_string()
    }
    fn event_version(&self) -> String {
        "1.0".to_string()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReferenceError {
    #[error("reference {reference} is already used by payment {by}")]
    Taken { reference: String, by: Uuid },
    #[error("reference {0} is not held by this payment")]
    NotHeld(String),
    #[error("a reference needs a value")]
    Empty,
    #[error("transaction references are never released")]
    NotReleasable,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PaymentReference {
    pub reference: Option<String>,
    /// The payment holding it now.
    pub holder: Option<Uuid>,
    pub unmatched_seen: u32,
}

impl Aggregate for PaymentReference {
    const TYPE: &'static str = "PaymentReference";
    type Command = ReferenceCommand;
    type Event = ReferenceEvent;
    type Error = ReferenceError;
    type Services = ();

    async fn handle(&mut self, command: Self::Command, _: &(), sink: &EventSink<Self>) -> Result<(), Self::Error> {
        let event = match command {
            ReferenceCommand::Claim { reference, payment, at } => {
                if reference.trim().is_empty() {
                    return Err(ReferenceError::Empty);
                }
                match self.holder {
                    Some(p) if p == payment => return Ok(()),
                    Some(by) => return Err(ReferenceError::Taken { reference, by }),
                    None => ReferenceEvent::ReferenceClaimed { reference, payment, at },
                }
            }
            ReferenceCommand::Release { payment, at } => {
                let reference = self.reference.clone().unwrap_or_default();
                if self.holder != Some(payment) {
                    return Err(ReferenceError::NotHeld(reference));
                }
                if !reference.starts_with(ReferenceKind::UsdtAmount.prefix()) {
                    return Err(ReferenceError::NotReleasable);
                }
                ReferenceEvent::ReferenceReleased { reference, payment, at }
            }
            ReferenceCommand::RecordUnmatched {
                reference,
                reason,
                detail,
                at,
            } => {
                if reference.trim().is_empty() {
                    return Err(ReferenceError::Empty);
                }
                ReferenceEvent::UnmatchedReferenceSeen {
                    reference,
                    reason,
                    detail: crate::payment::bounded(&detail, 500),
                    at,
                }
            }
        };
        sink.write(event, self).await;
        Ok(())
    }

    fn apply(&mut self, event: Self::Event) {
        match event {
            ReferenceEvent::ReferenceClaimed { reference, payment, .. } => {
                self.reference = Some(reference);
                self.holder = Some(payment);
            }
            ReferenceEvent::ReferenceReleased { .. } => self.holder = None,
            ReferenceEvent::UnmatchedReferenceSeen { reference, .. } => {
                self.reference.get_or_insert(reference);
                self.unmatched_seen += 1;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::t0;
    use cqrs_es::test::TestFramework;

    type Given = TestFramework<PaymentReference>;
    const P1: Uuid = Uuid::from_u128(1);
    const P2: Uuid = Uuid::from_u128(2);

    fn claimed(p: Uuid) -> ReferenceEvent {
        ReferenceEvent::ReferenceClaimed {
            reference: "trc20:ab".into(),
            payment: p,
            at: t0(),
        }
    }

    #[test]
    fn a_transaction_hash_is_spent_by_one_payment_only() {
        Given::with(())
            .given(vec![claimed(P1)])
            .when(ReferenceCommand::Claim {
                reference: "trc20:ab".into(),
                payment: P2,
                at: t0(),
            })
            .then_expect_error(ReferenceError::Taken {
                reference: "trc20:ab".into(),
                by: P1,
            });
    }

    #[test]
    fn claiming_again_for_the_same_payment_changes_nothing() {
        Given::with(())
            .given(vec![claimed(P1)])
            .when(ReferenceCommand::Claim {
                reference: "trc20:ab".into(),
                payment: P1,
                at: t0(),
            })
            .then_expect_events(vec![]);
    }

    #[test]
    fn transaction_hashes_are_never_released_but_amounts_are() {
        Given::with(())
            .given(vec![claimed(P1)])
            .when(ReferenceCommand::Release { payment: P1, at: t0() })
            .then_expect_error(ReferenceError::NotReleasable);
        let amount = ReferenceEvent::ReferenceClaimed {
            reference: "usdt-amount:10.001".into(),
            payment: P1,
            at: t0(),
        };
        Given::with(())
            .given(vec![amount.clone()])
            .when(ReferenceCommand::Release { payment: P2, at: t0() })
            .then_expect_error(ReferenceError::NotHeld("usdt-amount:10.001".into()));
        Given::with(())
            .given(vec![
                amount,
                ReferenceEvent::ReferenceReleased {
                    reference: "usdt-amount:10.001".into(),
                    payment: P1,
                    at: t0(),
                },
            ])
            .when(ReferenceCommand::Claim {
                reference: "usdt-amount:10.001".into(),
                payment: P2,
                at: t0(),
            })
            .then_expect_events(vec![ReferenceEvent::ReferenceClaimed {
                reference: "usdt-amount:10.001".into(),
                payment: P2,
                at: t0(),
            }]);
    }

    #[test]
    fn hashes_are_case_insensitive_ids() {
        assert_eq!(ReferenceKind::TronTransaction.id(" ABcd "), "trc20:abcd");
        assert_eq!(ReferenceKind::ZarinpalAuthority.id("A00"), "zarinpal:A00");
    }
}
