//! Finding and running PostgreSQL's client programs (`pg_dump`, `psql`).
use std::path::{Path, PathBuf};
use std::process::Command;

use sqlx::PgPool;

use crate::BackupError;

/// The server's major version (e.g. 15).
pub async fn server_major(pool: &PgPool) -> Result<u32, BackupError> {
    let num: String = sqlx::query_scalar("SHOW server_version_num").fetch_one(pool).await?;
    let num: u32 = num
        .trim()
        .parse()
        .map_err(|_| BackupError::Tool(format!("unexpected server_version_num {num:?}")))?;
    Ok(num / 10000)
}

/// The program `name` to use with a server of major version `major`.
pub fn program(name: &str, bin_dir: Option<&Path>, major: u32) -> PathBuf {
    if let Some(dir) = bin_dir {
        return dir.join(name);
    }
    let debian = PathBuf::from(format!("/usr/lib/postgresql/{major}/bin/{name}"));
    if debian.is_file() {
        return debian;
    }
    PathBuf::from(name)
}

/// The program's major version, refusing one older than the server
/// (`pg_dump` cannot dump a newer server).
pub fn check_version(program: &Path, server_major: u32) -> Result<String, BackupError> {
    let out = Command::new(program).arg("--version").output().map_err(|e| {
        BackupError::Tool(format!(
            "cannot run {}: {e} (install Debian's postgresql-client-{server_major}, or set MRJ_PG_BIN_DIR)",
            program.display()
        ))
    })?;
    let text = String::from_utf8_lossy(&out.stdout).trim().to_string();
    let major: u32 = text
        .split_whitespace()
        .find_map(|w| w.split('.').next().and_then(|m| m.parse().ok()))
        .ok_or_else(|| BackupError::Tool(format!("cannot read the version of {}: {text:?}", program.display())))?;
    if major < server_major {
        return Err(BackupError::Tool(format!(
            "{} is version {major} but the server is PostgreSQL {server_major}: install postgresql-client-{server_major} (or set MRJ_PG_BIN_DIR)",
            program.display()
        )));
    }
    Ok(text)
}

/// `url` without its password, and the password (passed to the child in
/// `PGPASSWORD`, never on its command line where `ps` would show it).
pub fn split_password(url: &str) -> (String, Option<String>) {
    if let (Some(s), Some(at)) = (url.find("://"), url.rfind('@')) {
        if at > s {
            let creds = &url[s + 3..at];
            if let Some((user, password)) = creds.split_once(':') {
                return (format!("{}{user}{}", &url[..s + 3], &url[at..]), Some(percent_decode(password)));
            }
        }
    }
    (url.to_string(), None)
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let Some(b) = std::str::from_utf8(&bytes[i + 1..i + 3])
                .ok()
                .and_then(|h| u8::from_str_radix(h, 16).ok())
            {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A command for `program` connecting to `url`.
pub fn command(program: &Path, url: &str) -> (Command, String) {
    let (url, password) = split_password(url);
    let mut cmd = Command::new(program);
    if let Some(p) = password {
        cmd.env("PGPASSWORD", p);
    }
    cmd.env("PGCONNECT_TIMEOUT", "10");
    (cmd, url)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_password_leaves_the_url() {
        assert_eq!(
            split_password("postgres://mrjbot:s%40cret@db:5432/shop"),
            ("postgres://mrjbot@db:5432/shop".to_string(), Some("s@cret".to_string()))
        );
        assert_eq!(
            split_password("postgres://postgres@127.0.0.1/x"),
            ("postgres://postgres@127.0.0.1/x".to_string(), None)
        );
    }

    #[test]
    fn an_older_client_than_the_server_is_refused() {
        let psql = program("psql", None, 15);
        assert!(check_version(&psql, 15).is_ok());
        let err = check_version(&psql, 99).unwrap_err().to_string();
        assert!(err.contains("install postgresql-client-99"), "{err}");
        assert!(check_version(Path::new("/nonexistent/pg_dump"), 15)
            .unwrap_err()
            .to_string()
            .contains("cannot run"));
    }
}
