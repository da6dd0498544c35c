//! Publishes every committed event to JetStream, once per position.
//!
//! The relay holds its checkpoint row locked while it publishes a batch, so a
//! second relay waits instead of racing. If it dies after publishing and
//! before saving its checkpoint, the batch is published again with the same
//! `Nats-Msg-Id` and JetStream drops the duplicates (within its window;
//! after it, consumers skip by position).
use std::time::Duration;

use async_nats::jetstream::message::PublishMessage;
use eventstore::Wakeup;
use sqlx::PgPool;

use crate::consumer::Shutdown;
use crate::{FeedError, NatsFeed};

pub const RELAY_CHECKPOINT: &str = "relay";

pub struct Relay {
    pool: PgPool,
    feed: NatsFeed,
    batch: i64,
}

impl Relay {
    pub fn new(pool: PgPool, feed: NatsFeed) -> Self {
        Relay { pool, feed, batch: 500 }
    }

    /// Publishes the next batch; returns how many events it published.
    pub async fn step(&self) -> Result<usize, FeedError> {
        let mut tx = self.pool.begin().await?;
        let checkpoint = eventstore::lock_checkpoint(&mut tx, RELAY_CHECKPOINT).await?;
        let events = eventstore::read_after(&self.pool, checkpoint, self.batch).await?;
        let Some(last) = events.last().map(|e| e.position) else {
            return Ok(0);
        };
        let mut acks = Vec::with_capacity(events.len());
        for event in &events {
            let payload = serde_json::to_vec(event).map_err(|e| FeedError::Malformed(e.to_string()))?;
            let publish = PublishMessage::build()
                .payload(payload.into())
                .message_id(event.position.to_string());
            let ack = self
                .feed
                .jetstream
                .send_publish(self.feed.config.subject(&event.aggregate_type), publish)
                .await
                .map_err(FeedError::nats)?;
            acks.push(ack);
        }
        for ack in acks {
            ack.await.map_err(FeedError::nats)?;
        }
        eventstore::set_checkpoint(&mut tx, RELAY_CHECKPOINT, last).await?;
        tx.commit().await?;
        Ok(events.len())
    }

    pub async fn run_until_stopped(self, mut shutdown: Shutdown) -> Result<(), FeedError> {
        let mut wakeup = Wakeup::listen(&self.pool).await?;
        let mut failures = 0u32;
        loop {
            if shutdown.is_stopped() {
                return Ok(());
            }
            match self.step().await {
                Ok(0) => {
                    failures = 0;
                    tokio::select! {
                        r = wakeup.wait(Duration::from_secs(1)) => r?,
                        _ = shutdown.stopped() => return Ok(()),
                    }
                }
                Ok(_) => failures = 0,
                Err(e) => {
                    failures += 1;
                    let backoff = Duration::from_millis(200 * u64::from(failures.min(25)));
                    tracing::warn!(error = %e, ?backoff, "relay step failed; retrying");
                    tokio::select! {
                        _ = tokio::time::sleep(backoff) => {},
                        _ = shutdown.stopped() => return Ok(()),
                    }
                }
            }
        }
    }
}
