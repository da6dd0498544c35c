//! Read-model rows as the API shows them, and the queries that fetch them.
//! Shared by the customer, seller and admin routes, which differ only in
//! whose rows they may ask for. Money is a decimal string of Toman.
use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use sqlx::PgPool;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::error::{ApiResult, Validation};

/// `?limit=&offset=`: at most 200 rows a page.
#[derive(Debug, Clone, Copy, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct Page {
    /// 1 to 200; 50 when omitted.
    pub limit: Option<i64>,
    /// 0 or more; 0 when omitted.
    pub offset: Option<i64>,
}

impl Page {
    /// (limit, offset), or `422 validation_failed`.
    pub fn checked(&self) -> ApiResult<(i64, i64)> {
        let mut v = Validation::new();
        let limit = self.limit.unwrap_or(50);
        let offset = self.offset.unwrap_or(0);
        if !(1..=200).contains(&limit) {
            v.fail("limit", "limit is 1 to 200");
        }
        if offset < 0 {
            v.fail("offset", "offset is 0 or more");
        }
        v.finish()?;
        Ok((limit, offset))
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, sqlx::FromRow)]
pub struct Customer {
    pub telegram_id: i64,
    pub username: Option<String>,
    /// `fa` or `en`.
    pub language: String,
    pub referrer: Option<i64>,
    pub blocked: bool,
    pub block_reason: Option<String>,
    pub roles: Vec<String>,
    #[schema(value_type = String, example = "150000")]
    pub balance: Decimal,
    pub registered_at: DateTime<Utc>,
}

pub const CUSTOMER_COLUMNS: &str = "telegram_id, username, language, referrer, blocked, block_reason, roles, balance, registered_at";

pub async fn customer(pool: &PgPool, id: i64) -> Result<Option<Customer>, sqlx::Error> {
    sqlx::query_as(&format!("SELECT {CUSTOMER_COLUMNS} FROM customers WHERE telegram_id = $1"))
        .bind(id)
        .fetch_optional(pool)
        .await
}

/// One wallet movement.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, sqlx::FromRow)]
pub struct LedgerEntry {
    /// The event's global position (a stable, increasing id).
    pub position: i64,
    pub customer: i64,
    /// `credit` or `debit`.
    pub direction: String,
    #[schema(value_type = String, example = "150000")]
    pub amount: Decimal,
    /// `top_up`, `charge`, `refund`, `charge_reversal` or `adjustment`.
    pub reason: String,
    pub reference: String,
    #[schema(value_type = String, example = "150000")]
    pub balance_after: Decimal,
    pub at: DateTime<Utc>,
}

pub async fn ledger(pool: &PgPool, customer: i64, limit: i64, offset: i64) -> Result<Vec<LedgerEntry>, sqlx::Error> {
    sqlx::query_as(
        "SELECT position, customer, direction, amount, reason, reference, balance_after, at FROM wallet_ledger \
         WHERE customer = $1 ORDER BY position DESC LIMIT $2 OFFSET $3",
    )
    .bind(customer)
    .bind(limit)
    .bind(offset)
    .fetch_all(pool)
    .await
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, sqlx::FromRow)]
pub struct Payment {
    pub id: Uuid,
    pub customer: i64,
    #[schema(value_type = String, example = "150000")]
    pub amount: Decimal,
    /// `card_to_card`, …
    pub method: String,
    pub card_id: Option<Uuid>,
    /// `wallet_top_up` or `plan_purchase`.
    pub purpose: String,
    pub plan_id: Option<Uuid>,
    pub location: Option<String>,
    /// `awaiting_receipt`, `awaiting_review`, `approved`, `rejected`, …
    pub status: String,
    pub has_receipt: bool,
    /// Who decided: a Telegram id, or `system`.
    pub decided_by: Option<String>,
    pub reject_reason: Option<String>,
    pub created_at: DateTime<Utc>,
    pub decided_at: Option<DateTime<Utc>>,
}

pub const PAYMENT_COLUMNS: &str = "id, customer, amount, method, card_id, purpose, plan_id, location, status, \
     receipt IS NOT NULL AS has_receipt, decided_by, reject_reason, created_at, decided_at";

pub async fn payments_of(pool: &PgPool, customer: i64, limit: i64, offset: i64) -> Result<Vec<Payment>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {PAYMENT_COLUMNS} FROM payments WHERE customer = $1 ORDER BY created_at DESC LIMIT $2 OFFSET $3"
    ))
    .bind(customer)
    .bind(limit)
    .bind(offset)
    .fetch_all(pool)
    .await
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, sqlx::FromRow)]
pub struct Subscription {
    pub id: Uuid,
    pub customer: i64,
    pub plan_id: Uuid,
    pub plan_name: String,
    pub location: String,
    /// `pending`, `active`, `failed`, `expired` or `cancelled`.
    pub status: String,
    /// 0 means unlimited.
    pub traffic_gb: i32,
    #[schema(value_type = String, example = "150000")]
    pub paid: Decimal,
    #[schema(value_type = String, example = "0")]
    pub refunded: Decimal,
    pub pending_charge: Option<i32>,
    pub last_failure: Option<String>,
    pub starts_at: Option<DateTime<Utc>>,
    pub expires_at: Option<DateTime<Utc>>,
    pub requested_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// `not_started`, `started`, `provisioned`, `failed` or `missing` (on the 3x-UI panel).
    pub provisioning: String,
    pub provisioning_error: Option<String>,
    /// The subscription link for V2Ray clients, once provisioned (shown as a QR code).
    pub sub_url: Option<String>,
    pub links: Vec<String>,
    /// Bytes used, from the latest panel sync (none before the first one).
    pub used_bytes: Option<i64>,
    pub usage_synced_at: Option<DateTime<Utc>>,
}

pub const SUBSCRIPTION_SELECT: &str = "SELECT s.id, s.customer, s.plan_id, s.plan_name, s.location, s.status, s.traffic_gb, \
     s.paid, s.refunded, s.pending_charge, s.last_failure, s.starts_at, s.expires_at, s.requested_at, s.updated_at, \
     s.provisioning, s.provisioning_error, s.sub_url, s.links, u.up_bytes + u.down_bytes AS used_bytes, \
     u.synced_at AS usage_synced_at \
     FROM subscriptions s LEFT JOIN subscription_usage u ON u.subscription_id = s.id";

pub async fn subscriptions_of(pool: &PgPool, customer: i64) -> Result<Vec<Subscription>, sqlx::Error> {
    sqlx::query_as(&format!(
        "{SUBSCRIPTION_SELECT} WHERE s.customer = $1 ORDER BY s.requested_at DESC LIMIT 200"
    ))
    .bind(customer)
    .fetch_all(pool)
    .await
}

pub async fn subscription(pool: &PgPool, id: Uuid) -> Result<Option<Subscription>, sqlx::Error> {
    sqlx::query_as(&format!("{SUBSCRIPTION_SELECT} WHERE s.id = $1"))
        .bind(id)
        .fetch_optional(pool)
        .await
}
