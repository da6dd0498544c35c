//! Money per day (`daily_totals`) and the overview's counters.
use std::sync::Arc;

use axum::extract::State;
use chrono::{Duration, NaiveDate, Utc};
use domain::Permission;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::AuthUser;
use crate::error::{ApiError, ApiResult, ErrorBody, Validation};
use crate::extract::{QueryParams, SharedJson};
use crate::AppState;

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, sqlx::FromRow)]
pub struct DailyTotal {
    /// A UTC day.
    pub day: NaiveDate,
    pub payments_approved_count: i64,
    #[schema(value_type = String)]
    pub payments_approved_total: Decimal,
    #[schema(value_type = String)]
    pub wallet_credits_total: Decimal,
    #[schema(value_type = String)]
    pub wallet_debits_total: Decimal,
    pub sales_count: i64,
    #[schema(value_type = String)]
    pub sales_total: Decimal,
    #[schema(value_type = String)]
    pub refunds_total: Decimal,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct Range {
    /// First day (UTC), `YYYY-MM-DD`; 29 days before `to` when omitted.
    pub from: Option<NaiveDate>,
    /// Last day (UTC); today when omitted. At most 366 days after `from`.
    pub to: Option<NaiveDate>,
}

/// Money per UTC day, oldest first; days without activity are left out.
#[utoipa::path(
    get,
    operation_id = "admin_reports_daily",
    path = "/api/admin/reports/daily",
    tag = "admin: reports",
    security(("bearer" = [])),
    params(Range),
    responses((status = 200, body = [DailyTotal]), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody))
)]
pub async fn daily(
    State(state): State<AppState>,
    user: AuthUser,
    QueryParams(range): QueryParams<Range>,
) -> ApiResult<SharedJson<Vec<DailyTotal>>> {
    user.require(Permission::ViewReports)?;
    let to = range.to.unwrap_or_else(|| Utc::now().date_naive());
    let from = range.from.unwrap_or(to - Duration::days(29));
    let mut v = Validation::new();
    if from > to {
        v.fail("from", "`from` must not be after `to`");
    } else if (to - from).num_days() > 366 {
        v.fail("to", "at most 366 days at a time");
    }
    v.finish()?;
    let pool = state.pool.clone();
    let rows = state
        .cache
        .daily
        .get_or_load((from, to), || async move {
            let rows: Vec<DailyTotal> = sqlx::query_as(
                "SELECT day, payments_approved_count, payments_approved_total, wallet_credits_total, wallet_debits_total, \
                 sales_count, sales_total, refunds_total FROM daily_totals WHERE day BETWEEN $1 AND $2 ORDER BY day",
            )
            .bind(from)
            .bind(to)
            .fetch_all(&pool)
            .await?;
            Ok::<_, ApiError>(Arc::new(rows))
        })
        .await?;
    Ok(SharedJson(rows))
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, sqlx::FromRow)]
pub struct Overview {
    pub customers: i64,
    pub blocked_customers: i64,
    pub active_subscriptions: i64,
    pub pending_receipts: i64,
    pub staff_accounts: i64,
    #[schema(value_type = String)]
    pub wallet_balances_total: Decimal,
    pub today_sales_count: i64,
    #[schema(value_type = String)]
    pub today_sales_total: Decimal,
    #[schema(value_type = String)]
    pub today_payments_approved_total: Decimal,
}

/// The counters on the admin home page (cached; refreshed by events).
#[utoipa::path(
    get,
    operation_id = "admin_reports_overview",
    path = "/api/admin/overview",
    tag = "admin: reports",
    security(("bearer" = [])),
    responses((status = 200, body = Overview), (status = 403, body = ErrorBody))
)]
pub async fn overview(State(state): State<AppState>, user: AuthUser) -> ApiResult<SharedJson<Overview>> {
    user.require(Permission::ViewReports)?;
    let pool = state.pool.clone();
    let o = state
        .cache
        .overview
        .get_or_load((), || async move {
            let o: Overview = sqlx::query_as(
                "SELECT (SELECT count(*) FROM customers) AS customers, \
                 (SELECT count(*) FROM customers WHERE blocked) AS blocked_customers, \
                 (SELECT count(*) FROM subscriptions WHERE status = 'active') AS active_subscriptions, \
                 (SELECT count(*) FROM pending_receipts WHERE receipt IS NOT NULL) AS pending_receipts, \
                 (SELECT count(*) FROM staff_accounts) AS staff_accounts, \
                 (SELECT coalesce(sum(balance), 0) FROM customers) AS wallet_balances_total, \
                 coalesce(d.sales_count, 0) AS today_sales_count, coalesce(d.sales_total, 0) AS today_sales_total, \
                 coalesce(d.payments_approved_total, 0) AS today_payments_approved_total \
                 FROM (SELECT 1) one LEFT JOIN daily_totals d ON d.day = (now() AT TIME ZONE 'UTC')::date",
            )
            .fetch_one(&pool)
            .await?;
            Ok::<_, ApiError>(Arc::new(o))
        })
        .await?;
    Ok(SharedJson(o))
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(daily)).routes(routes!(overview))
}
