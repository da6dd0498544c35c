//! The reminder scheduler, driven by time and checked by the domain:
//!
//! - **points expiry**: a customer whose points lot (the commerce read model
//!   `points_lots`) expires within `points_days_ahead` days is told once per
//!   lot and expiry (`Reminders` fires a key once);
//! - **auto-renewal**: a subscription whose customer opted in is renewed from
//!   the wallet when its term is within `auto_renew_lead` of its end, once per
//!   term (`AutoRenewal` starts a term once; the subscription requests a charge
//!   number once), and a renewal a crash left half-done is finished.
//!
//! Expiry warnings (3 days and 1 day) and traffic warnings (80 %, 100 %) are
//! sent by the bot's notifier (`bot::notifier`), keyed once per subscription,
//! expiry date and step, or per threshold event; they are not repeated here.
//!
//! Two schedulers may run at once and either may be restarted anywhere: the
//! read models only say what *might* be due, the aggregates decide.
use std::time::Duration;

use chrono::{DateTime, Utc};
use commands::{AutoRenewalStep, Commands};
use domain::reminder::{points_key, ReminderKind};
use domain::CustomerId;
use uuid::Uuid;
use workers::{FeedError, Shutdown};

#[derive(Debug, Clone)]
pub struct ReminderConfig {
    /// Warn this many days before a points lot expires.
    pub points_days_ahead: u32,
    /// Renew this long before a term ends.
    pub auto_renew_lead: chrono::Duration,
    /// Time between passes.
    pub interval: Duration,
}

impl Default for ReminderConfig {
    fn default() -> Self {
        ReminderConfig {
            points_days_ahead: 3,
            auto_renew_lead: chrono::Duration::hours(24),
            interval: Duration::from_secs(60),
        }
    }
}

/// What one pass did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReminderStep {
    pub points_reminders: usize,
    pub renewals_finished: usize,
    pub renewals_in_progress: usize,
}

pub struct ReminderScheduler {
    pub commands: Commands,
    pub config: ReminderConfig,
}

impl ReminderScheduler {
    /// One pass at instant `now`.
    pub async fn step(&self, now: DateTime<Utc>) -> Result<ReminderStep, FeedError> {
        let mut report = ReminderStep::default();
        let pool = &self.commands.pool;
        let days = self.config.points_days_ahead;
        let lots: Vec<(i64, String, i64, DateTime<Utc>)> = sqlx::query_as(
            "SELECT l.customer, l.reference, l.remaining, l.expires_at FROM points_lots l \
             WHERE l.remaining > 0 AND l.expires_at > $1 AND l.expires_at <= $1 + make_interval(days => $2) \
             AND NOT EXISTS (SELECT 1 FROM reminders_fired f WHERE f.customer = l.customer AND f.key = \
                 'points:' || l.reference || ':' || floor(extract(epoch FROM l.expires_at))::bigint || ':' || $2 || 'd') \
             ORDER BY l.expires_at LIMIT 1000",
        )
        .bind(now)
        .bind(days as i32)
        .fetch_all(pool)
        .await?;
        for (customer, reference, remaining, expires_at) in lots {
            let key = points_key(&reference, expires_at, days);
            let kind = ReminderKind::PointsExpiring {
                reference,
                points: u64::try_from(remaining).unwrap_or(0),
                expires_at,
            };
            if self.commands.fire_reminder(CustomerId(customer), key, kind, now).await? {
                report.points_reminders += 1;
            }
        }

        let due: Vec<Uuid> = sqlx::query_scalar(
            "SELECT a.subscription_id FROM auto_renewals a JOIN subscriptions s ON s.id = a.subscription_id \
             WHERE a.open_charge IS NOT NULL \
                OR (a.enabled AND s.status = 'active' AND s.pending_charge IS NULL \
                    AND s.expires_at <= $1 + make_interval(secs => $2) \
                    AND (a.last_term IS NULL OR a.last_term <> s.expires_at)) \
             ORDER BY s.expires_at LIMIT 500",
        )
        .bind(now)
        .bind(self.config.auto_renew_lead.num_seconds() as f64)
        .fetch_all(pool)
        .await?;
        for subscription in due {
            match self
                .commands
                .run_auto_renewal(subscription, self.config.auto_renew_lead, now)
                .await?
            {
                AutoRenewalStep::Finished { .. } => report.renewals_finished += 1,
                AutoRenewalStep::InProgress { .. } => report.renewals_in_progress += 1,
                AutoRenewalStep::Idle => {}
            }
        }
        Ok(report)
    }

    pub async fn run_until_stopped(self, mut shutdown: Shutdown) {
        loop {
            if let Err(e) = self.step(Utc::now()).await {
                tracing::warn!(error = %e, "reminder scheduler step failed");
            }
            tokio::select! {
                _ = tokio::time::sleep(self.config.interval) => {},
                _ = shutdown.stopped() => return,
            }
        }
    }
}
