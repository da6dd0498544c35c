//! Database backups (aggregate id = the backup's name, e.g.
//! `mrjbot-20261101T120000Z`). The events tell the backups group what
//! happened; the start event is also how several `serve` processes agree that
//! one of them takes a scheduled backup: a name starts once.
//!
//! Sending the file to the backup group may fail (Telegram down); it is then
//! tried again later, at most [`UploadRetryPolicy::max_attempts`] times in all,
//! waiting longer after each failure ([`Backup::next_upload_attempt`] says
//! whether and which attempt is due). Each attempt's result is a
//! `BackupUploaded` or `BackupUploadFailed` carrying its number, and the
//! aggregate refuses a result out of turn or after the backup was uploaded.
use chrono::{DateTime, Duration, Utc};
use cqrs_es::event_sink::EventSink;
use cqrs_es::{Aggregate, DomainEvent};
use serde::{Deserialize, Serialize};

use crate::access::{Actor, ActorRef, Permission, PermissionDenied};

/// Why a backup was taken.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum BackupTrigger {
    /// By the scheduler, for the slot starting at `slot`.
    Scheduled { slot: DateTime<Utc> },
    /// By hand (`mrjbot backup now`).
    Manual { by: ActorRef },
}

/// The finished backup file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BackupFile {
    pub file_name: String,
    pub bytes: u64,
    /// SHA-256 of the whole file, lowercase hex.
    pub sha256: String,
    /// The event store's head in the dumped snapshot.
    pub head_position: i64,
    pub duration_ms: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum BackupCommand {
    StartBackup {
        name: String,
        trigger: BackupTrigger,
        by: Actor,
        at: DateTime<Utc>,
    },
    RecordTaken {
        file: BackupFile,
        at: DateTime<Utc>,
    },
    RecordFailed {
        reason: String,
        at: DateTime<Utc>,
    },
    RecordUploaded {
        chat_id: i64,
        /// One message per part, in order.
        message_ids: Vec<i64>,
        /// Which attempt this was (1 for the first send); must be the next one.
        attempt: u32,
        at: DateTime<Utc>,
    },
    RecordUploadFailed {
        chat_id: i64,
        reason: String,
        /// Which attempt this was (1 for the first send); must be the next one.
        attempt: u32,
        at: DateTime<Utc>,
    },
    /// Recorded in the database the backup was restored into.
    RecordRestored {
        name: String,
        database: String,
        head_position: i64,
        at: DateTime<Utc>,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum BackupEvent {
    BackupStarted {
        name: String,
        trigger: BackupTrigger,
        at: DateTime<Utc>,
    },
    BackupTaken {
        name: String,
        file: BackupFile,
        at: DateTime<Utc>,
    },
    BackupFailed {
        name: String,
        reason: String,
        at: DateTime<Utc>,
    },
    BackupUploaded {
        name: String,
        chat_id: i64,
        parts: u32,
        message_ids: Vec<i64>,
        /// 1 for the first send, 2 for the first retry, …; 0 in events stored
        /// before retries existed (which were always the first and only send).
        #[serde(default)]
        attempt: u32,
        at: DateTime<Utc>,
    },
    BackupUploadFailed {
        name: String,
        chat_id: i64,
        reason: String,
        /// As in `BackupUploaded`; 0 in events stored before retries existed.
        #[serde(default)]
        attempt: u32,
        at: DateTime<Utc>,
    },
    BackupRestored {
        name: String,
        database: String,
        head_position: i64,
        at: DateTime<Utc>,
    },
}

impl DomainEvent for BackupEvent {
    fn event_type(&self) -> String {
        match self {
            BackupEvent::BackupStarted { .. } => "BackupStarted",
            BackupEvent::BackupTaken { .. } => "BackupTaken",
            BackupEvent::BackupFailed { .. } => "BackupFailed",
            BackupEvent::BackupUploaded { .. } => "BackupUploaded",
            BackupEvent::BackupUploadFailed { .. } => "BackupUploadFailed",
            BackupEvent::BackupRestored { .. } => "BackupRestored",
        }
        .to_string()
    }
    fn event_version(&self) -> String {
        "1.0".to_string()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BackupError {
    #[error("backup {0} was already started")]
    AlreadyStarted(String),
    #[error("no such backup")]
    NotStarted,
    #[error("the backup has already finished")]
    AlreadyFinished,
    #[error("the backup was not taken, so there is nothing to upload")]
    NotTaken,
    #[error("the backup was already uploaded")]
    AlreadyUploaded,
    #[error("upload attempt {got} is out of turn: the next attempt is {expected}")]
    UploadAttemptOutOfTurn { expected: u32, got: u32 },
    #[error("the upload was tried {0} time(s), the most allowed; the backup stays local")]
    UploadAttemptsExhausted(u32),
    #[error("the upload failed {attempts} time(s); the next attempt is due at {due}")]
    UploadRetryNotDue { attempts: u32, due: DateTime<Utc> },
    #[error("the upload was never tried, so there is nothing to retry")]
    UploadNotTried,
    #[error("a backup name is 1 to 100 letters, digits, `-`, `_` or `.`")]
    InvalidName,
    #[error("a backup file needs a name, a size and a SHA-256 checksum")]
    InvalidFile,
    #[error(transparent)]
    Denied(#[from] PermissionDenied),
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum BackupStatus {
    #[default]
    New,
    Running,
    Taken,
    Failed,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Backup {
    pub name: Option<String>,
    pub status: BackupStatus,
    pub file: Option<BackupFile>,
    pub uploaded: bool,
    /// Upload attempts with a recorded result (failed ones, plus the
    /// successful one when `uploaded`).
    pub upload_attempts: u32,
    /// The last failed attempt's reason and time (until one succeeds).
    pub last_upload_error: Option<(String, DateTime<Utc>)>,
}

/// How failed uploads are tried again: at most `max_attempts` in all (the
/// first send included), the n-th failure followed by a wait of
/// `first_wait` × 2ⁿ⁻¹, never more than `max_wait`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UploadRetryPolicy {
    pub max_attempts: u32,
    pub first_wait: Duration,
    pub max_wait: Duration,
}

impl Default for UploadRetryPolicy {
    /// 6 attempts; waits of 5, 10, 20, 40 and 80 minutes (about 2.6 hours in
    /// all, well inside the day of half-hourly backups that rotation keeps).
    fn default() -> Self {
        UploadRetryPolicy {
            max_attempts: 6,
            first_wait: Duration::minutes(5),
            max_wait: Duration::hours(6),
        }
    }
}

impl UploadRetryPolicy {
    /// The wait after the `failures`-th failed attempt (1-based).
    pub fn wait_after(&self, failures: u32) -> Duration {
        let factor = 1i32.checked_shl(failures.saturating_sub(1).min(30)).unwrap_or(i32::MAX);
        self.first_wait.checked_mul(factor).map_or(self.max_wait, |w| w.min(self.max_wait))
    }
}

impl Backup {
    /// Whether the backup waits for a retry: taken, not uploaded, and at
    /// least one attempt failed.
    pub fn upload_failed(&self) -> bool {
        self.status == BackupStatus::Taken && !self.uploaded && self.upload_attempts > 0
    }

    /// The number of the upload attempt due at `now` (1: the first send), or
    /// why none is: not taken, already uploaded, attempts used up, or still
    /// waiting after the last failure.
    pub fn next_upload_attempt(&self, policy: &UploadRetryPolicy, now: DateTime<Utc>) -> Result<u32, BackupError> {
        if self.name.is_none() {
            return Err(BackupError::NotStarted);
        }
        if self.status != BackupStatus::Taken {
            return Err(BackupError::NotTaken);
        }
        if self.uploaded {
            return Err(BackupError::AlreadyUploaded);
        }
        let attempts = self.upload_attempts;
        if attempts == 0 {
            return Ok(1);
        }
        if attempts >= policy.max_attempts {
            return Err(BackupError::UploadAttemptsExhausted(attempts));
        }
        if let Some((_, failed_at)) = &self.last_upload_error {
            let due = *failed_at + policy.wait_after(attempts);
            if now < due {
                return Err(BackupError::UploadRetryNotDue { attempts, due });
            }
        }
        Ok(attempts + 1)
    }

    /// The next retry of a failed upload (not the first send).
    pub fn next_upload_retry(&self, policy: &UploadRetryPolicy, now: DateTime<Utc>) -> Result<u32, BackupError> {
        if self.status == BackupStatus::Taken && !self.uploaded && self.upload_attempts == 0 {
            return Err(BackupError::UploadNotTried);
        }
        self.next_upload_attempt(policy, now)
    }

    fn check_upload_turn(&self, attempt: u32) -> Result<(), BackupError> {
        if self.status != BackupStatus::Taken {
            return Err(BackupError::NotTaken);
        }
        if self.uploaded {
            return Err(BackupError::AlreadyUploaded);
        }
        let expected = self.upload_attempts + 1;
        if attempt != expected {
            return Err(BackupError::UploadAttemptOutOfTurn { expected, got: attempt });
        }
        Ok(())
    }
}

fn valid_name(name: &str) -> bool {
    !name.is_empty() && name.len() <= 100 && name.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
}

impl Aggregate for Backup {
    const TYPE: &'static str = "Backup";
    type Command = BackupCommand;
    type Event = BackupEvent;
    type Error = BackupError;
    type Services = ();

    async fn handle(&mut self, command: Self::Command, _: &(), sink: &EventSink<Self>) -> Result<(), Self::Error> {
        let name = || self.name.clone().ok_or(BackupError::NotStarted);
        let event = match command {
            BackupCommand::StartBackup { name, trigger, by, at } => {
                by.require(Permission::ManageSettings)?;
                if !valid_name(&name) {
                    return Err(BackupError::InvalidName);
                }
                if self.status != BackupStatus::New {
                    return Err(BackupError::AlreadyStarted(name));
                }
                BackupEvent::BackupStarted { name, trigger, at }
            }
            BackupCommand::RecordTaken { file, at } => {
                let name = name()?;
                if self.status != BackupStatus::Running {
                    return Err(BackupError::AlreadyFinished);
                }
                let sha_ok = file.sha256.len() == 64 && file.sha256.chars().all(|c| c.is_ascii_hexdigit());
                if file.file_name.trim().is_empty() || file.bytes == 0 || !sha_ok {
                    return Err(BackupError::InvalidFile);
                }
                BackupEvent::BackupTaken { name, file, at }
            }
            BackupCommand::RecordFailed { reason, at } => {
                let name = name()?;
                if self.status != BackupStatus::Running {
                    return Err(BackupError::AlreadyFinished);
                }
                BackupEvent::BackupFailed { name, reason, at }
            }
            BackupCommand::RecordUploaded {
                chat_id,
                message_ids,
                attempt,
                at,
            } => {
                let name = name()?;
                self.check_upload_turn(attempt)?;
                BackupEvent::BackupUploaded {
                    name,
                    chat_id,
                    parts: message_ids.len() as u32,
                    message_ids,
                    attempt,
                    at,
                }
            }
            BackupCommand::RecordUploadFailed {
                chat_id,
                reason,
                attempt,
                at,
            } => {
                let name = name()?;
                self.check_upload_turn(attempt)?;
                BackupEvent::BackupUploadFailed {
                    name,
                    chat_id,
                    reason,
                    attempt,
                    at,
                }
            }
            BackupCommand::RecordRestored {
                name,
                database,
                head_position,
                at,
            } => {
                if !valid_name(&name) {
                    return Err(BackupError::InvalidName);
                }
                BackupEvent::BackupRestored {
                    name,
                    database,
                    head_position,
                    at,
                }
            }
        };
        sink.write(event, self).await;
        Ok(())
    }

    fn apply(&mut self, event: Self::Event) {
        match event {
            BackupEvent::BackupStarted { name, .. } => {
                self.name = Some(name);
                self.status = BackupStatus::Running;
            }
            BackupEvent::BackupTaken { file, .. } => {
                self.status = BackupStatus::Taken;
                self.file = Some(file);
            }
            BackupEvent::BackupFailed { .. } => self.status = BackupStatus::Failed,
            BackupEvent::BackupUploaded { attempt, .. } => {
                self.uploaded = true;
                // Stored before retries existed: attempt 0, the first send.
                self.upload_attempts = if attempt == 0 { self.upload_attempts + 1 } else { attempt };
                self.last_upload_error = None;
            }
            BackupEvent::BackupUploadFailed { attempt, reason, at, .. } => {
                self.upload_attempts = if attempt == 0 { self.upload_attempts + 1 } else { attempt };
                self.last_upload_error = Some((reason, at));
            }
            BackupEvent::BackupRestored { name, .. } => {
                // A restored database holds the backup's start (the dump was
                // taken after it) but not its end: the restore is the end.
                if self.name.is_none() {
                    self.name = Some(name);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::t0;
    use crate::values::CustomerId;
    use cqrs_es::test::TestFramework;

    type Given = TestFramework<Backup>;
    const NAME: &str = "mrjbot-20261101T120000Z";

    fn started() -> BackupEvent {
        BackupEvent::BackupStarted {
            name: NAME.into(),
            trigger: BackupTrigger::Scheduled { slot: t0() },
            at: t0(),
        }
    }

    fn file() -> BackupFile {
        BackupFile {
            file_name: format!("{NAME}.tar"),
            bytes: 1234,
            sha256: "ab".repeat(32),
            head_position: 42,
            duration_ms: 900,
        }
    }

    fn taken() -> BackupEvent {
        BackupEvent::BackupTaken {
            name: NAME.into(),
            file: file(),
            at: t0(),
        }
    }

    #[test]
    fn a_slot_is_backed_up_once_even_by_two_schedulers() {
        let start = BackupCommand::StartBackup {
            name: NAME.into(),
            trigger: BackupTrigger::Scheduled { slot: t0() },
            by: Actor::System,
            at: t0(),
        };
        Given::with(())
            .given_no_previous_events()
            .when(start.clone())
            .then_expect_events(vec![started()]);
        Given::with(())
            .given(vec![started()])
            .when(start)
            .then_expect_error(BackupError::AlreadyStarted(NAME.into()));
    }

    #[test]
    fn a_backup_ends_once_taken_or_failed() {
        Given::with(())
            .given(vec![started()])
            .when(BackupCommand::RecordTaken { file: file(), at: t0() })
            .then_expect_events(vec![taken()]);
        Given::with(())
            .given(vec![started(), taken()])
            .when(BackupCommand::RecordFailed {
                reason: "late".into(),
                at: t0(),
            })
            .then_expect_error(BackupError::AlreadyFinished);
        Given::with(())
            .given_no_previous_events()
            .when(BackupCommand::RecordFailed {
                reason: "x".into(),
                at: t0(),
            })
            .then_expect_error(BackupError::NotStarted);
        let mut bad = file();
        bad.sha256 = "not-hex".into();
        Given::with(())
            .given(vec![started()])
            .when(BackupCommand::RecordTaken { file: bad, at: t0() })
            .then_expect_error(BackupError::InvalidFile);
    }

    #[test]
    fn only_a_taken_backup_is_uploaded_and_only_once() {
        let failed = BackupEvent::BackupFailed {
            name: NAME.into(),
            reason: "pg_dump exited with 1".into(),
            at: t0(),
        };
        Given::with(())
            .given(vec![started(), failed])
            .when(BackupCommand::RecordUploaded {
                chat_id: -100,
                message_ids: vec![1],
                attempt: 1,
                at: t0(),
            })
            .then_expect_error(BackupError::NotTaken);
        let uploaded = BackupEvent::BackupUploaded {
            name: NAME.into(),
            chat_id: -100,
            parts: 2,
            message_ids: vec![7, 8],
            attempt: 1,
            at: t0(),
        };
        Given::with(())
            .given(vec![started(), taken()])
            .when(BackupCommand::RecordUploaded {
                chat_id: -100,
                message_ids: vec![7, 8],
                attempt: 1,
                at: t0(),
            })
            .then_expect_events(vec![uploaded.clone()]);
        Given::with(())
            .given(vec![started(), taken(), uploaded])
            .when(BackupCommand::RecordUploadFailed {
                chat_id: -100,
                reason: "429".into(),
                attempt: 2,
                at: t0(),
            })
            .then_expect_error(BackupError::AlreadyUploaded);
    }

    fn upload_failed(attempt: u32, at: DateTime<Utc>) -> BackupEvent {
        BackupEvent::BackupUploadFailed {
            name: NAME.into(),
            chat_id: -100,
            reason: "sendDocument failed (502)".into(),
            attempt,
            at,
        }
    }

    fn state(events: Vec<BackupEvent>) -> Backup {
        let mut b = Backup::default();
        for e in events {
            b.apply(e);
        }
        b
    }

    #[test]
    fn a_failed_upload_is_retried_after_a_growing_wait_and_at_most_max_attempts_times() {
        let policy = UploadRetryPolicy::default();
        assert_eq!(policy.wait_after(1), Duration::minutes(5));
        assert_eq!(policy.wait_after(2), Duration::minutes(10));
        assert_eq!(policy.wait_after(5), Duration::minutes(80));
        assert_eq!(policy.wait_after(40), Duration::hours(6), "capped at max_wait");

        let fresh = state(vec![started(), taken()]);
        assert_eq!(fresh.next_upload_attempt(&policy, t0()), Ok(1));
        assert_eq!(fresh.next_upload_retry(&policy, t0()), Err(BackupError::UploadNotTried));
        assert!(!fresh.upload_failed());

        let once = state(vec![started(), taken(), upload_failed(1, t0())]);
        assert!(once.upload_failed());
        let due = t0() + Duration::minutes(5);
        assert_eq!(
            once.next_upload_retry(&policy, due - Duration::seconds(1)),
            Err(BackupError::UploadRetryNotDue { attempts: 1, due })
        );
        assert_eq!(once.next_upload_retry(&policy, due), Ok(2));

        let twice = state(vec![started(), taken(), upload_failed(1, t0()), upload_failed(2, t0())]);
        assert!(twice.next_upload_retry(&policy, t0() + Duration::minutes(9)).is_err());
        assert_eq!(twice.next_upload_retry(&policy, t0() + Duration::minutes(10)), Ok(3));

        let mut events = vec![started(), taken()];
        events.extend((1..=6).map(|n| upload_failed(n, t0())));
        let exhausted = state(events.clone());
        assert_eq!(
            exhausted.next_upload_retry(&policy, t0() + Duration::days(30)),
            Err(BackupError::UploadAttemptsExhausted(6))
        );
        assert!(exhausted.upload_failed(), "it stays failed");
        // The aggregate still takes nothing but the next attempt's result.
        Given::with(())
            .given(events)
            .when(BackupCommand::RecordUploaded {
                chat_id: -100,
                message_ids: vec![9],
                attempt: 6,
                at: t0(),
            })
            .then_expect_error(BackupError::UploadAttemptOutOfTurn { expected: 7, got: 6 });
    }

    #[test]
    fn a_retry_that_succeeds_is_recorded_with_its_number_and_nothing_is_sent_again() {
        let uploaded = BackupEvent::BackupUploaded {
            name: NAME.into(),
            chat_id: -100,
            parts: 1,
            message_ids: vec![3],
            attempt: 2,
            at: t0(),
        };
        Given::with(())
            .given(vec![started(), taken(), upload_failed(1, t0())])
            .when(BackupCommand::RecordUploaded {
                chat_id: -100,
                message_ids: vec![3],
                attempt: 2,
                at: t0(),
            })
            .then_expect_events(vec![uploaded.clone()]);
        let done = state(vec![started(), taken(), upload_failed(1, t0()), uploaded.clone()]);
        assert_eq!(done.upload_attempts, 2);
        assert!(!done.upload_failed());
        assert_eq!(
            done.next_upload_retry(&UploadRetryPolicy::default(), t0() + Duration::days(1)),
            Err(BackupError::AlreadyUploaded)
        );
        Given::with(())
            .given(vec![started(), taken(), upload_failed(1, t0()), uploaded])
            .when(BackupCommand::RecordUploaded {
                chat_id: -100,
                message_ids: vec![4],
                attempt: 3,
                at: t0(),
            })
            .then_expect_error(BackupError::AlreadyUploaded);
    }

    #[test]
    fn two_schedulers_recording_the_same_attempt_are_refused_the_second_time() {
        Given::with(())
            .given(vec![started(), taken(), upload_failed(1, t0()), upload_failed(2, t0())])
            .when(BackupCommand::RecordUploadFailed {
                chat_id: -100,
                reason: "502".into(),
                attempt: 2,
                at: t0(),
            })
            .then_expect_error(BackupError::UploadAttemptOutOfTurn { expected: 3, got: 2 });
    }

    #[test]
    fn upload_events_stored_before_retries_existed_still_load_as_the_first_attempt() {
        let old_failed = serde_json::json!({"BackupUploadFailed": {
            "name": NAME, "chat_id": -100, "reason": "Telegram: 502", "at": "2026-11-01T12:00:00Z"
        }});
        let old_failed: BackupEvent = serde_json::from_value(old_failed).unwrap();
        assert!(
            matches!(old_failed, BackupEvent::BackupUploadFailed { attempt: 0, .. }),
            "{old_failed:?}"
        );
        let b = state(vec![started(), taken(), old_failed]);
        assert_eq!(b.upload_attempts, 1);
        assert!(b.upload_failed());
        let failed_at = b.last_upload_error.clone().unwrap().1;
        assert_eq!(
            b.next_upload_retry(&UploadRetryPolicy::default(), failed_at + Duration::minutes(5)),
            Ok(2)
        );
        let old_uploaded = serde_json::json!({"BackupUploaded": {
            "name": NAME, "chat_id": -100, "parts": 1, "message_ids": [5], "at": "2026-11-01T12:00:00Z"
        }});
        let old_uploaded: BackupEvent = serde_json::from_value(old_uploaded).unwrap();
        let b = state(vec![started(), taken(), old_uploaded]);
        assert!(b.uploaded && b.upload_attempts == 1);
    }

    #[test]
    fn names_are_checked_and_manual_backups_need_permission() {
        Given::with(())
            .given_no_previous_events()
            .when(BackupCommand::StartBackup {
                name: "../etc/passwd".into(),
                trigger: BackupTrigger::Manual { by: ActorRef::System },
                by: Actor::System,
                at: t0(),
            })
            .then_expect_error(BackupError::InvalidName);
        Given::with(())
            .given_no_previous_events()
            .when(BackupCommand::StartBackup {
                name: NAME.into(),
                trigger: BackupTrigger::Manual {
                    by: ActorRef::User(CustomerId(4)),
                },
                by: Actor::user(CustomerId(4), [Permission::ViewReports]),
                at: t0(),
            })
            .then_expect_error(BackupError::Denied(PermissionDenied(Permission::ManageSettings)));
    }

    #[test]
    fn a_restore_is_recorded_on_the_backup_it_came_from() {
        Given::with(())
            .given(vec![started()])
            .when(BackupCommand::RecordRestored {
                name: NAME.into(),
                database: "mrjbot_restored".into(),
                head_position: 42,
                at: t0(),
            })
            .then_expect_events(vec![BackupEvent::BackupRestored {
                name: NAME.into(),
                database: "mrjbot_restored".into(),
                head_position: 42,
                at: t0(),
            }]);
    }
}
