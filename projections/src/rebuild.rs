//! Rebuilds a read model from the event store (never from NATS) without
//! taking the live one down: build a shadow table beside it, catch up, then
//! swap names in one short transaction that holds the live projector's
//! checkpoint lock, so the live projector neither loses nor repeats an event.
use std::time::{Duration, Instant};

use sqlx::PgPool;

use crate::{apply_events, ProjectionError, Projector};

#[derive(Debug, Clone)]
pub struct RebuildReport {
    pub projector: &'static str,
    pub events: i64,
    pub elapsed: Duration,
}

impl RebuildReport {
    pub fn events_per_second(&self) -> f64 {
        self.events as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

const BATCH: i64 = 2_000;

pub async fn rebuild(pool: &PgPool, projector: &dyn Projector) -> Result<RebuildReport, ProjectionError> {
    let started = Instant::now();
    let live = projector.name();
    let shadow = format!("{live}_rebuild");
    sqlx::query(&format!("DROP TABLE IF EXISTS {shadow}")).execute(pool).await?;
    sqlx::query(&format!("CREATE TABLE {shadow} (LIKE {live} INCLUDING ALL)"))
        .execute(pool)
        .await?;

    // Bulk of the history, in batches, while the live table keeps serving.
    let mut checkpoint = 0;
    loop {
        let events = eventstore::read_after(pool, checkpoint, BATCH).await?;
        if events.is_empty() {
            break;
        }
        let mut tx = pool.begin().await?;
        checkpoint = apply_events(&mut tx, projector, &shadow, checkpoint, &events).await?;
        tx.commit().await?;
    }

    // The swap: hold the live checkpoint, apply what arrived meanwhile, rename.
    let mut tx = pool.begin().await?;
    eventstore::lock_checkpoint(&mut tx, live).await?;
    loop {
        let events = eventstore::read_after(pool, checkpoint, BATCH).await?;
        if events.is_empty() {
            break;
        }
        checkpoint = apply_events(&mut tx, projector, &shadow, checkpoint, &events).await?;
    }
    let old = format!("{live}_old");
    sqlx::query(&format!("LOCK TABLE {live} IN ACCESS EXCLUSIVE MODE"))
        .execute(&mut *tx)
        .await?;
    sqlx::query(&format!("DROP TABLE IF EXISTS {old}")).execute(&mut *tx).await?;
    sqlx::query(&format!("ALTER TABLE {live} RENAME TO {old}"))
        .execute(&mut *tx)
        .await?;
    sqlx::query(&format!("ALTER TABLE {shadow} RENAME TO {live}"))
        .execute(&mut *tx)
        .await?;
    sqlx::query(&format!("DROP TABLE {old}")).execute(&mut *tx).await?;
    eventstore::set_checkpoint(&mut tx, live, checkpoint).await?;
    tx.commit().await?;
    Ok(RebuildReport {
        projector: live,
        events: checkpoint,
        elapsed: started.elapsed(),
    })
}
