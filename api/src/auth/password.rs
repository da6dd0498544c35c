//! Passwords are kept only as argon2id hashes (PHC strings).
use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use domain::staff::NewPassword;

/// A PHC string such as `$argon2id$v=19$m=19456,t=2,p=1$…`. CPU-heavy: call
/// it from `spawn_blocking` on a server.
pub fn hash(password: &NewPassword) -> String {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.expose().as_bytes(), &salt)
        .expect("argon2 with default parameters and a fresh salt cannot fail")
        .to_string()
}

/// Constant-time comparison inside argon2; a malformed hash never matches.
pub fn verify(password: &str, phc: &str) -> bool {
    match PasswordHash::new(phc) {
        Ok(parsed) => Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok(),
        Err(_) => false,
    }
}

/// A hash nobody's password matches, verified when the account does not
/// exist so that answering takes as long as for a real account.
pub fn decoy() -> &'static str {
    static DECOY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DECOY.get_or_init(|| hash(&NewPassword::parse(&uuid::Uuid::new_v4().to_string()).expect("36 characters")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_password_verifies_against_its_hash_only() {
        let p = NewPassword::parse("correct horse battery").unwrap();
        let h = hash(&p);
        assert!(h.starts_with("$argon2id$"));
        assert!(!h.contains("correct horse"));
        assert!(verify("correct horse battery", &h));
        assert!(!verify("correct horse battery!", &h));
        assert!(!verify("correct horse battery", "not a hash"));
        assert!(!verify("anything", decoy()));
    }
}
