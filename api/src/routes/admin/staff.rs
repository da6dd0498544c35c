//! Staff accounts (who may sign in with a password) and their sessions.
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use chrono::{DateTime, Utc};
use domain::staff::NewPassword;
use domain::{CustomerId, Permission};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::auth::sessions::{self, SessionInfo};
use crate::auth::{password, AuthUser, SessionKind};
use crate::error::{valid, ApiError, ApiResult, ErrorBody, Validation};
use crate::extract::{JsonBody, PathParam};
use crate::AppState;

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, sqlx::FromRow)]
pub struct StaffAccount {
    pub telegram_id: i64,
    pub username: Option<String>,
    pub roles: Vec<String>,
    pub totp_enabled: bool,
    pub suspended: bool,
    pub suspend_reason: Option<String>,
    pub created_at: DateTime<Utc>,
    pub password_changed_at: DateTime<Utc>,
    pub live_sessions: i64,
}

/// Every staff account.
#[utoipa::path(
    get,
    operation_id = "admin_staff_list",
    path = "/api/admin/staff",
    tag = "admin: staff",
    security(("bearer" = [])),
    responses((status = 200, body = [StaffAccount]), (status = 403, body = ErrorBody))
)]
pub async fn list(State(state): State<AppState>, user: AuthUser) -> ApiResult<Json<Vec<StaffAccount>>> {
    user.require(Permission::ManageUsers)?;
    let rows = sqlx::query_as(
        "SELECT s.telegram_id, c.username, coalesce(c.roles, '{}') AS roles, s.totp_enabled, s.suspended, s.suspend_reason, \
         s.created_at, s.password_changed_at, \
         (SELECT count(*) FROM api_sessions a WHERE a.telegram_id = s.telegram_id AND a.kind = 'staff' \
          AND a.revoked_at IS NULL AND a.expires_at > now()) AS live_sessions \
         FROM staff_accounts s LEFT JOIN customers c ON c.telegram_id = s.telegram_id ORDER BY s.created_at",
    )
    .fetch_all(&state.pool)
    .await?;
    Ok(Json(rows))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct NewStaff {
    /// A registered customer who holds at least one role.
    pub telegram_id: i64,
    /// 10 to 128 characters; tell it to them, they can change it.
    pub password: String,
}

/// Give a role holder a staff account.
#[utoipa::path(
    post,
    operation_id = "admin_staff_create",
    path = "/api/admin/staff",
    tag = "admin: staff",
    security(("bearer" = [])),
    request_body = NewStaff,
    responses(
        (status = 201, description = "Created"),
        (status = 403, body = ErrorBody),
        (status = 404, description = "Not a customer", body = ErrorBody),
        (status = 409, description = "`already_exists`", body = ErrorBody),
        (status = 422, description = "`validation_failed`, `no_roles`", body = ErrorBody),
    )
)]
pub async fn create(State(state): State<AppState>, user: AuthUser, JsonBody(body): JsonBody<NewStaff>) -> ApiResult<StatusCode> {
    user.require(Permission::ManageUsers)?;
    let mut v = Validation::new();
    let id = v.check("telegram_id", CustomerId::parse(&body.telegram_id.to_string()));
    let pw = v.check("password", NewPassword::parse(&body.password));
    v.finish()?;
    let pw = valid(pw);
    let hash = tokio::task::spawn_blocking(move || password::hash(&pw))
        .await
        .map_err(ApiError::internal)?;
    state
        .commands
        .create_staff_account(&user.actor, valid(id), hash, Utc::now())
        .await?;
    Ok(StatusCode::CREATED)
}

fn staff_id(raw: i64) -> ApiResult<CustomerId> {
    CustomerId::parse(&raw.to_string()).map_err(|_| ApiError::not_found("staff account"))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct SuspendRequest {
    pub reason: String,
}

/// Suspend a staff account: its sessions end at once.
#[utoipa::path(
    post,
    operation_id = "admin_staff_suspend",
    path = "/api/admin/staff/{id}/suspend",
    tag = "admin: staff",
    security(("bearer" = [])),
    params(("id" = i64, Path, description = "Telegram id")),
    request_body = SuspendRequest,
    responses(
        (status = 204, description = "Suspended"),
        (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 409, description = "`already_suspended`", body = ErrorBody),
        (status = 422, description = "`cannot_suspend_self`, `reason_required`", body = ErrorBody),
    )
)]
pub async fn suspend(
    State(state): State<AppState>,
    user: AuthUser,
    PathParam(id): PathParam<i64>,
    JsonBody(body): JsonBody<SuspendRequest>,
) -> ApiResult<StatusCode> {
    user.require(Permission::ManageUsers)?;
    let id = staff_id(id)?;
    state.commands.suspend_staff(&user.actor, id, body.reason, Utc::now()).await?;
    sessions::revoke_all(&state.pool, id.0, Some(SessionKind::Staff), None, "account suspended").await?;
    state.cache.sessions.invalidate_all();
    state.cache.actors.invalidate(&(id.0, SessionKind::Staff));
    Ok(StatusCode::NO_CONTENT)
}

/// Lift a suspension.
#[utoipa::path(
    post,
    operation_id = "admin_staff_reinstate",
    path = "/api/admin/staff/{id}/reinstate",
    tag = "admin: staff",
    security(("bearer" = [])),
    params(("id" = i64, Path, description = "Telegram id")),
    responses((status = 204, description = "Reinstated"), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody))
)]
pub async fn reinstate(State(state): State<AppState>, user: AuthUser, PathParam(id): PathParam<i64>) -> ApiResult<StatusCode> {
    user.require(Permission::ManageUsers)?;
    state.commands.reinstate_staff(&user.actor, staff_id(id)?, Utc::now()).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Turn off someone's two-factor sign-in (a lost phone); they can set it up again.
#[utoipa::path(
    post,
    operation_id = "admin_staff_reset_totp",
    path = "/api/admin/staff/{id}/totp/reset",
    tag = "admin: staff",
    security(("bearer" = [])),
    params(("id" = i64, Path, description = "Telegram id")),
    responses((status = 204, description = "Two-factor is off"), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, description = "`totp_not_enabled`", body = ErrorBody))
)]
pub async fn reset_totp(State(state): State<AppState>, user: AuthUser, PathParam(id): PathParam<i64>) -> ApiResult<StatusCode> {
    user.require(Permission::ManageUsers)?;
    state.commands.disable_staff_totp(&user.actor, staff_id(id)?, Utc::now()).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Someone's sessions (staff and customer), latest first.
#[utoipa::path(
    get,
    operation_id = "admin_staff_sessions_of",
    path = "/api/admin/staff/{id}/sessions",
    tag = "admin: staff",
    security(("bearer" = [])),
    params(("id" = i64, Path, description = "Telegram id")),
    responses((status = 200, body = [SessionInfo]), (status = 403, body = ErrorBody))
)]
pub async fn sessions_of(
    State(state): State<AppState>,
    user: AuthUser,
    PathParam(id): PathParam<i64>,
) -> ApiResult<Json<Vec<SessionInfo>>> {
    user.require(Permission::ManageUsers)?;
    Ok(Json(sessions::list(&state.pool, id, Some(user.session)).await?))
}

/// End anyone's session.
#[utoipa::path(
    delete,
    operation_id = "admin_staff_revoke_session",
    path = "/api/admin/sessions/{id}",
    tag = "admin: staff",
    security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Session id")),
    responses((status = 204, description = "Revoked"), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody))
)]
pub async fn revoke_session(State(state): State<AppState>, user: AuthUser, PathParam(id): PathParam<Uuid>) -> ApiResult<StatusCode> {
    user.require(Permission::ManageUsers)?;
    if !sessions::revoke(&state.pool, id, None, &format!("revoked by {}", user.id)).await? {
        return Err(ApiError::not_found("live session"));
    }
    state.cache.sessions.invalidate(&id);
    Ok(StatusCode::NO_CONTENT)
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(suspend))
        .routes(routes!(reinstate))
        .routes(routes!(reset_totp))
        .routes(routes!(sessions_of))
        .routes(routes!(revoke_session))
}
