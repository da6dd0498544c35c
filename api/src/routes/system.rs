//! Health and capabilities: public, for load balancers and the dashboard.
use axum::extract::State;
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::{ApiResult, ErrorBody};
use crate::live::READ_MODELS;
use crate::AppState;

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ReadModelLag {
    pub name: String,
    pub checkpoint: i64,
    /// Events the read model has not applied yet.
    pub behind: i64,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Health {
    #[schema(example = "ok")]
    pub status: String,
    /// The last committed event's global position.
    pub event_head: i64,
    pub read_models: Vec<ReadModelLag>,
}

/// Whether the database answers, and how far each read model is behind.
#[utoipa::path(
    get,
    operation_id = "system_health",
    path = "/api/health",
    tag = "system",
    responses((status = 200, body = Health), (status = 500, body = ErrorBody))
)]
pub async fn health(State(state): State<AppState>) -> ApiResult<Json<Health>> {
    let head = eventstore::head(&state.pool).await?;
    let names: Vec<String> = READ_MODELS.iter().map(|s| s.to_string()).collect();
    let rows: Vec<(String, i64)> = sqlx::query_as(
        "SELECT n.name, coalesce(c.position, 0) FROM unnest($1::text[]) AS n(name) LEFT JOIN checkpoints c USING (name) ORDER BY 1",
    )
    .bind(&names)
    .fetch_all(&state.pool)
    .await?;
    Ok(Json(Health {
        status: "ok".into(),
        event_head: head,
        read_models: rows
            .into_iter()
            .map(|(name, checkpoint)| ReadModelLag {
                name,
                checkpoint,
                behind: head - checkpoint,
            })
            .collect(),
    }))
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Capabilities {
    /// What this server can do. A dashboard page whose capability is missing
    /// says "not available yet" instead of showing anything made up.
    pub available: Vec<String>,
}

/// The capabilities this build serves (one per route module).
#[utoipa::path(
    get,
    operation_id = "system_capabilities",
    path = "/api/capabilities",
    tag = "system",
    responses((status = 200, body = Capabilities))
)]
pub async fn capabilities() -> Json<Capabilities> {
    Json(Capabilities {
        available: super::CAPABILITIES.iter().map(|s| s.to_string()).collect(),
    })
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(health)).routes(routes!(capabilities))
}
