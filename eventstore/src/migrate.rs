//! Applies `migrations/*.sql` in order, once each, under an advisory lock so
//! that two processes starting together do not race. The SQL is compiled into
//! the binary: an operator needs nothing but `mrjbot`.
use sqlx::{Executor, PgPool};

use crate::StoreError;

pub const MIGRATIONS: &[(i64, &str, &str)] = &[
    (1, "event_store", include_str!("../../migrations/0001_event_store.sql")),
    (2, "read_models", include_str!("../../migrations/0002_read_models.sql")),
    (3, "panels", include_str!("../../migrations/0003_panels.sql")),
    (4, "bot", include_str!("../../migrations/0004_bot.sql")),
    (5, "payment_gateways", include_str!("../../migrations/0005_payment_gateways.sql")),
    (6, "api", include_str!("../../migrations/0006_api.sql")),
    (7, "commerce", include_str!("../../migrations/0007_commerce.sql")),
    (8, "ops_telegram", include_str!("../../migrations/0008_ops_telegram.sql")),
];

/// Returns the versions it applied now (empty when the schema was current).
pub async fn migrate(pool: &PgPool) -> Result<Vec<i64>, StoreError> {
    let mut conn = pool.acquire().await?;
    conn.execute("SELECT pg_advisory_lock(724011)").await?;
    let result = apply(&mut conn).await;
    let unlock = conn.execute("SELECT pg_advisory_unlock(724011)").await;
    let applied = result?;
    unlock?;
    Ok(applied)
}

async fn apply(conn: &mut sqlx::PgConnection) -> Result<Vec<i64>, StoreError> {
    conn.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations (version bigint PRIMARY KEY, name text NOT NULL, \
         applied_at timestamptz NOT NULL DEFAULT now())",
    )
    .await?;
    let done: Vec<i64> = sqlx::query_scalar("SELECT version FROM schema_migrations")
        .fetch_all(&mut *conn)
        .await?;
    let mut applied = Vec::new();
    for &(version, name, sql) in MIGRATIONS {
        if done.contains(&version) {
            continue;
        }
        let mut tx = sqlx::Connection::begin(&mut *conn).await?;
        let run = async {
            tx.execute(sql).await?;
            sqlx::query("INSERT INTO schema_migrations (version, name) VALUES ($1, $2)")
                .bind(version)
                .bind(name)
                .execute(&mut *tx)
                .await?;
            tx.commit().await
        };
        run.await.map_err(|source| StoreError::Migration { version, source })?;
        tracing::info!(version, name, "applied migration");
        applied.push(version);
    }
    Ok(applied)
}
