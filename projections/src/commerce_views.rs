//! Typed reads of the commerce read models, for the bot, the API and the CLI:
//! a seller's summary, commissions and withdrawals, the withdrawal queue,
//! points balances and the leaderboard, discount codes.
use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use sqlx::postgres::PgRow;
use sqlx::{PgPool, Row};
use uuid::Uuid;

#[derive(Debug, Clone, PartialEq)]
pub struct SellerSummary {
    pub seller: i64,
    pub pending: Decimal,
    pub available: Decimal,
    pub reserved: Decimal,
    pub paid_out: Decimal,
    pub earned_total: Decimal,
    pub reversed_total: Decimal,
    pub commissions_count: i64,
    /// Accounts the seller created.
    pub clients: i64,
    /// Sales attributed to the seller.
    pub sales_count: i64,
    pub sales_total: Decimal,
}

/// A seller's balance and sales; `None` when they have no commerce history.
pub async fn seller_summary(pool: &PgPool, seller: i64) -> Result<Option<SellerSummary>, sqlx::Error> {
    let row = sqlx::query(
        "SELECT b.seller, b.pending, b.available, b.reserved, b.paid_out, b.earned_total, b.reversed_total, \
         b.commissions_count, b.clients, \
         (SELECT count(*) FROM sales s WHERE s.seller = b.seller), \
         (SELECT coalesce(sum(amount), 0) FROM sales s WHERE s.seller = b.seller) \
         FROM seller_balances b WHERE b.seller = $1",
    )
    .bind(seller)
    .fetch_optional(pool)
    .await?;
    row.map(|r| {
        Ok(SellerSummary {
            seller: r.try_get(0)?,
            pending: r.try_get(1)?,
            available: r.try_get(2)?,
            reserved: r.try_get(3)?,
            paid_out: r.try_get(4)?,
            earned_total: r.try_get(5)?,
            reversed_total: r.try_get(6)?,
            commissions_count: r.try_get(7)?,
            clients: r.try_get(8)?,
            sales_count: r.try_get(9)?,
            sales_total: r.try_get(10)?,
        })
    })
    .transpose()
}

#[derive(Debug, Clone, PartialEq)]
pub struct CommissionRow {
    pub subscription_id: Uuid,
    pub charge_no: i32,
    pub customer: i64,
    pub plan_id: Uuid,
    pub sale_amount: Decimal,
    pub rate: String,
    pub commission: Decimal,
    pub reversed: Decimal,
    /// `pending`, `released` or `reversed`.
    pub status: String,
    pub releases_at: DateTime<Utc>,
    pub earned_at: DateTime<Utc>,
}

fn commission(r: &PgRow) -> Result<CommissionRow, sqlx::Error> {
    Ok(CommissionRow {
        subscription_id: r.try_get("subscription_id")?,
        charge_no: r.try_get("charge_no")?,
        customer: r.try_get("customer")?,
        plan_id: r.try_get("plan_id")?,
        sale_amount: r.try_get("sale_amount")?,
        rate: r.try_get("rate")?,
        commission: r.try_get("commission")?,
        reversed: r.try_get("reversed")?,
        status: r.try_get("status")?,
        releases_at: r.try_get("releases_at")?,
        earned_at: r.try_get("earned_at")?,
    })
}

/// A seller's commissions, newest first.
pub async fn seller_commissions(pool: &PgPool, seller: i64, limit: i64) -> Result<Vec<CommissionRow>, sqlx::Error> {
    sqlx::query("SELECT * FROM commissions WHERE seller = $1 ORDER BY earned_at DESC, charge_no DESC LIMIT $2")
        .bind(seller)
        .bind(limit)
        .fetch_all(pool)
        .await?
        .iter()
        .map(commission)
        .collect()
}

#[derive(Debug, Clone, PartialEq)]
pub struct WithdrawalRow {
    pub id: Uuid,
    pub seller: i64,
    pub amount: Decimal,
    pub card_number: String,
    pub holder: String,
    /// `requested`, `approved`, `rejected` or `paid`.
    pub status: String,
    pub requested_at: DateTime<Utc>,
    pub decided_by: Option<String>,
    pub reject_reason: Option<String>,
    pub bank_reference: Option<String>,
    pub paid_at: Option<DateTime<Utc>>,
}

fn withdrawal(r: &PgRow) -> Result<WithdrawalRow, sqlx::Error> {
    Ok(WithdrawalRow {
        id: r.try_get("id")?,
        seller: r.try_get("seller")?,
        amount: r.try_get("amount")?,
        card_number: r.try_get("card_number")?,
        holder: r.try_get("holder")?,
        status: r.try_get("status")?,
        requested_at: r.try_get("requested_at")?,
        decided_by: r.try_get("decided_by")?,
        reject_reason: r.try_get("reject_reason")?,
        bank_reference: r.try_get("bank_reference")?,
        paid_at: r.try_get("paid_at")?,
    })
}

/// A seller's withdrawals, newest first.
pub async fn seller_withdrawals(pool: &PgPool, seller: i64) -> Result<Vec<WithdrawalRow>, sqlx::Error> {
    sqlx::query("SELECT * FROM withdrawals WHERE seller = $1 ORDER BY requested_at DESC")
        .bind(seller)
        .fetch_all(pool)
        .await?
        .iter()
        .map(withdrawal)
        .collect()
}

/// The admins' queue: withdrawals asked for or approved but not yet paid, oldest first.
pub async fn open_withdrawals(pool: &PgPool) -> Result<Vec<WithdrawalRow>, sqlx::Error> {
    sqlx::query("SELECT * FROM withdrawals WHERE status IN ('requested', 'approved') ORDER BY requested_at")
        .fetch_all(pool)
        .await?
        .iter()
        .map(withdrawal)
        .collect()
}

#[derive(Debug, Clone, PartialEq)]
pub struct PointsBalance {
    pub customer: i64,
    pub balance: i64,
    pub earned_total: i64,
    pub redeemed_total: i64,
    pub expired_total: i64,
    pub clawed_back_total: i64,
    /// The soonest expiry of points still held.
    pub next_expiry: Option<DateTime<Utc>>,
}

pub async fn points_balance(pool: &PgPool, customer: i64) -> Result<Option<PointsBalance>, sqlx::Error> {
    let row = sqlx::query(
        "SELECT customer, balance, earned_total, redeemed_total, expired_total, clawed_back_total, \
         (SELECT min(expires_at) FROM points_lots l WHERE l.customer = p.customer AND l.remaining > 0) \
         FROM points_balances p WHERE customer = $1",
    )
    .bind(customer)
    .fetch_optional(pool)
    .await?;
    row.map(|r| {
        Ok(PointsBalance {
            customer: r.try_get(0)?,
            balance: r.try_get(1)?,
            earned_total: r.try_get(2)?,
            redeemed_total: r.try_get(3)?,
            expired_total: r.try_get(4)?,
            clawed_back_total: r.try_get(5)?,
            next_expiry: r.try_get(6)?,
        })
    })
    .transpose()
}

#[derive(Debug, Clone, PartialEq)]
pub struct LeaderboardEntry {
    pub rank: i64,
    pub customer: i64,
    pub username: Option<String>,
    pub earned_total: i64,
    pub balance: i64,
}

/// Customers by points earned (ties share a rank).
pub async fn leaderboard(pool: &PgPool, limit: i64) -> Result<Vec<LeaderboardEntry>, sqlx::Error> {
    sqlx::query(
        "SELECT rank() OVER (ORDER BY p.earned_total DESC), p.customer, c.username, p.earned_total, p.balance \
         FROM points_balances p LEFT JOIN customers c ON c.telegram_id = p.customer \
         ORDER BY p.earned_total DESC, p.customer LIMIT $1",
    )
    .bind(limit)
    .fetch_all(pool)
    .await?
    .iter()
    .map(|r| {
        Ok(LeaderboardEntry {
            rank: r.try_get(0)?,
            customer: r.try_get(1)?,
            username: r.try_get(2)?,
            earned_total: r.try_get(3)?,
            balance: r.try_get(4)?,
        })
    })
    .collect()
}

#[derive(Debug, Clone, PartialEq)]
pub struct DiscountCodeRow {
    pub code: String,
    /// `percent` or `fixed`.
    pub kind: String,
    pub value: Decimal,
    pub max_uses: Option<i32>,
    pub max_uses_per_customer: Option<i32>,
    pub valid_from: DateTime<Utc>,
    pub valid_until: Option<DateTime<Utc>>,
    pub plans: Vec<Uuid>,
    pub locations: Vec<String>,
    pub only_customer: Option<i64>,
    pub active: bool,
    pub uses: i32,
    pub discount_total: Decimal,
}

/// Every code; personal ones (bought with points) only with `personal`.
pub async fn discount_codes(pool: &PgPool, personal: bool) -> Result<Vec<DiscountCodeRow>, sqlx::Error> {
    sqlx::query("SELECT * FROM discount_codes WHERE $1 OR only_customer IS NULL ORDER BY created_at")
        .bind(personal)
        .fetch_all(pool)
        .await?
        .iter()
        .map(|r| {
            Ok(DiscountCodeRow {
                code: r.try_get("code")?,
                kind: r.try_get("kind")?,
                value: r.try_get("value")?,
                max_uses: r.try_get("max_uses")?,
                max_uses_per_customer: r.try_get("max_uses_per_customer")?,
                valid_from: r.try_get("valid_from")?,
                valid_until: r.try_get("valid_until")?,
                plans: r.try_get("plans")?,
                locations: r.try_get("locations")?,
                only_customer: r.try_get("only_customer")?,
                active: r.try_get("active")?,
                uses: r.try_get("uses")?,
                discount_total: r.try_get("discount_total")?,
            })
        })
        .collect()
}
