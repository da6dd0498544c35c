//! `staff_accounts`: who may sign in to the dashboard with a password, and
//! whether they use a second factor. Never the hash or the key.
use async_trait::async_trait;
use domain::staff::StaffEvent;
use domain::AnyEvent;
use eventstore::StoredEvent;
use sqlx::PgConnection;

use crate::Projector;

pub struct StaffAccounts;

#[async_trait]
impl Projector for StaffAccounts {
    fn name(&self) -> &'static str {
        "staff_accounts"
    }
    async fn apply(&self, conn: &mut PgConnection, t: &str, e: &StoredEvent, decoded: &AnyEvent) -> Result<(), sqlx::Error> {
        let AnyEvent::Staff(event) = decoded else { return Ok(()) };
        let id = e.aggregate_id.parse::<i64>().map_err(|x| sqlx::Error::Decode(Box::new(x)))?;
        match event {
            StaffEvent::StaffAccountCreated { at, .. } => {
                sqlx::query(&format!(
                    "INSERT INTO {t} (telegram_id, created_at, password_changed_at) VALUES ($1, $2, $2)"
                ))
                .bind(id)
                .bind(at)
                .execute(conn)
                .await?;
            }
            StaffEvent::StaffPasswordChanged { at, .. } => {
                sqlx::query(&format!("UPDATE {t} SET password_changed_at = $2 WHERE telegram_id = $1"))
                    .bind(id)
                    .bind(at)
                    .execute(conn)
                    .await?;
            }
            StaffEvent::StaffAccountSuspended { reason, .. } => {
                sqlx::query(&format!(
                    "UPDATE {t} SET suspended = true, suspend_reason = $2 WHERE telegram_id = $1"
                ))
                .bind(id)
                .bind(reason)
                .execute(conn)
                .await?;
            }
            StaffEvent::StaffAccountReinstated { .. } => {
                sqlx::query(&format!(
                    "UPDATE {t} SET suspended = false, suspend_reason = NULL WHERE telegram_id = $1"
                ))
                .bind(id)
                .execute(conn)
                .await?;
            }
            StaffEvent::StaffTotpEnabled { .. } | StaffEvent::StaffTotpDisabled { .. } => {
                sqlx::query(&format!("UPDATE {t} SET totp_enabled = $2 WHERE telegram_id = $1"))
                    .bind(id)
                    .bind(matches!(event, StaffEvent::StaffTotpEnabled { .. }))
                    .execute(conn)
                    .await?;
            }
        }
        Ok(())
    }
}
