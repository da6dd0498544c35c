//! Expires subscriptions whose time is up. Driven by time, checked by the
//! domain: the aggregate refuses an early or repeated expiry, so two
//! schedulers running at once expire each subscription once.
use std::time::Duration;

use chrono::{DateTime, Utc};
use commands::Commands;
use uuid::Uuid;

use crate::consumer::Shutdown;
use crate::FeedError;

pub struct ExpiryScheduler {
    pub commands: Commands,
    pub interval: Duration,
}

impl ExpiryScheduler {
    /// Expires every due subscription (as the read model lists them); returns how many.
    pub async fn step(&self, now: DateTime<Utc>) -> Result<usize, FeedError> {
        let due: Vec<Uuid> =
            sqlx::query_scalar("SELECT id FROM subscriptions WHERE status = 'active' AND expires_at <= $1 ORDER BY expires_at LIMIT 1000")
                .bind(now)
                .fetch_all(&self.commands.pool)
                .await?;
        let mut expired = 0;
        for id in due {
            if self.commands.expire_subscription(id, now).await? {
                expired += 1;
            }
        }
        Ok(expired)
    }

    pub async fn run_until_stopped(self, mut shutdown: Shutdown) {
        loop {
            if let Err(e) = self.step(Utc::now()).await {
                tracing::warn!(error = %e, "expiry scheduler step failed");
            }
            tokio::select! {
                _ = tokio::time::sleep(self.interval) => {},
                _ = shutdown.stopped() => return,
            }
        }
    }
}
