//! The commerce reactions to sales and refunds (issue 6), run by their own
//! consumer in `workers` (`commerce`), never by the backbone's process manager:
//!
//! - `ChargeSettled` → the sale is recorded in its subscription's sale book
//!   with its plan, location and seller; the seller earns a commission; the
//!   buyer earns purchase points; the buyer's referrer earns referral points.
//! - `SubscriptionCancelled` with a refund → the refund is recorded, the
//!   commissions still inside their window are reversed in proportion, and
//!   the purchase points are clawed back in proportion.
//! - `ChargeFailed` of a first charge → a discount code's use is given back.
//! - `PointsRedeemed` → the reward is delivered (or the points given back).
//!
//! Every step is idempotent — a sale is recorded once per charge, a
//! commission earned once per charge, an award once per reference, a refund
//! applied once per subscription — so the consumer may run a step twice or
//! crash half-way. Facts that decide (the referrer's role, the rates, the
//! points rules) are read from the events *before the sale's position*, so a
//! replay decides exactly as the first run did.
use chrono::{DateTime, Utc};
use cqrs_es::Aggregate;
use domain::access::RoleName;
use domain::commission::{CommissionPolicy, SaleRef, SellerAccount, SellerCommand};
use domain::customer::{Customer, CustomerEvent};
use domain::discount::DiscountCode;
use domain::points::{PointsAccount, PointsCommand, PointsPolicy, PointsReason};
use domain::sale::{BuyerFacts, SaleBook, SaleCommand, SaleError, SaleLine};
use domain::subscription::{ChargeKind, Subscription, SubscriptionEvent};
use domain::{Actor, AnyEvent, CustomerId, Toman};
use eventstore::StoredEvent;
use sqlx::PgPool;
use uuid::Uuid;

use crate::{CommandError, Commands, Reaction, Store};

/// The event stores of the commerce aggregates.
#[derive(Clone)]
pub(crate) struct Stores {
    pub policy: Store<CommissionPolicy>,
    pub sellers: Store<SellerAccount>,
    pub sales: Store<SaleBook>,
    pub discounts: Store<DiscountCode>,
    pub points_policy: Store<PointsPolicy>,
    pub points: Store<PointsAccount>,
}

impl Stores {
    pub fn new(pool: &PgPool) -> Self {
        Stores {
            policy: Store::new(pool.clone()),
            sellers: Store::new(pool.clone()),
            sales: Store::new(pool.clone()),
            discounts: Store::new(pool.clone()),
            points_policy: Store::new(pool.clone()),
            points: Store::new(pool.clone()),
        }
    }
}

pub(crate) fn storage(e: impl std::fmt::Display) -> CommandError {
    CommandError::Storage(e.to_string())
}

impl Commands {
    /// An aggregate as its events up to (not including) global `position` make it.
    pub(crate) async fn state_before<A: Aggregate>(&self, id: &str, position: i64) -> Result<A, CommandError> {
        let events = eventstore::read_aggregate(&self.pool, A::TYPE, id).await.map_err(storage)?;
        let mut state = A::default();
        for e in events.into_iter().filter(|e| e.position < position) {
            let event: A::Event = serde_json::from_value(e.payload).map_err(storage)?;
            state.apply(event);
        }
        Ok(state)
    }

    /// The commerce step for `event`. Safe to call for any event, any number of times.
    pub async fn react_commerce(&self, event: &StoredEvent) -> Result<Reaction, CommandError> {
        let decoded = AnyEvent::decode(&event.aggregate_type, &event.payload).map_err(storage)?;
        let id = || Uuid::parse_str(&event.aggregate_id).map_err(storage);
        match decoded {
            AnyEvent::Subscription(SubscriptionEvent::ChargeSettled {
                customer,
                charge_no,
                kind,
                amount,
                at,
                ..
            }) => {
                self.record_sale(event.position, id()?, customer, charge_no, &kind, amount, at)
                    .await?;
            }
            AnyEvent::Subscription(SubscriptionEvent::SubscriptionCancelled { customer, refund, at, .. }) => {
                self.record_refund(id()?, customer, refund, at).await?;
            }
            AnyEvent::Subscription(SubscriptionEvent::ChargeFailed {
                charge_no: 1, reason, at, ..
            }) => {
                self.release_discount_for(id()?, reason, at).await?;
            }
            AnyEvent::Points(domain::points::PointsEvent::PointsRedeemed {
                customer,
                redemption_id,
                at,
                ..
            }) => {
                self.deliver_reward(customer, redemption_id, at).await?;
            }
            _ => return Ok(Reaction::Ignored),
        }
        Ok(Reaction::Completed)
    }

    /// Who the buyer and their referrer were just before the sale at `position`.
    async fn buyer_facts(&self, buyer: CustomerId, position: i64) -> Result<BuyerFacts, CommandError> {
        let events = eventstore::read_aggregate(&self.pool, Customer::TYPE, &buyer.to_string())
            .await
            .map_err(storage)?;
        let mut referrer = None;
        let mut me = Customer::default();
        for e in events.into_iter().filter(|e| e.position < position) {
            let event: CustomerEvent = serde_json::from_value(e.payload).map_err(storage)?;
            if let CustomerEvent::CustomerRegistered { referrer: r, .. } = &event {
                referrer = *r;
            }
            me.apply(event);
        }
        let buyer_is_seller = me.roles.contains(&RoleName::Seller);
        let Some(r) = referrer else {
            return Ok(BuyerFacts {
                referrer: None,
                referrer_is_seller: false,
                created_by_referrer: false,
                buyer_is_seller,
            });
        };
        let them: Customer = self.state_before(&r.to_string(), position).await?;
        let account: SellerAccount = self.state_before(&r.to_string(), position).await?;
        Ok(BuyerFacts {
            referrer: Some(r),
            referrer_is_seller: them.roles.contains(&RoleName::Seller) && !them.blocked,
            created_by_referrer: account.clients.contains(&buyer),
            buyer_is_seller,
        })
    }

    #[allow(clippy::too_many_arguments)]
    async fn record_sale(
        &self,
        position: i64,
        subscription: Uuid,
        customer: CustomerId,
        charge_no: u32,
        kind: &ChargeKind,
        amount: Toman,
        at: DateTime<Utc>,
    ) -> Result<(), CommandError> {
        // The subscription as it was when this charge settled (its location may move later).
        let sub: Subscription = self.state_before(&subscription.to_string(), position).await?;
        let plan = match kind {
            ChargeKind::Renewal { plan } => plan.clone(),
            _ => sub.plan.clone().ok_or(CommandError::NotFound("subscription"))?,
        };
        let location = sub.location.clone().ok_or(CommandError::NotFound("subscription"))?;
        let kind_name = match kind {
            ChargeKind::Purchase => "purchase",
            ChargeKind::Renewal { .. } => "renewal",
            ChargeKind::Traffic { .. } => "traffic",
        };
        let buyer = self.buyer_facts(customer, position).await?;
        self.commerce
            .sales
            .execute(
                &subscription.to_string(),
                SaleCommand::RecordSale {
                    line: SaleLine {
                        subscription_id: subscription,
                        charge_no,
                        kind: kind_name.to_string(),
                        customer,
                        plan_id: plan.plan_id,
                        plan_name: plan.name.clone(),
                        location,
                        amount,
                        at,
                    },
                    buyer: buyer.clone(),
                },
            )
            .await?;
        // The book decides attribution once; later steps read what it recorded.
        let book = self.commerce.sales.load(&subscription.to_string()).await?;
        let seller = book.sales.get(&charge_no).and_then(|s| s.seller);
        if let Some(seller) = seller {
            let policy: CommissionPolicy = self.state_before(CommissionPolicy::ID, position).await?;
            if let Some(rate) = policy.rate_for(plan.plan_id) {
                self.commerce
                    .sellers
                    .execute(
                        &seller.to_string(),
                        SellerCommand::EarnCommission {
                            seller,
                            sale: SaleRef {
                                subscription_id: subscription,
                                charge_no,
                                customer,
                                plan_id: plan.plan_id,
                                amount,
                                at,
                            },
                            rate,
                            refund_window_hours: policy.refund_window_hours,
                            at,
                        },
                    )
                    .await?;
            }
        }
        let rules = self.state_before::<PointsPolicy>(PointsPolicy::ID, position).await?.rules;
        let points = rules.purchase_points(amount);
        if points > 0 {
            let reason = PointsReason::Purchase {
                subscription_id: subscription,
                charge_no,
                spent: amount,
            };
            self.commerce
                .points
                .execute(
                    &customer.to_string(),
                    PointsCommand::Earn {
                        customer,
                        points,
                        reference: reason.reference(),
                        reason,
                        expires_at: rules.expiry_from(at),
                        by: Actor::System,
                        at,
                    },
                )
                .await?;
        }
        if let (Some(referrer), true) = (buyer.referrer, rules.referral_points > 0) {
            let reason = PointsReason::Referral { referred: customer };
            self.commerce
                .points
                .execute(
                    &referrer.to_string(),
                    PointsCommand::Earn {
                        customer: referrer,
                        points: rules.referral_points,
                        reference: reason.reference(),
                        reason,
                        expires_at: rules.expiry_from(at),
                        by: Actor::System,
                        at,
                    },
                )
                .await?;
        }
        Ok(())
    }

    async fn record_refund(&self, subscription: Uuid, customer: CustomerId, refund: Toman, at: DateTime<Utc>) -> Result<(), CommandError> {
        if refund.is_zero() {
            return Ok(());
        }
        match self
            .commerce
            .sales
            .execute(&subscription.to_string(), SaleCommand::RecordRefund { refund, at })
            .await
        {
            Ok(_) => {}
            Err(CommandError::Sale(SaleError::NoSales)) => return Ok(()),
            Err(e) => return Err(e),
        }
        let book = self.commerce.sales.load(&subscription.to_string()).await?;
        let paid = book.paid;
        let mut sellers: Vec<CustomerId> = book.sales.values().filter_map(|s| s.seller).collect();
        sellers.sort();
        sellers.dedup();
        for seller in sellers {
            self.commerce
                .sellers
                .execute(
                    &seller.to_string(),
                    SellerCommand::ReverseForRefund {
                        subscription_id: subscription,
                        refund,
                        paid,
                        at,
                    },
                )
                .await?;
        }
        self.commerce
            .points
            .execute(
                &customer.to_string(),
                PointsCommand::ClawBack {
                    subscription_id: subscription,
                    refund,
                    paid,
                    at,
                },
            )
            .await?;
        Ok(())
    }
}
