//! Commerce (issue 6): the consumer that reacts to sales, refunds, failed
//! charges and points redemptions, and the scheduler that releases
//! commissions when their refund window closes, expires points, and awards
//! points for account age.
//!
//! Both are safe to run twice at once and to restart anywhere: every step is
//! idempotent in the domain (a sale is recorded once, a commission released
//! once, a lot expired once, an award given once per reference), and time-driven
//! events are dated at the instant they became due, not when a scheduler ran.
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use commands::Commands;
use domain::CustomerId;
use eventstore::StoredEvent;
use projections::audit_commerce::COMMERCE_CHECKPOINT;

use crate::consumer::{Consumer, Shutdown};
use crate::FeedError;

/// Runs [`Commands::react_commerce`] over the event feed, with its own checkpoint.
pub struct CommerceConsumer {
    pub commands: Commands,
}

#[async_trait]
impl Consumer for CommerceConsumer {
    fn name(&self) -> String {
        COMMERCE_CHECKPOINT.to_string()
    }
    async fn checkpoint(&self) -> Result<i64, FeedError> {
        Ok(eventstore::checkpoint(&self.commands.pool, COMMERCE_CHECKPOINT).await?)
    }
    async fn handle(&self, events: &[StoredEvent]) -> Result<i64, FeedError> {
        let start = self.checkpoint().await?;
        let mut done = start;
        for event in events.iter().filter(|e| e.position > start) {
            // Each step is idempotent, so the checkpoint may trail it.
            self.commands.react_commerce(event).await?;
            done = event.position;
        }
        let mut tx = self.commands.pool.begin().await?;
        let current = eventstore::lock_checkpoint(&mut tx, COMMERCE_CHECKPOINT).await?;
        if done > current {
            eventstore::set_checkpoint(&mut tx, COMMERCE_CHECKPOINT, done).await?;
        }
        tx.commit().await?;
        Ok(done.max(current))
    }
}

/// What one scheduler step did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CommerceStep {
    /// Commissions released (0 when the commerce consumer was behind).
    pub released: usize,
    pub lots_expired: usize,
    pub longevity_awards: usize,
    /// False when releases were held back because refunds may still be unseen.
    pub releases_ran: bool,
}

pub struct CommerceScheduler {
    pub commands: Commands,
    pub interval: Duration,
    /// How long to wait for the commerce consumer to reach the head before
    /// releasing commissions (a refund it has not seen must not be missed).
    pub catch_up_wait: Duration,
}

impl CommerceScheduler {
    /// One pass at instant `now`.
    pub async fn step(&self, now: DateTime<Utc>) -> Result<CommerceStep, FeedError> {
        let mut report = CommerceStep::default();
        let pool = &self.commands.pool;

        // Commissions: only once every refund recorded before `now` has reached the
        // sellers' accounts, i.e. the commerce consumer has passed today's head.
        let head = eventstore::head(pool).await?;
        let deadline = tokio::time::Instant::now() + self.catch_up_wait;
        loop {
            if eventstore::checkpoint(pool, COMMERCE_CHECKPOINT).await? >= head {
                report.releases_ran = true;
                break;
            }
            if tokio::time::Instant::now() >= deadline {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        if report.releases_ran {
            let sellers: Vec<i64> =
                sqlx::query_scalar("SELECT DISTINCT seller FROM commissions WHERE status = 'pending' AND releases_at <= $1 LIMIT 1000")
                    .bind(now)
                    .fetch_all(pool)
                    .await?;
            for s in sellers {
                report.released += self.commands.release_commissions(CustomerId(s), now).await?;
            }
        }

        // Points that reached their expiry.
        let customers: Vec<i64> =
            sqlx::query_scalar("SELECT DISTINCT customer FROM points_lots WHERE remaining > 0 AND expires_at <= $1 LIMIT 1000")
                .bind(now)
                .fetch_all(pool)
                .await?;
        for c in customers {
            report.lots_expired += self.commands.expire_points(CustomerId(c), now).await?;
        }

        // Account age: customers whose next period (not before the rules were set) has ended.
        let policy = self.commands.points_policy().await?;
        if policy.rules.longevity_points > 0 {
            let period_secs = i64::from(policy.rules.longevity_period_days) * 86_400;
            let due: Vec<i64> = sqlx::query_scalar(
                "SELECT c.telegram_id FROM customers c LEFT JOIN points_balances p ON p.customer = c.telegram_id \
                 WHERE NOT c.blocked AND c.registered_at + make_interval(secs => $2::double precision * greatest( \
                     coalesce(p.longevity_periods, 0) + 1, \
                     ceil(greatest(0, extract(epoch FROM (coalesce($3, c.registered_at) - c.registered_at))) / $2::double precision))) <= $1 \
                 LIMIT 1000",
            )
            .bind(now)
            .bind(period_secs)
            .bind(policy.since)
            .fetch_all(pool)
            .await?;
            for c in due {
                report.longevity_awards += self.commands.award_longevity(CustomerId(c), now).await?;
            }
        }
        Ok(report)
    }

    pub async fn run_until_stopped(self, mut shutdown: Shutdown) {
        loop {
            match self.step(Utc::now()).await {
                Ok(r) if r.released + r.lots_expired + r.longevity_awards > 0 => {
                    tracing::info!(
                        released = r.released,
                        expired = r.lots_expired,
                        longevity = r.longevity_awards,
                        "commerce scheduler"
                    )
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "commerce scheduler step failed"),
            }
            tokio::select! {
                _ = tokio::time::sleep(self.interval) => {},
                _ = shutdown.stopped() => return,
            }
        }
    }
}
