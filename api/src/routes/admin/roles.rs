//! Roles: the built-in ones and custom ones made of permissions.
use std::collections::BTreeSet;

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use chrono::Utc;
use domain::access::RoleName;
use domain::Permission;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::AuthUser;
use crate::error::{valid, ApiResult, ErrorBody, Validation};
use crate::extract::JsonBody;
use crate::AppState;

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Role {
    pub name: String,
    pub built_in: bool,
    pub permissions: Vec<String>,
    /// How many customers hold it.
    pub holders: i64,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Roles {
    pub roles: Vec<Role>,
    /// Every permission a custom role can be made of.
    pub permissions: Vec<String>,
}

/// Built-in and custom roles with their permissions.
#[utoipa::path(
    get,
    operation_id = "admin_roles_list",
    path = "/api/admin/roles",
    tag = "admin: users",
    security(("bearer" = [])),
    responses((status = 200, body = Roles), (status = 403, body = ErrorBody))
)]
pub async fn list(State(state): State<AppState>, user: AuthUser) -> ApiResult<Json<Roles>> {
    user.require_any(&[Permission::ManageRoles, Permission::ManageUsers])?;
    let holders: Vec<(String, i64)> = sqlx::query_as("SELECT r, count(*) FROM customers, unnest(roles) AS r GROUP BY r")
        .fetch_all(&state.pool)
        .await?;
    let count = |name: &str| holders.iter().find(|(n, _)| n == name).map(|(_, c)| *c).unwrap_or(0);
    let mut roles: Vec<Role> = RoleName::BUILT_IN
        .iter()
        .map(|r| Role {
            name: r.to_string(),
            built_in: true,
            permissions: r
                .built_in_permissions()
                .unwrap_or_default()
                .into_iter()
                .map(|p| p.name().to_string())
                .collect(),
            holders: count(r.as_str()),
        })
        .collect();
    let custom: Vec<(String, Vec<String>)> = sqlx::query_as("SELECT name, permissions FROM roles ORDER BY name")
        .fetch_all(&state.pool)
        .await?;
    roles.extend(custom.into_iter().map(|(name, permissions)| Role {
        holders: count(&name),
        name,
        built_in: false,
        permissions,
    }));
    Ok(Json(Roles {
        roles,
        permissions: Permission::ALL.iter().map(|p| p.name().to_string()).collect(),
    }))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct NewRole {
    #[schema(example = "night_shift")]
    pub name: String,
    #[schema(example = json!(["approve_receipts", "view_reports"]))]
    pub permissions: Vec<String>,
}

/// Define a custom role.
#[utoipa::path(
    post,
    operation_id = "admin_roles_define",
    path = "/api/admin/roles",
    tag = "admin: users",
    security(("bearer" = [])),
    request_body = NewRole,
    responses(
        (status = 201, description = "Defined"),
        (status = 403, body = ErrorBody),
        (status = 409, description = "`already_defined`", body = ErrorBody),
        (status = 422, description = "`validation_failed`, `built_in`, `no_permissions`", body = ErrorBody),
    )
)]
pub async fn define(State(state): State<AppState>, user: AuthUser, JsonBody(body): JsonBody<NewRole>) -> ApiResult<StatusCode> {
    user.require(Permission::ManageRoles)?;
    let mut v = Validation::new();
    let name = v.check("name", RoleName::parse(&body.name));
    let mut permissions = BTreeSet::new();
    for p in &body.permissions {
        match Permission::parse(p) {
            Some(p) => {
                permissions.insert(p);
            }
            None => v.fail("permissions", format!("unknown permission `{p}`")),
        }
    }
    v.finish()?;
    state
        .commands
        .define_role(&user.actor, valid(name), permissions, Utc::now())
        .await?;
    Ok(StatusCode::CREATED)
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list, define))
}
