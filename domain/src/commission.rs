//! Seller commissions, withdrawals and agent prices.
//!
//! Two aggregates:
//! - [`CommissionPolicy`] (one, id [`CommissionPolicy::ID`]): the default
//!   rate, per-plan rates (percent or fixed), the refund window and the
//!   minimum withdrawal. Every change is an event.
//! - [`SellerAccount`] (id = the seller's Telegram id): commissions earned on
//!   attributed sales, their release after the refund window, their reversal
//!   by a refund inside it, withdrawals to a bank card, and the seller's own
//!   prices (agent plans).
//!
//! A seller's balance has four parts — pending (inside the refund window),
//! available, reserved (asked for, not yet paid) and paid out — and none of
//! them ever goes negative: every event carries the balance after it.
use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Duration, Utc};
use cqrs_es::event_sink::EventSink;
use cqrs_es::{Aggregate, DomainEvent};
use rust_decimal::{Decimal, RoundingStrategy};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::access::{Actor, ActorRef, Permission, PermissionDenied};
use crate::money::{MoneyError, Toman};
use crate::values::{CardNumber, CustomerId};

/// Rounds an amount down to the rial (0.1 Toman): a commission or share is never rounded up.
pub fn round_to_rial(value: Decimal) -> Decimal {
    value.round_dp_with_strategy(1, RoundingStrategy::ToZero)
}

/// How much a seller earns on a sale.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum CommissionRate {
    /// A share of the sale, 0 < percent <= 100, at most two decimals.
    Percent { percent: Decimal },
    /// A fixed amount per sale (never more than the sale itself).
    Fixed { amount: Toman },
}

impl CommissionRate {
    pub fn validate(&self) -> Result<(), CommissionError> {
        match self {
            CommissionRate::Percent { percent } => {
                if *percent <= Decimal::ZERO || *percent > Decimal::ONE_HUNDRED || percent.normalize().scale() > 2 {
                    return Err(CommissionError::InvalidRate);
                }
            }
            CommissionRate::Fixed { amount } => {
                if amount.is_zero() {
                    return Err(CommissionError::InvalidRate);
                }
            }
        }
        Ok(())
    }

    /// The commission on a sale of `sale`, rounded down to the rial.
    pub fn commission_on(&self, sale: Toman) -> Result<Toman, MoneyError> {
        match self {
            CommissionRate::Percent { percent } => Toman::new(round_to_rial(sale.value() * *percent / Decimal::ONE_HUNDRED)),
            CommissionRate::Fixed { amount } => Ok((*amount).min(sale)),
        }
    }

    /// Parses `10%`, `12.5%` or a Toman amount such as `15,000`.
    pub fn parse(s: &str) -> Result<CommissionRate, CommissionError> {
        let s = s.trim();
        let rate = if let Some(p) = s.strip_suffix('%') {
            let percent = p.trim().parse::<Decimal>().map_err(|_| CommissionError::InvalidRate)?;
            CommissionRate::Percent { percent }
        } else {
            CommissionRate::Fixed {
                amount: s.parse::<Toman>()?,
            }
        };
        rate.validate()?;
        Ok(rate)
    }
}

impl std::fmt::Display for CommissionRate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CommissionRate::Percent { percent } => write!(f, "{}%", percent.normalize()),
            CommissionRate::Fixed { amount } => write!(f, "{amount} Toman"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CommissionError {
    #[error("a commission rate is a percent above 0 and at most 100 (two decimals), or a fixed amount above zero")]
    InvalidRate,
    #[error("no commission rate is set for this plan")]
    NoRateToClear,
    #[error("the refund window is 1 to 8760 hours")]
    InvalidWindow,
    #[error("the minimum withdrawal must be greater than zero")]
    InvalidMinimum,
    #[error("customer {0} does not hold the seller role")]
    NotASeller(CustomerId),
    #[error("only the seller can do this")]
    NotTheSeller,
    #[error("this account belongs to another seller")]
    WrongSeller,
    #[error("an agent price must be above zero and at most the plan's price ({list_price} Toman)")]
    InvalidAgentPrice { list_price: Toman },
    #[error("the seller has no agent price for this plan")]
    NoAgentPrice,
    #[error("a withdrawal must be at least {minimum} Toman")]
    BelowMinimum { minimum: Toman },
    #[error("insufficient commission: {available} Toman available, {requested} requested")]
    InsufficientCommission { available: Toman, requested: Toman },
    #[error("the card holder's name is required (at most 100 characters)")]
    InvalidHolder,
    #[error("this withdrawal already exists")]
    WithdrawalExists,
    #[error("no such withdrawal")]
    NoSuchWithdrawal,
    #[error("this withdrawal was already {0}")]
    WithdrawalDecided(&'static str),
    #[error("this withdrawal must be approved before it is paid")]
    NotApproved,
    #[error("a reason is required")]
    ReasonRequired,
    #[error("the bank's tracking reference is required")]
    ReferenceRequired,
    #[error("invalid amount: {0}")]
    Amount(#[from] MoneyError),
    #[error(transparent)]
    Denied(#[from] PermissionDenied),
}

// ---------------------------------------------------------------------------
// The policy
// ---------------------------------------------------------------------------

pub const DEFAULT_REFUND_WINDOW_HOURS: u32 = 168;

pub fn default_withdrawal_minimum() -> Toman {
    Toman::from_int(50_000).expect("constant")
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum CommissionPolicyCommand {
    /// `plan: None` is the default rate; `rate: None` clears it.
    SetRate {
        plan: Option<Uuid>,
        rate: Option<CommissionRate>,
        by: Actor,
        at: DateTime<Utc>,
    },
    SetTerms {
        refund_window_hours: u32,
        withdrawal_minimum: Toman,
        by: Actor,
        at: DateTime<Utc>,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum CommissionPolicyEvent {
    CommissionRateSet {
        plan: Option<Uuid>,
        rate: Option<CommissionRate>,
        by: ActorRef,
        at: DateTime<Utc>,
    },
    CommissionTermsSet {
        refund_window_hours: u32,
        withdrawal_minimum: Toman,
        by: ActorRef,
        at: DateTime<Utc>,
    },
}

impl DomainEvent for CommissionPolicyEvent {
    fn event_type(&self) -> String {
        match self {
            CommissionPolicyEvent::CommissionRateSet { .. } => "CommissionRateSet",
            CommissionPolicyEvent::CommissionTermsSet { .. } => "CommissionTermsSet",
        }
        .to_string()
    }
    fn event_version(&self) -> String {
        "1.0".to_string()
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CommissionPolicy {
    pub default_rate: Option<CommissionRate>,
    pub plan_rates: BTreeMap<Uuid, CommissionRate>,
    pub refund_window_hours: u32,
    pub withdrawal_minimum: Toman,
}

impl Default for CommissionPolicy {
    fn default() -> Self {
        CommissionPolicy {
            default_rate: None,
            plan_rates: BTreeMap::new(),
            refund_window_hours: DEFAULT_REFUND_WINDOW_HOURS,
            withdrawal_minimum: default_withdrawal_minimum(),
        }
    }
}

impl CommissionPolicy {
    /// The policy is a single aggregate.
    pub const ID: &'static str = "commission-policy";

    /// A plan's own rate wins over the default; `None` means no commission.
    pub fn rate_for(&self, plan: Uuid) -> Option<CommissionRate> {
        self.plan_rates.get(&plan).copied().or(self.default_rate)
    }

    pub fn refund_window(&self) -> Duration {
        Duration::hours(i64::from(self.refund_window_hours))
    }
}

impl Aggregate for CommissionPolicy {
    const TYPE: &'static str = "CommissionPolicy";
    type Command = CommissionPolicyCommand;
    type Event = CommissionPolicyEvent;
    type Error = CommissionError;
    type Services = ();

    async fn handle(&mut self, command: Self::Command, _: &(), sink: &EventSink<Self>) -> Result<(), Self::Error> {
        let event = match command {
            CommissionPolicyCommand::SetRate { plan, rate, by, at } => {
                by.require(Permission::ManagePlans)?;
                let current = match plan {
                    Some(p) => self.plan_rates.get(&p).copied(),
                    None => self.default_rate,
                };
                match rate {
                    Some(r) => r.validate()?,
                    None if current.is_none() => return Err(CommissionError::NoRateToClear),
                    None => {}
                }
                if current == rate {
                    return Ok(());
                }
                CommissionPolicyEvent::CommissionRateSet {
                    plan,
                    rate,
                    by: by.reference(),
                    at,
                }
            }
            CommissionPolicyCommand::SetTerms {
                refund_window_hours,
                withdrawal_minimum,
                by,
                at,
            } => {
                by.require(Permission::ManagePlans)?;
                if refund_window_hours == 0 || refund_window_hours > 8760 {
                    return Err(CommissionError::InvalidWindow);
                }
                if withdrawal_minimum.is_zero() {
                    return Err(CommissionError::InvalidMinimum);
                }
                if refund_window_hours == self.refund_window_hours && withdrawal_minimum == self.withdrawal_minimum {
                    return Ok(());
                }
                CommissionPolicyEvent::CommissionTermsSet {
                    refund_window_hours,
                    withdrawal_minimum,
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
            CommissionPolicyEvent::CommissionRateSet { plan: None, rate, .. } => self.default_rate = rate,
            CommissionPolicyEvent::CommissionRateSet { plan: Some(p), rate, .. } => match rate {
                Some(r) => {
                    self.plan_rates.insert(p, r);
                }
                None => {
                    self.plan_rates.remove(&p);
                }
            },
            CommissionPolicyEvent::CommissionTermsSet {
                refund_window_hours,
                withdrawal_minimum,
                ..
            } => {
                self.refund_window_hours = refund_window_hours;
                self.withdrawal_minimum = withdrawal_minimum;
            }
        }
    }
}

// ---------------------------------------------------------------------------
// The seller's account
// ---------------------------------------------------------------------------

/// A seller's money after an event. Carried in every event that moves it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SellerBalance {
    /// Earned, still inside the refund window.
    pub pending: Toman,
    /// Withdrawable.
    pub available: Toman,
    /// Asked for in withdrawals not yet paid or rejected.
    pub reserved: Toman,
    /// Paid to the seller's card.
    pub paid_out: Toman,
}

/// The sale a commission is earned on, as the commands crate found it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SaleRef {
    pub subscription_id: Uuid,
    pub charge_no: u32,
    pub customer: CustomerId,
    pub plan_id: Uuid,
    pub amount: Toman,
    /// When the sale was made (the charge settled): the refund window starts here.
    pub at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum SellerCommand {
    /// The seller registered this customer's account (done by the commands crate first).
    RecordClient {
        seller: CustomerId,
        customer: CustomerId,
        by: Actor,
        at: DateTime<Utc>,
    },
    SetAgentPrice {
        seller: CustomerId,
        /// Whether the seller holds the seller role now (from their customer events).
        is_seller: bool,
        plan_id: Uuid,
        plan_name: String,
        list_price: Toman,
        price: Toman,
        by: Actor,
        at: DateTime<Utc>,
    },
    RemoveAgentPrice {
        plan_id: Uuid,
        by: Actor,
        at: DateTime<Utc>,
    },
    /// Idempotent per sale: a second call for the same charge records nothing.
    EarnCommission {
        seller: CustomerId,
        sale: SaleRef,
        rate: CommissionRate,
        refund_window_hours: u32,
        at: DateTime<Utc>,
    },
    /// Releases every commission whose refund window closed at or before `now`;
    /// each release is recorded at the instant its window closed.
    ReleaseDue {
        now: DateTime<Utc>,
    },
    /// A subscription was refunded at `at`: commissions on it whose window was
    /// still open are reversed in proportion `refund / paid`. Once per subscription.
    ReverseForRefund {
        subscription_id: Uuid,
        refund: Toman,
        paid: Toman,
        at: DateTime<Utc>,
    },
    RequestWithdrawal {
        withdrawal_id: Uuid,
        seller: CustomerId,
        amount: Toman,
        card: CardNumber,
        holder: String,
        /// The policy's minimum at the time of the request.
        minimum: Toman,
        by: Actor,
        at: DateTime<Utc>,
    },
    ApproveWithdrawal {
        withdrawal_id: Uuid,
        by: Actor,
        at: DateTime<Utc>,
    },
    RejectWithdrawal {
        withdrawal_id: Uuid,
        reason: String,
        by: Actor,
        at: DateTime<Utc>,
    },
    PayWithdrawal {
        withdrawal_id: Uuid,
        bank_reference: String,
        by: Actor,
        at: DateTime<Utc>,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum SellerEvent {
    SellerClientCreated {
        seller: CustomerId,
        customer: CustomerId,
        at: DateTime<Utc>,
    },
    AgentPriceSet {
        seller: CustomerId,
        plan_id: Uuid,
        plan_name: String,
        list_price: Toman,
        price: Toman,
        by: ActorRef,
        at: DateTime<Utc>,
    },
    AgentPriceRemoved {
        seller: CustomerId,
        plan_id: Uuid,
        by: ActorRef,
        at: DateTime<Utc>,
    },
    CommissionEarned {
        seller: CustomerId,
        subscription_id: Uuid,
        charge_no: u32,
        customer: CustomerId,
        plan_id: Uuid,
        sale_amount: Toman,
        rate: CommissionRate,
        commission: Toman,
        releases_at: DateTime<Utc>,
        balance: SellerBalance,
        at: DateTime<Utc>,
    },
    /// Recorded at the instant the refund window closed.
    CommissionReleased {
        seller: CustomerId,
        subscription_id: Uuid,
        charge_no: u32,
        amount: Toman,
        balance: SellerBalance,
        at: DateTime<Utc>,
    },
    CommissionReversed {
        seller: CustomerId,
        subscription_id: Uuid,
        charge_no: u32,
        amount: Toman,
        /// Taken back from the available balance (the release was recorded
        /// before the refund reached the seller's account).
        from_available: bool,
        refund: Toman,
        paid: Toman,
        balance: SellerBalance,
        at: DateTime<Utc>,
    },
    WithdrawalRequested {
        seller: CustomerId,
        withdrawal_id: Uuid,
        amount: Toman,
        card: CardNumber,
        holder: String,
        balance: SellerBalance,
        at: DateTime<Utc>,
    },
    WithdrawalApproved {
        seller: CustomerId,
        withdrawal_id: Uuid,
        amount: Toman,
        by: ActorRef,
        at: DateTime<Utc>,
    },
    WithdrawalRejected {
        seller: CustomerId,
        withdrawal_id: Uuid,
        amount: Toman,
        reason: String,
        by: ActorRef,
        balance: SellerBalance,
        at: DateTime<Utc>,
    },
    WithdrawalPaid {
        seller: CustomerId,
        withdrawal_id: Uuid,
        amount: Toman,
        card: CardNumber,
        bank_reference: String,
        by: ActorRef,
        balance: SellerBalance,
        at: DateTime<Utc>,
    },
}

impl DomainEvent for SellerEvent {
    fn event_type(&self) -> String {
        match self {
            SellerEvent::SellerClientCreated { .. } => "SellerClientCreated",
            SellerEvent::AgentPriceSet { .. } => "AgentPriceSet",
            SellerEvent::AgentPriceRemoved { .. } => "AgentPriceRemoved",
            SellerEvent::CommissionEarned { .. } => "CommissionEarned",
            SellerEvent::CommissionReleased { .. } => "CommissionReleased",
            SellerEvent::CommissionReversed { .. } => "CommissionReversed",
            SellerEvent::WithdrawalRequested { .. } => "WithdrawalRequested",
            SellerEvent::WithdrawalApproved { .. } => "WithdrawalApproved",
            SellerEvent::WithdrawalRejected { .. } => "WithdrawalRejected",
            SellerEvent::WithdrawalPaid { .. } => "WithdrawalPaid",
        }
        .to_string()
    }
    fn event_version(&self) -> String {
        "1.0".to_string()
    }
}

impl SellerEvent {
    pub fn seller(&self) -> CustomerId {
        match self {
            SellerEvent::SellerClientCreated { seller, .. }
            | SellerEvent::AgentPriceSet { seller, .. }
            | SellerEvent::AgentPriceRemoved { seller, .. }
            | SellerEvent::CommissionEarned { seller, .. }
            | SellerEvent::CommissionReleased { seller, .. }
            | SellerEvent::CommissionReversed { seller, .. }
            | SellerEvent::WithdrawalRequested { seller, .. }
            | SellerEvent::WithdrawalApproved { seller, .. }
            | SellerEvent::WithdrawalRejected { seller, .. }
            | SellerEvent::WithdrawalPaid { seller, .. } => *seller,
        }
    }

    /// The balance after the event, for events that move money.
    pub fn balance(&self) -> Option<SellerBalance> {
        match self {
            SellerEvent::CommissionEarned { balance, .. }
            | SellerEvent::CommissionReleased { balance, .. }
            | SellerEvent::CommissionReversed { balance, .. }
            | SellerEvent::WithdrawalRequested { balance, .. }
            | SellerEvent::WithdrawalRejected { balance, .. }
            | SellerEvent::WithdrawalPaid { balance, .. } => Some(*balance),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Commission {
    pub amount: Toman,
    /// Still to be released (the amount less what refunds reversed).
    pub remaining: Toman,
    pub releases_at: DateTime<Utc>,
    pub released: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum WithdrawalStatus {
    Requested,
    Approved,
    Rejected,
    Paid,
}

impl WithdrawalStatus {
    pub fn name(self) -> &'static str {
        match self {
            WithdrawalStatus::Requested => "requested",
            WithdrawalStatus::Approved => "approved",
            WithdrawalStatus::Rejected => "rejected",
            WithdrawalStatus::Paid => "paid",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Withdrawal {
    pub amount: Toman,
    pub card: CardNumber,
    pub status: WithdrawalStatus,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SellerAccount {
    pub seller: Option<CustomerId>,
    pub balance: SellerBalance,
    pub agent_prices: BTreeMap<Uuid, Toman>,
    pub clients: BTreeSet<CustomerId>,
    /// (subscription, charge) → commission.
    pub commissions: BTreeMap<(Uuid, u32), Commission>,
    /// Subscriptions whose refund was already applied.
    pub refunded: BTreeSet<Uuid>,
    pub withdrawals: BTreeMap<Uuid, Withdrawal>,
}

fn add(a: Toman, b: Toman) -> Result<Toman, CommissionError> {
    a.checked_add(b).ok_or(CommissionError::Amount(MoneyError::TooLarge))
}

fn sub(a: Toman, b: Toman) -> Result<Toman, CommissionError> {
    // Callers check first; a failure here is a broken invariant, refused rather than recorded.
    a.checked_sub(b).ok_or(CommissionError::Amount(MoneyError::Negative))
}

impl SellerAccount {
    fn same_seller(&self, seller: CustomerId) -> Result<(), CommissionError> {
        if self.seller.is_some_and(|s| s != seller) {
            return Err(CommissionError::WrongSeller);
        }
        Ok(())
    }

    fn seller_id(&self) -> Result<CustomerId, CommissionError> {
        self.seller.ok_or(CommissionError::NoSuchWithdrawal)
    }

    /// The agent price of `plan` for this seller, if any.
    pub fn agent_price(&self, plan: Uuid) -> Option<Toman> {
        self.agent_prices.get(&plan).copied()
    }

    fn withdrawal(&self, id: Uuid) -> Result<&Withdrawal, CommissionError> {
        self.withdrawals.get(&id).ok_or(CommissionError::NoSuchWithdrawal)
    }

    fn releases(&self, seller: CustomerId, now: DateTime<Utc>) -> Result<Vec<SellerEvent>, CommissionError> {
        let mut due: Vec<(&(Uuid, u32), &Commission)> = self
            .commissions
            .iter()
            .filter(|(_, c)| !c.released && !c.remaining.is_zero() && c.releases_at <= now)
            .collect();
        due.sort_by_key(|(k, c)| (c.releases_at, **k));
        let mut balance = self.balance;
        let mut events = Vec::new();
        for ((subscription_id, charge_no), c) in due {
            balance.pending = sub(balance.pending, c.remaining)?;
            balance.available = add(balance.available, c.remaining)?;
            events.push(SellerEvent::CommissionReleased {
                seller,
                subscription_id: *subscription_id,
                charge_no: *charge_no,
                amount: c.remaining,
                balance,
                at: c.releases_at,
            });
        }
        Ok(events)
    }
}

impl Aggregate for SellerAccount {
    const TYPE: &'static str = "SellerAccount";
    type Command = SellerCommand;
    type Event = SellerEvent;
    type Error = CommissionError;
    type Services = ();

    async fn handle(&mut self, command: Self::Command, _: &(), sink: &EventSink<Self>) -> Result<(), Self::Error> {
        use SellerCommand as C;
        use SellerEvent as E;
        let events: Vec<SellerEvent> = match command {
            C::RecordClient { seller, customer, by, at } => {
                self.same_seller(seller)?;
                by.require(Permission::Sell)?;
                if by.customer_id().is_some_and(|id| id != seller) {
                    return Err(CommissionError::NotTheSeller);
                }
                if self.clients.contains(&customer) {
                    return Ok(());
                }
                vec![E::SellerClientCreated { seller, customer, at }]
            }
            C::SetAgentPrice {
                seller,
                is_seller,
                plan_id,
                plan_name,
                list_price,
                price,
                by,
                at,
            } => {
                by.require(Permission::ManagePlans)?;
                self.same_seller(seller)?;
                if !is_seller {
                    return Err(CommissionError::NotASeller(seller));
                }
                if price.is_zero() || price > list_price {
                    return Err(CommissionError::InvalidAgentPrice { list_price });
                }
                if self.agent_prices.get(&plan_id) == Some(&price) {
                    return Ok(());
                }
                vec![E::AgentPriceSet {
                    seller,
                    plan_id,
                    plan_name,
                    list_price,
                    price,
                    by: by.reference(),
                    at,
                }]
            }
            C::RemoveAgentPrice { plan_id, by, at } => {
                by.require(Permission::ManagePlans)?;
                let seller = self.seller.ok_or(CommissionError::NoAgentPrice)?;
                if !self.agent_prices.contains_key(&plan_id) {
                    return Err(CommissionError::NoAgentPrice);
                }
                vec![E::AgentPriceRemoved {
                    seller,
                    plan_id,
                    by: by.reference(),
                    at,
                }]
            }
            C::EarnCommission {
                seller,
                sale,
                rate,
                refund_window_hours,
                at,
            } => {
                self.same_seller(seller)?;
                rate.validate()?;
                if sale.customer == seller || self.commissions.contains_key(&(sale.subscription_id, sale.charge_no)) {
                    return Ok(());
                }
                let commission = rate.commission_on(sale.amount)?;
                if commission.is_zero() {
                    return Ok(());
                }
                let mut balance = self.balance;
                balance.pending = add(balance.pending, commission)?;
                vec![E::CommissionEarned {
                    seller,
                    subscription_id: sale.subscription_id,
                    charge_no: sale.charge_no,
                    customer: sale.customer,
                    plan_id: sale.plan_id,
                    sale_amount: sale.amount,
                    rate,
                    commission,
                    releases_at: sale.at + Duration::hours(i64::from(refund_window_hours)),
                    balance,
                    at,
                }]
            }
            C::ReleaseDue { now } => match self.seller {
                Some(seller) => self.releases(seller, now)?,
                None => vec![],
            },
            C::ReverseForRefund {
                subscription_id,
                refund,
                paid,
                at,
            } => {
                let Some(seller) = self.seller else { return Ok(()) };
                if refund.is_zero() || self.refunded.contains(&subscription_id) {
                    return Ok(());
                }
                let mut balance = self.balance;
                let mut events = Vec::new();
                for ((s, charge_no), c) in self.commissions.range((subscription_id, 0)..=(subscription_id, u32::MAX)) {
                    debug_assert_eq!(*s, subscription_id);
                    // Outside the window the commission is the seller's for good.
                    if at >= c.releases_at || c.remaining.is_zero() {
                        continue;
                    }
                    let share = if refund >= paid || paid.is_zero() {
                        c.amount
                    } else {
                        Toman::new(round_to_rial(c.amount.value() * refund.value() / paid.value()))?
                    };
                    let mut amount = share.min(c.remaining);
                    if c.released {
                        amount = amount.min(balance.available);
                    }
                    if amount.is_zero() {
                        continue;
                    }
                    if c.released {
                        balance.available = sub(balance.available, amount)?;
                    } else {
                        balance.pending = sub(balance.pending, amount)?;
                    }
                    events.push(E::CommissionReversed {
                        seller,
                        subscription_id,
                        charge_no: *charge_no,
                        amount,
                        from_available: c.released,
                        refund,
                        paid,
                        balance,
                        at,
                    });
                }
                events
            }
            C::RequestWithdrawal {
                withdrawal_id,
                seller,
                amount,
                card,
                holder,
                minimum,
                by,
                at,
            } => {
                self.same_seller(seller)?;
                by.require(Permission::Sell)?;
                if by.customer_id() != Some(seller) {
                    return Err(CommissionError::NotTheSeller);
                }
                if self.withdrawals.contains_key(&withdrawal_id) {
                    return Err(CommissionError::WithdrawalExists);
                }
                let holder = holder.trim().to_string();
                if holder.is_empty() || holder.chars().count() > 100 {
                    return Err(CommissionError::InvalidHolder);
                }
                if amount < minimum || amount.is_zero() {
                    return Err(CommissionError::BelowMinimum { minimum });
                }
                let mut balance = self.balance;
                balance.available = balance
                    .available
                    .checked_sub(amount)
                    .ok_or(CommissionError::InsufficientCommission {
                        available: self.balance.available,
                        requested: amount,
                    })?;
                balance.reserved = add(balance.reserved, amount)?;
                vec![E::WithdrawalRequested {
                    seller,
                    withdrawal_id,
                    amount,
                    card,
                    holder,
                    balance,
                    at,
                }]
            }
            C::ApproveWithdrawal { withdrawal_id, by, at } => {
                by.require(Permission::AdjustWallets)?;
                let seller = self.seller_id()?;
                let w = self.withdrawal(withdrawal_id)?;
                if w.status != WithdrawalStatus::Requested {
                    return Err(CommissionError::WithdrawalDecided(w.status.name()));
                }
                vec![E::WithdrawalApproved {
                    seller,
                    withdrawal_id,
                    amount: w.amount,
                    by: by.reference(),
                    at,
                }]
            }
            C::RejectWithdrawal {
                withdrawal_id,
                reason,
                by,
                at,
            } => {
                by.require(Permission::AdjustWallets)?;
                let seller = self.seller_id()?;
                let w = self.withdrawal(withdrawal_id)?;
                if !matches!(w.status, WithdrawalStatus::Requested | WithdrawalStatus::Approved) {
                    return Err(CommissionError::WithdrawalDecided(w.status.name()));
                }
                let reason = reason.trim().to_string();
                if reason.is_empty() {
                    return Err(CommissionError::ReasonRequired);
                }
                let mut balance = self.balance;
                balance.reserved = sub(balance.reserved, w.amount)?;
                balance.available = add(balance.available, w.amount)?;
                vec![E::WithdrawalRejected {
                    seller,
                    withdrawal_id,
                    amount: w.amount,
                    reason,
                    by: by.reference(),
                    balance,
                    at,
                }]
            }
            C::PayWithdrawal {
                withdrawal_id,
                bank_reference,
                by,
                at,
            } => {
                by.require(Permission::AdjustWallets)?;
                let seller = self.seller_id()?;
                let w = self.withdrawal(withdrawal_id)?;
                match w.status {
                    WithdrawalStatus::Approved => {}
                    WithdrawalStatus::Requested => return Err(CommissionError::NotApproved),
                    other => return Err(CommissionError::WithdrawalDecided(other.name())),
                }
                let bank_reference = bank_reference.trim().to_string();
                if bank_reference.is_empty() {
                    return Err(CommissionError::ReferenceRequired);
                }
                let mut balance = self.balance;
                balance.reserved = sub(balance.reserved, w.amount)?;
                balance.paid_out = add(balance.paid_out, w.amount)?;
                vec![E::WithdrawalPaid {
                    seller,
                    withdrawal_id,
                    amount: w.amount,
                    card: w.card.clone(),
                    bank_reference,
                    by: by.reference(),
                    balance,
                    at,
                }]
            }
        };
        for event in events {
            sink.write(event, self).await;
        }
        Ok(())
    }

    fn apply(&mut self, event: Self::Event) {
        use SellerEvent as E;
        self.seller = Some(event.seller());
        if let Some(balance) = event.balance() {
            self.balance = balance;
        }
        match event {
            E::SellerClientCreated { customer, .. } => {
                self.clients.insert(customer);
            }
            E::AgentPriceSet { plan_id, price, .. } => {
                self.agent_prices.insert(plan_id, price);
            }
            E::AgentPriceRemoved { plan_id, .. } => {
                self.agent_prices.remove(&plan_id);
            }
            E::CommissionEarned {
                subscription_id,
                charge_no,
                commission,
                releases_at,
                ..
            } => {
                self.commissions.insert(
                    (subscription_id, charge_no),
                    Commission {
                        amount: commission,
                        remaining: commission,
                        releases_at,
                        released: false,
                    },
                );
            }
            E::CommissionReleased {
                subscription_id,
                charge_no,
                ..
            } => {
                if let Some(c) = self.commissions.get_mut(&(subscription_id, charge_no)) {
                    c.released = true;
                }
            }
            E::CommissionReversed {
                subscription_id,
                charge_no,
                amount,
                ..
            } => {
                self.refunded.insert(subscription_id);
                if let Some(c) = self.commissions.get_mut(&(subscription_id, charge_no)) {
                    c.remaining = c.remaining.checked_sub(amount).unwrap_or(Toman::ZERO);
                }
            }
            E::WithdrawalRequested {
                withdrawal_id,
                amount,
                card,
                ..
            } => {
                self.withdrawals.insert(
                    withdrawal_id,
                    Withdrawal {
                        amount,
                        card,
                        status: WithdrawalStatus::Requested,
                    },
                );
            }
            E::WithdrawalApproved { withdrawal_id, .. } => self.set_status(withdrawal_id, WithdrawalStatus::Approved),
            E::WithdrawalRejected { withdrawal_id, .. } => self.set_status(withdrawal_id, WithdrawalStatus::Rejected),
            E::WithdrawalPaid { withdrawal_id, .. } => self.set_status(withdrawal_id, WithdrawalStatus::Paid),
        }
    }
}

impl SellerAccount {
    fn set_status(&mut self, id: Uuid, status: WithdrawalStatus) {
        if let Some(w) = self.withdrawals.get_mut(&id) {
            w.status = status;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::{card_number, t0, toman};
    use cqrs_es::test::TestFramework;
    use rust_decimal_macros::dec;

    type GivenPolicy = TestFramework<CommissionPolicy>;
    type Given = TestFramework<SellerAccount>;
    const SELLER: CustomerId = CustomerId(70);
    const BUYER: CustomerId = CustomerId(71);
    const SUB: Uuid = Uuid::from_u128(1);

    fn admin() -> Actor {
        Actor::user(CustomerId(1), Permission::ALL)
    }
    fn seller_actor() -> Actor {
        Actor::user(SELLER, [Permission::Sell])
    }
    fn pct(p: Decimal) -> CommissionRate {
        CommissionRate::Percent { percent: p }
    }
    fn bal(pending: i64, available: i64, reserved: i64, paid_out: i64) -> SellerBalance {
        SellerBalance {
            pending: toman(pending),
            available: toman(available),
            reserved: toman(reserved),
            paid_out: toman(paid_out),
        }
    }
    fn sale(charge_no: u32, amount: i64) -> SaleRef {
        SaleRef {
            subscription_id: SUB,
            charge_no,
            customer: BUYER,
            plan_id: Uuid::nil(),
            amount: toman(amount),
            at: t0(),
        }
    }
    fn earned(charge_no: u32, commission: i64, pending_after: i64) -> SellerEvent {
        SellerEvent::CommissionEarned {
            seller: SELLER,
            subscription_id: SUB,
            charge_no,
            customer: BUYER,
            plan_id: Uuid::nil(),
            sale_amount: toman(commission * 10),
            rate: pct(dec!(10)),
            commission: toman(commission),
            releases_at: t0() + Duration::hours(168),
            balance: bal(pending_after, 0, 0, 0),
            at: t0(),
        }
    }
    fn released(charge_no: u32, amount: i64, balance: SellerBalance) -> SellerEvent {
        SellerEvent::CommissionReleased {
            seller: SELLER,
            subscription_id: SUB,
            charge_no,
            amount: toman(amount),
            balance,
            at: t0() + Duration::hours(168),
        }
    }
    fn requested(id: u128, amount: i64, balance: SellerBalance) -> SellerEvent {
        SellerEvent::WithdrawalRequested {
            seller: SELLER,
            withdrawal_id: Uuid::from_u128(id),
            amount: toman(amount),
            card: card_number(),
            holder: "Sara".into(),
            balance,
            at: t0(),
        }
    }
    fn request(id: u128, amount: i64) -> SellerCommand {
        SellerCommand::RequestWithdrawal {
            withdrawal_id: Uuid::from_u128(id),
            seller: SELLER,
            amount: toman(amount),
            card: card_number(),
            holder: "Sara".into(),
            minimum: toman(50_000),
            by: seller_actor(),
            at: t0(),
        }
    }

    #[test]
    fn percent_commissions_round_down_to_the_rial_and_fixed_ones_never_exceed_the_sale() {
        assert_eq!(
            pct(dec!(7.5)).commission_on(toman(99_999)).unwrap(),
            Toman::new(dec!(7499.9)).unwrap()
        );
        assert_eq!(pct(dec!(33.33)).commission_on(toman(1)).unwrap(), Toman::new(dec!(0.3)).unwrap());
        let fixed = CommissionRate::Fixed { amount: toman(20_000) };
        assert_eq!(fixed.commission_on(toman(15_000)).unwrap(), toman(15_000));
        assert_eq!(CommissionRate::parse("12.5%").unwrap(), pct(dec!(12.5)));
        assert_eq!(
            CommissionRate::parse("15,000").unwrap(),
            CommissionRate::Fixed { amount: toman(15_000) }
        );
        assert!(CommissionRate::parse("101%").is_err());
        assert!(CommissionRate::parse("1.234%").is_err());
        assert!(CommissionRate::parse("0").is_err());
    }

    #[test]
    fn a_plan_rate_overrides_the_default_and_needs_manage_plans() {
        GivenPolicy::with(())
            .given_no_previous_events()
            .when(CommissionPolicyCommand::SetRate {
                plan: None,
                rate: Some(pct(dec!(10))),
                by: seller_actor(),
                at: t0(),
            })
            .then_expect_error(CommissionError::Denied(PermissionDenied(Permission::ManagePlans)));
        let mut policy = CommissionPolicy::default();
        policy.apply(CommissionPolicyEvent::CommissionRateSet {
            plan: None,
            rate: Some(pct(dec!(10))),
            by: ActorRef::System,
            at: t0(),
        });
        policy.apply(CommissionPolicyEvent::CommissionRateSet {
            plan: Some(Uuid::from_u128(9)),
            rate: Some(CommissionRate::Fixed { amount: toman(5_000) }),
            by: ActorRef::System,
            at: t0(),
        });
        assert_eq!(
            policy.rate_for(Uuid::from_u128(9)),
            Some(CommissionRate::Fixed { amount: toman(5_000) })
        );
        assert_eq!(policy.rate_for(Uuid::from_u128(8)), Some(pct(dec!(10))));
    }

    #[test]
    fn invalid_rates_and_terms_are_refused() {
        GivenPolicy::with(())
            .given_no_previous_events()
            .when(CommissionPolicyCommand::SetRate {
                plan: None,
                rate: Some(pct(dec!(0))),
                by: admin(),
                at: t0(),
            })
            .then_expect_error(CommissionError::InvalidRate);
        GivenPolicy::with(())
            .given_no_previous_events()
            .when(CommissionPolicyCommand::SetRate {
                plan: Some(Uuid::nil()),
                rate: None,
                by: admin(),
                at: t0(),
            })
            .then_expect_error(CommissionError::NoRateToClear);
        GivenPolicy::with(())
            .given_no_previous_events()
            .when(CommissionPolicyCommand::SetTerms {
                refund_window_hours: 0,
                withdrawal_minimum: toman(1),
                by: admin(),
                at: t0(),
            })
            .then_expect_error(CommissionError::InvalidWindow);
    }

    #[test]
    fn a_sale_earns_a_pending_commission_once() {
        Given::with(())
            .given_no_previous_events()
            .when(SellerCommand::EarnCommission {
                seller: SELLER,
                sale: sale(1, 150_000),
                rate: pct(dec!(10)),
                refund_window_hours: 168,
                at: t0(),
            })
            .then_expect_events(vec![SellerEvent::CommissionEarned {
                seller: SELLER,
                subscription_id: SUB,
                charge_no: 1,
                customer: BUYER,
                plan_id: Uuid::nil(),
                sale_amount: toman(150_000),
                rate: pct(dec!(10)),
                commission: toman(15_000),
                releases_at: t0() + Duration::hours(168),
                balance: bal(15_000, 0, 0, 0),
                at: t0(),
            }]);
        Given::with(())
            .given(vec![earned(1, 15_000, 15_000)])
            .when(SellerCommand::EarnCommission {
                seller: SELLER,
                sale: sale(1, 150_000),
                rate: pct(dec!(10)),
                refund_window_hours: 168,
                at: t0(),
            })
            .then_expect_events(vec![]);
    }

    #[test]
    fn a_commission_is_released_only_when_its_window_closes_and_at_that_instant() {
        Given::with(())
            .given(vec![earned(1, 15_000, 15_000)])
            .when(SellerCommand::ReleaseDue {
                now: t0() + Duration::hours(167),
            })
            .then_expect_events(vec![]);
        Given::with(())
            .given(vec![earned(1, 15_000, 15_000)])
            .when(SellerCommand::ReleaseDue {
                now: t0() + Duration::hours(500),
            })
            .then_expect_events(vec![released(1, 15_000, bal(0, 15_000, 0, 0))]);
        Given::with(())
            .given(vec![earned(1, 15_000, 15_000), released(1, 15_000, bal(0, 15_000, 0, 0))])
            .when(SellerCommand::ReleaseDue {
                now: t0() + Duration::hours(500),
            })
            .then_expect_events(vec![]);
    }

    #[test]
    fn a_refund_inside_the_window_reverses_the_commission_in_proportion() {
        Given::with(())
            .given(vec![earned(1, 15_000, 15_000)])
            .when(SellerCommand::ReverseForRefund {
                subscription_id: SUB,
                refund: toman(50_000),
                paid: toman(150_000),
                at: t0() + Duration::hours(1),
            })
            .then_expect_events(vec![SellerEvent::CommissionReversed {
                seller: SELLER,
                subscription_id: SUB,
                charge_no: 1,
                amount: toman(5_000),
                from_available: false,
                refund: toman(50_000),
                paid: toman(150_000),
                balance: bal(10_000, 0, 0, 0),
                at: t0() + Duration::hours(1),
            }]);
    }

    #[test]
    fn a_refund_after_the_window_leaves_the_commission_and_a_second_refund_does_nothing() {
        Given::with(())
            .given(vec![earned(1, 15_000, 15_000)])
            .when(SellerCommand::ReverseForRefund {
                subscription_id: SUB,
                refund: toman(150_000),
                paid: toman(150_000),
                at: t0() + Duration::hours(168),
            })
            .then_expect_events(vec![]);
        Given::with(())
            .given(vec![
                earned(1, 15_000, 15_000),
                SellerEvent::CommissionReversed {
                    seller: SELLER,
                    subscription_id: SUB,
                    charge_no: 1,
                    amount: toman(5_000),
                    from_available: false,
                    refund: toman(50_000),
                    paid: toman(150_000),
                    balance: bal(10_000, 0, 0, 0),
                    at: t0(),
                },
            ])
            .when(SellerCommand::ReverseForRefund {
                subscription_id: SUB,
                refund: toman(50_000),
                paid: toman(150_000),
                at: t0(),
            })
            .then_expect_events(vec![]);
    }

    #[test]
    fn a_late_seen_refund_takes_back_no_more_than_is_available() {
        // Released, then 12,000 withdrawn: a refund dated inside the window can
        // take back only the 3,000 still available, never going negative.
        Given::with(())
            .given(vec![
                earned(1, 15_000, 15_000),
                released(1, 15_000, bal(0, 15_000, 0, 0)),
                requested(5, 12_000, bal(0, 3_000, 12_000, 0)),
            ])
            .when(SellerCommand::ReverseForRefund {
                subscription_id: SUB,
                refund: toman(150_000),
                paid: toman(150_000),
                at: t0() + Duration::hours(2),
            })
            .then_expect_events(vec![SellerEvent::CommissionReversed {
                seller: SELLER,
                subscription_id: SUB,
                charge_no: 1,
                amount: toman(3_000),
                from_available: true,
                refund: toman(150_000),
                paid: toman(150_000),
                balance: bal(0, 0, 12_000, 0),
                at: t0() + Duration::hours(2),
            }]);
    }

    #[test]
    fn a_withdrawal_needs_the_minimum_and_the_available_balance() {
        let given = vec![earned(1, 60_000, 60_000), released(1, 60_000, bal(0, 60_000, 0, 0))];
        Given::with(())
            .given(given.clone())
            .when(request(5, 49_999))
            .then_expect_error(CommissionError::BelowMinimum { minimum: toman(50_000) });
        Given::with(())
            .given(given.clone())
            .when(request(5, 60_001))
            .then_expect_error(CommissionError::InsufficientCommission {
                available: toman(60_000),
                requested: toman(60_001),
            });
        Given::with(())
            .given(vec![earned(1, 60_000, 60_000)])
            .when(request(5, 50_000))
            .then_expect_error(CommissionError::InsufficientCommission {
                available: toman(0),
                requested: toman(50_000),
            });
        Given::with(())
            .given(given)
            .when(request(5, 55_000))
            .then_expect_events(vec![requested(5, 55_000, bal(0, 5_000, 55_000, 0))]);
    }

    #[test]
    fn only_the_seller_asks_for_their_money() {
        Given::with(())
            .given(vec![earned(1, 60_000, 60_000), released(1, 60_000, bal(0, 60_000, 0, 0))])
            .when(SellerCommand::RequestWithdrawal {
                withdrawal_id: Uuid::from_u128(5),
                seller: SELLER,
                amount: toman(55_000),
                card: card_number(),
                holder: "Sara".into(),
                minimum: toman(50_000),
                by: Actor::user(CustomerId(99), [Permission::Sell]),
                at: t0(),
            })
            .then_expect_error(CommissionError::NotTheSeller);
    }

    #[test]
    fn a_withdrawal_is_approved_then_paid_exactly_once() {
        let base = vec![
            earned(1, 60_000, 60_000),
            released(1, 60_000, bal(0, 60_000, 0, 0)),
            requested(5, 55_000, bal(0, 5_000, 55_000, 0)),
        ];
        Given::with(())
            .given(base.clone())
            .when(SellerCommand::PayWithdrawal {
                withdrawal_id: Uuid::from_u128(5),
                bank_reference: "T-1".into(),
                by: admin(),
                at: t0(),
            })
            .then_expect_error(CommissionError::NotApproved);
        let mut approved = base.clone();
        approved.push(SellerEvent::WithdrawalApproved {
            seller: SELLER,
            withdrawal_id: Uuid::from_u128(5),
            amount: toman(55_000),
            by: ActorRef::User(CustomerId(1)),
            at: t0(),
        });
        Given::with(())
            .given(approved.clone())
            .when(SellerCommand::PayWithdrawal {
                withdrawal_id: Uuid::from_u128(5),
                bank_reference: "T-1".into(),
                by: seller_actor(),
                at: t0(),
            })
            .then_expect_error(CommissionError::Denied(PermissionDenied(Permission::AdjustWallets)));
        let paid = SellerEvent::WithdrawalPaid {
            seller: SELLER,
            withdrawal_id: Uuid::from_u128(5),
            amount: toman(55_000),
            card: card_number(),
            bank_reference: "T-1".into(),
            by: ActorRef::User(CustomerId(1)),
            balance: bal(0, 5_000, 0, 55_000),
            at: t0(),
        };
        Given::with(())
            .given(approved.clone())
            .when(SellerCommand::PayWithdrawal {
                withdrawal_id: Uuid::from_u128(5),
                bank_reference: "T-1".into(),
                by: admin(),
                at: t0(),
            })
            .then_expect_events(vec![paid.clone()]);
        approved.push(paid);
        Given::with(())
            .given(approved)
            .when(SellerCommand::PayWithdrawal {
                withdrawal_id: Uuid::from_u128(5),
                bank_reference: "T-1".into(),
                by: admin(),
                at: t0(),
            })
            .then_expect_error(CommissionError::WithdrawalDecided("paid"));
    }

    #[test]
    fn a_rejected_withdrawal_gives_the_money_back_to_available() {
        Given::with(())
            .given(vec![
                earned(1, 60_000, 60_000),
                released(1, 60_000, bal(0, 60_000, 0, 0)),
                requested(5, 55_000, bal(0, 5_000, 55_000, 0)),
            ])
            .when(SellerCommand::RejectWithdrawal {
                withdrawal_id: Uuid::from_u128(5),
                reason: "card holder differs".into(),
                by: admin(),
                at: t0(),
            })
            .then_expect_events(vec![SellerEvent::WithdrawalRejected {
                seller: SELLER,
                withdrawal_id: Uuid::from_u128(5),
                amount: toman(55_000),
                reason: "card holder differs".into(),
                by: ActorRef::User(CustomerId(1)),
                balance: bal(0, 60_000, 0, 0),
                at: t0(),
            }]);
    }

    #[test]
    fn an_agent_price_is_for_sellers_only_and_at_most_the_list_price() {
        let set = |is_seller: bool, price: i64| SellerCommand::SetAgentPrice {
            seller: SELLER,
            is_seller,
            plan_id: Uuid::nil(),
            plan_name: "Monthly".into(),
            list_price: toman(150_000),
            price: toman(price),
            by: admin(),
            at: t0(),
        };
        Given::with(())
            .given_no_previous_events()
            .when(set(false, 120_000))
            .then_expect_error(CommissionError::NotASeller(SELLER));
        Given::with(())
            .given_no_previous_events()
            .when(set(true, 150_001))
            .then_expect_error(CommissionError::InvalidAgentPrice {
                list_price: toman(150_000),
            });
        Given::with(())
            .given_no_previous_events()
            .when(set(true, 120_000))
            .then_expect_events(vec![SellerEvent::AgentPriceSet {
                seller: SELLER,
                plan_id: Uuid::nil(),
                plan_name: "Monthly".into(),
                list_price: toman(150_000),
                price: toman(120_000),
                by: ActorRef::User(CustomerId(1)),
                at: t0(),
            }]);
    }

    #[test]
    fn a_seller_earns_nothing_on_their_own_purchase() {
        Given::with(())
            .given_no_previous_events()
            .when(SellerCommand::EarnCommission {
                seller: SELLER,
                sale: SaleRef {
                    customer: SELLER,
                    ..sale(1, 100_000)
                },
                rate: pct(dec!(10)),
                refund_window_hours: 168,
                at: t0(),
            })
            .then_expect_events(vec![]);
    }
}
