//! A 3x-UI panel hosting subscriptions in one location (aggregate id = a UUID).
//!
//! Credentials arrive already encrypted (see the `secrets` crate): the domain
//! stores and hands back ciphertext only, so no event, read model or log can
//! hold a panel password in the clear.
//!
//! A panel's capacity is a hard limit, kept by a second aggregate of the same
//! id, [`PanelSlots`]: one slot per subscription with a client there, reserved
//! before the panel is called and refused when every slot is taken. Two
//! provisioners racing for the last slot append to the same stream, so the
//! event store's optimistic concurrency lets only one of them win.
use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use cqrs_es::event_sink::EventSink;
use cqrs_es::{Aggregate, DomainEvent};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::access::{Actor, ActorRef, Permission, PermissionDenied};
use crate::values::Location;

/// How the client logs in to the panel; the secret part is ciphertext.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum PanelCredentials {
    Password { username: String, password_encrypted: String },
    Token { token_encrypted: String },
}

impl std::fmt::Debug for PanelCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PanelCredentials::Password { username, .. } => write!(f, "Password {{ username: {username:?}, password: *** }}"),
            PanelCredentials::Token { .. } => f.write_str("Token(***)"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PanelSpec {
    pub name: String,
    pub location: Location,
    /// scheme://host:port/<web base path>/
    pub base_url: String,
    /// The panel's subscription server, e.g. `https://vpn.example.com:2096/sub/`.
    pub sub_base_url: String,
    /// The address customers connect to, used in direct links.
    pub public_host: String,
    pub inbound_ids: Vec<i64>,
    /// How many clients this panel may hold.
    pub capacity: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum PanelCommand {
    RegisterPanel {
        id: Uuid,
        spec: PanelSpec,
        credentials: PanelCredentials,
        by: Actor,
        at: DateTime<Utc>,
    },
    EnablePanel {
        by: Actor,
        at: DateTime<Utc>,
    },
    DisablePanel {
        reason: String,
        by: Actor,
        at: DateTime<Utc>,
    },
    ChangeCredentials {
        credentials: PanelCredentials,
        by: Actor,
        at: DateTime<Utc>,
    },
    RetirePanel {
        by: Actor,
        at: DateTime<Utc>,
    },
    /// From the monitor, after consecutive failed checks. Repeats are no-ops.
    MarkUnhealthy {
        reason: String,
        at: DateTime<Utc>,
    },
    MarkHealthy {
        at: DateTime<Utc>,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum PanelEvent {
    PanelRegistered {
        id: Uuid,
        spec: PanelSpec,
        credentials: PanelCredentials,
        by: ActorRef,
        at: DateTime<Utc>,
    },
    PanelEnabled {
        by: ActorRef,
        at: DateTime<Utc>,
    },
    PanelDisabled {
        reason: String,
        by: ActorRef,
        at: DateTime<Utc>,
    },
    PanelCredentialsChanged {
        credentials: PanelCredentials,
        by: ActorRef,
        at: DateTime<Utc>,
    },
    PanelRetired {
        by: ActorRef,
        at: DateTime<Utc>,
    },
    PanelMarkedUnhealthy {
        reason: String,
        at: DateTime<Utc>,
    },
    PanelMarkedHealthy {
        at: DateTime<Utc>,
    },
}

impl DomainEvent for PanelEvent {
    fn event_type(&self) -> String {
        match self {
            PanelEvent::PanelRegistered { .. } => "PanelRegistered",
            PanelEvent::PanelEnabled { .. } => "PanelEnabled",
            PanelEvent::PanelDisabled { .. } => "PanelDisabled",
            PanelEvent::PanelCredentialsChanged { .. } => "PanelCredentialsChanged",
            PanelEvent::PanelRetired { .. } => "PanelRetired",
            PanelEvent::PanelMarkedUnhealthy { .. } => "PanelMarkedUnhealthy",
            PanelEvent::PanelMarkedHealthy { .. } => "PanelMarkedHealthy",
        }
        .to_string()
    }
    fn event_version(&self) -> String {
        "1.0".to_string()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PanelError {
    #[error("this panel already exists")]
    AlreadyExists,
    #[error("no such panel")]
    NotFound,
    #[error("a panel URL starts with http:// or https://")]
    InvalidUrl,
    #[error("a panel name is 1 to 64 characters")]
    InvalidName,
    #[error("a panel needs at least one inbound id")]
    NoInbounds,
    #[error("a panel's capacity must be at least one client")]
    NoCapacity,
    #[error("the panel username is required")]
    UsernameRequired,
    #[error("the panel is retired")]
    Retired,
    #[error("the panel is already {0}")]
    Already(&'static str),
    #[error("a reason is required")]
    ReasonRequired,
    #[error("the panel is full: all {capacity} slots are taken")]
    Full { capacity: u32 },
    #[error("the panel takes no new clients (disabled, unhealthy or retired)")]
    NotAccepting,
    #[error("the panel's slots are not open yet: its existing clients must be counted first")]
    SlotsNotOpened,
    #[error(transparent)]
    Denied(#[from] PermissionDenied),
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Panel {
    pub id: Option<Uuid>,
    pub spec: Option<PanelSpec>,
    pub credentials: Option<PanelCredentials>,
    pub enabled: bool,
    pub healthy: bool,
    pub retired: bool,
}

fn valid_url(u: &str) -> bool {
    (u.starts_with("http://") || u.starts_with("https://")) && u.len() > "https://".len() && !u.chars().any(char::is_whitespace)
}

fn check_credentials(c: &PanelCredentials) -> Result<(), PanelError> {
    match c {
        PanelCredentials::Password { username, .. } if username.trim().is_empty() => Err(PanelError::UsernameRequired),
        _ => Ok(()),
    }
}

impl Panel {
    fn live(&self) -> Result<(), PanelError> {
        if self.id.is_none() {
            return Err(PanelError::NotFound);
        }
        if self.retired {
            return Err(PanelError::Retired);
        }
        Ok(())
    }

    /// Whether the provisioner may place new clients here.
    pub fn accepts_clients(&self) -> bool {
        self.id.is_some() && self.enabled && self.healthy && !self.retired
    }
}

impl Aggregate for Panel {
    const TYPE: &'static str = "Panel";
    type Command = PanelCommand;
    type Event = PanelEvent;
    type Error = PanelError;
    type Services = ();

    async fn handle(&mut self, command: Self::Command, _: &(), sink: &EventSink<Self>) -> Result<(), Self::Error> {
        let event = match command {
            PanelCommand::RegisterPanel {
                id,
                mut spec,
                credentials,
                by,
                at,
            } => {
                by.require(Permission::ManageLocations)?;
                if self.id.is_some() {
                    return Err(PanelError::AlreadyExists);
                }
                spec.name = spec.name.trim().to_string();
                if spec.name.is_empty() || spec.name.chars().count() > 64 {
                    return Err(PanelError::InvalidName);
                }
                if !valid_url(&spec.base_url) || !valid_url(&spec.sub_base_url) {
                    return Err(PanelError::InvalidUrl);
                }
                if !spec.base_url.ends_with('/') {
                    spec.base_url.push('/');
                }
                if !spec.sub_base_url.ends_with('/') {
                    spec.sub_base_url.push('/');
                }
                let mut seen = Vec::new();
                spec.inbound_ids.retain(|i| {
                    *i > 0 && !seen.contains(i) && {
                        seen.push(*i);
                        true
                    }
                });
                if spec.inbound_ids.is_empty() {
                    return Err(PanelError::NoInbounds);
                }
                if spec.capacity == 0 {
                    return Err(PanelError::NoCapacity);
                }
                check_credentials(&credentials)?;
                PanelEvent::PanelRegistered {
                    id,
                    spec,
                    credentials,
                    by: by.reference(),
                    at,
                }
            }
            PanelCommand::EnablePanel { by, at } => {
                by.require(Permission::ManageLocations)?;
                self.live()?;
                if self.enabled {
                    return Err(PanelError::Already("enabled"));
                }
                PanelEvent::PanelEnabled { by: by.reference(), at }
            }
            PanelCommand::DisablePanel { reason, by, at } => {
                by.require(Permission::ManageLocations)?;
                self.live()?;
                if !self.enabled {
                    return Err(PanelError::Already("disabled"));
                }
                let reason = reason.trim().to_string();
                if reason.is_empty() {
                    return Err(PanelError::ReasonRequired);
                }
                PanelEvent::PanelDisabled {
                    reason,
                    by: by.reference(),
                    at,
                }
            }
            PanelCommand::ChangeCredentials { credentials, by, at } => {
                by.require(Permission::ManageLocations)?;
                self.live()?;
                check_credentials(&credentials)?;
                PanelEvent::PanelCredentialsChanged {
                    credentials,
                    by: by.reference(),
                    at,
                }
            }
            PanelCommand::RetirePanel { by, at } => {
                by.require(Permission::ManageLocations)?;
                self.live()?;
                PanelEvent::PanelRetired { by: by.reference(), at }
            }
            PanelCommand::MarkUnhealthy { reason, at } => {
                self.live()?;
                if !self.healthy {
                    return Ok(());
                }
                PanelEvent::PanelMarkedUnhealthy { reason, at }
            }
            PanelCommand::MarkHealthy { at } => {
                self.live()?;
                if self.healthy {
                    return Ok(());
                }
                PanelEvent::PanelMarkedHealthy { at }
            }
        };
        sink.write(event, self).await;
        Ok(())
    }

    fn apply(&mut self, event: Self::Event) {
        match event {
            PanelEvent::PanelRegistered { id, spec, credentials, .. } => {
                self.id = Some(id);
                self.spec = Some(spec);
                self.credentials = Some(credentials);
                self.enabled = true;
                self.healthy = true;
            }
            PanelEvent::PanelEnabled { .. } => self.enabled = true,
            PanelEvent::PanelDisabled { .. } => self.enabled = false,
            PanelEvent::PanelCredentialsChanged { credentials, .. } => self.credentials = Some(credentials),
            PanelEvent::PanelRetired { .. } => {
                self.retired = true;
                self.enabled = false;
            }
            PanelEvent::PanelMarkedUnhealthy { .. } => self.healthy = false,
            PanelEvent::PanelMarkedHealthy { .. } => self.healthy = true,
        }
    }
}

// ---- slots -------------------------------------------------------------------

/// The slots of one panel (aggregate id = the panel's id): which
/// subscriptions hold one. Kept apart from [`Panel`] so that reservations
/// neither slow down loading the panel nor conflict with its settings.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PanelSlots {
    /// Copied from the panel's registration, which never changes it.
    pub capacity: Option<u32>,
    pub held: BTreeSet<Uuid>,
}

impl PanelSlots {
    pub fn is_open(&self) -> bool {
        self.capacity.is_some()
    }
    pub fn free(&self) -> u32 {
        let held = u32::try_from(self.held.len()).unwrap_or(u32::MAX);
        self.capacity.unwrap_or(0).saturating_sub(held)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum PanelSlotsCommand {
    /// Once per panel, before any slot is reserved there: the capacity and
    /// the subscriptions whose clients were already placed here before slots
    /// were kept (panels registered before reservations existed). These are
    /// real clients, so they are counted even beyond the capacity; new
    /// reservations then wait until enough are released. A repeat does nothing.
    OpenSlots {
        capacity: u32,
        existing: Vec<Uuid>,
        at: DateTime<Utc>,
    },
    /// Takes a slot for the subscription's client; refused with
    /// [`PanelError::Full`] when none is free, and with
    /// [`PanelError::NotAccepting`] when the panel takes no new clients
    /// (`accepting`, from [`Panel::accepts_clients`]). Holding one already is a no-op.
    ReserveSlot {
        subscription: Uuid,
        accepting: bool,
        at: DateTime<Utc>,
    },
    /// Gives the subscription's slot back (its client is gone). Not holding one is a no-op.
    ReleaseSlot { subscription: Uuid, at: DateTime<Utc> },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum PanelSlotsEvent {
    PanelSlotsOpened {
        capacity: u32,
        existing: Vec<Uuid>,
        at: DateTime<Utc>,
    },
    PanelSlotReserved {
        subscription: Uuid,
        at: DateTime<Utc>,
    },
    PanelSlotReleased {
        subscription: Uuid,
        at: DateTime<Utc>,
    },
}

impl DomainEvent for PanelSlotsEvent {
    fn event_type(&self) -> String {
        match self {
            PanelSlotsEvent::PanelSlotsOpened { .. } => "PanelSlotsOpened",
            PanelSlotsEvent::PanelSlotReserved { .. } => "PanelSlotReserved",
            PanelSlotsEvent::PanelSlotReleased { .. } => "PanelSlotReleased",
        }
        .to_string()
    }
    fn event_version(&self) -> String {
        "1.0".to_string()
    }
}

impl Aggregate for PanelSlots {
    const TYPE: &'static str = "PanelSlots";
    type Command = PanelSlotsCommand;
    type Event = PanelSlotsEvent;
    type Error = PanelError;
    type Services = ();

    async fn handle(&mut self, command: Self::Command, _: &(), sink: &EventSink<Self>) -> Result<(), Self::Error> {
        let event = match command {
            PanelSlotsCommand::OpenSlots {
                capacity,
                mut existing,
                at,
            } => {
                if self.is_open() {
                    return Ok(());
                }
                if capacity == 0 {
                    return Err(PanelError::NoCapacity);
                }
                existing.sort();
                existing.dedup();
                PanelSlotsEvent::PanelSlotsOpened { capacity, existing, at }
            }
            PanelSlotsCommand::ReserveSlot {
                subscription,
                accepting,
                at,
            } => {
                if self.held.contains(&subscription) {
                    return Ok(());
                }
                if !accepting {
                    return Err(PanelError::NotAccepting);
                }
                let Some(capacity) = self.capacity else {
                    return Err(PanelError::SlotsNotOpened);
                };
                if self.free() == 0 {
                    return Err(PanelError::Full { capacity });
                }
                PanelSlotsEvent::PanelSlotReserved { subscription, at }
            }
            PanelSlotsCommand::ReleaseSlot { subscription, at } => {
                if !self.held.contains(&subscription) {
                    return Ok(());
                }
                PanelSlotsEvent::PanelSlotReleased { subscription, at }
            }
        };
        sink.write(event, self).await;
        Ok(())
    }

    fn apply(&mut self, event: Self::Event) {
        match event {
            PanelSlotsEvent::PanelSlotsOpened { capacity, existing, .. } => {
                self.capacity = Some(capacity);
                self.held.extend(existing);
            }
            PanelSlotsEvent::PanelSlotReserved { subscription, .. } => {
                self.held.insert(subscription);
            }
            PanelSlotsEvent::PanelSlotReleased { subscription, .. } => {
                self.held.remove(&subscription);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::{loc, t0};
    use crate::values::CustomerId;
    use cqrs_es::test::TestFramework;

    type Given = TestFramework<Panel>;

    pub(crate) fn spec() -> PanelSpec {
        PanelSpec {
            name: "fr-1".into(),
            location: loc("France"),
            base_url: "https://fr1.example.com:2053/abc".into(),
            sub_base_url: "https://fr1.example.com:2096/sub/".into(),
            public_host: "fr1.example.com".into(),
            inbound_ids: vec![1],
            capacity: 500,
        }
    }
    fn creds() -> PanelCredentials {
        PanelCredentials::Password {
            username: "admin".into(),
            password_encrypted: "v1:xxxx".into(),
        }
    }
    fn registered() -> PanelEvent {
        let mut s = spec();
        s.base_url.push('/');
        PanelEvent::PanelRegistered {
            id: Uuid::nil(),
            spec: s,
            credentials: creds(),
            by: ActorRef::System,
            at: t0(),
        }
    }

    #[test]
    fn registering_normalises_the_base_path() {
        Given::with(())
            .given_no_previous_events()
            .when(PanelCommand::RegisterPanel {
                id: Uuid::nil(),
                spec: spec(),
                credentials: creds(),
                by: Actor::System,
                at: t0(),
            })
            .then_expect_events(vec![registered()]);
    }

    #[test]
    fn only_location_managers_register_panels() {
        Given::with(())
            .given_no_previous_events()
            .when(PanelCommand::RegisterPanel {
                id: Uuid::nil(),
                spec: spec(),
                credentials: creds(),
                by: Actor::user(CustomerId(3), [Permission::ApproveReceipts]),
                at: t0(),
            })
            .then_expect_error(PanelError::Denied(PermissionDenied(Permission::ManageLocations)));
    }

    #[test]
    fn a_panel_needs_a_url_inbounds_and_capacity() {
        let mut bad = spec();
        bad.base_url = "ftp://x".into();
        Given::with(())
            .given_no_previous_events()
            .when(PanelCommand::RegisterPanel {
                id: Uuid::nil(),
                spec: bad,
                credentials: creds(),
                by: Actor::System,
                at: t0(),
            })
            .then_expect_error(PanelError::InvalidUrl);
        let mut bad = spec();
        bad.capacity = 0;
        Given::with(())
            .given_no_previous_events()
            .when(PanelCommand::RegisterPanel {
                id: Uuid::nil(),
                spec: bad,
                credentials: creds(),
                by: Actor::System,
                at: t0(),
            })
            .then_expect_error(PanelError::NoCapacity);
    }

    #[test]
    fn health_changes_are_recorded_once() {
        Given::with(())
            .given(vec![registered()])
            .when(PanelCommand::MarkHealthy { at: t0() })
            .then_expect_events(vec![]);
        Given::with(())
            .given(vec![registered()])
            .when(PanelCommand::MarkUnhealthy {
                reason: "3 failed checks".into(),
                at: t0(),
            })
            .then_expect_events(vec![PanelEvent::PanelMarkedUnhealthy {
                reason: "3 failed checks".into(),
                at: t0(),
            }]);
    }

    #[test]
    fn credentials_never_print() {
        let text = format!("{:?}", creds());
        assert!(!text.contains("v1:xxxx"), "{text}");
    }

    // ---- slots ----

    type Slots = TestFramework<PanelSlots>;

    fn sub(n: u128) -> Uuid {
        Uuid::from_u128(n)
    }
    fn opened(capacity: u32, existing: Vec<Uuid>) -> PanelSlotsEvent {
        PanelSlotsEvent::PanelSlotsOpened {
            capacity,
            existing,
            at: t0(),
        }
    }
    fn reserved(n: u128) -> PanelSlotsEvent {
        PanelSlotsEvent::PanelSlotReserved {
            subscription: sub(n),
            at: t0(),
        }
    }
    fn reserve(n: u128) -> PanelSlotsCommand {
        PanelSlotsCommand::ReserveSlot {
            subscription: sub(n),
            accepting: true,
            at: t0(),
        }
    }

    #[test]
    fn a_free_slot_is_reserved_for_the_subscription() {
        Slots::with(())
            .given(vec![opened(2, vec![]), reserved(1)])
            .when(reserve(2))
            .then_expect_events(vec![reserved(2)]);
    }

    #[test]
    fn reserving_at_capacity_is_refused() {
        Slots::with(())
            .given(vec![opened(2, vec![]), reserved(1), reserved(2)])
            .when(reserve(3))
            .then_expect_error(PanelError::Full { capacity: 2 });
    }

    #[test]
    fn reserving_twice_for_the_same_subscription_takes_one_slot() {
        Slots::with(())
            .given(vec![opened(2, vec![]), reserved(1)])
            .when(reserve(1))
            .then_expect_events(vec![]);
        // Even on a full panel, the holder's repeat is no refusal.
        Slots::with(())
            .given(vec![opened(1, vec![]), reserved(1)])
            .when(reserve(1))
            .then_expect_events(vec![]);
    }

    #[test]
    fn a_released_slot_can_be_reserved_again_and_releasing_twice_does_nothing() {
        let released = PanelSlotsEvent::PanelSlotReleased {
            subscription: sub(1),
            at: t0(),
        };
        Slots::with(())
            .given(vec![opened(1, vec![]), reserved(1)])
            .when(PanelSlotsCommand::ReleaseSlot {
                subscription: sub(1),
                at: t0(),
            })
            .then_expect_events(vec![released.clone()]);
        Slots::with(())
            .given(vec![opened(1, vec![]), reserved(1), released.clone()])
            .when(PanelSlotsCommand::ReleaseSlot {
                subscription: sub(1),
                at: t0(),
            })
            .then_expect_events(vec![]);
        Slots::with(())
            .given(vec![opened(1, vec![]), reserved(1), released])
            .when(reserve(2))
            .then_expect_events(vec![reserved(2)]);
    }

    #[test]
    fn clients_placed_before_slots_existed_count_even_beyond_capacity() {
        Slots::with(())
            .given_no_previous_events()
            .when(PanelSlotsCommand::OpenSlots {
                capacity: 2,
                existing: vec![sub(3), sub(1), sub(2), sub(1)],
                at: t0(),
            })
            .then_expect_events(vec![opened(2, vec![sub(1), sub(2), sub(3)])]);
        Slots::with(())
            .given(vec![opened(2, vec![sub(1), sub(2), sub(3)])])
            .when(reserve(4))
            .then_expect_error(PanelError::Full { capacity: 2 });
        Slots::with(())
            .given(vec![opened(2, vec![sub(1)])])
            .when(PanelSlotsCommand::OpenSlots {
                capacity: 2,
                existing: vec![sub(5)],
                at: t0(),
            })
            .then_expect_events(vec![]);
    }

    #[test]
    fn a_panel_taking_no_new_clients_refuses_a_new_slot_but_not_its_holders() {
        let on_disabled = |n| PanelSlotsCommand::ReserveSlot {
            subscription: sub(n),
            accepting: false,
            at: t0(),
        };
        Slots::with(())
            .given(vec![opened(2, vec![]), reserved(1)])
            .when(on_disabled(2))
            .then_expect_error(PanelError::NotAccepting);
        Slots::with(())
            .given(vec![opened(2, vec![]), reserved(1)])
            .when(on_disabled(1))
            .then_expect_events(vec![]);
    }

    #[test]
    fn no_slot_is_reserved_before_the_existing_clients_are_counted() {
        Slots::with(())
            .given_no_previous_events()
            .when(reserve(1))
            .then_expect_error(PanelError::SlotsNotOpened);
    }
}
