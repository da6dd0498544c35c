//! The sales book of one subscription (aggregate id = the subscription id):
//! each settled charge recorded as a sale with what reports group it by —
//! plan, location, kind and the seller it is attributed to — and the refund
//! when the subscription is cancelled. Written by the commerce consumer from
//! `ChargeSettled` and `SubscriptionCancelled`, once each.
//!
//! Attribution is decided here: a sale belongs to the buyer's referrer when
//! the referrer holds the seller role at the moment of the sale (an account
//! the seller created has the seller as its referrer), and never to anyone
//! when the buyer is a seller themselves (an agent buying at their own price).
use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use cqrs_es::event_sink::EventSink;
use cqrs_es::{Aggregate, DomainEvent};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::money::Toman;
use crate::values::{CustomerId, Location};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AttributionSource {
    /// The buyer came through the seller's referral link.
    Referral,
    /// The seller registered the buyer's account.
    CreatedAccount,
}

impl AttributionSource {
    pub fn name(self) -> &'static str {
        match self {
            AttributionSource::Referral => "referral",
            AttributionSource::CreatedAccount => "created_account",
        }
    }
}

/// What the commands crate knows about the buyer and their referrer at the sale.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BuyerFacts {
    pub referrer: Option<CustomerId>,
    /// The referrer holds the seller role and is not blocked.
    pub referrer_is_seller: bool,
    /// The referrer registered the buyer's account (a `SellerClientCreated` event).
    pub created_by_referrer: bool,
    /// The buyer holds the seller role themselves.
    pub buyer_is_seller: bool,
}

impl BuyerFacts {
    pub fn attribution(&self) -> Option<(CustomerId, AttributionSource)> {
        let referrer = self.referrer?;
        if self.buyer_is_seller || !self.referrer_is_seller {
            return None;
        }
        let source = if self.created_by_referrer {
            AttributionSource::CreatedAccount
        } else {
            AttributionSource::Referral
        };
        Some((referrer, source))
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SaleLine {
    pub subscription_id: Uuid,
    pub charge_no: u32,
    /// `purchase`, `renewal` or `traffic`.
    pub kind: String,
    pub customer: CustomerId,
    pub plan_id: Uuid,
    pub plan_name: String,
    pub location: Location,
    pub amount: Toman,
    pub at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum SaleCommand {
    RecordSale { line: SaleLine, buyer: BuyerFacts },
    RecordRefund { refund: Toman, at: DateTime<Utc> },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum SaleEvent {
    SaleRecorded {
        subscription_id: Uuid,
        charge_no: u32,
        kind: String,
        customer: CustomerId,
        plan_id: Uuid,
        plan_name: String,
        location: Location,
        amount: Toman,
        seller: Option<CustomerId>,
        source: Option<AttributionSource>,
        at: DateTime<Utc>,
    },
    SaleRefunded {
        subscription_id: Uuid,
        customer: CustomerId,
        plan_id: Uuid,
        plan_name: String,
        location: Location,
        /// The seller of the subscription's first sale.
        seller: Option<CustomerId>,
        refund: Toman,
        /// What the recorded sales of this subscription add up to.
        paid: Toman,
        at: DateTime<Utc>,
    },
}

impl DomainEvent for SaleEvent {
    fn event_type(&self) -> String {
        match self {
            SaleEvent::SaleRecorded { .. } => "SaleRecorded",
            SaleEvent::SaleRefunded { .. } => "SaleRefunded",
        }
        .to_string()
    }
    fn event_version(&self) -> String {
        "1.0".to_string()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SaleError {
    #[error("a sale for subscription {expected} cannot be recorded in the book of {got}")]
    WrongSubscription { expected: Uuid, got: Uuid },
    #[error("nothing was sold on this subscription")]
    NoSales,
    #[error("the sales total is too large")]
    Overflow,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecordedSale {
    pub amount: Toman,
    pub seller: Option<CustomerId>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SaleBook {
    pub subscription_id: Option<Uuid>,
    pub customer: Option<CustomerId>,
    pub plan: Option<(Uuid, String)>,
    pub location: Option<Location>,
    pub sales: BTreeMap<u32, RecordedSale>,
    pub paid: Toman,
    pub refunded: Option<Toman>,
}

impl Aggregate for SaleBook {
    const TYPE: &'static str = "SaleBook";
    type Command = SaleCommand;
    type Event = SaleEvent;
    type Error = SaleError;
    type Services = ();

    async fn handle(&mut self, command: Self::Command, _: &(), sink: &EventSink<Self>) -> Result<(), Self::Error> {
        let event = match command {
            SaleCommand::RecordSale { line, buyer } => {
                if let Some(expected) = self.subscription_id.filter(|s| *s != line.subscription_id) {
                    return Err(SaleError::WrongSubscription {
                        expected,
                        got: line.subscription_id,
                    });
                }
                if self.sales.contains_key(&line.charge_no) {
                    return Ok(());
                }
                self.paid.checked_add(line.amount).ok_or(SaleError::Overflow)?;
                let attribution = buyer.attribution();
                SaleEvent::SaleRecorded {
                    subscription_id: line.subscription_id,
                    charge_no: line.charge_no,
                    kind: line.kind,
                    customer: line.customer,
                    plan_id: line.plan_id,
                    plan_name: line.plan_name,
                    location: line.location,
                    amount: line.amount,
                    seller: attribution.map(|a| a.0),
                    source: attribution.map(|a| a.1),
                    at: line.at,
                }
            }
            SaleCommand::RecordRefund { refund, at } => {
                if self.refunded.is_some() || refund.is_zero() {
                    return Ok(());
                }
                let (Some(subscription_id), Some(customer), Some((plan_id, plan_name)), Some(location)) =
                    (self.subscription_id, self.customer, self.plan.clone(), self.location.clone())
                else {
                    return Err(SaleError::NoSales);
                };
                SaleEvent::SaleRefunded {
                    subscription_id,
                    customer,
                    plan_id,
                    plan_name,
                    location,
                    seller: self.sales.values().next().and_then(|s| s.seller),
                    refund,
                    paid: self.paid,
                    at,
                }
            }
        };
        sink.write(event, self).await;
        Ok(())
    }

    fn apply(&mut self, event: Self::Event) {
        match event {
            SaleEvent::SaleRecorded {
                subscription_id,
                charge_no,
                customer,
                plan_id,
                plan_name,
                location,
                amount,
                seller,
                ..
            } => {
                self.subscription_id = Some(subscription_id);
                self.customer = Some(customer);
                self.plan = Some((plan_id, plan_name));
                self.location = Some(location);
                self.paid = self.paid.checked_add(amount).unwrap_or(self.paid);
                self.sales.insert(charge_no, RecordedSale { amount, seller });
            }
            SaleEvent::SaleRefunded { refund, .. } => self.refunded = Some(refund),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::{loc, t0, toman};
    use cqrs_es::test::TestFramework;

    type Given = TestFramework<SaleBook>;
    const SUB: Uuid = Uuid::from_u128(3);
    const BUYER: CustomerId = CustomerId(10);
    const SELLER: CustomerId = CustomerId(20);

    fn line(charge_no: u32) -> SaleLine {
        SaleLine {
            subscription_id: SUB,
            charge_no,
            kind: "purchase".into(),
            customer: BUYER,
            plan_id: Uuid::nil(),
            plan_name: "Monthly".into(),
            location: loc("France"),
            amount: toman(100_000),
            at: t0(),
        }
    }
    fn facts(referrer_is_seller: bool, created: bool, buyer_is_seller: bool) -> BuyerFacts {
        BuyerFacts {
            referrer: Some(SELLER),
            referrer_is_seller,
            created_by_referrer: created,
            buyer_is_seller,
        }
    }
    fn recorded(seller: Option<CustomerId>, source: Option<AttributionSource>) -> SaleEvent {
        SaleEvent::SaleRecorded {
            subscription_id: SUB,
            charge_no: 1,
            kind: "purchase".into(),
            customer: BUYER,
            plan_id: Uuid::nil(),
            plan_name: "Monthly".into(),
            location: loc("France"),
            amount: toman(100_000),
            seller,
            source,
            at: t0(),
        }
    }

    #[test]
    fn a_sale_is_attributed_to_a_referrer_holding_the_seller_role() {
        Given::with(())
            .given_no_previous_events()
            .when(SaleCommand::RecordSale {
                line: line(1),
                buyer: facts(true, false, false),
            })
            .then_expect_events(vec![recorded(Some(SELLER), Some(AttributionSource::Referral))]);
        Given::with(())
            .given_no_previous_events()
            .when(SaleCommand::RecordSale {
                line: line(1),
                buyer: facts(true, true, false),
            })
            .then_expect_events(vec![recorded(Some(SELLER), Some(AttributionSource::CreatedAccount))]);
    }

    #[test]
    fn a_referrer_without_the_role_or_a_buying_agent_gets_no_attribution() {
        Given::with(())
            .given_no_previous_events()
            .when(SaleCommand::RecordSale {
                line: line(1),
                buyer: facts(false, false, false),
            })
            .then_expect_events(vec![recorded(None, None)]);
        Given::with(())
            .given_no_previous_events()
            .when(SaleCommand::RecordSale {
                line: line(1),
                buyer: facts(true, true, true),
            })
            .then_expect_events(vec![recorded(None, None)]);
    }

    #[test]
    fn a_sale_and_a_refund_are_recorded_once() {
        Given::with(())
            .given(vec![recorded(None, None)])
            .when(SaleCommand::RecordSale {
                line: line(1),
                buyer: facts(true, false, false),
            })
            .then_expect_events(vec![]);
        let refunded = SaleEvent::SaleRefunded {
            subscription_id: SUB,
            customer: BUYER,
            plan_id: Uuid::nil(),
            plan_name: "Monthly".into(),
            location: loc("France"),
            seller: Some(SELLER),
            refund: toman(40_000),
            paid: toman(100_000),
            at: t0(),
        };
        Given::with(())
            .given(vec![recorded(Some(SELLER), Some(AttributionSource::Referral))])
            .when(SaleCommand::RecordRefund {
                refund: toman(40_000),
                at: t0(),
            })
            .then_expect_events(vec![refunded.clone()]);
        Given::with(())
            .given(vec![recorded(Some(SELLER), Some(AttributionSource::Referral)), refunded])
            .when(SaleCommand::RecordRefund {
                refund: toman(40_000),
                at: t0(),
            })
            .then_expect_events(vec![]);
    }

    #[test]
    fn a_refund_needs_a_recorded_sale() {
        Given::with(())
            .given_no_previous_events()
            .when(SaleCommand::RecordRefund {
                refund: toman(1),
                at: t0(),
            })
            .then_expect_error(SaleError::NoSales);
    }
}
