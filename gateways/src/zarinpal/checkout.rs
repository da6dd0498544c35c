//! The Zarinpal payment flow over the `commands` use cases: request → the
//! authority recorded on the payment → the customer's redirect URL →
//! callback → verify → the payment approved exactly once. A replayed
//! callback, an unknown authority or a wrong amount is refused and recorded.
use chrono::{DateTime, Utc};
use commands::{CommandError, Commands, GatewayOutcome};
use domain::payment::{valid_authority, PaymentPurpose, PaymentStatus, RefusalReason};
use domain::reference::ReferenceKind;
use domain::{CustomerId, Toman};
use uuid::Uuid;

use super::client::{ZarinpalClient, ZarinpalError};

#[derive(Debug, thiserror::Error)]
pub enum CheckoutError {
    #[error(transparent)]
    Command(#[from] CommandError),
    #[error(transparent)]
    Gateway(#[from] ZarinpalError),
}

/// A started payment: send the customer to `redirect_url`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Started {
    pub payment: Uuid,
    pub authority: String,
    pub redirect_url: String,
}

/// What a callback ended as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallbackOutcome {
    /// Verified now, approved and credited.
    Approved { payment: Uuid, ref_id: u64 },
    /// The customer cancelled or did not pay; the payment failed.
    NotPaid { payment: Uuid },
    /// Refused and recorded (`payment` is `None` for an unknown authority).
    Refused { payment: Option<Uuid>, reason: RefusalReason },
}

#[derive(Clone)]
pub struct ZarinpalCheckout {
    client: ZarinpalClient,
    commands: Commands,
}

impl ZarinpalCheckout {
    pub fn new(client: ZarinpalClient, commands: Commands) -> Self {
        ZarinpalCheckout { client, commands }
    }

    pub fn client(&self) -> &ZarinpalClient {
        &self.client
    }

    /// Creates the payment, asks Zarinpal for a session and binds its authority.
    #[tracing::instrument(skip(self, purpose))]
    pub async fn start(
        &self,
        customer: CustomerId,
        amount: Toman,
        purpose: PaymentPurpose,
        at: DateTime<Utc>,
    ) -> Result<Started, CheckoutError> {
        let payment = self.commands.create_zarinpal_payment(customer, amount, purpose, at).await?;
        let rial = self.commands.payment(payment).await?.amount_rial();
        let description = format!("MRJ Bot payment {payment} ({amount} Toman)");
        match self.client.request(rial, &description, &payment.to_string()).await {
            Ok(ok) => {
                self.commands.record_zarinpal_authority(payment, &ok.authority, at).await?;
                Ok(Started {
                    payment,
                    redirect_url: self.client.start_pay_url(&ok.authority),
                    authority: ok.authority,
                })
            }
            Err(e) => {
                self.commands
                    .fail_gateway_payment(payment, format!("payment request refused: {e}"), at)
                    .await?;
                Err(e.into())
            }
        }
    }

    /// Handles Zarinpal's redirect (`?Authority=…&Status=OK|NOK`). Never trusts
    /// `Status=OK`: the payment is approved only after verify, with the amount
    /// from our own records. Transport failures are errors (retry; the
    /// reconciler also picks paid-but-unverified sessions up).
    #[tracing::instrument(skip(self))]
    pub async fn handle_callback(&self, authority: &str, status: &str, at: DateTime<Utc>) -> Result<CallbackOutcome, CheckoutError> {
        let authority = authority.trim();
        let unknown = CallbackOutcome::Refused {
            payment: None,
            reason: RefusalReason::UnknownReference,
        };
        if !valid_authority(authority) {
            // Not even shaped like an authority: nothing to record it under.
            return Ok(unknown);
        }
        let Some(payment) = self.commands.reference_holder(ReferenceKind::ZarinpalAuthority, authority).await? else {
            self.commands
                .record_unmatched_reference(
                    ReferenceKind::ZarinpalAuthority,
                    authority,
                    RefusalReason::UnknownReference,
                    format!("callback with Status={status:.8} for an authority no payment requested"),
                    at,
                )
                .await?;
            return Ok(unknown);
        };
        let p = self.commands.payment(payment).await?;
        let rial = p.amount_rial();
        if p.status != PaymentStatus::AwaitingGateway {
            // Already decided: the domain records the replay.
            let outcome = self.commands.confirm_zarinpal(payment, authority, 0, None, rial, at).await?;
            return Ok(self.outcome(payment, outcome, 0));
        }
        if status != "OK" {
            self.commands
                .fail_gateway_payment(payment, format!("the customer did not pay (Status={status:.8})"), at)
                .await?;
            return Ok(CallbackOutcome::NotPaid { payment });
        }
        self.verify(payment, authority, rial, at).await
    }

    async fn verify(&self, payment: Uuid, authority: &str, rial: i64, at: DateTime<Utc>) -> Result<CallbackOutcome, CheckoutError> {
        match self.client.verify(rial, authority).await {
            Ok(v) => {
                let outcome = self
                    .commands
                    .confirm_zarinpal(payment, authority, v.ref_id, v.card_pan, rial, at)
                    .await?;
                Ok(self.outcome(payment, outcome, v.ref_id))
            }
            Err(ZarinpalError::Api { code: -51, message, .. }) => {
                self.commands
                    .fail_gateway_payment(payment, format!("not paid (Zarinpal -51: {message})"), at)
                    .await?;
                Ok(CallbackOutcome::NotPaid { payment })
            }
            Err(ZarinpalError::Api { code, message, .. }) => {
                let reason = if code == -50 {
                    RefusalReason::WrongAmount
                } else {
                    RefusalReason::GatewayError
                };
                self.commands
                    .refuse_gateway_attempt(payment, reason, authority, format!("verify answered {code}: {message}"), at)
                    .await?;
                Ok(CallbackOutcome::Refused {
                    payment: Some(payment),
                    reason,
                })
            }
            Err(e) => Err(e.into()),
        }
    }

    fn outcome(&self, payment: Uuid, outcome: GatewayOutcome, ref_id: u64) -> CallbackOutcome {
        match outcome {
            GatewayOutcome::Approved => CallbackOutcome::Approved { payment, ref_id },
            GatewayOutcome::Refused(reason) => CallbackOutcome::Refused {
                payment: Some(payment),
                reason,
            },
            GatewayOutcome::Pending(_) => CallbackOutcome::Refused {
                payment: Some(payment),
                reason: RefusalReason::GatewayError,
            },
        }
    }

    /// Verifies sessions Zarinpal reports paid but unverified (the customer
    /// closed the browser before the callback). Returns how many it approved.
    pub async fn reconcile(&self, at: DateTime<Utc>) -> Result<usize, CheckoutError> {
        let mut approved = 0;
        for session in self.client.unverified().await? {
            let Some(payment) = self
                .commands
                .reference_holder(ReferenceKind::ZarinpalAuthority, &session.authority)
                .await?
            else {
                continue; // another shop's session on the same terminal, or not ours
            };
            let p = self.commands.payment(payment).await?;
            if p.status != PaymentStatus::AwaitingGateway {
                continue;
            }
            if let CallbackOutcome::Approved { .. } = self.verify(payment, &session.authority, p.amount_rial(), at).await? {
                approved += 1;
            }
        }
        Ok(approved)
    }
}
