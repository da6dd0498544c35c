//! The `tg_outbox` table: messages owed to Telegram chats, queued in the
//! same transaction as whatever decided them, one row per `dedupe_key`.
use serde::{Deserialize, Serialize};

use crate::telegram::Body;

/// How a row is delivered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Kind {
    /// A staff-group line: joined with the chat's next pending lines into one message.
    Line,
    /// A message of its own (to a customer or an agent).
    Direct,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::Line => "line",
            Kind::Direct => "direct",
        }
    }
}

/// A message to queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutRow {
    /// What makes it unique: a second row with the same key is dropped.
    pub key: String,
    pub chat: i64,
    pub kind: Kind,
    pub topic: Option<String>,
    /// The feed position that caused it, if any.
    pub position: Option<i64>,
    pub body: Body,
}

/// Queues `rows`, skipping keys already queued; returns how many were new.
pub async fn enqueue<'c, E>(conn: E, rows: &[OutRow]) -> Result<u64, sqlx::Error>
where
    E: sqlx::PgExecutor<'c>,
{
    if rows.is_empty() {
        return Ok(0);
    }
    let keys: Vec<&str> = rows.iter().map(|r| r.key.as_str()).collect();
    let chats: Vec<i64> = rows.iter().map(|r| r.chat).collect();
    let kinds: Vec<&str> = rows.iter().map(|r| r.kind.name()).collect();
    let topics: Vec<Option<&str>> = rows.iter().map(|r| r.topic.as_deref()).collect();
    let positions: Vec<Option<i64>> = rows.iter().map(|r| r.position).collect();
    let bodies: Vec<serde_json::Value> = rows
        .iter()
        .map(|r| serde_json::to_value(&r.body).expect("a body serializes"))
        .collect();
    let done = sqlx::query(
        "INSERT INTO tg_outbox (dedupe_key, chat_id, kind, topic, position, body) \
         SELECT * FROM UNNEST($1::text[], $2::bigint[], $3::text[], $4::text[], $5::bigint[], $6::jsonb[]) \
         ON CONFLICT (dedupe_key) DO NOTHING",
    )
    .bind(&keys)
    .bind(&chats)
    .bind(&kinds)
    .bind(&topics)
    .bind(&positions)
    .bind(&bodies)
    .execute(conn)
    .await?;
    Ok(done.rows_affected())
}

/// Delivery figures of the outbox, by state.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OutboxFigures {
    pub pending: i64,
    pub sending: i64,
    pub sent: i64,
    pub uncertain: i64,
    pub blocked: i64,
    pub failed: i64,
}

pub async fn figures(pool: &sqlx::PgPool) -> Result<OutboxFigures, sqlx::Error> {
    let rows: Vec<(String, i64)> = sqlx::query_as("SELECT state, count(*) FROM tg_outbox GROUP BY state")
        .fetch_all(pool)
        .await?;
    let mut f = OutboxFigures::default();
    for (state, n) in rows {
        match state.as_str() {
            "pending" => f.pending = n,
            "sending" => f.sending = n,
            "sent" => f.sent = n,
            "uncertain" => f.uncertain = n,
            "blocked" => f.blocked = n,
            "failed" => f.failed = n,
            _ => {}
        }
    }
    Ok(f)
}
