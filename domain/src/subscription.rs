//! A customer's subscription (aggregate id = a UUID), paid from the wallet.
//!
//! Money and subscription live in two aggregates, so every payment from the
//! wallet is a numbered *charge*: `ChargeRequested` here, then a wallet debit
//! with reference `sub:<id>:<n>`, then `ChargeSettled` (or `ChargeFailed` when
//! the wallet refused). The `commands` crate runs those steps and a process
//! manager finishes any that a crash interrupted; because the wallet applies a
//! reference once and a charge settles once, no step can happen twice.
use chrono::{DateTime, Duration, Utc};
use cqrs_es::event_sink::EventSink;
use cqrs_es::{Aggregate, DomainEvent};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::access::{Actor, ActorRef, Permission, PermissionDenied};
use crate::money::Toman;
use crate::plan::PlanSnapshot;
use crate::values::{CustomerId, Location};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum ChargeKind {
    Purchase,
    Renewal { plan: PlanSnapshot },
    Traffic { gb: u32 },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum SubscriptionCommand {
    RequestPurchase {
        id: Uuid,
        customer: CustomerId,
        plan: PlanSnapshot,
        location: Location,
        by: Actor,
        at: DateTime<Utc>,
    },
    RequestRenewal {
        plan: PlanSnapshot,
        by: Actor,
        at: DateTime<Utc>,
    },
    RequestTraffic {
        gb: u32,
        price: Toman,
        by: Actor,
        at: DateTime<Utc>,
    },
    /// The auto-renewal scheduler's renewal: requests charge `charge_no` only
    /// when no charge with that number exists yet (a repeat does nothing), so
    /// redoing a started auto-renewal after a crash never charges twice.
    RequestAutoRenewal {
        plan: PlanSnapshot,
        charge_no: u32,
        at: DateTime<Utc>,
    },
    SettleCharge {
        charge_no: u32,
        at: DateTime<Utc>,
    },
    FailCharge {
        charge_no: u32,
        reason: String,
        at: DateTime<Utc>,
    },
    Expire {
        at: DateTime<Utc>,
    },
    Cancel {
        refund: Toman,
        reason: String,
        by: Actor,
        at: DateTime<Utc>,
    },
    /// The provisioner's intent, recorded before it calls the panel, so a
    /// retry after a crash reuses the same panel, email and UUID.
    StartProvisioning {
        placement: Placement,
        /// Failover: the panel of the started placement being given up (its
        /// client, if the call got through, is removed later).
        replacing: Option<Uuid>,
        at: DateTime<Utc>,
    },
    RecordProvisioned {
        placement: Placement,
        terms: ClientTerms,
        sub_url: String,
        links: Vec<String>,
        at: DateTime<Utc>,
    },
    /// The client's quota, expiry or enable flag was written to the panel.
    RecordClientUpdated {
        placement: Placement,
        terms: ClientTerms,
        at: DateTime<Utc>,
    },
    FailProvisioning {
        reason: String,
        at: DateTime<Utc>,
    },
    RetryProvisioning {
        by: Actor,
        at: DateTime<Utc>,
    },
    RequestLocationSwitch {
        to: Location,
        by: Actor,
        at: DateTime<Utc>,
    },
    /// A client was removed from a panel (`deleted`), or found absent there.
    RecordDeprovisioned {
        placement: Placement,
        deleted: bool,
        at: DateTime<Utc>,
    },
    RecordUsage {
        used_bytes: i64,
        at: DateTime<Utc>,
    },
    RecordMissingOnPanel {
        placement: Placement,
        at: DateTime<Utc>,
    },
    /// The panel reports the client expired (its own expiry passed).
    RecordExpiredOnPanel {
        placement: Placement,
        expiry_ms: i64,
        at: DateTime<Utc>,
    },
    /// Extra days and/or traffic given for nothing (bought with loyalty
    /// points); once per `reference`.
    GrantBonus {
        days: u32,
        gb: u32,
        reference: String,
        at: DateTime<Utc>,
    },
}

/// Where a subscription's client lives on a panel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Placement {
    pub panel_id: Uuid,
    pub inbound_id: i64,
    pub email: String,
    pub client_uuid: Uuid,
    pub sub_id: String,
}

/// What the panel client should allow: the values written to (or wanted on) the panel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientTerms {
    /// Bytes; 0 = unlimited (the panel's `totalGB`, which is bytes).
    pub total_bytes: i64,
    /// Milliseconds since the epoch (the panel's `expiryTime`).
    pub expiry_ms: i64,
    pub enabled: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub enum Provisioning {
    #[default]
    NotStarted,
    Started(Placement),
    Provisioned(Placement),
    Failed {
        reason: String,
    },
    /// Reconciliation found the client gone from its panel.
    Missing(Placement),
    /// The client was deleted (after a cancellation).
    Removed(Placement),
}

impl Provisioning {
    pub fn name(&self) -> &'static str {
        match self {
            Provisioning::NotStarted => "not_started",
            Provisioning::Started(_) => "started",
            Provisioning::Provisioned(_) => "provisioned",
            Provisioning::Failed { .. } => "failed",
            Provisioning::Missing(_) => "missing",
            Provisioning::Removed(_) => "removed",
        }
    }
    /// The placement a client lives (or should live) at.
    pub fn placement(&self) -> Option<&Placement> {
        match self {
            Provisioning::Started(p) | Provisioning::Provisioned(p) | Provisioning::Missing(p) => Some(p),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum SubscriptionEvent {
    SubscriptionRequested {
        id: Uuid,
        customer: CustomerId,
        plan: PlanSnapshot,
        location: Location,
        by: ActorRef,
        at: DateTime<Utc>,
    },
    ChargeRequested {
        customer: CustomerId,
        charge_no: u32,
        kind: ChargeKind,
        amount: Toman,
        at: DateTime<Utc>,
    },
    ChargeSettled {
        customer: CustomerId,
        charge_no: u32,
        kind: ChargeKind,
        amount: Toman,
        starts_at: DateTime<Utc>,
        expires_at: DateTime<Utc>,
        traffic_gb: u32,
        at: DateTime<Utc>,
    },
    ChargeFailed {
        customer: CustomerId,
        charge_no: u32,
        amount: Toman,
        reason: String,
        at: DateTime<Utc>,
    },
    SubscriptionExpired {
        customer: CustomerId,
        at: DateTime<Utc>,
    },
    SubscriptionCancelled {
        customer: CustomerId,
        refund: Toman,
        reason: String,
        by: ActorRef,
        at: DateTime<Utc>,
    },
    ProvisioningStarted {
        customer: CustomerId,
        placement: Placement,
        /// A started placement given up for this one (failover).
        replaces: Option<Placement>,
        at: DateTime<Utc>,
    },
    SubscriptionProvisioned {
        customer: CustomerId,
        placement: Placement,
        terms: ClientTerms,
        sub_url: String,
        links: Vec<String>,
        at: DateTime<Utc>,
    },
    ProvisioningFailed {
        customer: CustomerId,
        reason: String,
        at: DateTime<Utc>,
    },
    ProvisioningRetryRequested {
        customer: CustomerId,
        by: ActorRef,
        at: DateTime<Utc>,
    },
    LocationSwitchRequested {
        customer: CustomerId,
        from: Location,
        to: Location,
        by: ActorRef,
        at: DateTime<Utc>,
    },
    ClientUpdated {
        customer: CustomerId,
        placement: Placement,
        terms: ClientTerms,
        at: DateTime<Utc>,
    },
    ClientDeprovisioned {
        customer: CustomerId,
        placement: Placement,
        /// false: the client was found absent (nothing to delete).
        deleted: bool,
        at: DateTime<Utc>,
    },
    ClientExpiredOnPanel {
        customer: CustomerId,
        placement: Placement,
        expiry_ms: i64,
        at: DateTime<Utc>,
    },
    TrafficThresholdCrossed {
        customer: CustomerId,
        threshold: u8,
        used_bytes: i64,
        limit_bytes: i64,
        at: DateTime<Utc>,
    },
    ClientMissingOnPanel {
        customer: CustomerId,
        placement: Placement,
        at: DateTime<Utc>,
    },
    BonusGranted {
        customer: CustomerId,
        reference: String,
        days: u32,
        gb: u32,
        /// The subscription's expiry and traffic after the bonus.
        expires_at: DateTime<Utc>,
        traffic_gb: u32,
        at: DateTime<Utc>,
    },
}

impl DomainEvent for SubscriptionEvent {
    fn event_type(&self) -> String {
        match self {
            SubscriptionEvent::SubscriptionRequested { .. } => "SubscriptionRequested",
            SubscriptionEvent::ChargeRequested { .. } => "ChargeRequested",
            SubscriptionEvent::ChargeSettled { .. } => "ChargeSettled",
            SubscriptionEvent::ChargeFailed { .. } => "ChargeFailed",
            SubscriptionEvent::SubscriptionExpired { .. } => "SubscriptionExpired",
            SubscriptionEvent::SubscriptionCancelled { .. } => "SubscriptionCancelled",
            SubscriptionEvent::ProvisioningStarted { .. } => "ProvisioningStarted",
            SubscriptionEvent::SubscriptionProvisioned { .. } => "SubscriptionProvisioned",
            SubscriptionEvent::ProvisioningFailed { .. } => "ProvisioningFailed",
            SubscriptionEvent::ProvisioningRetryRequested { .. } => "ProvisioningRetryRequested",
            SubscriptionEvent::LocationSwitchRequested { .. } => "LocationSwitchRequested",
            SubscriptionEvent::ClientDeprovisioned { .. } => "ClientDeprovisioned",
            SubscriptionEvent::ClientUpdated { .. } => "ClientUpdated",
            SubscriptionEvent::ClientExpiredOnPanel { .. } => "ClientExpiredOnPanel",
            SubscriptionEvent::TrafficThresholdCrossed { .. } => "TrafficThresholdCrossed",
            SubscriptionEvent::ClientMissingOnPanel { .. } => "ClientMissingOnPanel",
            SubscriptionEvent::BonusGranted { .. } => "BonusGranted",
        }
        .to_string()
    }
    fn event_version(&self) -> String {
        "1.0".to_string()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SubscriptionError {
    #[error("this subscription already exists")]
    AlreadyExists,
    #[error("no such subscription")]
    NotFound,
    #[error("only the customer or staff may do this")]
    NotYourSubscription,
    #[error("a payment for this subscription is still in progress")]
    ChargePending,
    #[error("charge #{0} is not pending")]
    NoSuchPendingCharge(u32),
    #[error("the subscription is {0}")]
    WrongStatus(&'static str),
    #[error("the subscription has not reached its expiry time")]
    NotYetExpired,
    #[error("extra traffic needs at least 1 GB and a price")]
    InvalidTraffic,
    #[error("an unlimited subscription needs no extra traffic")]
    Unlimited,
    #[error("a refund cannot exceed what was paid ({paid} Toman)")]
    RefundTooLarge { paid: Toman },
    #[error("a reason is required")]
    ReasonRequired,
    #[error("a renewal must be for the same plan")]
    DifferentPlan,
    #[error("the subscription is already provisioned on a panel")]
    AlreadyProvisioned,
    #[error("provisioning was not started for this placement")]
    PlacementMismatch,
    #[error("the subscription is already in {0}")]
    SameLocation(Location),
    #[error("provisioning has not failed; nothing to retry")]
    NothingToRetry,
    #[error("provisioning already started on panel {0}")]
    ProvisioningInProgress(Uuid),
    #[error("the subscription has no client on a panel yet")]
    NotProvisioned,
    #[error("a bonus is 0 to 365 days and 0 to 10,000 GB, and not nothing")]
    InvalidBonus,
    #[error(transparent)]
    Denied(#[from] PermissionDenied),
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum SubscriptionStatus {
    #[default]
    New,
    /// Waiting for its first charge.
    Pending,
    Active,
    /// The first charge failed: it never became active.
    Failed,
    Expired,
    Cancelled,
}

impl SubscriptionStatus {
    pub fn name(self) -> &'static str {
        match self {
            SubscriptionStatus::New => "new",
            SubscriptionStatus::Pending => "pending",
            SubscriptionStatus::Active => "active",
            SubscriptionStatus::Failed => "failed",
            SubscriptionStatus::Expired => "expired",
            SubscriptionStatus::Cancelled => "cancelled",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PendingCharge {
    pub charge_no: u32,
    pub kind: ChargeKind,
    pub amount: Toman,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Subscription {
    pub id: Option<Uuid>,
    pub customer: Option<CustomerId>,
    pub plan: Option<PlanSnapshot>,
    pub location: Option<Location>,
    pub status: SubscriptionStatus,
    pub starts_at: Option<DateTime<Utc>>,
    pub expires_at: Option<DateTime<Utc>>,
    pub traffic_gb: u32,
    pub paid: Toman,
    pub charges: u32,
    pub pending: Option<PendingCharge>,
    /// Set when cancelled: what the customer gets back.
    pub refund: Option<Toman>,
    pub provisioning: Provisioning,
    /// Placements that may still hold a client to remove: the old one after a
    /// location switch, one given up by failover or a failed provisioning.
    #[serde(default)]
    pub stale: Vec<Placement>,
    /// What was last written to the panel for the current placement.
    #[serde(default)]
    pub applied: Option<ClientTerms>,
    /// The panel's own expiry was announced for the current term.
    #[serde(default)]
    pub expired_on_panel: bool,
    /// Traffic thresholds (80, 100) already announced for the current quota.
    pub thresholds: Vec<u8>,
    /// References of the bonuses granted.
    #[serde(default)]
    pub bonuses: Vec<String>,
}

pub const GIB: i64 = 1024 * 1024 * 1024;

/// The wallet reference of a subscription charge; the wallet applies it once.
pub fn charge_reference(subscription: Uuid, charge_no: u32) -> String {
    format!("sub:{subscription}:{charge_no}")
}

/// The wallet reference that gives back a failed charge's debit.
pub fn reversal_reference(subscription: Uuid, charge_no: u32) -> String {
    format!("sub:{subscription}:{charge_no}:reversal")
}

/// The wallet reference of a cancelled subscription's refund.
pub fn refund_reference(subscription: Uuid) -> String {
    format!("refund:{subscription}")
}

impl Subscription {
    /// What the panel client should be now: quota and expiry from the paid
    /// term, enabled only while active. `None` before the first charge settles.
    pub fn desired_terms(&self) -> Option<ClientTerms> {
        let expires_at = self.expires_at?;
        Some(ClientTerms {
            total_bytes: i64::from(self.traffic_gb) * GIB,
            expiry_ms: expires_at.timestamp_millis(),
            enabled: self.status == SubscriptionStatus::Active,
        })
    }

    fn owner(&self) -> Result<CustomerId, SubscriptionError> {
        self.customer.ok_or(SubscriptionError::NotFound)
    }

    fn authorize(by: &Actor, customer: CustomerId) -> Result<(), SubscriptionError> {
        if by.customer_id() == Some(customer) || by.has(Permission::ManageSubscriptions) {
            Ok(())
        } else {
            Err(SubscriptionError::NotYourSubscription)
        }
    }

    fn no_pending(&self) -> Result<(), SubscriptionError> {
        if self.pending.is_some() {
            Err(SubscriptionError::ChargePending)
        } else {
            Ok(())
        }
    }

    fn request_charge(&self, customer: CustomerId, kind: ChargeKind, amount: Toman, at: DateTime<Utc>) -> SubscriptionEvent {
        SubscriptionEvent::ChargeRequested {
            customer,
            charge_no: self.charges + 1,
            kind,
            amount,
            at,
        }
    }

    fn settle(&self, customer: CustomerId, charge: &PendingCharge, at: DateTime<Utc>) -> SubscriptionEvent {
        let (starts_at, expires_at, traffic_gb) = match &charge.kind {
            ChargeKind::Purchase => {
                let plan = self.plan.as_ref().expect("a requested subscription has a plan");
                (at, at + Duration::days(i64::from(plan.duration_days)), plan.traffic_gb)
            }
            ChargeKind::Renewal { plan } => {
                let from = self.expires_at.map_or(at, |e| e.max(at));
                (
                    self.starts_at.unwrap_or(at),
                    from + Duration::days(i64::from(plan.duration_days)),
                    plan.traffic_gb,
                )
            }
            ChargeKind::Traffic { gb } => (
                self.starts_at.unwrap_or(at),
                self.expires_at.unwrap_or(at),
                self.traffic_gb.saturating_add(*gb),
            ),
        };
        SubscriptionEvent::ChargeSettled {
            customer,
            charge_no: charge.charge_no,
            kind: charge.kind.clone(),
            amount: charge.amount,
            starts_at,
            expires_at,
            traffic_gb,
            at,
        }
    }
}

impl Aggregate for Subscription {
    const TYPE: &'static str = "Subscription";
    type Command = SubscriptionCommand;
    type Event = SubscriptionEvent;
    type Error = SubscriptionError;
    type Services = ();

    async fn handle(&mut self, command: Self::Command, _: &(), sink: &EventSink<Self>) -> Result<(), Self::Error> {
        use SubscriptionCommand as C;
        use SubscriptionError as Err;
        use SubscriptionEvent as E;
        use SubscriptionStatus as S;
        match command {
            C::RequestPurchase {
                id,
                customer,
                plan,
                location,
                by,
                at,
            } => {
                if self.id.is_some() {
                    return Err(Err::AlreadyExists);
                }
                Self::authorize(&by, customer)?;
                let amount = plan.price;
                sink.write(
                    E::SubscriptionRequested {
                        id,
                        customer,
                        plan,
                        location,
                        by: by.reference(),
                        at,
                    },
                    self,
                )
                .await;
                let charge = self.request_charge(customer, ChargeKind::Purchase, amount, at);
                sink.write(charge, self).await;
            }
            C::RequestRenewal { plan, by, at } => {
                let customer = self.owner()?;
                Self::authorize(&by, customer)?;
                if !matches!(self.status, S::Active | S::Expired) {
                    return Err(Err::WrongStatus(self.status.name()));
                }
                if self.plan.as_ref().map(|p| p.plan_id) != Some(plan.plan_id) {
                    return Err(Err::DifferentPlan);
                }
                self.no_pending()?;
                let amount = plan.price;
                let charge = self.request_charge(customer, ChargeKind::Renewal { plan }, amount, at);
                sink.write(charge, self).await;
            }
            C::RequestAutoRenewal { plan, charge_no, at } => {
                let customer = self.owner()?;
                if self.charges >= charge_no {
                    return Ok(()); // requested already (by an earlier attempt, or by hand)
                }
                if self.charges + 1 != charge_no {
                    return Err(Err::NoSuchPendingCharge(charge_no));
                }
                if !matches!(self.status, S::Active | S::Expired) {
                    return Err(Err::WrongStatus(self.status.name()));
                }
                if self.plan.as_ref().map(|p| p.plan_id) != Some(plan.plan_id) {
                    return Err(Err::DifferentPlan);
                }
                self.no_pending()?;
                let amount = plan.price;
                let charge = self.request_charge(customer, ChargeKind::Renewal { plan }, amount, at);
                sink.write(charge, self).await;
            }
            C::RequestTraffic { gb, price, by, at } => {
                let customer = self.owner()?;
                Self::authorize(&by, customer)?;
                if self.status != S::Active {
                    return Err(Err::WrongStatus(self.status.name()));
                }
                if gb == 0 || price.is_zero() {
                    return Err(Err::InvalidTraffic);
                }
                if self.traffic_gb == 0 {
                    return Err(Err::Unlimited);
                }
                self.no_pending()?;
                let charge = self.request_charge(customer, ChargeKind::Traffic { gb }, price, at);
                sink.write(charge, self).await;
            }
            C::SettleCharge { charge_no, at } => {
                let customer = self.owner()?;
                let pending = match &self.pending {
                    Some(p) if p.charge_no == charge_no => p.clone(),
                    _ => return Err(Err::NoSuchPendingCharge(charge_no)),
                };
                let event = self.settle(customer, &pending, at);
                sink.write(event, self).await;
            }
            C::FailCharge { charge_no, reason, at } => {
                let customer = self.owner()?;
                let amount = match &self.pending {
                    Some(p) if p.charge_no == charge_no => p.amount,
                    _ => return Err(Err::NoSuchPendingCharge(charge_no)),
                };
                sink.write(
                    E::ChargeFailed {
                        customer,
                        charge_no,
                        amount,
                        reason,
                        at,
                    },
                    self,
                )
                .await;
            }
            C::Expire { at } => {
                let customer = self.owner()?;
                if self.status != S::Active {
                    return Err(Err::WrongStatus(self.status.name()));
                }
                if self.expires_at.is_some_and(|e| e > at) {
                    return Err(Err::NotYetExpired);
                }
                sink.write(E::SubscriptionExpired { customer, at }, self).await;
            }
            C::Cancel { refund, reason, by, at } => {
                by.require(Permission::ManageSubscriptions)?;
                let customer = self.owner()?;
                if !matches!(self.status, S::Active | S::Expired) {
                    return Err(Err::WrongStatus(self.status.name()));
                }
                self.no_pending()?;
                if refund > self.paid {
                    return Err(Err::RefundTooLarge { paid: self.paid });
                }
                let reason = reason.trim().to_string();
                if reason.is_empty() {
                    return Err(Err::ReasonRequired);
                }
                sink.write(
                    E::SubscriptionCancelled {
                        customer,
                        refund,
                        reason,
                        by: by.reference(),
                        at,
                    },
                    self,
                )
                .await;
            }
            C::StartProvisioning { placement, replacing, at } => {
                let customer = self.owner()?;
                if self.status != S::Active {
                    return Err(Err::WrongStatus(self.status.name()));
                }
                let replaces = match &self.provisioning {
                    Provisioning::Provisioned(_) => return Err(Err::AlreadyProvisioned),
                    Provisioning::Started(p) if *p == placement => return Ok(()),
                    Provisioning::Started(p) | Provisioning::Missing(p) if replacing == Some(p.panel_id) => Some(p.clone()),
                    Provisioning::Started(p) | Provisioning::Missing(p) => return Err(Err::ProvisioningInProgress(p.panel_id)),
                    Provisioning::Failed { .. } => return Err(Err::WrongStatus("failed; retry it first")),
                    Provisioning::NotStarted | Provisioning::Removed(_) => None,
                };
                sink.write(
                    E::ProvisioningStarted {
                        customer,
                        placement,
                        replaces,
                        at,
                    },
                    self,
                )
                .await;
            }
            C::RecordProvisioned {
                placement,
                terms,
                sub_url,
                links,
                at,
            } => {
                let customer = self.owner()?;
                match &self.provisioning {
                    Provisioning::Provisioned(p) if *p == placement => return Ok(()),
                    Provisioning::Started(p) | Provisioning::Missing(p) if *p == placement => {}
                    _ => return Err(Err::PlacementMismatch),
                }
                sink.write(
                    E::SubscriptionProvisioned {
                        customer,
                        placement,
                        terms,
                        sub_url,
                        links,
                        at,
                    },
                    self,
                )
                .await;
            }
            C::RecordClientUpdated { placement, terms, at } => {
                let customer = self.owner()?;
                match &self.provisioning {
                    Provisioning::Provisioned(p) if *p == placement => {}
                    _ => return Err(Err::PlacementMismatch),
                }
                if self.applied == Some(terms) {
                    return Ok(());
                }
                sink.write(
                    E::ClientUpdated {
                        customer,
                        placement,
                        terms,
                        at,
                    },
                    self,
                )
                .await;
            }
            C::FailProvisioning { reason, at } => {
                let customer = self.owner()?;
                match &self.provisioning {
                    Provisioning::Provisioned(_) => return Err(Err::AlreadyProvisioned),
                    Provisioning::Failed { .. } => return Ok(()),
                    _ => {}
                }
                sink.write(E::ProvisioningFailed { customer, reason, at }, self).await;
            }
            C::RetryProvisioning { by, at } => {
                let customer = self.owner()?;
                Self::authorize(&by, customer)?;
                if !matches!(self.provisioning, Provisioning::Failed { .. }) {
                    return Err(Err::NothingToRetry);
                }
                sink.write(
                    E::ProvisioningRetryRequested {
                        customer,
                        by: by.reference(),
                        at,
                    },
                    self,
                )
                .await;
            }
            C::RequestLocationSwitch { to, by, at } => {
                let customer = self.owner()?;
                Self::authorize(&by, customer)?;
                if self.status != S::Active {
                    return Err(Err::WrongStatus(self.status.name()));
                }
                let from = self.location.clone().ok_or(Err::NotFound)?;
                if from.same_as(&to) {
                    return Err(Err::SameLocation(to));
                }
                if !matches!(self.provisioning, Provisioning::Provisioned(_)) {
                    return Err(Err::NotProvisioned);
                }
                sink.write(
                    E::LocationSwitchRequested {
                        customer,
                        from,
                        to,
                        by: by.reference(),
                        at,
                    },
                    self,
                )
                .await;
            }
            C::RecordDeprovisioned { placement, deleted, at } => {
                let customer = self.owner()?;
                let current = matches!(&self.provisioning, Provisioning::Provisioned(p) | Provisioning::Missing(p) | Provisioning::Started(p) if *p == placement)
                    && self.status == S::Cancelled;
                if !current && !self.stale.contains(&placement) {
                    return Ok(());
                }
                sink.write(
                    E::ClientDeprovisioned {
                        customer,
                        placement,
                        deleted,
                        at,
                    },
                    self,
                )
                .await;
            }
            C::RecordUsage { used_bytes, at } => {
                let customer = self.owner()?;
                if self.status != S::Active || self.traffic_gb == 0 {
                    return Ok(());
                }
                let limit_bytes = i64::from(self.traffic_gb) * GIB;
                for threshold in [80u8, 100] {
                    let crossed = i128::from(used_bytes) * 100 >= i128::from(limit_bytes) * i128::from(threshold);
                    if crossed && !self.thresholds.contains(&threshold) {
                        sink.write(
                            E::TrafficThresholdCrossed {
                                customer,
                                threshold,
                                used_bytes,
                                limit_bytes,
                                at,
                            },
                            self,
                        )
                        .await;
                    }
                }
            }
            C::GrantBonus { days, gb, reference, at } => {
                let customer = self.owner()?;
                if self.bonuses.contains(&reference) {
                    return Ok(());
                }
                if self.status != S::Active {
                    return Err(Err::WrongStatus(self.status.name()));
                }
                if (days == 0 && gb == 0) || days > 365 || gb > 10_000 {
                    return Err(Err::InvalidBonus);
                }
                if gb > 0 && self.traffic_gb == 0 {
                    return Err(Err::Unlimited);
                }
                let expires_at = self.expires_at.unwrap_or(at).max(at) + Duration::days(i64::from(days));
                let expires_at = if days == 0 { self.expires_at.unwrap_or(at) } else { expires_at };
                sink.write(
                    E::BonusGranted {
                        customer,
                        reference,
                        days,
                        gb,
                        expires_at,
                        traffic_gb: self.traffic_gb + gb,
                        at,
                    },
                    self,
                )
                .await;
            }
            C::RecordMissingOnPanel { placement, at } => {
                let customer = self.owner()?;
                if !matches!(&self.provisioning, Provisioning::Provisioned(p) if *p == placement) {
                    return Ok(());
                }
                sink.write(E::ClientMissingOnPanel { customer, placement, at }, self).await;
            }
            C::RecordExpiredOnPanel { placement, expiry_ms, at } => {
                let customer = self.owner()?;
                if self.expired_on_panel || !matches!(&self.provisioning, Provisioning::Provisioned(p) if *p == placement) {
                    return Ok(());
                }
                sink.write(
                    E::ClientExpiredOnPanel {
                        customer,
                        placement,
                        expiry_ms,
                        at,
                    },
                    self,
                )
                .await;
            }
        }
        Ok(())
    }

    fn apply(&mut self, event: Self::Event) {
        use SubscriptionEvent as E;
        match event {
            E::SubscriptionRequested {
                id,
                customer,
                plan,
                location,
                ..
            } => {
                self.id = Some(id);
                self.customer = Some(customer);
                self.traffic_gb = plan.traffic_gb;
                self.plan = Some(plan);
                self.location = Some(location);
                self.status = SubscriptionStatus::Pending;
            }
            E::ChargeRequested {
                charge_no, kind, amount, ..
            } => {
                self.charges = charge_no;
                self.pending = Some(PendingCharge { charge_no, kind, amount });
            }
            E::ChargeSettled {
                amount,
                starts_at,
                expires_at,
                traffic_gb,
                ..
            } => {
                self.pending = None;
                self.paid = self.paid.checked_add(amount).unwrap_or(self.paid);
                self.starts_at = Some(starts_at);
                self.expires_at = Some(expires_at);
                self.traffic_gb = traffic_gb;
                self.status = SubscriptionStatus::Active;
                self.thresholds.clear();
                self.expired_on_panel = false;
            }
            E::ChargeFailed { charge_no, .. } => {
                self.pending = None;
                if charge_no == 1 {
                    self.status = SubscriptionStatus::Failed;
                }
            }
            E::SubscriptionExpired { .. } => self.status = SubscriptionStatus::Expired,
            E::SubscriptionCancelled { refund, .. } => {
                self.status = SubscriptionStatus::Cancelled;
                self.refund = Some(refund);
            }
            E::ProvisioningStarted { placement, replaces, .. } => {
                if let Some(old) = replaces {
                    self.stale.push(old);
                }
                self.applied = None;
                self.provisioning = Provisioning::Started(placement);
            }
            E::SubscriptionProvisioned { placement, terms, .. } => {
                self.stale.retain(|p| *p != placement);
                self.applied = Some(terms);
                self.provisioning = Provisioning::Provisioned(placement);
            }
            E::ClientUpdated { terms, .. } => self.applied = Some(terms),
            E::ProvisioningFailed { reason, .. } => {
                // A started call may have reached the panel: its client must go.
                if let Provisioning::Started(p) = std::mem::take(&mut self.provisioning) {
                    self.stale.push(p);
                }
                self.provisioning = Provisioning::Failed { reason };
            }
            E::ProvisioningRetryRequested { .. } => self.provisioning = Provisioning::NotStarted,
            E::LocationSwitchRequested { to, .. } => {
                if let Provisioning::Provisioned(p) = std::mem::take(&mut self.provisioning) {
                    self.stale.push(p);
                }
                self.applied = None;
                self.location = Some(to);
            }
            E::ClientDeprovisioned { placement, .. } => {
                self.stale.retain(|p| *p != placement);
                if self.provisioning.placement() == Some(&placement) {
                    self.provisioning = Provisioning::Removed(placement);
                    self.applied = None;
                }
            }
            E::ClientExpiredOnPanel { .. } => self.expired_on_panel = true,
            E::TrafficThresholdCrossed { threshold, .. } => self.thresholds.push(threshold),
            E::ClientMissingOnPanel { placement, .. } => self.provisioning = Provisioning::Missing(placement),
            E::BonusGranted {
                reference,
                gb,
                expires_at,
                traffic_gb,
                ..
            } => {
                self.bonuses.push(reference);
                self.expires_at = Some(expires_at);
                self.traffic_gb = traffic_gb;
                if gb > 0 {
                    self.thresholds.clear();
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::{loc, t0, toman};
    use cqrs_es::test::TestFramework;

    type Given = TestFramework<Subscription>;
    pub(super) const C: CustomerId = CustomerId(5);

    fn plan() -> PlanSnapshot {
        PlanSnapshot {
            plan_id: Uuid::nil(),
            name: "Monthly".into(),
            duration_days: 30,
            traffic_gb: 50,
            price: toman(150_000),
        }
    }
    fn requested() -> Vec<SubscriptionEvent> {
        vec![
            SubscriptionEvent::SubscriptionRequested {
                id: Uuid::nil(),
                customer: C,
                plan: plan(),
                location: loc("France"),
                by: ActorRef::User(C),
                at: t0(),
            },
            SubscriptionEvent::ChargeRequested {
                customer: C,
                charge_no: 1,
                kind: ChargeKind::Purchase,
                amount: toman(150_000),
                at: t0(),
            },
        ]
    }
    pub(super) fn active() -> Vec<SubscriptionEvent> {
        let mut e = requested();
        e.push(SubscriptionEvent::ChargeSettled {
            customer: C,
            charge_no: 1,
            kind: ChargeKind::Purchase,
            amount: toman(150_000),
            starts_at: t0(),
            expires_at: t0() + Duration::days(30),
            traffic_gb: 50,
            at: t0(),
        });
        e
    }
    fn admin() -> Actor {
        Actor::user(CustomerId(1), Permission::ALL)
    }

    #[test]
    fn a_purchase_requests_its_first_charge() {
        Given::with(())
            .given_no_previous_events()
            .when(SubscriptionCommand::RequestPurchase {
                id: Uuid::nil(),
                customer: C,
                plan: plan(),
                location: loc("France"),
                by: Actor::user(C, []),
                at: t0(),
            })
            .then_expect_events(requested());
    }

    #[test]
    fn nobody_buys_for_someone_else_without_the_permission() {
        Given::with(())
            .given_no_previous_events()
            .when(SubscriptionCommand::RequestPurchase {
                id: Uuid::nil(),
                customer: C,
                plan: plan(),
                location: loc("France"),
                by: Actor::user(CustomerId(6), [Permission::Sell]),
                at: t0(),
            })
            .then_expect_error(SubscriptionError::NotYourSubscription);
    }

    #[test]
    fn settling_the_first_charge_activates_for_the_plan_duration() {
        let later = t0() + Duration::hours(1);
        Given::with(())
            .given(requested())
            .when(SubscriptionCommand::SettleCharge { charge_no: 1, at: later })
            .then_expect_events(vec![SubscriptionEvent::ChargeSettled {
                customer: C,
                charge_no: 1,
                kind: ChargeKind::Purchase,
                amount: toman(150_000),
                starts_at: later,
                expires_at: later + Duration::days(30),
                traffic_gb: 50,
                at: later,
            }]);
    }

    #[test]
    fn a_charge_settles_only_once() {
        Given::with(())
            .given(active())
            .when(SubscriptionCommand::SettleCharge { charge_no: 1, at: t0() })
            .then_expect_error(SubscriptionError::NoSuchPendingCharge(1));
    }

    #[test]
    fn a_failed_first_charge_fails_the_subscription() {
        let mut sub = Subscription::default();
        for e in requested() {
            sub.apply(e);
        }
        sub.apply(SubscriptionEvent::ChargeFailed {
            customer: C,
            charge_no: 1,
            amount: toman(150_000),
            reason: "insufficient".into(),
            at: t0(),
        });
        assert_eq!(sub.status, SubscriptionStatus::Failed);
    }

    #[test]
    fn renewal_extends_from_the_current_expiry() {
        let mut events = active();
        events.push(SubscriptionEvent::ChargeRequested {
            customer: C,
            charge_no: 2,
            kind: ChargeKind::Renewal { plan: plan() },
            amount: toman(150_000),
            at: t0(),
        });
        Given::with(())
            .given(events)
            .when(SubscriptionCommand::SettleCharge {
                charge_no: 2,
                at: t0() + Duration::days(10),
            })
            .then_expect_events(vec![SubscriptionEvent::ChargeSettled {
                customer: C,
                charge_no: 2,
                kind: ChargeKind::Renewal { plan: plan() },
                amount: toman(150_000),
                starts_at: t0(),
                expires_at: t0() + Duration::days(60),
                traffic_gb: 50,
                at: t0() + Duration::days(10),
            }]);
    }

    #[test]
    fn one_charge_at_a_time() {
        Given::with(())
            .given(requested())
            .when(SubscriptionCommand::RequestTraffic {
                gb: 10,
                price: toman(20_000),
                by: Actor::user(C, []),
                at: t0(),
            })
            .then_expect_error(SubscriptionError::WrongStatus("pending"));
        let mut events = active();
        events.push(SubscriptionEvent::ChargeRequested {
            customer: C,
            charge_no: 2,
            kind: ChargeKind::Traffic { gb: 10 },
            amount: toman(20_000),
            at: t0(),
        });
        Given::with(())
            .given(events)
            .when(SubscriptionCommand::RequestRenewal {
                plan: plan(),
                by: Actor::user(C, []),
                at: t0(),
            })
            .then_expect_error(SubscriptionError::ChargePending);
    }

    #[test]
    fn an_auto_renewal_requests_its_charge_number_once() {
        let renewal = SubscriptionEvent::ChargeRequested {
            customer: C,
            charge_no: 2,
            kind: ChargeKind::Renewal { plan: plan() },
            amount: toman(150_000),
            at: t0(),
        };
        let auto = |n| SubscriptionCommand::RequestAutoRenewal {
            plan: plan(),
            charge_no: n,
            at: t0(),
        };
        Given::with(())
            .given(active())
            .when(auto(2))
            .then_expect_events(vec![renewal.clone()]);
        // Redone after a crash, or by a second scheduler: nothing more.
        let mut settled = active();
        settled.push(renewal);
        settled.push(SubscriptionEvent::ChargeSettled {
            customer: C,
            charge_no: 2,
            kind: ChargeKind::Renewal { plan: plan() },
            amount: toman(150_000),
            starts_at: t0(),
            expires_at: t0() + Duration::days(60),
            traffic_gb: 50,
            at: t0(),
        });
        Given::with(()).given(settled).when(auto(2)).then_expect_events(vec![]);
        Given::with(())
            .given(active())
            .when(auto(3))
            .then_expect_error(SubscriptionError::NoSuchPendingCharge(3));
    }

    #[test]
    fn expiry_waits_for_the_expiry_time() {
        Given::with(())
            .given(active())
            .when(SubscriptionCommand::Expire {
                at: t0() + Duration::days(29),
            })
            .then_expect_error(SubscriptionError::NotYetExpired);
        Given::with(())
            .given(active())
            .when(SubscriptionCommand::Expire {
                at: t0() + Duration::days(30),
            })
            .then_expect_events(vec![SubscriptionEvent::SubscriptionExpired {
                customer: C,
                at: t0() + Duration::days(30),
            }]);
    }

    #[test]
    fn a_refund_never_exceeds_what_was_paid() {
        Given::with(())
            .given(active())
            .when(SubscriptionCommand::Cancel {
                refund: toman(150_001),
                reason: "x".into(),
                by: admin(),
                at: t0(),
            })
            .then_expect_error(SubscriptionError::RefundTooLarge { paid: toman(150_000) });
        Given::with(())
            .given(active())
            .when(SubscriptionCommand::Cancel {
                refund: toman(100_000),
                reason: "panel down".into(),
                by: admin(),
                at: t0(),
            })
            .then_expect_events(vec![SubscriptionEvent::SubscriptionCancelled {
                customer: C,
                refund: toman(100_000),
                reason: "panel down".into(),
                by: ActorRef::User(CustomerId(1)),
                at: t0(),
            }]);
    }

    #[test]
    fn a_customer_cannot_cancel_with_a_refund() {
        Given::with(())
            .given(active())
            .when(SubscriptionCommand::Cancel {
                refund: toman(1),
                reason: "x".into(),
                by: Actor::user(C, []),
                at: t0(),
            })
            .then_expect_error(SubscriptionError::Denied(PermissionDenied(Permission::ManageSubscriptions)));
    }

    pub(super) fn placement(panel: u128) -> Placement {
        Placement {
            panel_id: Uuid::from_u128(panel),
            inbound_id: 1,
            email: "MoonVpn-France-1000-1".into(),
            client_uuid: Uuid::from_u128(9),
            sub_id: "abc".into(),
        }
    }

    fn terms() -> ClientTerms {
        ClientTerms {
            total_bytes: 50 * GIB,
            expiry_ms: (t0() + Duration::days(30)).timestamp_millis(),
            enabled: true,
        }
    }

    pub(super) fn started(panel: u128) -> SubscriptionEvent {
        SubscriptionEvent::ProvisioningStarted {
            customer: C,
            placement: placement(panel),
            replaces: None,
            at: t0(),
        }
    }

    pub(super) fn provisioned() -> Vec<SubscriptionEvent> {
        let mut e = active();
        e.push(started(1));
        e.push(SubscriptionEvent::SubscriptionProvisioned {
            customer: C,
            placement: placement(1),
            terms: terms(),
            sub_url: "u".into(),
            links: vec![],
            at: t0(),
        });
        e
    }

    #[test]
    fn provisioning_is_recorded_once_for_its_placement() {
        let mut started = active();
        started.push(self::started(1));
        // The same intent again (a retry) records nothing.
        Given::with(())
            .given(started.clone())
            .when(SubscriptionCommand::StartProvisioning {
                placement: placement(1),
                replacing: None,
                at: t0(),
            })
            .then_expect_events(vec![]);
        // A second worker that chose another panel is told where it started.
        Given::with(())
            .given(started.clone())
            .when(SubscriptionCommand::StartProvisioning {
                placement: placement(2),
                replacing: None,
                at: t0(),
            })
            .then_expect_error(SubscriptionError::ProvisioningInProgress(Uuid::from_u128(1)));
        // A failover names the panel it gives up; that placement becomes stale.
        Given::with(())
            .given(started.clone())
            .when(SubscriptionCommand::StartProvisioning {
                placement: placement(2),
                replacing: Some(Uuid::from_u128(1)),
                at: t0(),
            })
            .then_expect_events(vec![SubscriptionEvent::ProvisioningStarted {
                customer: C,
                placement: placement(2),
                replaces: Some(placement(1)),
                at: t0(),
            }]);
        // A result for another panel than the one started is refused.
        Given::with(())
            .given(started)
            .when(SubscriptionCommand::RecordProvisioned {
                placement: placement(2),
                terms: terms(),
                sub_url: "u".into(),
                links: vec![],
                at: t0(),
            })
            .then_expect_error(SubscriptionError::PlacementMismatch);
        Given::with(())
            .given(provisioned())
            .when(SubscriptionCommand::StartProvisioning {
                placement: placement(2),
                replacing: None,
                at: t0(),
            })
            .then_expect_error(SubscriptionError::AlreadyProvisioned);
    }

    #[test]
    fn traffic_thresholds_are_announced_once_each() {
        let used = 41 * GIB; // 82% of 50 GB
        Given::with(())
            .given(provisioned())
            .when(SubscriptionCommand::RecordUsage {
                used_bytes: used,
                at: t0(),
            })
            .then_expect_events(vec![SubscriptionEvent::TrafficThresholdCrossed {
                customer: C,
                threshold: 80,
                used_bytes: used,
                limit_bytes: 50 * GIB,
                at: t0(),
            }]);
        let mut events = provisioned();
        events.push(SubscriptionEvent::TrafficThresholdCrossed {
            customer: C,
            threshold: 80,
            used_bytes: used,
            limit_bytes: 50 * GIB,
            at: t0(),
        });
        Given::with(())
            .given(events)
            .when(SubscriptionCommand::RecordUsage {
                used_bytes: used + 1,
                at: t0(),
            })
            .then_expect_events(vec![]);
    }

    #[test]
    fn a_bonus_extends_an_active_subscription_once() {
        let bonus = SubscriptionEvent::BonusGranted {
            customer: C,
            reference: "points:1".into(),
            days: 3,
            gb: 10,
            expires_at: t0() + Duration::days(33),
            traffic_gb: 60,
            at: t0(),
        };
        Given::with(())
            .given(active())
            .when(SubscriptionCommand::GrantBonus {
                days: 3,
                gb: 10,
                reference: "points:1".into(),
                at: t0(),
            })
            .then_expect_events(vec![bonus.clone()]);
        let mut events = active();
        events.push(bonus);
        Given::with(())
            .given(events)
            .when(SubscriptionCommand::GrantBonus {
                days: 3,
                gb: 10,
                reference: "points:1".into(),
                at: t0(),
            })
            .then_expect_events(vec![]);
        Given::with(())
            .given(requested())
            .when(SubscriptionCommand::GrantBonus {
                days: 3,
                gb: 0,
                reference: "points:2".into(),
                at: t0(),
            })
            .then_expect_error(SubscriptionError::WrongStatus("pending"));
    }

    #[test]
    fn a_location_switch_keeps_the_old_client_until_it_is_removed() {
        let mut sub = Subscription::default();
        for e in provisioned() {
            sub.apply(e);
        }
        sub.apply(SubscriptionEvent::LocationSwitchRequested {
            customer: C,
            from: loc("France"),
            to: loc("Germany"),
            by: ActorRef::User(C),
            at: t0(),
        });
        assert_eq!(sub.provisioning, Provisioning::NotStarted);
        assert_eq!(sub.stale, vec![placement(1)]);
        sub.apply(SubscriptionEvent::ClientDeprovisioned {
            customer: C,
            placement: placement(1),
            deleted: true,
            at: t0(),
        });
        assert!(sub.stale.is_empty());
    }
}

#[cfg(test)]
mod panel_tests {
    use super::tests::{active, placement, provisioned, started, C};
    use super::*;
    use crate::test_support::t0;
    use cqrs_es::test::TestFramework;

    type Given = TestFramework<Subscription>;

    #[test]
    fn a_renewal_changes_the_desired_terms_and_an_update_is_recorded_once() {
        let mut events = provisioned();
        let mut sub = Subscription::default();
        for e in events.clone() {
            sub.apply(e);
        }
        let mut renewed = sub.desired_terms().unwrap();
        assert_eq!(Some(renewed), sub.applied);
        renewed.expiry_ms += 30 * 86_400_000;
        Given::with(())
            .given(events.clone())
            .when(SubscriptionCommand::RecordClientUpdated {
                placement: placement(1),
                terms: renewed,
                at: t0(),
            })
            .then_expect_events(vec![SubscriptionEvent::ClientUpdated {
                customer: C,
                placement: placement(1),
                terms: renewed,
                at: t0(),
            }]);
        events.push(SubscriptionEvent::ClientUpdated {
            customer: C,
            placement: placement(1),
            terms: renewed,
            at: t0(),
        });
        Given::with(())
            .given(events)
            .when(SubscriptionCommand::RecordClientUpdated {
                placement: placement(1),
                terms: renewed,
                at: t0(),
            })
            .then_expect_events(vec![]);
    }

    #[test]
    fn an_expired_subscription_wants_its_client_disabled() {
        let mut sub = Subscription::default();
        for e in provisioned() {
            sub.apply(e);
        }
        sub.apply(SubscriptionEvent::SubscriptionExpired { customer: C, at: t0() });
        assert!(!sub.desired_terms().unwrap().enabled);
    }

    #[test]
    fn a_failed_start_leaves_its_placement_to_clean_up_and_missing_is_explicit() {
        let mut sub = Subscription::default();
        let mut events = active();
        events.push(started(1));
        events.push(SubscriptionEvent::ProvisioningFailed {
            customer: C,
            reason: "panel unreachable".into(),
            at: t0(),
        });
        for e in events {
            sub.apply(e);
        }
        assert_eq!(sub.stale, vec![placement(1)]);
        Given::with(())
            .given(provisioned())
            .when(SubscriptionCommand::RecordMissingOnPanel {
                placement: placement(1),
                at: t0(),
            })
            .then_expect_events(vec![SubscriptionEvent::ClientMissingOnPanel {
                customer: C,
                placement: placement(1),
                at: t0(),
            }]);
        // Deprovisioning an unknown placement records nothing.
        Given::with(())
            .given(provisioned())
            .when(SubscriptionCommand::RecordDeprovisioned {
                placement: placement(7),
                deleted: true,
                at: t0(),
            })
            .then_expect_events(vec![]);
    }

    #[test]
    fn the_panel_expiry_is_announced_once_per_term() {
        let mut events = provisioned();
        let e = SubscriptionEvent::ClientExpiredOnPanel {
            customer: C,
            placement: placement(1),
            expiry_ms: 5,
            at: t0(),
        };
        Given::with(())
            .given(events.clone())
            .when(SubscriptionCommand::RecordExpiredOnPanel {
                placement: placement(1),
                expiry_ms: 5,
                at: t0(),
            })
            .then_expect_events(vec![e.clone()]);
        events.push(e);
        Given::with(())
            .given(events)
            .when(SubscriptionCommand::RecordExpiredOnPanel {
                placement: placement(1),
                expiry_ms: 5,
                at: t0(),
            })
            .then_expect_events(vec![]);
    }
}
