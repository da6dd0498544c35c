//! Discount codes and the price a customer pays: the list price, an agent's
//! own price, then a code. A code's use is an event on the code, made before
//! the order, keyed by the subscription it pays for; it is given back when
//! the order cannot be made or its first charge fails.
use chrono::{DateTime, Utc};
use domain::access::Actor;
use domain::discount::{normalize_code, DiscountCode, DiscountCommand, DiscountError, DiscountTerms};
use domain::plan::PlanSnapshot;
use domain::{CustomerId, Location, Toman};
use uuid::Uuid;

use crate::{CommandError, Commands};

/// What a customer would pay for a plan.
#[derive(Debug, Clone, PartialEq)]
pub struct Quote {
    pub list_price: Toman,
    /// The seller's own price, when the customer is a seller with one.
    pub agent_price: Option<Toman>,
    pub discount: Toman,
    pub price: Toman,
}

impl Commands {
    pub async fn create_discount_code(
        &self,
        by: &Actor,
        code: &str,
        terms: DiscountTerms,
        at: DateTime<Utc>,
    ) -> Result<String, CommandError> {
        let code = normalize_code(code)?;
        for plan in &terms.plans {
            if self.plans.load(&plan.to_string()).await?.id.is_none() {
                return Err(CommandError::NotFound("plan"));
            }
        }
        self.commerce
            .discounts
            .execute(
                &code,
                DiscountCommand::CreateCode {
                    code: code.clone(),
                    terms,
                    by: by.clone(),
                    at,
                },
            )
            .await?;
        Ok(code)
    }

    pub async fn disable_discount_code(&self, by: &Actor, code: &str, at: DateTime<Utc>) -> Result<(), CommandError> {
        let code = normalize_code(code)?;
        self.commerce
            .discounts
            .execute(&code, DiscountCommand::DisableCode { by: by.clone(), at })
            .await?;
        Ok(())
    }

    pub async fn discount_code(&self, code: &str) -> Result<DiscountCode, CommandError> {
        let c = self.commerce.discounts.load(&normalize_code(code)?).await?;
        if c.code.is_none() {
            return Err(DiscountError::NotFound.into());
        }
        Ok(c)
    }

    /// The price `customer` would pay for `plan` at `location` now, with an optional code.
    pub async fn quote(
        &self,
        customer: CustomerId,
        plan: Uuid,
        location: &Location,
        code: Option<&str>,
        at: DateTime<Utc>,
    ) -> Result<Quote, CommandError> {
        let snapshot = self.plans.load(&plan.to_string()).await?.offer(location)?;
        let agent_price = self.agent_price(customer, plan, snapshot.price).await?;
        let base = agent_price.unwrap_or(snapshot.price);
        let discount = match code {
            Some(c) => self.discount_code(c).await?.quote(customer, plan, location, base, at)?,
            None => Toman::ZERO,
        };
        Ok(Quote {
            list_price: snapshot.price,
            agent_price,
            discount,
            price: base.checked_sub(discount).ok_or(DiscountError::DiscountExceedsPrice)?,
        })
    }

    /// The snapshot an order records: the agent price replaces the list
    /// price, then a code's use (recorded now, for `subscription`) comes off.
    pub(crate) async fn price_order(
        &self,
        customer: CustomerId,
        mut snapshot: PlanSnapshot,
        location: &Location,
        subscription: Uuid,
        code: Option<&str>,
        at: DateTime<Utc>,
    ) -> Result<PlanSnapshot, CommandError> {
        if let Some(p) = self.agent_price(customer, snapshot.plan_id, snapshot.price).await? {
            snapshot.price = p;
        }
        let Some(code) = code else { return Ok(snapshot) };
        let code = normalize_code(code)?;
        self.commerce
            .discounts
            .execute(
                &code,
                DiscountCommand::Redeem {
                    subscription_id: subscription,
                    customer,
                    plan_id: snapshot.plan_id,
                    location: location.clone(),
                    price: snapshot.price,
                    at,
                },
            )
            .await?;
        // A repeated call finds the first use and pays what it fixed.
        let used = self.commerce.discounts.load(&code).await?;
        let r = used
            .redemptions
            .get(&subscription)
            .filter(|r| !r.released)
            .ok_or(CommandError::Conflict)?;
        snapshot.price = r.final_price;
        Ok(snapshot)
    }

    /// Gives back the code use that paid for `subscription`, if any.
    pub async fn release_discount_for(&self, subscription: Uuid, reason: String, at: DateTime<Utc>) -> Result<(), CommandError> {
        let codes: Vec<String> = sqlx::query_scalar(
            "SELECT DISTINCT aggregate_id FROM events WHERE aggregate_type = 'DiscountCode' \
             AND event_type = 'DiscountCodeRedeemed' AND (payload -> 'DiscountCodeRedeemed' ->> 'subscription_id') = $1",
        )
        .bind(subscription.to_string())
        .fetch_all(&self.pool)
        .await?;
        for code in codes {
            self.commerce
                .discounts
                .execute(
                    &code,
                    DiscountCommand::Release {
                        subscription_id: subscription,
                        reason: reason.clone(),
                        at,
                    },
                )
                .await?;
        }
        Ok(())
    }
}
