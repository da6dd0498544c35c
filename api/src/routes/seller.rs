//! A seller's own customers and sales. Until the commissions module lands, a
//! seller's sales are the subscriptions of the customers they referred (the
//! `referrer` each customer registered with); a seller never sees anyone else's.
use axum::extract::State;
use axum::Json;
use chrono::{Duration, NaiveDate, Utc};
use domain::Permission;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::views::{Customer, Page, Subscription, CUSTOMER_COLUMNS, SUBSCRIPTION_SELECT};
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

/// Subscriptions bought by the caller's referred customers, newest first.
#[utoipa::path(
    get,
    operation_id = "seller_sales",
    path = "/api/seller/sales",
    tag = "seller",
    security(("bearer" = [])),
    params(Page),
    responses((status = 200, body = [Subscription]), (status = 403, body = ErrorBody))
)]
pub async fn sales(
    State(state): State<AppState>,
    user: AuthUser,
    QueryParams(page): QueryParams<Page>,
) -> ApiResult<Json<Vec<Subscription>>> {
    user.require(Permission::Sell)?;
    let (limit, offset) = page.checked()?;
    let rows = sqlx::query_as(&format!(
        "{SUBSCRIPTION_SELECT} JOIN customers c ON c.telegram_id = s.customer \
         WHERE c.referrer = $1 ORDER BY s.requested_at DESC LIMIT $2 OFFSET $3"
    ))
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
    /// Charges (purchases, renewals, traffic) paid by referred customers.
    pub sales_count: i64,
    #[schema(value_type = String)]
    pub sales_total: Decimal,
    #[schema(value_type = String)]
    pub refunds_total: Decimal,
}

/// Sales of the caller's referred customers per UTC day, from the wallet ledger.
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
        "SELECT (l.at AT TIME ZONE 'UTC')::date AS day, \
         count(*) FILTER (WHERE l.reason = 'charge') AS sales_count, \
         coalesce(sum(l.amount) FILTER (WHERE l.reason = 'charge'), 0) AS sales_total, \
         coalesce(sum(l.amount) FILTER (WHERE l.reason = 'refund'), 0) AS refunds_total \
         FROM wallet_ledger l JOIN customers c ON c.telegram_id = l.customer \
         WHERE c.referrer = $1 AND l.reason IN ('charge', 'refund') AND (l.at AT TIME ZONE 'UTC')::date >= $2 \
         GROUP BY 1 ORDER BY 1",
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
