//! Loyalty points use cases: rules, grants for special events, redemption and
//! the delivery of rewards, expiry and longevity awards (both driven by the
//! schedulers in `workers`, both exactly once because the account applies a
//! reference once and expires a lot once).
use chrono::{DateTime, Duration, Utc};
use domain::access::{Actor, RoleName};
use domain::customer::CustomerError;
use domain::discount::{DiscountCommand, DiscountError, DiscountKind, DiscountTerms};
use domain::points::{PointsAccount, PointsCommand, PointsError, PointsPolicy, PointsPolicyCommand, PointsReason, PointsRules, Reward};
use domain::subscription::{SubscriptionCommand, SubscriptionStatus};
use domain::CustomerId;
use uuid::Uuid;

use crate::commerce::storage;
use crate::{CommandError, Commands};

/// How many longevity periods one call awards at most (a long-lived account
/// catches up over a few scheduler runs instead of one huge append).
const LONGEVITY_BATCH: u32 = 24;

/// What a redemption gave.
#[derive(Debug, Clone, PartialEq)]
pub struct Redeemed {
    pub redemption_id: Uuid,
    pub points: u64,
    /// For a discount: the personal code to use at purchase.
    pub code: Option<String>,
}

/// Why points are granted by staff.
#[derive(Debug, Clone, PartialEq)]
pub enum Grant {
    /// Once per customer per event name.
    SpecialEvent(String),
    /// A one-off grant with a note.
    Note(String),
}

/// The personal discount code a redemption buys.
pub fn reward_code(redemption: Uuid) -> String {
    format!("PTS-{}", &redemption.simple().to_string()[..10].to_ascii_uppercase())
}

impl Commands {
    pub async fn points_policy(&self) -> Result<PointsPolicy, CommandError> {
        self.commerce.points_policy.load(PointsPolicy::ID).await
    }

    pub async fn set_points_rules(&self, by: &Actor, rules: PointsRules, at: DateTime<Utc>) -> Result<(), CommandError> {
        self.commerce
            .points_policy
            .execute(PointsPolicy::ID, PointsPolicyCommand::SetRules { rules, by: by.clone(), at })
            .await?;
        Ok(())
    }

    pub async fn points_account(&self, customer: CustomerId) -> Result<PointsAccount, CommandError> {
        self.commerce.points.load(&customer.to_string()).await
    }

    /// Staff grant points (for a special event, once per customer per event).
    /// Returns whether points were added (false: this event was already granted).
    pub async fn grant_points(
        &self,
        by: &Actor,
        customer: CustomerId,
        points: u64,
        grant: Grant,
        at: DateTime<Utc>,
    ) -> Result<bool, CommandError> {
        if self.customers.load(&customer.to_string()).await?.id.is_none() {
            return Err(CommandError::NotFound("customer"));
        }
        let rules = self.points_policy().await?.rules;
        let reason = match grant {
            Grant::SpecialEvent(name) => PointsReason::SpecialEvent {
                name: name.trim().to_string(),
                by: by.reference(),
            },
            Grant::Note(note) => PointsReason::Grant {
                note: note.trim().to_string(),
                by: by.reference(),
            },
        };
        let events = self
            .commerce
            .points
            .execute(
                &customer.to_string(),
                PointsCommand::Earn {
                    customer,
                    points,
                    reference: reason.reference(),
                    reason,
                    expires_at: rules.expiry_from(at),
                    by: by.clone(),
                    at,
                },
            )
            .await?;
        Ok(!events.is_empty())
    }

    /// Spends points on a reward and delivers it. The reward is checked
    /// first (a VIP cannot buy VIP again; extra days and traffic need the
    /// customer's own active subscription), so points are rarely given back.
    pub async fn redeem_points(
        &self,
        by: &Actor,
        customer: CustomerId,
        reward: Reward,
        at: DateTime<Utc>,
    ) -> Result<Redeemed, CommandError> {
        self.redeem_points_as(Uuid::new_v4(), by, customer, reward, at).await
    }

    /// [`Commands::redeem_points`] with the redemption id chosen by the caller
    /// (the bot names it from the confirmation button), so a repeated button
    /// gets `RedemptionExists` instead of spending the points twice.
    pub async fn redeem_points_as(
        &self,
        redemption_id: Uuid,
        by: &Actor,
        customer: CustomerId,
        reward: Reward,
        at: DateTime<Utc>,
    ) -> Result<Redeemed, CommandError> {
        let c = self.customers.load(&customer.to_string()).await?;
        if c.id.is_none() {
            return Err(CommandError::NotFound("customer"));
        }
        if c.blocked {
            return Err(CommandError::Blocked(customer));
        }
        match &reward {
            Reward::Vip if c.roles.contains(&RoleName::Vip) => {
                return Err(CustomerError::RoleAlreadyGranted(RoleName::Vip).into());
            }
            Reward::ExtraDays { subscription_id, .. } | Reward::Traffic { subscription_id, .. } => {
                let sub = self.subscriptions.load(&subscription_id.to_string()).await?;
                if sub.customer != Some(customer) {
                    return Err(CommandError::NotFound("subscription"));
                }
                if sub.status != SubscriptionStatus::Active {
                    return Err(domain::subscription::SubscriptionError::WrongStatus(sub.status.name()).into());
                }
                if matches!(reward, Reward::Traffic { .. }) && sub.traffic_gb == 0 {
                    return Err(domain::subscription::SubscriptionError::Unlimited.into());
                }
            }
            _ => {}
        }
        let rules = self.points_policy().await?.rules;
        let points = rules.cost(&reward)?;
        let code = matches!(reward, Reward::Discount { .. }).then(|| reward_code(redemption_id));
        self.commerce
            .points
            .execute(
                &customer.to_string(),
                PointsCommand::Redeem {
                    customer,
                    redemption_id,
                    reward,
                    rules,
                    by: by.clone(),
                    at,
                },
            )
            .await?;
        self.deliver_reward(customer, redemption_id, at).await?;
        Ok(Redeemed {
            redemption_id,
            points,
            code,
        })
    }

    /// Delivers a redemption's reward, once; gives the points back when the
    /// reward can no longer be delivered. Run again by the commerce consumer.
    pub async fn deliver_reward(&self, customer: CustomerId, redemption: Uuid, at: DateTime<Utc>) -> Result<(), CommandError> {
        let account = self.points_account(customer).await?;
        let Some(r) = account.redemptions.get(&redemption).filter(|r| !r.cancelled) else {
            return Ok(());
        };
        let failure: Option<String> = match &r.reward {
            Reward::Discount { value } => {
                let code = reward_code(redemption);
                let terms = DiscountTerms {
                    kind: DiscountKind::Fixed { amount: *value },
                    max_uses: Some(1),
                    max_uses_per_customer: Some(1),
                    valid_from: at,
                    valid_until: Some(at + Duration::days(90)),
                    plans: vec![],
                    locations: vec![],
                    only_customer: Some(customer),
                };
                match self
                    .commerce
                    .discounts
                    .execute(
                        &code,
                        DiscountCommand::CreateCode {
                            code: code.clone(),
                            terms,
                            by: Actor::System,
                            at,
                        },
                    )
                    .await
                {
                    Ok(_) | Err(CommandError::Discount(DiscountError::AlreadyExists)) => None,
                    Err(e) if e.is_user_error() => Some(e.to_string()),
                    Err(e) => return Err(e),
                }
            }
            Reward::Vip => match self.grant_role(&Actor::System, customer, RoleName::Vip, at).await {
                Ok(()) | Err(CommandError::Customer(CustomerError::RoleAlreadyGranted(_))) => None,
                Err(e) if e.is_user_error() => Some(e.to_string()),
                Err(e) => return Err(e),
            },
            Reward::ExtraDays { subscription_id, .. } | Reward::Traffic { subscription_id, .. } => {
                let (days, gb) = match r.reward {
                    Reward::ExtraDays { days, .. } => (days, 0),
                    Reward::Traffic { gb, .. } => (0, gb),
                    _ => (0, 0),
                };
                let sub = self.subscriptions.load(&subscription_id.to_string()).await?;
                if sub.customer != Some(customer) {
                    Some("the subscription belongs to another customer".to_string())
                } else {
                    match self
                        .subscriptions
                        .execute(
                            &subscription_id.to_string(),
                            SubscriptionCommand::GrantBonus {
                                days,
                                gb,
                                reference: format!("points:{redemption}"),
                                at,
                            },
                        )
                        .await
                    {
                        Ok(_) => None,
                        Err(e) if e.is_user_error() => Some(e.to_string()),
                        Err(e) => return Err(e),
                    }
                }
            }
        };
        if let Some(reason) = failure {
            self.commerce
                .points
                .execute(
                    &customer.to_string(),
                    PointsCommand::CancelRedemption {
                        redemption_id: redemption,
                        reason,
                        at,
                    },
                )
                .await?;
        }
        Ok(())
    }

    /// Expires the customer's lots due by `now`, each dated at its expiry; returns how many.
    pub async fn expire_points(&self, customer: CustomerId, now: DateTime<Utc>) -> Result<usize, CommandError> {
        Ok(self
            .commerce
            .points
            .execute(&customer.to_string(), PointsCommand::ExpireDue { now })
            .await?
            .len())
    }

    /// Awards the longevity points for every full period of account age
    /// completed by `now` (each dated at the instant its period ended);
    /// returns how many periods were awarded now.
    pub async fn award_longevity(&self, customer: CustomerId, now: DateTime<Utc>) -> Result<usize, CommandError> {
        let c = self.customers.load(&customer.to_string()).await?;
        if c.id.is_none() || c.blocked {
            return Ok(0);
        }
        let registered_at = self.registered_at(customer).await?;
        let policy = self.points_policy().await?;
        let rules = policy.rules;
        if rules.longevity_points == 0 {
            return Ok(0);
        }
        let period = rules.longevity_period();
        let since = policy.since.unwrap_or(registered_at);
        let account = self.points_account(customer).await?;
        let mut awarded = 0;
        let mut n: u32 = 1;
        loop {
            let ends = registered_at + period * n as i32;
            if ends > now || awarded >= LONGEVITY_BATCH as usize {
                break;
            }
            let reason = PointsReason::Longevity { period: n };
            let reference = reason.reference();
            if ends >= since && !account.lots.contains_key(&reference) {
                let events = self
                    .commerce
                    .points
                    .execute(
                        &customer.to_string(),
                        PointsCommand::Earn {
                            customer,
                            points: rules.longevity_points,
                            reason,
                            reference,
                            expires_at: rules.expiry_from(ends),
                            by: Actor::System,
                            at: ends,
                        },
                    )
                    .await;
                match events {
                    Ok(e) => awarded += e.len(),
                    Err(CommandError::Points(PointsError::ZeroPoints)) => {}
                    Err(e) => return Err(e),
                }
            }
            n += 1;
        }
        Ok(awarded)
    }

    /// When the customer registered, from their first event.
    pub async fn registered_at(&self, customer: CustomerId) -> Result<DateTime<Utc>, CommandError> {
        let events = eventstore::read_aggregate(&self.pool, "Customer", &customer.to_string())
            .await
            .map_err(storage)?;
        for e in events {
            if let Ok(domain::customer::CustomerEvent::CustomerRegistered { at, .. }) = serde_json::from_value(e.payload) {
                return Ok(at);
            }
        }
        Err(CommandError::NotFound("customer"))
    }
}
