//! The PostgreSQL event store underneath cqrs-es/postgres-es, plus what
//! postgres-es does not give: a gapless global position in commit order, the
//! stream of all events in that order, LISTEN/NOTIFY wake-ups, consumer
//! checkpoints and the schema migrations.
//!
//! Depends only on sqlx and value crates; knows nothing of the domain.
#![forbid(unsafe_code)]

mod migrate;
pub mod testing;

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::postgres::{PgListener, PgPoolOptions};
use sqlx::{PgPool, Postgres, Row, Transaction};

pub use migrate::{migrate, MIGRATIONS};

/// The channel the insert trigger notifies on each committed append.
pub const NOTIFY_CHANNEL: &str = "mrjbot_events";

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("migration {version} failed: {source}")]
    Migration {
        version: i64,
        #[source]
        source: sqlx::Error,
    },
}

/// An event as stored, with its place in the global stream.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredEvent {
    pub position: i64,
    pub aggregate_type: String,
    pub aggregate_id: String,
    pub sequence: i64,
    pub event_type: String,
    pub event_version: String,
    pub payload: serde_json::Value,
    pub metadata: serde_json::Value,
    pub recorded_at: DateTime<Utc>,
}

/// Connects with a bounded pool; fails instead of panicking (unlike postgres-es' helper).
pub async fn connect(url: &str, max_connections: u32) -> Result<PgPool, StoreError> {
    Ok(PgPoolOptions::new()
        .max_connections(max_connections)
        .acquire_timeout(Duration::from_secs(10))
        .connect(url)
        .await?)
}

/// Connects, creating the database first when the server says it does not
/// exist (SQLSTATE 3D000), so a fresh install needs no manual `createdb`.
pub async fn connect_or_create(url: &str, max_connections: u32) -> Result<PgPool, StoreError> {
    match connect(url, max_connections).await {
        Err(StoreError::Database(sqlx::Error::Database(e))) if e.code().as_deref() == Some("3D000") => {
            let options: sqlx::postgres::PgConnectOptions = url.parse()?;
            let name = options.get_database().unwrap_or("postgres").to_string();
            let admin = connect(&testing::database_url(url, "postgres"), 1).await?;
            let quoted = format!("\"{}\"", name.replace('"', "\"\""));
            sqlx::query(&format!("CREATE DATABASE {quoted}")).execute(&admin).await?;
            admin.close().await;
            tracing::info!(database = %name, "created database");
            connect(url, max_connections).await
        }
        other => other,
    }
}

const SELECT: &str = "SELECT position, aggregate_type, aggregate_id, sequence, event_type, event_version, \
     payload, metadata, recorded_at FROM events";

fn row_to_event(row: &sqlx::postgres::PgRow) -> Result<StoredEvent, sqlx::Error> {
    Ok(StoredEvent {
        position: row.try_get("position")?,
        aggregate_type: row.try_get("aggregate_type")?,
        aggregate_id: row.try_get("aggregate_id")?,
        sequence: row.try_get("sequence")?,
        event_type: row.try_get("event_type")?,
        event_version: row.try_get("event_version")?,
        payload: row.try_get("payload")?,
        metadata: row.try_get("metadata")?,
        recorded_at: row.try_get("recorded_at")?,
    })
}

/// Up to `limit` events after `position`, in global order. Because positions
/// are taken under a lock held to commit, the result never has a hole that a
/// slower writer could fill later.
pub async fn read_after(pool: &PgPool, position: i64, limit: i64) -> Result<Vec<StoredEvent>, StoreError> {
    let rows = sqlx::query(&format!("{SELECT} WHERE position > $1 ORDER BY position LIMIT $2"))
        .bind(position)
        .bind(limit)
        .fetch_all(pool)
        .await?;
    Ok(rows.iter().map(row_to_event).collect::<Result<_, _>>()?)
}

/// Events with `after < position <= until`, in global order.
pub async fn read_range(pool: &PgPool, after: i64, until: i64) -> Result<Vec<StoredEvent>, StoreError> {
    let rows = sqlx::query(&format!("{SELECT} WHERE position > $1 AND position <= $2 ORDER BY position"))
        .bind(after)
        .bind(until)
        .fetch_all(pool)
        .await?;
    Ok(rows.iter().map(row_to_event).collect::<Result<_, _>>()?)
}

/// One aggregate's events in order (for audits and tools; commands load through cqrs-es).
pub async fn read_aggregate(pool: &PgPool, aggregate_type: &str, aggregate_id: &str) -> Result<Vec<StoredEvent>, StoreError> {
    let rows = sqlx::query(&format!(
        "{SELECT} WHERE aggregate_type = $1 AND aggregate_id = $2 ORDER BY sequence"
    ))
    .bind(aggregate_type)
    .bind(aggregate_id)
    .fetch_all(pool)
    .await?;
    Ok(rows.iter().map(row_to_event).collect::<Result<_, _>>()?)
}

/// The last committed global position (0 for an empty store).
pub async fn head(pool: &PgPool) -> Result<i64, StoreError> {
    Ok(sqlx::query_scalar("SELECT position FROM event_head").fetch_one(pool).await?)
}

/// Locks and returns a consumer's checkpoint inside `tx`, creating it at 0.
/// Holding the row lock serialises two instances of the same consumer, and a
/// rebuild's swap with the live projector.
pub async fn lock_checkpoint(tx: &mut Transaction<'_, Postgres>, name: &str) -> Result<i64, StoreError> {
    sqlx::query("INSERT INTO checkpoints (name) VALUES ($1) ON CONFLICT (name) DO NOTHING")
        .bind(name)
        .execute(&mut **tx)
        .await?;
    Ok(sqlx::query_scalar("SELECT position FROM checkpoints WHERE name = $1 FOR UPDATE")
        .bind(name)
        .fetch_one(&mut **tx)
        .await?)
}

pub async fn set_checkpoint(tx: &mut Transaction<'_, Postgres>, name: &str, position: i64) -> Result<(), StoreError> {
    sqlx::query("UPDATE checkpoints SET position = $2, updated_at = now() WHERE name = $1")
        .bind(name)
        .bind(position)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// A consumer's checkpoint without locking it (0 when it has none yet).
pub async fn checkpoint(pool: &PgPool, name: &str) -> Result<i64, StoreError> {
    Ok(sqlx::query_scalar("SELECT position FROM checkpoints WHERE name = $1")
        .bind(name)
        .fetch_optional(pool)
        .await?
        .unwrap_or(0))
}

/// Wakes a waiting consumer when new events commit. Notifications can be lost
/// when the listener reconnects, so callers also poll on a timeout.
pub struct Wakeup {
    listener: PgListener,
}

impl Wakeup {
    pub async fn listen(pool: &PgPool) -> Result<Self, StoreError> {
        let mut listener = PgListener::connect_with(pool).await?;
        listener.listen(NOTIFY_CHANNEL).await?;
        Ok(Wakeup { listener })
    }

    /// Returns when an append committed or `timeout` passed, whichever is first.
    pub async fn wait(&mut self, timeout: Duration) -> Result<(), StoreError> {
        match tokio::time::timeout(timeout, self.listener.try_recv()).await {
            Ok(Ok(_)) | Err(_) => Ok(()),
            Ok(Err(e)) => Err(e.into()),
        }
    }
}
