//! Encrypts secrets (panel passwords and API tokens) before they are written
//! into events, with a key from `MRJ_SECRET_KEY`. Events are kept forever and
//! replayed by auditors, so a secret must never be stored in the clear.
//!
//! XChaCha20-Poly1305 with a random 192-bit nonce per secret; the key is the
//! SHA-256 of the operator's passphrase. Ciphertexts look like `v1:<base64>`.
#![forbid(unsafe_code)]

use std::fmt;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use chacha20poly1305::aead::{Aead, KeyInit};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use sha2::{Digest, Sha256};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecretError {
    #[error("MRJ_SECRET_KEY must be at least 16 characters")]
    WeakKey,
    #[error("the secret cannot be decrypted: wrong MRJ_SECRET_KEY or a damaged value")]
    Undecryptable,
    #[error("not an encrypted secret")]
    Malformed,
}

/// The key that encrypts and decrypts secrets at rest.
#[derive(Clone)]
pub struct SecretKey {
    cipher: XChaCha20Poly1305,
}

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretKey(***)")
    }
}

impl SecretKey {
    pub fn from_passphrase(passphrase: &str) -> Result<SecretKey, SecretError> {
        if passphrase.chars().count() < 16 {
            return Err(SecretError::WeakKey);
        }
        let key = Sha256::digest(passphrase.as_bytes());
        Ok(SecretKey {
            cipher: XChaCha20Poly1305::new(&key),
        })
    }

    pub fn encrypt(&self, plaintext: &str) -> String {
        let mut nonce = [0u8; 24];
        nonce[..16].copy_from_slice(uuid::Uuid::new_v4().as_bytes());
        nonce[16..].copy_from_slice(&uuid::Uuid::new_v4().as_bytes()[..8]);
        let ciphertext = self
            .cipher
            .encrypt(XNonce::from_slice(&nonce), plaintext.as_bytes())
            .expect("encryption with a valid key cannot fail");
        let mut out = nonce.to_vec();
        out.extend(ciphertext);
        format!("v1:{}", STANDARD.encode(out))
    }

    pub fn decrypt(&self, encrypted: &str) -> Result<String, SecretError> {
        let body = encrypted.strip_prefix("v1:").ok_or(SecretError::Malformed)?;
        let bytes = STANDARD.decode(body).map_err(|_| SecretError::Malformed)?;
        if bytes.len() < 24 + 16 {
            return Err(SecretError::Malformed);
        }
        let (nonce, ciphertext) = bytes.split_at(24);
        let plain = self
            .cipher
            .decrypt(XNonce::from_slice(nonce), ciphertext)
            .map_err(|_| SecretError::Undecryptable)?;
        String::from_utf8(plain).map_err(|_| SecretError::Undecryptable)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_round_trips_and_never_appears_in_the_ciphertext() {
        let key = SecretKey::from_passphrase("correct horse battery staple").unwrap();
        let c = key.encrypt("panel-password-123");
        assert!(c.starts_with("v1:"));
        assert!(!c.contains("panel-password"));
        assert_ne!(c, key.encrypt("panel-password-123"), "nonces differ");
        assert_eq!(key.decrypt(&c).unwrap(), "panel-password-123");
    }

    #[test]
    fn the_wrong_key_cannot_decrypt() {
        let a = SecretKey::from_passphrase("correct horse battery staple").unwrap();
        let b = SecretKey::from_passphrase("another passphrase entirely").unwrap();
        assert_eq!(b.decrypt(&a.encrypt("x")), Err(SecretError::Undecryptable));
        assert_eq!(a.decrypt("plain"), Err(SecretError::Malformed));
    }

    #[test]
    fn short_keys_are_refused_and_keys_do_not_print() {
        assert_eq!(SecretKey::from_passphrase("short").unwrap_err(), SecretError::WeakKey);
        let key = SecretKey::from_passphrase("correct horse battery staple").unwrap();
        assert_eq!(format!("{key:?}"), "SecretKey(***)");
    }
}
