//! Live chat for support agents (`answer_support`): the queued and assigned
//! chats and their history from the `support_chats` and `support_messages`
//! read models; taking, answering and closing a chat through the
//! `SupportChat` aggregate, which decides who may (only the assigned agent
//! answers). An answer reaches the customer on Telegram through the bot's
//! support relay, which follows the same events.
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use chrono::{DateTime, Utc};
use domain::support::ChatContent;
use domain::{CustomerId, Permission};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::auth::AuthUser;
use crate::error::{valid, ApiError, ApiResult, ErrorBody, Validation};
use crate::extract::{JsonBody, PathParam, QueryParams};
use crate::AppState;

/// Telegram's limit for one message.
const MAX_TEXT: usize = 4096;

/// A chat as the support read model holds it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, sqlx::FromRow)]
pub struct Chat {
    pub id: Uuid,
    pub customer: i64,
    pub username: Option<String>,
    /// The customer's n-th chat.
    pub number: i32,
    /// `queued`, `assigned` or `closed`.
    pub status: String,
    pub agent: Option<i64>,
    pub agent_username: Option<String>,
    pub opened_at: DateTime<Utc>,
    pub assigned_at: Option<DateTime<Utc>>,
    /// The oldest customer message not answered yet.
    pub waiting_since: Option<DateTime<Utc>>,
    pub messages: i32,
    pub closed_at: Option<DateTime<Utc>>,
    pub rating: Option<i16>,
    pub last_text: Option<String>,
    pub last_at: Option<DateTime<Utc>>,
}

const CHAT_COLUMNS: &str = "s.id, s.customer, c.username, s.number, s.status, s.agent, a.username AS agent_username, \
     s.opened_at, s.assigned_at, s.waiting_since, s.messages, s.closed_at, s.rating, \
     (SELECT coalesce(m.text, '[' || m.content_type || ']') FROM support_messages m WHERE m.chat_id = s.id ORDER BY m.position DESC LIMIT 1) AS last_text, \
     (SELECT m.at FROM support_messages m WHERE m.chat_id = s.id ORDER BY m.position DESC LIMIT 1) AS last_at \
     FROM support_chats s LEFT JOIN customers c ON c.telegram_id = s.customer LEFT JOIN customers a ON a.telegram_id = s.agent";

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ChatQuery {
    /// `open` (queued and assigned; the default), `queued`, `mine` (assigned to the caller) or `closed`.
    pub status: Option<String>,
}

/// Chats: by default every open one, queued first, then by when they opened.
#[utoipa::path(
    get,
    operation_id = "admin_chats_list",
    path = "/api/admin/chats",
    tag = "admin: live chat",
    security(("bearer" = [])),
    params(ChatQuery),
    responses((status = 200, body = [Chat]), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody))
)]
pub async fn list(State(state): State<AppState>, user: AuthUser, QueryParams(q): QueryParams<ChatQuery>) -> ApiResult<Json<Vec<Chat>>> {
    user.require(Permission::AnswerSupport)?;
    let filter = match q.status.as_deref().unwrap_or("open") {
        "open" => Some("s.status <> 'closed'"),
        "queued" => Some("s.status = 'queued'"),
        "mine" => Some("s.status <> 'closed' AND s.agent = $1"),
        "closed" => Some("s.status = 'closed'"),
        _ => None,
    };
    let mut v = Validation::new();
    if filter.is_none() {
        v.fail("status", "one of open, queued, mine, closed");
    }
    v.finish()?;
    let filter = valid(filter);
    // `$1` (the caller) is bound for every filter; only `mine` compares with it.
    let rows = sqlx::query_as(&format!(
        "SELECT {CHAT_COLUMNS} WHERE {filter} AND $1::bigint IS NOT NULL \
         ORDER BY (s.status = 'queued') DESC, coalesce(s.closed_at, s.opened_at) DESC LIMIT 200"
    ))
    .bind(user.id.0)
    .fetch_all(&state.pool)
    .await?;
    Ok(Json(rows))
}

/// One message in a chat.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, sqlx::FromRow)]
pub struct ChatMessage {
    /// The event's global position (messages are in this order).
    pub position: i64,
    /// `customer` or `agent`.
    pub sender: String,
    pub sender_id: i64,
    /// `text`, `photo` or `document`.
    pub content_type: String,
    /// The text, or a photo's or document's caption.
    pub text: Option<String>,
    pub file_name: Option<String>,
    pub at: DateTime<Utc>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ChatHistory {
    pub chat: Chat,
    pub messages: Vec<ChatMessage>,
}

async fn load_chat(state: &AppState, id: Uuid) -> ApiResult<Chat> {
    sqlx::query_as(&format!("SELECT {CHAT_COLUMNS} WHERE s.id = $1"))
        .bind(id)
        .fetch_optional(&state.pool)
        .await?
        .ok_or_else(|| ApiError::not_found("chat"))
}

/// A chat and its messages, oldest first.
#[utoipa::path(
    get,
    operation_id = "admin_chats_detail",
    path = "/api/admin/chats/{id}",
    tag = "admin: live chat",
    security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Chat id")),
    responses((status = 200, body = ChatHistory), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody))
)]
pub async fn detail(State(state): State<AppState>, user: AuthUser, PathParam(id): PathParam<Uuid>) -> ApiResult<Json<ChatHistory>> {
    user.require(Permission::AnswerSupport)?;
    let chat = load_chat(&state, id).await?;
    let messages = sqlx::query_as(
        "SELECT position, sender, sender_id, content_type, text, file_name, at FROM support_messages \
         WHERE chat_id = $1 ORDER BY position LIMIT 2000",
    )
    .bind(id)
    .fetch_all(&state.pool)
    .await?;
    Ok(Json(ChatHistory { chat, messages }))
}

/// Take a queued chat: it is assigned to the caller (`409 already_assigned` when another agent has it).
#[utoipa::path(
    post,
    operation_id = "admin_chats_take",
    path = "/api/admin/chats/{id}/take",
    tag = "admin: live chat",
    security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Chat id")),
    responses(
        (status = 204, description = "The chat is the caller's"),
        (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 409, description = "`already_assigned`", body = ErrorBody),
        (status = 422, description = "`closed`", body = ErrorBody),
    )
)]
pub async fn take(State(state): State<AppState>, user: AuthUser, PathParam(id): PathParam<Uuid>) -> ApiResult<StatusCode> {
    user.require(Permission::AnswerSupport)?;
    state.commands.support_chat(id).await?;
    state.commands.assign_support_chat(id, CustomerId(user.id.0), Utc::now()).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct Reply {
    /// 1 to 4,096 characters.
    pub text: String,
    /// Chosen by the client; sending the same id again sends nothing twice.
    pub request_id: Uuid,
}

/// A negative message number from the client's request id: Telegram's own
/// message ids are positive, so an answer from the dashboard never collides
/// with one typed in Telegram, and a retried request is recognised.
pub(crate) fn message_id(request: Uuid) -> i64 {
    let digest = Sha256::digest(request.as_bytes());
    let mut bytes = [0u8; 8];
    bytes.copy_from_slice(&digest[..8]);
    let n = i64::try_from(u64::from_be_bytes(bytes) >> 1).unwrap_or(i64::MAX);
    -n - 1
}

/// Answer a chat assigned to the caller (`422 assigned_to_other` / `not_assigned` otherwise).
/// The customer receives it on Telegram.
#[utoipa::path(
    post,
    operation_id = "admin_chats_reply",
    path = "/api/admin/chats/{id}/messages",
    tag = "admin: live chat",
    security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Chat id")),
    request_body = Reply,
    responses(
        (status = 204, description = "Sent (or already sent with this request id)"),
        (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 422, description = "`validation_failed`, `not_assigned`, `assigned_to_other`, `closed`", body = ErrorBody),
    )
)]
pub async fn reply(
    State(state): State<AppState>,
    user: AuthUser,
    PathParam(id): PathParam<Uuid>,
    JsonBody(body): JsonBody<Reply>,
) -> ApiResult<StatusCode> {
    user.require(Permission::AnswerSupport)?;
    let mut v = Validation::new();
    let text = body.text.trim();
    if text.is_empty() || text.chars().count() > MAX_TEXT {
        v.fail("text", "a message is 1 to 4096 characters");
    }
    v.finish()?;
    let text = valid(Some(text.to_string()));
    state.commands.support_chat(id).await?;
    state
        .commands
        .reply_in_support_chat(&user.actor, id, message_id(body.request_id), ChatContent::Text { text }, Utc::now())
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Close a chat (the customer is asked for a rating on Telegram).
#[utoipa::path(
    post,
    operation_id = "admin_chats_close",
    path = "/api/admin/chats/{id}/close",
    tag = "admin: live chat",
    security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Chat id")),
    responses((status = 204, description = "Closed (or already closed)"), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody))
)]
pub async fn close(State(state): State<AppState>, user: AuthUser, PathParam(id): PathParam<Uuid>) -> ApiResult<StatusCode> {
    user.require(Permission::AnswerSupport)?;
    state.commands.support_chat(id).await?;
    state.commands.close_support_chat(&user.actor, id, Utc::now()).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list))
        .routes(routes!(detail))
        .routes(routes!(take))
        .routes(routes!(reply))
        .routes(routes!(close))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_id_gives_the_same_negative_message_number_every_time() {
        let r = Uuid::new_v4();
        assert_eq!(message_id(r), message_id(r));
        assert!(message_id(r) < 0);
        assert!(message_id(Uuid::nil()) < 0);
        assert_ne!(message_id(r), message_id(Uuid::new_v4()));
    }
}
