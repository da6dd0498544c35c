//! A payment (aggregate id = a UUID): card-to-card with a receipt, Zarinpal,
//! or USDT-TRC20, each a [`PaymentMethod`] on the same aggregate.
//!
//! It is decided exactly once: approved, rejected, or failed. Card-to-card
//! payments are approved by someone holding the receipt-approval permission
//! (or, when the operator allows it, automatically when the OCR reading of the
//! receipt matches exactly). Gateway payments are approved by the gateway's
//! evidence: a Zarinpal verification or a confirmed TRC20 transfer, which the
//! rules below check. A refused attempt (a replayed callback or transaction, a
//! wrong amount, token or destination, a failed transaction) is an event too.
//! What approval causes (a wallet credit, a plan purchase) is done by the
//! `commands` crate's process manager from the `PaymentApproved` event.
use std::collections::BTreeSet;

use chrono::{DateTime, Duration, Utc};
use cqrs_es::event_sink::EventSink;
use cqrs_es::{Aggregate, DomainEvent};
use rust_decimal::Decimal;
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
    CardToCard {
        card: CardSnapshot,
    },
    /// Zarinpal's payment gateway (v4 REST); the amount is sent in rials.
    Zarinpal,
    /// A USDT transfer on TRON to the operator's address, of this exact amount.
    UsdtTrc20 {
        deposit: UsdtDeposit,
    },
}

impl PaymentMethod {
    pub fn name(&self) -> &'static str {
        match self {
            PaymentMethod::CardToCard { .. } => "card_to_card",
            PaymentMethod::Zarinpal => "zarinpal",
            PaymentMethod::UsdtTrc20 { .. } => "usdt_trc20",
        }
    }

    /// The receiving card, for methods that have one.
    pub fn card_id(&self) -> Option<Uuid> {
        match self {
            PaymentMethod::CardToCard { card } => Some(card.card_id),
            _ => None,
        }
    }

    pub fn is_gateway(&self) -> bool {
        !matches!(self, PaymentMethod::CardToCard { .. })
    }
}

/// What a USDT payment asks for, fixed when it is created: the customer sends
/// exactly `usdt` (unique among pending payments) of the `contract` token to
/// `address`, before `expires_at`; it counts after `confirmations` blocks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UsdtDeposit {
    pub address: String,
    pub contract: String,
    pub usdt: Decimal,
    /// Toman per USDT used to price this payment.
    pub rate: Decimal,
    pub confirmations: u32,
    pub expires_at: DateTime<Utc>,
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

/// Why an attempt to settle a payment was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RefusalReason {
    /// The payment was already decided: a callback or transaction seen again.
    Replayed,
    /// The reference (a transaction hash) already paid another payment.
    ReferenceUsed,
    /// Paid or verified amount differs from what the payment asks.
    WrongAmount,
    /// A callback for an authority this payment did not request, or that no payment requested.
    UnknownReference,
    /// A TRC20 transfer of a token other than USDT.
    WrongToken,
    /// A transaction that did not execute successfully on chain.
    FailedTransaction,
    /// A transfer to another address.
    WrongDestination,
    /// A transfer made before the payment was requested.
    BeforeRequest,
    /// A transfer made after the payment expired.
    AfterExpiry,
    /// The gateway answered with an error code.
    GatewayError,
}

impl RefusalReason {
    pub fn name(self) -> &'static str {
        match self {
            RefusalReason::Replayed => "replayed",
            RefusalReason::ReferenceUsed => "reference_used",
            RefusalReason::WrongAmount => "wrong_amount",
            RefusalReason::UnknownReference => "unknown_reference",
            RefusalReason::WrongToken => "wrong_token",
            RefusalReason::FailedTransaction => "failed_transaction",
            RefusalReason::WrongDestination => "wrong_destination",
            RefusalReason::BeforeRequest => "before_request",
            RefusalReason::AfterExpiry => "after_expiry",
            RefusalReason::GatewayError => "gateway_error",
        }
    }
}

/// A TRC20 transfer as the chain reports it (TronGrid's transfer list plus
/// the transaction's execution receipt and the current block height).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TronTransfer {
    pub tx_hash: String,
    /// The token contract (base58 `T…`).
    pub contract: String,
    pub from: String,
    pub to: String,
    /// In token units (base units / 10^decimals), exact.
    pub amount: Decimal,
    pub block: u64,
    pub block_time: DateTime<Utc>,
    pub confirmations: u64,
    /// The receipt says SUCCESS and a matching Transfer log exists.
    pub succeeded: bool,
    /// The chain's reason when it did not succeed (e.g. `OUT_OF_ENERGY`).
    pub failure: Option<String>,
}

/// What OCR read on a card-to-card receipt. Every field is optional: an
/// unreadable field is a flag for the admin, never a guess.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReceiptReading {
    pub amount: Option<Toman>,
    /// The destination card's 16 digits as printed, `*` where masked.
    pub card: Option<String>,
    pub tracking: Option<String>,
    pub paid_at: Option<DateTime<Utc>>,
    /// Which engine read it (e.g. `tesseract 5.3.0`).
    pub engine: String,
    /// The recognised text, for the admin (at most 2,000 characters).
    pub text: String,
}

/// A reason to look twice at a receipt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "flag")]
pub enum ReceiptFlag {
    AmountUnreadable,
    AmountDiffers {
        read: Toman,
    },
    CardUnreadable,
    /// The destination card read is not the card this payment was sent to.
    CardDiffers {
        read: String,
    },
    TrackingUnreadable,
    /// Another payment's receipt carried the same tracking number.
    TrackingReused {
        payment: Uuid,
    },
    TimeUnreadable,
    /// The receipt is older than the payment request (a reused receipt?).
    TimeBeforeRequest {
        read: DateTime<Utc>,
    },
    /// The receipt claims a time after it was read.
    TimeInFuture {
        read: DateTime<Utc>,
    },
}

impl ReceiptFlag {
    pub fn name(&self) -> &'static str {
        match self {
            ReceiptFlag::AmountUnreadable => "amount_unreadable",
            ReceiptFlag::AmountDiffers { .. } => "amount_differs",
            ReceiptFlag::CardUnreadable => "card_unreadable",
            ReceiptFlag::CardDiffers { .. } => "card_differs",
            ReceiptFlag::TrackingUnreadable => "tracking_unreadable",
            ReceiptFlag::TrackingReused { .. } => "tracking_reused",
            ReceiptFlag::TimeUnreadable => "time_unreadable",
            ReceiptFlag::TimeBeforeRequest { .. } => "time_before_request",
            ReceiptFlag::TimeInFuture { .. } => "time_in_future",
        }
    }
}

/// How far a receipt's printed time may precede the request, or follow the
/// reading, before it is flagged (clock skew between bank and server).
pub const RECEIPT_TIME_TOLERANCE_MINUTES: i64 = 15;

/// Whether `read` (16 characters, digits or `*`) shows `card`: every visible
/// digit equal, and at least the first six and last four visible.
pub fn card_matches(read: &str, card: &str) -> bool {
    let (r, c) = (read.as_bytes(), card.as_bytes());
    r.len() == 16
        && c.len() == 16
        && r.iter().zip(c).all(|(a, b)| *a == b'*' || a == b)
        && r[..6].iter().chain(&r[12..]).all(u8::is_ascii_digit)
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
    /// Zarinpal answered our payment request with this authority.
    RecordZarinpalAuthority {
        authority: String,
        at: DateTime<Utc>,
    },
    /// Zarinpal's verify said paid (code 100 or 101) for this authority and amount.
    ConfirmZarinpal {
        authority: String,
        ref_id: u64,
        card_pan: Option<String>,
        verified_rial: i64,
        at: DateTime<Utc>,
    },
    /// A TRC20 transfer that looks like this payment's.
    ConfirmTronTransfer {
        transfer: TronTransfer,
        at: DateTime<Utc>,
    },
    /// Record a refusal decided outside this aggregate (the gateway's own
    /// error code, or a reference another payment holds).
    RefuseAttempt {
        reason: RefusalReason,
        reference: String,
        detail: String,
        at: DateTime<Utc>,
    },
    /// The gateway says the customer did not pay, or the offer expired.
    FailGatewayPayment {
        reason: String,
        at: DateTime<Utc>,
    },
    /// Attach what OCR read on the receipt `file`. `tracking_used_by` is the
    /// other payment whose receipt had the same tracking number, if any.
    RecordReceiptReading {
        file: String,
        reading: ReceiptReading,
        tracking_used_by: Option<Uuid>,
        at: DateTime<Utc>,
    },
    /// Approve a card-to-card payment whose current receipt was read with no
    /// flag at all (the operator must have enabled auto-approval).
    AutoApproveReceipt {
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
    ZarinpalAuthorityIssued {
        customer: CustomerId,
        authority: String,
        amount_rial: i64,
        at: DateTime<Utc>,
    },
    ZarinpalVerified {
        customer: CustomerId,
        authority: String,
        ref_id: u64,
        card_pan: Option<String>,
        at: DateTime<Utc>,
    },
    TronTransferConfirmed {
        customer: CustomerId,
        transfer: TronTransfer,
        at: DateTime<Utc>,
    },
    GatewayAttemptRefused {
        customer: CustomerId,
        reason: RefusalReason,
        reference: String,
        detail: String,
        at: DateTime<Utc>,
    },
    GatewayPaymentFailed {
        customer: CustomerId,
        reason: String,
        at: DateTime<Utc>,
    },
    ReceiptRead {
        customer: CustomerId,
        file: String,
        reading: ReceiptReading,
        flags: Vec<ReceiptFlag>,
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
            PaymentEvent::ZarinpalAuthorityIssued { .. } => "ZarinpalAuthorityIssued",
            PaymentEvent::ZarinpalVerified { .. } => "ZarinpalVerified",
            PaymentEvent::TronTransferConfirmed { .. } => "TronTransferConfirmed",
            PaymentEvent::GatewayAttemptRefused { .. } => "GatewayAttemptRefused",
            PaymentEvent::GatewayPaymentFailed { .. } => "GatewayPaymentFailed",
            PaymentEvent::ReceiptRead { .. } => "ReceiptRead",
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
    #[error("this is a {0} payment; that step belongs to another method")]
    WrongMethod(&'static str),
    #[error("a Zarinpal authority was already issued for this payment")]
    AuthorityAlreadyIssued,
    #[error("a Zarinpal authority is 36 letters and digits starting with A or S")]
    InvalidAuthority,
    #[error("the USDT deposit is invalid: {0}")]
    InvalidDeposit(&'static str),
    #[error("the transfer has {have} confirmations; {need} are required")]
    NotYetConfirmed { have: u64, need: u32 },
    #[error("the reading is for receipt `{0}`, which is no longer this payment's receipt")]
    StaleReceipt(String),
    #[error("the current receipt has not been read yet")]
    NotRead,
    #[error("the receipt reading is not an exact match ({0}); an admin must decide")]
    NotAnExactMatch(String),
    #[error(transparent)]
    Denied(#[from] PermissionDenied),
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum PaymentStatus {
    #[default]
    New,
    AwaitingReceipt,
    AwaitingReview,
    /// A gateway payment waiting for the gateway's evidence.
    AwaitingGateway,
    Approved,
    Rejected,
    Failed,
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
    pub created_at: Option<DateTime<Utc>>,
    /// The Zarinpal authority this payment requested.
    pub authority: Option<String>,
    /// What settled it: the Zarinpal authority or the transaction hash.
    pub settled_by: Option<String>,
    /// The flags of the reading of the current receipt, once read.
    pub reading_flags: Option<Vec<ReceiptFlag>>,
    /// Refusals already recorded, so a poller seeing the same bad
    /// transaction again does not record it again.
    pub refusals: BTreeSet<(RefusalReason, String)>,
}

/// `s` trimmed to at most `max` characters.
pub(crate) fn bounded(s: &str, max: usize) -> String {
    s.trim().chars().take(max).collect()
}

/// A Zarinpal authority: `A` (production) or `S` (sandbox) and 35 more letters or digits.
pub fn valid_authority(a: &str) -> bool {
    a.len() == 36 && (a.starts_with('A') || a.starts_with('S')) && a.bytes().all(|b| b.is_ascii_alphanumeric())
}

impl Payment {
    fn undecided(&self) -> Result<CustomerId, PaymentError> {
        let customer = self.customer.ok_or(PaymentError::NotFound)?;
        match self.status {
            PaymentStatus::Approved => Err(PaymentError::AlreadyDecided("approved")),
            PaymentStatus::Rejected => Err(PaymentError::AlreadyDecided("rejected")),
            PaymentStatus::Failed => Err(PaymentError::AlreadyDecided("failed")),
            _ => Ok(customer),
        }
    }

    fn decided(&self) -> bool {
        matches!(
            self.status,
            PaymentStatus::Approved | PaymentStatus::Rejected | PaymentStatus::Failed
        )
    }

    /// The amount in rials, as Zarinpal takes it (one Toman is ten rials).
    pub fn amount_rial(&self) -> i64 {
        use rust_decimal::prelude::ToPrimitive;
        (self.amount.value() * Decimal::TEN).to_i64().unwrap_or(i64::MAX)
    }

    fn approved(&self, customer: CustomerId, by: ActorRef, at: DateTime<Utc>) -> PaymentEvent {
        PaymentEvent::PaymentApproved {
            customer,
            amount: self.amount,
            method: self.method.as_ref().map(|m| m.name()).unwrap_or_default().to_string(),
            card_id: self.method.as_ref().and_then(PaymentMethod::card_id),
            purpose: self.purpose.clone().unwrap_or(PaymentPurpose::WalletTopUp),
            by,
            at,
        }
    }

    /// A refusal event, or nothing when this exact refusal is already recorded.
    fn refusal(
        &self,
        customer: CustomerId,
        reason: RefusalReason,
        reference: &str,
        detail: String,
        at: DateTime<Utc>,
    ) -> Vec<PaymentEvent> {
        if self.refusals.contains(&(reason, reference.to_string())) {
            return vec![];
        }
        vec![PaymentEvent::GatewayAttemptRefused {
            customer,
            reason,
            reference: reference.to_string(),
            detail: bounded(&detail, 500),
            at,
        }]
    }

    fn method_name(&self) -> &'static str {
        self.method.as_ref().map(|m| m.name()).unwrap_or("unknown")
    }

    /// Why a Zarinpal verification for `authority` of `verified_rial` must be
    /// refused, or `None` when it settles this payment.
    pub fn zarinpal_refusal(&self, authority: &str, verified_rial: i64) -> Option<(RefusalReason, String)> {
        if self.authority.as_deref() != Some(authority) {
            let detail = format!(
                "callback for authority {authority}, but this payment requested {:?}",
                self.authority
            );
            return Some((RefusalReason::UnknownReference, detail));
        }
        if self.decided() {
            return Some((
                RefusalReason::Replayed,
                format!("payment already {:?}; verification seen again", self.status),
            ));
        }
        if verified_rial != self.amount_rial() {
            let detail = format!("verified {verified_rial} rials, the payment asks {} rials", self.amount_rial());
            return Some((RefusalReason::WrongAmount, detail));
        }
        None
    }

    /// Why `transfer` must be refused for this USDT payment, `None` when it
    /// settles it, or an error when it is not a USDT payment or must wait
    /// for more confirmations.
    pub fn tron_refusal(&self, transfer: &TronTransfer) -> Result<Option<(RefusalReason, String)>, PaymentError> {
        let Some(PaymentMethod::UsdtTrc20 { deposit }) = &self.method else {
            return Err(PaymentError::WrongMethod(self.method_name()));
        };
        let refuse = |reason, detail: String| Ok(Some((reason, detail)));
        if self.decided() {
            return refuse(RefusalReason::Replayed, format!("payment already {:?}", self.status));
        }
        if transfer.contract != deposit.contract {
            return refuse(
                RefusalReason::WrongToken,
                format!("token {} is not USDT ({})", transfer.contract, deposit.contract),
            );
        }
        if !transfer.succeeded {
            let why = transfer.failure.clone().unwrap_or_else(|| "no successful Transfer log".into());
            return refuse(RefusalReason::FailedTransaction, format!("transaction failed: {why}"));
        }
        if transfer.to != deposit.address {
            return refuse(
                RefusalReason::WrongDestination,
                format!("sent to {}, not to {}", transfer.to, deposit.address),
            );
        }
        if transfer.amount != deposit.usdt {
            return refuse(
                RefusalReason::WrongAmount,
                format!("sent {} USDT, the payment asks exactly {}", transfer.amount, deposit.usdt),
            );
        }
        if let Some(created) = self.created_at {
            if transfer.block_time < created {
                return refuse(
                    RefusalReason::BeforeRequest,
                    format!("transfer at {} predates the request at {created}", transfer.block_time),
                );
            }
        }
        if transfer.block_time > deposit.expires_at {
            return refuse(
                RefusalReason::AfterExpiry,
                format!(
                    "transfer at {} after the offer expired at {}",
                    transfer.block_time, deposit.expires_at
                ),
            );
        }
        if transfer.confirmations < u64::from(deposit.confirmations) {
            return Err(PaymentError::NotYetConfirmed {
                have: transfer.confirmations,
                need: deposit.confirmations,
            });
        }
        Ok(None)
    }

    fn confirm_zarinpal(
        &self,
        authority: String,
        ref_id: u64,
        card_pan: Option<String>,
        verified_rial: i64,
        at: DateTime<Utc>,
    ) -> Result<Vec<PaymentEvent>, PaymentError> {
        let customer = self.customer.ok_or(PaymentError::NotFound)?;
        if !matches!(self.method, Some(PaymentMethod::Zarinpal)) {
            return Err(PaymentError::WrongMethod(self.method_name()));
        }
        if let Some((reason, detail)) = self.zarinpal_refusal(&authority, verified_rial) {
            return Ok(self.refusal(customer, reason, &authority, detail, at));
        }
        Ok(vec![
            PaymentEvent::ZarinpalVerified {
                customer,
                authority,
                ref_id,
                card_pan: card_pan.map(|p| bounded(&p, 32)),
                at,
            },
            self.approved(customer, ActorRef::System, at),
        ])
    }

    fn confirm_tron(&self, transfer: TronTransfer, at: DateTime<Utc>) -> Result<Vec<PaymentEvent>, PaymentError> {
        let customer = self.customer.ok_or(PaymentError::NotFound)?;
        let hash = transfer.tx_hash.to_ascii_lowercase();
        if let Some((reason, detail)) = self.tron_refusal(&transfer)? {
            return Ok(self.refusal(customer, reason, &hash, detail, at));
        }
        Ok(vec![
            PaymentEvent::TronTransferConfirmed {
                customer,
                transfer: TronTransfer { tx_hash: hash, ..transfer },
                at,
            },
            self.approved(customer, ActorRef::System, at),
        ])
    }

    fn flags(&self, reading: &ReceiptReading, tracking_used_by: Option<Uuid>, at: DateTime<Utc>) -> Vec<ReceiptFlag> {
        let mut flags = Vec::new();
        match reading.amount {
            None => flags.push(ReceiptFlag::AmountUnreadable),
            Some(a) if a != self.amount => flags.push(ReceiptFlag::AmountDiffers { read: a }),
            Some(_) => {}
        }
        let card = match &self.method {
            Some(PaymentMethod::CardToCard { card }) => Some(card.number.as_str()),
            _ => None,
        };
        match (&reading.card, card) {
            (None, _) => flags.push(ReceiptFlag::CardUnreadable),
            (Some(read), Some(card)) if card_matches(read, card) => {}
            (Some(read), _) => flags.push(ReceiptFlag::CardDiffers { read: read.clone() }),
        }
        match (&reading.tracking, tracking_used_by) {
            (None, _) => flags.push(ReceiptFlag::TrackingUnreadable),
            (Some(_), Some(other)) if Some(other) != self.id => flags.push(ReceiptFlag::TrackingReused { payment: other }),
            _ => {}
        }
        let tolerance = Duration::minutes(RECEIPT_TIME_TOLERANCE_MINUTES);
        match reading.paid_at {
            None => flags.push(ReceiptFlag::TimeUnreadable),
            Some(t) if self.created_at.is_some_and(|c| t < c - tolerance) => flags.push(ReceiptFlag::TimeBeforeRequest { read: t }),
            Some(t) if t > at + tolerance => flags.push(ReceiptFlag::TimeInFuture { read: t }),
            Some(_) => {}
        }
        flags
    }
}

impl Aggregate for Payment {
    const TYPE: &'static str = "Payment";
    type Command = PaymentCommand;
    type Event = PaymentEvent;
    type Error = PaymentError;
    type Services = ();

    async fn handle(&mut self, command: Self::Command, _: &(), sink: &EventSink<Self>) -> Result<(), Self::Error> {
        let events = match command {
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
                if let PaymentMethod::UsdtTrc20 { deposit } = &method {
                    if deposit.usdt <= Decimal::ZERO || deposit.usdt.normalize().scale() > 6 {
                        return Err(PaymentError::InvalidDeposit(
                            "the USDT amount must be positive with at most 6 decimals",
                        ));
                    }
                    if deposit.rate <= Decimal::ZERO {
                        return Err(PaymentError::InvalidDeposit("the rate must be positive"));
                    }
                    if deposit.address.trim().is_empty() || deposit.contract.trim().is_empty() {
                        return Err(PaymentError::InvalidDeposit("an address and a token contract are required"));
                    }
                    if deposit.expires_at <= at {
                        return Err(PaymentError::InvalidDeposit("it must expire after it is created"));
                    }
                }
                vec![PaymentEvent::PaymentCreated {
                    id,
                    customer,
                    amount,
                    method,
                    purpose,
                    at,
                }]
            }
            PaymentCommand::SubmitReceipt { by, file, at } => {
                let customer = self.undecided()?;
                if by.customer_id() != Some(customer) {
                    return Err(PaymentError::NotYourPayment);
                }
                if self.method.as_ref().is_some_and(PaymentMethod::is_gateway) {
                    return Err(PaymentError::WrongMethod(self.method_name()));
                }
                let file = file.trim().to_string();
                if file.is_empty() {
                    return Err(PaymentError::ReceiptRequired);
                }
                vec![PaymentEvent::ReceiptSubmitted {
                    customer,
                    amount: self.amount,
                    file,
                    at,
                }]
            }
            PaymentCommand::ApprovePayment { by, at } => {
                by.require(Permission::ApproveReceipts)?;
                let customer = self.undecided()?;
                if self.receipt.is_none() {
                    return Err(PaymentError::NoReceipt);
                }
                vec![self.approved(customer, by.reference(), at)]
            }
            PaymentCommand::RejectPayment { by, reason, at } => {
                by.require(Permission::ApproveReceipts)?;
                let customer = self.undecided()?;
                let reason = reason.trim().to_string();
                if reason.is_empty() {
                    return Err(PaymentError::ReasonRequired);
                }
                vec![PaymentEvent::PaymentRejected {
                    customer,
                    reason,
                    by: by.reference(),
                    at,
                }]
            }
            PaymentCommand::RecordZarinpalAuthority { authority, at } => {
                let customer = self.undecided()?;
                if !matches!(self.method, Some(PaymentMethod::Zarinpal)) {
                    return Err(PaymentError::WrongMethod(self.method_name()));
                }
                if !valid_authority(&authority) {
                    return Err(PaymentError::InvalidAuthority);
                }
                match &self.authority {
                    Some(a) if *a == authority => vec![],
                    Some(_) => return Err(PaymentError::AuthorityAlreadyIssued),
                    None => vec![PaymentEvent::ZarinpalAuthorityIssued {
                        customer,
                        authority,
                        amount_rial: self.amount_rial(),
                        at,
                    }],
                }
            }
            PaymentCommand::ConfirmZarinpal {
                authority,
                ref_id,
                card_pan,
                verified_rial,
                at,
            } => self.confirm_zarinpal(authority, ref_id, card_pan, verified_rial, at)?,
            PaymentCommand::ConfirmTronTransfer { transfer, at } => self.confirm_tron(transfer, at)?,
            PaymentCommand::RefuseAttempt {
                reason,
                reference,
                detail,
                at,
            } => {
                let customer = self.customer.ok_or(PaymentError::NotFound)?;
                self.refusal(customer, reason, reference.trim(), detail, at)
            }
            PaymentCommand::FailGatewayPayment { reason, at } => {
                let customer = self.undecided()?;
                if !self.method.as_ref().is_some_and(PaymentMethod::is_gateway) {
                    return Err(PaymentError::WrongMethod(self.method_name()));
                }
                let reason = bounded(&reason, 500);
                if reason.is_empty() {
                    return Err(PaymentError::ReasonRequired);
                }
                vec![PaymentEvent::GatewayPaymentFailed { customer, reason, at }]
            }
            PaymentCommand::RecordReceiptReading {
                file,
                reading,
                tracking_used_by,
                at,
            } => {
                let customer = self.undecided()?;
                if self.receipt.as_deref() != Some(file.as_str()) {
                    return Err(PaymentError::StaleReceipt(file));
                }
                let flags = self.flags(&reading, tracking_used_by, at);
                let reading = ReceiptReading {
                    text: bounded(&reading.text, 2000),
                    engine: bounded(&reading.engine, 100),
                    tracking: reading.tracking.map(|t| bounded(&t, 40)),
                    ..reading
                };
                vec![PaymentEvent::ReceiptRead {
                    customer,
                    file,
                    reading,
                    flags,
                    at,
                }]
            }
            PaymentCommand::AutoApproveReceipt { at } => {
                let customer = self.undecided()?;
                if self.receipt.is_none() {
                    return Err(PaymentError::NoReceipt);
                }
                match &self.reading_flags {
                    None => return Err(PaymentError::NotRead),
                    Some(flags) if !flags.is_empty() => {
                        let names: Vec<&str> = flags.iter().map(ReceiptFlag::name).collect();
                        return Err(PaymentError::NotAnExactMatch(names.join(", ")));
                    }
                    Some(_) => vec![self.approved(customer, ActorRef::System, at)],
                }
            }
        };
        for event in events {
            sink.write(event, self).await;
        }
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
                at,
            } => {
                self.id = Some(id);
                self.customer = Some(customer);
                self.amount = amount;
                self.status = if method.is_gateway() {
                    PaymentStatus::AwaitingGateway
                } else {
                    PaymentStatus::AwaitingReceipt
                };
                self.method = Some(method);
                self.purpose = Some(purpose);
                self.created_at = Some(at);
            }
            PaymentEvent::ReceiptSubmitted { file, .. } => {
                self.receipt = Some(file);
                self.reading_flags = None;
                self.status = PaymentStatus::AwaitingReview;
            }
            PaymentEvent::PaymentApproved { .. } => self.status = PaymentStatus::Approved,
            PaymentEvent::PaymentRejected { .. } => self.status = PaymentStatus::Rejected,
            PaymentEvent::ZarinpalAuthorityIssued { authority, .. } => self.authority = Some(authority),
            PaymentEvent::ZarinpalVerified { authority, .. } => self.settled_by = Some(authority),
            PaymentEvent::TronTransferConfirmed { transfer, .. } => self.settled_by = Some(transfer.tx_hash),
            PaymentEvent::GatewayAttemptRefused { reason, reference, .. } => {
                self.refusals.insert((reason, reference));
            }
            PaymentEvent::GatewayPaymentFailed { .. } => self.status = PaymentStatus::Failed,
            PaymentEvent::ReceiptRead { file, flags, .. } => {
                if self.receipt.as_deref() == Some(file.as_str()) {
                    self.reading_flags = Some(flags);
                }
            }
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

    // ---- gateways ----------------------------------------------------------

    const AUTH: &str = "A0000000000000000000000000000wwOGYpd";

    fn zarinpal_created() -> PaymentEvent {
        PaymentEvent::PaymentCreated {
            id: Uuid::nil(),
            customer: C,
            amount: toman(100_000),
            method: PaymentMethod::Zarinpal,
            purpose: PaymentPurpose::WalletTopUp,
            at: t0(),
        }
    }
    fn authority_issued() -> PaymentEvent {
        PaymentEvent::ZarinpalAuthorityIssued {
            customer: C,
            authority: AUTH.into(),
            amount_rial: 1_000_000,
            at: t0(),
        }
    }
    fn confirm(authority: &str, rial: i64) -> PaymentCommand {
        PaymentCommand::ConfirmZarinpal {
            authority: authority.into(),
            ref_id: 201,
            card_pan: Some("502229******5995".into()),
            verified_rial: rial,
            at: t0(),
        }
    }
    fn approved_by_system(method: &str) -> PaymentEvent {
        PaymentEvent::PaymentApproved {
            customer: C,
            amount: toman(100_000),
            method: method.into(),
            card_id: None,
            purpose: PaymentPurpose::WalletTopUp,
            by: ActorRef::System,
            at: t0(),
        }
    }
    fn refused(reason: RefusalReason, reference: &str, detail: &str) -> PaymentEvent {
        PaymentEvent::GatewayAttemptRefused {
            customer: C,
            reason,
            reference: reference.into(),
            detail: detail.into(),
            at: t0(),
        }
    }

    #[test]
    fn a_zarinpal_authority_is_issued_once_and_in_rials() {
        Given::with(())
            .given(vec![zarinpal_created()])
            .when(PaymentCommand::RecordZarinpalAuthority {
                authority: AUTH.into(),
                at: t0(),
            })
            .then_expect_events(vec![authority_issued()]);
        Given::with(())
            .given(vec![zarinpal_created(), authority_issued()])
            .when(PaymentCommand::RecordZarinpalAuthority {
                authority: "S0000000000000000000000000000wwOGYpd".into(),
                at: t0(),
            })
            .then_expect_error(PaymentError::AuthorityAlreadyIssued);
        Given::with(())
            .given(vec![zarinpal_created()])
            .when(PaymentCommand::RecordZarinpalAuthority {
                authority: "A12".into(),
                at: t0(),
            })
            .then_expect_error(PaymentError::InvalidAuthority);
    }

    #[test]
    fn a_verified_zarinpal_payment_is_approved_by_the_system() {
        Given::with(())
            .given(vec![zarinpal_created(), authority_issued()])
            .when(confirm(AUTH, 1_000_000))
            .then_expect_events(vec![
                PaymentEvent::ZarinpalVerified {
                    customer: C,
                    authority: AUTH.into(),
                    ref_id: 201,
                    card_pan: Some("502229******5995".into()),
                    at: t0(),
                },
                approved_by_system("zarinpal"),
            ]);
    }

    #[test]
    fn a_replayed_zarinpal_callback_is_refused_and_recorded_once() {
        let verified = PaymentEvent::ZarinpalVerified {
            customer: C,
            authority: AUTH.into(),
            ref_id: 201,
            card_pan: None,
            at: t0(),
        };
        let history = vec![zarinpal_created(), authority_issued(), verified, approved_by_system("zarinpal")];
        let replay = refused(RefusalReason::Replayed, AUTH, "payment already Approved; verification seen again");
        Given::with(())
            .given(history.clone())
            .when(confirm(AUTH, 1_000_000))
            .then_expect_events(vec![replay.clone()]);
        let mut again = history;
        again.push(replay);
        Given::with(())
            .given(again)
            .when(confirm(AUTH, 1_000_000))
            .then_expect_events(vec![]);
    }

    #[test]
    fn a_wrong_amount_or_a_foreign_authority_is_refused_not_approved() {
        Given::with(())
            .given(vec![zarinpal_created(), authority_issued()])
            .when(confirm(AUTH, 10_000))
            .then_expect_events(vec![refused(
                RefusalReason::WrongAmount,
                AUTH,
                "verified 10000 rials, the payment asks 1000000 rials",
            )]);
        let other = "A0000000000000000000000000000OTHER00";
        Given::with(())
            .given(vec![zarinpal_created(), authority_issued()])
            .when(confirm(other, 1_000_000))
            .then_expect_events(vec![refused(
                RefusalReason::UnknownReference,
                other,
                &format!("callback for authority {other}, but this payment requested Some(\"{AUTH}\")"),
            )]);
    }

    #[test]
    fn gateway_payments_take_no_receipt_and_card_payments_no_gateway_evidence() {
        Given::with(())
            .given(vec![zarinpal_created()])
            .when(PaymentCommand::SubmitReceipt {
                by: Actor::user(C, []),
                file: "f".into(),
                at: t0(),
            })
            .then_expect_error(PaymentError::WrongMethod("zarinpal"));
        Given::with(())
            .given(vec![created()])
            .when(confirm(AUTH, 1_000_000))
            .then_expect_error(PaymentError::WrongMethod("card_to_card"));
        Given::with(())
            .given(vec![created()])
            .when(PaymentCommand::FailGatewayPayment {
                reason: "x".into(),
                at: t0(),
            })
            .then_expect_error(PaymentError::WrongMethod("card_to_card"));
    }

    #[test]
    fn a_failed_gateway_payment_is_decided() {
        let failed = PaymentEvent::GatewayPaymentFailed {
            customer: C,
            reason: "Status=NOK".into(),
            at: t0(),
        };
        Given::with(())
            .given(vec![zarinpal_created(), authority_issued()])
            .when(PaymentCommand::FailGatewayPayment {
                reason: "Status=NOK".into(),
                at: t0(),
            })
            .then_expect_events(vec![failed.clone()]);
        Given::with(())
            .given(vec![zarinpal_created(), authority_issued(), failed])
            .when(PaymentCommand::FailGatewayPayment {
                reason: "again".into(),
                at: t0(),
            })
            .then_expect_error(PaymentError::AlreadyDecided("failed"));
    }

    const USDT: &str = "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t";
    const ADDR: &str = "TJmmqjb1DK9TTZbQXzRQ2AuA94z4gKAPFh";

    fn deposit() -> UsdtDeposit {
        UsdtDeposit {
            address: ADDR.into(),
            contract: USDT.into(),
            usdt: "1.723".parse().unwrap(),
            rate: "58000".parse().unwrap(),
            confirmations: 19,
            expires_at: t0() + Duration::hours(1),
        }
    }
    fn usdt_created() -> PaymentEvent {
        PaymentEvent::PaymentCreated {
            id: Uuid::nil(),
            customer: C,
            amount: toman(100_000),
            method: PaymentMethod::UsdtTrc20 { deposit: deposit() },
            purpose: PaymentPurpose::WalletTopUp,
            at: t0(),
        }
    }
    fn transfer() -> TronTransfer {
        TronTransfer {
            tx_hash: "ab12".into(),
            contract: USDT.into(),
            from: "TYE218dMfzo2TH348AbKyHD2G8PjGo7ESS".into(),
            to: ADDR.into(),
            amount: "1.723".parse().unwrap(),
            block: 100,
            block_time: t0() + Duration::minutes(5),
            confirmations: 19,
            succeeded: true,
            failure: None,
        }
    }
    fn tron(t: TronTransfer) -> PaymentCommand {
        PaymentCommand::ConfirmTronTransfer { transfer: t, at: t0() }
    }

    #[test]
    fn a_matching_confirmed_usdt_transfer_approves() {
        Given::with(())
            .given(vec![usdt_created()])
            .when(tron(transfer()))
            .then_expect_events(vec![
                PaymentEvent::TronTransferConfirmed {
                    customer: C,
                    transfer: transfer(),
                    at: t0(),
                },
                approved_by_system("usdt_trc20"),
            ]);
    }

    #[test]
    fn every_usdt_fraud_path_is_refused_with_its_reason() {
        let cases = [
            (
                TronTransfer {
                    contract: "TXLAQ63Xg1NAzckPwKHvzw7CSEmLMEqcdj".into(),
                    ..transfer()
                },
                RefusalReason::WrongToken,
            ),
            (
                TronTransfer {
                    succeeded: false,
                    failure: Some("OUT_OF_ENERGY".into()),
                    ..transfer()
                },
                RefusalReason::FailedTransaction,
            ),
            (
                TronTransfer {
                    to: "TL6752QaiLmEAidRCXkL85CNiwSG4asy9M".into(),
                    ..transfer()
                },
                RefusalReason::WrongDestination,
            ),
            (
                TronTransfer {
                    amount: "1.72".parse().unwrap(),
                    ..transfer()
                },
                RefusalReason::WrongAmount,
            ),
            (
                TronTransfer {
                    block_time: t0() - Duration::minutes(1),
                    ..transfer()
                },
                RefusalReason::BeforeRequest,
            ),
            (
                TronTransfer {
                    block_time: t0() + Duration::hours(2),
                    ..transfer()
                },
                RefusalReason::AfterExpiry,
            ),
        ];
        for (t, reason) in cases {
            let events = Given::with(()).given(vec![usdt_created()]).when(tron(t)).inspect_result().unwrap();
            assert!(
                matches!(events.as_slice(), [PaymentEvent::GatewayAttemptRefused { reason: r, reference, .. }] if *r == reason && reference == "ab12"),
                "{reason:?}: {events:?}"
            );
        }
    }

    #[test]
    fn an_unconfirmed_transfer_waits_and_a_replayed_one_is_refused() {
        Given::with(())
            .given(vec![usdt_created()])
            .when(tron(TronTransfer {
                confirmations: 3,
                ..transfer()
            }))
            .then_expect_error(PaymentError::NotYetConfirmed { have: 3, need: 19 });
        let done = PaymentEvent::TronTransferConfirmed {
            customer: C,
            transfer: transfer(),
            at: t0(),
        };
        Given::with(())
            .given(vec![usdt_created(), done, approved_by_system("usdt_trc20")])
            .when(tron(transfer()))
            .then_expect_events(vec![refused(RefusalReason::Replayed, "ab12", "payment already Approved")]);
    }

    #[test]
    fn a_usdt_deposit_must_be_exact_and_positive() {
        let mut d = deposit();
        d.usdt = "1.0000001".parse().unwrap();
        Given::with(())
            .given_no_previous_events()
            .when(PaymentCommand::CreatePayment {
                id: Uuid::nil(),
                customer: C,
                amount: toman(100_000),
                method: PaymentMethod::UsdtTrc20 { deposit: d },
                purpose: PaymentPurpose::WalletTopUp,
                at: t0(),
            })
            .then_expect_error(PaymentError::InvalidDeposit(
                "the USDT amount must be positive with at most 6 decimals",
            ));
    }

    // ---- receipt readings ----------------------------------------------------

    fn reading(amount: i64, card: &str, tracking: Option<&str>, minutes: i64) -> ReceiptReading {
        ReceiptReading {
            amount: Some(toman(amount)),
            card: Some(card.into()),
            tracking: tracking.map(str::to_string),
            paid_at: Some(t0() + Duration::minutes(minutes)),
            engine: "test".into(),
            text: "...".into(),
        }
    }
    fn record(r: ReceiptReading, used_by: Option<Uuid>) -> PaymentCommand {
        PaymentCommand::RecordReceiptReading {
            file: "tg:file-1".into(),
            reading: r,
            tracking_used_by: used_by,
            at: t0() + Duration::minutes(10),
        }
    }
    fn flags_of(cmd: PaymentCommand) -> Vec<ReceiptFlag> {
        let events = Given::with(())
            .given(vec![created(), receipt()])
            .when(cmd)
            .inspect_result()
            .unwrap();
        match events.as_slice() {
            [PaymentEvent::ReceiptRead { flags, .. }] => flags.clone(),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn an_exact_reading_has_no_flags_and_masked_cards_match() {
        assert_eq!(flags_of(record(reading(100_000, "6037997599999993", Some("123"), 2), None)), vec![]);
        assert_eq!(flags_of(record(reading(100_000, "603799******9993", Some("123"), 2), None)), vec![]);
    }

    #[test]
    fn mismatches_are_flagged() {
        let other = Uuid::from_u128(7);
        let flags = flags_of(record(reading(90_000, "6104337599999993", Some("123"), -60), Some(other)));
        assert_eq!(
            flags,
            vec![
                ReceiptFlag::AmountDiffers { read: toman(90_000) },
                ReceiptFlag::CardDiffers {
                    read: "6104337599999993".into()
                },
                ReceiptFlag::TrackingReused { payment: other },
                ReceiptFlag::TimeBeforeRequest {
                    read: t0() - Duration::minutes(60)
                },
            ]
        );
        let blank = ReceiptReading {
            amount: None,
            card: None,
            tracking: None,
            paid_at: None,
            engine: "t".into(),
            text: String::new(),
        };
        assert_eq!(
            flags_of(record(blank, None)),
            vec![
                ReceiptFlag::AmountUnreadable,
                ReceiptFlag::CardUnreadable,
                ReceiptFlag::TrackingUnreadable,
                ReceiptFlag::TimeUnreadable
            ]
        );
    }

    #[test]
    fn a_reading_of_an_old_receipt_is_refused() {
        Given::with(())
            .given(vec![created(), receipt()])
            .when(PaymentCommand::RecordReceiptReading {
                file: "tg:old".into(),
                reading: reading(100_000, "6037997599999993", Some("1"), 1),
                tracking_used_by: None,
                at: t0(),
            })
            .then_expect_error(PaymentError::StaleReceipt("tg:old".into()));
    }

    #[test]
    fn auto_approval_needs_an_exact_reading_of_the_current_receipt() {
        let read = |flags| PaymentEvent::ReceiptRead {
            customer: C,
            file: "tg:file-1".into(),
            reading: reading(100_000, "6037997599999993", Some("1"), 1),
            flags,
            at: t0(),
        };
        Given::with(())
            .given(vec![created(), receipt()])
            .when(PaymentCommand::AutoApproveReceipt { at: t0() })
            .then_expect_error(PaymentError::NotRead);
        Given::with(())
            .given(vec![created(), receipt(), read(vec![ReceiptFlag::TrackingUnreadable])])
            .when(PaymentCommand::AutoApproveReceipt { at: t0() })
            .then_expect_error(PaymentError::NotAnExactMatch("tracking_unreadable".into()));
        // A new receipt after the reading needs its own reading.
        let resubmitted = PaymentEvent::ReceiptSubmitted {
            customer: C,
            amount: toman(100_000),
            file: "tg:file-2".into(),
            at: t0(),
        };
        Given::with(())
            .given(vec![created(), receipt(), read(vec![]), resubmitted])
            .when(PaymentCommand::AutoApproveReceipt { at: t0() })
            .then_expect_error(PaymentError::NotRead);
        let events = Given::with(())
            .given(vec![created(), receipt(), read(vec![])])
            .when(PaymentCommand::AutoApproveReceipt { at: t0() })
            .inspect_result()
            .unwrap();
        assert!(matches!(
            events.as_slice(),
            [PaymentEvent::PaymentApproved { by: ActorRef::System, .. }]
        ));
    }

    #[test]
    fn card_matching_needs_the_first_six_and_last_four() {
        assert!(card_matches("603799******9993", "6037997599999993"));
        assert!(!card_matches("6037************", "6037997599999993"));
        assert!(!card_matches("603799******9994", "6037997599999993"));
        assert!(!card_matches("603799", "6037997599999993"));
    }
}
