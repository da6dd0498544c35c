//! Time-based one-time passwords (RFC 6238: SHA-1, 6 digits, 30 s), one step
//! of clock drift either way, and each step usable once per account.
use sqlx::PgPool;
use totp_rs::{Algorithm, Secret, TOTP};

const STEP: u64 = 30;

/// A fresh 160-bit key, base32 as authenticator apps take it.
pub fn new_secret() -> String {
    match Secret::generate_secret().to_encoded() {
        Secret::Encoded(s) => s,
        Secret::Raw(_) => unreachable!("to_encoded returns the encoded form"),
    }
}

fn totp(secret_b32: &str, issuer: &str, account: &str) -> Option<TOTP> {
    let bytes = Secret::Encoded(secret_b32.to_string()).to_bytes().ok()?;
    TOTP::new(Algorithm::SHA1, 6, 1, STEP, bytes, Some(issuer.to_string()), account.to_string()).ok()
}

/// `otpauth://totp/…` for a QR code; `None` when the secret is not valid base32 of 128+ bits.
pub fn otpauth_url(secret_b32: &str, issuer: &str, account: &str) -> Option<String> {
    Some(totp(secret_b32, issuer, account)?.get_url())
}

pub fn is_valid_secret(secret_b32: &str) -> bool {
    totp(secret_b32, "x", "x").is_some()
}

/// The code for `unix_time` (for tests and the CLI's self-check).
pub fn code_at(secret_b32: &str, unix_time: u64) -> Option<String> {
    Some(totp(secret_b32, "x", "x")?.generate(unix_time))
}

/// The time step `code` belongs to, if it matches the previous, current or next step.
pub fn matching_step(secret_b32: &str, code: &str, unix_time: u64) -> Option<u64> {
    let t = totp(secret_b32, "x", "x")?;
    let code = code.trim();
    if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let now = unix_time / STEP;
    [now.saturating_sub(1), now, now + 1]
        .into_iter()
        .find(|step| constant_eq(t.generate(step * STEP).as_bytes(), code.as_bytes()))
}

fn constant_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Records that `telegram_id` used `step`; false if that step (or a later
/// one) was already used, which makes a replayed code fail.
pub async fn consume_step(pool: &PgPool, telegram_id: i64, step: u64) -> Result<bool, sqlx::Error> {
    let row: Option<i64> = sqlx::query_scalar(
        "INSERT INTO api_totp_steps (telegram_id, last_step) VALUES ($1, $2) \
         ON CONFLICT (telegram_id) DO UPDATE SET last_step = EXCLUDED.last_step \
         WHERE api_totp_steps.last_step < EXCLUDED.last_step RETURNING last_step",
    )
    .bind(telegram_id)
    .bind(step as i64)
    .fetch_optional(pool)
    .await?;
    Ok(row.is_some())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_match_their_step_and_its_neighbours_only() {
        let s = new_secret();
        assert!(is_valid_secret(&s));
        let t = 1_800_000_000;
        let code = code_at(&s, t).unwrap();
        assert_eq!(matching_step(&s, &code, t), Some(t / 30));
        assert_eq!(matching_step(&s, &code, t + 30), Some(t / 30));
        assert_eq!(matching_step(&s, &code, t - 30), Some(t / 30));
        assert_eq!(matching_step(&s, &code, t + 90), None);
        assert_eq!(matching_step(&s, "12345", t), None);
        assert_eq!(matching_step(&s, "abcdef", t), None);
        let url = otpauth_url(&s, "MRJ Bot", "42").unwrap();
        assert!(url.starts_with("otpauth://totp/"), "{url}");
        assert!(!is_valid_secret("not base32!"));
    }

    #[test]
    fn rfc_6238_sha1_vector() {
        // RFC 6238 appendix B: key "12345678901234567890", T = 59 → 94287082 (8 digits); 6 digits → 287082.
        let key = Secret::Raw(b"12345678901234567890".to_vec()).to_encoded();
        let Secret::Encoded(b32) = key else { unreachable!() };
        assert_eq!(code_at(&b32, 59).unwrap(), "287082");
    }
}
