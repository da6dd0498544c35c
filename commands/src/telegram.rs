//! What the Telegram bot needs beyond the common use cases: the caller names
//! the new payment or wallet movement, so handling the same update twice (a
//! redelivery, or a retry after a crash half-way) repeats nothing.
use chrono::{DateTime, Utc};
use domain::access::Actor;
use domain::card::CardError;
use domain::customer::Customer;
use domain::payment::{Payment, PaymentCommand, PaymentError, PaymentMethod, PaymentPurpose};
use domain::wallet::WalletCommand;
use domain::{CustomerId, Toman};
use rust_decimal::Decimal;
use uuid::Uuid;

use crate::{CommandError, Commands};

impl Commands {
    /// The customer as their events say (language, roles, blocked), or `None`
    /// when they never registered. Unlike a read model it never lags.
    pub async fn customer_state(&self, id: CustomerId) -> Result<Option<Customer>, CommandError> {
        let customer = self.customers.load(&id.to_string()).await?;
        Ok(customer.id.is_some().then_some(customer))
    }

    /// A payment as its events say, or `None`.
    pub async fn payment_state(&self, id: Uuid) -> Result<Option<Payment>, CommandError> {
        let payment = self.payments.load(&id.to_string()).await?;
        Ok(payment.id.is_some().then_some(payment))
    }

    /// [`Commands::create_card_payment`] under the caller's id. Repeating it
    /// for the same customer returns the payment already made; another
    /// customer's id is refused as unknown.
    pub async fn create_card_payment_as(
        &self,
        id: Uuid,
        customer: CustomerId,
        amount: Toman,
        purpose: PaymentPurpose,
        at: DateTime<Utc>,
    ) -> Result<Uuid, CommandError> {
        if let Some(existing) = self.payment_state(id).await? {
            return match existing.customer {
                Some(c) if c == customer => Ok(id),
                _ => Err(CommandError::NotFound("payment")),
            };
        }
        let owner = self.customers.load(&customer.to_string()).await?;
        if owner.id.is_none() {
            return Err(CommandError::NotFound("customer"));
        }
        if owner.blocked {
            return Err(CommandError::Blocked(customer));
        }
        let card_id =
            sqlx::query_scalar::<_, Uuid>("SELECT id FROM cards WHERE active ORDER BY received_total, received_count, added_at LIMIT 1")
                .fetch_optional(&self.pool)
                .await?
                .ok_or(CommandError::NoActiveCard)?;
        let snapshot = self
            .cards
            .load(&card_id.to_string())
            .await?
            .snapshot()
            .ok_or(CommandError::Card(CardError::NotFound))?;
        let create = PaymentCommand::CreatePayment {
            id,
            customer,
            amount,
            method: PaymentMethod::CardToCard { card: snapshot },
            purpose,
            at,
        };
        match self.payments.execute(&id.to_string(), create).await {
            Ok(_) => Ok(id),
            // Lost a race with the same request: the first one stands.
            Err(CommandError::Payment(PaymentError::AlreadyExists)) => match self.payment_state(id).await?.and_then(|p| p.customer) {
                Some(c) if c == customer => Ok(id),
                _ => Err(CommandError::NotFound("payment")),
            },
            Err(e) => Err(e),
        }
    }

    /// [`Commands::adjust_wallet`] with the caller's reference: the wallet
    /// applies a reference once, so a repeat changes nothing.
    #[allow(clippy::too_many_arguments)]
    pub async fn adjust_wallet_as(
        &self,
        by: &Actor,
        customer: CustomerId,
        delta: Decimal,
        note: String,
        reference: String,
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
                    reference,
                    by: by.clone(),
                    at,
                },
            )
            .await?;
        Ok(())
    }
}
