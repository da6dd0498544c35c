//! Backups of an MRJ Bot shop and their restore.
//!
//! A backup is one file, `<name>.tar`, with a `<name>.tar.sha256` beside it
//! (the `sha256sum -c` format). The tar holds:
//! - `manifest.json`: when, from which server, with which `pg_dump`, the event
//!   store's head in the dumped snapshot, and each member's size and SHA-256;
//! - `config.json`: the configuration, secrets encrypted with `MRJ_SECRET_KEY`
//!   (or left out when no key is set);
//! - `database.sql.gz`: a plain `pg_dump` (no owners, no privileges, so it
//!   restores under any role), gzip-compressed, taken in a snapshot exported
//!   from our own transaction so the head recorded is exactly the dump's.
//!
//! [`take_backup`] writes one, [`verify`] checks one, [`restore()`] loads one
//! into an empty database, [`rotate`] keeps the newest N and one per day for
//! M days, [`TelegramUploader`] sends one to a group (in parts under the Bot
//! API's upload limit), and [`BackupScheduler`] does all of it on a timer
//! when the `backups` feature is on, recording each outcome as an event and
//! sending again, later, a backup whose send failed.
#![forbid(unsafe_code)]

mod archive;
mod lease;
mod pgtools;
mod restore;
mod rotation;
mod scheduler;
mod telegram;

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

pub use archive::{list, take_backup, verify, LocalBackup, Manifest, Member, TakenBackup, Verified};
pub use domain::backup::UploadRetryPolicy;
pub use restore::{restore, RestoreReport};
pub use rotation::{plan_rotation, rotate, Retention};
pub use scheduler::{BackupScheduler, StepOutcome, UploadAttempt};
pub use telegram::{TelegramUploader, TELEGRAM_UPLOAD_LIMIT};

/// The suffix of a backup file.
pub const EXTENSION: &str = "tar";

#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error("{0}")]
    Tool(String),
    #[error("I/O error on {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error(transparent)]
    Store(#[from] eventstore::StoreError),
    #[error(transparent)]
    Command(#[from] commands::CommandError),
    #[error("the backup is damaged: {0}; nothing was restored")]
    Damaged(String),
    #[error(
        "refusing to restore into {database}: it is not empty ({objects} tables, sequences or views); restore into a new, empty database"
    )]
    NotEmpty { database: String, objects: i64 },
    #[error("Telegram: {0}")]
    Telegram(String),
}

pub(crate) fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> BackupError {
    let path = path.into();
    move |source| BackupError::Io { path, source }
}

/// One configuration value as the backup keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind", content = "value")]
pub enum ConfigValue {
    Plain(String),
    /// Encrypted with `MRJ_SECRET_KEY` (`v1:…`, see the `secrets` crate).
    Encrypted(String),
    /// A secret that was set but not kept, because no key could encrypt it.
    Omitted,
}

/// The configuration written into each backup: variable name → value.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConfigSnapshot {
    pub values: std::collections::BTreeMap<String, ConfigValue>,
}

impl ConfigSnapshot {
    pub fn plain(&mut self, name: &str, value: impl Into<String>) {
        self.values.insert(name.to_string(), ConfigValue::Plain(value.into()));
    }

    /// Keeps `value` encrypted with `key`, or records that it was left out.
    pub fn secret(&mut self, name: &str, value: &str, key: Option<&secrets::SecretKey>) {
        let v = match key {
            Some(k) => ConfigValue::Encrypted(k.encrypt(value)),
            None => ConfigValue::Omitted,
        };
        self.values.insert(name.to_string(), v);
    }
}

/// Where backups go and how they are made.
#[derive(Debug, Clone)]
pub struct BackupSettings {
    /// The directory holding the backups.
    pub dir: PathBuf,
    /// Where `pg_dump` and `psql` are; `None`: the Debian directory matching
    /// the server's major version if present, else `PATH`.
    pub pg_bin_dir: Option<PathBuf>,
    pub retention: Retention,
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Hashes what passes through a writer.
pub(crate) struct HashingWriter<W> {
    pub inner: W,
    pub hasher: sha2::Sha256,
    pub bytes: u64,
}

impl<W> HashingWriter<W> {
    pub fn new(inner: W) -> Self {
        use sha2::Digest;
        HashingWriter {
            inner,
            hasher: sha2::Sha256::new(),
            bytes: 0,
        }
    }
    pub fn finish(self) -> (W, String, u64) {
        use sha2::Digest;
        (self.inner, hex(&self.hasher.finalize()), self.bytes)
    }
}

impl<W: std::io::Write> std::io::Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        use sha2::Digest;
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.bytes += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}
