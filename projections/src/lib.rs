//! Read models and the projectors that keep them, one table per projector.
//!
//! A projector copies what events say into its table; it never computes
//! business values (those are in the events) and never swallows an error.
//! Its checkpoint is updated in the same transaction as its table, so an
//! event delivered twice is applied once. Tables are disposable: [`rebuild`]
//! recreates one from the event store beside the live one and swaps it in.
//! [`audit`] recomputes balances and daily totals from the events alone.
#![forbid(unsafe_code)]

pub mod audit;
pub mod audit_commerce;
mod commerce;
pub mod commerce_views;
pub mod gateways;
mod models;
mod rebuild;
pub mod reports;
mod staff;
pub mod tgops;
pub mod views;

use async_trait::async_trait;
use domain::AnyEvent;
use eventstore::StoredEvent;
use sqlx::{PgConnection, PgPool};

pub use models::all;
pub use rebuild::{rebuild, RebuildReport};

#[derive(Debug, thiserror::Error)]
pub enum ProjectionError {
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error(transparent)]
    Store(#[from] eventstore::StoreError),
    #[error("cannot decode event at position {position}: {message}")]
    Decode { position: i64, message: String },
    #[error("projector {projector} expected position {expected} but got {got}: events are missing")]
    Gap { projector: String, expected: i64, got: i64 },
    #[error("no projector named `{0}`")]
    UnknownProjector(String),
    #[error("{0}")]
    Report(String),
}

/// Keeps one read-model table.
#[async_trait]
pub trait Projector: Send + Sync {
    /// Its name, which is also its live table's name and its checkpoint's name.
    fn name(&self) -> &'static str;

    /// Applies one event to `table` (the live table, or a rebuild's shadow).
    async fn apply(&self, conn: &mut PgConnection, table: &str, event: &StoredEvent, decoded: &AnyEvent) -> Result<(), sqlx::Error>;
}

/// Applies `events` after `checkpoint` to `table` inside the caller's
/// transaction and returns the new checkpoint. Events at or below the
/// checkpoint are redeliveries and are skipped; a hole is an error.
pub async fn apply_events(
    conn: &mut PgConnection,
    projector: &dyn Projector,
    table: &str,
    mut checkpoint: i64,
    events: &[StoredEvent],
) -> Result<i64, ProjectionError> {
    for event in events {
        if event.position <= checkpoint {
            continue;
        }
        if event.position != checkpoint + 1 {
            return Err(ProjectionError::Gap {
                projector: projector.name().to_string(),
                expected: checkpoint + 1,
                got: event.position,
            });
        }
        let decoded = AnyEvent::decode(&event.aggregate_type, &event.payload).map_err(|e| ProjectionError::Decode {
            position: event.position,
            message: e.to_string(),
        })?;
        projector.apply(conn, table, event, &decoded).await?;
        checkpoint = event.position;
    }
    Ok(checkpoint)
}

/// One transaction: lock the projector's checkpoint, apply the batch to its
/// live table, move the checkpoint. Returns the new checkpoint.
pub async fn project_batch(pool: &PgPool, projector: &dyn Projector, events: &[StoredEvent]) -> Result<i64, ProjectionError> {
    let mut tx = pool.begin().await?;
    let checkpoint = eventstore::lock_checkpoint(&mut tx, projector.name()).await?;
    let new = apply_events(&mut tx, projector, projector.name(), checkpoint, events).await?;
    if new != checkpoint {
        eventstore::set_checkpoint(&mut tx, projector.name(), new).await?;
        tx.commit().await?;
    }
    Ok(new)
}

/// Reads the store from the projector's checkpoint to the head and applies
/// it in batches; returns the number of events applied.
pub async fn catch_up(pool: &PgPool, projector: &dyn Projector, batch: i64) -> Result<u64, ProjectionError> {
    let mut applied = 0;
    loop {
        let from = eventstore::checkpoint(pool, projector.name()).await?;
        let events = eventstore::read_after(pool, from, batch).await?;
        if events.is_empty() {
            return Ok(applied);
        }
        let to = project_batch(pool, projector, &events).await?;
        applied += (to - from).max(0) as u64;
    }
}

/// Finds a projector by name.
pub fn by_name(name: &str) -> Result<Box<dyn Projector>, ProjectionError> {
    all()
        .into_iter()
        .find(|p| p.name() == name)
        .ok_or_else(|| ProjectionError::UnknownProjector(name.to_string()))
}
