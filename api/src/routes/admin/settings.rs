//! Feature toggles and the license, as the `FeatureToggles` and `License`
//! aggregates hold them (read from the event store, so never stale).
//! Switching goes through `Commands::set_feature`, where the domain checks
//! `manage_settings` and the license; installing a license stays in the CLI
//! (`mrjbot license install`).
use std::collections::BTreeSet;

use axum::extract::State;
use axum::Json;
use chrono::{DateTime, Utc};
use domain::features::Feature;
use domain::license::LicenseState;
use domain::Permission;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::auth::AuthUser;
use crate::error::{valid, ApiResult, ErrorBody, Validation};
use crate::extract::{JsonBody, PathParam};
use crate::AppState;

/// One feature: its switch, and whether the license lets it run.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct FeatureState {
    /// `backups`, `chat`, `ai`, `points` or `broadcasts`.
    pub feature: String,
    /// The switch's position.
    pub enabled: bool,
    /// Whether the license covers it now (features outside licensing always are).
    pub licensed: bool,
    /// Switched on **and** licensed: what the running shop does.
    pub active: bool,
    /// Sold by license (every feature but `points`).
    pub needs_license: bool,
    /// Why the license does not cover it (the domain's message), when it does not.
    pub refusal: Option<String>,
}

async fn feature_states(state: &AppState, at: DateTime<Utc>) -> ApiResult<Vec<FeatureState>> {
    let toggles = state.commands.feature_toggles().await?;
    let entitlements = state.commands.entitlements(at).await?;
    Ok(Feature::ALL
        .into_iter()
        .map(|f| {
            let enabled = toggles.is_enabled(f);
            let refusal = entitlements.allows(f).err().map(|e| e.to_string());
            FeatureState {
                feature: f.name().to_string(),
                enabled,
                licensed: refusal.is_none(),
                active: enabled && refusal.is_none(),
                needs_license: f.needs_license(),
                refusal,
            }
        })
        .collect())
}

/// Every feature toggle with its state and whether the license covers it.
#[utoipa::path(
    get,
    operation_id = "admin_features_list",
    path = "/api/admin/features",
    tag = "admin: settings",
    security(("bearer" = [])),
    responses((status = 200, body = [FeatureState]), (status = 403, body = ErrorBody))
)]
pub async fn features(State(state): State<AppState>, user: AuthUser) -> ApiResult<Json<Vec<FeatureState>>> {
    user.require(Permission::ManageSettings)?;
    Ok(Json(feature_states(&state, Utc::now()).await?))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct FeatureSwitch {
    pub enabled: bool,
}

/// What switching did.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct FeatureSwitched {
    pub feature: String,
    pub enabled: bool,
    /// False when the feature was already in that state (nothing was written).
    pub changed: bool,
    /// The feature after the switch.
    pub state: FeatureState,
}

/// Switch a feature on or off. Switching on a feature the license does not
/// cover is refused (`422 not_licensed`, with the reason); switching off never is.
#[utoipa::path(
    post,
    operation_id = "admin_features_set",
    path = "/api/admin/features/{feature}",
    tag = "admin: settings",
    security(("bearer" = [])),
    params(("feature" = String, Path, description = "`backups`, `chat`, `ai`, `points` or `broadcasts`")),
    request_body = FeatureSwitch,
    responses(
        (status = 200, body = FeatureSwitched),
        (status = 403, body = ErrorBody),
        (status = 409, description = "`conflict`: a concurrent switch; try again", body = ErrorBody),
        (status = 422, description = "`validation_failed` (unknown feature), `invalid_body`, or `not_licensed`", body = ErrorBody),
    )
)]
pub async fn set_feature(
    State(state): State<AppState>,
    user: AuthUser,
    PathParam(name): PathParam<String>,
    JsonBody(body): JsonBody<FeatureSwitch>,
) -> ApiResult<Json<FeatureSwitched>> {
    user.require(Permission::ManageSettings)?;
    let mut v = Validation::new();
    let feature = v.check(
        "feature",
        Feature::parse(&name).ok_or_else(|| {
            let names: Vec<&str> = Feature::ALL.iter().map(|f| f.name()).collect();
            format!("a feature is one of {}", names.join(", "))
        }),
    );
    v.finish()?;
    let feature = valid(feature);
    let now = Utc::now();
    let change = state.commands.set_feature(&user.actor, feature, body.enabled, now).await?;
    let after = feature_states(&state, now)
        .await?
        .into_iter()
        .find(|s| s.feature == feature.name())
        .expect("every feature has a state");
    Ok(Json(FeatureSwitched {
        feature: feature.name().to_string(),
        enabled: change.enabled,
        changed: change.changed,
        state: after,
    }))
}

/// The license as the shop sees it now (read-only; install with `mrjbot license install`).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct LicenseView {
    /// `unlicensed`, `valid`, `grace` (expired, features still working) or `lapsed`.
    pub state: String,
    pub licensee: Option<String>,
    pub license_id: Option<Uuid>,
    pub issued_at: Option<DateTime<Utc>>,
    pub expires_at: Option<DateTime<Utc>>,
    pub grace_days: Option<u32>,
    pub grace_ends_at: Option<DateTime<Utc>>,
    pub installed_at: Option<DateTime<Utc>>,
    /// The features the key lists.
    pub licensed_features: Vec<String>,
    /// The features the license allows now (none once lapsed).
    pub active_features: Vec<String>,
    /// Panels allowed now (1 without a valid license).
    pub max_panels: u32,
    /// Panels registered and not retired.
    pub panels_used: u32,
    /// Why an installed key is ignored (bad signature, edited claims).
    pub problem: Option<String>,
    /// Expiry coming up, grace period, lapsed.
    pub warning: Option<String>,
}

/// The installed license: licensee, expiry, grace, features, panel cap and panels used.
#[utoipa::path(
    get,
    operation_id = "admin_license_show",
    path = "/api/admin/license",
    tag = "admin: settings",
    security(("bearer" = [])),
    responses((status = 200, body = LicenseView), (status = 403, body = ErrorBody))
)]
pub async fn license(State(state): State<AppState>, user: AuthUser) -> ApiResult<Json<LicenseView>> {
    user.require(Permission::ManageSettings)?;
    let status = state.commands.license_status(Utc::now()).await?;
    let panels_used = state.commands.registered_panels().await?;
    let e = &status.entitlements;
    let state_name = match &e.state {
        LicenseState::Unlicensed => "unlicensed",
        LicenseState::Valid { .. } => "valid",
        LicenseState::Grace { .. } => "grace",
        LicenseState::Lapsed { .. } => "lapsed",
    };
    let names = |s: &BTreeSet<Feature>| s.iter().map(|f| f.name().to_string()).collect::<Vec<_>>();
    // Claims count only when the key verified (otherwise the state is unlicensed and `problem` says why).
    let claims = status.installed.as_ref().filter(|_| status.problem.is_none()).map(|i| &i.claims);
    Ok(Json(LicenseView {
        state: state_name.to_string(),
        licensee: claims.map(|c| c.licensee.clone()),
        license_id: claims.map(|c| c.license_id),
        issued_at: claims.map(|c| c.issued_at),
        expires_at: claims.map(|c| c.expires_at),
        grace_days: claims.map(|c| c.grace_days),
        grace_ends_at: claims.map(|c| c.grace_ends_at()),
        installed_at: status
            .installed
            .as_ref()
            .filter(|_| status.problem.is_none())
            .map(|i| i.installed_at),
        licensed_features: claims.map(|c| names(&c.features)).unwrap_or_default(),
        active_features: names(&e.features),
        max_panels: e.max_panels,
        panels_used,
        problem: status.problem,
        warning: status.warning,
    }))
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(features))
        .routes(routes!(set_feature))
        .routes(routes!(license))
}
