//! The process manager's steps: each finishes, on another aggregate, what an
//! event started, and each is idempotent — the wallet applies a reference
//! once, a charge settles once — so running a step twice, or concurrently
//! with the synchronous path, or after a crash half-way, moves money once.
use chrono::{DateTime, Utc};
use domain::payment::{PaymentPurpose, PaymentStatus};
use domain::subscription::{
    charge_reference, refund_reference, reversal_reference, SubscriptionCommand, SubscriptionError, SubscriptionEvent, SubscriptionStatus,
};
use domain::wallet::{WalletCommand, WalletError, WalletReason};
use domain::{Actor, AnyEvent};
use eventstore::StoredEvent;
use uuid::Uuid;

use crate::{CommandError, Commands};

/// Namespace for ids derived from other ids (a card payment's subscription).
const DERIVED: Uuid = Uuid::from_u128(0x6d726a62_6f74_4000_8000_000000000001);

/// What [`Commands::react`] did with an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reaction {
    Ignored,
    Completed,
}

impl Commands {
    /// Finishes the work `event` implies. Safe to call for any event, any number of times.
    pub async fn react(&self, event: &StoredEvent, at: DateTime<Utc>) -> Result<Reaction, CommandError> {
        let decoded = AnyEvent::decode(&event.aggregate_type, &event.payload).map_err(|e| CommandError::Storage(e.to_string()))?;
        let id = || Uuid::parse_str(&event.aggregate_id).map_err(|e| CommandError::Storage(e.to_string()));
        match decoded {
            AnyEvent::Payment(domain::payment::PaymentEvent::PaymentApproved { .. }) => self.complete_payment(id()?, at).await?,
            AnyEvent::Subscription(SubscriptionEvent::ChargeRequested { charge_no, .. }) => {
                self.complete_charge(id()?, charge_no, at).await?
            }
            AnyEvent::Subscription(SubscriptionEvent::ChargeFailed { charge_no, .. }) => {
                self.reverse_failed_charge(id()?, charge_no, at).await?
            }
            AnyEvent::Subscription(SubscriptionEvent::SubscriptionCancelled { .. }) => self.complete_refund(id()?, at).await?,
            _ => return Ok(Reaction::Ignored),
        }
        Ok(Reaction::Completed)
    }

    /// The subscription a card payment for a plan buys: derived from the
    /// payment id, so every retry names the same subscription.
    pub fn subscription_for_payment(payment: Uuid) -> Uuid {
        Uuid::new_v5(&DERIVED, payment.as_bytes())
    }

    /// After approval: credit the wallet, then buy the plan if that was the purpose.
    pub async fn complete_payment(&self, payment: Uuid, at: DateTime<Utc>) -> Result<(), CommandError> {
        let p = self.payments.load(&payment.to_string()).await?;
        if p.status != PaymentStatus::Approved {
            return Ok(());
        }
        let customer = p.customer.ok_or(CommandError::NotFound("payment"))?;
        self.wallets
            .execute(
                &customer.to_string(),
                WalletCommand::Credit {
                    customer,
                    amount: p.amount,
                    reason: WalletReason::TopUp { payment_id: payment },
                    reference: format!("payment:{payment}"),
                    at,
                },
            )
            .await?;
        if let Some(PaymentPurpose::PlanPurchase { plan, location }) = p.purpose {
            let subscription = Self::subscription_for_payment(payment);
            let request = SubscriptionCommand::RequestPurchase {
                id: subscription,
                customer,
                plan,
                location,
                by: Actor::System,
                at,
            };
            match self.subscriptions.execute(&subscription.to_string(), request).await {
                Ok(_) | Err(CommandError::Subscription(SubscriptionError::AlreadyExists)) => {}
                Err(e) => return Err(e),
            }
            self.complete_charge(subscription, 1, at).await?;
        }
        Ok(())
    }

    /// Debit the wallet for a pending charge, then settle it — or fail it when
    /// the wallet cannot pay.
    pub async fn complete_charge(&self, subscription: Uuid, charge_no: u32, at: DateTime<Utc>) -> Result<(), CommandError> {
        let sub = self.subscriptions.load(&subscription.to_string()).await?;
        let Some(pending) = sub.pending.filter(|p| p.charge_no == charge_no) else {
            return Ok(()); // already settled or failed
        };
        let customer = sub.customer.ok_or(CommandError::NotFound("subscription"))?;
        let debit = self
            .wallets
            .execute(
                &customer.to_string(),
                WalletCommand::Debit {
                    customer,
                    amount: pending.amount,
                    reason: WalletReason::Charge {
                        subscription_id: subscription,
                        charge_no,
                    },
                    reference: charge_reference(subscription, charge_no),
                    at,
                },
            )
            .await;
        let next = match debit {
            Ok(_) => SubscriptionCommand::SettleCharge { charge_no, at },
            Err(CommandError::Wallet(e @ WalletError::InsufficientBalance { .. })) => SubscriptionCommand::FailCharge {
                charge_no,
                reason: e.to_string(),
                at,
            },
            Err(e) => return Err(e),
        };
        match self.subscriptions.execute(&subscription.to_string(), next).await {
            Ok(_) => {}
            // Someone else decided this charge first. If they failed it after we
            // debited, give the money back.
            Err(CommandError::Subscription(SubscriptionError::NoSuchPendingCharge(_))) => {}
            Err(e) => return Err(e),
        }
        self.reverse_failed_charge(subscription, charge_no, at).await
    }

    /// A failed charge must leave no debit behind.
    async fn reverse_failed_charge(&self, subscription: Uuid, charge_no: u32, at: DateTime<Utc>) -> Result<(), CommandError> {
        let failed = self.charge_events(subscription).await?.into_iter().find_map(|e| match e {
            SubscriptionEvent::ChargeFailed {
                charge_no: n,
                customer,
                amount,
                ..
            } if n == charge_no => Some((customer, amount)),
            _ => None,
        });
        let Some((customer, amount)) = failed else {
            return Ok(());
        };
        let wallet = self.wallets.load(&customer.to_string()).await?;
        if !wallet.has_applied(&charge_reference(subscription, charge_no)) {
            return Ok(());
        }
        self.wallets
            .execute(
                &customer.to_string(),
                WalletCommand::Credit {
                    customer,
                    amount,
                    reason: WalletReason::ChargeReversal {
                        subscription_id: subscription,
                        charge_no,
                    },
                    reference: reversal_reference(subscription, charge_no),
                    at,
                },
            )
            .await?;
        Ok(())
    }

    /// After cancellation: credit the refund once.
    pub async fn complete_refund(&self, subscription: Uuid, at: DateTime<Utc>) -> Result<(), CommandError> {
        let sub = self.subscriptions.load(&subscription.to_string()).await?;
        let (SubscriptionStatus::Cancelled, Some(refund), Some(customer)) = (sub.status, sub.refund, sub.customer) else {
            return Ok(());
        };
        if refund.is_zero() {
            return Ok(());
        }
        self.wallets
            .execute(
                &customer.to_string(),
                WalletCommand::Credit {
                    customer,
                    amount: refund,
                    reason: WalletReason::Refund {
                        subscription_id: subscription,
                    },
                    reference: refund_reference(subscription),
                    at,
                },
            )
            .await?;
        Ok(())
    }
}
