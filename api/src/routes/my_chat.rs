//! The customer's side of live chat, for the signed-in person only: open a
//! chat (or get the open one), read one's own chats, write, close and rate,
//! through the `SupportChat` aggregate (which also checks the `chat` feature
//! when opening and the 1–5 rating after closing). No route reaches another
//! person's chat: a chat id that is not the caller's answers `404`. A message
//! written here reaches the assigned agent on Telegram through the bot's
//! support relay, which follows the same events; the agent's answers reach
//! this page as `chat_message` live events.
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use chrono::{DateTime, Utc};
use domain::support::ChatContent;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::admin::chat::message_id;
use crate::auth::AuthUser;
use crate::error::{valid, ApiError, ApiResult, ErrorBody, Validation};
use crate::extract::{JsonBody, PathParam};
use crate::AppState;

/// One of the caller's chats (the agent is not named).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, sqlx::FromRow)]
pub struct MyChat {
    pub id: Uuid,
    /// The caller's n-th chat.
    pub number: i32,
    /// `queued` (waiting for an agent), `assigned` or `closed`.
    pub status: String,
    pub opened_at: DateTime<Utc>,
    pub assigned_at: Option<DateTime<Utc>>,
    pub closed_at: Option<DateTime<Utc>>,
    /// 1 to 5 stars, once closed and rated.
    pub rating: Option<i16>,
    pub messages: i32,
}

/// One message in the caller's chat.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, sqlx::FromRow)]
pub struct MyChatMessage {
    /// The event's global position (messages are in this order).
    pub position: i64,
    /// `customer` (the caller) or `agent`.
    pub sender: String,
    /// `text`, `photo` or `document`.
    pub content_type: String,
    /// The text, or a photo's or document's caption.
    pub text: Option<String>,
    pub file_name: Option<String>,
    pub at: DateTime<Utc>,
}

/// The caller's chat and its messages, oldest first; `chat` is null when the
/// caller never had one.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct MyChatHistory {
    pub chat: Option<MyChat>,
    pub messages: Vec<MyChatMessage>,
    /// The chat is closed and not rated yet: the caller may rate it.
    pub can_rate: bool,
}

const COLUMNS: &str = "id, number, status, opened_at, assigned_at, closed_at, rating, messages FROM support_chats";

async fn history(state: &AppState, chat: Option<MyChat>) -> ApiResult<MyChatHistory> {
    let Some(chat) = chat else {
        return Ok(MyChatHistory {
            chat: None,
            messages: vec![],
            can_rate: false,
        });
    };
    let messages = sqlx::query_as(
        "SELECT position, sender, content_type, text, file_name, at FROM support_messages \
         WHERE chat_id = $1 ORDER BY position LIMIT 2000",
    )
    .bind(chat.id)
    .fetch_all(&state.pool)
    .await?;
    let can_rate = chat.status == "closed" && chat.rating.is_none();
    Ok(MyChatHistory {
        chat: Some(chat),
        messages,
        can_rate,
    })
}

/// The caller's current chat: the open one, else the latest; with its messages.
#[utoipa::path(
    get,
    operation_id = "me_chat_current",
    path = "/api/me/chat",
    tag = "me",
    security(("bearer" = [])),
    responses((status = 200, body = MyChatHistory), (status = 401, body = ErrorBody))
)]
pub async fn current(State(state): State<AppState>, user: AuthUser) -> ApiResult<Json<MyChatHistory>> {
    let chat: Option<MyChat> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} WHERE customer = $1 ORDER BY (status <> 'closed') DESC, number DESC LIMIT 1"
    ))
    .bind(user.id.0)
    .fetch_optional(&state.pool)
    .await?;
    Ok(Json(history(&state, chat).await?))
}

/// The caller's chat `id` with its messages (`404` for anyone else's).
#[utoipa::path(
    get,
    operation_id = "me_chat_detail",
    path = "/api/me/chat/{id}",
    tag = "me",
    security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Chat id")),
    responses((status = 200, body = MyChatHistory), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody))
)]
pub async fn detail(State(state): State<AppState>, user: AuthUser, PathParam(id): PathParam<Uuid>) -> ApiResult<Json<MyChatHistory>> {
    let chat: Option<MyChat> = sqlx::query_as(&format!("SELECT {COLUMNS} WHERE id = $1 AND customer = $2"))
        .bind(id)
        .bind(user.id.0)
        .fetch_optional(&state.pool)
        .await?;
    let chat = chat.ok_or_else(|| ApiError::not_found("chat"))?;
    Ok(Json(history(&state, Some(chat)).await?))
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct OpenedChat {
    pub id: Uuid,
    /// False when the caller already had this chat open.
    pub new: bool,
}

/// Open a chat, or return the caller's open one. It waits in the queue for an
/// agent. Refused with `422 chat_disabled` while the `chat` feature is off.
#[utoipa::path(
    post,
    operation_id = "me_chat_open",
    path = "/api/me/chat",
    tag = "me",
    security(("bearer" = [])),
    responses(
        (status = 201, body = OpenedChat, description = "A new chat in the queue"),
        (status = 200, body = OpenedChat, description = "The chat that was already open"),
        (status = 401, body = ErrorBody),
        (status = 422, description = "`chat_disabled`", body = ErrorBody),
    )
)]
pub async fn open(State(state): State<AppState>, user: AuthUser) -> ApiResult<(StatusCode, Json<OpenedChat>)> {
    let opened = state.commands.open_support_chat(&user.actor, Utc::now()).await?;
    let status = if opened.new { StatusCode::CREATED } else { StatusCode::OK };
    Ok((
        status,
        Json(OpenedChat {
            id: opened.chat,
            new: opened.new,
        }),
    ))
}

/// The chat `id` from the events, if it is the caller's (`404` otherwise,
/// so nobody learns whether another person's chat exists).
async fn own_chat(state: &AppState, user: &AuthUser, id: Uuid) -> ApiResult<()> {
    let chat = state.commands.support_chat(id).await?;
    if chat.customer != Some(user.id) {
        return Err(ApiError::not_found("chat"));
    }
    Ok(())
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct MyMessage {
    /// 1 to 4,096 characters.
    pub text: String,
    /// Chosen by the client; sending the same id again sends nothing twice.
    pub request_id: Uuid,
}

/// Write in the caller's open chat; the agent receives it on Telegram.
#[utoipa::path(
    post,
    operation_id = "me_chat_write",
    path = "/api/me/chat/{id}/messages",
    tag = "me",
    security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Chat id")),
    request_body = MyMessage,
    responses(
        (status = 204, description = "Sent (or already sent with this request id)"),
        (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 422, description = "`validation_failed`, `closed`", body = ErrorBody),
    )
)]
pub async fn write(
    State(state): State<AppState>,
    user: AuthUser,
    PathParam(id): PathParam<Uuid>,
    JsonBody(body): JsonBody<MyMessage>,
) -> ApiResult<StatusCode> {
    let mut v = Validation::new();
    let text = body.text.trim();
    if text.is_empty() || text.chars().count() > domain::support::MAX_TEXT {
        v.fail("text", "a message is 1 to 4096 characters");
    }
    v.finish()?;
    let text = valid(Some(text.to_string()));
    own_chat(&state, &user, id).await?;
    state
        .commands
        .post_to_support(&user.actor, id, message_id(body.request_id), ChatContent::Text { text }, Utc::now())
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Close the caller's chat (closing a closed chat changes nothing).
#[utoipa::path(
    post,
    operation_id = "me_chat_close",
    path = "/api/me/chat/{id}/close",
    tag = "me",
    security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Chat id")),
    responses((status = 204, description = "Closed"), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody))
)]
pub async fn close(State(state): State<AppState>, user: AuthUser, PathParam(id): PathParam<Uuid>) -> ApiResult<StatusCode> {
    own_chat(&state, &user, id).await?;
    state.commands.close_support_chat(&user.actor, id, Utc::now()).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct Rating {
    /// 1 to 5.
    pub stars: i64,
}

/// Rate the caller's closed chat, once, 1 to 5 stars (`422 still_open` before
/// it closes, `409 already_rated` for a second, different rating).
#[utoipa::path(
    post,
    operation_id = "me_chat_rate",
    path = "/api/me/chat/{id}/rating",
    tag = "me",
    security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Chat id")),
    request_body = Rating,
    responses(
        (status = 204, description = "Rated"),
        (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 409, description = "`already_rated`", body = ErrorBody),
        (status = 422, description = "`validation_failed`, `still_open`", body = ErrorBody),
    )
)]
pub async fn rate(
    State(state): State<AppState>,
    user: AuthUser,
    PathParam(id): PathParam<Uuid>,
    JsonBody(body): JsonBody<Rating>,
) -> ApiResult<StatusCode> {
    let mut v = Validation::new();
    let stars = u8::try_from(body.stars).ok().filter(|s| (1..=5).contains(s));
    if stars.is_none() {
        v.fail("stars", "a rating is 1 to 5 stars");
    }
    v.finish()?;
    own_chat(&state, &user, id).await?;
    state.commands.rate_support_chat(&user.actor, id, valid(stars), Utc::now()).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(current, open))
        .routes(routes!(detail))
        .routes(routes!(write))
        .routes(routes!(close))
        .routes(routes!(rate))
}
