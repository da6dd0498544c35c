//! Sessions: one per sign-in. The refresh token is `<session id>.<secret>`;
//! only the secret's SHA-256 is stored, and each refresh replaces it. A
//! refresh with an old secret means the token was copied: the session ends.
use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::{DateTime, Utc};
use rand::RngCore;
use serde::Serialize;
use sha2::{Digest, Sha256};
use sqlx::PgPool;
use utoipa::ToSchema;
use uuid::Uuid;

use super::SessionKind;

fn new_secret() -> (String, Vec<u8>) {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    let secret = URL_SAFE_NO_PAD.encode(bytes);
    let hash = Sha256::digest(secret.as_bytes()).to_vec();
    (secret, hash)
}

fn interval(d: Duration) -> f64 {
    d.as_secs_f64()
}

/// Starts a session; returns its id and refresh token.
pub async fn create(
    pool: &PgPool,
    kind: SessionKind,
    telegram_id: i64,
    ip: Option<String>,
    user_agent: Option<String>,
    ttl: Duration,
) -> Result<(Uuid, String), sqlx::Error> {
    let id = Uuid::new_v4();
    let (secret, hash) = new_secret();
    sqlx::query(
        "INSERT INTO api_sessions (id, telegram_id, kind, refresh_hash, created_at, last_used_at, expires_at, ip, user_agent) \
         VALUES ($1, $2, $3, $4, now(), now(), now() + make_interval(secs => $5), $6, $7)",
    )
    .bind(id)
    .bind(telegram_id)
    .bind(kind.as_str())
    .bind(hash)
    .bind(interval(ttl))
    .bind(ip)
    .bind(user_agent.map(|u| u.chars().take(300).collect::<String>()))
    .execute(pool)
    .await?;
    Ok((id, format!("{id}.{secret}")))
}

#[derive(Debug, PartialEq, Eq)]
pub enum RefreshError {
    /// Unknown, expired, revoked or malformed.
    Invalid,
    /// An old refresh token came back: the session has been revoked.
    Reused,
}

/// Swaps the refresh secret; returns the session's owner and the new token.
pub async fn rotate(
    pool: &PgPool,
    token: &str,
    ttl: Duration,
) -> Result<Result<(Uuid, i64, SessionKind, String), RefreshError>, sqlx::Error> {
    let Some((id, secret)) = token.split_once('.') else {
        return Ok(Err(RefreshError::Invalid));
    };
    let Ok(id) = Uuid::parse_str(id) else {
        return Ok(Err(RefreshError::Invalid));
    };
    let old = Sha256::digest(secret.as_bytes()).to_vec();
    let (new_secret, new_hash) = new_secret();
    let row: Option<(i64, String)> = sqlx::query_as(
        "UPDATE api_sessions SET refresh_hash = $3, last_used_at = now(), expires_at = now() + make_interval(secs => $4) \
         WHERE id = $1 AND refresh_hash = $2 AND revoked_at IS NULL AND expires_at > now() RETURNING telegram_id, kind",
    )
    .bind(id)
    .bind(&old)
    .bind(&new_hash)
    .bind(interval(ttl))
    .fetch_optional(pool)
    .await?;
    if let Some((telegram_id, kind)) = row {
        let kind = SessionKind::parse(&kind).ok_or_else(|| sqlx::Error::Protocol(format!("session kind {kind}")))?;
        return Ok(Ok((id, telegram_id, kind, format!("{id}.{new_secret}"))));
    }
    // A live session whose secret did not match: someone holds an old token.
    let reused = sqlx::query(
        "UPDATE api_sessions SET revoked_at = now(), revoked_reason = 'refresh token reused' \
         WHERE id = $1 AND refresh_hash <> $2 AND revoked_at IS NULL AND expires_at > now()",
    )
    .bind(id)
    .bind(&old)
    .execute(pool)
    .await?
    .rows_affected();
    Ok(Err(if reused > 0 { RefreshError::Reused } else { RefreshError::Invalid }))
}

pub async fn is_active(pool: &PgPool, id: Uuid) -> Result<bool, sqlx::Error> {
    Ok(
        sqlx::query_scalar::<_, bool>("SELECT revoked_at IS NULL AND expires_at > now() FROM api_sessions WHERE id = $1")
            .bind(id)
            .fetch_optional(pool)
            .await?
            .unwrap_or(false),
    )
}

/// Ends one session of `telegram_id` (any owner when `None`); false if there was none to end.
pub async fn revoke(pool: &PgPool, id: Uuid, owner: Option<i64>, reason: &str) -> Result<bool, sqlx::Error> {
    let n = sqlx::query(
        "UPDATE api_sessions SET revoked_at = now(), revoked_reason = $3 \
         WHERE id = $1 AND ($2::bigint IS NULL OR telegram_id = $2) AND revoked_at IS NULL",
    )
    .bind(id)
    .bind(owner)
    .bind(reason)
    .execute(pool)
    .await?
    .rows_affected();
    Ok(n > 0)
}

/// Ends every session of `telegram_id` (of one kind, if given) except `keep`.
pub async fn revoke_all(
    pool: &PgPool,
    telegram_id: i64,
    kind: Option<SessionKind>,
    keep: Option<Uuid>,
    reason: &str,
) -> Result<u64, sqlx::Error> {
    Ok(sqlx::query(
        "UPDATE api_sessions SET revoked_at = now(), revoked_reason = $4 \
         WHERE telegram_id = $1 AND ($2::text IS NULL OR kind = $2) AND ($3::uuid IS NULL OR id <> $3) AND revoked_at IS NULL",
    )
    .bind(telegram_id)
    .bind(kind.map(|k| k.as_str()))
    .bind(keep)
    .bind(reason)
    .execute(pool)
    .await?
    .rows_affected())
}

/// A session as its owner (or an admin) sees it. Never the refresh hash.
#[derive(Debug, Clone, Serialize, ToSchema, sqlx::FromRow)]
pub struct SessionInfo {
    pub id: Uuid,
    pub telegram_id: i64,
    /// `staff` (password sign-in) or `customer` (code sign-in).
    pub kind: String,
    pub created_at: DateTime<Utc>,
    pub last_used_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub revoked_at: Option<DateTime<Utc>>,
    pub revoked_reason: Option<String>,
    /// The session this request was made with.
    #[sqlx(default)]
    pub current: bool,
}

/// The 50 latest sessions of `telegram_id`, live ones first.
pub async fn list(pool: &PgPool, telegram_id: i64, current: Option<Uuid>) -> Result<Vec<SessionInfo>, sqlx::Error> {
    let mut rows: Vec<SessionInfo> = sqlx::query_as(
        "SELECT id, telegram_id, kind, created_at, last_used_at, expires_at, ip, user_agent, revoked_at, revoked_reason \
         FROM api_sessions WHERE telegram_id = $1 \
         ORDER BY (revoked_at IS NULL AND expires_at > now()) DESC, created_at DESC LIMIT 50",
    )
    .bind(telegram_id)
    .fetch_all(pool)
    .await?;
    for r in &mut rows {
        r.current = Some(r.id) == current;
    }
    Ok(rows)
}
