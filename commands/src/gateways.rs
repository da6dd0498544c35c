//! Payment-method use cases: Zarinpal, USDT-TRC20 and OCR readings of
//! card-to-card receipts. Nothing here talks to a gateway: the `gateways`
//! crate calls Zarinpal and TronGrid and hands the answers to these methods,
//! which let the Payment aggregate decide. A reference that must be used once
//! (a transaction hash, a Zarinpal authority, a unique USDT amount, a receipt's
//! tracking number) is claimed on its own `PaymentReference` stream first, so
//! racing processes cannot both use it.
use chrono::{DateTime, Duration, Utc};
use domain::payment::{
    Payment, PaymentCommand, PaymentEvent, PaymentMethod, PaymentPurpose, PaymentStatus, ReceiptFlag, ReceiptReading, RefusalReason,
    TronTransfer, UsdtDeposit,
};
use domain::reference::{PaymentReference, ReferenceCommand, ReferenceError, ReferenceKind};
use domain::{CustomerId, Toman};
use rust_decimal::{Decimal, RoundingStrategy};
use uuid::Uuid;

use crate::store::Store;
use crate::{CommandError, Commands};

/// What the operator offers for USDT payments (from the configuration).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsdtOffer {
    /// The operator's receiving address (base58 `T…`).
    pub address: String,
    /// The USDT token contract (base58), `TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t` on mainnet.
    pub contract: String,
    /// Toman per USDT.
    pub rate: Decimal,
    pub confirmations: u32,
    /// How long the unique amount is reserved for the customer.
    pub valid_for: Duration,
}

/// How many distinct amounts can be pending at once for the same price:
/// the tag is added in thousandths of a USDT (0.001 … 0.999).
pub const USDT_TAGS: u32 = 999;

/// How an attempt to settle a gateway payment ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GatewayOutcome {
    /// Approved now; the wallet credit (and plan purchase) has been done.
    Approved,
    /// Refused, and the refusal is recorded as an event.
    Refused(RefusalReason),
    /// Not settled yet (e.g. not enough confirmations); try again later.
    Pending(String),
}

impl Commands {
    fn references(&self) -> Store<PaymentReference> {
        Store::new(self.pool.clone())
    }

    async fn ensure_customer_may_pay(&self, customer: CustomerId) -> Result<(), CommandError> {
        let owner = self.customers.load(&customer.to_string()).await?;
        if owner.id.is_none() {
            return Err(CommandError::NotFound("customer"));
        }
        if owner.blocked {
            return Err(CommandError::Blocked(customer));
        }
        Ok(())
    }

    /// The payment's current state.
    pub async fn payment(&self, id: Uuid) -> Result<Payment, CommandError> {
        let p = self.payments.load(&id.to_string()).await?;
        if p.id.is_none() {
            return Err(CommandError::NotFound("payment"));
        }
        Ok(p)
    }

    /// Which payment holds a reference (`None` when none does).
    pub async fn reference_holder(&self, kind: ReferenceKind, value: &str) -> Result<Option<Uuid>, CommandError> {
        Ok(self.references().load(&kind.id(value)).await?.holder)
    }

    /// Claims `value` for `payment`; `Err(other payment)` when another holds it.
    async fn claim(&self, kind: ReferenceKind, value: &str, payment: Uuid, at: DateTime<Utc>) -> Result<Result<(), Uuid>, CommandError> {
        let id = kind.id(value);
        match self
            .references()
            .execute(
                &id,
                ReferenceCommand::Claim {
                    reference: id.clone(),
                    payment,
                    at,
                },
            )
            .await
        {
            Ok(_) => Ok(Ok(())),
            Err(CommandError::Reference(ReferenceError::Taken { by, .. })) => Ok(Err(by)),
            Err(e) => Err(e),
        }
    }

    /// Records that something outside used a reference that matches no
    /// payment (an unknown Zarinpal authority, a transfer nobody owes).
    pub async fn record_unmatched_reference(
        &self,
        kind: ReferenceKind,
        value: &str,
        reason: RefusalReason,
        detail: String,
        at: DateTime<Utc>,
    ) -> Result<(), CommandError> {
        let id = kind.id(value);
        let seen = self.references().load(&id).await?;
        if seen.unmatched_seen > 0 && seen.holder.is_none() {
            return Ok(()); // recorded already; a poller sees the same transfer every round
        }
        self.references()
            .execute(
                &id,
                ReferenceCommand::RecordUnmatched {
                    reference: id.clone(),
                    reason,
                    detail,
                    at,
                },
            )
            .await?;
        Ok(())
    }

    // ---- Zarinpal --------------------------------------------------------------

    /// Starts a Zarinpal payment; the gateway request comes next
    /// ([`Commands::record_zarinpal_authority`] with its answer).
    pub async fn create_zarinpal_payment(
        &self,
        customer: CustomerId,
        amount: Toman,
        purpose: PaymentPurpose,
        at: DateTime<Utc>,
    ) -> Result<Uuid, CommandError> {
        self.ensure_customer_may_pay(customer).await?;
        let id = Uuid::new_v4();
        self.payments
            .execute(
                &id.to_string(),
                PaymentCommand::CreatePayment {
                    id,
                    customer,
                    amount,
                    method: PaymentMethod::Zarinpal,
                    purpose,
                    at,
                },
            )
            .await?;
        Ok(id)
    }

    /// Binds the authority Zarinpal issued to the payment, both ways: on the
    /// payment, and on the authority's own stream so a callback finds it.
    pub async fn record_zarinpal_authority(&self, payment: Uuid, authority: &str, at: DateTime<Utc>) -> Result<(), CommandError> {
        if let Err(other) = self.claim(ReferenceKind::ZarinpalAuthority, authority, payment, at).await? {
            return Err(CommandError::Reference(ReferenceError::Taken {
                reference: ReferenceKind::ZarinpalAuthority.id(authority),
                by: other,
            }));
        }
        self.payments
            .execute(
                &payment.to_string(),
                PaymentCommand::RecordZarinpalAuthority {
                    authority: authority.to_string(),
                    at,
                },
            )
            .await?;
        Ok(())
    }

    /// Zarinpal's verify said paid: approve (once) and credit the wallet.
    pub async fn confirm_zarinpal(
        &self,
        payment: Uuid,
        authority: &str,
        ref_id: u64,
        card_pan: Option<String>,
        verified_rial: i64,
        at: DateTime<Utc>,
    ) -> Result<GatewayOutcome, CommandError> {
        let command = PaymentCommand::ConfirmZarinpal {
            authority: authority.to_string(),
            ref_id,
            card_pan,
            verified_rial,
            at,
        };
        self.settle(payment, command, at).await
    }

    // ---- shared by the gateways ----------------------------------------------

    /// Runs a settling command; approval → wallet credit, refusal → outcome.
    async fn settle(&self, payment: Uuid, command: PaymentCommand, at: DateTime<Utc>) -> Result<GatewayOutcome, CommandError> {
        let before = self.payment(payment).await?;
        let command_copy = command.clone();
        let events = match self.payments.execute(&payment.to_string(), command).await {
            Ok(events) => events,
            Err(CommandError::Payment(e @ domain::payment::PaymentError::NotYetConfirmed { .. })) => {
                return Ok(GatewayOutcome::Pending(e.to_string()))
            }
            Err(e) => return Err(e),
        };
        let outcome = outcome_of(&events).unwrap_or_else(|| {
            // Nothing new: this exact refusal was recorded before; say which.
            let again = match &command_copy {
                PaymentCommand::ConfirmZarinpal {
                    authority, verified_rial, ..
                } => before.zarinpal_refusal(authority, *verified_rial),
                PaymentCommand::ConfirmTronTransfer { transfer, .. } => before.tron_refusal(transfer).ok().flatten(),
                _ => None,
            };
            GatewayOutcome::Refused(again.map_or(RefusalReason::Replayed, |(r, _)| r))
        });
        if outcome == GatewayOutcome::Approved {
            self.complete_payment(payment, at).await?;
            self.release_usdt_amount(payment, at).await?;
        }
        Ok(outcome)
    }

    /// Records a refusal that was decided outside the payment (the gateway's
    /// own error code, say) on the payment's history.
    pub async fn refuse_gateway_attempt(
        &self,
        payment: Uuid,
        reason: RefusalReason,
        reference: &str,
        detail: String,
        at: DateTime<Utc>,
    ) -> Result<(), CommandError> {
        self.payments
            .execute(
                &payment.to_string(),
                PaymentCommand::RefuseAttempt {
                    reason,
                    reference: reference.to_string(),
                    detail,
                    at,
                },
            )
            .await?;
        Ok(())
    }

    /// The gateway says the customer did not pay (or the USDT offer expired).
    pub async fn fail_gateway_payment(&self, payment: Uuid, reason: String, at: DateTime<Utc>) -> Result<(), CommandError> {
        self.payments
            .execute(&payment.to_string(), PaymentCommand::FailGatewayPayment { reason, at })
            .await?;
        self.release_usdt_amount(payment, at).await
    }

    // ---- USDT-TRC20 --------------------------------------------------------------

    /// Starts a USDT payment: the price in USDT at `offer.rate`, rounded up to
    /// the cent, plus a tag of 0.001–0.999 that no other pending payment
    /// holds, so an incoming transfer's amount names its payment.
    pub async fn create_usdt_payment(
        &self,
        customer: CustomerId,
        amount: Toman,
        purpose: PaymentPurpose,
        offer: &UsdtOffer,
        at: DateTime<Utc>,
    ) -> Result<(Uuid, UsdtDeposit), CommandError> {
        self.ensure_customer_may_pay(customer).await?;
        if offer.rate <= Decimal::ZERO {
            return Err(domain::payment::PaymentError::InvalidDeposit("the rate must be positive").into());
        }
        let base = (amount.value() / offer.rate).round_dp_with_strategy(2, RoundingStrategy::AwayFromZero);
        let id = Uuid::new_v4();
        let start = u32::from(id.as_bytes()[0]) * 4;
        let mut chosen = None;
        for i in 0..USDT_TAGS {
            let tag = (start + i) % USDT_TAGS + 1;
            let usdt = (base + Decimal::new(i64::from(tag), 3)).normalize();
            let value = usdt.to_string();
            match self.claim(ReferenceKind::UsdtAmount, &value, id, at).await? {
                Ok(()) => {
                    chosen = Some(usdt);
                    break;
                }
                Err(holder) => {
                    // A holder that is no longer pending (its release was cut short) gives it back.
                    if self.payment(holder).await.is_ok_and(|p| p.status != PaymentStatus::AwaitingGateway) {
                        self.release_amount(holder, &value, at).await?;
                        if self.claim(ReferenceKind::UsdtAmount, &value, id, at).await?.is_ok() {
                            chosen = Some(usdt);
                            break;
                        }
                    }
                }
            }
        }
        let usdt = chosen.ok_or(CommandError::NoFreeUsdtAmount)?;
        let deposit = UsdtDeposit {
            address: offer.address.clone(),
            contract: offer.contract.clone(),
            usdt,
            rate: offer.rate,
            confirmations: offer.confirmations,
            expires_at: at + offer.valid_for,
        };
        let created = self
            .payments
            .execute(
                &id.to_string(),
                PaymentCommand::CreatePayment {
                    id,
                    customer,
                    amount,
                    method: PaymentMethod::UsdtTrc20 { deposit: deposit.clone() },
                    purpose,
                    at,
                },
            )
            .await;
        if let Err(e) = created {
            self.release_amount(id, &usdt.to_string(), at).await?;
            return Err(e);
        }
        Ok((id, deposit))
    }

    /// The payment (if any) that holds this exact USDT amount now.
    pub async fn usdt_payment_for_amount(&self, usdt: Decimal) -> Result<Option<Uuid>, CommandError> {
        self.reference_holder(ReferenceKind::UsdtAmount, &usdt.normalize().to_string())
            .await
    }

    /// A transfer that carries this payment's amount: the hash is claimed for
    /// the payment first (a hash pays once, ever), then the payment checks
    /// token, success, destination, amount, time and confirmations.
    pub async fn confirm_tron_transfer(
        &self,
        payment: Uuid,
        transfer: TronTransfer,
        at: DateTime<Utc>,
    ) -> Result<GatewayOutcome, CommandError> {
        if let Err(other) = self.claim(ReferenceKind::TronTransaction, &transfer.tx_hash, payment, at).await? {
            let hash = transfer.tx_hash.to_ascii_lowercase();
            self.refuse_gateway_attempt(
                payment,
                RefusalReason::ReferenceUsed,
                &hash,
                format!("transaction {hash} already paid payment {other}"),
                at,
            )
            .await?;
            return Ok(GatewayOutcome::Refused(RefusalReason::ReferenceUsed));
        }
        self.settle(payment, PaymentCommand::ConfirmTronTransfer { transfer, at }, at).await
    }

    async fn release_amount(&self, holder: Uuid, value: &str, at: DateTime<Utc>) -> Result<(), CommandError> {
        match self
            .references()
            .execute(
                &ReferenceKind::UsdtAmount.id(value),
                ReferenceCommand::Release { payment: holder, at },
            )
            .await
        {
            Ok(_) | Err(CommandError::Reference(ReferenceError::NotHeld(_))) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Frees a decided USDT payment's amount for new payments. Idempotent.
    pub async fn release_usdt_amount(&self, payment: Uuid, at: DateTime<Utc>) -> Result<(), CommandError> {
        let p = self.payment(payment).await?;
        if let Some(PaymentMethod::UsdtTrc20 { deposit }) = &p.method {
            if p.status != PaymentStatus::AwaitingGateway {
                self.release_amount(payment, &deposit.usdt.normalize().to_string(), at).await?;
            }
        }
        Ok(())
    }

    // ---- receipt OCR -------------------------------------------------------------

    /// Attaches an OCR reading to the payment's current receipt and returns
    /// its flags. A tracking number is claimed for the payment, so the same
    /// bank receipt shown for a second payment is flagged there.
    pub async fn record_receipt_reading(
        &self,
        payment: Uuid,
        file: &str,
        reading: ReceiptReading,
        at: DateTime<Utc>,
    ) -> Result<Vec<ReceiptFlag>, CommandError> {
        let tracking_used_by = match &reading.tracking {
            Some(t) => self.claim(ReferenceKind::ReceiptTracking, t, payment, at).await?.err(),
            None => None,
        };
        let events = self
            .payments
            .execute(
                &payment.to_string(),
                PaymentCommand::RecordReceiptReading {
                    file: file.to_string(),
                    reading,
                    tracking_used_by,
                    at,
                },
            )
            .await?;
        Ok(events
            .into_iter()
            .find_map(|e| match e {
                PaymentEvent::ReceiptRead { flags, .. } => Some(flags),
                _ => None,
            })
            .unwrap_or_default())
    }

    /// Approves a receipt whose reading matched exactly (the operator turned
    /// auto-approval on); the domain refuses anything less. Then credits.
    pub async fn auto_approve_receipt(&self, payment: Uuid, at: DateTime<Utc>) -> Result<(), CommandError> {
        self.payments
            .execute(&payment.to_string(), PaymentCommand::AutoApproveReceipt { at })
            .await?;
        self.complete_payment(payment, at).await
    }
}

fn outcome_of(events: &[PaymentEvent]) -> Option<GatewayOutcome> {
    events.iter().find_map(|e| match e {
        PaymentEvent::PaymentApproved { .. } => Some(GatewayOutcome::Approved),
        PaymentEvent::GatewayAttemptRefused { reason, .. } => Some(GatewayOutcome::Refused(*reason)),
        _ => None,
    })
}
