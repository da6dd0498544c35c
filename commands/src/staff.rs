//! Staff accounts: sign-in credentials for Telegram users who hold roles.
//! Hashing and encryption happen at the edge (the API and the CLI); these
//! use cases only load what the domain needs and append.
use chrono::{DateTime, Utc};
use domain::access::Actor;
use domain::staff::{Staff, StaffCommand};
use domain::CustomerId;

use crate::{CommandError, Commands};

impl Commands {
    /// A staff account for a registered, unblocked customer who holds a role.
    pub async fn create_staff_account(
        &self,
        by: &Actor,
        id: CustomerId,
        password_hash: String,
        at: DateTime<Utc>,
    ) -> Result<(), CommandError> {
        let customer = self.customers.load(&id.to_string()).await?;
        if customer.id.is_none() {
            return Err(CommandError::NotFound("customer"));
        }
        if customer.blocked {
            return Err(CommandError::Blocked(id));
        }
        self.staff
            .execute(
                &id.to_string(),
                StaffCommand::CreateAccount {
                    id,
                    password_hash,
                    holder_roles: customer.roles.into_iter().collect(),
                    by: by.clone(),
                    at,
                },
            )
            .await?;
        Ok(())
    }

    pub async fn change_staff_password(
        &self,
        by: &Actor,
        id: CustomerId,
        password_hash: String,
        at: DateTime<Utc>,
    ) -> Result<(), CommandError> {
        self.staff
            .execute(
                &id.to_string(),
                StaffCommand::ChangePassword {
                    password_hash,
                    by: by.clone(),
                    at,
                },
            )
            .await?;
        Ok(())
    }

    pub async fn enable_staff_totp(
        &self,
        by: &Actor,
        id: CustomerId,
        secret_encrypted: String,
        at: DateTime<Utc>,
    ) -> Result<(), CommandError> {
        self.staff
            .execute(
                &id.to_string(),
                StaffCommand::EnableTotp {
                    secret_encrypted,
                    by: by.clone(),
                    at,
                },
            )
            .await?;
        Ok(())
    }

    pub async fn disable_staff_totp(&self, by: &Actor, id: CustomerId, at: DateTime<Utc>) -> Result<(), CommandError> {
        self.staff
            .execute(&id.to_string(), StaffCommand::DisableTotp { by: by.clone(), at })
            .await?;
        Ok(())
    }

    pub async fn suspend_staff(&self, by: &Actor, id: CustomerId, reason: String, at: DateTime<Utc>) -> Result<(), CommandError> {
        self.staff
            .execute(
                &id.to_string(),
                StaffCommand::Suspend {
                    reason,
                    by: by.clone(),
                    at,
                },
            )
            .await?;
        Ok(())
    }

    pub async fn reinstate_staff(&self, by: &Actor, id: CustomerId, at: DateTime<Utc>) -> Result<(), CommandError> {
        self.staff
            .execute(&id.to_string(), StaffCommand::Reinstate { by: by.clone(), at })
            .await?;
        Ok(())
    }

    /// The account as its events say (the password hash and encrypted key
    /// included, for sign-in); `NotFound` when there is none.
    pub async fn staff_account(&self, id: CustomerId) -> Result<Staff, CommandError> {
        let staff = self.staff.load(&id.to_string()).await?;
        if staff.id.is_none() {
            return Err(CommandError::NotFound("staff account"));
        }
        Ok(staff)
    }
}
