//! MRJ Bot license keys: the vendor signs a license's claims with an ed25519
//! private key; every shop verifies them offline against the vendor's public
//! key, which is compiled in (`vendor.pub`).
//!
//! A key looks like `MRJ1.<claims>.<signature>` (both parts base64url, no
//! padding; the claims are JSON). The signature covers `MRJ1.<claims>`, so
//! neither the version nor a single claim can be changed without the vendor.
//! Key files are one line each: `mrj-license-secret-v1:<base64 seed>` (the
//! vendor's, kept secret) and `mrj-license-public-v1:<base64 key>`.
//!
//! Depends on `domain` for the claims and what they entitle; no I/O.
#![forbid(unsafe_code)]

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use chrono::{DateTime, Utc};
use domain::license::{Entitlements, License, LicenseClaims, LicenseError};
use ed25519_dalek::{Signature, Signer, SigningKey, Verifier as _, VerifyingKey};
use rand::RngCore;

const KEY_PREFIX: &str = "MRJ1";
const SECRET_PREFIX: &str = "mrj-license-secret-v1:";
const PUBLIC_PREFIX: &str = "mrj-license-public-v1:";

/// The vendor's public key every build trusts.
pub const VENDOR_PUBLIC_KEY: &str = include_str!("../vendor.pub");

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LicensingError {
    #[error("this is not an MRJ Bot license key (expected MRJ1.<claims>.<signature>)")]
    Malformed,
    #[error("the license key's signature is not valid: it was altered, or not issued by this build's vendor")]
    BadSignature,
    #[error("not a license signing key file (expected one line `{SECRET_PREFIX}<base64>`)")]
    BadSecretKey,
    #[error("not a license public key (expected `{PUBLIC_PREFIX}<base64>`)")]
    BadPublicKey,
    #[error("the license's claims are invalid: {0}")]
    Claims(#[from] LicenseError),
}

/// A new vendor key pair: (secret key file text, public key text).
pub fn keygen() -> (String, String) {
    let mut seed = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut seed);
    let key = SigningKey::from_bytes(&seed);
    let public = public_text(&key.verifying_key());
    (format!("{SECRET_PREFIX}{}\n", STANDARD.encode(seed)), public)
}

fn public_text(key: &VerifyingKey) -> String {
    format!("{PUBLIC_PREFIX}{}", STANDARD.encode(key.as_bytes()))
}

/// The vendor's side: signs licenses with the private key.
pub struct Issuer {
    key: SigningKey,
}

impl std::fmt::Debug for Issuer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Issuer({})", self.public_key())
    }
}

impl Issuer {
    /// From the contents of a secret key file.
    pub fn from_secret(text: &str) -> Result<Issuer, LicensingError> {
        let body = text.trim().strip_prefix(SECRET_PREFIX).ok_or(LicensingError::BadSecretKey)?;
        let seed: [u8; 32] = STANDARD
            .decode(body.trim())
            .ok()
            .and_then(|b| b.try_into().ok())
            .ok_or(LicensingError::BadSecretKey)?;
        Ok(Issuer {
            key: SigningKey::from_bytes(&seed),
        })
    }

    pub fn public_key(&self) -> String {
        public_text(&self.key.verifying_key())
    }

    /// A signed key for valid claims.
    pub fn issue(&self, claims: &LicenseClaims) -> Result<String, LicensingError> {
        claims.validate()?;
        let json = serde_json::to_vec(claims).expect("claims serialise");
        let signed = format!("{KEY_PREFIX}.{}", URL_SAFE_NO_PAD.encode(json));
        let signature = self.key.sign(signed.as_bytes());
        Ok(format!("{signed}.{}", URL_SAFE_NO_PAD.encode(signature.to_bytes())))
    }
}

static REPLACED_VENDOR_KEY: std::sync::OnceLock<Verifier> = std::sync::OnceLock::new();

/// Makes [`Verifier::vendor`] trust `verifier` instead of the compiled-in key,
/// for the rest of the process (once; later calls are ignored and return
/// false). The binary allows it only in development builds, for tests.
pub fn replace_vendor_key(verifier: Verifier) -> bool {
    REPLACED_VENDOR_KEY.set(verifier).is_ok()
}

/// The shop's side: checks keys against a public key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verifier {
    key: VerifyingKey,
}

impl Verifier {
    /// The vendor key compiled into this build, or the process-wide
    /// replacement set by [`replace_vendor_key`].
    pub fn vendor() -> Verifier {
        match REPLACED_VENDOR_KEY.get() {
            Some(v) => v.clone(),
            None => Verifier::from_public(VENDOR_PUBLIC_KEY).expect("vendor.pub holds a valid public key"),
        }
    }

    pub fn from_public(text: &str) -> Result<Verifier, LicensingError> {
        let body = text.trim().strip_prefix(PUBLIC_PREFIX).ok_or(LicensingError::BadPublicKey)?;
        let bytes: [u8; 32] = STANDARD
            .decode(body.trim())
            .ok()
            .and_then(|b| b.try_into().ok())
            .ok_or(LicensingError::BadPublicKey)?;
        let key = VerifyingKey::from_bytes(&bytes).map_err(|_| LicensingError::BadPublicKey)?;
        Ok(Verifier { key })
    }

    pub fn public_key(&self) -> String {
        public_text(&self.key)
    }

    /// The claims of a key whose signature is valid (expiry is not judged
    /// here: see [`LicenseClaims::entitlements`]).
    pub fn verify(&self, key: &str) -> Result<LicenseClaims, LicensingError> {
        let key: String = key.chars().filter(|c| !c.is_whitespace()).collect();
        let mut parts = key.split('.');
        let (Some(prefix), Some(claims), Some(signature), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
            return Err(LicensingError::Malformed);
        };
        if prefix != KEY_PREFIX {
            return Err(LicensingError::Malformed);
        }
        let signature: [u8; 64] = URL_SAFE_NO_PAD
            .decode(signature)
            .ok()
            .and_then(|b| b.try_into().ok())
            .ok_or(LicensingError::Malformed)?;
        self.key
            .verify(format!("{prefix}.{claims}").as_bytes(), &Signature::from_bytes(&signature))
            .map_err(|_| LicensingError::BadSignature)?;
        let json = URL_SAFE_NO_PAD.decode(claims).map_err(|_| LicensingError::Malformed)?;
        let claims: LicenseClaims = serde_json::from_slice(&json).map_err(|_| LicensingError::Malformed)?;
        claims.validate()?;
        Ok(claims)
    }

    /// What the installed license allows at `at`, verifying its key again so
    /// that a license edited in the database counts for nothing. The second
    /// value explains why an installed license was ignored.
    pub fn entitlements(&self, license: &License, at: DateTime<Utc>) -> (Entitlements, Option<String>) {
        let Some(installed) = &license.installed else {
            return (Entitlements::unlicensed(), None);
        };
        match self.verify(&installed.key) {
            Ok(claims) if claims == installed.claims => (claims.entitlements(at), None),
            Ok(_) => (
                Entitlements::unlicensed(),
                Some("the installed license's recorded claims differ from its signed key: it is ignored".to_string()),
            ),
            Err(e) => (Entitlements::unlicensed(), Some(format!("the installed license is ignored: {e}"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Duration, TimeZone};
    use domain::features::Feature;
    use domain::license::{LicenseEvent, LicenseState};
    use domain::ActorRef;

    fn claims() -> LicenseClaims {
        let issued = Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0).unwrap();
        LicenseClaims {
            license_id: uuid::Uuid::from_u128(7),
            licensee: "Example Shop".into(),
            issued_at: issued,
            expires_at: issued + Duration::days(365),
            grace_days: 14,
            features: [Feature::Backups, Feature::Chat].into_iter().collect(),
            max_panels: 3,
        }
    }

    fn pair() -> (Issuer, Verifier) {
        let (secret, public) = keygen();
        (Issuer::from_secret(&secret).unwrap(), Verifier::from_public(&public).unwrap())
    }

    #[test]
    fn an_issued_key_verifies_offline_and_gives_back_its_claims() {
        let (issuer, verifier) = pair();
        let key = issuer.issue(&claims()).unwrap();
        assert!(key.starts_with("MRJ1."));
        assert_eq!(verifier.verify(&key).unwrap(), claims());
        // Line breaks and spaces from copying a key around do not matter.
        let wrapped = format!("  {}\n{}  ", &key[..40], &key[40..]);
        assert_eq!(verifier.verify(&wrapped).unwrap(), claims());
        assert_eq!(verifier.public_key(), issuer.public_key());
    }

    #[test]
    fn a_changed_claim_or_another_vendor_is_refused() {
        let (issuer, verifier) = pair();
        let key = issuer.issue(&claims()).unwrap();
        let mut more = claims();
        more.max_panels = 100;
        let forged_claims = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&more).unwrap());
        let parts: Vec<&str> = key.split('.').collect();
        let forged = format!("MRJ1.{forged_claims}.{}", parts[2]);
        assert_eq!(verifier.verify(&forged), Err(LicensingError::BadSignature));

        let (other, _) = pair();
        assert_eq!(verifier.verify(&other.issue(&claims()).unwrap()), Err(LicensingError::BadSignature));
        assert_eq!(verifier.verify("hello"), Err(LicensingError::Malformed));
        assert_eq!(verifier.verify("MRJ2.a.b"), Err(LicensingError::Malformed));
    }

    #[test]
    fn invalid_claims_are_not_signed_and_key_files_are_checked() {
        let (issuer, _) = pair();
        let mut c = claims();
        c.max_panels = 0;
        assert_eq!(issuer.issue(&c), Err(LicensingError::Claims(LicenseError::NoPanels)));
        assert_eq!(Issuer::from_secret("nonsense").unwrap_err(), LicensingError::BadSecretKey);
        assert_eq!(
            Verifier::from_public("mrj-license-public-v1:AAAA").unwrap_err(),
            LicensingError::BadPublicKey
        );
        assert!(!format!("{issuer:?}").contains("secret"));
    }

    #[test]
    fn the_vendor_key_compiled_in_is_valid() {
        let v = Verifier::vendor();
        assert_eq!(v.public_key(), VENDOR_PUBLIC_KEY.trim());
    }

    #[test]
    fn an_installed_license_counts_only_while_its_signature_holds() {
        let (issuer, verifier) = pair();
        let key = issuer.issue(&claims()).unwrap();
        let at = claims().issued_at + Duration::days(1);
        let mut license = License::default();
        assert_eq!(verifier.entitlements(&license, at), (Entitlements::unlicensed(), None));
        let install = |license: &mut License, claims: LicenseClaims, key: String| {
            use cqrs_es::Aggregate;
            license.apply(LicenseEvent::LicenseInstalled {
                claims,
                key,
                replaced: None,
                by: ActorRef::System,
                at,
            })
        };
        install(&mut license, claims(), key.clone());
        let (e, problem) = verifier.entitlements(&license, at);
        assert!(problem.is_none());
        assert!(matches!(e.state, LicenseState::Valid { .. }));
        assert_eq!(e.max_panels, 3);

        // Someone raises the panel count in the stored event: ignored.
        let mut edited = claims();
        edited.max_panels = 50;
        install(&mut license, edited, key);
        let (e, problem) = verifier.entitlements(&license, at);
        assert_eq!(e, Entitlements::unlicensed());
        assert!(problem.unwrap().contains("differ"));
    }
}

/// For tests and benchmarks on scratch databases: a throwaway vendor, so a
/// test can license its shop without the real vendor's private key. Pair it
/// with `Commands::with_license_verifier`.
pub mod testing {
    use chrono::{Duration, Utc};
    use domain::features::Feature;
    use domain::license::LicenseClaims;

    use super::{keygen, Issuer, Verifier};

    /// A fresh vendor key pair.
    pub fn vendor() -> (Issuer, Verifier) {
        let (secret, public) = keygen();
        (
            Issuer::from_secret(&secret).expect("a generated key reads back"),
            Verifier::from_public(&public).expect("a generated key reads back"),
        )
    }

    /// Claims for a year from now, with every feature and `max_panels` panels.
    pub fn claims(max_panels: u32) -> LicenseClaims {
        let now = Utc::now();
        LicenseClaims {
            license_id: uuid::Uuid::new_v4(),
            licensee: "Test shop".into(),
            issued_at: now,
            expires_at: now + Duration::days(365),
            grace_days: 14,
            features: Feature::ALL.into_iter().collect(),
            max_panels,
        }
    }
}
