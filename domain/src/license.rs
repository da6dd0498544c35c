//! The shop's license (one aggregate, id [`License::ID`]): who it is for, until
//! when, which optional features and how many panels it allows, and how long
//! features keep working after it expires (the grace period).
//!
//! The key's signature is checked outside the domain (crate `licensing`,
//! ed25519, offline) before [`LicenseCommand::InstallLicense`] is built, and
//! again whenever the license is loaded for a decision; the domain keeps the
//! claims and the key text, and turns them into [`Entitlements`] at an instant.
//! Callers that gate something ask [`Entitlements::allows`] or
//! [`Entitlements::allows_another_panel`] and show the error as it is: it says
//! what is refused, why, and what to do.
use std::collections::BTreeSet;
use std::fmt;

use chrono::{DateTime, Duration, Utc};
use cqrs_es::event_sink::EventSink;
use cqrs_es::{Aggregate, DomainEvent};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::access::{Actor, ActorRef, Permission, PermissionDenied};
use crate::features::Feature;

/// How many panels a shop may register without a (valid) license.
pub const UNLICENSED_PANELS: u32 = 1;
/// The longest grace period a license may give.
pub const MAX_GRACE_DAYS: u32 = 90;
/// A license dated this far ahead of the installer's clock is refused (clock skew allowance).
pub const ISSUE_SKEW: Duration = Duration::days(1);

/// What a license key says, once its signature has been verified.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LicenseClaims {
    pub license_id: Uuid,
    pub licensee: String,
    pub issued_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    /// Days after `expires_at` during which licensed features keep working.
    pub grace_days: u32,
    pub features: BTreeSet<Feature>,
    /// Panels (servers) the shop may register.
    pub max_panels: u32,
}

impl LicenseClaims {
    pub fn validate(&self) -> Result<(), LicenseError> {
        let licensee = self.licensee.trim();
        if licensee.is_empty() || licensee.chars().count() > 200 {
            return Err(LicenseError::InvalidLicensee);
        }
        if self.expires_at <= self.issued_at {
            return Err(LicenseError::ExpiresBeforeIssue);
        }
        if self.max_panels == 0 {
            return Err(LicenseError::NoPanels);
        }
        if self.grace_days > MAX_GRACE_DAYS {
            return Err(LicenseError::GraceTooLong);
        }
        Ok(())
    }

    pub fn grace_ends_at(&self) -> DateTime<Utc> {
        self.expires_at + Duration::days(i64::from(self.grace_days))
    }

    /// What this license allows at `at`.
    pub fn entitlements(&self, at: DateTime<Utc>) -> Entitlements {
        let licensee = self.licensee.clone();
        let (state, active) = if at < self.expires_at {
            (
                LicenseState::Valid {
                    licensee,
                    expires_at: self.expires_at,
                },
                true,
            )
        } else if at < self.grace_ends_at() {
            (
                LicenseState::Grace {
                    licensee,
                    expired_at: self.expires_at,
                    grace_ends_at: self.grace_ends_at(),
                },
                true,
            )
        } else {
            (
                LicenseState::Lapsed {
                    licensee,
                    expired_at: self.expires_at,
                    grace_ended_at: self.grace_ends_at(),
                },
                false,
            )
        };
        Entitlements {
            state,
            features: if active { self.features.clone() } else { BTreeSet::new() },
            max_panels: if active { self.max_panels } else { UNLICENSED_PANELS },
        }
    }
}

/// Where the license stands at an instant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "state")]
pub enum LicenseState {
    Unlicensed,
    Valid {
        licensee: String,
        expires_at: DateTime<Utc>,
    },
    /// Expired, but licensed features keep working until `grace_ends_at`.
    Grace {
        licensee: String,
        expired_at: DateTime<Utc>,
        grace_ends_at: DateTime<Utc>,
    },
    /// Expired and past its grace period: the shop is back to the unlicensed allowance.
    Lapsed {
        licensee: String,
        expired_at: DateTime<Utc>,
        grace_ended_at: DateTime<Utc>,
    },
}

/// What the shop may use at one instant: the answer every gate asks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entitlements {
    pub state: LicenseState,
    /// Licensed optional features (empty when unlicensed or lapsed).
    pub features: BTreeSet<Feature>,
    pub max_panels: u32,
}

fn day(t: &DateTime<Utc>) -> String {
    t.format("%Y-%m-%d").to_string()
}

impl Entitlements {
    /// The allowance without a license: no optional feature, one panel.
    pub fn unlicensed() -> Entitlements {
        Entitlements {
            state: LicenseState::Unlicensed,
            features: BTreeSet::new(),
            max_panels: UNLICENSED_PANELS,
        }
    }

    /// Whether `feature` may be used (features outside licensing always may).
    pub fn allows(&self, feature: Feature) -> Result<(), LicenseDenied> {
        if !feature.needs_license() || self.features.contains(&feature) {
            return Ok(());
        }
        Err(LicenseDenied {
            feature: feature.name().to_string(),
            reason: self.refusal(),
        })
    }

    /// Whether one more panel may be registered when `registered` are.
    pub fn allows_another_panel(&self, registered: u32) -> Result<(), LicenseDenied> {
        if registered < self.max_panels {
            return Ok(());
        }
        let reason = match &self.state {
            LicenseState::Valid { .. } | LicenseState::Grace { .. } => LicenseRefusal::PanelLimit {
                allowed: self.max_panels,
                registered,
            },
            _ => self.refusal(),
        };
        Err(LicenseDenied {
            feature: "another panel".to_string(),
            reason,
        })
    }

    fn refusal(&self) -> LicenseRefusal {
        match &self.state {
            LicenseState::Unlicensed => LicenseRefusal::NoLicense,
            LicenseState::Lapsed {
                expired_at,
                grace_ended_at,
                ..
            } => LicenseRefusal::Lapsed {
                expired_at: *expired_at,
                grace_ended_at: *grace_ended_at,
            },
            LicenseState::Valid { .. } | LicenseState::Grace { .. } => LicenseRefusal::NotIncluded {
                licensed: self.features.iter().copied().collect(),
            },
        }
    }

    /// A line for the operator when the license needs attention soon (or now).
    pub fn warning(&self, at: DateTime<Utc>) -> Option<String> {
        match &self.state {
            LicenseState::Valid { expires_at, .. } if *expires_at - at <= Duration::days(14) => Some(format!(
                "the license expires on {}: install a renewed license before then",
                day(expires_at)
            )),
            LicenseState::Grace {
                expired_at, grace_ends_at, ..
            } => Some(format!(
                "the license expired on {}; licensed features keep working until {} (grace period): install a renewed license",
                day(expired_at),
                day(grace_ends_at)
            )),
            LicenseState::Lapsed {
                expired_at,
                grace_ended_at,
                ..
            } => Some(format!(
                "the license expired on {} and its grace period ended on {}: licensed features are off",
                day(expired_at),
                day(grace_ended_at)
            )),
            _ => None,
        }
    }
}

/// Why the license does not cover something.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum LicenseRefusal {
    NoLicense,
    NotIncluded {
        licensed: Vec<Feature>,
    },
    Lapsed {
        expired_at: DateTime<Utc>,
        grace_ended_at: DateTime<Utc>,
    },
    PanelLimit {
        allowed: u32,
        registered: u32,
    },
}

impl fmt::Display for LicenseRefusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LicenseRefusal::NoLicense => {
                write!(f, "no license is installed (install one with `mrjbot license install`)")
            }
            LicenseRefusal::NotIncluded { licensed } if licensed.is_empty() => {
                write!(
                    f,
                    "the license includes no optional features; ask your vendor for one that includes it"
                )
            }
            LicenseRefusal::NotIncluded { licensed } => {
                let names: Vec<&str> = licensed.iter().map(|f| f.name()).collect();
                write!(
                    f,
                    "the license includes only {}; ask your vendor for one that includes it",
                    names.join(", ")
                )
            }
            LicenseRefusal::Lapsed {
                expired_at,
                grace_ended_at,
            } => write!(
                f,
                "the license expired on {} and its grace period ended on {}; install a renewed license",
                day(expired_at),
                day(grace_ended_at)
            ),
            LicenseRefusal::PanelLimit { allowed, registered } => write!(
                f,
                "the license allows {allowed} panel{} and {registered} {} registered; retire one or install a license for more",
                if *allowed == 1 { "" } else { "s" },
                if *registered == 1 { "is" } else { "are" }
            ),
        }
    }
}

/// A gated thing the license does not allow, with the reason.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{feature} is outside the license: {reason}")]
pub struct LicenseDenied {
    /// What was refused: a feature name or "another panel".
    pub feature: String,
    pub reason: LicenseRefusal,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum LicenseCommand {
    /// Install a verified license key (replacing the one installed, if any).
    InstallLicense {
        key: String,
        claims: LicenseClaims,
        by: Actor,
        at: DateTime<Utc>,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum LicenseEvent {
    LicenseInstalled {
        claims: LicenseClaims,
        /// The signed key as given, so every reader can verify it again.
        key: String,
        /// The license it replaced.
        replaced: Option<Uuid>,
        by: ActorRef,
        at: DateTime<Utc>,
    },
}

impl DomainEvent for LicenseEvent {
    fn event_type(&self) -> String {
        match self {
            LicenseEvent::LicenseInstalled { .. } => "LicenseInstalled",
        }
        .to_string()
    }
    fn event_version(&self) -> String {
        "1.0".to_string()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LicenseError {
    #[error("the license's licensee must be 1 to 200 characters")]
    InvalidLicensee,
    #[error("the license expires before it was issued")]
    ExpiresBeforeIssue,
    #[error("the license must allow at least one panel")]
    NoPanels,
    #[error("a license's grace period is at most {MAX_GRACE_DAYS} days")]
    GraceTooLong,
    #[error("this license is dated {}, in the future: check the clock", day(.issued_at))]
    IssuedInTheFuture { issued_at: DateTime<Utc> },
    #[error("this license expired on {} and its grace period ended on {}: it cannot be installed", day(.expired_at), day(.grace_ended_at))]
    AlreadyLapsed {
        expired_at: DateTime<Utc>,
        grace_ended_at: DateTime<Utc>,
    },
    #[error(transparent)]
    Denied(#[from] PermissionDenied),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstalledLicense {
    pub claims: LicenseClaims,
    pub key: String,
    pub installed_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct License {
    pub installed: Option<InstalledLicense>,
}

impl License {
    /// The one aggregate id: a shop has one license at a time.
    pub const ID: &'static str = "license";

    /// What the installed license allows at `at`, trusting its stored claims
    /// (callers that can verify signatures use `licensing` instead).
    pub fn entitlements(&self, at: DateTime<Utc>) -> Entitlements {
        match &self.installed {
            Some(l) => l.claims.entitlements(at),
            None => Entitlements::unlicensed(),
        }
    }
}

impl Aggregate for License {
    const TYPE: &'static str = "License";
    type Command = LicenseCommand;
    type Event = LicenseEvent;
    type Error = LicenseError;
    type Services = ();

    async fn handle(&mut self, command: Self::Command, _: &(), sink: &EventSink<Self>) -> Result<(), Self::Error> {
        match command {
            LicenseCommand::InstallLicense { key, claims, by, at } => {
                by.require(Permission::ManageSettings)?;
                claims.validate()?;
                if self.installed.as_ref().is_some_and(|l| l.claims.license_id == claims.license_id) {
                    return Ok(());
                }
                if claims.issued_at > at + ISSUE_SKEW {
                    return Err(LicenseError::IssuedInTheFuture {
                        issued_at: claims.issued_at,
                    });
                }
                if at >= claims.grace_ends_at() {
                    return Err(LicenseError::AlreadyLapsed {
                        expired_at: claims.expires_at,
                        grace_ended_at: claims.grace_ends_at(),
                    });
                }
                let replaced = self.installed.as_ref().map(|l| l.claims.license_id);
                sink.write(
                    LicenseEvent::LicenseInstalled {
                        claims,
                        key,
                        replaced,
                        by: by.reference(),
                        at,
                    },
                    self,
                )
                .await;
            }
        }
        Ok(())
    }

    fn apply(&mut self, event: Self::Event) {
        match event {
            LicenseEvent::LicenseInstalled { claims, key, at, .. } => {
                self.installed = Some(InstalledLicense {
                    claims,
                    key,
                    installed_at: at,
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::t0;
    use crate::values::CustomerId;
    use cqrs_es::test::TestFramework;

    type Given = TestFramework<License>;

    fn claims(days: i64) -> LicenseClaims {
        LicenseClaims {
            license_id: Uuid::from_u128(1),
            licensee: "Example Shop".into(),
            issued_at: t0(),
            expires_at: t0() + Duration::days(days),
            grace_days: 7,
            features: [Feature::Backups, Feature::Chat].into_iter().collect(),
            max_panels: 2,
        }
    }

    fn install(claims: LicenseClaims, at: DateTime<Utc>) -> LicenseCommand {
        LicenseCommand::InstallLicense {
            key: "KEY".into(),
            claims,
            by: Actor::System,
            at,
        }
    }

    fn installed(claims: LicenseClaims) -> LicenseEvent {
        LicenseEvent::LicenseInstalled {
            claims,
            key: "KEY".into(),
            replaced: None,
            by: ActorRef::System,
            at: t0(),
        }
    }

    #[test]
    fn a_valid_license_is_installed_and_a_repeat_does_nothing() {
        Given::with(())
            .given_no_previous_events()
            .when(install(claims(365), t0()))
            .then_expect_events(vec![installed(claims(365))]);
        Given::with(())
            .given(vec![installed(claims(365))])
            .when(install(claims(365), t0()))
            .then_expect_events(vec![]);
    }

    #[test]
    fn a_renewal_replaces_the_installed_license() {
        let mut renewal = claims(730);
        renewal.license_id = Uuid::from_u128(2);
        Given::with(())
            .given(vec![installed(claims(365))])
            .when(install(renewal.clone(), t0() + Duration::days(300)))
            .then_expect_events(vec![LicenseEvent::LicenseInstalled {
                claims: renewal,
                key: "KEY".into(),
                replaced: Some(Uuid::from_u128(1)),
                by: ActorRef::System,
                at: t0() + Duration::days(300),
            }]);
    }

    #[test]
    fn a_license_past_its_grace_period_or_from_the_future_is_refused() {
        let at = t0() + Duration::days(30 + 7);
        Given::with(())
            .given_no_previous_events()
            .when(install(claims(30), at))
            .then_expect_error(LicenseError::AlreadyLapsed {
                expired_at: t0() + Duration::days(30),
                grace_ended_at: at,
            });
        // Still inside the grace period: accepted.
        Given::with(())
            .given_no_previous_events()
            .when(install(claims(30), at - Duration::seconds(1)))
            .then_expect_events(vec![LicenseEvent::LicenseInstalled {
                claims: claims(30),
                key: "KEY".into(),
                replaced: None,
                by: ActorRef::System,
                at: at - Duration::seconds(1),
            }]);
        Given::with(())
            .given_no_previous_events()
            .when(install(claims(30), t0() - Duration::days(2)))
            .then_expect_error(LicenseError::IssuedInTheFuture { issued_at: t0() });
    }

    #[test]
    fn malformed_claims_and_strangers_are_refused() {
        let mut c = claims(30);
        c.max_panels = 0;
        Given::with(())
            .given_no_previous_events()
            .when(install(c, t0()))
            .then_expect_error(LicenseError::NoPanels);
        let mut c = claims(30);
        c.licensee = "  ".into();
        Given::with(())
            .given_no_previous_events()
            .when(install(c, t0()))
            .then_expect_error(LicenseError::InvalidLicensee);
        let mut c = claims(30);
        c.expires_at = c.issued_at;
        Given::with(())
            .given_no_previous_events()
            .when(install(c, t0()))
            .then_expect_error(LicenseError::ExpiresBeforeIssue);
        let mut c = claims(30);
        c.grace_days = MAX_GRACE_DAYS + 1;
        Given::with(())
            .given_no_previous_events()
            .when(install(c, t0()))
            .then_expect_error(LicenseError::GraceTooLong);
        Given::with(())
            .given_no_previous_events()
            .when(LicenseCommand::InstallLicense {
                key: "KEY".into(),
                claims: claims(30),
                by: Actor::user(CustomerId(5), [Permission::ManagePlans]),
                at: t0(),
            })
            .then_expect_error(LicenseError::Denied(PermissionDenied(Permission::ManageSettings)));
    }

    #[test]
    fn features_work_through_the_grace_period_and_stop_after_it() {
        let c = claims(30);
        let valid = c.entitlements(t0() + Duration::days(29));
        assert!(valid.allows(Feature::Chat).is_ok());
        assert_eq!(
            valid.warning(t0() + Duration::days(29)).unwrap(),
            "the license expires on 2026-12-01: install a renewed license before then"
        );
        assert!(c.entitlements(t0()).warning(t0()).is_none());

        let grace = c.entitlements(t0() + Duration::days(33));
        assert!(matches!(grace.state, LicenseState::Grace { .. }));
        assert!(grace.allows(Feature::Backups).is_ok());
        assert_eq!(grace.max_panels, 2);
        assert!(grace
            .warning(t0())
            .unwrap()
            .contains("keep working until 2026-12-08 (grace period)"));

        let lapsed = c.entitlements(t0() + Duration::days(37));
        let denied = lapsed.allows(Feature::Chat).unwrap_err();
        assert_eq!(
            denied.to_string(),
            "chat is outside the license: the license expired on 2026-12-01 and its grace period ended on 2026-12-08; install a renewed license"
        );
        assert_eq!(lapsed.max_panels, UNLICENSED_PANELS);
        assert!(lapsed.allows(Feature::Points).is_ok(), "points are never licensed");
    }

    #[test]
    fn gates_say_what_is_refused_and_why() {
        let e = claims(30).entitlements(t0());
        assert_eq!(
            e.allows(Feature::Ai).unwrap_err().to_string(),
            "ai is outside the license: the license includes only backups, chat; ask your vendor for one that includes it"
        );
        assert!(e.allows_another_panel(1).is_ok());
        assert_eq!(
            e.allows_another_panel(2).unwrap_err().to_string(),
            "another panel is outside the license: the license allows 2 panels and 2 are registered; retire one or install a license for more"
        );
        let none = Entitlements::unlicensed();
        assert!(none.allows_another_panel(0).is_ok());
        assert_eq!(
            none.allows_another_panel(1).unwrap_err().to_string(),
            "another panel is outside the license: no license is installed (install one with `mrjbot license install`)"
        );
    }

    #[test]
    fn the_aggregate_reports_entitlements_of_the_installed_license() {
        let mut license = License::default();
        assert_eq!(license.entitlements(t0()), Entitlements::unlicensed());
        license.apply(installed(claims(30)));
        assert_eq!(license.entitlements(t0()).max_panels, 2);
        assert_eq!(license.installed.as_ref().unwrap().installed_at, t0());
    }
}
