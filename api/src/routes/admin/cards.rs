//! Bank cards that receive card-to-card payments.
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use chrono::{DateTime, Utc};
use domain::{CardNumber, Permission};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::auth::AuthUser;
use crate::error::{valid, ApiResult, ErrorBody, Validation};
use crate::extract::{JsonBody, PathParam};
use crate::AppState;

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, sqlx::FromRow)]
pub struct Card {
    pub id: Uuid,
    /// 16 digits.
    pub number: String,
    pub holder: String,
    pub bank: Option<String>,
    pub active: bool,
    pub received_count: i64,
    #[schema(value_type = String, example = "1500000")]
    pub received_total: Decimal,
    pub added_at: DateTime<Utc>,
}

/// Every card, active first.
#[utoipa::path(
    get,
    operation_id = "admin_cards_list",
    path = "/api/admin/cards",
    tag = "admin: cards",
    security(("bearer" = [])),
    responses((status = 200, body = [Card]), (status = 403, body = ErrorBody))
)]
pub async fn list(State(state): State<AppState>, user: AuthUser) -> ApiResult<Json<Vec<Card>>> {
    user.require(Permission::ManageCards)?;
    let rows = sqlx::query_as(
        "SELECT id, number, holder, bank, active, received_count, received_total, added_at FROM cards ORDER BY active DESC, added_at",
    )
    .fetch_all(&state.pool)
    .await?;
    Ok(Json(rows))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct NewCard {
    /// 16 digits with a valid check digit; spaces, dashes and Persian digits are fine.
    #[schema(example = "6037-9975-9999-9993")]
    pub number: String,
    pub holder: String,
    pub bank: Option<String>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Created {
    pub id: Uuid,
}

/// Add a card.
#[utoipa::path(
    post,
    operation_id = "admin_cards_add",
    path = "/api/admin/cards",
    tag = "admin: cards",
    security(("bearer" = [])),
    request_body = NewCard,
    responses(
        (status = 201, body = Created),
        (status = 403, body = ErrorBody),
        (status = 422, description = "`validation_failed`, `invalid_holder`", body = ErrorBody),
    )
)]
pub async fn add(
    State(state): State<AppState>,
    user: AuthUser,
    JsonBody(body): JsonBody<NewCard>,
) -> ApiResult<(StatusCode, Json<Created>)> {
    user.require(Permission::ManageCards)?;
    let mut v = Validation::new();
    let number = v.check("number", CardNumber::parse(&body.number));
    let bank = body.bank.map(|b| b.trim().to_string()).filter(|b| !b.is_empty());
    if bank.as_ref().is_some_and(|b| b.chars().count() > 64) {
        v.fail("bank", "at most 64 characters");
    }
    v.finish()?;
    let id = state
        .commands
        .add_card(&user.actor, valid(number), body.holder, bank, Utc::now())
        .await?;
    Ok((StatusCode::CREATED, Json(Created { id })))
}

/// Stop sending payments to a card.
#[utoipa::path(
    post,
    operation_id = "admin_cards_retire",
    path = "/api/admin/cards/{id}/retire",
    tag = "admin: cards",
    security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Card id")),
    responses(
        (status = 204, description = "Retired"),
        (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 409, description = "`already_retired`", body = ErrorBody),
    )
)]
pub async fn retire(State(state): State<AppState>, user: AuthUser, PathParam(id): PathParam<Uuid>) -> ApiResult<StatusCode> {
    user.require(Permission::ManageCards)?;
    state.commands.retire_card(&user.actor, id, Utc::now()).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list, add)).routes(routes!(retire))
}
