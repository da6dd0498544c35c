//! Signing in and out: staff with a password (and TOTP when enabled),
//! customers with a one-time code the bot sends them; refresh-token rotation;
//! sessions listed and revoked; password and second-factor management.
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::Json;
use chrono::Utc;
use commands::CommandError;
use domain::staff::{NewPassword, Staff};
use domain::CustomerId;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::auth::codes::{self, CodeError};
use crate::auth::sessions::{self, RefreshError, SessionInfo};
use crate::auth::{password, totp, AuthUser, ClientIp, SessionKind};
use crate::error::{valid, ApiError, ApiResult, ErrorBody, Validation};
use crate::extract::{JsonBody, PathParam};
use crate::AppState;

/// What a successful sign-in or refresh returns.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Tokens {
    /// Send as `Authorization: Bearer <access_token>`.
    pub access_token: String,
    /// Use once at `/api/auth/refresh`; each refresh returns a new one.
    pub refresh_token: String,
    #[schema(example = "Bearer")]
    pub token_type: String,
    /// Seconds until the access token expires.
    pub expires_in: u64,
    pub kind: SessionKind,
    pub telegram_id: i64,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct StaffLogin {
    pub telegram_id: i64,
    pub password: String,
    /// The 6-digit code from the authenticator app, when two-factor is on.
    #[serde(default)]
    pub totp_code: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct CodeRequest {
    pub telegram_id: i64,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct CodeSent {
    /// Seconds the code stays valid.
    pub expires_in: u64,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct CustomerLogin {
    pub telegram_id: i64,
    #[schema(example = "042517")]
    pub code: String,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct RefreshRequest {
    pub refresh_token: String,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct PasswordChange {
    pub current_password: String,
    pub new_password: String,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct PasswordOnly {
    pub password: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct TotpSetup {
    /// Base32; type it into an authenticator app or scan `otpauth_url` as a QR code.
    pub secret: String,
    pub otpauth_url: String,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct TotpEnable {
    pub password: String,
    /// The secret from `/api/auth/totp/setup`.
    pub secret: String,
    /// A current code from the app, proving it was set up.
    pub code: String,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct TotpDisable {
    pub password: String,
    pub code: String,
}

fn user_agent(headers: &HeaderMap) -> Option<String> {
    headers.get(header::USER_AGENT).and_then(|v| v.to_str().ok()).map(str::to_string)
}

fn invalid_credentials() -> ApiError {
    ApiError::new(StatusCode::UNAUTHORIZED, "invalid_credentials", "wrong Telegram id or password")
}

fn telegram_id(v: &mut Validation, raw: i64) -> Option<CustomerId> {
    v.check("telegram_id", CustomerId::parse(&raw.to_string()))
}

async fn issue_tokens(state: &AppState, id: CustomerId, kind: SessionKind, ip: ClientIp, headers: &HeaderMap) -> ApiResult<Tokens> {
    let (session, refresh_token) = sessions::create(
        &state.pool,
        kind,
        id.0,
        ip.0.map(|i| i.to_string()),
        user_agent(headers),
        state.config.refresh_ttl,
    )
    .await?;
    Ok(tokens(state, id, session, kind, refresh_token))
}

fn tokens(state: &AppState, id: CustomerId, session: Uuid, kind: SessionKind, refresh_token: String) -> Tokens {
    Tokens {
        access_token: state.auth.access_token(id, session, kind, state.config.access_ttl),
        refresh_token,
        token_type: "Bearer".into(),
        expires_in: state.config.access_ttl.as_secs(),
        kind,
        telegram_id: id.0,
    }
}

/// Checks a staff member's password (argon2 runs off the async threads).
async fn verify_password(state: &AppState, id: CustomerId, given: &str) -> ApiResult<Staff> {
    let account = match state.commands.staff_account(id).await {
        Ok(a) => Some(a),
        Err(CommandError::NotFound(_)) => None,
        Err(e) => return Err(e.into()),
    };
    let hash = account
        .as_ref()
        .map(|a| a.password_hash.clone())
        .unwrap_or_else(|| password::decoy().to_string());
    let given = given.to_string();
    let ok = tokio::task::spawn_blocking(move || password::verify(&given, &hash))
        .await
        .map_err(ApiError::internal)?;
    match account {
        Some(a) if ok => Ok(a),
        _ => Err(invalid_credentials()),
    }
}

/// Checks a TOTP code against the account's key and uses its time step up.
async fn check_totp(state: &AppState, id: CustomerId, encrypted: &str, code: &str) -> ApiResult<()> {
    let secret = state
        .auth
        .secrets
        .decrypt(encrypted)
        .map_err(|e| ApiError::internal(format!("TOTP key of {id}: {e}")))?;
    let invalid = || ApiError::new(StatusCode::UNAUTHORIZED, "invalid_totp", "wrong or already used authenticator code");
    let step = totp::matching_step(&secret, code, Utc::now().timestamp() as u64).ok_or_else(invalid)?;
    if !totp::consume_step(&state.pool, id.0, step).await? {
        return Err(invalid());
    }
    Ok(())
}

/// Sign in with a staff password (and the authenticator code when 2FA is on).
#[utoipa::path(
    post,
    operation_id = "auth_staff_login",
    path = "/api/auth/staff/login",
    tag = "auth",
    request_body = StaffLogin,
    responses(
        (status = 200, description = "Signed in", body = Tokens),
        (status = 401, description = "`invalid_credentials`, `totp_required` or `invalid_totp`", body = ErrorBody),
        (status = 403, description = "`ip_not_allowed`, `account_suspended`, `blocked` or `no_staff_role`", body = ErrorBody),
        (status = 422, description = "`validation_failed`", body = ErrorBody),
        (status = 429, description = "`rate_limited`", body = ErrorBody),
    )
)]
pub async fn staff_login(
    State(state): State<AppState>,
    ip: ClientIp,
    headers: HeaderMap,
    JsonBody(body): JsonBody<StaffLogin>,
) -> ApiResult<Json<Tokens>> {
    state.admits(ip)?;
    let mut v = Validation::new();
    let id = telegram_id(&mut v, body.telegram_id);
    if body.password.is_empty() || body.password.chars().count() > NewPassword::MAX_CHARS {
        v.fail("password", "a password is 1 to 128 characters");
    }
    v.finish()?;
    let id = valid(id);
    let limits = &state.config.limits;
    state
        .limiter
        .hit(&format!("login:ip:{}", ip.key()), limits.logins_per_ip, limits.window)?;
    state
        .limiter
        .hit(&format!("login:staff:{id}"), limits.logins_per_account, limits.window)?;
    let account = verify_password(&state, id, &body.password).await?;
    if account.suspended {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "account_suspended",
            "this staff account is suspended",
        ));
    }
    if let Some(encrypted) = &account.totp_secret_encrypted {
        let Some(code) = body.totp_code.as_deref().filter(|c| !c.trim().is_empty()) else {
            return Err(ApiError::new(
                StatusCode::UNAUTHORIZED,
                "totp_required",
                "enter the code from your authenticator app",
            ));
        };
        check_totp(&state, id, encrypted, code).await?;
    }
    let actor = state.actor_for(id, SessionKind::Staff).await?;
    if matches!(&actor, domain::Actor::User { permissions, .. } if permissions.is_empty()) {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "no_staff_role",
            "you hold no role any more; ask an admin",
        ));
    }
    Ok(Json(issue_tokens(&state, id, SessionKind::Staff, ip, &headers).await?))
}

/// Ask the bot to send a one-time sign-in code to a customer's Telegram chat.
///
/// Always `202` for a valid request, whether or not the id belongs to a
/// customer, so the route does not reveal who uses the shop.
#[utoipa::path(
    post,
    operation_id = "auth_customer_code",
    path = "/api/auth/customer/code",
    tag = "auth",
    request_body = CodeRequest,
    responses(
        (status = 202, description = "If the id is a customer's, a code is on its way", body = CodeSent),
        (status = 422, description = "`validation_failed`", body = ErrorBody),
        (status = 429, description = "`rate_limited`", body = ErrorBody),
        (status = 502, description = "`telegram_failed`", body = ErrorBody),
        (status = 503, description = "`telegram_unavailable`: no bot token configured", body = ErrorBody),
    )
)]
pub async fn customer_code(
    State(state): State<AppState>,
    ip: ClientIp,
    JsonBody(body): JsonBody<CodeRequest>,
) -> ApiResult<(StatusCode, Json<CodeSent>)> {
    let mut v = Validation::new();
    let id = telegram_id(&mut v, body.telegram_id);
    v.finish()?;
    let id = valid(id);
    let Some(telegram) = &state.telegram else {
        return Err(ApiError::unavailable(
            "telegram_unavailable",
            "sign-in codes need the Telegram bot, which is not configured",
        ));
    };
    let limits = &state.config.limits;
    state
        .limiter
        .hit(&format!("code:ip:{}", ip.key()), limits.codes_per_ip, limits.window)?;
    state
        .limiter
        .hit(&format!("code:customer:{id}"), limits.codes_per_account, limits.window)?;
    let sent = CodeSent {
        expires_in: state.config.code_ttl.as_secs(),
    };
    // Registered and not blocked, as the events say (the read model may lag a new customer).
    match state.commands.actor(id).await {
        Ok(_) => {}
        Err(CommandError::NotFound(_) | CommandError::Blocked(_)) => return Ok((StatusCode::ACCEPTED, Json(sent))),
        Err(e) => return Err(e.into()),
    }
    let language: Option<String> = sqlx::query_scalar("SELECT language FROM customers WHERE telegram_id = $1")
        .bind(id.0)
        .fetch_optional(&state.pool)
        .await?;
    let language = language.unwrap_or_else(|| "fa".to_string());
    let code = codes::issue(&state.pool, &state.auth.code_key, id.0, state.config.code_ttl).await?;
    let minutes = state.config.code_ttl.as_secs().div_ceil(60);
    let text = if language == "en" {
        format!("Your MRJ Bot sign-in code: <code>{code}</code>\nIt expires in {minutes} minutes. If you did not ask for it, ignore this message.")
    } else {
        format!("کد ورود شما به MRJ Bot: <code>{code}</code>\nاین کد تا {minutes} دقیقه معتبر است. اگر شما درخواست نکرده‌اید، این پیام را نادیده بگیرید.")
    };
    if let Err(e) = telegram.send_message(id.0, &text).await {
        tracing::warn!(customer = %id, error = %e, "sign-in code not delivered");
        return Err(ApiError::new(
            StatusCode::BAD_GATEWAY,
            "telegram_failed",
            "the code could not be sent through Telegram; try again later",
        ));
    }
    Ok((StatusCode::ACCEPTED, Json(sent)))
}

/// Sign in as a customer with the code the bot sent.
#[utoipa::path(
    post,
    operation_id = "auth_customer_login",
    path = "/api/auth/customer/login",
    tag = "auth",
    request_body = CustomerLogin,
    responses(
        (status = 200, description = "Signed in", body = Tokens),
        (status = 401, description = "`invalid_code`, `code_expired` or `too_many_attempts`", body = ErrorBody),
        (status = 403, description = "`blocked`", body = ErrorBody),
        (status = 422, description = "`validation_failed`", body = ErrorBody),
        (status = 429, description = "`rate_limited`", body = ErrorBody),
    )
)]
pub async fn customer_login(
    State(state): State<AppState>,
    ip: ClientIp,
    headers: HeaderMap,
    JsonBody(body): JsonBody<CustomerLogin>,
) -> ApiResult<Json<Tokens>> {
    let mut v = Validation::new();
    let id = telegram_id(&mut v, body.telegram_id);
    let code = body.code.trim();
    if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
        v.fail("code", "the code is 6 digits");
    }
    v.finish()?;
    let id = valid(id);
    let limits = &state.config.limits;
    state
        .limiter
        .hit(&format!("login:ip:{}", ip.key()), limits.logins_per_ip, limits.window)?;
    state
        .limiter
        .hit(&format!("login:customer:{id}"), limits.logins_per_account, limits.window)?;
    match codes::redeem(&state.pool, &state.auth.code_key, id.0, code, limits.code_attempts).await? {
        Ok(()) => {}
        Err(CodeError::Invalid) => return Err(ApiError::new(StatusCode::UNAUTHORIZED, "invalid_code", "wrong code")),
        Err(CodeError::Expired) => {
            return Err(ApiError::new(
                StatusCode::UNAUTHORIZED,
                "code_expired",
                "the code has expired; ask for a new one",
            ))
        }
        Err(CodeError::TooManyAttempts) => {
            return Err(ApiError::new(
                StatusCode::UNAUTHORIZED,
                "too_many_attempts",
                "too many wrong guesses; ask for a new code",
            ))
        }
    }
    state.actor_for(id, SessionKind::Customer).await?;
    Ok(Json(issue_tokens(&state, id, SessionKind::Customer, ip, &headers).await?))
}

/// Trade a refresh token for new tokens. A refresh token works once; using an
/// old one again ends the session (it was copied).
#[utoipa::path(
    post,
    operation_id = "auth_refresh",
    path = "/api/auth/refresh",
    tag = "auth",
    request_body = RefreshRequest,
    responses(
        (status = 200, description = "New tokens", body = Tokens),
        (status = 401, description = "`refresh_invalid` or `refresh_reused`", body = ErrorBody),
        (status = 403, description = "`blocked` or `account_suspended`", body = ErrorBody),
    )
)]
pub async fn refresh(State(state): State<AppState>, JsonBody(body): JsonBody<RefreshRequest>) -> ApiResult<Json<Tokens>> {
    let rotated = sessions::rotate(&state.pool, body.refresh_token.trim(), state.config.refresh_ttl).await?;
    let (session, telegram_id, kind, refresh_token) = match rotated {
        Ok(r) => r,
        Err(RefreshError::Invalid) => {
            return Err(ApiError::new(
                StatusCode::UNAUTHORIZED,
                "refresh_invalid",
                "this refresh token is not valid; sign in again",
            ))
        }
        Err(RefreshError::Reused) => {
            state.cache.sessions.invalidate_all();
            return Err(ApiError::new(
                StatusCode::UNAUTHORIZED,
                "refresh_reused",
                "this refresh token was already used, so the session has been ended; sign in again",
            ));
        }
    };
    let id = CustomerId(telegram_id);
    state.actor_for(id, kind).await?;
    Ok(Json(tokens(&state, id, session, kind, refresh_token)))
}

/// End the current session.
#[utoipa::path(
    post,
    operation_id = "auth_logout",
    path = "/api/auth/logout",
    tag = "auth",
    security(("bearer" = [])),
    responses((status = 204, description = "Signed out"), (status = 401, body = ErrorBody))
)]
pub async fn logout(State(state): State<AppState>, user: AuthUser) -> ApiResult<StatusCode> {
    sessions::revoke(&state.pool, user.session, Some(user.id.0), "signed out").await?;
    state.cache.sessions.invalidate(&user.session);
    Ok(StatusCode::NO_CONTENT)
}

/// The caller's sessions (latest 50), live ones first.
#[utoipa::path(
    get,
    operation_id = "auth_my_sessions",
    path = "/api/auth/sessions",
    tag = "auth",
    security(("bearer" = [])),
    responses((status = 200, body = [SessionInfo]), (status = 401, body = ErrorBody))
)]
pub async fn my_sessions(State(state): State<AppState>, user: AuthUser) -> ApiResult<Json<Vec<SessionInfo>>> {
    Ok(Json(sessions::list(&state.pool, user.id.0, Some(user.session)).await?))
}

/// End one of the caller's own sessions (say, a lost phone).
#[utoipa::path(
    delete,
    operation_id = "auth_revoke_my_session",
    path = "/api/auth/sessions/{id}",
    tag = "auth",
    security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Session id")),
    responses((status = 204, description = "Revoked"), (status = 404, body = ErrorBody), (status = 401, body = ErrorBody))
)]
pub async fn revoke_my_session(State(state): State<AppState>, user: AuthUser, PathParam(id): PathParam<Uuid>) -> ApiResult<StatusCode> {
    if !sessions::revoke(&state.pool, id, Some(user.id.0), "revoked by its owner").await? {
        return Err(ApiError::not_found("live session"));
    }
    state.cache.sessions.invalidate(&id);
    Ok(StatusCode::NO_CONTENT)
}

/// Change the caller's staff password; their other sessions end.
#[utoipa::path(
    post,
    operation_id = "auth_change_password",
    path = "/api/auth/password",
    tag = "auth",
    security(("bearer" = [])),
    request_body = PasswordChange,
    responses(
        (status = 204, description = "Changed"),
        (status = 401, description = "`invalid_credentials`", body = ErrorBody),
        (status = 403, description = "`staff_only`", body = ErrorBody),
        (status = 422, description = "`validation_failed` (the policy: 10 to 128 characters)", body = ErrorBody),
    )
)]
pub async fn change_password(
    State(state): State<AppState>,
    user: AuthUser,
    JsonBody(body): JsonBody<PasswordChange>,
) -> ApiResult<StatusCode> {
    user.require_staff()?;
    let mut v = Validation::new();
    let new = v.check("new_password", NewPassword::parse(&body.new_password));
    v.finish()?;
    verify_password(&state, user.id, &body.current_password).await?;
    let new = valid(new);
    let hash = tokio::task::spawn_blocking(move || password::hash(&new))
        .await
        .map_err(ApiError::internal)?;
    state.commands.change_staff_password(&user.actor, user.id, hash, Utc::now()).await?;
    sessions::revoke_all(&state.pool, user.id.0, None, Some(user.session), "password changed").await?;
    state.cache.sessions.invalidate_all();
    Ok(StatusCode::NO_CONTENT)
}

/// Start turning on two-factor sign-in: a fresh secret for the authenticator
/// app. Nothing is stored until `/api/auth/totp/enable` confirms a code.
#[utoipa::path(
    post,
    operation_id = "auth_totp_setup",
    path = "/api/auth/totp/setup",
    tag = "auth",
    security(("bearer" = [])),
    request_body = PasswordOnly,
    responses(
        (status = 200, body = TotpSetup),
        (status = 401, description = "`invalid_credentials`", body = ErrorBody),
        (status = 403, description = "`staff_only`", body = ErrorBody),
    )
)]
pub async fn totp_setup(
    State(state): State<AppState>,
    user: AuthUser,
    JsonBody(body): JsonBody<PasswordOnly>,
) -> ApiResult<Json<TotpSetup>> {
    user.require_staff()?;
    verify_password(&state, user.id, &body.password).await?;
    let secret = totp::new_secret();
    let otpauth_url = totp::otpauth_url(&secret, &state.config.totp_issuer, &user.id.to_string())
        .ok_or_else(|| ApiError::internal("a fresh TOTP secret was refused"))?;
    Ok(Json(TotpSetup { secret, otpauth_url }))
}

/// Turn on two-factor sign-in with the secret from setup and a current code.
#[utoipa::path(
    post,
    operation_id = "auth_totp_enable",
    path = "/api/auth/totp/enable",
    tag = "auth",
    security(("bearer" = [])),
    request_body = TotpEnable,
    responses(
        (status = 204, description = "On"),
        (status = 401, description = "`invalid_credentials` or `invalid_totp`", body = ErrorBody),
        (status = 409, description = "`totp_already_enabled`", body = ErrorBody),
        (status = 422, description = "`validation_failed`", body = ErrorBody),
    )
)]
pub async fn totp_enable(State(state): State<AppState>, user: AuthUser, JsonBody(body): JsonBody<TotpEnable>) -> ApiResult<StatusCode> {
    user.require_staff()?;
    let mut v = Validation::new();
    if !totp::is_valid_secret(body.secret.trim()) {
        v.fail("secret", "not a secret from /api/auth/totp/setup");
    }
    v.finish()?;
    verify_password(&state, user.id, &body.password).await?;
    let secret = body.secret.trim().to_string();
    let encrypted = state.auth.secrets.encrypt(&secret);
    check_totp(&state, user.id, &encrypted, &body.code).await?;
    state
        .commands
        .enable_staff_totp(&user.actor, user.id, encrypted, Utc::now())
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Turn off two-factor sign-in (password and a current code required).
#[utoipa::path(
    post,
    operation_id = "auth_totp_disable",
    path = "/api/auth/totp/disable",
    tag = "auth",
    security(("bearer" = [])),
    request_body = TotpDisable,
    responses(
        (status = 204, description = "Off"),
        (status = 401, description = "`invalid_credentials` or `invalid_totp`", body = ErrorBody),
        (status = 422, description = "`totp_not_enabled`", body = ErrorBody),
    )
)]
pub async fn totp_disable(State(state): State<AppState>, user: AuthUser, JsonBody(body): JsonBody<TotpDisable>) -> ApiResult<StatusCode> {
    user.require_staff()?;
    let account = verify_password(&state, user.id, &body.password).await?;
    let Some(encrypted) = account.totp_secret_encrypted else {
        return Err(CommandError::Staff(domain::staff::StaffError::TotpNotEnabled).into());
    };
    check_totp(&state, user.id, &encrypted, &body.code).await?;
    state.commands.disable_staff_totp(&user.actor, user.id, Utc::now()).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(staff_login))
        .routes(routes!(customer_code))
        .routes(routes!(customer_login))
        .routes(routes!(refresh))
        .routes(routes!(logout))
        .routes(routes!(my_sessions))
        .routes(routes!(revoke_my_session))
        .routes(routes!(change_password))
        .routes(routes!(totp_setup))
        .routes(routes!(totp_enable))
        .routes(routes!(totp_disable))
}
