//! A fresh, migrated database per test on the machine's real PostgreSQL, so
//! tests run in parallel without seeing each other's events.
use sqlx::PgPool;

use crate::{connect, migrate, StoreError};

/// The server tests create their databases on. `MRJ_TEST_DATABASE_URL`
/// overrides it (a maintenance database such as `postgres`).
pub fn admin_url() -> String {
    std::env::var("MRJ_TEST_DATABASE_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_string())
}

pub struct TestDb {
    pub name: String,
    pub url: String,
    pub pool: PgPool,
}

impl TestDb {
    /// Creates `mrjbot_test_<random>` and applies the migrations.
    pub async fn new() -> Result<TestDb, StoreError> {
        Self::with_pool_size(20).await
    }

    pub async fn with_pool_size(max_connections: u32) -> Result<TestDb, StoreError> {
        let name = format!("mrjbot_test_{}", uuid::Uuid::new_v4().simple());
        let admin = admin_url();
        let admin_pool = connect(&admin, 1).await?;
        sqlx::query(&format!("CREATE DATABASE {name}")).execute(&admin_pool).await?;
        admin_pool.close().await;
        let url = database_url(&admin, &name);
        let pool = connect(&url, max_connections).await?;
        migrate(&pool).await?;
        Ok(TestDb { name, url, pool })
    }

    /// Drops the database. Tests call it at the end; `scripts/test.sh` also
    /// removes any left behind by a failed run.
    pub async fn drop_database(self) -> Result<(), StoreError> {
        self.pool.close().await;
        let admin_pool = connect(&admin_url(), 1).await?;
        sqlx::query(&format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name))
            .execute(&admin_pool)
            .await?;
        Ok(())
    }
}

/// `base` with its database name replaced by `name`.
pub fn database_url(base: &str, name: &str) -> String {
    let (without_query, query) = match base.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (base, None),
    };
    let prefix = match without_query.rfind('/') {
        Some(i) if i > "postgres://".len() => &without_query[..i],
        _ => without_query,
    };
    match query {
        Some(q) => format!("{prefix}/{name}?{q}"),
        None => format!("{prefix}/{name}"),
    }
}

#[cfg(test)]
mod tests {
    use super::database_url;

    #[test]
    fn replaces_the_database_name() {
        assert_eq!(database_url("postgres://u@h:5432/postgres", "x"), "postgres://u@h:5432/x");
        assert_eq!(
            database_url("postgres://u@h/postgres?sslmode=disable", "x"),
            "postgres://u@h/x?sslmode=disable"
        );
    }
}
