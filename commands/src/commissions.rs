//! Seller use cases: commission rates and terms, accounts a seller creates,
//! agent prices, commission release, and withdrawals.
use chrono::{DateTime, Utc};
use domain::access::{Actor, Permission, RoleName};
use domain::commission::{CommissionError, CommissionPolicy, CommissionPolicyCommand, CommissionRate, SellerAccount, SellerCommand};
use domain::customer::CustomerError;
use domain::{CardNumber, CustomerId, Language, Toman};
use uuid::Uuid;

use crate::commerce::storage;
use crate::{CommandError, Commands};

impl Commands {
    /// The commission policy now.
    pub async fn commission_policy(&self) -> Result<CommissionPolicy, CommandError> {
        self.commerce.policy.load(CommissionPolicy::ID).await
    }

    /// Sets (or with `rate: None` clears) the default rate (`plan: None`) or a plan's rate.
    pub async fn set_commission_rate(
        &self,
        by: &Actor,
        plan: Option<Uuid>,
        rate: Option<CommissionRate>,
        at: DateTime<Utc>,
    ) -> Result<(), CommandError> {
        if let Some(p) = plan {
            if self.plans.load(&p.to_string()).await?.id.is_none() {
                return Err(CommandError::NotFound("plan"));
            }
        }
        self.commerce
            .policy
            .execute(
                CommissionPolicy::ID,
                CommissionPolicyCommand::SetRate {
                    plan,
                    rate,
                    by: by.clone(),
                    at,
                },
            )
            .await?;
        Ok(())
    }

    pub async fn set_commission_terms(
        &self,
        by: &Actor,
        refund_window_hours: u32,
        withdrawal_minimum: Toman,
        at: DateTime<Utc>,
    ) -> Result<(), CommandError> {
        self.commerce
            .policy
            .execute(
                CommissionPolicy::ID,
                CommissionPolicyCommand::SetTerms {
                    refund_window_hours,
                    withdrawal_minimum,
                    by: by.clone(),
                    at,
                },
            )
            .await?;
        Ok(())
    }

    /// A seller registers a customer's account; the seller becomes its
    /// referrer, so the customer's purchases are attributed to them.
    pub async fn create_customer_as_seller(
        &self,
        by: &Actor,
        id: CustomerId,
        username: Option<String>,
        language: Language,
        at: DateTime<Utc>,
    ) -> Result<(), CommandError> {
        by.require(Permission::Sell).map_err(CommissionError::from)?;
        let seller = by.customer_id().ok_or(CommissionError::NotTheSeller)?;
        match self.register_customer(id, username, language, Some(seller), at).await {
            Ok(()) => {}
            // A retry after a crash between the two steps: the account is already the seller's.
            Err(CommandError::Customer(CustomerError::AlreadyRegistered)) if self.referrer_of(id).await? == Some(seller) => {}
            Err(e) => return Err(e),
        }
        self.commerce
            .sellers
            .execute(
                &seller.to_string(),
                SellerCommand::RecordClient {
                    seller,
                    customer: id,
                    by: by.clone(),
                    at,
                },
            )
            .await?;
        Ok(())
    }

    /// The referrer a customer registered with, from their events.
    pub async fn referrer_of(&self, id: CustomerId) -> Result<Option<CustomerId>, CommandError> {
        let events = eventstore::read_aggregate(&self.pool, "Customer", &id.to_string())
            .await
            .map_err(storage)?;
        for e in events {
            if let Ok(domain::customer::CustomerEvent::CustomerRegistered { referrer, .. }) = serde_json::from_value(e.payload) {
                return Ok(referrer);
            }
        }
        Ok(None)
    }

    pub async fn set_agent_price(
        &self,
        by: &Actor,
        seller: CustomerId,
        plan: Uuid,
        price: Toman,
        at: DateTime<Utc>,
    ) -> Result<(), CommandError> {
        let customer = self.customers.load(&seller.to_string()).await?;
        if customer.id.is_none() {
            return Err(CommandError::NotFound("customer"));
        }
        let p = self.plans.load(&plan.to_string()).await?;
        if p.id.is_none() {
            return Err(CommandError::NotFound("plan"));
        }
        self.commerce
            .sellers
            .execute(
                &seller.to_string(),
                SellerCommand::SetAgentPrice {
                    seller,
                    is_seller: customer.roles.contains(&RoleName::Seller) && !customer.blocked,
                    plan_id: plan,
                    plan_name: p.name.clone(),
                    list_price: p.price,
                    price,
                    by: by.clone(),
                    at,
                },
            )
            .await?;
        Ok(())
    }

    pub async fn remove_agent_price(&self, by: &Actor, seller: CustomerId, plan: Uuid, at: DateTime<Utc>) -> Result<(), CommandError> {
        self.commerce
            .sellers
            .execute(
                &seller.to_string(),
                SellerCommand::RemoveAgentPrice {
                    plan_id: plan,
                    by: by.clone(),
                    at,
                },
            )
            .await?;
        Ok(())
    }

    /// The price `customer` pays for `plan` as an agent: their agent price
    /// while they hold the seller role and it is below the list price.
    pub async fn agent_price(&self, customer: CustomerId, plan: Uuid, list_price: Toman) -> Result<Option<Toman>, CommandError> {
        let c = self.customers.load(&customer.to_string()).await?;
        if !c.roles.contains(&RoleName::Seller) || c.blocked {
            return Ok(None);
        }
        let account = self.commerce.sellers.load(&customer.to_string()).await?;
        Ok(account.agent_price(plan).filter(|p| *p < list_price))
    }

    /// A seller's account: balance, commissions, withdrawals, agent prices, clients.
    pub async fn seller_account(&self, seller: CustomerId) -> Result<SellerAccount, CommandError> {
        self.commerce.sellers.load(&seller.to_string()).await
    }

    /// Releases the seller's commissions whose refund window closed by `now`
    /// (each dated at its own instant); returns how many.
    pub async fn release_commissions(&self, seller: CustomerId, now: DateTime<Utc>) -> Result<usize, CommandError> {
        let events = self
            .commerce
            .sellers
            .execute(&seller.to_string(), SellerCommand::ReleaseDue { now })
            .await?;
        Ok(events.len())
    }

    /// The seller (`by`) asks for `amount` of their available commission to be paid to a card.
    pub async fn request_withdrawal(
        &self,
        by: &Actor,
        amount: Toman,
        card: CardNumber,
        holder: String,
        at: DateTime<Utc>,
    ) -> Result<Uuid, CommandError> {
        self.request_withdrawal_as(Uuid::new_v4(), by, amount, card, holder, at).await
    }

    /// [`Commands::request_withdrawal`] with the id chosen by the caller (the
    /// bot names it from the update), so a retry gets `WithdrawalExists`
    /// instead of a second withdrawal.
    pub async fn request_withdrawal_as(
        &self,
        id: Uuid,
        by: &Actor,
        amount: Toman,
        card: CardNumber,
        holder: String,
        at: DateTime<Utc>,
    ) -> Result<Uuid, CommandError> {
        let seller = by.customer_id().ok_or(CommissionError::NotTheSeller)?;
        let policy = self.commission_policy().await?;
        self.commerce
            .sellers
            .execute(
                &seller.to_string(),
                SellerCommand::RequestWithdrawal {
                    withdrawal_id: id,
                    seller,
                    amount,
                    card,
                    holder,
                    minimum: policy.withdrawal_minimum,
                    by: by.clone(),
                    at,
                },
            )
            .await?;
        Ok(id)
    }

    /// The seller a withdrawal belongs to, from its request event.
    pub async fn withdrawal_seller(&self, withdrawal: Uuid) -> Result<CustomerId, CommandError> {
        let seller: Option<String> = sqlx::query_scalar(
            "SELECT aggregate_id FROM events WHERE aggregate_type = 'SellerAccount' AND event_type = 'WithdrawalRequested' \
             AND (payload -> 'WithdrawalRequested' ->> 'withdrawal_id') = $1",
        )
        .bind(withdrawal.to_string())
        .fetch_optional(&self.pool)
        .await?;
        let seller = seller.ok_or(CommandError::NotFound("withdrawal"))?;
        CustomerId::parse(&seller).map_err(storage)
    }

    pub async fn approve_withdrawal(&self, by: &Actor, withdrawal: Uuid, at: DateTime<Utc>) -> Result<(), CommandError> {
        let seller = self.withdrawal_seller(withdrawal).await?;
        self.commerce
            .sellers
            .execute(
                &seller.to_string(),
                SellerCommand::ApproveWithdrawal {
                    withdrawal_id: withdrawal,
                    by: by.clone(),
                    at,
                },
            )
            .await?;
        Ok(())
    }

    pub async fn reject_withdrawal(&self, by: &Actor, withdrawal: Uuid, reason: String, at: DateTime<Utc>) -> Result<(), CommandError> {
        let seller = self.withdrawal_seller(withdrawal).await?;
        self.commerce
            .sellers
            .execute(
                &seller.to_string(),
                SellerCommand::RejectWithdrawal {
                    withdrawal_id: withdrawal,
                    reason,
                    by: by.clone(),
                    at,
                },
            )
            .await?;
        Ok(())
    }

    /// Records that the money was transferred to the seller's card; exactly
    /// once (a second call gets `WithdrawalDecided("paid")`).
    pub async fn pay_withdrawal(
        &self,
        by: &Actor,
        withdrawal: Uuid,
        bank_reference: String,
        at: DateTime<Utc>,
    ) -> Result<(), CommandError> {
        let seller = self.withdrawal_seller(withdrawal).await?;
        self.commerce
            .sellers
            .execute(
                &seller.to_string(),
                SellerCommand::PayWithdrawal {
                    withdrawal_id: withdrawal,
                    bank_reference,
                    by: by.clone(),
                    at,
                },
            )
            .await?;
        Ok(())
    }
}
