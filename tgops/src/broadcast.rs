//! The broadcast worker: resolves a campaign's segment into one delivery row
//! per recipient (once), sends at the configured rate, and records the
//! figures when every row is settled.
//!
//! A row is claimed (`sending`, committed) before its message goes out and
//! marked with the result after, so a restart resumes with the rows still
//! `pending` and never sends a row twice. Rows a dead process left claimed
//! past the lease become `uncertain` (at most one claim batch per process):
//! Telegram may or may not have delivered them, and they are not sent again.
//! 429 answers pause every send for `retry_after` and the row is sent later;
//! a person who blocked the bot (403) is recorded as `blocked`.
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use commands::Commands;
use domain::broadcast::{BroadcastStatus, DeliveryFigures, Segment};
use sqlx::PgPool;
use tokio::sync::Notify;
use tokio::time::Instant;
use uuid::Uuid;
use workers::{FeedError, Shutdown};

use crate::telegram::{Body, RateLimiter, SendError, Telegram};
use crate::texts::t;

#[derive(Debug, Clone)]
pub struct BroadcastConfig {
    /// Messages per second (Telegram allows about 30 to different chats).
    pub rate: f64,
    /// Requests in flight at once.
    pub concurrency: usize,
    /// Rows claimed at once (the most a crash can leave `uncertain`).
    pub batch: usize,
    /// A claim older than this belonged to a process that died mid-send.
    pub lease: Duration,
    /// How often the sender's progress message is edited.
    pub progress_every: Duration,
    /// Sleep when there is nothing to send (a wake-up cuts it short).
    pub idle: Duration,
}

impl Default for BroadcastConfig {
    fn default() -> Self {
        BroadcastConfig {
            rate: 30.0,
            concurrency: 8,
            batch: 32,
            lease: Duration::from_secs(90),
            progress_every: Duration::from_secs(3),
            idle: Duration::from_secs(1),
        }
    }
}

/// A campaign's delivery report: the read model plus the live row counts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BroadcastReport {
    pub id: Uuid,
    pub status: String,
    pub segment: String,
    pub recipients: Option<i64>,
    pub pending: i64,
    pub sending: i64,
    pub figures: DeliveryFigures,
    pub completed: bool,
}

/// Row counts by state.
pub async fn figures(pool: &PgPool, id: Uuid) -> Result<(DeliveryFigures, i64, i64), sqlx::Error> {
    let rows: Vec<(String, i64)> =
        sqlx::query_as("SELECT state, count(*) FROM broadcast_deliveries WHERE broadcast_id = $1 GROUP BY state")
            .bind(id)
            .fetch_all(pool)
            .await?;
    let mut f = DeliveryFigures::default();
    let (mut pending, mut sending) = (0, 0);
    for (state, n) in rows {
        let u = n as u64;
        match state.as_str() {
            "sent" => f.sent = u,
            "blocked" => f.blocked = u,
            "failed" => f.failed = u,
            "uncertain" => f.uncertain = u,
            "skipped" => f.skipped = u,
            "pending" => pending = n,
            "sending" => sending = n,
            _ => {}
        }
    }
    Ok((f, pending, sending))
}

/// The report of campaign `id` (`None` if the read model does not have it yet).
pub async fn report(pool: &PgPool, id: Uuid) -> Result<Option<BroadcastReport>, sqlx::Error> {
    type Row = (String, String, Option<i64>, Option<DateTime<Utc>>);
    let row: Option<Row> = sqlx::query_as("SELECT status, segment_label, recipients, completed_at FROM broadcasts WHERE id = $1")
        .bind(id)
        .fetch_optional(pool)
        .await?;
    let Some((status, segment, recipients, completed_at)) = row else {
        return Ok(None);
    };
    let (figures, pending, sending) = figures(pool, id).await?;
    Ok(Some(BroadcastReport {
        id,
        status,
        segment,
        recipients,
        pending,
        sending,
        figures,
        completed: completed_at.is_some(),
    }))
}

/// The recipients of `segment` at `now`, from the read models; customers
/// blocked by staff are left out.
pub async fn resolve(pool: &PgPool, segment: &Segment, now: DateTime<Utc>) -> Result<Vec<i64>, sqlx::Error> {
    const ACTIVE: &str = "EXISTS (SELECT 1 FROM subscriptions s WHERE s.customer = c.telegram_id AND s.status = 'active'";
    let base = "SELECT c.telegram_id FROM customers c WHERE NOT c.blocked";
    let q = match segment {
        Segment::All => sqlx::query_scalar(base),
        Segment::Location { .. } => sqlx::query_scalar(
            "SELECT c.telegram_id FROM customers c WHERE NOT c.blocked AND EXISTS (SELECT 1 FROM subscriptions s \
             WHERE s.customer = c.telegram_id AND s.status = 'active' AND lower(s.location) = lower($1))",
        ),
        Segment::Plan { .. } => sqlx::query_scalar(
            "SELECT c.telegram_id FROM customers c WHERE NOT c.blocked AND EXISTS (SELECT 1 FROM subscriptions s \
             WHERE s.customer = c.telegram_id AND s.status = 'active' AND s.plan_id = $1)",
        ),
        Segment::Role { .. } => sqlx::query_scalar("SELECT c.telegram_id FROM customers c WHERE NOT c.blocked AND $1 = ANY(c.roles)"),
        Segment::Active => return sqlx::query_scalar(&format!("{base} AND {ACTIVE})")).fetch_all(pool).await,
        Segment::Inactive => return sqlx::query_scalar(&format!("{base} AND NOT {ACTIVE})")).fetch_all(pool).await,
        Segment::RegisteredWithin { .. } => {
            sqlx::query_scalar("SELECT c.telegram_id FROM customers c WHERE NOT c.blocked AND c.registered_at >= $1")
        }
    };
    match segment {
        Segment::Location { location } => q.bind(location.as_str().to_string()).fetch_all(pool).await,
        Segment::Plan { plan } => q.bind(*plan).fetch_all(pool).await,
        Segment::Role { role } => q.bind(role.as_str().to_string()).fetch_all(pool).await,
        Segment::RegisteredWithin { days } => q.bind(now - chrono::Duration::days(i64::from(*days))).fetch_all(pool).await,
        _ => q.fetch_all(pool).await,
    }
}

/// What one pass did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BroadcastStep {
    pub started: usize,
    pub sent: usize,
    pub attempted: usize,
    pub completed: usize,
    pub recovered: u64,
}

#[derive(Clone)]
pub struct BroadcastWorker {
    commands: Commands,
    tg: Telegram,
    limiter: RateLimiter,
    config: BroadcastConfig,
    /// Woken when a campaign is created.
    pub wake: Arc<Notify>,
    last_progress: Arc<std::sync::Mutex<HashMap<Uuid, Instant>>>,
}

enum Outcome {
    Sent(i64),
    Later(Duration, String),
    Final(&'static str, String),
}

impl BroadcastWorker {
    /// `limiter` paces this worker's sends; share it with other senders of
    /// the same bot to keep them all under Telegram's overall limit.
    pub fn new(commands: Commands, tg: Telegram, limiter: RateLimiter, config: BroadcastConfig) -> BroadcastWorker {
        BroadcastWorker {
            commands,
            tg,
            limiter,
            config,
            wake: Arc::new(Notify::new()),
            last_progress: Arc::new(std::sync::Mutex::new(HashMap::new())),
        }
    }

    fn pool(&self) -> &PgPool {
        &self.commands.pool
    }

    /// Campaigns not finished yet, by the events (the read model only lists candidates).
    async fn open_campaigns(&self) -> Result<Vec<Uuid>, FeedError> {
        let ids: Vec<Uuid> = sqlx::query_scalar("SELECT id FROM broadcasts WHERE completed_at IS NULL ORDER BY created_at")
            .fetch_all(self.pool())
            .await?;
        Ok(ids)
    }

    /// Resolves the recipients of a created campaign, once, and records its start.
    async fn start(&self, id: Uuid, segment: &Segment, now: DateTime<Utc>) -> Result<(), FeedError> {
        let mut tx = self.pool().begin().await?;
        sqlx::query("SELECT pg_advisory_xact_lock(724013, hashtext($1::text))")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        let existing: i64 = sqlx::query_scalar("SELECT count(*) FROM broadcast_deliveries WHERE broadcast_id = $1")
            .bind(id)
            .fetch_one(&mut *tx)
            .await?;
        let recipients = if existing == 0 {
            let chats = resolve(self.pool(), segment, now).await?;
            sqlx::query(
                "INSERT INTO broadcast_deliveries (broadcast_id, chat_id) SELECT $1, c FROM UNNEST($2::bigint[]) AS c \
                 ON CONFLICT DO NOTHING",
            )
            .bind(id)
            .bind(&chats)
            .execute(&mut *tx)
            .await?;
            chats.len() as u64
        } else {
            existing as u64
        };
        tx.commit().await?;
        self.commands.start_broadcast(id, recipients, now).await?;
        tracing::info!(broadcast = %id, recipients, "broadcast started");
        Ok(())
    }

    /// Marks claims older than the lease `uncertain`.
    pub async fn recover(&self) -> Result<u64, sqlx::Error> {
        let done = sqlx::query(
            "UPDATE broadcast_deliveries SET state = 'uncertain', error = 'interrupted during the send; not sent again' \
             WHERE state = 'sending' AND claimed_at < now() - make_interval(secs => $1)",
        )
        .bind(self.config.lease.as_secs_f64())
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected())
    }

    async fn claim(&self, id: Uuid, attempt: Uuid) -> Result<Vec<i64>, sqlx::Error> {
        sqlx::query_scalar(
            "UPDATE broadcast_deliveries SET state = 'sending', attempt_id = $2, claimed_at = now(), attempts = attempts + 1 \
             WHERE broadcast_id = $1 AND chat_id IN (SELECT chat_id FROM broadcast_deliveries \
                 WHERE broadcast_id = $1 AND state = 'pending' AND not_before <= now() \
                 ORDER BY chat_id LIMIT $3 FOR UPDATE SKIP LOCKED) \
             RETURNING chat_id",
        )
        .bind(id)
        .bind(attempt)
        .bind(self.config.batch.max(1) as i64)
        .fetch_all(self.pool())
        .await
    }

    async fn send_one(&self, chat: i64, body: &Body) -> Outcome {
        self.limiter.acquire().await;
        match self.tg.send(chat, body).await {
            Ok(message_id) => Outcome::Sent(message_id),
            Err(SendError::RetryAfter(wait)) => {
                self.limiter.pause(wait).await;
                Outcome::Later(wait, "429".into())
            }
            Err(SendError::Unavailable(e)) => Outcome::Later(Duration::from_secs(2), e),
            Err(SendError::Blocked(e)) => Outcome::Final("blocked", e),
            Err(SendError::Refused(e)) => Outcome::Final("failed", e),
            Err(SendError::Uncertain(e)) => Outcome::Final("uncertain", e),
        }
    }

    /// Records a batch's results in one statement.
    async fn record(&self, id: Uuid, attempt: Uuid, results: Vec<(i64, Outcome)>) -> Result<usize, sqlx::Error> {
        let mut chats = Vec::new();
        let mut states = Vec::new();
        let mut message_ids: Vec<Option<i64>> = Vec::new();
        let mut waits: Vec<Option<f64>> = Vec::new();
        let mut errors: Vec<Option<String>> = Vec::new();
        let mut sent = 0;
        for (chat, outcome) in results {
            chats.push(chat);
            match outcome {
                Outcome::Sent(m) => {
                    sent += 1;
                    states.push("sent");
                    message_ids.push(Some(m));
                    waits.push(None);
                    errors.push(None);
                }
                Outcome::Later(wait, e) => {
                    states.push("pending");
                    message_ids.push(None);
                    waits.push(Some(wait.as_secs_f64()));
                    errors.push(Some(e));
                }
                Outcome::Final(state, e) => {
                    states.push(state);
                    message_ids.push(None);
                    waits.push(None);
                    errors.push(Some(e));
                }
            }
        }
        sqlx::query(
            "UPDATE broadcast_deliveries d SET state = r.state, message_id = r.message_id, \
             sent_at = CASE WHEN r.state = 'sent' THEN now() ELSE d.sent_at END, \
             not_before = CASE WHEN r.wait IS NULL THEN d.not_before ELSE now() + make_interval(secs => r.wait) END, \
             error = r.error \
             FROM UNNEST($3::bigint[], $4::text[], $5::bigint[], $6::float8[], $7::text[]) AS r(chat_id, state, message_id, wait, error) \
             WHERE d.broadcast_id = $1 AND d.attempt_id = $2 AND d.state = 'sending' AND d.chat_id = r.chat_id",
        )
        .bind(id)
        .bind(attempt)
        .bind(&chats)
        .bind(&states)
        .bind(&message_ids)
        .bind(&waits)
        .bind(&errors)
        .execute(self.pool())
        .await?;
        Ok(sent)
    }

    /// Sends one claimed batch of campaign `id`; returns (attempted, sent).
    async fn send_batch(&self, id: Uuid, body: &Body) -> Result<(usize, usize), sqlx::Error> {
        let attempt = Uuid::new_v4();
        let chats = self.claim(id, attempt).await?;
        if chats.is_empty() {
            return Ok((0, 0));
        }
        let mut tasks = tokio::task::JoinSet::new();
        let mut queue = chats.into_iter();
        let mut results = Vec::new();
        loop {
            while tasks.len() < self.config.concurrency.max(1) {
                let Some(chat) = queue.next() else { break };
                let me = self.clone();
                let body = body.clone();
                tasks.spawn(async move { (chat, me.send_one(chat, &body).await) });
            }
            match tasks.join_next().await {
                Some(Ok(r)) => results.push(r),
                Some(Err(e)) => tracing::error!(error = %e, "broadcast send task failed"),
                None => break,
            }
        }
        let attempted = results.len();
        let sent = self.record(id, attempt, results).await?;
        Ok((attempted, sent))
    }

    async fn progress(&self, id: Uuid, force: bool) -> Result<(), FeedError> {
        type Row = (Option<i64>, Option<i64>, String, Option<i64>);
        let row: Option<Row> =
            sqlx::query_as("SELECT progress_chat, progress_message, segment_label, recipients FROM broadcasts WHERE id = $1")
                .bind(id)
                .fetch_optional(self.pool())
                .await?;
        let Some((Some(chat), Some(message), segment, recipients)) = row else {
            return Ok(());
        };
        {
            let mut last = self.last_progress.lock().unwrap_or_else(|e| e.into_inner());
            let now = Instant::now();
            if !force && last.get(&id).is_some_and(|t| now.duration_since(*t) < self.config.progress_every) {
                return Ok(());
            }
            last.insert(id, now);
        }
        let (f, _, _) = figures(self.pool(), id).await?;
        // In the sender's language.
        let lang = self
            .commands
            .customer_state(domain::CustomerId(chat))
            .await?
            .map(|c| c.language)
            .unwrap_or_default();
        let n = |v: u64| crate::i18n::number(lang, v as i64);
        let text = if force {
            t(
                lang,
                "b-done",
                &[
                    ("sent", n(f.sent)),
                    ("blocked", n(f.blocked)),
                    ("failed", n(f.failed)),
                    ("uncertain", n(f.uncertain)),
                    ("skipped", n(f.skipped)),
                    ("recipients", n(f.total())),
                ],
            )
        } else {
            t(
                lang,
                "b-progress",
                &[
                    ("segment", crate::i18n::esc(&segment)),
                    ("done", n(f.total())),
                    ("recipients", n(recipients.unwrap_or(0).max(0) as u64)),
                    ("sent", n(f.sent)),
                    ("blocked", n(f.blocked)),
                    ("failed", n(f.failed)),
                ],
            )
        };
        self.limiter.acquire().await;
        if let Err(e) = self.tg.edit_text(chat, message, &text, true).await {
            tracing::warn!(broadcast = %id, error = %e, "progress message not updated");
        }
        Ok(())
    }

    /// One pass over the open campaigns: start, send one batch each, finish.
    pub async fn step(&self, now: DateTime<Utc>) -> Result<BroadcastStep, FeedError> {
        let mut report = BroadcastStep {
            recovered: self.recover().await?,
            ..BroadcastStep::default()
        };
        for id in self.open_campaigns().await? {
            let campaign = self.commands.broadcast(id).await?;
            if campaign.figures.is_some() {
                continue;
            }
            match campaign.status {
                BroadcastStatus::Created => {
                    let segment = campaign
                        .segment
                        .clone()
                        .ok_or(FeedError::Malformed("a broadcast without a segment".into()))?;
                    self.start(id, &segment, now).await?;
                    report.started += 1;
                    continue;
                }
                BroadcastStatus::Cancelled => {
                    sqlx::query("UPDATE broadcast_deliveries SET state = 'skipped' WHERE broadcast_id = $1 AND state = 'pending'")
                        .bind(id)
                        .execute(self.pool())
                        .await?;
                }
                BroadcastStatus::Running => {
                    let body = Body::plain(campaign.text.clone());
                    let (attempted, sent) = self.send_batch(id, &body).await?;
                    report.attempted += attempted;
                    report.sent += sent;
                    if attempted > 0 {
                        self.progress(id, false).await?;
                        continue;
                    }
                }
                _ => continue,
            }
            let (figures, pending, sending) = figures(self.pool(), id).await?;
            if pending == 0 && sending == 0 {
                let total = figures.total();
                let expected = if campaign.status == BroadcastStatus::Cancelled && campaign.recipients.is_none() {
                    0
                } else {
                    campaign.recipients.unwrap_or(total)
                };
                if total == expected && self.commands.complete_broadcast(id, figures, Utc::now()).await? {
                    report.completed += 1;
                    tracing::info!(broadcast = %id, ?figures, "broadcast finished");
                    self.progress(id, true).await?;
                }
            }
        }
        Ok(report)
    }

    /// Sends until `shutdown`; a batch under way is finished and recorded first.
    pub async fn run_until_stopped(self, mut shutdown: Shutdown) {
        let mut failures: u32 = 0;
        while !shutdown.is_stopped() {
            let pause = match self.step(Utc::now()).await {
                Ok(r) if r.attempted > 0 || r.started > 0 => {
                    failures = 0;
                    continue;
                }
                Ok(_) => {
                    failures = 0;
                    self.config.idle
                }
                Err(e) => {
                    failures += 1;
                    tracing::warn!(error = %e, "broadcast step failed");
                    Duration::from_millis(200 * u64::from(failures.min(25)))
                }
            };
            tokio::select! {
                _ = self.wake.notified() => {},
                _ = tokio::time::sleep(pause) => {},
                _ = shutdown.stopped() => return,
            }
        }
    }
}
