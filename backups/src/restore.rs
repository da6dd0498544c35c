//! Loading a backup into an empty database.
use std::fs::File;
use std::io::{BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::Stdio;

use chrono::Utc;
use commands::Commands;
use sqlx::PgPool;

use crate::archive::{join_parts, verify, Verified, DATABASE};
use crate::{io, pgtools, BackupError};

#[derive(Debug, Clone)]
pub struct RestoreReport {
    pub verified: Verified,
    pub database: String,
    pub head_position: i64,
    /// Migrations applied after the restore (the backup came from an older version).
    pub migrated: Vec<i64>,
}

/// Restores the backup in `parts` (one file, or the parts of a split one in
/// order) into the empty database behind `pool`/`database_url`. The file is
/// verified before anything is written; the load is one transaction
/// (`psql --single-transaction`), so a failure leaves the database empty.
/// `expected_sha256` is the whole file's checksum when it has no `.sha256`
/// beside it (a backup downloaded from Telegram: the caption has it).
pub async fn restore(
    commands: &Commands,
    database_url: &str,
    parts: &[PathBuf],
    expected_sha256: Option<&str>,
    pg_bin_dir: Option<&Path>,
) -> Result<RestoreReport, BackupError> {
    if parts.is_empty() {
        return Err(BackupError::Tool("no backup file given".into()));
    }
    let (path, joined) = join_parts(parts)?;
    let verified = {
        let path = path.clone();
        let expected = expected_sha256.map(str::to_string);
        tokio::task::spawn_blocking(move || verify(&path, expected.as_deref()))
            .await
            .map_err(|e| BackupError::Tool(format!("verify task failed: {e}")))?
    };
    let result = async {
        let verified = verified?;
        let pool = &commands.pool;
        let database: String = sqlx::query_scalar("SELECT current_database()").fetch_one(pool).await?;
        let objects = user_objects(pool).await?;
        if objects > 0 {
            return Err(BackupError::NotEmpty { database, objects });
        }
        let major = pgtools::server_major(pool).await?;
        let psql = pgtools::program("psql", pg_bin_dir, major);
        pgtools::check_version(&psql, major)?;
        let url = database_url.to_string();
        let file = verified.path.clone();
        tokio::task::spawn_blocking(move || load(&psql, &url, &file))
            .await
            .map_err(|e| BackupError::Tool(format!("psql task failed: {e}")))??;
        let migrated = eventstore::migrate(pool).await?;
        let head = eventstore::head(pool).await?;
        if head != verified.manifest.head_position {
            return Err(BackupError::Damaged(format!(
                "the restored event store ends at {head}, the backup recorded {}",
                verified.manifest.head_position
            )));
        }
        commands
            .record_backup_restored(&verified.manifest.name, &database, head, Utc::now())
            .await?;
        Ok(RestoreReport {
            verified,
            database,
            head_position: head,
            migrated,
        })
    }
    .await;
    if joined {
        let _ = std::fs::remove_file(&path);
    }
    result
}

/// Tables, views and sequences outside PostgreSQL's own schemas.
pub(crate) async fn user_objects(pool: &PgPool) -> Result<i64, BackupError> {
    Ok(sqlx::query_scalar(
        "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
         WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%' \
         AND c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f')",
    )
    .fetch_one(pool)
    .await?)
}

/// Streams the dump out of the archive, through gunzip, into psql.
fn load(psql: &Path, url: &str, archive: &Path) -> Result<(), BackupError> {
    let (mut cmd, url) = pgtools::command(psql, url);
    let mut child = cmd
        .args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "--single-transaction", "-f", "-"])
        .arg(format!("--dbname={url}"))
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| BackupError::Tool(format!("cannot run {}: {e}", psql.display())))?;
    let mut stderr = child.stderr.take().expect("piped");
    let errors = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stderr.read_to_string(&mut s);
        s
    });
    let fed = (|| -> Result<(), BackupError> {
        let mut stdin = child.stdin.take().expect("piped");
        let mut tar = tar::Archive::new(BufReader::new(File::open(archive).map_err(io(archive))?));
        for entry in tar.entries().map_err(io(archive))? {
            let entry = entry.map_err(io(archive))?;
            if entry.path().map(|p| p.to_string_lossy() == DATABASE).unwrap_or(false) {
                let mut gz = flate2::read::GzDecoder::new(entry);
                // A broken pipe means psql stopped on an error: its stderr says which.
                if let Err(e) = std::io::copy(&mut gz, &mut stdin) {
                    if e.kind() != std::io::ErrorKind::BrokenPipe {
                        return Err(io(archive)(e));
                    }
                }
                let _ = stdin.flush();
                return Ok(());
            }
        }
        Err(BackupError::Damaged(format!("{} has no {DATABASE}", archive.display())))
    })();
    let status = child.wait().map_err(|e| BackupError::Tool(format!("psql: {e}")))?;
    let errors = errors.join().unwrap_or_default();
    fed?;
    if !status.success() {
        return Err(BackupError::Tool(format!(
            "psql failed ({status}); the restore was rolled back: {}",
            errors.trim()
        )));
    }
    Ok(())
}
