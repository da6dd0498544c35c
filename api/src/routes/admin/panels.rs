//! 3x-UI panels and their health, as the panel monitor records them
//! (read-only here; panels are registered and managed by the panels worker's CLI).
use axum::extract::State;
use axum::Json;
use chrono::{DateTime, Utc};
use domain::Permission;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::auth::AuthUser;
use crate::error::{ApiResult, ErrorBody};
use crate::AppState;

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, sqlx::FromRow)]
pub struct Panel {
    pub id: Uuid,
    pub name: String,
    pub location: String,
    pub public_host: String,
    pub capacity: i32,
    /// Clients placed on it.
    pub clients: i32,
    pub enabled: bool,
    pub healthy: bool,
    pub retired: bool,
    pub health_reason: Option<String>,
    pub registered_at: DateTime<Utc>,
    /// The monitor's latest reading (none before the first check).
    pub checked_at: Option<DateTime<Utc>>,
    pub last_check_ok: Option<bool>,
    pub last_error: Option<String>,
    pub cpu_percent: Option<f64>,
    pub mem_current: Option<i64>,
    pub mem_total: Option<i64>,
    pub xray_state: Option<String>,
    pub uptime_secs: Option<i64>,
}

/// Panels by location, with health. Credentials never leave the events.
#[utoipa::path(
    get,
    operation_id = "admin_panels_list",
    path = "/api/admin/panels",
    tag = "admin: panels",
    security(("bearer" = [])),
    responses((status = 200, body = [Panel]), (status = 403, body = ErrorBody))
)]
pub async fn list(State(state): State<AppState>, user: AuthUser) -> ApiResult<Json<Vec<Panel>>> {
    user.require(Permission::ManageLocations)?;
    let rows = sqlx::query_as(
        "SELECT p.id, p.name, p.location, p.public_host, p.capacity, p.clients, p.enabled, p.healthy, p.retired, \
         p.health_reason, p.registered_at, s.checked_at, s.ok AS last_check_ok, s.last_error, s.cpu_percent, \
         s.mem_current, s.mem_total, s.xray_state, s.uptime_secs \
         FROM panels p LEFT JOIN panel_status s ON s.panel_id = p.id ORDER BY p.retired, lower(p.location), p.name",
    )
    .fetch_all(&state.pool)
    .await?;
    Ok(Json(rows))
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list))
}
