//! The feed for a single machine: read the event store after the consumer's
//! position, and sleep on LISTEN/NOTIFY when there is nothing new.
use std::time::Duration;

use async_trait::async_trait;
use eventstore::{StoredEvent, Wakeup};
use sqlx::PgPool;

use crate::{Feed, FeedError, Subscription};

#[derive(Clone)]
pub struct DirectFeed {
    pool: PgPool,
}

impl DirectFeed {
    pub fn new(pool: PgPool) -> Self {
        DirectFeed { pool }
    }
}

#[async_trait]
impl Feed for DirectFeed {
    async fn subscribe(&self, _name: &str, from: i64) -> Result<Box<dyn Subscription>, FeedError> {
        Ok(Box::new(DirectSubscription {
            pool: self.pool.clone(),
            wakeup: Wakeup::listen(&self.pool).await?,
            position: from,
        }))
    }
}

struct DirectSubscription {
    pool: PgPool,
    wakeup: Wakeup,
    position: i64,
}

#[async_trait]
impl Subscription for DirectSubscription {
    async fn next_batch(&mut self, max: usize, wait: Duration) -> Result<Vec<StoredEvent>, FeedError> {
        let mut events = eventstore::read_after(&self.pool, self.position, max as i64).await?;
        if events.is_empty() {
            // A notification may be lost on reconnect; the timeout makes this a poll too.
            self.wakeup.wait(wait).await?;
            events = eventstore::read_after(&self.pool, self.position, max as i64).await?;
        }
        if let Some(last) = events.last() {
            self.position = last.position;
        }
        Ok(events)
    }

    async fn ack(&mut self, _position: i64) -> Result<(), FeedError> {
        Ok(())
    }
}
