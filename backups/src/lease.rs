//! A lease on one backup's upload, so two `serve` processes (or a retry
//! racing the first send) never send the same backup at the same time: a
//! PostgreSQL session advisory lock on a connection of our own, held for the
//! whole upload. It needs no event of its own, and a process that dies
//! mid-upload loses it with its connection, so a restart cannot be locked out.
use sqlx::pool::PoolConnection;
use sqlx::{PgPool, Postgres};

use crate::BackupError;

/// Advisory lock namespace of backup uploads (724011: migrations,
/// 724012/724013: tgops).
const NAMESPACE: i32 = 724014;

pub(crate) struct UploadLease {
    conn: Option<PoolConnection<Postgres>>,
    key: String,
}

impl UploadLease {
    /// The lease on `name`'s upload, or `None` while another holds it.
    pub async fn try_take(pool: &PgPool, name: &str) -> Result<Option<UploadLease>, BackupError> {
        let mut conn = pool.acquire().await?;
        let key = format!("backup-upload:{name}");
        let got: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock($1, hashtext($2))")
            .bind(NAMESPACE)
            .bind(&key)
            .fetch_one(&mut *conn)
            .await?;
        Ok(got.then(|| UploadLease { conn: Some(conn), key }))
    }

    /// Gives the lease back (after the attempt's result was recorded).
    pub async fn release(mut self) {
        let Some(mut conn) = self.conn.take() else { return };
        let unlocked: Result<bool, _> = sqlx::query_scalar("SELECT pg_advisory_unlock($1, hashtext($2))")
            .bind(NAMESPACE)
            .bind(&self.key)
            .fetch_one(&mut *conn)
            .await;
        if !matches!(unlocked, Ok(true)) {
            tracing::warn!(key = %self.key, "could not release a backup upload lease; closing its connection");
            drop(conn.detach());
        }
    }
}

impl Drop for UploadLease {
    /// Dropped without `release` (an error or a shutdown mid-upload): the
    /// connection is closed rather than returned to the pool, which ends the
    /// session and so the lock.
    fn drop(&mut self) {
        if let Some(conn) = self.conn.take() {
            drop(conn.detach());
        }
    }
}
