//! Feature toggles (one aggregate, id [`FeatureToggles::ID`]): the operator
//! switches parts of the shop on and off at run time. Each switch is an event,
//! so running processes follow it from the event store without a restart, and
//! the toggles group hears of it. Enabling a feature that needs a license is
//! refused when the license does not cover it (see [`crate::license`]).
use std::collections::BTreeMap;
use std::fmt;

use chrono::{DateTime, Utc};
use cqrs_es::event_sink::EventSink;
use cqrs_es::{Aggregate, DomainEvent};
use serde::{Deserialize, Serialize};

use crate::access::{Actor, ActorRef, Permission, PermissionDenied};
use crate::license::{Entitlements, LicenseDenied};

/// A part of the shop that can be switched on and off.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Feature {
    /// Scheduled database backups sent to the backup group.
    Backups,
    /// Live chat between customers and support agents.
    Chat,
    /// AI-assisted answers.
    Ai,
    /// Loyalty points: earning and redeeming.
    Points,
    /// Bulk messages to customers.
    Broadcasts,
}

impl Feature {
    pub const ALL: [Feature; 5] = [Feature::Backups, Feature::Chat, Feature::Ai, Feature::Points, Feature::Broadcasts];

    pub fn name(self) -> &'static str {
        match self {
            Feature::Backups => "backups",
            Feature::Chat => "chat",
            Feature::Ai => "ai",
            Feature::Points => "points",
            Feature::Broadcasts => "broadcasts",
        }
    }

    pub fn parse(s: &str) -> Option<Feature> {
        let s = s.trim().to_ascii_lowercase();
        Feature::ALL.into_iter().find(|f| f.name() == s)
    }

    /// Whether the feature is on before any toggle event (points were part of
    /// the shop before toggles existed; the rest waits for the operator).
    pub fn default_enabled(self) -> bool {
        matches!(self, Feature::Points)
    }

    /// Whether the feature is sold by license (points are part of every shop).
    pub fn needs_license(self) -> bool {
        !matches!(self, Feature::Points)
    }
}

impl fmt::Display for Feature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum FeatureCommand {
    /// Switch a feature on or off. Asking for the state it is already in does nothing.
    SetFeature {
        feature: Feature,
        enabled: bool,
        /// What the installed license allows at `at` (loaded by the caller).
        license: Entitlements,
        by: Actor,
        at: DateTime<Utc>,
    },
    /// Switch a feature to the opposite of its current state.
    ToggleFeature {
        feature: Feature,
        license: Entitlements,
        by: Actor,
        at: DateTime<Utc>,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum FeatureEvent {
    FeatureEnabled { feature: Feature, by: ActorRef, at: DateTime<Utc> },
    FeatureDisabled { feature: Feature, by: ActorRef, at: DateTime<Utc> },
}

impl FeatureEvent {
    pub fn feature(&self) -> Feature {
        match self {
            FeatureEvent::FeatureEnabled { feature, .. } | FeatureEvent::FeatureDisabled { feature, .. } => *feature,
        }
    }
    pub fn enabled(&self) -> bool {
        matches!(self, FeatureEvent::FeatureEnabled { .. })
    }
}

impl DomainEvent for FeatureEvent {
    fn event_type(&self) -> String {
        match self {
            FeatureEvent::FeatureEnabled { .. } => "FeatureEnabled",
            FeatureEvent::FeatureDisabled { .. } => "FeatureDisabled",
        }
        .to_string()
    }
    fn event_version(&self) -> String {
        "1.0".to_string()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FeatureError {
    #[error(transparent)]
    NotLicensed(#[from] LicenseDenied),
    #[error(transparent)]
    Denied(#[from] PermissionDenied),
}

/// The switches as the events set them; features never switched keep their default.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FeatureToggles {
    pub switched: BTreeMap<Feature, bool>,
}

impl FeatureToggles {
    /// The one aggregate id: there is one set of switches per shop.
    pub const ID: &'static str = "features";

    /// The switch's position (the license is checked separately, see [`Entitlements::allows`]).
    pub fn is_enabled(&self, feature: Feature) -> bool {
        self.switched.get(&feature).copied().unwrap_or(feature.default_enabled())
    }

    fn decide(
        &self,
        feature: Feature,
        enabled: bool,
        license: &Entitlements,
        by: &Actor,
        at: DateTime<Utc>,
    ) -> Result<Option<FeatureEvent>, FeatureError> {
        by.require(Permission::ManageSettings)?;
        if self.is_enabled(feature) == enabled {
            return Ok(None);
        }
        let by = by.reference();
        Ok(Some(if enabled {
            license.allows(feature)?;
            FeatureEvent::FeatureEnabled { feature, by, at }
        } else {
            FeatureEvent::FeatureDisabled { feature, by, at }
        }))
    }
}

impl Aggregate for FeatureToggles {
    const TYPE: &'static str = "Features";
    type Command = FeatureCommand;
    type Event = FeatureEvent;
    type Error = FeatureError;
    type Services = ();

    async fn handle(&mut self, command: Self::Command, _: &(), sink: &EventSink<Self>) -> Result<(), Self::Error> {
        let event = match command {
            FeatureCommand::SetFeature {
                feature,
                enabled,
                license,
                by,
                at,
            } => self.decide(feature, enabled, &license, &by, at)?,
            FeatureCommand::ToggleFeature { feature, license, by, at } => {
                self.decide(feature, !self.is_enabled(feature), &license, &by, at)?
            }
        };
        if let Some(event) = event {
            sink.write(event, self).await;
        }
        Ok(())
    }

    fn apply(&mut self, event: Self::Event) {
        self.switched.insert(event.feature(), event.enabled());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::license::{LicenseRefusal, LicenseState};
    use crate::test_support::t0;
    use crate::values::CustomerId;
    use cqrs_es::test::TestFramework;

    type Given = TestFramework<FeatureToggles>;

    fn licensed(features: &[Feature]) -> Entitlements {
        Entitlements {
            state: LicenseState::Valid {
                licensee: "Shop".into(),
                expires_at: t0() + chrono::Duration::days(30),
            },
            features: features.iter().copied().collect(),
            max_panels: 3,
        }
    }

    fn set(feature: Feature, enabled: bool, license: Entitlements) -> FeatureCommand {
        FeatureCommand::SetFeature {
            feature,
            enabled,
            license,
            by: Actor::System,
            at: t0(),
        }
    }

    #[test]
    fn enabling_a_licensed_feature_records_it() {
        Given::with(())
            .given_no_previous_events()
            .when(set(Feature::Chat, true, licensed(&[Feature::Chat])))
            .then_expect_events(vec![FeatureEvent::FeatureEnabled {
                feature: Feature::Chat,
                by: ActorRef::System,
                at: t0(),
            }]);
    }

    #[test]
    fn enabling_a_feature_outside_the_license_is_refused_with_what_the_license_covers() {
        Given::with(())
            .given_no_previous_events()
            .when(set(Feature::Chat, true, licensed(&[Feature::Backups])))
            .then_expect_error(FeatureError::NotLicensed(LicenseDenied {
                feature: "chat".into(),
                reason: LicenseRefusal::NotIncluded {
                    licensed: vec![Feature::Backups],
                },
            }));
        Given::with(())
            .given_no_previous_events()
            .when(set(Feature::Backups, true, Entitlements::unlicensed()))
            .then_expect_error(FeatureError::NotLicensed(LicenseDenied {
                feature: "backups".into(),
                reason: LicenseRefusal::NoLicense,
            }));
    }

    #[test]
    fn points_need_no_license_and_are_on_until_switched_off() {
        let mut toggles = FeatureToggles::default();
        assert!(toggles.is_enabled(Feature::Points));
        assert!(!toggles.is_enabled(Feature::Chat));
        Given::with(())
            .given_no_previous_events()
            .when(set(Feature::Points, false, Entitlements::unlicensed()))
            .then_expect_events(vec![FeatureEvent::FeatureDisabled {
                feature: Feature::Points,
                by: ActorRef::System,
                at: t0(),
            }]);
        toggles.apply(FeatureEvent::FeatureDisabled {
            feature: Feature::Points,
            by: ActorRef::System,
            at: t0(),
        });
        assert!(!toggles.is_enabled(Feature::Points));
    }

    #[test]
    fn disabling_never_needs_a_license_and_repeating_a_state_does_nothing() {
        let enabled = FeatureEvent::FeatureEnabled {
            feature: Feature::Backups,
            by: ActorRef::System,
            at: t0(),
        };
        Given::with(())
            .given(vec![enabled.clone()])
            .when(set(Feature::Backups, true, licensed(&[Feature::Backups])))
            .then_expect_events(vec![]);
        Given::with(())
            .given(vec![enabled])
            .when(set(Feature::Backups, false, Entitlements::unlicensed()))
            .then_expect_events(vec![FeatureEvent::FeatureDisabled {
                feature: Feature::Backups,
                by: ActorRef::System,
                at: t0(),
            }]);
    }

    #[test]
    fn toggling_flips_the_current_state() {
        let on = FeatureEvent::FeatureEnabled {
            feature: Feature::Ai,
            by: ActorRef::System,
            at: t0(),
        };
        let toggle = |license| FeatureCommand::ToggleFeature {
            feature: Feature::Ai,
            license,
            by: Actor::System,
            at: t0(),
        };
        Given::with(())
            .given_no_previous_events()
            .when(toggle(licensed(&[Feature::Ai])))
            .then_expect_events(vec![on.clone()]);
        Given::with(())
            .given(vec![on])
            .when(toggle(Entitlements::unlicensed()))
            .then_expect_events(vec![FeatureEvent::FeatureDisabled {
                feature: Feature::Ai,
                by: ActorRef::System,
                at: t0(),
            }]);
    }

    #[test]
    fn only_settings_managers_switch_features() {
        Given::with(())
            .given_no_previous_events()
            .when(FeatureCommand::SetFeature {
                feature: Feature::Chat,
                enabled: true,
                license: licensed(&[Feature::Chat]),
                by: Actor::user(CustomerId(9), [Permission::AnswerSupport]),
                at: t0(),
            })
            .then_expect_error(FeatureError::Denied(PermissionDenied(Permission::ManageSettings)));
    }

    #[test]
    fn feature_names_round_trip() {
        for f in Feature::ALL {
            assert_eq!(Feature::parse(f.name()), Some(f));
            assert_eq!(serde_json::to_value(f).unwrap(), serde_json::json!(f.name()));
        }
        assert_eq!(Feature::parse(" Chat "), Some(Feature::Chat));
        assert_eq!(Feature::parse("telepathy"), None);
    }
}
