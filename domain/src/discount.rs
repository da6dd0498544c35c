//! Discount codes (aggregate id = the code, upper case).
//!
//! A code takes a percent or a fixed amount off a plan's price, inside a
//! validity window, optionally only for some plans, locations or one
//! customer, and with limits on its uses in total and per customer. Every
//! use is a `DiscountCodeRedeemed` event keyed by the subscription it paid
//! for, so the aggregate's optimistic concurrency makes the limits hold when
//! many customers race for the last use. A use whose purchase failed is
//! given back (`DiscountRedemptionReleased`).
use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use cqrs_es::event_sink::EventSink;
use cqrs_es::{Aggregate, DomainEvent};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::access::{Actor, ActorRef, Permission, PermissionDenied};
use crate::commission::round_to_rial;
use crate::money::{MoneyError, Toman};
use crate::values::{CustomerId, Location};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum DiscountKind {
    /// 0 < percent < 100, at most two decimals.
    Percent {
        percent: Decimal,
    },
    Fixed {
        amount: Toman,
    },
}

impl DiscountKind {
    /// Parses `20%` or a Toman amount.
    pub fn parse(s: &str) -> Result<DiscountKind, DiscountError> {
        let s = s.trim();
        if let Some(p) = s.strip_suffix('%') {
            let percent = p.trim().parse::<Decimal>().map_err(|_| DiscountError::InvalidValue)?;
            Ok(DiscountKind::Percent { percent })
        } else {
            Ok(DiscountKind::Fixed { amount: s.parse()? })
        }
    }
}

impl std::fmt::Display for DiscountKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DiscountKind::Percent { percent } => write!(f, "{}%", percent.normalize()),
            DiscountKind::Fixed { amount } => write!(f, "{amount} Toman"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DiscountTerms {
    pub kind: DiscountKind,
    pub max_uses: Option<u32>,
    pub max_uses_per_customer: Option<u32>,
    pub valid_from: DateTime<Utc>,
    pub valid_until: Option<DateTime<Utc>>,
    /// Empty: every plan.
    pub plans: Vec<Uuid>,
    /// Empty: every location.
    pub locations: Vec<Location>,
    /// A personal code (e.g. bought with points) only this customer can use.
    pub only_customer: Option<CustomerId>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum DiscountCommand {
    CreateCode {
        code: String,
        terms: DiscountTerms,
        by: Actor,
        at: DateTime<Utc>,
    },
    DisableCode {
        by: Actor,
        at: DateTime<Utc>,
    },
    /// Uses the code for `subscription_id`. Repeating it for the same
    /// subscription records nothing (the first use stands).
    Redeem {
        subscription_id: Uuid,
        customer: CustomerId,
        plan_id: Uuid,
        location: Location,
        price: Toman,
        at: DateTime<Utc>,
    },
    /// The purchase this use paid for failed: the use is given back.
    Release {
        subscription_id: Uuid,
        reason: String,
        at: DateTime<Utc>,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum DiscountEvent {
    DiscountCodeCreated {
        code: String,
        terms: DiscountTerms,
        by: ActorRef,
        at: DateTime<Utc>,
    },
    DiscountCodeDisabled {
        code: String,
        by: ActorRef,
        at: DateTime<Utc>,
    },
    DiscountCodeRedeemed {
        code: String,
        subscription_id: Uuid,
        customer: CustomerId,
        plan_id: Uuid,
        location: Location,
        price: Toman,
        discount: Toman,
        final_price: Toman,
        /// Uses counted after this one.
        uses: u32,
        at: DateTime<Utc>,
    },
    DiscountRedemptionReleased {
        code: String,
        subscription_id: Uuid,
        customer: CustomerId,
        discount: Toman,
        reason: String,
        uses: u32,
        at: DateTime<Utc>,
    },
}

impl DomainEvent for DiscountEvent {
    fn event_type(&self) -> String {
        match self {
            DiscountEvent::DiscountCodeCreated { .. } => "DiscountCodeCreated",
            DiscountEvent::DiscountCodeDisabled { .. } => "DiscountCodeDisabled",
            DiscountEvent::DiscountCodeRedeemed { .. } => "DiscountCodeRedeemed",
            DiscountEvent::DiscountRedemptionReleased { .. } => "DiscountRedemptionReleased",
        }
        .to_string()
    }
    fn event_version(&self) -> String {
        "1.0".to_string()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DiscountError {
    #[error("a code is 3 to 32 letters, digits, `-` or `_`")]
    InvalidCode,
    #[error("this code already exists")]
    AlreadyExists,
    #[error("no such discount code")]
    NotFound,
    #[error("a discount is a percent above 0 and below 100 (two decimals), or an amount above zero")]
    InvalidValue,
    #[error("usage limits must be at least 1")]
    InvalidLimit,
    #[error("the validity window ends before it starts")]
    InvalidWindow,
    #[error("this code is disabled")]
    Disabled,
    #[error("this code is not valid yet")]
    NotYetValid,
    #[error("this code has expired")]
    Expired,
    #[error("this code is not valid for this plan")]
    WrongPlan,
    #[error("this code is not valid in {0}")]
    WrongLocation(Location),
    #[error("this code belongs to another customer")]
    NotYours,
    #[error("this code has been used up")]
    UsedUp,
    #[error("you have already used this code {0} time(s), its limit per customer")]
    CustomerLimitReached(u32),
    #[error("the discount would make the plan free")]
    DiscountExceedsPrice,
    #[error("invalid amount: {0}")]
    Amount(#[from] MoneyError),
    #[error(transparent)]
    Denied(#[from] PermissionDenied),
}

/// Upper case, trimmed; 3 to 32 of `A-Z 0-9 - _`.
pub fn normalize_code(code: &str) -> Result<String, DiscountError> {
    let c = code.trim().to_ascii_uppercase();
    let ok = (3..=32).contains(&c.len()) && c.chars().all(|ch| ch.is_ascii_alphanumeric() || ch == '-' || ch == '_');
    if ok {
        Ok(c)
    } else {
        Err(DiscountError::InvalidCode)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Redemption {
    pub customer: CustomerId,
    pub discount: Toman,
    pub final_price: Toman,
    pub released: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DiscountCode {
    pub code: Option<String>,
    pub terms: Option<DiscountTerms>,
    pub disabled: bool,
    pub uses: u32,
    pub uses_by: BTreeMap<CustomerId, u32>,
    pub redemptions: BTreeMap<Uuid, Redemption>,
}

impl DiscountTerms {
    fn validate(&self) -> Result<(), DiscountError> {
        match self.kind {
            DiscountKind::Percent { percent } => {
                if percent <= Decimal::ZERO || percent >= Decimal::ONE_HUNDRED || percent.normalize().scale() > 2 {
                    return Err(DiscountError::InvalidValue);
                }
            }
            DiscountKind::Fixed { amount } => {
                if amount.is_zero() {
                    return Err(DiscountError::InvalidValue);
                }
            }
        }
        if self.max_uses == Some(0) || self.max_uses_per_customer == Some(0) {
            return Err(DiscountError::InvalidLimit);
        }
        if self.valid_until.is_some_and(|u| u <= self.valid_from) {
            return Err(DiscountError::InvalidWindow);
        }
        Ok(())
    }

    /// The discount on `price`, rounded down to the rial; the price must stay above zero.
    pub fn discount_on(&self, price: Toman) -> Result<Toman, DiscountError> {
        let discount = match self.kind {
            DiscountKind::Percent { percent } => Toman::new(round_to_rial(price.value() * percent / Decimal::ONE_HUNDRED))?,
            DiscountKind::Fixed { amount } => amount,
        };
        if discount >= price {
            return Err(DiscountError::DiscountExceedsPrice);
        }
        Ok(discount)
    }
}

impl DiscountCode {
    /// Whether `customer` could use the code for this plan, location and price at `at`;
    /// returns the discount. The same checks `Redeem` makes.
    pub fn quote(
        &self,
        customer: CustomerId,
        plan_id: Uuid,
        location: &Location,
        price: Toman,
        at: DateTime<Utc>,
    ) -> Result<Toman, DiscountError> {
        let terms = self.terms.as_ref().ok_or(DiscountError::NotFound)?;
        if self.disabled {
            return Err(DiscountError::Disabled);
        }
        if at < terms.valid_from {
            return Err(DiscountError::NotYetValid);
        }
        if terms.valid_until.is_some_and(|u| at >= u) {
            return Err(DiscountError::Expired);
        }
        if terms.only_customer.is_some_and(|c| c != customer) {
            return Err(DiscountError::NotYours);
        }
        if !terms.plans.is_empty() && !terms.plans.contains(&plan_id) {
            return Err(DiscountError::WrongPlan);
        }
        if !terms.locations.is_empty() && !terms.locations.iter().any(|l| l.same_as(location)) {
            return Err(DiscountError::WrongLocation(location.clone()));
        }
        if terms.max_uses.is_some_and(|m| self.uses >= m) {
            return Err(DiscountError::UsedUp);
        }
        let used = self.uses_by.get(&customer).copied().unwrap_or(0);
        if let Some(m) = terms.max_uses_per_customer.filter(|m| used >= *m) {
            return Err(DiscountError::CustomerLimitReached(m));
        }
        terms.discount_on(price)
    }
}

impl Aggregate for DiscountCode {
    const TYPE: &'static str = "DiscountCode";
    type Command = DiscountCommand;
    type Event = DiscountEvent;
    type Error = DiscountError;
    type Services = ();

    async fn handle(&mut self, command: Self::Command, _: &(), sink: &EventSink<Self>) -> Result<(), Self::Error> {
        let event = match command {
            DiscountCommand::CreateCode { code, terms, by, at } => {
                // Personal codes bought with points are made by the system for the customer.
                if terms.only_customer.is_none() || by != Actor::System {
                    by.require(Permission::ManagePlans)?;
                }
                if self.code.is_some() {
                    return Err(DiscountError::AlreadyExists);
                }
                let code = normalize_code(&code)?;
                terms.validate()?;
                DiscountEvent::DiscountCodeCreated {
                    code,
                    terms,
                    by: by.reference(),
                    at,
                }
            }
            DiscountCommand::DisableCode { by, at } => {
                by.require(Permission::ManagePlans)?;
                let code = self.code.clone().ok_or(DiscountError::NotFound)?;
                if self.disabled {
                    return Err(DiscountError::Disabled);
                }
                DiscountEvent::DiscountCodeDisabled {
                    code,
                    by: by.reference(),
                    at,
                }
            }
            DiscountCommand::Redeem {
                subscription_id,
                customer,
                plan_id,
                location,
                price,
                at,
            } => {
                let code = self.code.clone().ok_or(DiscountError::NotFound)?;
                if self.redemptions.get(&subscription_id).is_some_and(|r| !r.released) {
                    return Ok(());
                }
                let discount = self.quote(customer, plan_id, &location, price, at)?;
                let final_price = price.checked_sub(discount).ok_or(DiscountError::DiscountExceedsPrice)?;
                DiscountEvent::DiscountCodeRedeemed {
                    code,
                    subscription_id,
                    customer,
                    plan_id,
                    location,
                    price,
                    discount,
                    final_price,
                    uses: self.uses + 1,
                    at,
                }
            }
            DiscountCommand::Release {
                subscription_id,
                reason,
                at,
            } => {
                let code = self.code.clone().ok_or(DiscountError::NotFound)?;
                let Some(r) = self.redemptions.get(&subscription_id).filter(|r| !r.released) else {
                    return Ok(());
                };
                DiscountEvent::DiscountRedemptionReleased {
                    code,
                    subscription_id,
                    customer: r.customer,
                    discount: r.discount,
                    reason,
                    uses: self.uses.saturating_sub(1),
                    at,
                }
            }
        };
        sink.write(event, self).await;
        Ok(())
    }

    fn apply(&mut self, event: Self::Event) {
        match event {
            DiscountEvent::DiscountCodeCreated { code, terms, .. } => {
                self.code = Some(code);
                self.terms = Some(terms);
            }
            DiscountEvent::DiscountCodeDisabled { .. } => self.disabled = true,
            DiscountEvent::DiscountCodeRedeemed {
                subscription_id,
                customer,
                discount,
                final_price,
                uses,
                ..
            } => {
                self.uses = uses;
                *self.uses_by.entry(customer).or_default() += 1;
                self.redemptions.insert(
                    subscription_id,
                    Redemption {
                        customer,
                        discount,
                        final_price,
                        released: false,
                    },
                );
            }
            DiscountEvent::DiscountRedemptionReleased {
                subscription_id,
                customer,
                uses,
                ..
            } => {
                self.uses = uses;
                if let Some(n) = self.uses_by.get_mut(&customer) {
                    *n = n.saturating_sub(1);
                }
                if let Some(r) = self.redemptions.get_mut(&subscription_id) {
                    r.released = true;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::{loc, t0, toman};
    use chrono::Duration;
    use cqrs_es::test::TestFramework;
    use rust_decimal_macros::dec;

    type Given = TestFramework<DiscountCode>;
    const ALI: CustomerId = CustomerId(5);
    const PLAN: Uuid = Uuid::from_u128(7);

    fn terms() -> DiscountTerms {
        DiscountTerms {
            kind: DiscountKind::Percent { percent: dec!(20) },
            max_uses: Some(2),
            max_uses_per_customer: Some(1),
            valid_from: t0(),
            valid_until: Some(t0() + Duration::days(10)),
            plans: vec![PLAN],
            locations: vec![loc("France")],
            only_customer: None,
        }
    }
    fn created(terms: DiscountTerms) -> DiscountEvent {
        DiscountEvent::DiscountCodeCreated {
            code: "NOWRUZ".into(),
            terms,
            by: ActorRef::System,
            at: t0(),
        }
    }
    fn redeem(sub: u128, customer: CustomerId, at: DateTime<Utc>) -> DiscountCommand {
        DiscountCommand::Redeem {
            subscription_id: Uuid::from_u128(sub),
            customer,
            plan_id: PLAN,
            location: loc("france"),
            price: toman(150_000),
            at,
        }
    }
    fn redeemed(sub: u128, customer: CustomerId, uses: u32) -> DiscountEvent {
        DiscountEvent::DiscountCodeRedeemed {
            code: "NOWRUZ".into(),
            subscription_id: Uuid::from_u128(sub),
            customer,
            plan_id: PLAN,
            location: loc("france"),
            price: toman(150_000),
            discount: toman(30_000),
            final_price: toman(120_000),
            uses,
            at: t0(),
        }
    }

    #[test]
    fn creating_a_code_needs_manage_plans_and_valid_terms() {
        Given::with(())
            .given_no_previous_events()
            .when(DiscountCommand::CreateCode {
                code: "nowruz".into(),
                terms: terms(),
                by: Actor::user(ALI, [Permission::Sell]),
                at: t0(),
            })
            .then_expect_error(DiscountError::Denied(PermissionDenied(Permission::ManagePlans)));
        Given::with(())
            .given_no_previous_events()
            .when(DiscountCommand::CreateCode {
                code: "nowruz".into(),
                terms: DiscountTerms {
                    kind: DiscountKind::Percent { percent: dec!(100) },
                    ..terms()
                },
                by: Actor::System,
                at: t0(),
            })
            .then_expect_error(DiscountError::InvalidValue);
        Given::with(())
            .given_no_previous_events()
            .when(DiscountCommand::CreateCode {
                code: " nowruz ".into(),
                terms: terms(),
                by: Actor::System,
                at: t0(),
            })
            .then_expect_events(vec![created(terms())]);
    }

    #[test]
    fn a_use_takes_the_discount_off_and_counts() {
        Given::with(())
            .given(vec![created(terms())])
            .when(redeem(1, ALI, t0()))
            .then_expect_events(vec![redeemed(1, ALI, 1)]);
    }

    #[test]
    fn the_validity_window_is_enforced() {
        Given::with(())
            .given(vec![created(terms())])
            .when(redeem(1, ALI, t0() - Duration::seconds(1)))
            .then_expect_error(DiscountError::NotYetValid);
        Given::with(())
            .given(vec![created(terms())])
            .when(redeem(1, ALI, t0() + Duration::days(10)))
            .then_expect_error(DiscountError::Expired);
    }

    #[test]
    fn plan_location_and_customer_restrictions_are_enforced() {
        Given::with(())
            .given(vec![created(terms())])
            .when(DiscountCommand::Redeem {
                subscription_id: Uuid::from_u128(1),
                customer: ALI,
                plan_id: Uuid::from_u128(8),
                location: loc("France"),
                price: toman(150_000),
                at: t0(),
            })
            .then_expect_error(DiscountError::WrongPlan);
        Given::with(())
            .given(vec![created(terms())])
            .when(DiscountCommand::Redeem {
                subscription_id: Uuid::from_u128(1),
                customer: ALI,
                plan_id: PLAN,
                location: loc("Germany"),
                price: toman(150_000),
                at: t0(),
            })
            .then_expect_error(DiscountError::WrongLocation(loc("Germany")));
        Given::with(())
            .given(vec![created(DiscountTerms {
                only_customer: Some(CustomerId(6)),
                ..terms()
            })])
            .when(redeem(1, ALI, t0()))
            .then_expect_error(DiscountError::NotYours);
    }

    #[test]
    fn total_and_per_customer_limits_are_enforced() {
        Given::with(())
            .given(vec![created(terms()), redeemed(1, ALI, 1)])
            .when(redeem(2, ALI, t0()))
            .then_expect_error(DiscountError::CustomerLimitReached(1));
        Given::with(())
            .given(vec![created(terms()), redeemed(1, ALI, 1), redeemed(2, CustomerId(6), 2)])
            .when(redeem(3, CustomerId(7), t0()))
            .then_expect_error(DiscountError::UsedUp);
    }

    #[test]
    fn a_released_use_can_be_used_again_and_a_repeat_is_idempotent() {
        Given::with(())
            .given(vec![created(terms()), redeemed(1, ALI, 1)])
            .when(redeem(1, ALI, t0()))
            .then_expect_events(vec![]);
        let released = DiscountEvent::DiscountRedemptionReleased {
            code: "NOWRUZ".into(),
            subscription_id: Uuid::from_u128(1),
            customer: ALI,
            discount: toman(30_000),
            reason: "insufficient balance".into(),
            uses: 0,
            at: t0(),
        };
        Given::with(())
            .given(vec![created(terms()), redeemed(1, ALI, 1)])
            .when(DiscountCommand::Release {
                subscription_id: Uuid::from_u128(1),
                reason: "insufficient balance".into(),
                at: t0(),
            })
            .then_expect_events(vec![released.clone()]);
        Given::with(())
            .given(vec![created(terms()), redeemed(1, ALI, 1), released])
            .when(redeem(2, ALI, t0()))
            .then_expect_events(vec![redeemed(2, ALI, 1)]);
    }

    #[test]
    fn a_fixed_discount_cannot_make_a_plan_free() {
        Given::with(())
            .given(vec![created(DiscountTerms {
                kind: DiscountKind::Fixed { amount: toman(150_000) },
                ..terms()
            })])
            .when(redeem(1, ALI, t0()))
            .then_expect_error(DiscountError::DiscountExceedsPrice);
    }
}
