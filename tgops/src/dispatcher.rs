//! Delivers `tg_outbox`: chat by chat, in queue order, a staff group's
//! pending lines joined into one message (bursts batched), at the shared
//! rate, waiting out 429s and outages.
//!
//! Each send is recorded before it happens: the rows are claimed
//! (`sending`, with an attempt id) in a committed transaction, then sent,
//! then marked with the result. What Telegram definitely did not carry out
//! (429, 5xx, no connection) goes back to `pending` and is sent later, in
//! order, so nothing is lost. What it may have carried out — the process died
//! during the request, or the request timed out — is never sent again: a
//! claim older than the lease is marked `uncertain`. So a message is sent at
//! most once; the price is that an interrupted send may be missing, and it is
//! counted, never hidden. (Telegram has no idempotency key that could close
//! this window.)
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sqlx::PgPool;
use tokio::sync::Notify;
use tokio::time::Instant;
use uuid::Uuid;
use workers::Shutdown;

use crate::telegram::{Body, RateLimiter, SendError, Telegram};

#[derive(Debug, Clone)]
pub struct DispatcherConfig {
    /// Lines joined into one group message, at most.
    pub max_lines: usize,
    /// Characters of one joined message, at most (Telegram allows 4096).
    pub max_chars: usize,
    /// Least time between two messages to one group (Telegram allows about 20 a minute).
    pub group_interval: Duration,
    /// A claim older than this belonged to a process that died mid-send.
    pub lease: Duration,
    /// Chats served at once.
    pub concurrency: usize,
    /// Sleep when there is nothing due (a wake-up cuts it short).
    pub idle: Duration,
}

impl Default for DispatcherConfig {
    fn default() -> Self {
        DispatcherConfig {
            max_lines: 25,
            max_chars: 3_800,
            group_interval: Duration::from_secs(3),
            lease: Duration::from_secs(90),
            concurrency: 8,
            idle: Duration::from_millis(500),
        }
    }
}

/// What one step did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StepReport {
    pub messages: usize,
    pub rows: usize,
    pub deferred: usize,
    pub recovered: u64,
}

#[derive(Clone)]
pub struct Dispatcher {
    pool: PgPool,
    tg: Telegram,
    limiter: RateLimiter,
    config: DispatcherConfig,
    /// Woken when rows are queued.
    pub wake: Arc<Notify>,
    last_group_send: Arc<Mutex<HashMap<i64, Instant>>>,
    /// Chats whose joined lines Telegram refused: their lines go one by one.
    solo: Arc<Mutex<HashSet<i64>>>,
}

struct Claimed {
    attempt: Uuid,
    kind: String,
    bodies: Vec<Body>,
    ids: Vec<i64>,
    attempts: i32,
}

impl Dispatcher {
    pub fn new(pool: PgPool, tg: Telegram, limiter: RateLimiter, config: DispatcherConfig) -> Dispatcher {
        Dispatcher {
            pool,
            tg,
            limiter,
            config,
            wake: Arc::new(Notify::new()),
            last_group_send: Arc::new(Mutex::new(HashMap::new())),
            solo: Arc::new(Mutex::new(HashSet::new())),
        }
    }

    /// Marks claims older than the lease `uncertain` (their process died
    /// during the request); returns how many rows.
    pub async fn recover(&self) -> Result<u64, sqlx::Error> {
        let done = sqlx::query(
            "UPDATE tg_outbox SET state = 'uncertain', error = 'interrupted during the send; not sent again' \
             WHERE state = 'sending' AND claimed_at < now() - make_interval(secs => $1)",
        )
        .bind(self.config.lease.as_secs_f64())
        .execute(&self.pool)
        .await?;
        if done.rows_affected() > 0 {
            tracing::warn!(
                rows = done.rows_affected(),
                "outbox sends interrupted by a stopped process marked uncertain"
            );
        }
        Ok(done.rows_affected())
    }

    /// Chats whose first open row is pending and due (a chat with a send
    /// under way, or whose first row waits, is not ready: order is kept).
    async fn ready_chats(&self) -> Result<(Vec<i64>, usize), sqlx::Error> {
        let heads: Vec<(i64, String, bool, String)> = sqlx::query_as(
            "SELECT DISTINCT ON (chat_id) chat_id, state, not_before <= now(), kind FROM tg_outbox \
             WHERE state IN ('pending', 'sending') ORDER BY chat_id, id LIMIT 5000",
        )
        .fetch_all(&self.pool)
        .await?;
        let now = Instant::now();
        let last = self.last_group_send.lock().unwrap_or_else(|e| e.into_inner()).clone();
        let mut ready = Vec::new();
        let mut deferred = 0;
        for (chat, state, due, kind) in heads {
            if state != "pending" {
                continue;
            }
            let paced = kind == "line" && last.get(&chat).is_some_and(|t| now.duration_since(*t) < self.config.group_interval);
            if due && !paced {
                ready.push(chat);
            } else {
                deferred += 1;
            }
        }
        Ok((ready, deferred))
    }

    /// Claims the chat's next message: its first pending row, or a run of
    /// consecutive lines. `None` when another sender holds the chat.
    async fn claim(&self, chat: i64) -> Result<Option<Claimed>, sqlx::Error> {
        let mut tx = self.pool.begin().await?;
        // Serialises claims on one chat across processes (released at commit).
        sqlx::query("SELECT pg_advisory_xact_lock(724012, ($1 % 2147483647)::int)")
            .bind(chat)
            .execute(&mut *tx)
            .await?;
        let rows: Vec<(i64, String, String, serde_json::Value, bool, i32)> = sqlx::query_as(
            "SELECT id, state, kind, body, not_before <= now(), attempts FROM tg_outbox \
             WHERE chat_id = $1 AND state IN ('pending', 'sending') ORDER BY id LIMIT $2",
        )
        .bind(chat)
        .bind(self.config.max_lines as i64)
        .fetch_all(&mut *tx)
        .await?;
        let Some((_, state, kind, _, due, _)) = rows.first() else {
            return Ok(None);
        };
        if state != "pending" || !*due {
            return Ok(None);
        }
        let solo = self.solo.lock().unwrap_or_else(|e| e.into_inner()).contains(&chat);
        let kind = kind.clone();
        let mut ids = Vec::new();
        let mut bodies = Vec::new();
        let mut chars = 0;
        let mut attempts = 0;
        for (id, state, k, body, due, n) in rows {
            if state != "pending" || !due || k != kind {
                break;
            }
            let body: Body = serde_json::from_value(body).map_err(|e| sqlx::Error::Decode(Box::new(e)))?;
            let len = body.text.chars().count() + 1;
            if !ids.is_empty() && (kind != "line" || solo || chars + len > self.config.max_chars) {
                break;
            }
            chars += len;
            attempts = attempts.max(n);
            ids.push(id);
            bodies.push(body);
        }
        let attempt = Uuid::new_v4();
        sqlx::query(
            "UPDATE tg_outbox SET state = 'sending', attempt_id = $2, claimed_at = now(), attempts = attempts + 1 \
             WHERE id = ANY($1)",
        )
        .bind(&ids)
        .bind(attempt)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(Some(Claimed {
            attempt,
            kind,
            bodies,
            ids,
            attempts,
        }))
    }

    fn joined(bodies: &[Body]) -> Body {
        if bodies.len() == 1 {
            return bodies[0].clone();
        }
        Body::html(bodies.iter().map(|b| b.text.as_str()).collect::<Vec<_>>().join("\n"))
    }

    async fn finish(
        &self,
        attempt: Uuid,
        state: &str,
        message_id: Option<i64>,
        wait: Option<Duration>,
        error: Option<String>,
    ) -> Result<(), sqlx::Error> {
        sqlx::query(
            "UPDATE tg_outbox SET state = $2, message_id = COALESCE($3, message_id), \
             sent_at = CASE WHEN $2 = 'sent' THEN now() ELSE sent_at END, \
             not_before = CASE WHEN $4::float8 IS NULL THEN not_before ELSE now() + make_interval(secs => $4::float8) END, \
             error = $5 WHERE attempt_id = $1 AND state = 'sending'",
        )
        .bind(attempt)
        .bind(state)
        .bind(message_id)
        .bind(wait.map(|w| w.as_secs_f64()))
        .bind(error)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Sends one chat's next message and records the result.
    async fn serve_chat(&self, chat: i64) -> Result<Option<usize>, sqlx::Error> {
        let Some(claimed) = self.claim(chat).await? else { return Ok(None) };
        let body = Self::joined(&claimed.bodies);
        self.limiter.acquire().await;
        let result = self.tg.send(chat, &body).await;
        if claimed.kind == "line" {
            self.last_group_send
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert(chat, Instant::now());
        }
        let rows = claimed.ids.len();
        match result {
            Ok(message_id) => {
                self.finish(claimed.attempt, "sent", Some(message_id), None, None).await?;
                if rows == 1 {
                    self.solo.lock().unwrap_or_else(|e| e.into_inner()).remove(&chat);
                }
                return Ok(Some(rows));
            }
            Err(SendError::RetryAfter(wait)) => {
                tracing::info!(chat, ?wait, "Telegram asked to slow down");
                self.limiter.pause(wait).await;
                self.finish(claimed.attempt, "pending", None, Some(wait), Some("429".into()))
                    .await?;
            }
            Err(SendError::Unavailable(e)) => {
                let backoff = Duration::from_millis(500 * 2u64.pow(claimed.attempts.clamp(0, 7) as u32)).min(Duration::from_secs(60));
                tracing::warn!(chat, error = %e, ?backoff, "Telegram unavailable; will send again");
                self.finish(claimed.attempt, "pending", None, Some(backoff), Some(e)).await?;
            }
            Err(SendError::Refused(e)) if rows > 1 => {
                // One of the joined lines is at fault: send them one by one.
                tracing::warn!(chat, error = %e, "joined lines refused; sending them one by one");
                self.solo.lock().unwrap_or_else(|e| e.into_inner()).insert(chat);
                self.finish(claimed.attempt, "pending", None, None, Some(e)).await?;
            }
            Err(SendError::Refused(e)) => {
                tracing::error!(chat, error = %e, "Telegram refused a message");
                self.finish(claimed.attempt, "failed", None, None, Some(e)).await?;
            }
            Err(SendError::Blocked(e)) => self.finish(claimed.attempt, "blocked", None, None, Some(e)).await?,
            Err(SendError::Uncertain(e)) => {
                tracing::warn!(chat, error = %e, "send interrupted; not sent again");
                self.finish(claimed.attempt, "uncertain", None, None, Some(e)).await?;
            }
        }
        Ok(Some(0))
    }

    /// One pass: every ready chat gets its next message.
    pub async fn step(&self) -> Result<StepReport, sqlx::Error> {
        let recovered = self.recover().await?;
        let (chats, deferred) = self.ready_chats().await?;
        let mut report = StepReport {
            recovered,
            deferred,
            ..StepReport::default()
        };
        let mut tasks = tokio::task::JoinSet::new();
        let mut chats = chats.into_iter();
        loop {
            while tasks.len() < self.config.concurrency.max(1) {
                let Some(chat) = chats.next() else { break };
                let me = self.clone();
                tasks.spawn(async move { me.serve_chat(chat).await });
            }
            let Some(done) = tasks.join_next().await else { break };
            match done {
                Ok(Ok(Some(rows))) => {
                    if rows > 0 {
                        report.messages += 1;
                        report.rows += rows;
                    }
                }
                Ok(Ok(None)) => {}
                Ok(Err(e)) => return Err(e),
                Err(e) => tracing::error!(error = %e, "outbox send task failed"),
            }
        }
        Ok(report)
    }

    /// When the earliest waiting row is due (to sleep no longer than that).
    async fn next_due(&self) -> Result<Option<Duration>, sqlx::Error> {
        let secs: Option<f64> =
            sqlx::query_scalar("SELECT EXTRACT(EPOCH FROM (min(not_before) - now()))::float8 FROM tg_outbox WHERE state = 'pending'")
                .fetch_one(&self.pool)
                .await?;
        Ok(secs.map(|s| Duration::from_secs_f64(s.max(0.0))))
    }

    /// Delivers until `shutdown`; a send under way is finished and recorded first.
    pub async fn run_until_stopped(self, mut shutdown: Shutdown) {
        let mut failures: u32 = 0;
        while !shutdown.is_stopped() {
            let pause = match self.step().await {
                Ok(r) if r.messages > 0 => {
                    failures = 0;
                    continue;
                }
                Ok(_) => {
                    failures = 0;
                    let due = self.next_due().await.ok().flatten().unwrap_or(self.config.idle);
                    due.clamp(Duration::from_millis(100), self.config.idle.max(Duration::from_millis(100)))
                }
                Err(e) => {
                    failures += 1;
                    tracing::warn!(error = %e, "outbox step failed");
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
