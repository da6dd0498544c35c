//! MRJ Bot's HTTP API (axum) and the server of the built dashboard.
//!
//! An adapter over `commands` (writes, where the domain checks permissions
//! again) and the read models (reads, the hot ones cached and invalidated by
//! events). [`app`] builds the whole router, which tests call directly;
//! [`live::run`] follows the event feed for cache invalidation and live
//! updates; [`serve`] runs both on a listener. Every route is in the OpenAPI
//! document (utoipa), served at `/api/openapi.json` with Swagger UI at `/docs`.
//!
//! May depend on: domain, eventstore, commands, projections, workers, secrets.
#![forbid(unsafe_code)]

pub mod auth;
pub mod cache;
pub mod config;
pub mod error;
pub mod extract;
pub mod live;
pub mod ratelimit;
pub mod routes;
pub mod state;
pub mod telegram;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::any;
use axum::Router;
use tower_http::services::{ServeDir, ServeFile};
use tower_http::set_header::SetResponseHeaderLayer;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;
use utoipa_swagger_ui::SwaggerUi;

pub use config::{parse_allow_list, ApiConfig, Limits, TelegramConfig};
pub use error::{ApiError, ErrorBody};
pub use state::AppState;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "MRJ Bot API",
        description = "Staff and customer API of MRJ Bot. Errors are `{code, message, details}` JSON. \
                       Sign in at `/api/auth/staff/login` (password, TOTP) or `/api/auth/customer/login` \
                       (a code the bot sends), then send `Authorization: Bearer <access_token>`. \
                       Money is a decimal string of Toman.",
        license(name = "MIT")
    ),
    modifiers(&BearerAuth),
    tags(
        (name = "auth", description = "Signing in, tokens, sessions, password and two-factor"),
        (name = "me", description = "The caller's own data"),
        (name = "plans", description = "The catalog"),
        (name = "seller", description = "A seller's own customers and sales"),
        (name = "live", description = "Server-Sent Events"),
        (name = "system", description = "Health and capabilities"),
    )
)]
struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        let mut scheme = Http::new(HttpAuthScheme::Bearer);
        scheme.bearer_format = Some("JWT".to_string());
        components.add_security_scheme("bearer", SecurityScheme::Http(scheme));
    }
}

/// Every API route, with its OpenAPI description. `state` is only needed for
/// the admin tree's network guard; `None` builds the document alone.
fn api_routes(state: Option<AppState>) -> OpenApiRouter<AppState> {
    let admin = routes::admin::router_without_guard();
    let admin = match state {
        Some(s) => admin.layer(axum::middleware::from_fn_with_state(s, auth::admin_network)),
        None => admin,
    };
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(routes::system::router())
        .merge(routes::auth::router())
        .merge(routes::me::router())
        .merge(routes::my_chat::router())
        .merge(routes::notifications::router())
        .merge(routes::plans::router())
        .merge(routes::seller::router())
        .merge(routes::commerce::router())
        .merge(live::router())
        .merge(admin)
}

/// The OpenAPI document of every route.
pub fn openapi() -> utoipa::openapi::OpenApi {
    api_routes(None).into_openapi()
}

/// The whole HTTP app: API, docs, and the dashboard's files.
pub fn app(state: AppState) -> Router {
    let (api, doc) = api_routes(Some(state.clone())).split_for_parts();
    let router = api
        .merge(SwaggerUi::new("/docs").url("/api/openapi.json", doc))
        .route("/api", any(api_not_found))
        .route("/api/{*rest}", any(api_not_found));
    let router = match state.config.dashboard_dir.clone() {
        Some(dir) if dir.join("index.html").is_file() => {
            // Unknown paths get index.html, so the dashboard's own routes load on refresh.
            router.fallback_service(ServeDir::new(&dir).fallback(ServeFile::new(dir.join("index.html"))))
        }
        _ => router.fallback(dashboard_missing),
    };
    router
        .layer(SetResponseHeaderLayer::overriding(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::X_FRAME_OPTIONS,
            HeaderValue::from_static("DENY"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        ))
        .layer(tower_http::trace::TraceLayer::new_for_http())
        .with_state(state)
}

async fn api_not_found() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "no_such_route", "there is no such API route; see /docs")
}

async fn dashboard_missing() -> Response {
    (
        StatusCode::NOT_FOUND,
        Html(
            "<!doctype html><meta charset=utf-8><title>MRJ Bot</title>\
             <p>The dashboard is not built. Run <code>npm ci &amp;&amp; npm run build</code> in <code>dashboard/</code> \
             (<code>scripts/run.sh</code> does), or set <code>MRJ_DASHBOARD_DIR</code>.</p>\
             <p>The API is at <a href=\"/docs\">/docs</a>.</p>",
        ),
    )
        .into_response()
}

/// Serves [`app`] on `listener` and runs the live task on `feed`, until `shutdown`.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    feed: Arc<dyn workers::Feed>,
    shutdown: workers::Shutdown,
) -> std::io::Result<()> {
    serve_with(listener, state, Router::new(), feed, shutdown).await
}

/// [`serve`] with `extra` routes mounted beside the API — routes other crates
/// own that must be public on the same address (the Zarinpal callback).
pub async fn serve_with(
    listener: tokio::net::TcpListener,
    state: AppState,
    extra: Router,
    feed: Arc<dyn workers::Feed>,
    shutdown: workers::Shutdown,
) -> std::io::Result<()> {
    let live = tokio::spawn(live::run(state.clone(), feed, shutdown.clone()));
    let mut stop = shutdown.clone();
    let router = extra.merge(app(state));
    let result = axum::serve(listener, router.into_make_service_with_connect_info::<SocketAddr>())
        .with_graceful_shutdown(async move { stop.stopped().await })
        .await;
    live.abort();
    result
}
