//! Database backups (aggregate id = the backup's name, e.g.
//! `mrjbot-20261101T120000Z`). The events tell the backups group what
//! happened; the start event is also how several `serve` processes agree that
//! one of them takes a scheduled backup: a name starts once.
use chrono::{DateTime, Utc};
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
        at: DateTime<Utc>,
    },
    RecordUploadFailed {
        chat_id: i64,
        reason: String,
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
        at: DateTime<Utc>,
    },
    BackupUploadFailed {
        name: String,
        chat_id: i64,
        reason: String,
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
            BackupCommand::RecordUploaded { chat_id, message_ids, at } => {
                let name = name()?;
                if self.status != BackupStatus::Taken {
                    return Err(BackupError::NotTaken);
                }
                if self.uploaded {
                    return Err(BackupError::AlreadyUploaded);
                }
                BackupEvent::BackupUploaded {
                    name,
                    chat_id,
                    parts: message_ids.len() as u32,
                    message_ids,
                    at,
                }
            }
            BackupCommand::RecordUploadFailed { chat_id, reason, at } => {
                let name = name()?;
                if self.status != BackupStatus::Taken {
                    return Err(BackupError::NotTaken);
                }
                if self.uploaded {
                    return Err(BackupError::AlreadyUploaded);
                }
                BackupEvent::BackupUploadFailed { name, chat_id, reason, at }
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
            BackupEvent::BackupUploaded { .. } => self.uploaded = true,
            BackupEvent::BackupUploadFailed { .. } => {}
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
                at: t0(),
            })
            .then_expect_error(BackupError::NotTaken);
        let uploaded = BackupEvent::BackupUploaded {
            name: NAME.into(),
            chat_id: -100,
            parts: 2,
            message_ids: vec![7, 8],
            at: t0(),
        };
        Given::with(())
            .given(vec![started(), taken()])
            .when(BackupCommand::RecordUploaded {
                chat_id: -100,
                message_ids: vec![7, 8],
                at: t0(),
            })
            .then_expect_events(vec![uploaded.clone()]);
        Given::with(())
            .given(vec![started(), taken(), uploaded])
            .when(BackupCommand::RecordUploadFailed {
                chat_id: -100,
                reason: "429".into(),
                at: t0(),
            })
            .then_expect_error(BackupError::AlreadyUploaded);
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
