//! The use cases, one method each: parse nothing (inputs are already domain
//! values), load what the domain needs, execute.
use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use domain::access::{Actor, Permission, RoleName};
use domain::card::{CardCommand, CardError};
use domain::customer::CustomerCommand;
use domain::payment::{PaymentCommand, PaymentMethod, PaymentPurpose};
use domain::plan::{PlanCommand, PlanError, PlanSpec};
use domain::role::RoleCommand;
use domain::subscription::{SubscriptionCommand, SubscriptionError};
use domain::wallet::WalletCommand;
use domain::{CardNumber, CustomerId, Language, Location, Toman};
use rust_decimal::Decimal;
use uuid::Uuid;

use crate::{CommandError, Commands};

/// What a purchase from the wallet ended as.
#[derive(Debug, Clone, PartialEq)]
pub enum PurchaseOutcome {
    Active { subscription: Uuid, expires_at: DateTime<Utc> },
    Failed { subscription: Uuid, reason: String },
}

impl Commands {
    // ---- customers and roles -------------------------------------------

    pub async fn register_customer(
        &self,
        id: CustomerId,
        username: Option<String>,
        language: Language,
        referrer: Option<CustomerId>,
        at: DateTime<Utc>,
    ) -> Result<(), CommandError> {
        // A referral link to someone who is not a customer is ignored, not an error:
        // the newcomer should not pay for a stale link.
        let referrer = match referrer {
            Some(r) if self.customers.load(&r.to_string()).await?.id.is_some() => Some(r),
            _ => None,
        };
        self.customers
            .execute(
                &id.to_string(),
                CustomerCommand::Register {
                    id,
                    username,
                    language,
                    referrer,
                    at,
                },
            )
            .await?;
        Ok(())
    }

    pub async fn change_language(&self, id: CustomerId, language: Language, at: DateTime<Utc>) -> Result<(), CommandError> {
        self.customers
            .execute(&id.to_string(), CustomerCommand::ChangeLanguage { language, at })
            .await?;
        Ok(())
    }

    /// The actor for a Telegram user, with permissions from their roles as the
    /// events say (never from a read model). A blocked user keeps no power.
    pub async fn actor(&self, id: CustomerId) -> Result<Actor, CommandError> {
        let customer = self.customers.load(&id.to_string()).await?;
        if customer.id.is_none() {
            return Err(CommandError::NotFound("customer"));
        }
        if customer.blocked {
            return Err(CommandError::Blocked(id));
        }
        let mut permissions = BTreeSet::new();
        for role in &customer.roles {
            match role.built_in_permissions() {
                Some(p) => permissions.extend(p),
                None => permissions.extend(self.roles.load(role.as_str()).await?.permissions),
            }
        }
        Ok(Actor::User { id, permissions })
    }

    pub async fn define_role(
        &self,
        by: &Actor,
        name: RoleName,
        permissions: BTreeSet<Permission>,
        at: DateTime<Utc>,
    ) -> Result<(), CommandError> {
        self.roles
            .execute(
                name.as_str(),
                RoleCommand::DefineRole {
                    name: name.clone(),
                    permissions,
                    by: by.clone(),
                    at,
                },
            )
            .await?;
        Ok(())
    }

    pub async fn grant_role(&self, by: &Actor, to: CustomerId, role: RoleName, at: DateTime<Utc>) -> Result<(), CommandError> {
        if role.is_custom() && self.roles.load(role.as_str()).await?.name.is_none() {
            return Err(CommandError::NotFound("role"));
        }
        self.customers
            .execute(&to.to_string(), CustomerCommand::GrantRole { role, by: by.clone(), at })
            .await?;
        Ok(())
    }

    pub async fn revoke_role(&self, by: &Actor, from: CustomerId, role: RoleName, at: DateTime<Utc>) -> Result<(), CommandError> {
        self.customers
            .execute(&from.to_string(), CustomerCommand::RevokeRole { role, by: by.clone(), at })
            .await?;
        Ok(())
    }

    pub async fn block_customer(&self, by: &Actor, id: CustomerId, reason: String, at: DateTime<Utc>) -> Result<(), CommandError> {
        self.customers
            .execute(
                &id.to_string(),
                CustomerCommand::Block {
                    by: by.clone(),
                    reason,
                    at,
                },
            )
            .await?;
        Ok(())
    }

    pub async fn unblock_customer(&self, by: &Actor, id: CustomerId, at: DateTime<Utc>) -> Result<(), CommandError> {
        self.customers
            .execute(&id.to_string(), CustomerCommand::Unblock { by: by.clone(), at })
            .await?;
        Ok(())
    }

    // ---- plans and cards -------------------------------------------------

    pub async fn create_plan(&self, by: &Actor, spec: PlanSpec, at: DateTime<Utc>) -> Result<Uuid, CommandError> {
        let id = Uuid::new_v4();
        self.plans
            .execute(
                &id.to_string(),
                PlanCommand::CreatePlan {
                    id,
                    spec,
                    by: by.clone(),
                    at,
                },
            )
            .await?;
        Ok(id)
    }

    pub async fn change_plan_price(&self, by: &Actor, plan: Uuid, price: Toman, at: DateTime<Utc>) -> Result<(), CommandError> {
        self.plans
            .execute(&plan.to_string(), PlanCommand::ChangePrice { price, by: by.clone(), at })
            .await?;
        Ok(())
    }

    pub async fn retire_plan(&self, by: &Actor, plan: Uuid, at: DateTime<Utc>) -> Result<(), CommandError> {
        self.plans
            .execute(&plan.to_string(), PlanCommand::RetirePlan { by: by.clone(), at })
            .await?;
        Ok(())
    }

    pub async fn add_card(
        &self,
        by: &Actor,
        number: CardNumber,
        holder: String,
        bank: Option<String>,
        at: DateTime<Utc>,
    ) -> Result<Uuid, CommandError> {
        let id = Uuid::new_v4();
        self.cards
            .execute(
                &id.to_string(),
                CardCommand::AddCard {
                    id,
                    number,
                    holder,
                    bank,
                    by: by.clone(),
                    at,
                },
            )
            .await?;
        Ok(id)
    }

    pub async fn retire_card(&self, by: &Actor, card: Uuid, at: DateTime<Utc>) -> Result<(), CommandError> {
        self.cards
            .execute(&card.to_string(), CardCommand::RetireCard { by: by.clone(), at })
            .await?;
        Ok(())
    }

    // ---- payments ----------------------------------------------------------

    /// Starts a card-to-card payment. Without `card`, the active card that has
    /// received the least so far (per the `cards` read model) is chosen, to
    /// spread payments over the operator's cards; the card aggregate itself
    /// confirms it can still receive money.
    pub async fn create_card_payment(
        &self,
        customer: CustomerId,
        amount: Toman,
        purpose: PaymentPurpose,
        card: Option<Uuid>,
        at: DateTime<Utc>,
    ) -> Result<Uuid, CommandError> {
        let owner = self.customers.load(&customer.to_string()).await?;
        if owner.id.is_none() {
            return Err(CommandError::NotFound("customer"));
        }
        if owner.blocked {
            return Err(CommandError::Blocked(customer));
        }
        let card_id = match card {
            Some(c) => c,
            None => {
                sqlx::query_scalar::<_, Uuid>("SELECT id FROM cards WHERE active ORDER BY received_total, received_count, added_at LIMIT 1")
                    .fetch_optional(&self.pool)
                    .await?
                    .ok_or(CommandError::NoActiveCard)?
            }
        };
        let snapshot = self
            .cards
            .load(&card_id.to_string())
            .await?
            .snapshot()
            .ok_or(CommandError::Card(CardError::NotFound))?;
        let id = Uuid::new_v4();
        self.payments
            .execute(
                &id.to_string(),
                PaymentCommand::CreatePayment {
                    id,
                    customer,
                    amount,
                    method: PaymentMethod::CardToCard { card: snapshot },
                    purpose,
                    at,
                },
            )
            .await?;
        Ok(id)
    }

    /// The purpose of a plan purchase paid directly by card: the price is fixed now.
    pub async fn plan_purpose(&self, plan: Uuid, location: &Location) -> Result<PaymentPurpose, CommandError> {
        let snapshot = self.plans.load(&plan.to_string()).await?.offer(location)?;
        Ok(PaymentPurpose::PlanPurchase {
            plan: snapshot,
            location: location.clone(),
        })
    }

    pub async fn submit_receipt(&self, by: &Actor, payment: Uuid, file: String, at: DateTime<Utc>) -> Result<(), CommandError> {
        self.payments
            .execute(&payment.to_string(), PaymentCommand::SubmitReceipt { by: by.clone(), file, at })
            .await?;
        Ok(())
    }

    /// Approves once; a second click or a second admin gets `AlreadyDecided`.
    /// Then credits the wallet (and buys the plan, for a plan purchase).
    pub async fn approve_payment(&self, by: &Actor, payment: Uuid, at: DateTime<Utc>) -> Result<(), CommandError> {
        self.payments
            .execute(&payment.to_string(), PaymentCommand::ApprovePayment { by: by.clone(), at })
            .await?;
        self.complete_payment(payment, at).await
    }

    pub async fn reject_payment(&self, by: &Actor, payment: Uuid, reason: String, at: DateTime<Utc>) -> Result<(), CommandError> {
        self.payments
            .execute(
                &payment.to_string(),
                PaymentCommand::RejectPayment {
                    by: by.clone(),
                    reason,
                    at,
                },
            )
            .await?;
        Ok(())
    }

    // ---- wallet --------------------------------------------------------------

    pub async fn adjust_wallet(
        &self,
        by: &Actor,
        customer: CustomerId,
        delta: Decimal,
        note: String,
        at: DateTime<Utc>,
    ) -> Result<(), CommandError> {
        if self.customers.load(&customer.to_string()).await?.id.is_none() {
            return Err(CommandError::NotFound("customer"));
        }
        self.wallets
            .execute(
                &customer.to_string(),
                WalletCommand::Adjust {
                    customer,
                    delta,
                    note,
                    reference: format!("adjust:{}", Uuid::new_v4()),
                    by: by.clone(),
                    at,
                },
            )
            .await?;
        Ok(())
    }

    pub async fn balance(&self, customer: CustomerId) -> Result<Toman, CommandError> {
        Ok(self.wallets.load(&customer.to_string()).await?.balance)
    }

    // ---- subscriptions -------------------------------------------------------

    /// Buys `plan` at `location` from the customer's wallet. `subscription` is
    /// the caller's idempotency key: repeating the call (a double click, a
    /// redelivered update) returns the first outcome instead of buying twice.
    pub async fn purchase_plan(
        &self,
        by: &Actor,
        customer: CustomerId,
        plan: Uuid,
        location: &Location,
        subscription: Uuid,
        at: DateTime<Utc>,
    ) -> Result<PurchaseOutcome, CommandError> {
        self.purchase_plan_with_code(by, customer, plan, location, subscription, None, at)
            .await
    }

    /// [`Commands::purchase_plan`] with an optional discount code; an agent
    /// (a seller with their own price for the plan) pays that price. The
    /// code's use is given back if the wallet cannot pay.
    #[allow(clippy::too_many_arguments)]
    pub async fn purchase_plan_with_code(
        &self,
        by: &Actor,
        customer: CustomerId,
        plan: Uuid,
        location: &Location,
        subscription: Uuid,
        code: Option<&str>,
        at: DateTime<Utc>,
    ) -> Result<PurchaseOutcome, CommandError> {
        self.request_purchase_with_code(by, customer, plan, location, subscription, code, at)
            .await?;
        self.complete_charge(subscription, 1, at).await?;
        let outcome = self.charge_outcome(subscription, 1).await?;
        if let PurchaseOutcome::Failed { reason, .. } = &outcome {
            self.release_discount_for(subscription, reason.clone(), at).await?;
        }
        Ok(outcome)
    }

    /// Only the first step of [`Commands::purchase_plan`]: records the order
    /// and its charge. The process manager (or a later call) pays it.
    pub async fn request_purchase(
        &self,
        by: &Actor,
        customer: CustomerId,
        plan: Uuid,
        location: &Location,
        subscription: Uuid,
        at: DateTime<Utc>,
    ) -> Result<(), CommandError> {
        self.request_purchase_with_code(by, customer, plan, location, subscription, None, at)
            .await
    }

    /// [`Commands::request_purchase`] with an optional discount code, at the
    /// agent's price when the buyer has one.
    #[allow(clippy::too_many_arguments)]
    pub async fn request_purchase_with_code(
        &self,
        by: &Actor,
        customer: CustomerId,
        plan: Uuid,
        location: &Location,
        subscription: Uuid,
        code: Option<&str>,
        at: DateTime<Utc>,
    ) -> Result<(), CommandError> {
        if self.subscriptions.load(&subscription.to_string()).await?.id.is_some() {
            return Ok(()); // a repeat: the first call's order and price stand
        }
        let owner = self.customers.load(&customer.to_string()).await?;
        if owner.id.is_none() {
            return Err(CommandError::NotFound("customer"));
        }
        if owner.blocked {
            return Err(CommandError::Blocked(customer));
        }
        let snapshot = self.plans.load(&plan.to_string()).await?.offer(location)?;
        let snapshot = self.price_order(customer, snapshot, location, subscription, code, at).await?;
        let request = SubscriptionCommand::RequestPurchase {
            id: subscription,
            customer,
            plan: snapshot,
            location: location.clone(),
            by: by.clone(),
            at,
        };
        match self.subscriptions.execute(&subscription.to_string(), request).await {
            Ok(_) | Err(CommandError::Subscription(SubscriptionError::AlreadyExists)) => Ok(()),
            Err(e) => {
                if code.is_some() {
                    self.release_discount_for(subscription, e.to_string(), at).await?;
                }
                Err(e)
            }
        }
    }

    pub async fn renew_subscription(&self, by: &Actor, subscription: Uuid, at: DateTime<Utc>) -> Result<PurchaseOutcome, CommandError> {
        let sub = self.subscriptions.load(&subscription.to_string()).await?;
        let current = sub.plan.ok_or(CommandError::NotFound("subscription"))?;
        let plan = self.plans.load(&current.plan_id.to_string()).await?;
        if plan.retired {
            return Err(PlanError::Retired.into());
        }
        // Renewal is charged at today's price of the same plan (an agent's own price for a seller).
        let agent_price = match sub.customer {
            Some(c) => self.agent_price(c, current.plan_id, plan.price).await?,
            None => None,
        };
        let snapshot = domain::plan::PlanSnapshot {
            price: agent_price.unwrap_or(plan.price),
            duration_days: plan.duration_days,
            traffic_gb: plan.traffic_gb,
            name: plan.name.clone(),
            plan_id: current.plan_id,
        };
        let events = self
            .subscriptions
            .execute(
                &subscription.to_string(),
                SubscriptionCommand::RequestRenewal {
                    plan: snapshot,
                    by: by.clone(),
                    at,
                },
            )
            .await?;
        self.complete_requested(subscription, &events, at).await
    }

    pub async fn add_traffic(
        &self,
        by: &Actor,
        subscription: Uuid,
        gb: u32,
        price: Toman,
        at: DateTime<Utc>,
    ) -> Result<PurchaseOutcome, CommandError> {
        let events = self
            .subscriptions
            .execute(
                &subscription.to_string(),
                SubscriptionCommand::RequestTraffic {
                    gb,
                    price,
                    by: by.clone(),
                    at,
                },
            )
            .await?;
        self.complete_requested(subscription, &events, at).await
    }

    async fn complete_requested(
        &self,
        subscription: Uuid,
        events: &[domain::subscription::SubscriptionEvent],
        at: DateTime<Utc>,
    ) -> Result<PurchaseOutcome, CommandError> {
        use domain::subscription::SubscriptionEvent as E;
        let charge_no = events
            .iter()
            .find_map(|e| match e {
                E::ChargeRequested { charge_no, .. } => Some(*charge_no),
                _ => None,
            })
            .ok_or(CommandError::NotFound("charge"))?;
        self.complete_charge(subscription, charge_no, at).await?;
        self.charge_outcome(subscription, charge_no).await
    }

    pub async fn cancel_subscription(
        &self,
        by: &Actor,
        subscription: Uuid,
        refund: Toman,
        reason: String,
        at: DateTime<Utc>,
    ) -> Result<(), CommandError> {
        self.subscriptions
            .execute(
                &subscription.to_string(),
                SubscriptionCommand::Cancel {
                    refund,
                    reason,
                    by: by.clone(),
                    at,
                },
            )
            .await?;
        self.complete_refund(subscription, at).await
    }

    /// Expires a subscription whose time is up; `Ok(false)` when it is not due
    /// or no longer active (so a scheduler may call it freely).
    pub async fn expire_subscription(&self, subscription: Uuid, at: DateTime<Utc>) -> Result<bool, CommandError> {
        match self
            .subscriptions
            .execute(&subscription.to_string(), SubscriptionCommand::Expire { at })
            .await
        {
            Ok(events) => Ok(!events.is_empty()),
            Err(CommandError::Subscription(SubscriptionError::NotYetExpired | SubscriptionError::WrongStatus(_))) => Ok(false),
            Err(e) => Err(e),
        }
    }

    pub async fn subscription(&self, id: Uuid) -> Result<domain::subscription::Subscription, CommandError> {
        let sub = self.subscriptions.load(&id.to_string()).await?;
        if sub.id.is_none() {
            return Err(CommandError::NotFound("subscription"));
        }
        Ok(sub)
    }

    /// How charge `charge_no` ended, from the subscription's own events.
    pub async fn charge_outcome(&self, subscription: Uuid, charge_no: u32) -> Result<PurchaseOutcome, CommandError> {
        use domain::subscription::SubscriptionEvent as E;
        for event in self.charge_events(subscription).await?.into_iter().rev() {
            match event {
                E::ChargeSettled {
                    charge_no: n, expires_at, ..
                } if n == charge_no => {
                    return Ok(PurchaseOutcome::Active { subscription, expires_at });
                }
                E::ChargeFailed { charge_no: n, reason, .. } if n == charge_no => {
                    return Ok(PurchaseOutcome::Failed { subscription, reason });
                }
                _ => {}
            }
        }
        // Still pending: another process is completing it right now.
        Err(CommandError::Conflict)
    }

    pub(crate) async fn charge_events(&self, subscription: Uuid) -> Result<Vec<domain::subscription::SubscriptionEvent>, CommandError> {
        let stored = eventstore::read_aggregate(&self.pool, "Subscription", &subscription.to_string())
            .await
            .map_err(|e| CommandError::Storage(e.to_string()))?;
        stored
            .into_iter()
            .map(|e| serde_json::from_value(e.payload).map_err(|e| CommandError::Storage(e.to_string())))
            .collect()
    }
}
