//! Read-only queries over the read models, for the edges that show them
//! (the Telegram bot first). Nothing here writes; a read model may trail
//! the events by a few milliseconds, and callers that must not lag (a
//! permission, an ownership check) ask `commands` instead.
use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;
use sqlx::postgres::PgRow;
use sqlx::{FromRow, PgPool, Row};
use uuid::Uuid;

#[derive(Debug, Clone, PartialEq)]
pub struct CustomerRow {
    pub telegram_id: i64,
    pub username: Option<String>,
    pub language: String,
    pub referrer: Option<i64>,
    pub blocked: bool,
    pub block_reason: Option<String>,
    pub roles: Vec<String>,
    pub balance: Decimal,
    pub registered_at: DateTime<Utc>,
}

impl<'r> FromRow<'r, PgRow> for CustomerRow {
    fn from_row(row: &'r PgRow) -> Result<Self, sqlx::Error> {
        Ok(CustomerRow {
            telegram_id: row.try_get("telegram_id")?,
            username: row.try_get("username")?,
            language: row.try_get("language")?,
            referrer: row.try_get("referrer")?,
            blocked: row.try_get("blocked")?,
            block_reason: row.try_get("block_reason")?,
            roles: row.try_get("roles")?,
            balance: row.try_get("balance")?,
            registered_at: row.try_get("registered_at")?,
        })
    }
}

const CUSTOMER: &str =
    "SELECT telegram_id, username, language, referrer, blocked, block_reason, roles, balance, registered_at FROM customers";

pub async fn customer(pool: &PgPool, id: i64) -> Result<Option<CustomerRow>, sqlx::Error> {
    sqlx::query_as(&format!("{CUSTOMER} WHERE telegram_id = $1"))
        .bind(id)
        .fetch_optional(pool)
        .await
}

/// By Telegram id, or by username (with or without `@`, any case).
pub async fn find_customer(pool: &PgPool, query: &str) -> Result<Option<CustomerRow>, sqlx::Error> {
    let q = query.trim();
    if let Ok(id) = q.parse::<i64>() {
        return customer(pool, id).await;
    }
    sqlx::query_as(&format!("{CUSTOMER} WHERE lower(username) = lower($1) LIMIT 1"))
        .bind(q.trim_start_matches('@'))
        .fetch_optional(pool)
        .await
}

pub async fn referrals(pool: &PgPool, referrer: i64) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("SELECT count(*) FROM customers WHERE referrer = $1")
        .bind(referrer)
        .fetch_one(pool)
        .await
}

/// Customers referred by `referrer`, the subscriptions they bought and what they paid for them.
pub async fn referral_sales(pool: &PgPool, referrer: i64) -> Result<(i64, i64, Decimal), sqlx::Error> {
    sqlx::query_as(
        "SELECT (SELECT count(*) FROM customers WHERE referrer = $1), count(s.id), coalesce(sum(s.paid), 0) \
         FROM subscriptions s JOIN customers c ON c.telegram_id = s.customer WHERE c.referrer = $1 AND s.paid > 0",
    )
    .bind(referrer)
    .fetch_one(pool)
    .await
}

/// Chats of everyone who may approve receipts: not blocked, holding a
/// built-in role with that permission or a custom role that has it.
pub async fn receipt_approvers(pool: &PgPool) -> Result<Vec<i64>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT telegram_id FROM customers c WHERE NOT blocked AND (roles && ARRAY['admin', 'receipt_admin'] \
         OR EXISTS (SELECT 1 FROM roles r WHERE r.name = ANY(c.roles) AND 'approve_receipts' = ANY(r.permissions))) \
         ORDER BY telegram_id",
    )
    .fetch_all(pool)
    .await
}

/// People (not blocked) holding `permission`: through a built-in role that
/// includes it or a custom role defined with it.
pub async fn permission_holders(pool: &PgPool, permission: domain::Permission) -> Result<Vec<i64>, sqlx::Error> {
    let built_in: Vec<String> = domain::access::RoleName::BUILT_IN
        .iter()
        .filter(|r| r.built_in_permissions().is_some_and(|p| p.contains(&permission)))
        .map(|r| r.as_str().to_string())
        .collect();
    sqlx::query_scalar(
        "SELECT telegram_id FROM customers c WHERE NOT blocked AND (roles && $1::text[] \
         OR EXISTS (SELECT 1 FROM roles r WHERE r.name = ANY(c.roles) AND $2 = ANY(r.permissions))) \
         ORDER BY telegram_id",
    )
    .bind(&built_in)
    .bind(permission.name())
    .fetch_all(pool)
    .await
}

/// Custom role names in the order they were defined (a stable order).
pub async fn custom_roles(pool: &PgPool) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query_scalar("SELECT name FROM roles ORDER BY defined_at, name")
        .fetch_all(pool)
        .await
}

#[derive(Debug, Clone, PartialEq)]
pub struct PlanRow {
    pub id: Uuid,
    pub name: String,
    pub duration_days: i32,
    pub traffic_gb: i32,
    pub price: Decimal,
    pub locations: Vec<String>,
    pub active: bool,
}

impl<'r> FromRow<'r, PgRow> for PlanRow {
    fn from_row(row: &'r PgRow) -> Result<Self, sqlx::Error> {
        Ok(PlanRow {
            id: row.try_get("id")?,
            name: row.try_get("name")?,
            duration_days: row.try_get("duration_days")?,
            traffic_gb: row.try_get("traffic_gb")?,
            price: row.try_get("price")?,
            locations: row.try_get("locations")?,
            active: row.try_get("active")?,
        })
    }
}

pub async fn plans(pool: &PgPool, only_active: bool) -> Result<Vec<PlanRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, name, duration_days, traffic_gb, price, locations, active FROM plans \
         WHERE active OR NOT $1 ORDER BY active DESC, price, name",
    )
    .bind(only_active)
    .fetch_all(pool)
    .await
}

pub async fn plan(pool: &PgPool, id: Uuid) -> Result<Option<PlanRow>, sqlx::Error> {
    sqlx::query_as("SELECT id, name, duration_days, traffic_gb, price, locations, active FROM plans WHERE id = $1")
        .bind(id)
        .fetch_optional(pool)
        .await
}

#[derive(Debug, Clone, PartialEq)]
pub struct LedgerRow {
    pub position: i64,
    pub direction: String,
    pub amount: Decimal,
    pub reason: String,
    pub balance_after: Decimal,
    pub at: DateTime<Utc>,
}

impl<'r> FromRow<'r, PgRow> for LedgerRow {
    fn from_row(row: &'r PgRow) -> Result<Self, sqlx::Error> {
        Ok(LedgerRow {
            position: row.try_get("position")?,
            direction: row.try_get("direction")?,
            amount: row.try_get("amount")?,
            reason: row.try_get("reason")?,
            balance_after: row.try_get("balance_after")?,
            at: row.try_get("at")?,
        })
    }
}

/// One page (0-based) of a customer's wallet history, newest first, and the total count.
pub async fn ledger_page(pool: &PgPool, customer: i64, page: i64, per_page: i64) -> Result<(Vec<LedgerRow>, i64), sqlx::Error> {
    let total: i64 = sqlx::query_scalar("SELECT count(*) FROM wallet_ledger WHERE customer = $1")
        .bind(customer)
        .fetch_one(pool)
        .await?;
    let rows = sqlx::query_as(
        "SELECT position, direction, amount, reason, balance_after, at FROM wallet_ledger WHERE customer = $1 \
         ORDER BY position DESC LIMIT $2 OFFSET $3",
    )
    .bind(customer)
    .bind(per_page)
    .bind(page * per_page)
    .fetch_all(pool)
    .await?;
    Ok((rows, total))
}

#[derive(Debug, Clone, PartialEq)]
pub struct SubscriptionRow {
    pub id: Uuid,
    pub customer: i64,
    pub plan_id: Uuid,
    pub plan_name: String,
    pub location: String,
    pub status: String,
    pub traffic_gb: i32,
    pub paid: Decimal,
    pub refunded: Decimal,
    pub pending_charge: Option<i32>,
    pub expires_at: Option<DateTime<Utc>>,
    pub sub_url: Option<String>,
    pub provisioning: String,
    /// Bytes used, when the panels have reported usage.
    pub used_bytes: Option<i64>,
}

impl<'r> FromRow<'r, PgRow> for SubscriptionRow {
    fn from_row(row: &'r PgRow) -> Result<Self, sqlx::Error> {
        Ok(SubscriptionRow {
            id: row.try_get("id")?,
            customer: row.try_get("customer")?,
            plan_id: row.try_get("plan_id")?,
            plan_name: row.try_get("plan_name")?,
            location: row.try_get("location")?,
            status: row.try_get("status")?,
            traffic_gb: row.try_get("traffic_gb")?,
            paid: row.try_get("paid")?,
            refunded: row.try_get("refunded")?,
            pending_charge: row.try_get("pending_charge")?,
            expires_at: row.try_get("expires_at")?,
            sub_url: row.try_get("sub_url")?,
            provisioning: row.try_get("provisioning")?,
            used_bytes: row.try_get("used_bytes")?,
        })
    }
}

const SUBSCRIPTION: &str = "SELECT s.id, s.customer, s.plan_id, s.plan_name, s.location, s.status, s.traffic_gb, s.paid, \
     s.refunded, s.pending_charge, s.expires_at, s.sub_url, s.provisioning, (u.up_bytes + u.down_bytes) AS used_bytes \
     FROM subscriptions s LEFT JOIN subscription_usage u ON u.subscription_id = s.id";

pub async fn subscriptions_of(pool: &PgPool, customer: i64) -> Result<Vec<SubscriptionRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "{SUBSCRIPTION} WHERE s.customer = $1 ORDER BY (s.status = 'active') DESC, s.requested_at DESC LIMIT 20"
    ))
    .bind(customer)
    .fetch_all(pool)
    .await
}

pub async fn subscription(pool: &PgPool, id: Uuid) -> Result<Option<SubscriptionRow>, sqlx::Error> {
    sqlx::query_as(&format!("{SUBSCRIPTION} WHERE s.id = $1"))
        .bind(id)
        .fetch_optional(pool)
        .await
}

/// Active subscriptions expiring within `(now, until]`.
pub async fn expiring(pool: &PgPool, now: DateTime<Utc>, until: DateTime<Utc>) -> Result<Vec<SubscriptionRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "{SUBSCRIPTION} WHERE s.status = 'active' AND s.expires_at > $1 AND s.expires_at <= $2 ORDER BY s.expires_at LIMIT 1000"
    ))
    .bind(now)
    .bind(until)
    .fetch_all(pool)
    .await
}

/// How many subscriptions are in each status.
pub async fn subscription_counts(pool: &PgPool) -> Result<Vec<(String, i64)>, sqlx::Error> {
    sqlx::query_as("SELECT status, count(*) FROM subscriptions GROUP BY status")
        .fetch_all(pool)
        .await
}

#[derive(Debug, Clone, PartialEq)]
pub struct PaymentRow {
    pub id: Uuid,
    pub customer: i64,
    pub amount: Decimal,
    pub method: String,
    pub purpose: String,
    pub plan_id: Option<Uuid>,
    pub location: Option<String>,
    pub status: String,
    pub reject_reason: Option<String>,
    pub created_at: DateTime<Utc>,
}

impl<'r> FromRow<'r, PgRow> for PaymentRow {
    fn from_row(row: &'r PgRow) -> Result<Self, sqlx::Error> {
        Ok(PaymentRow {
            id: row.try_get("id")?,
            customer: row.try_get("customer")?,
            amount: row.try_get("amount")?,
            method: row.try_get("method")?,
            purpose: row.try_get("purpose")?,
            plan_id: row.try_get("plan_id")?,
            location: row.try_get("location")?,
            status: row.try_get("status")?,
            reject_reason: row.try_get("reject_reason")?,
            created_at: row.try_get("created_at")?,
        })
    }
}

pub async fn payments_of(pool: &PgPool, customer: i64, limit: i64) -> Result<Vec<PaymentRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, customer, amount, method, purpose, plan_id, location, status, reject_reason, created_at FROM payments \
         WHERE customer = $1 ORDER BY created_at DESC LIMIT $2",
    )
    .bind(customer)
    .bind(limit)
    .fetch_all(pool)
    .await
}

#[derive(Debug, Clone, PartialEq)]
pub struct QueueRow {
    pub payment_id: Uuid,
    pub customer: i64,
    pub amount: Decimal,
    pub card_number: Option<String>,
    pub card_holder: Option<String>,
    pub purpose: String,
    pub plan_name: Option<String>,
    pub receipt: Option<String>,
    pub submitted_at: Option<DateTime<Utc>>,
}

impl<'r> FromRow<'r, PgRow> for QueueRow {
    fn from_row(row: &'r PgRow) -> Result<Self, sqlx::Error> {
        Ok(QueueRow {
            payment_id: row.try_get("payment_id")?,
            customer: row.try_get("customer")?,
            amount: row.try_get("amount")?,
            card_number: row.try_get("card_number")?,
            card_holder: row.try_get("card_holder")?,
            purpose: row.try_get("purpose")?,
            plan_name: row.try_get("plan_name")?,
            receipt: row.try_get("receipt")?,
            submitted_at: row.try_get("submitted_at")?,
        })
    }
}

/// Receipts waiting for a decision, oldest first.
pub async fn receipt_queue(pool: &PgPool, limit: i64) -> Result<Vec<QueueRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT payment_id, customer, amount, card_number, card_holder, purpose, plan_name, receipt, submitted_at \
         FROM pending_receipts WHERE receipt IS NOT NULL ORDER BY submitted_at LIMIT $1",
    )
    .bind(limit)
    .fetch_all(pool)
    .await
}

pub async fn receipt_queue_len(pool: &PgPool) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("SELECT count(*) FROM pending_receipts WHERE receipt IS NOT NULL")
        .fetch_one(pool)
        .await
}

#[derive(Debug, Clone, PartialEq)]
pub struct CardRow {
    pub id: Uuid,
    pub number: String,
    pub holder: String,
    pub bank: Option<String>,
    pub active: bool,
    pub received_count: i64,
    pub received_total: Decimal,
}

impl<'r> FromRow<'r, PgRow> for CardRow {
    fn from_row(row: &'r PgRow) -> Result<Self, sqlx::Error> {
        Ok(CardRow {
            id: row.try_get("id")?,
            number: row.try_get("number")?,
            holder: row.try_get("holder")?,
            bank: row.try_get("bank")?,
            active: row.try_get("active")?,
            received_count: row.try_get("received_count")?,
            received_total: row.try_get("received_total")?,
        })
    }
}

pub async fn cards(pool: &PgPool) -> Result<Vec<CardRow>, sqlx::Error> {
    sqlx::query_as("SELECT id, number, holder, bank, active, received_count, received_total FROM cards ORDER BY active DESC, added_at")
        .fetch_all(pool)
        .await
}

#[derive(Debug, Clone, PartialEq)]
pub struct DayRow {
    pub day: NaiveDate,
    pub payments_approved_count: i64,
    pub payments_approved_total: Decimal,
    pub sales_count: i64,
    pub sales_total: Decimal,
    pub refunds_total: Decimal,
}

impl<'r> FromRow<'r, PgRow> for DayRow {
    fn from_row(row: &'r PgRow) -> Result<Self, sqlx::Error> {
        Ok(DayRow {
            day: row.try_get("day")?,
            payments_approved_count: row.try_get("payments_approved_count")?,
            payments_approved_total: row.try_get("payments_approved_total")?,
            sales_count: row.try_get("sales_count")?,
            sales_total: row.try_get("sales_total")?,
            refunds_total: row.try_get("refunds_total")?,
        })
    }
}

/// Daily totals from `since` on, newest first.
pub async fn daily_totals(pool: &PgPool, since: NaiveDate) -> Result<Vec<DayRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT day, payments_approved_count, payments_approved_total, sales_count, sales_total, refunds_total \
         FROM daily_totals WHERE day >= $1 ORDER BY day DESC",
    )
    .bind(since)
    .fetch_all(pool)
    .await
}

/// (customers, blocked customers).
pub async fn customer_counts(pool: &PgPool) -> Result<(i64, i64), sqlx::Error> {
    sqlx::query_as("SELECT count(*), count(*) FILTER (WHERE blocked) FROM customers")
        .fetch_one(pool)
        .await
}

#[derive(Debug, Clone, PartialEq)]
pub struct PanelRow {
    pub id: Uuid,
    pub name: String,
    pub location: String,
    pub enabled: bool,
    pub healthy: bool,
    pub clients: i32,
    pub capacity: i32,
}

impl<'r> FromRow<'r, PgRow> for PanelRow {
    fn from_row(row: &'r PgRow) -> Result<Self, sqlx::Error> {
        Ok(PanelRow {
            id: row.try_get("id")?,
            name: row.try_get("name")?,
            location: row.try_get("location")?,
            enabled: row.try_get("enabled")?,
            healthy: row.try_get("healthy")?,
            clients: row.try_get("clients")?,
            capacity: row.try_get("capacity")?,
        })
    }
}

pub async fn panels(pool: &PgPool) -> Result<Vec<PanelRow>, sqlx::Error> {
    sqlx::query_as("SELECT id, name, location, enabled, healthy, clients, capacity FROM panels WHERE NOT retired ORDER BY location, name")
        .fetch_all(pool)
        .await
}
