//! What the system told the signed-in person on Telegram, newest first: the
//! bot's notices (`bot_outbox`: payments decided, subscriptions ready,
//! expiring, renewed, withdrawals…) and the reminders the courier queued
//! (`tg_outbox`, `kind = 'direct'`, `topic = 'reminder'`: points about to
//! expire). Only rows addressed to the caller's own private chat (whose id is
//! their Telegram id), only those sent or still to be sent; edits of earlier
//! messages, failed and uncertain sends are left out. Live-chat messages are
//! on the chat page instead. The stored text is Telegram HTML; it is returned
//! as plain text (tags removed, entities decoded), so nothing in it is ever
//! markup to the client.
use axum::extract::State;
use axum::Json;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::views::Page;
use crate::auth::AuthUser;
use crate::error::{ApiResult, ErrorBody};
use crate::extract::QueryParams;
use crate::AppState;

/// One message the system sent (or will send) to the caller.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Notification {
    /// `bot` (the bot's notices) or `reminder`.
    pub source: String,
    /// The row's id within its source.
    pub id: i64,
    /// Plain text (never markup).
    pub text: String,
    /// The message came with a photo (the text was its caption).
    pub photo: bool,
    /// `sent` or `pending`.
    pub status: String,
    pub created_at: DateTime<Utc>,
    pub sent_at: Option<DateTime<Utc>>,
}

#[derive(sqlx::FromRow)]
struct Row {
    source: String,
    id: i64,
    text: Option<String>,
    html: bool,
    photo: bool,
    status: String,
    created_at: DateTime<Utc>,
    sent_at: Option<DateTime<Utc>>,
}

/// The caller's notifications, newest first (`?limit=&offset=`).
#[utoipa::path(
    get,
    operation_id = "me_notifications",
    path = "/api/me/notifications",
    tag = "me",
    security(("bearer" = [])),
    params(Page),
    responses((status = 200, body = [Notification]), (status = 401, body = ErrorBody), (status = 422, body = ErrorBody))
)]
pub async fn list(
    State(state): State<AppState>,
    user: AuthUser,
    QueryParams(page): QueryParams<Page>,
) -> ApiResult<Json<Vec<Notification>>> {
    let (limit, offset) = page.checked()?;
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT * FROM ( \
           SELECT 'bot' AS source, id, message->>'text' AS text, true AS html, \
                  coalesce(message->>'photo', '') <> '' AS photo, \
                  CASE WHEN sent_at IS NOT NULL THEN 'sent' ELSE 'pending' END AS status, created_at, sent_at \
             FROM bot_outbox \
            WHERE chat_id = $1 AND (sent_at IS NOT NULL OR failed IS NULL) \
              AND coalesce(message->>'edit_of', '') = '' \
           UNION ALL \
           SELECT 'reminder', id, body->>'text', coalesce((body->>'html')::boolean, false), \
                  coalesce(body->>'photo', '') <> '', \
                  CASE WHEN state = 'sent' THEN 'sent' ELSE 'pending' END, created_at, sent_at \
             FROM tg_outbox \
            WHERE chat_id = $1 AND kind = 'direct' AND topic = 'reminder' AND state IN ('pending', 'sending', 'sent') \
         ) n ORDER BY created_at DESC, source, id DESC LIMIT $2 OFFSET $3",
    )
    .bind(user.id.0)
    .bind(limit)
    .bind(offset)
    .fetch_all(&state.pool)
    .await?;
    Ok(Json(
        rows.into_iter()
            .map(|r| Notification {
                source: r.source,
                id: r.id,
                text: match r.text {
                    Some(t) if r.html => plain_text(&t),
                    Some(t) => t,
                    None => String::new(),
                },
                photo: r.photo,
                status: r.status,
                created_at: r.created_at,
                sent_at: r.sent_at,
            })
            .collect(),
    ))
}

/// Telegram HTML (`<b>`, `<i>`, `<a href>`, `<code>`, `<pre>`, … and the
/// entities `&lt; &gt; &amp; &quot;` and numeric ones) as plain text: tags
/// dropped, entities decoded. The result is text to display, never markup.
pub fn plain_text(html: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let mut rest = html;
    while let Some(i) = rest.find(['<', '&']) {
        out.push_str(&rest[..i]);
        let tail = &rest[i..];
        if tail.starts_with('<') {
            // A tag runs to its `>`; an unterminated one is dropped with the rest.
            rest = match tail.find('>') {
                Some(end) => &tail[end + 1..],
                None => "",
            };
            continue;
        }
        let entity = tail[1..].find(';').filter(|&n| n <= 10).map(|n| &tail[1..=n]);
        let decoded = entity.and_then(|e| match e {
            "lt" => Some('<'),
            "gt" => Some('>'),
            "amp" => Some('&'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            "nbsp" => Some('\u{a0}'),
            _ => {
                let n = e.strip_prefix('#')?;
                let code = match n.strip_prefix(['x', 'X']) {
                    Some(hex) => u32::from_str_radix(hex, 16).ok()?,
                    None => n.parse().ok()?,
                };
                char::from_u32(code)
            }
        });
        match (entity, decoded) {
            (Some(e), Some(c)) => {
                out.push(c);
                rest = &tail[e.len() + 2..];
            }
            _ => {
                out.push('&');
                rest = &tail[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list))
}

#[cfg(test)]
mod tests {
    use super::plain_text;

    #[test]
    fn telegram_html_becomes_plain_text_with_no_markup_left() {
        assert_eq!(
            plain_text("<b>Paid</b>: 150,000 &lt;script&gt;alert(1)&lt;/script&gt; &amp; <a href=\"https://x\">link</a>"),
            "Paid: 150,000 <script>alert(1)</script> & link"
        );
        assert_eq!(plain_text("&#1777;&#x6F2; &quot;x&quot; &bogus; a & b"), "۱۲ \"x\" &bogus; a & b");
        assert_eq!(plain_text("<i>unterminated <b"), "unterminated ");
        assert_eq!(plain_text("line one\nline two"), "line one\nline two");
    }
}
