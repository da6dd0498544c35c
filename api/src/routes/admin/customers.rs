//! Users: search, look at one, block and unblock, grant and revoke roles,
//! correct a wallet. Reads from the read models; writes through commands,
//! where the domain checks the permission again.
use std::str::FromStr;

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use chrono::Utc;
use domain::access::RoleName;
use domain::{CustomerId, Permission, Toman};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::AuthUser;
use crate::error::{valid, ApiError, ApiResult, ErrorBody, Validation};
use crate::extract::{JsonBody, PathParam, QueryParams};
use crate::routes::me::StaffStatus;
use crate::routes::views::{self, Customer, LedgerEntry, Page, Payment, Subscription, CUSTOMER_COLUMNS};
use crate::AppState;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CustomerQuery {
    /// A Telegram id, or part of a username.
    pub q: Option<String>,
    /// Only holders of this role.
    pub role: Option<String>,
    pub blocked: Option<bool>,
    pub limit: Option<i64>,
    pub offset: Option<i64>,
}

/// Customers, newest first, filtered.
#[utoipa::path(
    get,
    operation_id = "admin_customers_list",
    path = "/api/admin/customers",
    tag = "admin: users",
    security(("bearer" = [])),
    params(CustomerQuery),
    responses((status = 200, body = [Customer]), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody))
)]
pub async fn list(
    State(state): State<AppState>,
    user: AuthUser,
    QueryParams(q): QueryParams<CustomerQuery>,
) -> ApiResult<Json<Vec<Customer>>> {
    user.require(Permission::ManageUsers)?;
    let (limit, offset) = Page {
        limit: q.limit,
        offset: q.offset,
    }
    .checked()?;
    let mut v = Validation::new();
    let role = match &q.role {
        Some(r) => v.check("role", RoleName::parse(r)).map(|r| Some(r.to_string())),
        None => Some(None),
    };
    let text = q.q.as_deref().map(str::trim).filter(|s| !s.is_empty());
    if text.is_some_and(|t| t.chars().count() > 64) {
        v.fail("q", "at most 64 characters");
    }
    v.finish()?;
    let id = text.and_then(|t| t.trim_start_matches('@').parse::<i64>().ok());
    let pattern = text.map(|t| {
        format!(
            "%{}%",
            t.trim_start_matches('@')
                .replace('\\', "\\\\")
                .replace('%', "\\%")
                .replace('_', "\\_")
        )
    });
    let rows = sqlx::query_as(&format!(
        "SELECT {CUSTOMER_COLUMNS} FROM customers \
         WHERE ($1::text IS NULL OR telegram_id = $2 OR username ILIKE $1) \
         AND ($3::text IS NULL OR $3 = ANY(roles)) AND ($4::bool IS NULL OR blocked = $4) \
         ORDER BY registered_at DESC LIMIT $5 OFFSET $6"
    ))
    .bind(pattern)
    .bind(id)
    .bind(valid(role))
    .bind(q.blocked)
    .bind(limit)
    .bind(offset)
    .fetch_all(&state.pool)
    .await?;
    Ok(Json(rows))
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct CustomerDetail {
    #[serde(flatten)]
    pub customer: Customer,
    pub staff: Option<StaffStatus>,
    pub subscriptions: i64,
    pub active_subscriptions: i64,
}

/// One customer.
#[utoipa::path(
    get,
    operation_id = "admin_customers_detail",
    path = "/api/admin/customers/{id}",
    tag = "admin: users",
    security(("bearer" = [])),
    params(("id" = i64, Path, description = "Telegram id")),
    responses((status = 200, body = CustomerDetail), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody))
)]
pub async fn detail(State(state): State<AppState>, user: AuthUser, PathParam(id): PathParam<i64>) -> ApiResult<Json<CustomerDetail>> {
    user.require(Permission::ManageUsers)?;
    let customer = views::customer(&state.pool, id)
        .await?
        .ok_or_else(|| ApiError::not_found("customer"))?;
    let staff: Option<StaffStatus> = sqlx::query_as("SELECT totp_enabled, suspended FROM staff_accounts WHERE telegram_id = $1")
        .bind(id)
        .fetch_optional(&state.pool)
        .await?;
    let (subscriptions, active_subscriptions): (i64, i64) =
        sqlx::query_as("SELECT count(*), count(*) FILTER (WHERE status = 'active') FROM subscriptions WHERE customer = $1")
            .bind(id)
            .fetch_one(&state.pool)
            .await?;
    Ok(Json(CustomerDetail {
        customer,
        staff,
        subscriptions,
        active_subscriptions,
    }))
}

/// A customer's wallet movements, newest first.
#[utoipa::path(
    get,
    operation_id = "admin_customers_transactions",
    path = "/api/admin/customers/{id}/transactions",
    tag = "admin: users",
    security(("bearer" = [])),
    params(("id" = i64, Path, description = "Telegram id"), Page),
    responses((status = 200, body = [LedgerEntry]), (status = 403, body = ErrorBody))
)]
pub async fn transactions(
    State(state): State<AppState>,
    user: AuthUser,
    PathParam(id): PathParam<i64>,
    QueryParams(page): QueryParams<Page>,
) -> ApiResult<Json<Vec<LedgerEntry>>> {
    user.require_any(&[Permission::ManageUsers, Permission::AdjustWallets])?;
    let (limit, offset) = page.checked()?;
    Ok(Json(views::ledger(&state.pool, id, limit, offset).await?))
}

/// A customer's payments, newest first.
#[utoipa::path(
    get,
    operation_id = "admin_customers_payments",
    path = "/api/admin/customers/{id}/payments",
    tag = "admin: users",
    security(("bearer" = [])),
    params(("id" = i64, Path, description = "Telegram id"), Page),
    responses((status = 200, body = [Payment]), (status = 403, body = ErrorBody))
)]
pub async fn payments(
    State(state): State<AppState>,
    user: AuthUser,
    PathParam(id): PathParam<i64>,
    QueryParams(page): QueryParams<Page>,
) -> ApiResult<Json<Vec<Payment>>> {
    user.require_any(&[Permission::ManageUsers, Permission::ApproveReceipts])?;
    let (limit, offset) = page.checked()?;
    Ok(Json(views::payments_of(&state.pool, id, limit, offset).await?))
}

/// A customer's subscriptions.
#[utoipa::path(
    get,
    operation_id = "admin_customers_subscriptions",
    path = "/api/admin/customers/{id}/subscriptions",
    tag = "admin: users",
    security(("bearer" = [])),
    params(("id" = i64, Path, description = "Telegram id")),
    responses((status = 200, body = [Subscription]), (status = 403, body = ErrorBody))
)]
pub async fn subscriptions(
    State(state): State<AppState>,
    user: AuthUser,
    PathParam(id): PathParam<i64>,
) -> ApiResult<Json<Vec<Subscription>>> {
    user.require_any(&[Permission::ManageUsers, Permission::ManageSubscriptions])?;
    Ok(Json(views::subscriptions_of(&state.pool, id).await?))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct Reason {
    pub reason: String,
}

fn customer_id(raw: i64) -> ApiResult<CustomerId> {
    CustomerId::parse(&raw.to_string()).map_err(|_| ApiError::not_found("customer"))
}

fn reason(v: &mut Validation, r: &str) -> Option<String> {
    let r = r.trim();
    if r.is_empty() || r.chars().count() > 500 {
        v.fail("reason", "a reason is 1 to 500 characters");
        return None;
    }
    Some(r.to_string())
}

/// Block a customer (they keep their data; they lose the bot and any staff power).
#[utoipa::path(
    post,
    operation_id = "admin_customers_block",
    path = "/api/admin/customers/{id}/block",
    tag = "admin: users",
    security(("bearer" = [])),
    params(("id" = i64, Path, description = "Telegram id")),
    request_body = Reason,
    responses(
        (status = 204, description = "Blocked"),
        (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 409, description = "`already_blocked`", body = ErrorBody),
        (status = 422, body = ErrorBody),
    )
)]
pub async fn block(
    State(state): State<AppState>,
    user: AuthUser,
    PathParam(id): PathParam<i64>,
    JsonBody(body): JsonBody<Reason>,
) -> ApiResult<StatusCode> {
    user.require(Permission::ManageUsers)?;
    let mut v = Validation::new();
    let why = reason(&mut v, &body.reason);
    v.finish()?;
    state
        .commands
        .block_customer(&user.actor, customer_id(id)?, valid(why), Utc::now())
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Unblock a customer.
#[utoipa::path(
    post,
    operation_id = "admin_customers_unblock",
    path = "/api/admin/customers/{id}/unblock",
    tag = "admin: users",
    security(("bearer" = [])),
    params(("id" = i64, Path, description = "Telegram id")),
    responses((status = 204, description = "Unblocked"), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody))
)]
pub async fn unblock(State(state): State<AppState>, user: AuthUser, PathParam(id): PathParam<i64>) -> ApiResult<StatusCode> {
    user.require(Permission::ManageUsers)?;
    state.commands.unblock_customer(&user.actor, customer_id(id)?, Utc::now()).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct RoleGrant {
    /// A built-in role (`admin`, `seller`, `receipt_admin`, …) or a custom one.
    #[schema(example = "receipt_admin")]
    pub role: String,
}

/// Give a customer a role.
#[utoipa::path(
    post,
    operation_id = "admin_customers_grant_role",
    path = "/api/admin/customers/{id}/roles",
    tag = "admin: users",
    security(("bearer" = [])),
    params(("id" = i64, Path, description = "Telegram id")),
    request_body = RoleGrant,
    responses(
        (status = 204, description = "Granted"),
        (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 409, description = "`role_already_granted`", body = ErrorBody),
        (status = 422, body = ErrorBody),
    )
)]
pub async fn grant_role(
    State(state): State<AppState>,
    user: AuthUser,
    PathParam(id): PathParam<i64>,
    JsonBody(body): JsonBody<RoleGrant>,
) -> ApiResult<StatusCode> {
    user.require(Permission::ManageRoles)?;
    let mut v = Validation::new();
    let role = v.check("role", RoleName::parse(&body.role));
    v.finish()?;
    state
        .commands
        .grant_role(&user.actor, customer_id(id)?, valid(role), Utc::now())
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Take a role away.
#[utoipa::path(
    delete,
    operation_id = "admin_customers_revoke_role",
    path = "/api/admin/customers/{id}/roles/{role}",
    tag = "admin: users",
    security(("bearer" = [])),
    params(("id" = i64, Path, description = "Telegram id"), ("role" = String, Path, description = "Role name")),
    responses(
        (status = 204, description = "Revoked"),
        (status = 403, body = ErrorBody),
        (status = 422, description = "`role_not_held`, `cannot_revoke_own_admin`", body = ErrorBody),
    )
)]
pub async fn revoke_role(
    State(state): State<AppState>,
    user: AuthUser,
    PathParam((id, role)): PathParam<(i64, String)>,
) -> ApiResult<StatusCode> {
    user.require(Permission::ManageRoles)?;
    let mut v = Validation::new();
    let role = v.check("role", RoleName::parse(&role));
    v.finish()?;
    state
        .commands
        .revoke_role(&user.actor, customer_id(id)?, valid(role), Utc::now())
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct Adjustment {
    /// Signed Toman: `"5000"` credits, `"-5000"` debits.
    #[schema(example = "-5000")]
    pub amount: String,
    /// Why, for the ledger and the audit.
    pub note: String,
}

/// Parses `-5,000` / `5000` / `۵۰۰۰` into a signed, non-zero amount.
pub fn signed_amount(s: &str) -> Result<Decimal, String> {
    let t = s.trim();
    let (negative, body) = match t.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, t.strip_prefix('+').unwrap_or(t)),
    };
    let amount = Toman::from_str(body).map_err(|e| e.to_string())?;
    if amount.is_zero() {
        return Err("amount must not be zero".into());
    }
    Ok(if negative { -amount.value() } else { amount.value() })
}

/// Credit or debit a wallet by hand, with a note (the balance never goes below zero).
#[utoipa::path(
    post,
    operation_id = "admin_customers_adjust_wallet",
    path = "/api/admin/customers/{id}/wallet-adjustments",
    tag = "admin: users",
    security(("bearer" = [])),
    params(("id" = i64, Path, description = "Telegram id")),
    request_body = Adjustment,
    responses(
        (status = 204, description = "Adjusted"),
        (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 422, description = "`validation_failed`, `insufficient_balance`", body = ErrorBody),
    )
)]
pub async fn adjust_wallet(
    State(state): State<AppState>,
    user: AuthUser,
    PathParam(id): PathParam<i64>,
    JsonBody(body): JsonBody<Adjustment>,
) -> ApiResult<StatusCode> {
    user.require(Permission::AdjustWallets)?;
    let mut v = Validation::new();
    let amount = v.check("amount", signed_amount(&body.amount));
    let note = body.note.trim();
    if note.is_empty() || note.chars().count() > 500 {
        v.fail("note", "a note is 1 to 500 characters");
    }
    v.finish()?;
    state
        .commands
        .adjust_wallet(&user.actor, customer_id(id)?, valid(amount), note.to_string(), Utc::now())
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list))
        .routes(routes!(detail))
        .routes(routes!(transactions))
        .routes(routes!(payments))
        .routes(routes!(subscriptions))
        .routes(routes!(block))
        .routes(routes!(unblock))
        .routes(routes!(grant_role))
        .routes(routes!(revoke_role))
        .routes(routes!(adjust_wallet))
}

#[cfg(test)]
mod tests {
    use super::signed_amount;
    use rust_decimal_macros::dec;

    #[test]
    fn signed_amounts_parse_with_separators_and_refuse_zero() {
        assert_eq!(signed_amount("-5,000"), Ok(dec!(-5000)));
        assert_eq!(signed_amount("+۵۰۰۰"), Ok(dec!(5000)));
        assert!(signed_amount("0").is_err());
        assert!(signed_amount("1.25").is_err());
        assert!(signed_amount("abc").is_err());
    }
}
