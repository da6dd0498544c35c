//! Takes a backup in every slot of `interval` while the `backups` feature is
//! on (and licensed), keeps the retention, and sends each to the backup
//! group. Several `serve` processes may run it: the `BackupStarted` event of
//! a slot's name is written once, so one of them takes it.
//!
//! A send that failed is tried again by [`BackupScheduler::retry_uploads`]
//! (after each step of [`BackupScheduler::run_until_stopped`]) while the file
//! is still in the directory, as the aggregate's [`UploadRetryPolicy`] allows;
//! every send holds a lease (a PostgreSQL advisory lock, `lease.rs`) and
//! re-reads the aggregate under it, so two processes never send one backup
//! at the same time and an uploaded one is never sent again. A retry sends
//! the whole file again, every part of it, even when an earlier attempt got
//! some parts through.
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use commands::{CommandError, Commands};
use domain::access::Actor;
use domain::backup::{BackupStatus, BackupTrigger, UploadRetryPolicy};
use domain::features::Feature;
use workers::Shutdown;

use crate::archive::{list, path_of, take_backup, TakenBackup};
use crate::lease::UploadLease;
use crate::rotation::rotate;
use crate::{BackupError, BackupSettings, ConfigSnapshot, TelegramUploader};

/// How often the scheduler looks at the toggle and the slot, at most.
const POLL: Duration = Duration::from_secs(30);

pub struct BackupScheduler {
    pub commands: Commands,
    /// The database to dump (the one `commands` writes to).
    pub database_url: String,
    pub settings: BackupSettings,
    pub interval: Duration,
    /// Where to send backups; `None`: kept locally only.
    pub uploader: Option<TelegramUploader>,
    pub config: ConfigSnapshot,
    /// How often and how late a failed send is tried again.
    pub upload_retry: UploadRetryPolicy,
}

/// One attempt at sending a backup to the group.
#[derive(Debug, Clone, PartialEq)]
pub struct UploadAttempt {
    pub name: String,
    /// 1 for the first send, 2 for the first retry, …
    pub attempt: u32,
    /// The message ids (one per part), or why sending failed.
    pub result: Result<Vec<i64>, String>,
}

/// What one scheduler step did.
#[derive(Debug, Clone, PartialEq)]
pub enum StepOutcome {
    /// The `backups` feature is off or outside the license (the reason).
    Disabled(String),
    /// This slot's backup was already started (here or by another process).
    NotDue,
    Taken {
        name: String,
        sha256: String,
        bytes: u64,
        /// Message ids in the backup group (one per part), when sent.
        uploaded: Option<Vec<i64>>,
        /// Why sending failed, when it did (the backup is kept locally).
        upload_error: Option<String>,
        rotated: usize,
    },
    Failed {
        name: String,
        reason: String,
    },
}

fn human(bytes: u64) -> String {
    match bytes {
        b if b >= 1_000_000 => format!("{:.1} MB", b as f64 / 1_000_000.0),
        b if b >= 1_000 => format!("{:.1} kB", b as f64 / 1_000.0),
        b => format!("{b} bytes"),
    }
}

impl BackupScheduler {
    /// The start of the slot holding `now`.
    pub fn slot(&self, now: DateTime<Utc>) -> DateTime<Utc> {
        let secs = self.interval.as_secs().max(60) as i64;
        let start = now.timestamp().div_euclid(secs) * secs;
        Utc.timestamp_opt(start, 0).single().unwrap_or(now)
    }

    pub fn slot_name(slot: DateTime<Utc>) -> String {
        format!("mrjbot-{}", slot.format("%Y%m%dT%H%M%SZ"))
    }

    /// Takes this slot's backup if the feature is on and nobody took it yet.
    pub async fn step(&self, now: DateTime<Utc>) -> Result<StepOutcome, BackupError> {
        match self.commands.require_feature(Feature::Backups, now).await {
            Ok(()) => {}
            Err(e @ (CommandError::FeatureOff(_) | CommandError::NotLicensed(_))) => return Ok(StepOutcome::Disabled(e.to_string())),
            Err(e) => return Err(e.into()),
        }
        let slot = self.slot(now);
        let name = Self::slot_name(slot);
        if self.commands.backup(&name).await?.status != BackupStatus::New {
            return Ok(StepOutcome::NotDue);
        }
        match self
            .commands
            .start_backup(&Actor::System, &name, BackupTrigger::Scheduled { slot }, now)
            .await
        {
            Ok(()) => {}
            Err(CommandError::Backup(domain::backup::BackupError::AlreadyStarted(_))) => return Ok(StepOutcome::NotDue),
            Err(e) => return Err(e.into()),
        }
        self.run(&name).await
    }

    /// A backup now, whatever the toggle and the license say (an operator's
    /// emergency copy is never refused).
    pub async fn backup_now(&self, by: &Actor, now: DateTime<Utc>) -> Result<StepOutcome, BackupError> {
        let mut name = format!("mrjbot-{}-manual", now.format("%Y%m%dT%H%M%SZ"));
        let mut n = 1;
        loop {
            match self
                .commands
                .start_backup(by, &name, BackupTrigger::Manual { by: by.reference() }, now)
                .await
            {
                Ok(()) => break,
                Err(CommandError::Backup(domain::backup::BackupError::AlreadyStarted(_))) if n < 100 => {
                    n += 1;
                    name = format!("mrjbot-{}-manual{n}", now.format("%Y%m%dT%H%M%SZ"));
                }
                Err(e) => return Err(e.into()),
            }
        }
        self.run(&name).await
    }

    async fn run(&self, name: &str) -> Result<StepOutcome, BackupError> {
        let taken = take_backup(&self.commands.pool, &self.database_url, &self.settings, name, &self.config).await;
        let TakenBackup { file, manifest, .. } = match taken {
            Ok(t) => t,
            Err(e) => {
                let reason = e.to_string();
                tracing::error!(backup = name, error = %reason, "backup failed");
                self.commands.record_backup_failed(name, reason.clone(), Utc::now()).await?;
                return Ok(StepOutcome::Failed {
                    name: name.to_string(),
                    reason,
                });
            }
        };
        self.commands.record_backup_taken(name, file.clone(), Utc::now()).await?;
        tracing::info!(backup = name, bytes = file.bytes, head = manifest.head_position, "backup taken");
        let rotated = match rotate(&self.settings.dir, self.settings.retention) {
            Ok(r) => r.len(),
            Err(e) => {
                tracing::warn!(error = %e, "backup rotation failed");
                0
            }
        };
        let (mut uploaded, mut upload_error) = (None, None);
        if let Some(uploader) = &self.uploader {
            match self.send(uploader, name, false, Utc::now()).await? {
                Some(UploadAttempt { result: Ok(ids), .. }) => uploaded = Some(ids),
                Some(UploadAttempt { result: Err(e), .. }) => upload_error = Some(e),
                None => {}
            }
        }
        Ok(StepOutcome::Taken {
            name: name.to_string(),
            sha256: file.sha256,
            bytes: file.bytes,
            uploaded,
            upload_error,
            rotated,
        })
    }

    /// Sends again the backups in the directory whose last send failed and
    /// whose next attempt is due at `now`; returns what it tried. Done
    /// whatever the `backups` toggle says (the backup exists; this only
    /// finishes it), and only when an uploader is configured.
    pub async fn retry_uploads(&self, now: DateTime<Utc>) -> Result<Vec<UploadAttempt>, BackupError> {
        let Some(uploader) = &self.uploader else {
            return Ok(Vec::new());
        };
        let mut tried = Vec::new();
        for local in list(&self.settings.dir)? {
            // A first look without the lease, to pass over the many that are fine.
            let backup = self.commands.backup(&local.name).await?;
            if !backup.upload_failed() || backup.next_upload_retry(&self.upload_retry, now).is_err() {
                continue;
            }
            if let Some(attempt) = self.send(uploader, &local.name, true, now).await? {
                tried.push(attempt);
            }
        }
        Ok(tried)
    }

    /// One attempt at sending backup `name` (the first when `retry` is false,
    /// else the next retry due at `now`), under its lease; `None` when
    /// another process holds the lease or no attempt is due.
    async fn send(
        &self,
        uploader: &TelegramUploader,
        name: &str,
        retry: bool,
        now: DateTime<Utc>,
    ) -> Result<Option<UploadAttempt>, BackupError> {
        let Some(lease) = UploadLease::try_take(&self.commands.pool, name).await? else {
            tracing::debug!(backup = name, "another process is sending this backup");
            return Ok(None);
        };
        let result = self.send_leased(uploader, name, retry, now).await;
        lease.release().await;
        result
    }

    async fn send_leased(
        &self,
        uploader: &TelegramUploader,
        name: &str,
        retry: bool,
        now: DateTime<Utc>,
    ) -> Result<Option<UploadAttempt>, BackupError> {
        // Read under the lease: what another process recorded is seen here.
        let backup = self.commands.backup(name).await?;
        let due = if retry {
            backup.next_upload_retry(&self.upload_retry, now)
        } else {
            backup.next_upload_attempt(&self.upload_retry, now)
        };
        let attempt = match due {
            Ok(n) => n,
            Err(why) => {
                tracing::debug!(backup = name, %why, "no upload due");
                return Ok(None);
            }
        };
        let Some(file) = &backup.file else { return Ok(None) };
        let path = path_of(&self.settings.dir, name);
        if !path.exists() {
            tracing::info!(backup = name, "the backup's file is gone (rotated out); not sent");
            return Ok(None);
        }
        let mut caption = format!(
            "MRJ Bot backup {name}\n{} · events up to #{}\nSHA-256 {}",
            human(file.bytes),
            file.head_position,
            file.sha256
        );
        if attempt > 1 {
            caption.push_str(&format!("\nsent again: attempt {attempt} of {}", self.upload_retry.max_attempts));
        }
        let result = match uploader.upload(&path, &caption).await {
            Ok(ids) => {
                self.commands
                    .record_backup_uploaded(name, uploader.chat_id, ids.clone(), attempt, Utc::now())
                    .await?;
                tracing::info!(backup = name, attempt, parts = ids.len(), "backup sent to the backup group");
                Ok(ids)
            }
            Err(e) => {
                let reason = e.to_string();
                self.commands
                    .record_backup_upload_failed(name, uploader.chat_id, reason.clone(), attempt, Utc::now())
                    .await?;
                if attempt >= self.upload_retry.max_attempts {
                    tracing::error!(backup = name, attempt, error = %reason, "backup upload failed for the last time; the file stays local only");
                } else {
                    tracing::warn!(backup = name, attempt, error = %reason, "backup upload failed; the file is kept locally and sent again later");
                }
                Err(reason)
            }
        };
        Ok(Some(UploadAttempt {
            name: name.to_string(),
            attempt,
            result,
        }))
    }

    pub async fn run_until_stopped(self, mut shutdown: Shutdown) {
        loop {
            let now = Utc::now();
            match self.step(now).await {
                Ok(StepOutcome::Disabled(reason)) => tracing::debug!(%reason, "scheduled backups are off"),
                Ok(outcome) => tracing::debug!(?outcome, "backup scheduler step"),
                Err(e) => tracing::warn!(error = %e, "backup scheduler step failed"),
            }
            match self.retry_uploads(Utc::now()).await {
                Ok(tried) if !tried.is_empty() => tracing::debug!(?tried, "backup uploads retried"),
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "retrying backup uploads failed"),
            }
            let next_slot = self.slot(now) + chrono::Duration::seconds(self.interval.as_secs().max(60) as i64);
            let until_next = (next_slot - Utc::now()).to_std().unwrap_or_default();
            tokio::select! {
                _ = tokio::time::sleep(until_next.min(POLL)) => {},
                _ = shutdown.stopped() => return,
            }
        }
    }
}
