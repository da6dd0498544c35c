//! The plan catalog: add, reprice, retire (past sales keep their price).
use std::str::FromStr;

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use chrono::Utc;
use domain::plan::PlanSpec;
use domain::{Location, Permission, Toman};
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::cards::Created;
use crate::auth::AuthUser;
use crate::error::{valid, ApiResult, ErrorBody, Validation};
use crate::extract::{JsonBody, PathParam};
use crate::routes::plans::{all_plans, Plan};
use crate::AppState;

/// Every plan, retired ones included.
#[utoipa::path(
    get,
    operation_id = "admin_plans_list",
    path = "/api/admin/plans",
    tag = "admin: plans",
    security(("bearer" = [])),
    responses((status = 200, body = [Plan]), (status = 403, body = ErrorBody))
)]
pub async fn list(State(state): State<AppState>, user: AuthUser) -> ApiResult<Json<Vec<Plan>>> {
    user.require(Permission::ManagePlans)?;
    Ok(Json(all_plans(&state.pool, false).await?))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct NewPlan {
    #[schema(example = "Monthly 50GB")]
    pub name: String,
    /// 1 to 3650.
    pub duration_days: u32,
    /// 0 means unlimited.
    pub traffic_gb: u32,
    /// Toman, e.g. `"150,000"`.
    #[schema(example = "150000")]
    pub price: String,
    #[schema(example = json!(["France", "Germany"]))]
    pub locations: Vec<String>,
}

/// Add a plan.
#[utoipa::path(
    post,
    operation_id = "admin_plans_add",
    path = "/api/admin/plans",
    tag = "admin: plans",
    security(("bearer" = [])),
    request_body = NewPlan,
    responses(
        (status = 201, body = Created),
        (status = 403, body = ErrorBody),
        (status = 422, description = "`validation_failed`, `invalid_name`, `invalid_duration`, `no_locations`, …", body = ErrorBody),
    )
)]
pub async fn add(
    State(state): State<AppState>,
    user: AuthUser,
    JsonBody(body): JsonBody<NewPlan>,
) -> ApiResult<(StatusCode, Json<Created>)> {
    user.require(Permission::ManagePlans)?;
    let mut v = Validation::new();
    let price = v.check("price", Toman::from_str(&body.price));
    let locations = v.check(
        "locations",
        body.locations.iter().map(|l| Location::parse(l)).collect::<Result<Vec<_>, _>>(),
    );
    v.finish()?;
    let spec = PlanSpec {
        name: body.name,
        duration_days: body.duration_days,
        traffic_gb: body.traffic_gb,
        price: valid(price),
        locations: valid(locations),
    };
    let id = state.commands.create_plan(&user.actor, spec, Utc::now()).await?;
    Ok((StatusCode::CREATED, Json(Created { id })))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct NewPrice {
    #[schema(example = "180000")]
    pub price: String,
}

/// Change a plan's price for new sales.
#[utoipa::path(
    put,
    operation_id = "admin_plans_price",
    path = "/api/admin/plans/{id}/price",
    tag = "admin: plans",
    security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Plan id")),
    request_body = NewPrice,
    responses(
        (status = 204, description = "Changed"),
        (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 422, body = ErrorBody),
    )
)]
pub async fn price(
    State(state): State<AppState>,
    user: AuthUser,
    PathParam(id): PathParam<Uuid>,
    JsonBody(body): JsonBody<NewPrice>,
) -> ApiResult<StatusCode> {
    user.require(Permission::ManagePlans)?;
    let mut v = Validation::new();
    let price = v.check("price", Toman::from_str(&body.price));
    v.finish()?;
    state.commands.change_plan_price(&user.actor, id, valid(price), Utc::now()).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Stop selling a plan.
#[utoipa::path(
    post,
    operation_id = "admin_plans_retire",
    path = "/api/admin/plans/{id}/retire",
    tag = "admin: plans",
    security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Plan id")),
    responses(
        (status = 204, description = "Retired"),
        (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 422, description = "`retired`", body = ErrorBody),
    )
)]
pub async fn retire(State(state): State<AppState>, user: AuthUser, PathParam(id): PathParam<Uuid>) -> ApiResult<StatusCode> {
    user.require(Permission::ManagePlans)?;
    state.commands.retire_plan(&user.actor, id, Utc::now()).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, add))
        .routes(routes!(price))
        .routes(routes!(retire))
}
