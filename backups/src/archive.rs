//! Writing, checking and listing backup files.
use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Instant;

use chrono::{DateTime, Utc};
use domain::backup::BackupFile;
use serde::{Deserialize, Serialize};
use sha2::Digest;
use sqlx::PgPool;

use crate::{hex, io, pgtools, BackupError, BackupSettings, ConfigSnapshot, HashingWriter, EXTENSION};

pub(crate) const MANIFEST: &str = "manifest.json";
pub(crate) const CONFIG: &str = "config.json";
pub(crate) const DATABASE: &str = "database.sql.gz";
const FORMAT: u32 = 1;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Member {
    pub name: String,
    pub bytes: u64,
    pub sha256: String,
}

/// What a backup says about itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    pub format: u32,
    pub name: String,
    pub created_at: DateTime<Utc>,
    pub database: String,
    pub server_version: String,
    pub pg_dump: String,
    /// The event store's head in the dumped snapshot.
    pub head_position: i64,
    pub members: Vec<Member>,
    pub mrjbot_version: String,
}

/// A backup just written.
#[derive(Debug, Clone)]
pub struct TakenBackup {
    pub path: PathBuf,
    pub manifest: Manifest,
    pub file: BackupFile,
}

/// The file path of backup `name` in `dir`.
pub fn path_of(dir: &Path, name: &str) -> PathBuf {
    dir.join(format!("{name}.{EXTENSION}"))
}

fn sidecar(path: &Path) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(".sha256");
    PathBuf::from(s)
}

/// Dumps the database behind `pool` (at `database_url`) with the
/// configuration into `<dir>/<name>.tar`, plus its `.sha256`.
#[tracing::instrument(skip_all, fields(name))]
pub async fn take_backup(
    pool: &PgPool,
    database_url: &str,
    settings: &BackupSettings,
    name: &str,
    config: &ConfigSnapshot,
) -> Result<TakenBackup, BackupError> {
    let started = Instant::now();
    std::fs::create_dir_all(&settings.dir).map_err(io(&settings.dir))?;
    let major = pgtools::server_major(pool).await?;
    let pg_dump = pgtools::program("pg_dump", settings.pg_bin_dir.as_deref(), major);
    let pg_dump_version = pgtools::check_version(&pg_dump, major)?;
    let server_version: String = sqlx::query_scalar("SELECT version()").fetch_one(pool).await?;
    let database: String = sqlx::query_scalar("SELECT current_database()").fetch_one(pool).await?;

    // A snapshot of our own, exported to pg_dump: the head we read is the dump's.
    let mut tx = pool.begin().await?;
    sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        .execute(&mut *tx)
        .await?;
    let snapshot: String = sqlx::query_scalar("SELECT pg_export_snapshot()").fetch_one(&mut *tx).await?;
    let head: i64 = sqlx::query_scalar("SELECT position FROM event_head").fetch_one(&mut *tx).await?;

    let partial = settings.dir.join(format!(".{name}.partial"));
    std::fs::create_dir_all(&partial).map_err(io(&partial))?;
    let dump_path = partial.join(DATABASE);
    let url = database_url.to_string();
    let dump = {
        let dump_path = dump_path.clone();
        tokio::task::spawn_blocking(move || dump_database(&pg_dump, &url, &snapshot, &dump_path))
            .await
            .map_err(|e| BackupError::Tool(format!("pg_dump task failed: {e}")))?
    };
    tx.rollback().await?;
    let dump = match dump {
        Ok(d) => d,
        Err(e) => {
            let _ = std::fs::remove_dir_all(&partial);
            return Err(e);
        }
    };

    let config_json = serde_json::to_vec_pretty(config).expect("configuration serialises");
    let manifest = Manifest {
        format: FORMAT,
        name: name.to_string(),
        created_at: Utc::now(),
        database,
        server_version,
        pg_dump: pg_dump_version,
        head_position: head,
        members: vec![
            Member {
                name: CONFIG.into(),
                bytes: config_json.len() as u64,
                sha256: hex(&sha2::Sha256::digest(&config_json)),
            },
            dump,
        ],
        mrjbot_version: env!("CARGO_PKG_VERSION").to_string(),
    };
    let final_path = path_of(&settings.dir, name);
    let write = {
        let manifest = manifest.clone();
        let partial = partial.clone();
        let final_path = final_path.clone();
        tokio::task::spawn_blocking(move || write_archive(&partial, &final_path, &manifest, &config_json))
            .await
            .map_err(|e| BackupError::Tool(format!("archive task failed: {e}")))?
    };
    let _ = std::fs::remove_dir_all(&partial);
    let (sha256, bytes) = write?;
    Ok(TakenBackup {
        path: final_path.clone(),
        file: BackupFile {
            file_name: final_path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default(),
            bytes,
            sha256,
            head_position: head,
            duration_ms: started.elapsed().as_millis() as u64,
        },
        manifest,
    })
}

/// Runs pg_dump into a gzip file, returning the member's size and hash.
fn dump_database(pg_dump: &Path, url: &str, snapshot: &str, out: &Path) -> Result<Member, BackupError> {
    let (mut cmd, url) = pgtools::command(pg_dump, url);
    let mut child = cmd
        .args(["--format=plain", "--no-owner", "--no-privileges", "--quote-all-identifiers"])
        .arg(format!("--snapshot={snapshot}"))
        .arg(format!("--dbname={url}"))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| BackupError::Tool(format!("cannot run {}: {e}", pg_dump.display())))?;
    let mut stderr = child.stderr.take().expect("piped");
    let errors = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stderr.read_to_string(&mut s);
        s
    });
    let file = File::create(out).map_err(io(out))?;
    let mut gz = flate2::write::GzEncoder::new(HashingWriter::new(BufWriter::new(file)), flate2::Compression::default());
    let copied = std::io::copy(&mut child.stdout.take().expect("piped"), &mut gz);
    let status = child.wait().map_err(|e| BackupError::Tool(format!("pg_dump: {e}")))?;
    let errors = errors.join().unwrap_or_default();
    if !status.success() {
        return Err(BackupError::Tool(format!("pg_dump failed ({status}): {}", errors.trim())));
    }
    copied.map_err(io(out))?;
    let hashing = gz.finish().map_err(io(out))?;
    let (mut writer, sha256, bytes) = hashing.finish();
    writer.flush().map_err(io(out))?;
    Ok(Member {
        name: DATABASE.into(),
        bytes,
        sha256,
    })
}

fn write_archive(partial: &Path, final_path: &Path, manifest: &Manifest, config: &[u8]) -> Result<(String, u64), BackupError> {
    let tmp = partial.join("backup.tar");
    let file = File::create(&tmp).map_err(io(&tmp))?;
    let mut tar = tar::Builder::new(HashingWriter::new(BufWriter::new(file)));
    let append = |tar: &mut tar::Builder<_>, name: &str, bytes: &[u8]| -> std::io::Result<()> {
        let mut header = tar::Header::new_gnu();
        header.set_size(bytes.len() as u64);
        header.set_mode(0o600);
        header.set_mtime(manifest.created_at.timestamp().max(0) as u64);
        header.set_cksum();
        tar.append_data(&mut header, name, bytes)
    };
    let manifest_json = serde_json::to_vec_pretty(manifest).expect("manifest serialises");
    append(&mut tar, MANIFEST, &manifest_json).map_err(io(&tmp))?;
    append(&mut tar, CONFIG, config).map_err(io(&tmp))?;
    let dump_path = partial.join(DATABASE);
    let mut dump = File::open(&dump_path).map_err(io(&dump_path))?;
    tar.append_file(DATABASE, &mut dump).map_err(io(&tmp))?;
    let hashing = tar.into_inner().map_err(io(&tmp))?;
    let (mut writer, sha256, bytes) = hashing.finish();
    writer.flush().map_err(io(&tmp))?;
    writer.get_ref().sync_all().map_err(io(&tmp))?;
    drop(writer);
    let name = final_path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let sum = sidecar(final_path);
    std::fs::write(&sum, format!("{sha256}  {name}\n")).map_err(io(&sum))?;
    std::fs::rename(&tmp, final_path).map_err(io(final_path))?;
    Ok((sha256, bytes))
}

/// A backup file that passed every check.
#[derive(Debug, Clone)]
pub struct Verified {
    pub path: PathBuf,
    pub sha256: String,
    pub bytes: u64,
    /// Whether a `.sha256` file (or a checksum given by hand) was compared.
    pub file_checksum_checked: bool,
    pub manifest: Manifest,
    pub config: ConfigSnapshot,
}

fn sha256_file(path: &Path) -> Result<(String, u64), BackupError> {
    let mut f = BufReader::new(File::open(path).map_err(io(path))?);
    let mut h = HashingWriter::new(std::io::sink());
    std::io::copy(&mut f, &mut h).map_err(io(path))?;
    let (_, sha, bytes) = h.finish();
    Ok((sha, bytes))
}

/// Checks a backup: the whole file against `expected` or its `.sha256` (when
/// either exists), then every member against the manifest.
pub fn verify(path: &Path, expected: Option<&str>) -> Result<Verified, BackupError> {
    let (sha256, bytes) = sha256_file(path)?;
    let expected = match expected {
        Some(e) => Some(e.trim().to_ascii_lowercase()),
        None => match std::fs::read_to_string(sidecar(path)) {
            Ok(s) => s.split_whitespace().next().map(str::to_ascii_lowercase),
            Err(_) => None,
        },
    };
    if let Some(e) = &expected {
        if *e != sha256 {
            return Err(BackupError::Damaged(format!(
                "{} has SHA-256 {sha256}, expected {e}",
                path.display()
            )));
        }
    }
    let damaged = |what: String| BackupError::Damaged(what);
    let mut archive = tar::Archive::new(BufReader::new(File::open(path).map_err(io(path))?));
    let mut manifest: Option<Manifest> = None;
    let mut config: Option<Vec<u8>> = None;
    let mut seen: Vec<Member> = Vec::new();
    let entries = archive
        .entries()
        .map_err(|e| damaged(format!("not a readable backup archive: {e}")))?;
    for entry in entries {
        let mut entry = entry.map_err(|e| damaged(format!("not a readable backup archive: {e}")))?;
        let name = entry.path().map(|p| p.to_string_lossy().into_owned()).unwrap_or_default();
        let mut h = HashingWriter::new(Vec::new());
        if name == DATABASE {
            // Hash without keeping the dump in memory.
            let mut sink = HashingWriter::new(std::io::sink());
            std::io::copy(&mut entry, &mut sink).map_err(|e| damaged(format!("{name}: {e}")))?;
            let (_, sha, n) = sink.finish();
            seen.push(Member {
                name,
                bytes: n,
                sha256: sha,
            });
            continue;
        }
        std::io::copy(&mut entry, &mut h).map_err(|e| damaged(format!("{name}: {e}")))?;
        let (data, sha, n) = h.finish();
        match name.as_str() {
            MANIFEST => manifest = Some(serde_json::from_slice(&data).map_err(|e| damaged(format!("unreadable manifest: {e}")))?),
            CONFIG => {
                seen.push(Member {
                    name: name.clone(),
                    bytes: n,
                    sha256: sha,
                });
                config = Some(data);
            }
            _ => {}
        }
    }
    let manifest = manifest.ok_or_else(|| damaged("it has no manifest.json".into()))?;
    if manifest.format != FORMAT {
        return Err(damaged(format!("unknown backup format {}", manifest.format)));
    }
    for m in &manifest.members {
        match seen.iter().find(|s| s.name == m.name) {
            None => return Err(damaged(format!("{} is missing", m.name))),
            Some(s) if s != m => {
                return Err(damaged(format!(
                    "{} has SHA-256 {} ({} bytes), the manifest says {} ({} bytes)",
                    m.name, s.sha256, s.bytes, m.sha256, m.bytes
                )))
            }
            Some(_) => {}
        }
    }
    if !manifest.members.iter().any(|m| m.name == DATABASE) {
        return Err(damaged("the manifest lists no database dump".into()));
    }
    let config: ConfigSnapshot =
        serde_json::from_slice(&config.unwrap_or_default()).map_err(|e| damaged(format!("unreadable configuration: {e}")))?;
    Ok(Verified {
        path: path.to_path_buf(),
        sha256,
        bytes,
        file_checksum_checked: expected.is_some(),
        manifest,
        config,
    })
}

/// A backup file in the backup directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalBackup {
    pub name: String,
    pub path: PathBuf,
    pub bytes: u64,
    pub sha256: Option<String>,
    /// From the name (`mrjbot-YYYYMMDDTHHMMSSZ…`), else the file's time.
    pub taken_at: DateTime<Utc>,
}

/// When backup `name` was taken, from its name.
pub(crate) fn time_of(name: &str) -> Option<DateTime<Utc>> {
    let stamp = name.strip_prefix("mrjbot-")?.get(..16)?;
    chrono::NaiveDateTime::parse_from_str(stamp, "%Y%m%dT%H%M%SZ")
        .ok()
        .map(|t| t.and_utc())
}

/// Backups in `dir`, oldest first.
pub fn list(dir: &Path) -> Result<Vec<LocalBackup>, BackupError> {
    let mut out = Vec::new();
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
        Err(e) => return Err(io(dir)(e)),
    };
    for entry in entries {
        let entry = entry.map_err(io(dir))?;
        let path = entry.path();
        let Some(file_name) = path.file_name().map(|n| n.to_string_lossy().into_owned()) else {
            continue;
        };
        let Some(name) = file_name.strip_suffix(&format!(".{EXTENSION}")) else {
            continue;
        };
        if name.starts_with('.') {
            continue;
        }
        let meta = entry.metadata().map_err(io(&path))?;
        let sha256 = std::fs::read_to_string(sidecar(&path))
            .ok()
            .and_then(|s| s.split_whitespace().next().map(str::to_string));
        let taken_at = time_of(name)
            .or_else(|| meta.modified().ok().map(DateTime::<Utc>::from))
            .unwrap_or_default();
        out.push(LocalBackup {
            name: name.to_string(),
            path: path.clone(),
            bytes: meta.len(),
            sha256,
            taken_at,
        });
    }
    out.sort_by(|a, b| (a.taken_at, &a.name).cmp(&(b.taken_at, &b.name)));
    Ok(out)
}

/// Deletes a backup and its checksum file.
pub(crate) fn remove(backup: &LocalBackup) -> Result<(), BackupError> {
    std::fs::remove_file(&backup.path).map_err(io(&backup.path))?;
    let _ = std::fs::remove_file(sidecar(&backup.path));
    Ok(())
}

/// Joins `parts` (in order) into one file beside the first, for a backup
/// that was split for Telegram. A single path is returned as it is.
pub(crate) fn join_parts(parts: &[PathBuf]) -> Result<(PathBuf, bool), BackupError> {
    if parts.len() == 1 {
        return Ok((parts[0].clone(), false));
    }
    let first = &parts[0];
    let joined = first.with_extension("joined");
    let mut out = BufWriter::new(File::create(&joined).map_err(io(&joined))?);
    for p in parts {
        let mut f = File::open(p).map_err(io(p))?;
        std::io::copy(&mut f, &mut out).map_err(io(&joined))?;
    }
    out.flush().map_err(io(&joined))?;
    Ok((joined, true))
}
