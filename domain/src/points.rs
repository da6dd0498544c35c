//! Loyalty points.
//!
//! - [`PointsPolicy`] (one, id [`PointsPolicy::ID`]): how many points a Toman
//!   spent, a referral, each period of account age earn; how long points last;
//!   what rewards cost. Every change is an event.
//! - [`PointsAccount`] (id = the customer's Telegram id): points arrive in
//!   *lots*, each with its own expiry instant and a unique reference (so an
//!   award is never given twice); redemptions take from the lots that expire
//!   first; a lot's remainder expires by an event dated at its expiry instant;
//!   a refund claws back the points its purchase earned (never below zero).
use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Duration, Utc};
use cqrs_es::event_sink::EventSink;
use cqrs_es::{Aggregate, DomainEvent};
use rust_decimal::prelude::ToPrimitive;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::access::{Actor, ActorRef, Permission, PermissionDenied};
use crate::money::Toman;
use crate::values::CustomerId;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PointsRules {
    /// Points per Toman spent (e.g. 0.001: one point per 1,000 Toman), rounded down.
    pub points_per_toman: Decimal,
    /// For each referred customer, at their first purchase.
    pub referral_points: u64,
    /// For each full period of account age.
    pub longevity_points: u64,
    pub longevity_period_days: u32,
    /// Points expire this many days after they are earned.
    pub expiry_days: u32,
    /// What a point is worth as a discount.
    pub toman_per_point: Toman,
    pub vip_cost: u64,
    /// Points per extra day on a subscription.
    pub day_cost: u64,
    /// Points per extra GB on a subscription.
    pub gb_cost: u64,
}

impl Default for PointsRules {
    fn default() -> Self {
        PointsRules {
            points_per_toman: Decimal::new(1, 3),
            referral_points: 50,
            longevity_points: 20,
            longevity_period_days: 30,
            expiry_days: 365,
            toman_per_point: Toman::from_int(10).expect("constant"),
            vip_cost: 5_000,
            day_cost: 20,
            gb_cost: 10,
        }
    }
}

impl PointsRules {
    pub fn validate(&self) -> Result<(), PointsError> {
        let rate_ok = self.points_per_toman >= Decimal::ZERO && self.points_per_toman <= Decimal::ONE;
        if !rate_ok
            || self.longevity_period_days == 0
            || self.expiry_days == 0
            || self.toman_per_point.is_zero()
            || self.vip_cost == 0
            || self.day_cost == 0
            || self.gb_cost == 0
        {
            return Err(PointsError::InvalidRules);
        }
        Ok(())
    }

    /// Points a purchase of `spent` earns, rounded down.
    pub fn purchase_points(&self, spent: Toman) -> u64 {
        (spent.value() * self.points_per_toman).floor().to_u64().unwrap_or(0)
    }

    pub fn expiry_from(&self, earned_at: DateTime<Utc>) -> DateTime<Utc> {
        earned_at + Duration::days(i64::from(self.expiry_days))
    }

    pub fn longevity_period(&self) -> Duration {
        Duration::days(i64::from(self.longevity_period_days))
    }

    /// What a reward costs in points.
    pub fn cost(&self, reward: &Reward) -> Result<u64, PointsError> {
        let cost = match reward {
            Reward::Discount { value } => {
                if value.is_zero() {
                    return Err(PointsError::InvalidReward);
                }
                (value.value() / self.toman_per_point.value()).ceil().to_u64()
            }
            Reward::Vip => Some(self.vip_cost),
            Reward::ExtraDays { days, .. } if *days > 0 && *days <= 365 => self.day_cost.checked_mul(u64::from(*days)),
            Reward::Traffic { gb, .. } if *gb > 0 && *gb <= 10_000 => self.gb_cost.checked_mul(u64::from(*gb)),
            _ => return Err(PointsError::InvalidReward),
        };
        cost.ok_or(PointsError::InvalidReward)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum PointsReason {
    Purchase {
        subscription_id: Uuid,
        charge_no: u32,
        spent: Toman,
    },
    Referral {
        referred: CustomerId,
    },
    Longevity {
        period: u32,
    },
    SpecialEvent {
        name: String,
        by: ActorRef,
    },
    Grant {
        note: String,
        by: ActorRef,
    },
}

impl PointsReason {
    pub fn kind(&self) -> &'static str {
        match self {
            PointsReason::Purchase { .. } => "purchase",
            PointsReason::Referral { .. } => "referral",
            PointsReason::Longevity { .. } => "longevity",
            PointsReason::SpecialEvent { .. } => "special_event",
            PointsReason::Grant { .. } => "grant",
        }
    }

    /// The unique reference of this award: the same award twice is one award.
    pub fn reference(&self) -> String {
        match self {
            PointsReason::Purchase {
                subscription_id,
                charge_no,
                ..
            } => format!("purchase:{subscription_id}:{charge_no}"),
            PointsReason::Referral { referred } => format!("referral:{referred}"),
            PointsReason::Longevity { period } => format!("longevity:{period}"),
            PointsReason::SpecialEvent { name, .. } => format!("event:{}", name.trim().to_lowercase()),
            PointsReason::Grant { .. } => format!("grant:{}", Uuid::new_v4()),
        }
    }
}

/// What points buy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Reward {
    /// A one-use personal discount code worth `value`.
    Discount {
        value: Toman,
    },
    /// The `vip` role.
    Vip,
    ExtraDays {
        subscription_id: Uuid,
        days: u32,
    },
    Traffic {
        subscription_id: Uuid,
        gb: u32,
    },
}

impl Reward {
    pub fn kind(&self) -> &'static str {
        match self {
            Reward::Discount { .. } => "discount",
            Reward::Vip => "vip",
            Reward::ExtraDays { .. } => "extra_days",
            Reward::Traffic { .. } => "traffic",
        }
    }
}

/// Points taken from (or given back to) one lot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LotTake {
    pub reference: String,
    pub points: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PointsError {
    #[error("points rules: rates between 0 and 1 point per Toman, and periods, expiry, point value and costs above zero")]
    InvalidRules,
    #[error("points must be greater than zero")]
    ZeroPoints,
    #[error("a special event needs a name, a grant a note")]
    NameRequired,
    #[error("this account belongs to another customer")]
    WrongCustomer,
    #[error("not enough points: {balance} available, {requested} needed")]
    InsufficientPoints { balance: u64, requested: u64 },
    #[error("this reward is not valid (1–365 days, 1–10,000 GB, a discount above zero)")]
    InvalidReward,
    #[error("only the customer or a points admin can redeem")]
    NotYours,
    #[error("this redemption already exists")]
    RedemptionExists,
    #[error("no such redemption")]
    NoSuchRedemption,
    #[error(transparent)]
    Denied(#[from] PermissionDenied),
}

// ---------------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum PointsPolicyCommand {
    SetRules { rules: PointsRules, by: Actor, at: DateTime<Utc> },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum PointsPolicyEvent {
    PointsRulesSet {
        rules: PointsRules,
        by: ActorRef,
        at: DateTime<Utc>,
    },
}

impl DomainEvent for PointsPolicyEvent {
    fn event_type(&self) -> String {
        "PointsRulesSet".to_string()
    }
    fn event_version(&self) -> String {
        "1.0".to_string()
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PointsPolicy {
    pub rules: PointsRules,
    /// When the rules were last set: longevity periods ending before it earn nothing.
    pub since: Option<DateTime<Utc>>,
}

impl PointsPolicy {
    pub const ID: &'static str = "points-policy";
}

impl Aggregate for PointsPolicy {
    const TYPE: &'static str = "PointsPolicy";
    type Command = PointsPolicyCommand;
    type Event = PointsPolicyEvent;
    type Error = PointsError;
    type Services = ();

    async fn handle(&mut self, command: Self::Command, _: &(), sink: &EventSink<Self>) -> Result<(), Self::Error> {
        let PointsPolicyCommand::SetRules { rules, by, at } = command;
        by.require(Permission::ManagePoints)?;
        rules.validate()?;
        if self.since.is_some() && rules == self.rules {
            return Ok(());
        }
        sink.write(
            PointsPolicyEvent::PointsRulesSet {
                rules,
                by: by.reference(),
                at,
            },
            self,
        )
        .await;
        Ok(())
    }

    fn apply(&mut self, event: Self::Event) {
        let PointsPolicyEvent::PointsRulesSet { rules, at, .. } = event;
        self.rules = rules;
        self.since.get_or_insert(at);
    }
}

// ---------------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum PointsCommand {
    /// Idempotent per `reference`.
    Earn {
        customer: CustomerId,
        points: u64,
        reason: PointsReason,
        reference: String,
        expires_at: DateTime<Utc>,
        by: Actor,
        at: DateTime<Utc>,
    },
    /// Expires due lots first (dated at their expiry), then takes the cost
    /// from the lots that expire soonest. Idempotent per `redemption_id`.
    Redeem {
        customer: CustomerId,
        redemption_id: Uuid,
        reward: Reward,
        rules: PointsRules,
        by: Actor,
        at: DateTime<Utc>,
    },
    /// The reward could not be delivered: the points go back to their lots.
    CancelRedemption {
        redemption_id: Uuid,
        reason: String,
        at: DateTime<Utc>,
    },
    ExpireDue {
        now: DateTime<Utc>,
    },
    /// A refund of `refund` out of `paid` on a subscription takes back that
    /// share of the points its purchases earned, at most what is left of them.
    ClawBack {
        subscription_id: Uuid,
        refund: Toman,
        paid: Toman,
        at: DateTime<Utc>,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum PointsEvent {
    PointsEarned {
        customer: CustomerId,
        points: u64,
        reason: PointsReason,
        reference: String,
        expires_at: DateTime<Utc>,
        balance_after: u64,
        at: DateTime<Utc>,
    },
    PointsRedeemed {
        customer: CustomerId,
        redemption_id: Uuid,
        points: u64,
        reward: Reward,
        taken: Vec<LotTake>,
        balance_after: u64,
        at: DateTime<Utc>,
    },
    PointsRedemptionCancelled {
        customer: CustomerId,
        redemption_id: Uuid,
        points: u64,
        restored: Vec<LotTake>,
        reason: String,
        balance_after: u64,
        at: DateTime<Utc>,
    },
    /// Dated at the lot's expiry instant.
    PointsExpired {
        customer: CustomerId,
        reference: String,
        points: u64,
        balance_after: u64,
        at: DateTime<Utc>,
    },
    PointsClawedBack {
        customer: CustomerId,
        subscription_id: Uuid,
        points: u64,
        taken: Vec<LotTake>,
        refund: Toman,
        paid: Toman,
        balance_after: u64,
        at: DateTime<Utc>,
    },
}

impl DomainEvent for PointsEvent {
    fn event_type(&self) -> String {
        match self {
            PointsEvent::PointsEarned { .. } => "PointsEarned",
            PointsEvent::PointsRedeemed { .. } => "PointsRedeemed",
            PointsEvent::PointsRedemptionCancelled { .. } => "PointsRedemptionCancelled",
            PointsEvent::PointsExpired { .. } => "PointsExpired",
            PointsEvent::PointsClawedBack { .. } => "PointsClawedBack",
        }
        .to_string()
    }
    fn event_version(&self) -> String {
        "1.0".to_string()
    }
}

impl PointsEvent {
    pub fn customer(&self) -> CustomerId {
        match self {
            PointsEvent::PointsEarned { customer, .. }
            | PointsEvent::PointsRedeemed { customer, .. }
            | PointsEvent::PointsRedemptionCancelled { customer, .. }
            | PointsEvent::PointsExpired { customer, .. }
            | PointsEvent::PointsClawedBack { customer, .. } => *customer,
        }
    }

    /// The signed change to the balance, and the balance after it.
    pub fn movement(&self) -> (i128, u64) {
        match self {
            PointsEvent::PointsEarned { points, balance_after, .. }
            | PointsEvent::PointsRedemptionCancelled { points, balance_after, .. } => (i128::from(*points), *balance_after),
            PointsEvent::PointsRedeemed { points, balance_after, .. }
            | PointsEvent::PointsExpired { points, balance_after, .. }
            | PointsEvent::PointsClawedBack { points, balance_after, .. } => (-i128::from(*points), *balance_after),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Lot {
    pub points: u64,
    pub remaining: u64,
    pub expires_at: DateTime<Utc>,
    /// For purchase points: the subscription whose refund claws them back.
    pub subscription: Option<Uuid>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RedemptionState {
    pub points: u64,
    pub reward: Reward,
    pub taken: Vec<LotTake>,
    pub cancelled: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PointsAccount {
    pub customer: Option<CustomerId>,
    pub balance: u64,
    pub lots: BTreeMap<String, Lot>,
    pub redemptions: BTreeMap<Uuid, RedemptionState>,
    pub clawed_back: BTreeSet<Uuid>,
}

impl PointsAccount {
    fn check_customer(&self, customer: CustomerId) -> Result<(), PointsError> {
        if self.customer.is_some_and(|c| c != customer) {
            return Err(PointsError::WrongCustomer);
        }
        Ok(())
    }

    /// Expiry events for every lot due at `now`, oldest first.
    fn expiries(&self, now: DateTime<Utc>) -> Vec<PointsEvent> {
        let Some(customer) = self.customer else { return vec![] };
        let mut due: Vec<(&String, &Lot)> = self.lots.iter().filter(|(_, l)| l.remaining > 0 && l.expires_at <= now).collect();
        due.sort_by(|a, b| (a.1.expires_at, a.0).cmp(&(b.1.expires_at, b.0)));
        let mut balance = self.balance;
        due.into_iter()
            .map(|(reference, lot)| {
                balance -= lot.remaining;
                PointsEvent::PointsExpired {
                    customer,
                    reference: reference.clone(),
                    points: lot.remaining,
                    balance_after: balance,
                    at: lot.expires_at,
                }
            })
            .collect()
    }

    /// Lots that expire soonest first, after the given expiries.
    fn take(&self, points: u64, expired: &BTreeSet<String>) -> Vec<LotTake> {
        let mut lots: Vec<(&String, &Lot)> = self.lots.iter().filter(|(r, l)| l.remaining > 0 && !expired.contains(*r)).collect();
        lots.sort_by(|a, b| (a.1.expires_at, a.0).cmp(&(b.1.expires_at, b.0)));
        let mut left = points;
        let mut taken = Vec::new();
        for (reference, lot) in lots {
            if left == 0 {
                break;
            }
            let n = lot.remaining.min(left);
            left -= n;
            taken.push(LotTake {
                reference: reference.clone(),
                points: n,
            });
        }
        taken
    }
}

impl Aggregate for PointsAccount {
    const TYPE: &'static str = "PointsAccount";
    type Command = PointsCommand;
    type Event = PointsEvent;
    type Error = PointsError;
    type Services = ();

    async fn handle(&mut self, command: Self::Command, _: &(), sink: &EventSink<Self>) -> Result<(), Self::Error> {
        use PointsCommand as C;
        use PointsEvent as E;
        let events = match command {
            C::Earn {
                customer,
                points,
                reason,
                reference,
                expires_at,
                by,
                at,
            } => {
                self.check_customer(customer)?;
                match &reason {
                    PointsReason::SpecialEvent { name, .. } | PointsReason::Grant { note: name, .. } => {
                        by.require(Permission::ManagePoints)?;
                        if name.trim().is_empty() {
                            return Err(PointsError::NameRequired);
                        }
                    }
                    _ => {}
                }
                if points == 0 {
                    return Err(PointsError::ZeroPoints);
                }
                if self.lots.contains_key(&reference) {
                    return Ok(());
                }
                vec![E::PointsEarned {
                    customer,
                    points,
                    reason,
                    reference,
                    expires_at,
                    balance_after: self.balance.saturating_add(points),
                    at,
                }]
            }
            C::Redeem {
                customer,
                redemption_id,
                reward,
                rules,
                by,
                at,
            } => {
                self.check_customer(customer)?;
                if by.customer_id() != Some(customer) && !by.has(Permission::ManagePoints) {
                    return Err(PointsError::NotYours);
                }
                let cost = rules.cost(&reward)?;
                if let Some(r) = self.redemptions.get(&redemption_id) {
                    if r.reward == reward && r.points == cost {
                        return Ok(());
                    }
                    return Err(PointsError::RedemptionExists);
                }
                let mut events = self.expiries(at);
                let expired: BTreeSet<String> = events
                    .iter()
                    .filter_map(|e| match e {
                        E::PointsExpired { reference, .. } => Some(reference.clone()),
                        _ => None,
                    })
                    .collect();
                let balance = events.last().map_or(self.balance, |e| e.movement().1);
                if balance < cost {
                    return Err(PointsError::InsufficientPoints { balance, requested: cost });
                }
                events.push(E::PointsRedeemed {
                    customer,
                    redemption_id,
                    points: cost,
                    reward,
                    taken: self.take(cost, &expired),
                    balance_after: balance - cost,
                    at,
                });
                events
            }
            C::CancelRedemption { redemption_id, reason, at } => {
                let customer = self.customer.ok_or(PointsError::NoSuchRedemption)?;
                let r = self.redemptions.get(&redemption_id).ok_or(PointsError::NoSuchRedemption)?;
                if r.cancelled {
                    return Ok(());
                }
                vec![E::PointsRedemptionCancelled {
                    customer,
                    redemption_id,
                    points: r.points,
                    restored: r.taken.clone(),
                    reason,
                    balance_after: self.balance.saturating_add(r.points),
                    at,
                }]
            }
            C::ExpireDue { now } => self.expiries(now),
            C::ClawBack {
                subscription_id,
                refund,
                paid,
                at,
            } => {
                let Some(customer) = self.customer else { return Ok(()) };
                if refund.is_zero() || self.clawed_back.contains(&subscription_id) {
                    return Ok(());
                }
                let mut taken = Vec::new();
                for (reference, lot) in &self.lots {
                    if lot.subscription != Some(subscription_id) {
                        continue;
                    }
                    let share = if refund >= paid || paid.is_zero() {
                        lot.points
                    } else {
                        (Decimal::from(lot.points) * refund.value() / paid.value())
                            .floor()
                            .to_u64()
                            .unwrap_or(0)
                    };
                    let n = share.min(lot.remaining);
                    if n > 0 {
                        taken.push(LotTake {
                            reference: reference.clone(),
                            points: n,
                        });
                    }
                }
                let points: u64 = taken.iter().map(|t| t.points).sum();
                if points == 0 {
                    return Ok(());
                }
                vec![E::PointsClawedBack {
                    customer,
                    subscription_id,
                    points,
                    taken,
                    refund,
                    paid,
                    balance_after: self.balance - points,
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
        self.customer = Some(event.customer());
        self.balance = event.movement().1;
        match event {
            PointsEvent::PointsEarned {
                points,
                reason,
                reference,
                expires_at,
                ..
            } => {
                let subscription = match reason {
                    PointsReason::Purchase { subscription_id, .. } => Some(subscription_id),
                    _ => None,
                };
                self.lots.insert(
                    reference,
                    Lot {
                        points,
                        remaining: points,
                        expires_at,
                        subscription,
                    },
                );
            }
            PointsEvent::PointsRedeemed {
                redemption_id,
                points,
                reward,
                taken,
                ..
            } => {
                for t in &taken {
                    if let Some(l) = self.lots.get_mut(&t.reference) {
                        l.remaining = l.remaining.saturating_sub(t.points);
                    }
                }
                self.redemptions.insert(
                    redemption_id,
                    RedemptionState {
                        points,
                        reward,
                        taken,
                        cancelled: false,
                    },
                );
            }
            PointsEvent::PointsRedemptionCancelled {
                redemption_id, restored, ..
            } => {
                for t in &restored {
                    if let Some(l) = self.lots.get_mut(&t.reference) {
                        l.remaining += t.points;
                    }
                }
                if let Some(r) = self.redemptions.get_mut(&redemption_id) {
                    r.cancelled = true;
                }
            }
            PointsEvent::PointsExpired { reference, points, .. } => {
                if let Some(l) = self.lots.get_mut(&reference) {
                    l.remaining = l.remaining.saturating_sub(points);
                }
            }
            PointsEvent::PointsClawedBack {
                subscription_id, taken, ..
            } => {
                self.clawed_back.insert(subscription_id);
                for t in &taken {
                    if let Some(l) = self.lots.get_mut(&t.reference) {
                        l.remaining = l.remaining.saturating_sub(t.points);
                    }
                }
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

    type Given = TestFramework<PointsAccount>;
    const ALI: CustomerId = CustomerId(9);
    const SUB: Uuid = Uuid::from_u128(4);

    fn earned(reference: &str, points: u64, expires_in_days: i64, balance_after: u64) -> PointsEvent {
        PointsEvent::PointsEarned {
            customer: ALI,
            points,
            reason: PointsReason::Purchase {
                subscription_id: SUB,
                charge_no: 1,
                spent: toman(150_000),
            },
            reference: reference.into(),
            expires_at: t0() + Duration::days(expires_in_days),
            balance_after,
            at: t0(),
        }
    }
    fn redeem(reward: Reward, at: DateTime<Utc>) -> PointsCommand {
        PointsCommand::Redeem {
            customer: ALI,
            redemption_id: Uuid::from_u128(1),
            reward,
            rules: PointsRules::default(),
            by: Actor::user(ALI, []),
            at,
        }
    }

    #[test]
    fn purchase_points_are_rounded_down_and_rewards_have_costs() {
        let rules = PointsRules::default();
        assert_eq!(rules.purchase_points(toman(150_999)), 150);
        assert_eq!(rules.purchase_points(Toman::new(dec!(999.9)).unwrap()), 0);
        assert_eq!(rules.cost(&Reward::Discount { value: toman(20_005) }).unwrap(), 2_001);
        assert_eq!(
            rules
                .cost(&Reward::ExtraDays {
                    subscription_id: SUB,
                    days: 3
                })
                .unwrap(),
            60
        );
        assert_eq!(
            rules.cost(&Reward::Traffic {
                subscription_id: SUB,
                gb: 0
            }),
            Err(PointsError::InvalidReward)
        );
    }

    #[test]
    fn an_award_is_given_once_per_reference() {
        Given::with(())
            .given(vec![earned("purchase:a", 150, 365, 150)])
            .when(PointsCommand::Earn {
                customer: ALI,
                points: 150,
                reason: PointsReason::Purchase {
                    subscription_id: SUB,
                    charge_no: 1,
                    spent: toman(150_000),
                },
                reference: "purchase:a".into(),
                expires_at: t0(),
                by: Actor::System,
                at: t0(),
            })
            .then_expect_events(vec![]);
    }

    #[test]
    fn special_events_and_grants_need_the_points_admin() {
        Given::with(())
            .given_no_previous_events()
            .when(PointsCommand::Earn {
                customer: ALI,
                points: 100,
                reason: PointsReason::SpecialEvent {
                    name: "Nowruz".into(),
                    by: ActorRef::User(ALI),
                },
                reference: "event:nowruz".into(),
                expires_at: t0(),
                by: Actor::user(ALI, [Permission::Sell]),
                at: t0(),
            })
            .then_expect_error(PointsError::Denied(PermissionDenied(Permission::ManagePoints)));
    }

    #[test]
    fn a_redemption_takes_from_the_lots_expiring_first() {
        Given::with(())
            .given(vec![earned("late", 100, 300, 100), earned("soon", 50, 10, 150)])
            .when(redeem(
                Reward::Traffic {
                    subscription_id: SUB,
                    gb: 8,
                },
                t0(),
            ))
            .then_expect_events(vec![PointsEvent::PointsRedeemed {
                customer: ALI,
                redemption_id: Uuid::from_u128(1),
                points: 80,
                reward: Reward::Traffic {
                    subscription_id: SUB,
                    gb: 8,
                },
                taken: vec![
                    LotTake {
                        reference: "soon".into(),
                        points: 50,
                    },
                    LotTake {
                        reference: "late".into(),
                        points: 30,
                    },
                ],
                balance_after: 70,
                at: t0(),
            }]);
    }

    #[test]
    fn expired_points_cannot_be_spent_and_expire_at_their_instant() {
        let later = t0() + Duration::days(20);
        Given::with(())
            .given(vec![earned("late", 100, 300, 100), earned("soon", 50, 10, 150)])
            .when(redeem(
                Reward::Traffic {
                    subscription_id: SUB,
                    gb: 11,
                },
                later,
            ))
            .then_expect_error(PointsError::InsufficientPoints {
                balance: 100,
                requested: 110,
            });
        Given::with(())
            .given(vec![earned("late", 100, 300, 100), earned("soon", 50, 10, 150)])
            .when(PointsCommand::ExpireDue { now: later })
            .then_expect_events(vec![PointsEvent::PointsExpired {
                customer: ALI,
                reference: "soon".into(),
                points: 50,
                balance_after: 100,
                at: t0() + Duration::days(10),
            }]);
    }

    #[test]
    fn a_lot_expires_once() {
        Given::with(())
            .given(vec![
                earned("soon", 50, 10, 50),
                PointsEvent::PointsExpired {
                    customer: ALI,
                    reference: "soon".into(),
                    points: 50,
                    balance_after: 0,
                    at: t0() + Duration::days(10),
                },
            ])
            .when(PointsCommand::ExpireDue {
                now: t0() + Duration::days(40),
            })
            .then_expect_events(vec![]);
    }

    #[test]
    fn nobody_redeems_another_customers_points() {
        Given::with(())
            .given(vec![earned("a", 10_000, 300, 10_000)])
            .when(PointsCommand::Redeem {
                customer: ALI,
                redemption_id: Uuid::from_u128(1),
                reward: Reward::Vip,
                rules: PointsRules::default(),
                by: Actor::user(CustomerId(10), []),
                at: t0(),
            })
            .then_expect_error(PointsError::NotYours);
    }

    #[test]
    fn a_cancelled_redemption_gives_the_points_back_to_their_lots() {
        let redeemed = PointsEvent::PointsRedeemed {
            customer: ALI,
            redemption_id: Uuid::from_u128(1),
            points: 60,
            reward: Reward::ExtraDays {
                subscription_id: SUB,
                days: 3,
            },
            taken: vec![LotTake {
                reference: "a".into(),
                points: 60,
            }],
            balance_after: 40,
            at: t0(),
        };
        Given::with(())
            .given(vec![earned("a", 100, 300, 100), redeemed])
            .when(PointsCommand::CancelRedemption {
                redemption_id: Uuid::from_u128(1),
                reason: "subscription cancelled".into(),
                at: t0(),
            })
            .then_expect_events(vec![PointsEvent::PointsRedemptionCancelled {
                customer: ALI,
                redemption_id: Uuid::from_u128(1),
                points: 60,
                restored: vec![LotTake {
                    reference: "a".into(),
                    points: 60,
                }],
                reason: "subscription cancelled".into(),
                balance_after: 100,
                at: t0(),
            }]);
    }

    #[test]
    fn a_refund_claws_back_its_share_of_purchase_points_but_never_below_zero() {
        // 150 earned, 100 already spent: a full refund takes back the 50 left.
        let spent = PointsEvent::PointsRedeemed {
            customer: ALI,
            redemption_id: Uuid::from_u128(1),
            points: 100,
            reward: Reward::Traffic {
                subscription_id: SUB,
                gb: 10,
            },
            taken: vec![LotTake {
                reference: "purchase:a".into(),
                points: 100,
            }],
            balance_after: 50,
            at: t0(),
        };
        Given::with(())
            .given(vec![earned("purchase:a", 150, 365, 150), spent])
            .when(PointsCommand::ClawBack {
                subscription_id: SUB,
                refund: toman(150_000),
                paid: toman(150_000),
                at: t0(),
            })
            .then_expect_events(vec![PointsEvent::PointsClawedBack {
                customer: ALI,
                subscription_id: SUB,
                points: 50,
                taken: vec![LotTake {
                    reference: "purchase:a".into(),
                    points: 50,
                }],
                refund: toman(150_000),
                paid: toman(150_000),
                balance_after: 0,
                at: t0(),
            }]);
        Given::with(())
            .given(vec![earned("purchase:a", 150, 365, 150)])
            .when(PointsCommand::ClawBack {
                subscription_id: SUB,
                refund: toman(50_000),
                paid: toman(150_000),
                at: t0(),
            })
            .then_expect_events(vec![PointsEvent::PointsClawedBack {
                customer: ALI,
                subscription_id: SUB,
                points: 50,
                taken: vec![LotTake {
                    reference: "purchase:a".into(),
                    points: 50,
                }],
                refund: toman(50_000),
                paid: toman(150_000),
                balance_after: 100,
                at: t0(),
            }]);
    }

    #[test]
    fn rules_need_the_points_admin_and_sane_values() {
        TestFramework::<PointsPolicy>::with(())
            .given_no_previous_events()
            .when(PointsPolicyCommand::SetRules {
                rules: PointsRules::default(),
                by: Actor::user(ALI, [Permission::ManagePlans]),
                at: t0(),
            })
            .then_expect_error(PointsError::Denied(PermissionDenied(Permission::ManagePoints)));
        TestFramework::<PointsPolicy>::with(())
            .given_no_previous_events()
            .when(PointsPolicyCommand::SetRules {
                rules: PointsRules {
                    expiry_days: 0,
                    ..PointsRules::default()
                },
                by: Actor::System,
                at: t0(),
            })
            .then_expect_error(PointsError::InvalidRules);
    }
}
