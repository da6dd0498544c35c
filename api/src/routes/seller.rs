//! A seller's own customers and sales: the customers who registered with the
//! seller as referrer, and the sales the commerce module attributed to them
//! (`sales.seller`). A seller never sees anyone else's.
use axum::extract::State;
use axum::Json;
use chrono::{DateTime, Duration, NaiveDate, Utc};
use domain::Permission;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::views::{Customer, Page, CUSTOMER_COLUMNS};
use crate::auth::AuthUser;
use crate::error::{ApiResult, ErrorBody, Validation};
use crate::extract::QueryParams;
use crate::AppState;

/// The customers who registered through the caller's referral link.
#[utoipa::path(
    get,
    operation_id = "seller_customers",
    path = "/api/seller/customers",
    tag = "seller",
    security(("bearer" = [])),
    params(Page),
    responses((status = 200, body = [Customer]), (status = 403, body = ErrorBody))
)]
pub async fn customers(
    State(state): State<AppState>,
    user: AuthUser,
    QueryParams(page): QueryParams<Page>,
) -> ApiResult<Json<Vec<Customer>>> {
    user.require(Permission::Sell)?;
    let (limit, offset) = page.checked()?;
    let rows = sqlx::query_as(&format!(
        "SELECT {CUSTOMER_COLUMNS} FROM customers WHERE referrer = $1 ORDER BY registered_at DESC LIMIT $2 OFFSET $3"
    ))
    .bind(user.id.0)
    .bind(limit)
    .bind(offset)
    .fetch_all(&state.pool)
    .await?;
    Ok(Json(rows))
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, sqlx::FromRow)]
pub struct Sale {
    pub subscription_id: Uuid,
    pub charge_no: i32,
    /// `purchase`, `renewal` or `traffic`.
    pub kind: String,
    pub customer: i64,
    pub plan_id: Uuid,
    pub plan_name: String,
    pub location: String,
    #[schema(value_type = String, example = "150000")]
    pub amount: Decimal,
    /// How the sale came to the seller (`referral`, `created_account`, …).
    pub source: Option<String>,
    pub at: DateTime<Utc>,
    /// Refunded later (the subscription was cancelled with money back).
    #[schema(value_type = Option<String>)]
    pub refunded: Option<Decimal>,
}

/// The caller's sales, newest first: the charges the commerce module
/// attributed to them (a buyer they referred while holding the seller role,
/// or an account they created).
#[utoipa::path(
    get,
    operation_id = "seller_sales",
    path = "/api/seller/sales",
    tag = "seller",
    security(("bearer" = [])),
    params(Page),
    responses((status = 200, body = [Sale]), (status = 403, body = ErrorBody))
)]
pub async fn sales(State(state): State<AppState>, user: AuthUser, QueryParams(page): QueryParams<Page>) -> ApiResult<Json<Vec<Sale>>> {
    user.require(Permission::Sell)?;
    let (limit, offset) = page.checked()?;
    let rows = sqlx::query_as(
        "SELECT s.subscription_id, s.charge_no, s.kind, s.customer, s.plan_id, s.plan_name, s.location, s.amount, \
         s.source, s.at, r.refund AS refunded FROM sales s \
         LEFT JOIN sale_refunds r ON r.subscription_id = s.subscription_id AND s.charge_no = 1 \
         WHERE s.seller = $1 ORDER BY s.at DESC, s.charge_no DESC LIMIT $2 OFFSET $3",
    )
    .bind(user.id.0)
    .bind(limit)
    .bind(offset)
    .fetch_all(&state.pool)
    .await?;
    Ok(Json(rows))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct Days {
    /// 1 to 366; 30 when omitted.
    pub days: Option<i64>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, sqlx::FromRow)]
pub struct SellerDay {
    pub day: NaiveDate,
    /// Charges (purchases, renewals, traffic) attributed to the seller.
    pub sales_count: i64,
    #[schema(value_type = String)]
    pub sales_total: Decimal,
    #[schema(value_type = String)]
    pub refunds_total: Decimal,
}

/// The caller's sales and refunds per UTC day.
#[utoipa::path(
    get,
    operation_id = "seller_performance",
    path = "/api/seller/performance",
    tag = "seller",
    security(("bearer" = [])),
    params(Days),
    responses((status = 200, body = [SellerDay]), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody))
)]
pub async fn performance(
    State(state): State<AppState>,
    user: AuthUser,
    QueryParams(q): QueryParams<Days>,
) -> ApiResult<Json<Vec<SellerDay>>> {
    user.require(Permission::Sell)?;
    let days = q.days.unwrap_or(30);
    let mut v = Validation::new();
    if !(1..=366).contains(&days) {
        v.fail("days", "1 to 366");
    }
    v.finish()?;
    let from = Utc::now().date_naive() - Duration::days(days - 1);
    let rows = sqlx::query_as(
        "WITH days AS ( \
           SELECT (at AT TIME ZONE 'UTC')::date AS day, count(*) AS sales_count, sum(amount) AS sales_total, 0::numeric AS refunds_total \
           FROM sales WHERE seller = $1 AND (at AT TIME ZONE 'UTC')::date >= $2 GROUP BY 1 \
           UNION ALL \
           SELECT (at AT TIME ZONE 'UTC')::date, 0, 0, sum(refund) FROM sale_refunds \
           WHERE seller = $1 AND (at AT TIME ZONE 'UTC')::date >= $2 GROUP BY 1) \
         SELECT day, sum(sales_count)::bigint AS sales_count, sum(sales_total) AS sales_total, sum(refunds_total) AS refunds_total \
         FROM days GROUP BY day ORDER BY day",
    )
    .bind(user.id.0)
    .bind(from)
    .fetch_all(&state.pool)
    .await?;
    Ok(Json(rows))
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(customers))
        .routes(routes!(sales))
        .routes(routes!(performance))
}
