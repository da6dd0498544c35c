//! Custom roles made of named permissions (aggregate id = the role name).
//! Built-in roles have fixed permissions and need no aggregate.
use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use cqrs_es::event_sink::EventSink;
use cqrs_es::{Aggregate, DomainEvent};
use serde::{Deserialize, Serialize};

use crate::access::{Actor, ActorRef, Permission, PermissionDenied, RoleName};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum RoleCommand {
    DefineRole {
        name: RoleName,
        permissions: BTreeSet<Permission>,
        by: Actor,
        at: DateTime<Utc>,
    },
    ChangePermissions {
        permissions: BTreeSet<Permission>,
        by: Actor,
        at: DateTime<Utc>,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum RoleEvent {
    RoleDefined {
        name: RoleName,
        permissions: BTreeSet<Permission>,
        by: ActorRef,
        at: DateTime<Utc>,
    },
    RolePermissionsChanged {
        permissions: BTreeSet<Permission>,
        by: ActorRef,
        at: DateTime<Utc>,
    },
}

impl DomainEvent for RoleEvent {
    fn event_type(&self) -> String {
        match self {
            RoleEvent::RoleDefined { .. } => "RoleDefined",
            RoleEvent::RolePermissionsChanged { .. } => "RolePermissionsChanged",
        }
        .to_string()
    }
    fn event_version(&self) -> String {
        "1.0".to_string()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RoleError {
    #[error("built-in roles cannot be redefined")]
    BuiltIn,
    #[error("this role is already defined")]
    AlreadyDefined,
    #[error("no such role")]
    NotFound,
    #[error("a role needs at least one permission")]
    NoPermissions,
    #[error(transparent)]
    Denied(#[from] PermissionDenied),
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Role {
    pub name: Option<RoleName>,
    pub permissions: BTreeSet<Permission>,
}

impl Aggregate for Role {
    const TYPE: &'static str = "Role";
    type Command = RoleCommand;
    type Event = RoleEvent;
    type Error = RoleError;
    type Services = ();

    async fn handle(&mut self, command: Self::Command, _: &(), sink: &EventSink<Self>) -> Result<(), Self::Error> {
        let event = match command {
            RoleCommand::DefineRole { name, permissions, by, at } => {
                by.require(Permission::ManageRoles)?;
                if !name.is_custom() {
                    return Err(RoleError::BuiltIn);
                }
                if self.name.is_some() {
                    return Err(RoleError::AlreadyDefined);
                }
                if permissions.is_empty() {
                    return Err(RoleError::NoPermissions);
                }
                RoleEvent::RoleDefined {
                    name,
                    permissions,
                    by: by.reference(),
                    at,
                }
            }
            RoleCommand::ChangePermissions { permissions, by, at } => {
                by.require(Permission::ManageRoles)?;
                if self.name.is_none() {
                    return Err(RoleError::NotFound);
                }
                if permissions.is_empty() {
                    return Err(RoleError::NoPermissions);
                }
                if permissions == self.permissions {
                    return Ok(());
                }
                RoleEvent::RolePermissionsChanged {
                    permissions,
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
            RoleEvent::RoleDefined { name, permissions, .. } => {
                self.name = Some(name);
                self.permissions = permissions;
            }
            RoleEvent::RolePermissionsChanged { permissions, .. } => self.permissions = permissions,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::t0;
    use cqrs_es::test::TestFramework;

    type Given = TestFramework<Role>;

    #[test]
    fn a_custom_role_is_defined_with_its_permissions() {
        let perms: BTreeSet<_> = [Permission::ApproveReceipts, Permission::ViewReports].into();
        Given::with(())
            .given_no_previous_events()
            .when(RoleCommand::DefineRole {
                name: RoleName::parse("night_shift").unwrap(),
                permissions: perms.clone(),
                by: Actor::System,
                at: t0(),
            })
            .then_expect_events(vec![RoleEvent::RoleDefined {
                name: RoleName::parse("night_shift").unwrap(),
                permissions: perms,
                by: ActorRef::System,
                at: t0(),
            }]);
    }

    #[test]
    fn built_in_roles_cannot_be_redefined() {
        Given::with(())
            .given_no_previous_events()
            .when(RoleCommand::DefineRole {
                name: RoleName::Admin,
                permissions: [Permission::Sell].into(),
                by: Actor::System,
                at: t0(),
            })
            .then_expect_error(RoleError::BuiltIn);
    }
}
