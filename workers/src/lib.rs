//! Event-feed consumers: the relay that publishes the store to NATS
//! JetStream, the projector and process-manager runners, and schedulers.
//!
//! Every consumer reads through the [`Feed`] trait, which has two feeds:
//! [`NatsFeed`] (JetStream, for several machines) and [`DirectFeed`] (the
//! event store woken by LISTEN/NOTIFY, so one machine needs no NATS). Both
//! hand out contiguous runs of events in global order; consumers keep their
//! own checkpoints, so a redelivery is skipped and a restart resumes.
#![forbid(unsafe_code)]

mod commerce;
mod consumer;
mod direct;
mod nats;
mod relay;
mod scheduler;

use std::time::Duration;

use async_trait::async_trait;
use eventstore::StoredEvent;

pub use commerce::{CommerceConsumer, CommerceScheduler, CommerceStep};
pub use consumer::{run_consumer, Consumer, ProcessManager, ProjectorConsumer, Shutdown};
pub use direct::DirectFeed;
pub use nats::{NatsConfig, NatsFeed};
pub use relay::Relay;
pub use scheduler::ExpiryScheduler;

#[derive(Debug, thiserror::Error)]
pub enum FeedError {
    #[error(transparent)]
    Store(#[from] eventstore::StoreError),
    #[error("NATS: {0}")]
    Nats(String),
    #[error("malformed event message: {0}")]
    Malformed(String),
    #[error(transparent)]
    Projection(#[from] projections::ProjectionError),
    #[error(transparent)]
    Command(#[from] commands::CommandError),
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
}

impl FeedError {
    pub(crate) fn nats(e: impl std::fmt::Display) -> FeedError {
        FeedError::Nats(e.to_string())
    }
}

/// A source of the global event stream.
#[async_trait]
pub trait Feed: Send + Sync {
    /// A subscription for consumer `name` delivering events after `from`.
    async fn subscribe(&self, name: &str, from: i64) -> Result<Box<dyn Subscription>, FeedError>;
}

#[async_trait]
pub trait Subscription: Send {
    /// The next events in order, starting right after the last one handed out;
    /// empty if none arrived within `wait`.
    async fn next_batch(&mut self, max: usize, wait: Duration) -> Result<Vec<StoredEvent>, FeedError>;

    /// Called once the consumer has durably handled everything up to `position`.
    async fn ack(&mut self, position: i64) -> Result<(), FeedError>;
}
