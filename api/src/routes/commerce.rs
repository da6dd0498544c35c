//! Read-only views of the commerce read models (issue 6): a seller's
//! commissions and withdrawals, a customer's points, the withdrawal queue,
//! the points leaderboard and the discount codes. Writes (asking for and
//! paying withdrawals, redeeming points) are not exposed here yet.
use axum::extract::State;
use axum::Json;
use chrono::{DateTime, Utc};
use domain::Permission;
use projections::commerce_views::{self, CommissionRow, WithdrawalRow};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::views::Page;
use crate::auth::AuthUser;
use crate::error::{ApiResult, ErrorBody};
use crate::extract::QueryParams;
use crate::AppState;

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct SellerSummary {
    /// Earned but still inside the refund window.
    #[schema(value_type = String)]
    pub pending: Decimal,
    /// Released and not asked for.
    #[schema(value_type = String)]
    pub available: Decimal,
    /// Held by withdrawals not yet paid.
    #[schema(value_type = String)]
    pub reserved: Decimal,
    #[schema(value_type = String)]
    pub paid_out: Decimal,
    #[schema(value_type = String)]
    pub earned_total: Decimal,
    #[schema(value_type = String)]
    pub reversed_total: Decimal,
    pub commissions_count: i64,
    /// Accounts the seller created.
    pub clients: i64,
    pub sales_count: i64,
    #[schema(value_type = String)]
    pub sales_total: Decimal,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Commission {
    pub subscription_id: Uuid,
    pub charge_no: i32,
    pub customer: i64,
    pub plan_id: Uuid,
    #[schema(value_type = String)]
    pub sale_amount: Decimal,
    /// As the policy said at the sale: `10%` or a fixed amount.
    pub rate: String,
    #[schema(value_type = String)]
    pub commission: Decimal,
    #[schema(value_type = String)]
    pub reversed: Decimal,
    /// `pending`, `released` or `reversed`.
    pub status: String,
    pub releases_at: DateTime<Utc>,
    pub earned_at: DateTime<Utc>,
}

impl From<CommissionRow> for Commission {
    fn from(r: CommissionRow) -> Self {
        Commission {
            subscription_id: r.subscription_id,
            charge_no: r.charge_no,
            customer: r.customer,
            plan_id: r.plan_id,
            sale_amount: r.sale_amount,
            rate: r.rate,
            commission: r.commission,
            reversed: r.reversed,
            status: r.status,
            releases_at: r.releases_at,
            earned_at: r.earned_at,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct SellerCommissions {
    /// `null` until the seller's first sale.
    pub summary: Option<SellerSummary>,
    /// Newest first (at most 200).
    pub commissions: Vec<Commission>,
}

/// The caller's commission balance and commissions.
#[utoipa::path(
    get,
    operation_id = "commerce_seller_commissions",
    path = "/api/seller/commissions",
    tag = "seller",
    security(("bearer" = [])),
    responses((status = 200, body = SellerCommissions), (status = 403, body = ErrorBody))
)]
pub async fn seller_commissions(State(state): State<AppState>, user: AuthUser) -> ApiResult<Json<SellerCommissions>> {
    user.require(Permission::Sell)?;
    let summary = commerce_views::seller_summary(&state.pool, user.id.0)
        .await?
        .map(|s| SellerSummary {
            pending: s.pending,
            available: s.available,
            reserved: s.reserved,
            paid_out: s.paid_out,
            earned_total: s.earned_total,
            reversed_total: s.reversed_total,
            commissions_count: s.commissions_count,
            clients: s.clients,
            sales_count: s.sales_count,
            sales_total: s.sales_total,
        });
    let commissions = commerce_views::seller_commissions(&state.pool, user.id.0, 200)
        .await?
        .into_iter()
        .map(Commission::from)
        .collect();
    Ok(Json(SellerCommissions { summary, commissions }))
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Withdrawal {
    pub id: Uuid,
    pub seller: i64,
    #[schema(value_type = String)]
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

impl From<WithdrawalRow> for Withdrawal {
    fn from(r: WithdrawalRow) -> Self {
        Withdrawal {
            id: r.id,
            seller: r.seller,
            amount: r.amount,
            card_number: r.card_number,
            holder: r.holder,
            status: r.status,
            requested_at: r.requested_at,
            decided_by: r.decided_by,
            reject_reason: r.reject_reason,
            bank_reference: r.bank_reference,
            paid_at: r.paid_at,
        }
    }
}

/// The caller's withdrawals, newest first.
#[utoipa::path(
    get,
    operation_id = "commerce_seller_withdrawals",
    path = "/api/seller/withdrawals",
    tag = "seller",
    security(("bearer" = [])),
    responses((status = 200, body = [Withdrawal]), (status = 403, body = ErrorBody))
)]
pub async fn seller_withdrawals(State(state): State<AppState>, user: AuthUser) -> ApiResult<Json<Vec<Withdrawal>>> {
    user.require(Permission::Sell)?;
    let rows = commerce_views::seller_withdrawals(&state.pool, user.id.0).await?;
    Ok(Json(rows.into_iter().map(Withdrawal::from).collect()))
}

/// Withdrawals asked for or approved and not yet paid, oldest first.
#[utoipa::path(
    get,
    operation_id = "commerce_admin_withdrawals",
    path = "/api/admin/withdrawals",
    tag = "admin: commerce",
    security(("bearer" = [])),
    responses((status = 200, body = [Withdrawal]), (status = 403, body = ErrorBody))
)]
pub async fn open_withdrawals(State(state): State<AppState>, user: AuthUser) -> ApiResult<Json<Vec<Withdrawal>>> {
    user.require(Permission::AdjustWallets)?;
    let rows = commerce_views::open_withdrawals(&state.pool).await?;
    Ok(Json(rows.into_iter().map(Withdrawal::from).collect()))
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Points {
    pub balance: i64,
    pub earned_total: i64,
    pub redeemed_total: i64,
    pub expired_total: i64,
    pub clawed_back_total: i64,
    /// When the soonest of the points held expire.
    pub next_expiry: Option<DateTime<Utc>>,
}

/// The caller's loyalty points (all zero before the first award).
#[utoipa::path(
    get,
    operation_id = "commerce_my_points",
    path = "/api/me/points",
    tag = "me",
    security(("bearer" = [])),
    responses((status = 200, body = Points), (status = 401, body = ErrorBody))
)]
pub async fn my_points(State(state): State<AppState>, user: AuthUser) -> ApiResult<Json<Points>> {
    let p = commerce_views::points_balance(&state.pool, user.id.0).await?;
    Ok(Json(match p {
        Some(p) => Points {
            balance: p.balance,
            earned_total: p.earned_total,
            redeemed_total: p.redeemed_total,
            expired_total: p.expired_total,
            clawed_back_total: p.clawed_back_total,
            next_expiry: p.next_expiry,
        },
        None => Points {
            balance: 0,
            earned_total: 0,
            redeemed_total: 0,
            expired_total: 0,
            clawed_back_total: 0,
            next_expiry: None,
        },
    }))
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct LeaderboardEntry {
    pub rank: i64,
    pub customer: i64,
    pub username: Option<String>,
    pub earned_total: i64,
    pub balance: i64,
}

/// Customers by points earned (ties share a rank).
#[utoipa::path(
    get,
    operation_id = "commerce_admin_leaderboard",
    path = "/api/admin/points/leaderboard",
    tag = "admin: commerce",
    security(("bearer" = [])),
    params(Page),
    responses((status = 200, body = [LeaderboardEntry]), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody))
)]
pub async fn leaderboard(
    State(state): State<AppState>,
    user: AuthUser,
    QueryParams(page): QueryParams<Page>,
) -> ApiResult<Json<Vec<LeaderboardEntry>>> {
    user.require(Permission::ManagePoints)?;
    let (limit, _) = page.checked()?;
    let rows = commerce_views::leaderboard(&state.pool, limit).await?;
    Ok(Json(
        rows.into_iter()
            .map(|e| LeaderboardEntry {
                rank: e.rank,
                customer: e.customer,
                username: e.username,
                earned_total: e.earned_total,
                balance: e.balance,
            })
            .collect(),
    ))
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct DiscountCode {
    pub code: String,
    /// `percent` or `fixed`.
    pub kind: String,
    #[schema(value_type = String)]
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
    #[schema(value_type = String)]
    pub discount_total: Decimal,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DiscountQuery {
    /// Also the personal codes customers bought with points.
    pub personal: Option<bool>,
}

/// Discount codes and their use.
#[utoipa::path(
    get,
    operation_id = "commerce_admin_discounts",
    path = "/api/admin/discounts",
    tag = "admin: commerce",
    security(("bearer" = [])),
    params(DiscountQuery),
    responses((status = 200, body = [DiscountCode]), (status = 403, body = ErrorBody))
)]
pub async fn discounts(
    State(state): State<AppState>,
    user: AuthUser,
    QueryParams(q): QueryParams<DiscountQuery>,
) -> ApiResult<Json<Vec<DiscountCode>>> {
    user.require(Permission::ManagePlans)?;
    let rows = commerce_views::discount_codes(&state.pool, q.personal.unwrap_or(false)).await?;
    Ok(Json(
        rows.into_iter()
            .map(|d| DiscountCode {
                code: d.code,
                kind: d.kind,
                value: d.value,
                max_uses: d.max_uses,
                max_uses_per_customer: d.max_uses_per_customer,
                valid_from: d.valid_from,
                valid_until: d.valid_until,
                plans: d.plans,
                locations: d.locations,
                only_customer: d.only_customer,
                active: d.active,
                uses: d.uses,
                discount_total: d.discount_total,
            })
            .collect(),
    ))
}

/// Seller and customer routes (no network guard).
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(seller_commissions))
        .routes(routes!(seller_withdrawals))
        .routes(routes!(my_points))
}

/// Staff routes under `/api/admin` (merged into the guarded admin tree).
pub fn admin_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(open_withdrawals))
        .routes(routes!(leaderboard))
        .routes(routes!(discounts))
}
