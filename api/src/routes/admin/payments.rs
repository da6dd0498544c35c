//! The payments queue: card-to-card receipts waiting for a decision, their
//! photos (fetched from Telegram), approve and reject; and payment history.
use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::{DateTime, Utc};
use domain::Permission;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::auth::AuthUser;
use crate::error::{valid, ApiError, ApiResult, ErrorBody, Validation};
use crate::extract::{JsonBody, PathParam, QueryParams, SharedJson};
use crate::routes::views::{Page, Payment, PAYMENT_COLUMNS};
use crate::AppState;

/// A receipt waiting for a decision.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, sqlx::FromRow)]
pub struct PendingReceipt {
    pub payment_id: Uuid,
    pub customer: i64,
    pub username: Option<String>,
    #[schema(value_type = String, example = "150000")]
    pub amount: Decimal,
    pub card_id: Option<Uuid>,
    /// The card the customer says they paid into.
    pub card_number: Option<String>,
    pub card_holder: Option<String>,
    /// `wallet_top_up` or `plan_purchase`.
    pub purpose: String,
    pub plan_name: Option<String>,
    pub created_at: DateTime<Utc>,
    pub submitted_at: Option<DateTime<Utc>>,
    /// `GET` it (with the bearer token) for the photo.
    pub receipt_url: String,
    /// What OCR read on this receipt, when the reader has run.
    #[schema(value_type = Option<String>)]
    pub ocr_amount: Option<Decimal>,
    pub ocr_card: Option<String>,
    pub ocr_tracking: Option<String>,
    pub ocr_paid_at: Option<DateTime<Utc>>,
    /// Mismatches the domain found (`amount_differs`, `card_differs`, `tracking_reused`, …); empty: none.
    pub ocr_flags: Option<Vec<String>>,
    /// The same flags with their values, as the domain recorded them: `{"flag": "amount_differs", "read": "120000"}`,
    /// `{"flag": "card_differs", "read": "…"}`, `{"flag": "tracking_reused", "payment": "<uuid>"}`, …
    #[schema(value_type = Option<Vec<Object>>)]
    pub ocr_flag_details: Option<serde_json::Value>,
    /// The engine and the text it recognised (at most 2,000 characters).
    pub ocr_engine: Option<String>,
    pub ocr_text: Option<String>,
    pub ocr_read_at: Option<DateTime<Utc>>,
}

/// Receipts waiting for a decision, oldest first (cached; refreshed by events).
#[utoipa::path(
    get,
    operation_id = "admin_payments_pending",
    path = "/api/admin/payments/pending",
    tag = "admin: payments",
    security(("bearer" = [])),
    responses((status = 200, body = [PendingReceipt]), (status = 403, body = ErrorBody))
)]
pub async fn pending(State(state): State<AppState>, user: AuthUser) -> ApiResult<SharedJson<Vec<PendingReceipt>>> {
    user.require(Permission::ApproveReceipts)?;
    let pool = state.pool.clone();
    let rows = state
        .cache
        .pending
        .get_or_load((), || async move {
            let rows: Vec<PendingReceipt> = sqlx::query_as(
                "SELECT r.payment_id, r.customer, c.username, r.amount, r.card_id, r.card_number, r.card_holder, r.purpose, \
                 r.plan_name, r.created_at, r.submitted_at, '/api/admin/payments/' || r.payment_id || '/receipt' AS receipt_url, \
                 o.amount AS ocr_amount, o.card AS ocr_card, o.tracking AS ocr_tracking, o.paid_at AS ocr_paid_at, \
                 o.flags AS ocr_flags, o.flag_details AS ocr_flag_details, o.engine AS ocr_engine, o.text AS ocr_text, \
                 o.read_at AS ocr_read_at \
                 FROM pending_receipts r LEFT JOIN customers c ON c.telegram_id = r.customer \
                 LEFT JOIN receipt_readings o ON o.payment_id = r.payment_id AND o.file = r.receipt \
                 WHERE r.receipt IS NOT NULL ORDER BY r.submitted_at, r.payment_id LIMIT 500",
            )
            .fetch_all(&pool)
            .await?;
            Ok::<_, ApiError>(Arc::new(rows))
        })
        .await?;
    Ok(SharedJson(rows))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PaymentQuery {
    /// `awaiting_receipt`, `awaiting_review`, `approved`, `rejected`, …
    pub status: Option<String>,
    pub customer: Option<i64>,
    pub limit: Option<i64>,
    pub offset: Option<i64>,
}

/// Payments, newest first.
#[utoipa::path(
    get,
    operation_id = "admin_payments_list",
    path = "/api/admin/payments",
    tag = "admin: payments",
    security(("bearer" = [])),
    params(PaymentQuery),
    responses((status = 200, body = [Payment]), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody))
)]
pub async fn list(
    State(state): State<AppState>,
    user: AuthUser,
    QueryParams(q): QueryParams<PaymentQuery>,
) -> ApiResult<Json<Vec<Payment>>> {
    user.require_any(&[Permission::ApproveReceipts, Permission::ViewReports])?;
    let (limit, offset) = Page {
        limit: q.limit,
        offset: q.offset,
    }
    .checked()?;
    let mut v = Validation::new();
    if let Some(s) = &q.status {
        if s.is_empty() || s.len() > 32 || !s.bytes().all(|b| b.is_ascii_lowercase() || b == b'_') {
            v.fail("status", "a status is lowercase letters and `_`");
        }
    }
    v.finish()?;
    let rows = sqlx::query_as(&format!(
        "SELECT {PAYMENT_COLUMNS} FROM payments WHERE ($1::text IS NULL OR status = $1) \
         AND ($2::bigint IS NULL OR customer = $2) ORDER BY created_at DESC LIMIT $3 OFFSET $4"
    ))
    .bind(&q.status)
    .bind(q.customer)
    .bind(limit)
    .bind(offset)
    .fetch_all(&state.pool)
    .await?;
    Ok(Json(rows))
}

/// One payment.
#[utoipa::path(
    get,
    operation_id = "admin_payments_detail",
    path = "/api/admin/payments/{id}",
    tag = "admin: payments",
    security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Payment id")),
    responses((status = 200, body = Payment), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody))
)]
pub async fn detail(State(state): State<AppState>, user: AuthUser, PathParam(id): PathParam<Uuid>) -> ApiResult<Json<Payment>> {
    user.require_any(&[Permission::ApproveReceipts, Permission::ViewReports])?;
    let row = sqlx::query_as(&format!("SELECT {PAYMENT_COLUMNS} FROM payments WHERE id = $1"))
        .bind(id)
        .fetch_optional(&state.pool)
        .await?
        .ok_or_else(|| ApiError::not_found("payment"))?;
    Ok(Json(row))
}

/// The receipt the customer sent (a photo or a document), fetched from Telegram.
#[utoipa::path(
    get,
    operation_id = "admin_payments_receipt",
    path = "/api/admin/payments/{id}/receipt",
    tag = "admin: payments",
    security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Payment id")),
    responses(
        (status = 200, description = "The file as Telegram holds it", content_type = "image/jpeg", body = Vec<u8>),
        (status = 403, body = ErrorBody),
        (status = 404, description = "No such payment, or no receipt yet", body = ErrorBody),
        (status = 502, description = "`telegram_failed`", body = ErrorBody),
        (status = 503, description = "`telegram_unavailable`", body = ErrorBody),
    )
)]
pub async fn receipt(State(state): State<AppState>, user: AuthUser, PathParam(id): PathParam<Uuid>) -> ApiResult<Response> {
    user.require(Permission::ApproveReceipts)?;
    let file: Option<Option<String>> = sqlx::query_scalar("SELECT receipt FROM payments WHERE id = $1")
        .bind(id)
        .fetch_optional(&state.pool)
        .await?;
    let file = file.flatten().ok_or_else(|| ApiError::not_found("receipt"))?;
    let Some(telegram) = &state.telegram else {
        return Err(ApiError::unavailable(
            "telegram_unavailable",
            "receipt photos come from Telegram, which is not configured",
        ));
    };
    let (bytes, content_type) = telegram.download(&file).await.map_err(|e| {
        tracing::warn!(payment = %id, error = %e, "receipt download failed");
        ApiError::new(
            StatusCode::BAD_GATEWAY,
            "telegram_failed",
            "the receipt could not be fetched from Telegram",
        )
    })?;
    Ok((
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
            (header::CACHE_CONTROL, HeaderValue::from_static("private, max-age=300")),
        ],
        bytes,
    )
        .into_response())
}

/// Approve a receipt: the payment is decided once, then the wallet is
/// credited (and the plan bought, for a plan purchase).
#[utoipa::path(
    post,
    operation_id = "admin_payments_approve",
    path = "/api/admin/payments/{id}/approve",
    tag = "admin: payments",
    security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Payment id")),
    responses(
        (status = 204, description = "Approved"),
        (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 409, description = "`already_decided`", body = ErrorBody),
        (status = 422, description = "`no_receipt`", body = ErrorBody),
    )
)]
pub async fn approve(State(state): State<AppState>, user: AuthUser, PathParam(id): PathParam<Uuid>) -> ApiResult<StatusCode> {
    user.require(Permission::ApproveReceipts)?;
    state.commands.approve_payment(&user.actor, id, Utc::now()).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct Rejection {
    /// Told to the customer.
    pub reason: String,
}

/// Reject a receipt with a reason.
#[utoipa::path(
    post,
    operation_id = "admin_payments_reject",
    path = "/api/admin/payments/{id}/reject",
    tag = "admin: payments",
    security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Payment id")),
    request_body = Rejection,
    responses(
        (status = 204, description = "Rejected"),
        (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 409, description = "`already_decided`", body = ErrorBody),
        (status = 422, body = ErrorBody),
    )
)]
pub async fn reject(
    State(state): State<AppState>,
    user: AuthUser,
    PathParam(id): PathParam<Uuid>,
    JsonBody(body): JsonBody<Rejection>,
) -> ApiResult<StatusCode> {
    user.require(Permission::ApproveReceipts)?;
    let mut v = Validation::new();
    let reason = body.reason.trim();
    if reason.is_empty() || reason.chars().count() > 500 {
        v.fail("reason", "a reason is 1 to 500 characters");
    }
    v.finish()?;
    let reason = valid(Some(reason.to_string()));
    state.commands.reject_payment(&user.actor, id, reason, Utc::now()).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(pending))
        .routes(routes!(list))
        .routes(routes!(detail))
        .routes(routes!(receipt))
        .routes(routes!(approve))
        .routes(routes!(reject))
}
