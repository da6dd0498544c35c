//! A payment (aggregate id = a UUID). Card-to-card first; other methods join
//! as new [`PaymentMethod`] variants on the same aggregate.
//!
//! It is decided exactly once: approved or rejected, by someone holding the
//! receipt-approval permission. What approval causes (a wallet credit, a plan
//! purchase) is done by the `commands` crate's process manager from the
//! `PaymentApproved` event, idempotently.
use chrono::{DateTime, Utc};
use cqrs_es::event_sink::EventSink;
use cqrs_es::{Aggregate, DomainEvent};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::access::{Actor, ActorRef, Permission, PermissionDenied};
use crate::card::CardSnapshot;
use crate::money::Toman;
use crate::plan::PlanSnapshot;
use crate::values::{CustomerId, Location};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "method")]
pub enum PaymentMethod {
    CardToCard { card: CardSnapshot },
}

impl PaymentMethod {
    pub fn name(&self) -> &'static str {
        match self {
            PaymentMethod::CardToCard { .. } => "card_to_card",
        }
    }

    /// The receiving card, for methods that have one.
    pub fn card_id(&self) -> Option<Uuid> {
        match self {
            PaymentMethod::CardToCard { card } => Some(card.card_id),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "purpose")]
pub enum PaymentPurpose {
    WalletTopUp,
    /// Buys this plan at this location once approved; the price is copied now.
    PlanPurchase {
        plan: PlanSnapshot,
        location: Location,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum PaymentCommand {
    CreatePayment {
        id: Uuid,
        customer: CustomerId,
        amount: Toman,
        method: PaymentMethod,
        purpose: PaymentPurpose,
        at: DateTime<Utc>,
    },
    SubmitReceipt {
        by: Actor,
        file: String,
        at: DateTime<Utc>,
    },
    ApprovePayment {
        by: Actor,
        at: DateTime<Utc>,
    },
    RejectPayment {
        by: Actor,
        reason: String,
        at: DateTime<Utc>,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum PaymentEvent {
    PaymentCreated {
        id: Uuid,
        customer: CustomerId,
        amount: Toman,
        method: PaymentMethod,
        purpose: PaymentPurpose,
        at: DateTime<Utc>,
    },
    ReceiptSubmitted {
        customer: CustomerId,
        amount: Toman,
        file: String,
        at: DateTime<Utc>,
    },
    PaymentApproved {
        customer: CustomerId,
        amount: Toman,
        method: String,
        /// The card that received the money, for card-to-card payments.
        card_id: Option<Uuid>,
        purpose: PaymentPurpose,
        by: ActorRef,
        at: DateTime<Utc>,
    },
    PaymentRejected {
        customer: CustomerId,
        reason: String,
        by: ActorRef,
        at: DateTime<Utc>,
    },
}

impl DomainEvent for PaymentEvent {
    fn event_type(&self) -> String {
        match self {
            PaymentEvent::PaymentCreated { .. } => "PaymentCreated",
            PaymentEvent::ReceiptSubmitted { .. } => "ReceiptSubmitted",
            PaymentEvent::PaymentApproved { .. } => "PaymentApproved",
            PaymentEvent::PaymentRejected { .. } => "PaymentRejected",
        }
        .to_string()
    }
    fn event_version(&self) -> String {
        "1.0".to_string()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PaymentError {
    #[error("this payment already exists")]
    AlreadyExists,
    #[error("no such payment")]
    NotFound,
    #[error("the amount must be greater than zero")]
    ZeroAmount,
    #[error("a plan purchase must pay exactly the plan's price ({expected} Toman)")]
    AmountDiffersFromPrice { expected: Toman },
    #[error("only the paying customer can submit its receipt")]
    NotYourPayment,
    #[error("a receipt file reference is required")]
    ReceiptRequired,
    #[error("no receipt has been submitted yet")]
    NoReceipt,
    #[error("this payment was already {0}")]
    AlreadyDecided(&'static str),
    #[error("a reason is required to reject a payment")]
    ReasonRequired,
    #[error(transparent)]
    Denied(#[from] PermissionDenied),
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum PaymentStatus {
    #[default]
    New,
    AwaitingReceipt,
    AwaitingReview,
    Approved,
    Rejected,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Payment {
    pub id: Option<Uuid>,
    pub customer: Option<CustomerId>,
    pub amount: Toman,
    pub method: Option<PaymentMethod>,
    pub purpose: Option<PaymentPurpose>,
    pub status: PaymentStatus,
    pub receipt: Option<String>,
}

impl Payment {
    fn undecided(&self) -> Result<CustomerId, PaymentError> {
        let customer = self.customer.ok_or(PaymentError::NotFound)?;
        match self.status {
            PaymentStatus::Approved => Err(PaymentError::AlreadyDecided("approved")),
            PaymentStatus::Rejected => Err(PaymentError::AlreadyDecided("rejected")),
            _ => Ok(customer),
        }
    }
}

impl Aggregate for Payment {
    const TYPE: &'static str = "Payment";
    type Command = PaymentCommand;
    type Event = PaymentEvent;
    type Error = PaymentError;
    type Services = ();

    async fn handle(&mut self, command: Self::Command, _: &(), sink: &EventSink<Self>) -> Result<(), Self::Error> {
        let event = match command {
            PaymentCommand::CreatePayment {
                id,
                customer,
                amount,
                method,
                purpose,
                at,
            } => {
                if self.id.is_some() {
                    return Err(PaymentError::AlreadyExists);
                }
                if amount.is_zero() {
                    return Err(PaymentError::ZeroAmount);
                }
                if let PaymentPurpose::PlanPurchase { plan, .. } = &purpose {
                    if plan.price != amount {
                        return Err(PaymentError::AmountDiffersFromPrice { expected: plan.price });
                    }
                }
                PaymentEvent::PaymentCreated {
                    id,
                    customer,
                    amount,
                    method,
                    purpose,
                    at,
                }
            }
            PaymentCommand::SubmitReceipt { by, file, at } => {
                let customer = self.undecided()?;
                if by.customer_id() != Some(customer) {
                    return Err(PaymentError::NotYourPayment);
                }
                let file = file.trim().to_string();
                if file.is_empty() {
                    return Err(PaymentError::ReceiptRequired);
                }
                PaymentEvent::ReceiptSubmitted {
                    customer,
                    amount: self.amount,
                    file,
                    at,
                }
            }
            PaymentCommand::ApprovePayment { by, at } => {
                by.require(Permission::ApproveReceipts)?;
                let customer = self.undecided()?;
                if self.receipt.is_none() {
                    return Err(PaymentError::NoReceipt);
                }
                PaymentEvent::PaymentApproved {
                    customer,
                    amount: self.amount,
                    method: self.method.as_ref().map(|m| m.name()).unwrap_or_default().to_string(),
                    card_id: self.method.as_ref().and_then(PaymentMethod::card_id),
                    purpose: self.purpose.clone().unwrap_or(PaymentPurpose::WalletTopUp),
                    by: by.reference(),
                    at,
                }
            }
            PaymentCommand::RejectPayment { by, reason, at } => {
                by.require(Permission::ApproveReceipts)?;
                let customer = self.undecided()?;
                let reason = reason.trim().to_string();
                if reason.is_empty() {
                    return Err(PaymentError::ReasonRequired);
                }
                PaymentEvent::PaymentRejected {
                    customer,
                    reason,
                    by: by.reference(),
                    at,
                }
            }
        };
        sink.write(event, self).await;
        Ok(())
    }

    fn apply(&mut self, event: Self::Event) {
        match event {
            PaymentEvent::PaymentCreated {
                id,
                customer,
                amount,
                method,
                purpose,
                ..
            } => {
                self.id = Some(id);
                self.customer = Some(customer);
                self.amount = amount;
                self.method = Some(method);
                self.purpose = Some(purpose);
                self.status = PaymentStatus::AwaitingReceipt;
            }
            PaymentEvent::ReceiptSubmitted { file, .. } => {
                self.receipt = Some(file);
                self.status = PaymentStatus::AwaitingReview;
            }
            PaymentEvent::PaymentApproved { .. } => self.status = PaymentStatus::Approved,
            PaymentEvent::PaymentRejected { .. } => self.status = PaymentStatus::Rejected,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::{card_number, loc, t0, toman};
    use cqrs_es::test::TestFramework;

    type Given = TestFramework<Payment>;
    const C: CustomerId = CustomerId(9);

    fn method() -> PaymentMethod {
        PaymentMethod::CardToCard {
            card: CardSnapshot {
                card_id: Uuid::nil(),
                number: card_number(),
                holder: "Reza".into(),
            },
        }
    }
    fn created() -> PaymentEvent {
        PaymentEvent::PaymentCreated {
            id: Uuid::nil(),
            customer: C,
            amount: toman(100_000),
            method: method(),
            purpose: PaymentPurpose::WalletTopUp,
            at: t0(),
        }
    }
    fn receipt() -> PaymentEvent {
        PaymentEvent::ReceiptSubmitted {
            customer: C,
            amount: toman(100_000),
            file: "tg:file-1".into(),
            at: t0(),
        }
    }
    fn receipt_admin() -> Actor {
        Actor::user(CustomerId(1), [Permission::ApproveReceipts])
    }

    #[test]
    fn a_plan_purchase_must_pay_the_plan_price() {
        let plan = PlanSnapshot {
            plan_id: Uuid::nil(),
            name: "m".into(),
            duration_days: 30,
            traffic_gb: 10,
            price: toman(150_000),
        };
        Given::with(())
            .given_no_previous_events()
            .when(PaymentCommand::CreatePayment {
                id: Uuid::nil(),
                customer: C,
                amount: toman(100_000),
                method: method(),
                purpose: PaymentPurpose::PlanPurchase {
                    plan,
                    location: loc("France"),
                },
                at: t0(),
            })
            .then_expect_error(PaymentError::AmountDiffersFromPrice { expected: toman(150_000) });
    }

    #[test]
    fn only_the_payer_submits_the_receipt() {
        Given::with(())
            .given(vec![created()])
            .when(PaymentCommand::SubmitReceipt {
                by: Actor::user(CustomerId(10), []),
                file: "f".into(),
                at: t0(),
            })
            .then_expect_error(PaymentError::NotYourPayment);
    }

    #[test]
    fn a_receipt_admin_approves_a_submitted_receipt() {
        Given::with(())
            .given(vec![created(), receipt()])
            .when(PaymentCommand::ApprovePayment {
                by: receipt_admin(),
                at: t0(),
            })
            .then_expect_events(vec![PaymentEvent::PaymentApproved {
                customer: C,
                amount: toman(100_000),
                method: "card_to_card".into(),
                card_id: Some(Uuid::nil()),
                purpose: PaymentPurpose::WalletTopUp,
                by: ActorRef::User(CustomerId(1)),
                at: t0(),
            }]);
    }

    #[test]
    fn nothing_is_approved_without_a_receipt() {
        Given::with(())
            .given(vec![created()])
            .when(PaymentCommand::ApprovePayment {
                by: receipt_admin(),
                at: t0(),
            })
            .then_expect_error(PaymentError::NoReceipt);
    }

    #[test]
    fn a_seller_cannot_approve() {
        Given::with(())
            .given(vec![created(), receipt()])
            .when(PaymentCommand::ApprovePayment {
                by: Actor::user(CustomerId(2), [Permission::Sell]),
                at: t0(),
            })
            .then_expect_error(PaymentError::Denied(PermissionDenied(Permission::ApproveReceipts)));
    }

    #[test]
    fn a_second_approval_says_already_decided() {
        let approved = PaymentEvent::PaymentApproved {
            customer: C,
            amount: toman(100_000),
            method: "card_to_card".into(),
            card_id: Some(Uuid::nil()),
            purpose: PaymentPurpose::WalletTopUp,
            by: ActorRef::System,
            at: t0(),
        };
        Given::with(())
            .given(vec![created(), receipt(), approved.clone()])
            .when(PaymentCommand::ApprovePayment {
                by: receipt_admin(),
                at: t0(),
            })
            .then_expect_error(PaymentError::AlreadyDecided("approved"));
        Given::with(())
            .given(vec![created(), receipt(), approved])
            .when(PaymentCommand::RejectPayment {
                by: receipt_admin(),
                reason: "late".into(),
                at: t0(),
            })
            .then_expect_error(PaymentError::AlreadyDecided("approved"));
    }

    #[test]
    fn a_rejection_needs_a_reason() {
        Given::with(())
            .given(vec![created(), receipt()])
            .when(PaymentCommand::RejectPayment {
                by: receipt_admin(),
                reason: "".into(),
                at: t0(),
            })
            .then_expect_error(PaymentError::ReasonRequired);
    }
}
