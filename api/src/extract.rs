//! axum's extractors with our error body on rejection.
use axum::extract::FromRequest;
use axum::extract::FromRequestParts;

use crate::error::ApiError;

/// A JSON request body; a bad body is `400 malformed_json`, `415 json_required`
/// or `422 invalid_body` with serde's explanation.
#[derive(FromRequest)]
#[from_request(via(axum::Json), rejection(ApiError))]
pub struct JsonBody<T>(pub T);

/// Path parameters; a bad one (say, not a UUID) is `400 invalid_path`.
#[derive(FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(ApiError))]
pub struct PathParam<T>(pub T);

/// Query parameters; bad ones are `400 invalid_query`.
#[derive(FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(ApiError))]
pub struct QueryParams<T>(pub T);

/// A JSON answer from a cached, shared value (no copy of the value per request).
pub struct SharedJson<T>(pub std::sync::Arc<T>);

impl<T: serde::Serialize> axum::response::IntoResponse for SharedJson<T> {
    fn into_response(self) -> axum::response::Response {
        match serde_json::to_vec(&*self.0) {
            Ok(bytes) => (
                [(
                    axum::http::header::CONTENT_TYPE,
                    axum::http::HeaderValue::from_static("application/json"),
                )],
                bytes,
            )
                .into_response(),
            Err(e) => ApiError::internal(format!("serializing a response: {e}")).into_response(),
        }
    }
}
