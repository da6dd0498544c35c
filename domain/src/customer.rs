//! A customer, registered from Telegram. The aggregate id is the Telegram user id.
use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use cqrs_es::event_sink::EventSink;
use cqrs_es::{Aggregate, DomainEvent};
use serde::{Deserialize, Serialize};

use crate::access::{Actor, ActorRef, Permission, PermissionDenied, RoleName};
use crate::values::{CustomerId, Language};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum CustomerCommand {
    Register {
        id: CustomerId,
        username: Option<String>,
        language: Language,
        referrer: Option<CustomerId>,
        at: DateTime<Utc>,
    },
    ChangeLanguage {
        language: Language,
        at: DateTime<Utc>,
    },
    Block {
        by: Actor,
        reason: String,
        at: DateTime<Utc>,
    },
    Unblock {
        by: Actor,
        at: DateTime<Utc>,
    },
    GrantRole {
        role: RoleName,
        by: Actor,
        at: DateTime<Utc>,
    },
    RevokeRole {
        role: RoleName,
        by: Actor,
        at: DateTime<Utc>,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum CustomerEvent {
    CustomerRegistered {
        id: CustomerId,
        username: Option<String>,
        language: Language,
        referrer: Option<CustomerId>,
        at: DateTime<Utc>,
    },
    LanguageChanged {
        language: Language,
        at: DateTime<Utc>,
    },
    CustomerBlocked {
        by: ActorRef,
        reason: String,
        at: DateTime<Utc>,
    },
    CustomerUnblocked {
        by: ActorRef,
        at: DateTime<Utc>,
    },
    RoleGranted {
        role: RoleName,
        by: ActorRef,
        at: DateTime<Utc>,
    },
    RoleRevoked {
        role: RoleName,
        by: ActorRef,
        at: DateTime<Utc>,
    },
}

impl DomainEvent for CustomerEvent {
    fn event_type(&self) -> String {
        match self {
            CustomerEvent::CustomerRegistered { .. } => "CustomerRegistered",
            CustomerEvent::LanguageChanged { .. } => "LanguageChanged",
            CustomerEvent::CustomerBlocked { .. } => "CustomerBlocked",
            CustomerEvent::CustomerUnblocked { .. } => "CustomerUnblocked",
            CustomerEvent::RoleGranted { .. } => "RoleGranted",
            CustomerEvent::RoleRevoked { .. } => "RoleRevoked",
        }
        .to_string()
    }
    fn event_version(&self) -> String {
        "1.0".to_string()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CustomerError {
    #[error("this customer is already registered")]
    AlreadyRegistered,
    #[error("this customer is not registered")]
    NotRegistered,
    #[error("a customer cannot refer themselves")]
    SelfReferral,
    #[error("the customer is already blocked")]
    AlreadyBlocked,
    #[error("the customer is not blocked")]
    NotBlocked,
    #[error("a reason is required")]
    ReasonRequired,
    #[error("the customer already has role `{0}`")]
    RoleAlreadyGranted(RoleName),
    #[error("the customer does not have role `{0}`")]
    RoleNotHeld(RoleName),
    #[error("an admin cannot remove their own admin role")]
    CannotRevokeOwnAdmin,
    #[error("an admin cannot block themselves")]
    CannotBlockSelf,
    #[error(transparent)]
    Denied(#[from] PermissionDenied),
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Customer {
    pub id: Option<CustomerId>,
    pub language: Language,
    pub blocked: bool,
    pub roles: BTreeSet<RoleName>,
}

impl Customer {
    fn registered(&self) -> Result<CustomerId, CustomerError> {
        self.id.ok_or(CustomerError::NotRegistered)
    }
}

impl Aggregate for Customer {
    const TYPE: &'static str = "Customer";
    type Command = CustomerCommand;
    type Event = CustomerEvent;
    type Error = CustomerError;
    type Services = ();

    async fn handle(&mut self, command: Self::Command, _: &(), sink: &EventSink<Self>) -> Result<(), Self::Error> {
        use CustomerCommand as C;
        use CustomerEvent as E;
        let event = match command {
            C::Register {
                id,
                username,
                language,
                referrer,
                at,
            } => {
                if self.id.is_some() {
                    return Err(CustomerError::AlreadyRegistered);
                }
                if referrer == Some(id) {
                    return Err(CustomerError::SelfReferral);
                }
                let username = username
                    .map(|u| u.trim().trim_start_matches('@').to_string())
                    .filter(|u| !u.is_empty());
                E::CustomerRegistered {
                    id,
                    username,
                    language,
                    referrer,
                    at,
                }
            }
            C::ChangeLanguage { language, at } => {
                self.registered()?;
                if language == self.language {
                    return Ok(());
                }
                E::LanguageChanged { language, at }
            }
            C::Block { by, reason, at } => {
                by.require(Permission::ManageUsers)?;
                let id = self.registered()?;
                if by.customer_id() == Some(id) {
                    return Err(CustomerError::CannotBlockSelf);
                }
                if self.blocked {
                    return Err(CustomerError::AlreadyBlocked);
                }
                let reason = reason.trim().to_string();
                if reason.is_empty() {
                    return Err(CustomerError::ReasonRequired);
                }
                E::CustomerBlocked {
                    by: by.reference(),
                    reason,
                    at,
                }
            }
            C::Unblock { by, at } => {
                by.require(Permission::ManageUsers)?;
                self.registered()?;
                if !self.blocked {
                    return Err(CustomerError::NotBlocked);
                }
                E::CustomerUnblocked { by: by.reference(), at }
            }
            C::GrantRole { role, by, at } => {
                by.require(Permission::ManageRoles)?;
                self.registered()?;
                if self.roles.contains(&role) {
                    return Err(CustomerError::RoleAlreadyGranted(role));
                }
                E::RoleGranted {
                    role,
                    by: by.reference(),
                    at,
                }
            }
            C::RevokeRole { role, by, at } => {
                by.require(Permission::ManageRoles)?;
                let id = self.registered()?;
                if !self.roles.contains(&role) {
                    return Err(CustomerError::RoleNotHeld(role));
                }
                if role == RoleName::Admin && by.customer_id() == Some(id) {
                    return Err(CustomerError::CannotRevokeOwnAdmin);
                }
                E::RoleRevoked {
                    role,
                    by: by.reference(),
                    at,
                }
            }
        };
        sink.write(event, self).await;
        Ok(())
    }

    fn apply(&mut self, event: Self::Event) {
        match event {
            CustomerEvent::CustomerRegistered { id, language, .. } => {
                self.id = Some(id);
                self.language = language;
            }
            CustomerEvent::LanguageChanged { language, .. } => self.language = language,
            CustomerEvent::CustomerBlocked { .. } => self.blocked = true,
            CustomerEvent::CustomerUnblocked { .. } => self.blocked = false,
            CustomerEvent::RoleGranted { role, .. } => {
                self.roles.insert(role);
            }
            CustomerEvent::RoleRevoked { role, .. } => {
                self.roles.remove(&role);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::t0;
    use cqrs_es::test::TestFramework;

    type Given = TestFramework<Customer>;
    const ALICE: CustomerId = CustomerId(1001);
    const BOB: CustomerId = CustomerId(1002);

    fn registered(id: CustomerId) -> CustomerEvent {
        CustomerEvent::CustomerRegistered {
            id,
            username: Some("alice".into()),
            language: Language::Fa,
            referrer: None,
            at: t0(),
        }
    }

    #[test]
    fn a_new_customer_registers_with_a_referrer() {
        Given::with(())
            .given_no_previous_events()
            .when(CustomerCommand::Register {
                id: ALICE,
                username: Some("@alice".into()),
                language: Language::En,
                referrer: Some(BOB),
                at: t0(),
            })
            .then_expect_events(vec![CustomerEvent::CustomerRegistered {
                id: ALICE,
                username: Some("alice".into()),
                language: Language::En,
                referrer: Some(BOB),
                at: t0(),
            }]);
    }

    #[test]
    fn registering_twice_is_refused() {
        Given::with(())
            .given(vec![registered(ALICE)])
            .when(CustomerCommand::Register {
                id: ALICE,
                username: None,
                language: Language::Fa,
                referrer: None,
                at: t0(),
            })
            .then_expect_error(CustomerError::AlreadyRegistered);
    }

    #[test]
    fn nobody_refers_themselves() {
        Given::with(())
            .given_no_previous_events()
            .when(CustomerCommand::Register {
                id: ALICE,
                username: None,
                language: Language::Fa,
                referrer: Some(ALICE),
                at: t0(),
            })
            .then_expect_error(CustomerError::SelfReferral);
    }

    #[test]
    fn a_seller_cannot_grant_roles() {
        Given::with(())
            .given(vec![registered(ALICE)])
            .when(CustomerCommand::GrantRole {
                role: RoleName::Admin,
                by: Actor::user(BOB, [Permission::Sell]),
                at: t0(),
            })
            .then_expect_error(CustomerError::Denied(PermissionDenied(Permission::ManageRoles)));
    }

    #[test]
    fn an_admin_grants_a_role_and_the_grant_records_who() {
        Given::with(())
            .given(vec![registered(ALICE)])
            .when(CustomerCommand::GrantRole {
                role: RoleName::ReceiptAdmin,
                by: Actor::user(BOB, Permission::ALL),
                at: t0(),
            })
            .then_expect_events(vec![CustomerEvent::RoleGranted {
                role: RoleName::ReceiptAdmin,
                by: ActorRef::User(BOB),
                at: t0(),
            }]);
    }

    #[test]
    fn an_admin_cannot_revoke_their_own_admin_role() {
        Given::with(())
            .given(vec![
                registered(ALICE),
                CustomerEvent::RoleGranted {
                    role: RoleName::Admin,
                    by: ActorRef::System,
                    at: t0(),
                },
            ])
            .when(CustomerCommand::RevokeRole {
                role: RoleName::Admin,
                by: Actor::user(ALICE, Permission::ALL),
                at: t0(),
            })
            .then_expect_error(CustomerError::CannotRevokeOwnAdmin);
    }

    #[test]
    fn blocking_needs_a_reason_and_happens_once() {
        let admin = Actor::user(BOB, Permission::ALL);
        Given::with(())
            .given(vec![registered(ALICE)])
            .when(CustomerCommand::Block {
                by: admin.clone(),
                reason: "  ".into(),
                at: t0(),
            })
            .then_expect_error(CustomerError::ReasonRequired);
        Given::with(())
            .given(vec![
                registered(ALICE),
                CustomerEvent::CustomerBlocked {
                    by: ActorRef::User(BOB),
                    reason: "spam".into(),
                    at: t0(),
                },
            ])
            .when(CustomerCommand::Block {
                by: admin,
                reason: "again".into(),
                at: t0(),
            })
            .then_expect_error(CustomerError::AlreadyBlocked);
    }

    #[test]
    fn changing_to_the_same_language_records_nothing() {
        Given::with(())
            .given(vec![registered(ALICE)])
            .when(CustomerCommand::ChangeLanguage {
                language: Language::Fa,
                at: t0(),
            })
            .then_expect_events(vec![]);
    }
}
