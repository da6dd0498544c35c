//! One-time sign-in codes for customers: six digits sent by the bot, kept as
//! a keyed hash, valid once, for a few minutes and a few guesses.
use std::time::Duration;

use rand::Rng;
use sha2::{Digest, Sha256};
use sqlx::PgPool;

#[derive(Debug, PartialEq, Eq)]
pub enum CodeError {
    Invalid,
    Expired,
    TooManyAttempts,
}

fn digest(key: &[u8; 32], telegram_id: i64, code: &str) -> Vec<u8> {
    let mut h = Sha256::new();
    h.update(key);
    h.update(telegram_id.to_be_bytes());
    h.update(code.as_bytes());
    h.finalize().to_vec()
}

/// A new code for `telegram_id`, replacing any earlier one.
pub async fn issue(pool: &PgPool, key: &[u8; 32], telegram_id: i64, ttl: Duration) -> Result<String, sqlx::Error> {
    let code = format!("{:06}", rand::rngs::OsRng.gen_range(0..1_000_000u32));
    sqlx::query(
        "INSERT INTO api_login_codes (telegram_id, code_hash, attempts, created_at, expires_at) \
         VALUES ($1, $2, 0, now(), now() + make_interval(secs => $3)) \
         ON CONFLICT (telegram_id) DO UPDATE SET code_hash = EXCLUDED.code_hash, attempts = 0, \
         created_at = EXCLUDED.created_at, expires_at = EXCLUDED.expires_at",
    )
    .bind(telegram_id)
    .bind(digest(key, telegram_id, &code))
    .bind(ttl.as_secs_f64())
    .execute(pool)
    .await?;
    Ok(code)
}

/// Uses the code up if it matches; counts a wrong guess otherwise.
pub async fn redeem(
    pool: &PgPool,
    key: &[u8; 32],
    telegram_id: i64,
    code: &str,
    max_attempts: u32,
) -> Result<Result<(), CodeError>, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let row: Option<(Vec<u8>, i32, bool)> =
        sqlx::query_as("SELECT code_hash, attempts, expires_at <= now() FROM api_login_codes WHERE telegram_id = $1 FOR UPDATE")
            .bind(telegram_id)
            .fetch_optional(&mut *tx)
            .await?;
    let Some((hash, attempts, expired)) = row else {
        return Ok(Err(CodeError::Invalid));
    };
    let delete = "DELETE FROM api_login_codes WHERE telegram_id = $1";
    let outcome = if expired {
        sqlx::query(delete).bind(telegram_id).execute(&mut *tx).await?;
        Err(CodeError::Expired)
    } else if attempts as u32 >= max_attempts {
        sqlx::query(delete).bind(telegram_id).execute(&mut *tx).await?;
        Err(CodeError::TooManyAttempts)
    } else if constant_eq(&hash, &digest(key, telegram_id, code.trim())) {
        sqlx::query(delete).bind(telegram_id).execute(&mut *tx).await?;
        Ok(())
    } else {
        sqlx::query("UPDATE api_login_codes SET attempts = attempts + 1 WHERE telegram_id = $1")
            .bind(telegram_id)
            .execute(&mut *tx)
            .await?;
        if attempts as u32 + 1 >= max_attempts {
            Err(CodeError::TooManyAttempts)
        } else {
            Err(CodeError::Invalid)
        }
    };
    tx.commit().await?;
    Ok(outcome)
}

fn constant_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
