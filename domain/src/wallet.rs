//! One wallet per customer (aggregate id = the customer's Telegram id).
//!
//! Two invariants live here: the balance never goes negative, and a reference
//! is applied at most once — so a retried top-up, purchase or refund cannot move
//! money twice. Re-sending the same movement is an idempotent success; reusing a
//! reference for a different movement is an error.
use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use cqrs_es::event_sink::EventSink;
use cqrs_es::{Aggregate, DomainEvent};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::access::{Actor, ActorRef, Permission, PermissionDenied};
use crate::money::Toman;
use crate::values::CustomerId;

/// Why money moved. Carried in the event so ledgers and reports copy it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum WalletReason {
    /// An approved payment (card-to-card, gateway…).
    TopUp { payment_id: Uuid },
    /// A subscription charge (purchase, renewal, traffic).
    Charge { subscription_id: Uuid, charge_no: u32 },
    /// Money returned for a cancelled subscription.
    Refund { subscription_id: Uuid },
    /// A debit given back because its charge failed after all (a race the
    /// process manager repairs).
    ChargeReversal { subscription_id: Uuid, charge_no: u32 },
    /// A staff correction, with its note.
    Adjustment { by: ActorRef, note: String },
}

impl WalletReason {
    pub fn kind(&self) -> &'static str {
        match self {
            WalletReason::TopUp { .. } => "top_up",
            WalletReason::Charge { .. } => "charge",
            WalletReason::Refund { .. } => "refund",
            WalletReason::ChargeReversal { .. } => "charge_reversal",
            WalletReason::Adjustment { .. } => "adjustment",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum WalletCommand {
    Credit {
        customer: CustomerId,
        amount: Toman,
        reason: WalletReason,
        reference: String,
        at: DateTime<Utc>,
    },
    Debit {
        customer: CustomerId,
        amount: Toman,
        reason: WalletReason,
        reference: String,
        at: DateTime<Utc>,
    },
    /// A staff correction: positive credits, negative debits.
    Adjust {
        customer: CustomerId,
        delta: Decimal,
        note: String,
        reference: String,
        by: Actor,
        at: DateTime<Utc>,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum WalletEvent {
    WalletCredited {
        customer: CustomerId,
        amount: Toman,
        reason: WalletReason,
        reference: String,
        balance_after: Toman,
        at: DateTime<Utc>,
    },
    WalletDebited {
        customer: CustomerId,
        amount: Toman,
        reason: WalletReason,
        reference: String,
        balance_after: Toman,
        at: DateTime<Utc>,
    },
}

impl DomainEvent for WalletEvent {
    fn event_type(&self) -> String {
        match self {
            WalletEvent::WalletCredited { .. } => "WalletCredited",
            WalletEvent::WalletDebited { .. } => "WalletDebited",
        }
        .to_string()
    }
    fn event_version(&self) -> String {
        "1.0".to_string()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WalletError {
    #[error("insufficient balance: {balance} Toman available, {requested} requested")]
    InsufficientBalance { balance: Toman, requested: Toman },
    #[error("amount must be greater than zero")]
    ZeroAmount,
    #[error("reference `{0}` was already used for a different movement")]
    ReferenceConflict(String),
    #[error("a reference is required")]
    ReferenceRequired,
    #[error("this wallet belongs to another customer")]
    WrongCustomer,
    #[error("a note is required for an adjustment")]
    NoteRequired,
    #[error("invalid amount: {0}")]
    InvalidAmount(#[from] crate::money::MoneyError),
    #[error("the balance would exceed the largest amount a wallet holds")]
    Overflow,
    #[error(transparent)]
    Denied(#[from] PermissionDenied),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
enum Direction {
    Credit,
    Debit,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Wallet {
    pub customer: Option<CustomerId>,
    pub balance: Toman,
    /// reference → (direction, amount): what each applied reference did.
    applied: BTreeMap<String, (Direction, Toman)>,
}

impl Wallet {
    fn check(&self, customer: CustomerId, reference: &str, dir: Direction, amount: Toman) -> Result<bool, WalletError> {
        if self.customer.is_some_and(|c| c != customer) {
            return Err(WalletError::WrongCustomer);
        }
        if reference.trim().is_empty() {
            return Err(WalletError::ReferenceRequired);
        }
        if amount.is_zero() {
            return Err(WalletError::ZeroAmount);
        }
        match self.applied.get(reference) {
            Some(&(d, a)) if d == dir && a == amount => Ok(true),
            Some(_) => Err(WalletError::ReferenceConflict(reference.to_string())),
            None => Ok(false),
        }
    }

    fn credit(
        &self,
        customer: CustomerId,
        amount: Toman,
        reason: WalletReason,
        reference: String,
        at: DateTime<Utc>,
    ) -> Result<Option<WalletEvent>, WalletError> {
        if self.check(customer, &reference, Direction::Credit, amount)? {
            return Ok(None);
        }
        let balance_after = self.balance.checked_add(amount).ok_or(WalletError::Overflow)?;
        Ok(Some(WalletEvent::WalletCredited {
            customer,
            amount,
            reason,
            reference,
            balance_after,
            at,
        }))
    }

    fn debit(
        &self,
        customer: CustomerId,
        amount: Toman,
        reason: WalletReason,
        reference: String,
        at: DateTime<Utc>,
    ) -> Result<Option<WalletEvent>, WalletError> {
        if self.check(customer, &reference, Direction::Debit, amount)? {
            return Ok(None);
        }
        let balance_after = self.balance.checked_sub(amount).ok_or(WalletError::InsufficientBalance {
            balance: self.balance,
            requested: amount,
        })?;
        Ok(Some(WalletEvent::WalletDebited {
            customer,
            amount,
            reason,
            reference,
            balance_after,
            at,
        }))
    }

    pub fn has_applied(&self, reference: &str) -> bool {
        self.applied.contains_key(reference)
    }
}

impl Aggregate for Wallet {
    const TYPE: &'static str = "Wallet";
    type Command = WalletCommand;
    type Event = WalletEvent;
    type Error = WalletError;
    type Services = ();

    async fn handle(&mut self, command: Self::Command, _: &(), sink: &EventSink<Self>) -> Result<(), Self::Error> {
        let event = match command {
            WalletCommand::Credit {
                customer,
                amount,
                reason,
                reference,
                at,
            } => self.credit(customer, amount, reason, reference, at)?,
            WalletCommand::Debit {
                customer,
                amount,
                reason,
                reference,
                at,
            } => self.debit(customer, amount, reason, reference, at)?,
            WalletCommand::Adjust {
                customer,
                delta,
                note,
                reference,
                by,
                at,
            } => {
                by.require(Permission::AdjustWallets)?;
                let note = note.trim().to_string();
                if note.is_empty() {
                    return Err(WalletError::NoteRequired);
                }
                let reason = WalletReason::Adjustment { by: by.reference(), note };
                let amount = Toman::new(delta.abs())?;
                if delta.is_sign_negative() {
                    self.debit(customer, amount, reason, reference, at)?
                } else {
                    self.credit(customer, amount, reason, reference, at)?
                }
            }
        };
        if let Some(event) = event {
            sink.write(event, self).await;
        }
        Ok(())
    }

    fn apply(&mut self, event: Self::Event) {
        match event {
            WalletEvent::WalletCredited {
                customer,
                amount,
                reference,
                balance_after,
                ..
            } => {
                self.customer = Some(customer);
                self.balance = balance_after;
                self.applied.insert(reference, (Direction::Credit, amount));
            }
            WalletEvent::WalletDebited {
                customer,
                amount,
                reference,
                balance_after,
                ..
            } => {
                self.customer = Some(customer);
                self.balance = balance_after;
                self.applied.insert(reference, (Direction::Debit, amount));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::{t0, toman};
    use cqrs_es::test::TestFramework;
    use rust_decimal_macros::dec;

    type Given = TestFramework<Wallet>;
    const C: CustomerId = CustomerId(7);

    fn top_up(amount: i64, reference: &str, balance_after: i64) -> WalletEvent {
        WalletEvent::WalletCredited {
            customer: C,
            amount: toman(amount),
            reason: WalletReason::TopUp { payment_id: Uuid::nil() },
            reference: reference.into(),
            balance_after: toman(balance_after),
            at: t0(),
        }
    }

    fn debit(amount: i64, reference: &str) -> WalletCommand {
        WalletCommand::Debit {
            customer: C,
            amount: toman(amount),
            reason: WalletReason::Charge {
                subscription_id: Uuid::nil(),
                charge_no: 1,
            },
            reference: reference.into(),
            at: t0(),
        }
    }

    #[test]
    fn a_debit_reduces_the_balance_and_records_it() {
        Given::with(())
            .given(vec![top_up(100, "p1", 100)])
            .when(debit(40, "s1"))
            .then_expect_events(vec![WalletEvent::WalletDebited {
                customer: C,
                amount: toman(40),
                reason: WalletReason::Charge {
                    subscription_id: Uuid::nil(),
                    charge_no: 1,
                },
                reference: "s1".into(),
                balance_after: toman(60),
                at: t0(),
            }]);
    }

    #[test]
    fn the_balance_never_goes_negative() {
        Given::with(())
            .given(vec![top_up(100, "p1", 100)])
            .when(debit(101, "s1"))
            .then_expect_error(WalletError::InsufficientBalance {
                balance: toman(100),
                requested: toman(101),
            });
    }

    #[test]
    fn the_same_reference_is_never_applied_twice() {
        Given::with(())
            .given(vec![top_up(100, "p1", 100)])
            .when(WalletCommand::Credit {
                customer: C,
                amount: toman(100),
                reason: WalletReason::TopUp { payment_id: Uuid::nil() },
                reference: "p1".into(),
                at: t0(),
            })
            .then_expect_events(vec![]);
    }

    #[test]
    fn a_reference_reused_for_another_amount_is_refused() {
        Given::with(())
            .given(vec![top_up(100, "p1", 100)])
            .when(debit(10, "p1"))
            .then_expect_error(WalletError::ReferenceConflict("p1".into()));
    }

    #[test]
    fn adjustments_need_the_permission_and_a_note() {
        Given::with(())
            .given(vec![top_up(100, "p1", 100)])
            .when(WalletCommand::Adjust {
                customer: C,
                delta: dec!(-30),
                note: "duplicate top-up".into(),
                reference: "adj1".into(),
                by: Actor::user(CustomerId(1), [Permission::ApproveReceipts]),
                at: t0(),
            })
            .then_expect_error(WalletError::Denied(PermissionDenied(Permission::AdjustWallets)));
        Given::with(())
            .given(vec![top_up(100, "p1", 100)])
            .when(WalletCommand::Adjust {
                customer: C,
                delta: dec!(-30),
                note: "duplicate top-up".into(),
                reference: "adj1".into(),
                by: Actor::user(CustomerId(1), [Permission::AdjustWallets]),
                at: t0(),
            })
            .then_expect_events(vec![WalletEvent::WalletDebited {
                customer: C,
                amount: toman(30),
                reason: WalletReason::Adjustment {
                    by: ActorRef::User(CustomerId(1)),
                    note: "duplicate top-up".into(),
                },
                reference: "adj1".into(),
                balance_after: toman(70),
                at: t0(),
            }]);
    }

    #[test]
    fn an_adjustment_cannot_overdraw_either() {
        Given::with(())
            .given(vec![top_up(10, "p1", 10)])
            .when(WalletCommand::Adjust {
                customer: C,
                delta: dec!(-11),
                note: "x".into(),
                reference: "adj1".into(),
                by: Actor::System,
                at: t0(),
            })
            .then_expect_error(WalletError::InsufficientBalance {
                balance: toman(10),
                requested: toman(11),
            });
    }

    #[test]
    fn zero_movements_are_refused() {
        Given::with(())
            .given_no_previous_events()
            .when(debit(0, "s1"))
            .then_expect_error(WalletError::ZeroAmount);
    }
}
