//! The signed-in person's own data (customer or staff): profile, wallet
//! history, payments, subscriptions; buying and renewing from the wallet and
//! starting a card-to-card top-up. Nothing here takes someone else's id.
use std::str::FromStr;
use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use chrono::{DateTime, Utc};
use commands::PurchaseOutcome;
use domain::payment::{PaymentEvent, PaymentMethod, PaymentPurpose};
use domain::{Language, Location, Toman};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::views::{self, LedgerEntry, Page, Payment, Subscription};
use crate::auth::{AuthUser, SessionKind};
use crate::error::{valid, ApiError, ApiResult, ErrorBody, Validation};
use crate::extract::{JsonBody, PathParam, QueryParams};
use crate::AppState;

/// What `/api/me` caches per person (the session-specific part is added per request).
#[derive(Debug, Clone)]
pub struct Profile {
    pub customer: views::Customer,
    pub staff: Option<StaffStatus>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, sqlx::FromRow)]
pub struct StaffStatus {
    pub totp_enabled: bool,
    pub suspended: bool,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Me {
    #[serde(flatten)]
    pub customer: views::Customer,
    /// How this session signed in.
    pub session_kind: SessionKind,
    /// What this session may do (none for a customer session): `approve_receipts`, `manage_users`, …
    pub permissions: Vec<String>,
    /// Present when the person has a staff account.
    pub staff: Option<StaffStatus>,
}

/// The caller's profile and balance.
#[utoipa::path(
    get,
    operation_id = "me_me",
    path = "/api/me",
    tag = "me",
    security(("bearer" = [])),
    responses((status = 200, body = Me), (status = 401, body = ErrorBody))
)]
pub async fn me(State(state): State<AppState>, user: AuthUser) -> ApiResult<Json<Me>> {
    let pool = state.pool.clone();
    let id = user.id.0;
    let profile = state
        .cache
        .profiles
        .get_or_load(id, || async move {
            let customer = views::customer(&pool, id).await?.ok_or_else(|| ApiError::not_found("customer"))?;
            let staff: Option<StaffStatus> = sqlx::query_as("SELECT totp_enabled, suspended FROM staff_accounts WHERE telegram_id = $1")
                .bind(id)
                .fetch_optional(&pool)
                .await?;
            Ok::<_, ApiError>(Arc::new(Profile { customer, staff }))
        })
        .await?;
    Ok(Json(Me {
        customer: profile.customer.clone(),
        session_kind: user.kind,
        permissions: if user.kind == SessionKind::Staff {
            user.permissions().iter().map(|p| p.name().to_string()).collect()
        } else {
            vec![]
        },
        staff: profile.staff.clone(),
    }))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct LanguageChange {
    /// `fa` or `en`.
    pub language: String,
}

/// Choose the language of the bot and the dashboard.
#[utoipa::path(
    put,
    operation_id = "me_set_language",
    path = "/api/me/language",
    tag = "me",
    security(("bearer" = [])),
    request_body = LanguageChange,
    responses((status = 204, description = "Changed"), (status = 422, body = ErrorBody), (status = 401, body = ErrorBody))
)]
pub async fn set_language(
    State(state): State<AppState>,
    user: AuthUser,
    JsonBody(body): JsonBody<LanguageChange>,
) -> ApiResult<StatusCode> {
    let mut v = Validation::new();
    let language = v.check("language", Language::parse(&body.language));
    v.finish()?;
    state.commands.change_language(user.id, valid(language), Utc::now()).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The caller's wallet movements, newest first.
#[utoipa::path(
    get,
    operation_id = "me_my_transactions",
    path = "/api/me/transactions",
    tag = "me",
    security(("bearer" = [])),
    params(Page),
    responses((status = 200, body = [LedgerEntry]), (status = 401, body = ErrorBody))
)]
pub async fn my_transactions(
    State(state): State<AppState>,
    user: AuthUser,
    QueryParams(page): QueryParams<Page>,
) -> ApiResult<Json<Vec<LedgerEntry>>> {
    let (limit, offset) = page.checked()?;
    Ok(Json(views::ledger(&state.pool, user.id.0, limit, offset).await?))
}

/// The caller's payments, newest first.
#[utoipa::path(
    get,
    operation_id = "me_my_payments",
    path = "/api/me/payments",
    tag = "me",
    security(("bearer" = [])),
    params(Page),
    responses((status = 200, body = [Payment]), (status = 401, body = ErrorBody))
)]
pub async fn my_payments(
    State(state): State<AppState>,
    user: AuthUser,
    QueryParams(page): QueryParams<Page>,
) -> ApiResult<Json<Vec<Payment>>> {
    let (limit, offset) = page.checked()?;
    Ok(Json(views::payments_of(&state.pool, user.id.0, limit, offset).await?))
}

/// The caller's subscriptions, with their links once provisioned.
#[utoipa::path(
    get,
    operation_id = "me_my_subscriptions",
    path = "/api/me/subscriptions",
    tag = "me",
    security(("bearer" = [])),
    responses((status = 200, body = [Subscription]), (status = 401, body = ErrorBody))
)]
pub async fn my_subscriptions(State(state): State<AppState>, user: AuthUser) -> ApiResult<Json<Vec<Subscription>>> {
    Ok(Json(views::subscriptions_of(&state.pool, user.id.0).await?))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct PurchaseRequest {
    pub plan_id: Uuid,
    #[schema(example = "France")]
    pub location: String,
    /// Any UUID the client makes up once per purchase: sending the same
    /// request again returns the first outcome instead of buying twice.
    #[serde(default)]
    pub request_id: Option<Uuid>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct PurchaseResult {
    pub subscription_id: Uuid,
    /// `active` or `failed` (say, the wallet could not pay).
    pub status: String,
    pub expires_at: Option<DateTime<Utc>>,
    pub reason: Option<String>,
}

impl From<PurchaseOutcome> for PurchaseResult {
    fn from(o: PurchaseOutcome) -> Self {
        match o {
            PurchaseOutcome::Active { subscription, expires_at } => PurchaseResult {
                subscription_id: subscription,
                status: "active".into(),
                expires_at: Some(expires_at),
                reason: None,
            },
            PurchaseOutcome::Failed { subscription, reason } => PurchaseResult {
                subscription_id: subscription,
                status: "failed".into(),
                expires_at: None,
                reason: Some(reason),
            },
        }
    }
}

/// Buy a plan from the wallet.
#[utoipa::path(
    post,
    operation_id = "me_purchase",
    path = "/api/me/subscriptions",
    tag = "me",
    security(("bearer" = [])),
    request_body = PurchaseRequest,
    responses(
        (status = 200, description = "Bought, or failed with a reason (e.g. not enough balance)", body = PurchaseResult),
        (status = 404, body = ErrorBody),
        (status = 422, description = "`validation_failed`, `retired`, `location_not_offered`, …", body = ErrorBody),
    )
)]
pub async fn purchase(
    State(state): State<AppState>,
    user: AuthUser,
    JsonBody(body): JsonBody<PurchaseRequest>,
) -> ApiResult<Json<PurchaseResult>> {
    let mut v = Validation::new();
    let location = v.check("location", Location::parse(&body.location));
    v.finish()?;
    let subscription = body.request_id.unwrap_or_else(Uuid::new_v4);
    let outcome = state
        .commands
        .purchase_plan(&user.actor, user.id, body.plan_id, &valid(location), subscription, Utc::now())
        .await?;
    Ok(Json(outcome.into()))
}

/// Renew one of the caller's subscriptions at today's price, from the wallet.
#[utoipa::path(
    post,
    operation_id = "me_renew",
    path = "/api/me/subscriptions/{id}/renew",
    tag = "me",
    security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Subscription id")),
    responses(
        (status = 200, body = PurchaseResult),
        (status = 404, body = ErrorBody),
        (status = 409, description = "`charge_pending`", body = ErrorBody),
        (status = 422, description = "`not_your_subscription`, …", body = ErrorBody),
    )
)]
pub async fn renew(State(state): State<AppState>, user: AuthUser, PathParam(id): PathParam<Uuid>) -> ApiResult<Json<PurchaseResult>> {
    let sub = state.commands.subscription(id).await?;
    if sub.customer != Some(user.id) {
        // Someone else's subscription does not exist, as far as this caller can tell.
        return Err(ApiError::not_found("subscription"));
    }
    let outcome = state.commands.renew_subscription(&user.actor, id, Utc::now()).await?;
    Ok(Json(outcome.into()))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct TopUpRequest {
    /// Toman, e.g. `"150000"` or `"150,000"` (Persian digits accepted).
    #[schema(example = "150000")]
    pub amount: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct TopUp {
    pub payment_id: Uuid,
    #[schema(value_type = String, example = "150000")]
    pub amount: rust_decimal::Decimal,
    /// Where to transfer the money, grouped as printed on the card.
    pub card_number: String,
    pub card_holder: String,
}

/// Start a card-to-card top-up: the answer says which card to pay; the
/// receipt photo then goes to the bot, and an admin approves it.
#[utoipa::path(
    post,
    operation_id = "me_top_up",
    path = "/api/me/top-ups",
    tag = "me",
    security(("bearer" = [])),
    request_body = TopUpRequest,
    responses(
        (status = 201, body = TopUp),
        (status = 422, description = "`validation_failed`", body = ErrorBody),
        (status = 503, description = "`no_active_card`", body = ErrorBody),
    )
)]
pub async fn top_up(
    State(state): State<AppState>,
    user: AuthUser,
    JsonBody(body): JsonBody<TopUpRequest>,
) -> ApiResult<(StatusCode, Json<TopUp>)> {
    let mut v = Validation::new();
    let amount = v.check("amount", Toman::from_str(&body.amount).and_then(|t| Toman::positive(t.value())));
    v.finish()?;
    let amount = valid(amount);
    let id = state
        .commands
        .create_card_payment(user.id, amount, PaymentPurpose::WalletTopUp, None, Utc::now())
        .await?;
    let created = eventstore::read_aggregate(&state.pool, "Payment", &id.to_string()).await?;
    let card = created
        .iter()
        .find_map(|e| match serde_json::from_value::<PaymentEvent>(e.payload.clone()) {
            Ok(PaymentEvent::PaymentCreated {
                method: PaymentMethod::CardToCard { card },
                ..
            }) => Some(card),
            _ => None,
        })
        .ok_or_else(|| ApiError::internal(format!("payment {id} has no card-to-card creation event")))?;
    Ok((
        StatusCode::CREATED,
        Json(TopUp {
            payment_id: id,
            amount: amount.value(),
            card_number: card.number.to_string(),
            card_holder: card.holder,
        }),
    ))
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(me))
        .routes(routes!(set_language))
        .routes(routes!(my_transactions))
        .routes(routes!(my_payments))
        .routes(routes!(my_subscriptions, purchase))
        .routes(routes!(renew))
        .routes(routes!(top_up))
}
