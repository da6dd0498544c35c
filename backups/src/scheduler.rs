//! Takes a backup in every slot of `interval` while the `backups` feature is
//! on (and licensed), keeps the retention, and sends each to the backup
//! group. Several `serve` processes may run it: the `BackupStarted` event of
//! a slot's name is written once, so one of them takes it.
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use commands::{CommandError, Commands};
use domain::access::Actor;
use domain::backup::{BackupStatus, BackupTrigger};
use domain::features::Feature;
use workers::Shutdown;

use crate::archive::{take_backup, TakenBackup};
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
        let TakenBackup { path, file, manifest } = match taken {
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
            let caption = format!(
                "MRJ Bot backup {name}\n{} · events up to #{}\nSHA-256 {}",
                human(file.bytes),
                manifest.head_position,
                file.sha256
            );
            match uploader.upload(&path, &caption).await {
                Ok(ids) => {
                    self.commands
                        .record_backup_uploaded(name, uploader.chat_id, ids.clone(), Utc::now())
                        .await?;
                    uploaded = Some(ids);
                }
                Err(e) => {
                    let reason = e.to_string();
                    tracing::warn!(backup = name, error = %reason, "backup upload failed; the file is kept locally");
                    self.commands
                        .record_backup_upload_failed(name, uploader.chat_id, reason.clone(), Utc::now())
                        .await?;
                    upload_error = Some(reason);
                }
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

    pub async fn run_until_stopped(self, mut shutdown: Shutdown) {
        loop {
            let now = Utc::now();
            match self.step(now).await {
                Ok(StepOutcome::Disabled(reason)) => tracing::debug!(%reason, "scheduled backups are off"),
                Ok(outcome) => tracing::debug!(?outcome, "backup scheduler step"),
                Err(e) => tracing::warn!(error = %e, "backup scheduler step failed"),
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
