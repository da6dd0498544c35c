//! The one error type every route returns: `{code, message, details}` JSON
//! with the right status. Internal failures are logged with their cause and
//! answered with a generic message, so nothing about the server leaks.
use std::collections::BTreeMap;

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use commands::CommandError;
use serde::Serialize;
use utoipa::ToSchema;

/// The error body of every non-2xx answer.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ErrorBody {
    /// Stable, machine-readable: `validation_failed`, `forbidden`, `already_decided`, …
    #[schema(example = "validation_failed")]
    pub code: String,
    /// For people; may change between versions.
    #[schema(example = "some fields are invalid")]
    pub message: String,
    /// Extra facts, e.g. `{"fields": {"amount": "…"}}` or `{"permission": "approve_receipts"}`.
    #[schema(value_type = Object)]
    pub details: serde_json::Value,
}

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: String,
    pub message: String,
    pub details: serde_json::Value,
    /// Seconds, for `429 Too Many Requests`.
    pub retry_after: Option<u64>,
}

pub type ApiResult<T> = Result<T, ApiError>;

impl ApiError {
    pub fn new(status: StatusCode, code: &str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code: code.to_string(),
            message: message.into(),
            details: serde_json::Value::Object(Default::default()),
            retry_after: None,
        }
    }

    pub fn with_details(mut self, details: serde_json::Value) -> ApiError {
        self.details = details;
        self
    }

    pub fn unauthorized(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", message)
    }

    pub fn forbidden(permission: domain::Permission) -> ApiError {
        ApiError::new(StatusCode::FORBIDDEN, "forbidden", format!("permission `{permission}` is required"))
            .with_details(serde_json::json!({ "permission": permission.name() }))
    }

    pub fn not_found(what: &str) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, "not_found", format!("{what} not found"))
    }

    pub fn too_many(retry_after: u64) -> ApiError {
        let mut e = ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            format!("too many attempts; try again in {retry_after} s"),
        );
        e.retry_after = Some(retry_after);
        e
    }

    /// A failure that is ours, not the client's: logged in full, answered in general.
    pub fn internal(cause: impl std::fmt::Display) -> ApiError {
        let reference = uuid::Uuid::new_v4();
        tracing::error!(%reference, error = %cause, "internal error");
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "something went wrong on our side; it has been logged",
        )
        .with_details(serde_json::json!({ "reference": reference }))
    }

    pub fn unavailable(code: &str, message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::SERVICE_UNAVAILABLE, code, message)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            code: self.code,
            message: self.message,
            details: self.details,
        };
        let mut response = (self.status, axum::Json(body)).into_response();
        if let Some(secs) = self.retry_after {
            if let Ok(v) = HeaderValue::from_str(&secs.to_string()) {
                response.headers_mut().insert(header::RETRY_AFTER, v);
            }
        }
        response
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(e: sqlx::Error) -> Self {
        ApiError::internal(format!("database: {e}"))
    }
}

impl From<eventstore::StoreError> for ApiError {
    fn from(e: eventstore::StoreError) -> Self {
        ApiError::internal(e)
    }
}

/// `SomeVariant(..)` / `SomeVariant { .. }` → `some_variant`: a domain error's
/// code is the name of the rule it broke.
fn variant_code(debug: &str) -> String {
    let name: String = debug.chars().take_while(|c| c.is_ascii_alphanumeric()).collect();
    let mut out = String::new();
    for (i, c) in name.chars().enumerate() {
        if c.is_ascii_uppercase() {
            if i > 0 {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

/// The innermost domain error's Debug text, for its code.
fn domain_debug(e: &CommandError) -> Option<String> {
    let d = format!("{e:?}");
    // `Payment(AlreadyDecided("approved"))` → `AlreadyDecided("approved")`
    let inner = d.split_once('(').map(|(_, rest)| rest.to_string())?;
    Some(inner)
}

impl From<CommandError> for ApiError {
    fn from(e: CommandError) -> Self {
        use CommandError as C;
        match &e {
            C::Storage(_) => return ApiError::internal(&e),
            C::Conflict => return ApiError::new(StatusCode::CONFLICT, "conflict", e.to_string()),
            C::NotFound(what) => return ApiError::not_found(what),
            C::Blocked(_) => return ApiError::new(StatusCode::FORBIDDEN, "blocked", e.to_string()),
            C::NoActiveCard => return ApiError::unavailable("no_active_card", e.to_string()),
            _ => {}
        }
        let message = e.to_string();
        let inner = domain_debug(&e).unwrap_or_default();
        if inner.starts_with("Denied(") {
            if let Some(p) = domain::Permission::ALL.into_iter().find(|p| inner.contains(&format!("({p:?})"))) {
                return ApiError::forbidden(p);
            }
            return ApiError::new(StatusCode::FORBIDDEN, "forbidden", message);
        }
        let code = variant_code(&inner);
        let status = if code == "not_found" {
            StatusCode::NOT_FOUND
        } else if code.starts_with("already_") || code.ends_with("_conflict") || code == "charge_pending" {
            StatusCode::CONFLICT
        } else {
            StatusCode::UNPROCESSABLE_ENTITY
        };
        ApiError::new(status, &code, message)
    }
}

impl From<JsonRejection> for ApiError {
    fn from(r: JsonRejection) -> Self {
        let (status, code) = match &r {
            JsonRejection::JsonDataError(_) => (StatusCode::UNPROCESSABLE_ENTITY, "invalid_body"),
            JsonRejection::JsonSyntaxError(_) => (StatusCode::BAD_REQUEST, "malformed_json"),
            JsonRejection::MissingJsonContentType(_) => (StatusCode::UNSUPPORTED_MEDIA_TYPE, "json_required"),
            _ => (StatusCode::BAD_REQUEST, "invalid_body"),
        };
        ApiError::new(status, code, r.body_text())
    }
}

impl From<PathRejection> for ApiError {
    fn from(r: PathRejection) -> Self {
        ApiError::new(StatusCode::BAD_REQUEST, "invalid_path", r.body_text())
    }
}

impl From<QueryRejection> for ApiError {
    fn from(r: QueryRejection) -> Self {
        ApiError::new(StatusCode::BAD_REQUEST, "invalid_query", r.body_text())
    }
}

/// Collects every invalid field of a request before answering, so a client
/// learns about all of them at once.
#[derive(Default)]
pub struct Validation {
    fields: BTreeMap<String, String>,
}

impl Validation {
    pub fn new() -> Self {
        Self::default()
    }

    /// Keeps the value, or records the error against `field`.
    pub fn check<T, E: std::fmt::Display>(&mut self, field: &str, r: Result<T, E>) -> Option<T> {
        match r {
            Ok(v) => Some(v),
            Err(e) => {
                self.fields.insert(field.to_string(), e.to_string());
                None
            }
        }
    }

    pub fn fail(&mut self, field: &str, message: impl Into<String>) {
        self.fields.insert(field.to_string(), message.into());
    }

    pub fn finish(self) -> ApiResult<()> {
        if self.fields.is_empty() {
            return Ok(());
        }
        Err(
            ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed", "some fields are invalid")
                .with_details(serde_json::json!({ "fields": self.fields })),
        )
    }
}

/// Unwraps values that [`Validation::check`] kept after `finish()` succeeded.
pub fn valid<T>(v: Option<T>) -> T {
    v.expect("validation finished without errors, so every checked value is present")
}

#[cfg(test)]
mod tests {
    use super::*;
    use domain::payment::PaymentError;

    #[test]
    fn domain_errors_become_named_codes_with_fitting_statuses() {
        let e: ApiError = CommandError::Payment(PaymentError::AlreadyDecided("approved")).into();
        assert_eq!((e.status, e.code.as_str()), (StatusCode::CONFLICT, "already_decided"));
        let e: ApiError = CommandError::Payment(PaymentError::NoReceipt).into();
        assert_eq!((e.status, e.code.as_str()), (StatusCode::UNPROCESSABLE_ENTITY, "no_receipt"));
        let e: ApiError = CommandError::Payment(PaymentError::Denied(domain::access::PermissionDenied(
            domain::Permission::ApproveReceipts,
        )))
        .into();
        assert_eq!((e.status, e.code.as_str()), (StatusCode::FORBIDDEN, "forbidden"));
        assert_eq!(e.details["permission"], "approve_receipts");
        let e: ApiError = CommandError::NotFound("customer").into();
        assert_eq!(e.status, StatusCode::NOT_FOUND);
    }

    #[test]
    fn storage_failures_never_reach_the_client() {
        let e: ApiError = CommandError::Storage("password authentication failed for user mrjbot".into()).into();
        assert_eq!(e.status, StatusCode::INTERNAL_SERVER_ERROR);
        assert!(!e.message.contains("mrjbot"));
        assert!(!e.details.to_string().contains("password"));
    }

    #[test]
    fn validation_reports_every_bad_field() {
        let mut v = Validation::new();
        let a: Option<i32> = v.check("a", "x".parse::<i32>());
        let b: Option<i32> = v.check("b", "2".parse::<i32>());
        v.fail("c", "required");
        assert!(a.is_none());
        assert_eq!(b, Some(2));
        let e = v.finish().unwrap_err();
        assert_eq!(e.code, "validation_failed");
        assert_eq!(e.details["fields"].as_object().unwrap().len(), 2);
    }
}
