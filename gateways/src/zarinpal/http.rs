//! The callback route Zarinpal redirects the customer to. The HTTP API can
//! mount [`callback_router`] as is, or call
//! [`ZarinpalCheckout::handle_callback`] from its own handler.
use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use chrono::Utc;
use serde::Deserialize;

use super::checkout::{CallbackOutcome, CheckoutError, ZarinpalCheckout};

/// `?Authority=…&Status=OK|NOK`, as Zarinpal appends it.
#[derive(Debug, Deserialize)]
pub struct CallbackQuery {
    #[serde(rename = "Authority")]
    pub authority: String,
    #[serde(rename = "Status", default)]
    pub status: String,
}

/// `GET /payments/zarinpal/callback`.
pub fn callback_router(checkout: Arc<ZarinpalCheckout>) -> Router {
    Router::new()
        .route("/payments/zarinpal/callback", get(callback))
        .with_state(checkout)
}

fn page(status: StatusCode, title: &str, body: &str) -> Response {
    let html = format!(
        "<!doctype html><html lang=\"fa\"><head><meta charset=\"utf-8\"><title>{title}</title></head>\
         <body><h1>{title}</h1><p>{body}</p><p>You can go back to the bot now.</p></body></html>"
    );
    (status, [(header::CONTENT_TYPE, "text/html; charset=utf-8")], html).into_response()
}

async fn callback(State(checkout): State<Arc<ZarinpalCheckout>>, Query(q): Query<CallbackQuery>) -> Response {
    match checkout.handle_callback(&q.authority, &q.status, Utc::now()).await {
        Ok(CallbackOutcome::Approved { ref_id, .. }) => page(
            StatusCode::OK,
            "Payment received",
            &format!("Your payment is confirmed (reference {ref_id}); your wallet has been credited."),
        ),
        Ok(CallbackOutcome::NotPaid { .. }) => page(
            StatusCode::OK,
            "Payment cancelled",
            "The payment was not completed; nothing was charged.",
        ),
        Ok(CallbackOutcome::Refused { reason, .. }) => page(
            StatusCode::CONFLICT,
            "Payment not accepted",
            &format!("This confirmation was refused ({}).", reason.name()),
        ),
        Err(CheckoutError::Gateway(e)) => {
            tracing::warn!(error = %e, "Zarinpal verify failed; the reconciler will retry");
            page(
                StatusCode::SERVICE_UNAVAILABLE,
                "Please wait",
                "We could not reach the gateway to confirm your payment. It will be confirmed automatically.",
            )
        }
        Err(e) => {
            tracing::error!(error = %e, "Zarinpal callback failed");
            page(
                StatusCode::INTERNAL_SERVER_ERROR,
                "Error",
                "Something went wrong; please contact support.",
            )
        }
    }
}
