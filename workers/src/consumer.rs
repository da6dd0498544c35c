//! Runs a consumer over a feed: the loop is separate from one step, so tests
//! can drive a single step, and every long-running task stops on one signal.
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::Utc;
use commands::Commands;
use eventstore::StoredEvent;
use projections::Projector;
use sqlx::PgPool;
use tokio::sync::watch;

use crate::{Feed, FeedError};

/// One shutdown signal for every task; cloned into each.
#[derive(Clone)]
pub struct Shutdown(watch::Receiver<bool>);

impl Shutdown {
    /// The sender stops every clone of the receiver.
    pub fn new() -> (watch::Sender<bool>, Shutdown) {
        let (tx, rx) = watch::channel(false);
        (tx, Shutdown(rx))
    }
    pub fn is_stopped(&self) -> bool {
        *self.0.borrow()
    }
    pub async fn stopped(&mut self) {
        let _ = self.0.wait_for(|s| *s).await;
    }
}

/// Something that handles the global stream and remembers where it got to.
#[async_trait]
pub trait Consumer: Send + Sync {
    fn name(&self) -> String;
    /// Where to resume after a (re)start.
    async fn checkpoint(&self) -> Result<i64, FeedError>;
    /// Handles a contiguous batch and returns the position now durably handled.
    async fn handle(&self, events: &[StoredEvent]) -> Result<i64, FeedError>;
}

/// Keeps one read model.
pub struct ProjectorConsumer {
    pub pool: PgPool,
    pub projector: Box<dyn Projector>,
}

#[async_trait]
impl Consumer for ProjectorConsumer {
    fn name(&self) -> String {
        format!("projector-{}", self.projector.name())
    }
    async fn checkpoint(&self) -> Result<i64, FeedError> {
        Ok(eventstore::checkpoint(&self.pool, self.projector.name()).await?)
    }
    async fn handle(&self, events: &[StoredEvent]) -> Result<i64, FeedError> {
        Ok(projections::project_batch(&self.pool, self.projector.as_ref(), events).await?)
    }
}

pub const PROCESS_MANAGER_CHECKPOINT: &str = "process_manager";

/// Finishes multi-aggregate operations (approval → credit, charge → debit →
/// settle, cancellation → refund) from the events, after crashes included.
pub struct ProcessManager {
    pub commands: Commands,
}

#[async_trait]
impl Consumer for ProcessManager {
    fn name(&self) -> String {
        PROCESS_MANAGER_CHECKPOINT.to_string()
    }
    async fn checkpoint(&self) -> Result<i64, FeedError> {
        Ok(eventstore::checkpoint(&self.commands.pool, PROCESS_MANAGER_CHECKPOINT).await?)
    }
    async fn handle(&self, events: &[StoredEvent]) -> Result<i64, FeedError> {
        let start = self.checkpoint().await?;
        let mut done = start;
        for event in events.iter().filter(|e| e.position > start) {
            // Each reaction is idempotent, so the checkpoint may trail it.
            self.commands.react(event, Utc::now()).await?;
            done = event.position;
        }
        let mut tx = self.commands.pool.begin().await?;
        eventstore::lock_checkpoint(&mut tx, PROCESS_MANAGER_CHECKPOINT).await?;
        eventstore::set_checkpoint(&mut tx, PROCESS_MANAGER_CHECKPOINT, done).await?;
        tx.commit().await?;
        Ok(done)
    }
}

/// Runs `consumer` on `feed` until `shutdown`. Errors are logged and the
/// subscription is reopened from the consumer's own checkpoint after a
/// growing pause, so a database or NATS outage delays work but loses none.
pub async fn run_consumer(feed: Arc<dyn Feed>, consumer: Arc<dyn Consumer>, mut shutdown: Shutdown) {
    let name = consumer.name();
    let mut failures: u32 = 0;
    while !shutdown.is_stopped() {
        let result: Result<(), FeedError> = async {
            let from = consumer.checkpoint().await?;
            let mut subscription = feed.subscribe(&name, from).await?;
            loop {
                let batch = tokio::select! {
                    b = subscription.next_batch(500, Duration::from_secs(1)) => b?,
                    _ = shutdown.stopped() => return Ok(()),
                };
                if batch.is_empty() {
                    continue;
                }
                let done = consumer.handle(&batch).await?;
                subscription.ack(done).await?;
                failures = 0;
            }
        }
        .await;
        match result {
            Ok(()) => return,
            Err(e) => {
                failures += 1;
                let backoff = Duration::from_millis(100 * u64::from(failures.min(50)));
                tracing::warn!(consumer = %name, error = %e, ?backoff, "consumer failed; resubscribing");
                tokio::select! {
                    _ = tokio::time::sleep(backoff) => {},
                    _ = shutdown.stopped() => return,
                }
            }
        }
    }
}
