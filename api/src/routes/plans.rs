//! The plan catalog as customers see it: plans on sale (public, cached).
use std::sync::Arc;

use axum::extract::State;
use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use sqlx::PgPool;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::error::{ApiError, ApiResult};
use crate::extract::SharedJson;
use crate::AppState;

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, sqlx::FromRow)]
pub struct Plan {
    pub id: Uuid,
    pub name: String,
    pub duration_days: i32,
    /// 0 means unlimited.
    pub traffic_gb: i32,
    #[schema(value_type = String, example = "150000")]
    pub price: Decimal,
    pub locations: Vec<String>,
    /// False once retired (only staff see retired plans).
    pub active: bool,
    pub created_at: DateTime<Utc>,
}

pub async fn all_plans(pool: &PgPool, only_active: bool) -> Result<Vec<Plan>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, name, duration_days, traffic_gb, price, locations, active, created_at FROM plans \
         WHERE active OR NOT $1 ORDER BY active DESC, price, name",
    )
    .bind(only_active)
    .fetch_all(pool)
    .await
}

/// Plans on sale, cheapest first.
#[utoipa::path(
    get,
    operation_id = "plans_list",
    path = "/api/plans",
    tag = "plans",
    responses((status = 200, body = [Plan]))
)]
pub async fn list(State(state): State<AppState>) -> ApiResult<SharedJson<Vec<Plan>>> {
    let pool = state.pool.clone();
    let plans = state
        .cache
        .plans
        .get_or_load((), || async move { Ok::<_, ApiError>(Arc::new(all_plans(&pool, true).await?)) })
        .await?;
    Ok(SharedJson(plans))
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list))
}
