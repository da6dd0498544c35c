//! `/api/admin/*`: staff routes. Each checks its permission; the whole tree
//! sits behind the IP allow-list when one is configured (see `crate::app`).
pub mod cards;
pub mod chat;
pub mod customers;
pub mod panels;
pub mod payments;
pub mod plans;
pub mod reports;
pub mod roles;
pub mod settings;
pub mod staff;
pub mod subscriptions;

use utoipa_axum::router::OpenApiRouter;

use crate::AppState;

/// Every admin route, without the network guard (which [`crate::app`] adds).
pub fn router_without_guard() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .merge(customers::router())
        .merge(roles::router())
        .merge(payments::router())
        .merge(subscriptions::router())
        .merge(cards::router())
        .merge(plans::router())
        .merge(reports::router())
        .merge(staff::router())
        .merge(panels::router())
        .merge(settings::router())
        .merge(chat::router())
        .merge(crate::routes::commerce::admin_router())
}
