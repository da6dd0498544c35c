//! Subscriptions across customers, and cancelling one with a refund.
use std::str::FromStr;

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use chrono::Utc;
use domain::{Permission, Toman};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::auth::AuthUser;
use crate::error::{valid, ApiError, ApiResult, ErrorBody, Validation};
use crate::extract::{JsonBody, PathParam, QueryParams};
use crate::routes::views::{self, Page, Subscription, SUBSCRIPTION_SELECT};
use crate::AppState;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SubscriptionQuery {
    /// `pending`, `active`, `failed`, `expired` or `cancelled`.
    pub status: Option<String>,
    pub customer: Option<i64>,
    pub plan_id: Option<Uuid>,
    pub limit: Option<i64>,
    pub offset: Option<i64>,
}

const STATUSES: [&str; 5] = ["pending", "active", "failed", "expired", "cancelled"];

/// Subscriptions, most recently changed first.
#[utoipa::path(
    get,
    operation_id = "admin_subscriptions_list",
    path = "/api/admin/subscriptions",
    tag = "admin: subscriptions",
    security(("bearer" = [])),
    params(SubscriptionQuery),
    responses((status = 200, body = [Subscription]), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody))
)]
pub async fn list(
    State(state): State<AppState>,
    user: AuthUser,
    QueryParams(q): QueryParams<SubscriptionQuery>,
) -> ApiResult<Json<Vec<Subscription>>> {
    user.require(Permission::ManageSubscriptions)?;
    let (limit, offset) = Page {
        limit: q.limit,
        offset: q.offset,
    }
    .checked()?;
    let mut v = Validation::new();
    if q.status.as_deref().is_some_and(|s| !STATUSES.contains(&s)) {
        v.fail("status", format!("one of {}", STATUSES.join(", ")));
    }
    v.finish()?;
    let rows = sqlx::query_as(&format!(
        "{SUBSCRIPTION_SELECT} WHERE ($1::text IS NULL OR s.status = $1) AND ($2::bigint IS NULL OR s.customer = $2) \
         AND ($3::uuid IS NULL OR s.plan_id = $3) ORDER BY s.updated_at DESC LIMIT $4 OFFSET $5"
    ))
    .bind(&q.status)
    .bind(q.customer)
    .bind(q.plan_id)
    .bind(limit)
    .bind(offset)
    .fetch_all(&state.pool)
    .await?;
    Ok(Json(rows))
}

/// One subscription.
#[utoipa::path(
    get,
    operation_id = "admin_subscriptions_detail",
    path = "/api/admin/subscriptions/{id}",
    tag = "admin: subscriptions",
    security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Subscription id")),
    responses((status = 200, body = Subscription), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody))
)]
pub async fn detail(State(state): State<AppState>, user: AuthUser, PathParam(id): PathParam<Uuid>) -> ApiResult<Json<Subscription>> {
    user.require(Permission::ManageSubscriptions)?;
    Ok(Json(
        views::subscription(&state.pool, id)
            .await?
            .ok_or_else(|| ApiError::not_found("subscription"))?,
    ))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct Cancellation {
    /// Toman returned to the wallet, at most what was paid; `"0"` for none.
    #[schema(example = "50000")]
    pub refund: String,
    pub reason: String,
}

/// Cancel a subscription, refunding up to what was paid.
#[utoipa::path(
    post,
    operation_id = "admin_subscriptions_cancel",
    path = "/api/admin/subscriptions/{id}/cancel",
    tag = "admin: subscriptions",
    security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Subscription id")),
    request_body = Cancellation,
    responses(
        (status = 204, description = "Cancelled (and refunded)"),
        (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 422, description = "`refund_too_large`, `wrong_status`, `validation_failed`", body = ErrorBody),
    )
)]
pub async fn cancel(
    State(state): State<AppState>,
    user: AuthUser,
    PathParam(id): PathParam<Uuid>,
    JsonBody(body): JsonBody<Cancellation>,
) -> ApiResult<StatusCode> {
    user.require(Permission::ManageSubscriptions)?;
    let mut v = Validation::new();
    let refund = v.check("refund", Toman::from_str(&body.refund));
    let reason = body.reason.trim();
    if reason.is_empty() || reason.chars().count() > 500 {
        v.fail("reason", "a reason is 1 to 500 characters");
    }
    v.finish()?;
    state.commands.subscription(id).await?;
    state
        .commands
        .cancel_subscription(&user.actor, id, valid(refund), reason.to_string(), Utc::now())
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list))
        .routes(routes!(detail))
        .routes(routes!(cancel))
}
