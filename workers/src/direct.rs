//! The feed for a single machine: read the event store after the consumer's
//! position, and sleep on LISTEN/NOTIFY when there is nothing new.
//!
//! One listener serves every subscription of a feed: a LISTEN holds a
//! database connection for its whole life, and one per consumer would take
//! as many pool connections as there are read models. The listener task
//! bumps a counter on each notification; each subscription waits for the
//! counter to change (or for its poll timeout, as notifications can be lost
//! when the listener reconnects).
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use eventstore::{StoredEvent, Wakeup};
use sqlx::PgPool;
use tokio::sync::{watch, OnceCell};

use crate::{Feed, FeedError, Subscription};

#[derive(Clone)]
pub struct DirectFeed {
    pool: PgPool,
    wakeups: Arc<OnceCell<watch::Receiver<u64>>>,
}

impl DirectFeed {
    pub fn new(pool: PgPool) -> Self {
        DirectFeed {
            pool,
            wakeups: Arc::new(OnceCell::new()),
        }
    }

    /// Starts the shared listener on first use. It stops once the feed and
    /// all its subscriptions are gone.
    async fn wakeups(&self) -> Result<watch::Receiver<u64>, FeedError> {
        let rx = self
            .wakeups
            .get_or_try_init(|| async {
                let mut wakeup = Wakeup::listen(&self.pool).await?;
                let (tx, rx) = watch::channel(0u64);
                let pool = self.pool.clone();
                tokio::spawn(async move {
                    loop {
                        tokio::select! {
                            _ = tx.closed() => return,
                            r = wakeup.wait(Duration::from_secs(3600)) => {
                                if let Err(e) = r {
                                    tracing::warn!(error = %e, "event listener failed; reconnecting");
                                    tokio::time::sleep(Duration::from_millis(500)).await;
                                    match Wakeup::listen(&pool).await {
                                        Ok(w) => wakeup = w,
                                        Err(e) => tracing::warn!(error = %e, "event listener reconnect failed"),
                                    }
                                }
                                tx.send_modify(|n| *n = n.wrapping_add(1));
                            }
                        }
                    }
                });
                Ok::<_, FeedError>(rx)
            })
            .await?;
        Ok(rx.clone())
    }
}

#[async_trait]
impl Feed for DirectFeed {
    async fn subscribe(&self, _name: &str, from: i64) -> Result<Box<dyn Subscription>, FeedError> {
        Ok(Box::new(DirectSubscription {
            pool: self.pool.clone(),
            wakeups: self.wakeups().await?,
            position: from,
        }))
    }
}

struct DirectSubscription {
    pool: PgPool,
    wakeups: watch::Receiver<u64>,
    position: i64,
}

#[async_trait]
impl Subscription for DirectSubscription {
    async fn next_batch(&mut self, max: usize, wait: Duration) -> Result<Vec<StoredEvent>, FeedError> {
        // Mark what has been seen before reading, so a commit during the read wakes the wait below.
        self.wakeups.borrow_and_update();
        let mut events = eventstore::read_after(&self.pool, self.position, max as i64).await?;
        if events.is_empty() {
            // A notification may be lost on reconnect; the timeout makes this a poll too.
            let _ = tokio::time::timeout(wait, self.wakeups.changed()).await;
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
