//! A staff account: how a Telegram user who holds roles signs in to the
//! dashboard (aggregate id = the Telegram id). The account only adds a way
//! to sign in; what the person may do still comes from their roles on the
//! customer aggregate.
//!
//! Secrets never reach an event in the clear: the password arrives as an
//! argon2 hash (PHC string) and the TOTP key encrypted with `MRJ_SECRET_KEY`,
//! both made at the edge, and the aggregate refuses anything else.
use chrono::{DateTime, Utc};
use cqrs_es::event_sink::EventSink;
use cqrs_es::{Aggregate, DomainEvent};
use serde::{Deserialize, Serialize};

use crate::access::{Actor, ActorRef, Permission, PermissionDenied, RoleName};
use crate::values::CustomerId;

/// A password as typed, before hashing: the policy every edge applies.
#[derive(Clone, PartialEq, Eq)]
pub struct NewPassword(String);

impl std::fmt::Debug for NewPassword {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("NewPassword(***)")
    }
}

impl NewPassword {
    pub const MIN_CHARS: usize = 10;
    pub const MAX_CHARS: usize = 128;

    pub fn parse(s: &str) -> Result<NewPassword, StaffError> {
        let n = s.chars().count();
        if !(Self::MIN_CHARS..=Self::MAX_CHARS).contains(&n) || s.trim().is_empty() {
            return Err(StaffError::WeakPassword);
        }
        Ok(NewPassword(s.to_string()))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum StaffCommand {
    CreateAccount {
        id: CustomerId,
        password_hash: String,
        /// The holder's roles now, loaded from their customer aggregate.
        holder_roles: Vec<RoleName>,
        by: Actor,
        at: DateTime<Utc>,
    },
    ChangePassword {
        password_hash: String,
        by: Actor,
        at: DateTime<Utc>,
    },
    EnableTotp {
        secret_encrypted: String,
        by: Actor,
        at: DateTime<Utc>,
    },
    DisableTotp {
        by: Actor,
        at: DateTime<Utc>,
    },
    Suspend {
        reason: String,
        by: Actor,
        at: DateTime<Utc>,
    },
    Reinstate {
        by: Actor,
        at: DateTime<Utc>,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum StaffEvent {
    StaffAccountCreated {
        id: CustomerId,
        password_hash: String,
        by: ActorRef,
        at: DateTime<Utc>,
    },
    StaffPasswordChanged {
        password_hash: String,
        by: ActorRef,
        at: DateTime<Utc>,
    },
    StaffTotpEnabled {
        secret_encrypted: String,
        by: ActorRef,
        at: DateTime<Utc>,
    },
    StaffTotpDisabled {
        by: ActorRef,
        at: DateTime<Utc>,
    },
    StaffAccountSuspended {
        reason: String,
        by: ActorRef,
        at: DateTime<Utc>,
    },
    StaffAccountReinstated {
        by: ActorRef,
        at: DateTime<Utc>,
    },
}

impl DomainEvent for StaffEvent {
    fn event_type(&self) -> String {
        match self {
            StaffEvent::StaffAccountCreated { .. } => "StaffAccountCreated",
            StaffEvent::StaffPasswordChanged { .. } => "StaffPasswordChanged",
            StaffEvent::StaffTotpEnabled { .. } => "StaffTotpEnabled",
            StaffEvent::StaffTotpDisabled { .. } => "StaffTotpDisabled",
            StaffEvent::StaffAccountSuspended { .. } => "StaffAccountSuspended",
            StaffEvent::StaffAccountReinstated { .. } => "StaffAccountReinstated",
        }
        .to_string()
    }
    fn event_version(&self) -> String {
        "1.0".to_string()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StaffError {
    #[error("this Telegram user already has a staff account")]
    AlreadyExists,
    #[error("no staff account for this Telegram user")]
    NotFound,
    #[error("a staff account is only for someone who holds a role; grant one first")]
    NoRoles,
    #[error("a password is {min} to {max} characters", min = NewPassword::MIN_CHARS, max = NewPassword::MAX_CHARS)]
    WeakPassword,
    #[error("only an argon2 password hash may be stored, never a password")]
    PasswordNotHashed,
    #[error("only an encrypted TOTP key may be stored")]
    SecretNotEncrypted,
    #[error("two-factor authentication is already on; turn it off first")]
    TotpAlreadyEnabled,
    #[error("two-factor authentication is not on")]
    TotpNotEnabled,
    #[error("only the account holder can do this to their own account")]
    NotYourAccount,
    #[error("the account is already suspended")]
    AlreadySuspended,
    #[error("the account is not suspended")]
    NotSuspended,
    #[error("nobody can suspend their own account")]
    CannotSuspendSelf,
    #[error("a reason is required")]
    ReasonRequired,
    #[error(transparent)]
    Denied(#[from] PermissionDenied),
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Staff {
    pub id: Option<CustomerId>,
    pub password_hash: String,
    pub totp_secret_encrypted: Option<String>,
    pub suspended: bool,
}

impl Staff {
    fn existing(&self) -> Result<CustomerId, StaffError> {
        self.id.ok_or(StaffError::NotFound)
    }

    /// The holder themselves, or (when `permission` is given) someone holding it.
    fn holder_or(by: &Actor, id: CustomerId, permission: Option<Permission>) -> Result<(), StaffError> {
        match (by, permission) {
            (Actor::System, _) => Ok(()),
            (Actor::User { id: who, .. }, _) if *who == id => Ok(()),
            (_, Some(p)) => Ok(by.require(p)?),
            (_, None) => Err(StaffError::NotYourAccount),
        }
    }
}

fn hashed(h: &str) -> Result<String, StaffError> {
    if h.starts_with("$argon2") && h.len() <= 512 {
        Ok(h.to_string())
    } else {
        Err(StaffError::PasswordNotHashed)
    }
}

impl Aggregate for Staff {
    const TYPE: &'static str = "Staff";
    type Command = StaffCommand;
    type Event = StaffEvent;
    type Error = StaffError;
    type Services = ();

    async fn handle(&mut self, command: Self::Command, _: &(), sink: &EventSink<Self>) -> Result<(), Self::Error> {
        use StaffCommand as C;
        use StaffEvent as E;
        let event = match command {
            C::CreateAccount {
                id,
                password_hash,
                holder_roles,
                by,
                at,
            } => {
                by.require(Permission::ManageUsers)?;
                if self.id.is_some() {
                    return Err(StaffError::AlreadyExists);
                }
                if holder_roles.is_empty() {
                    return Err(StaffError::NoRoles);
                }
                E::StaffAccountCreated {
                    id,
                    password_hash: hashed(&password_hash)?,
                    by: by.reference(),
                    at,
                }
            }
            C::ChangePassword { password_hash, by, at } => {
                let id = self.existing()?;
                Self::holder_or(&by, id, Some(Permission::ManageUsers))?;
                E::StaffPasswordChanged {
                    password_hash: hashed(&password_hash)?,
                    by: by.reference(),
                    at,
                }
            }
            C::EnableTotp { secret_encrypted, by, at } => {
                let id = self.existing()?;
                // Nobody else may choose someone's second factor: they would know it.
                Self::holder_or(&by, id, None)?;
                if self.totp_secret_encrypted.is_some() {
                    return Err(StaffError::TotpAlreadyEnabled);
                }
                if !secret_encrypted.starts_with("v1:") {
                    return Err(StaffError::SecretNotEncrypted);
                }
                E::StaffTotpEnabled {
                    secret_encrypted,
                    by: by.reference(),
                    at,
                }
            }
            C::DisableTotp { by, at } => {
                let id = self.existing()?;
                // An admin may reset a colleague's lost authenticator.
                Self::holder_or(&by, id, Some(Permission::ManageUsers))?;
                if self.totp_secret_encrypted.is_none() {
                    return Err(StaffError::TotpNotEnabled);
                }
                E::StaffTotpDisabled { by: by.reference(), at }
            }
            C::Suspend { reason, by, at } => {
                by.require(Permission::ManageUsers)?;
                let id = self.existing()?;
                if by.customer_id() == Some(id) {
                    return Err(StaffError::CannotSuspendSelf);
                }
                if self.suspended {
                    return Err(StaffError::AlreadySuspended);
                }
                let reason = reason.trim().to_string();
                if reason.is_empty() {
                    return Err(StaffError::ReasonRequired);
                }
                E::StaffAccountSuspended {
                    reason,
                    by: by.reference(),
                    at,
                }
            }
            C::Reinstate { by, at } => {
                by.require(Permission::ManageUsers)?;
                self.existing()?;
                if !self.suspended {
                    return Err(StaffError::NotSuspended);
                }
                E::StaffAccountReinstated { by: by.reference(), at }
            }
        };
        sink.write(event, self).await;
        Ok(())
    }

    fn apply(&mut self, event: Self::Event) {
        match event {
            StaffEvent::StaffAccountCreated { id, password_hash, .. } => {
                self.id = Some(id);
                self.password_hash = password_hash;
            }
            StaffEvent::StaffPasswordChanged { password_hash, .. } => self.password_hash = password_hash,
            StaffEvent::StaffTotpEnabled { secret_encrypted, .. } => self.totp_secret_encrypted = Some(secret_encrypted),
            StaffEvent::StaffTotpDisabled { .. } => self.totp_secret_encrypted = None,
            StaffEvent::StaffAccountSuspended { .. } => self.suspended = true,
            StaffEvent::StaffAccountReinstated { .. } => self.suspended = false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::t0;
    use cqrs_es::test::TestFramework;

    type Given = TestFramework<Staff>;
    const ALICE: CustomerId = CustomerId(2001);
    const BOB: CustomerId = CustomerId(2002);
    const HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA";

    fn created() -> StaffEvent {
        StaffEvent::StaffAccountCreated {
            id: ALICE,
            password_hash: HASH.into(),
            by: ActorRef::System,
            at: t0(),
        }
    }

    fn admin() -> Actor {
        Actor::user(BOB, Permission::ALL)
    }

    #[test]
    fn an_operator_creates_an_account_for_someone_holding_a_role() {
        Given::with(())
            .given_no_previous_events()
            .when(StaffCommand::CreateAccount {
                id: ALICE,
                password_hash: HASH.into(),
                holder_roles: vec![RoleName::ReceiptAdmin],
                by: Actor::System,
                at: t0(),
            })
            .then_expect_events(vec![created()]);
    }

    #[test]
    fn nobody_without_a_role_gets_an_account() {
        Given::with(())
            .given_no_previous_events()
            .when(StaffCommand::CreateAccount {
                id: ALICE,
                password_hash: HASH.into(),
                holder_roles: vec![],
                by: admin(),
                at: t0(),
            })
            .then_expect_error(StaffError::NoRoles);
    }

    #[test]
    fn a_seller_cannot_create_accounts() {
        Given::with(())
            .given_no_previous_events()
            .when(StaffCommand::CreateAccount {
                id: ALICE,
                password_hash: HASH.into(),
                holder_roles: vec![RoleName::Seller],
                by: Actor::user(BOB, [Permission::Sell]),
                at: t0(),
            })
            .then_expect_error(StaffError::Denied(PermissionDenied(Permission::ManageUsers)));
    }

    #[test]
    fn a_plain_password_is_never_stored() {
        Given::with(())
            .given_no_previous_events()
            .when(StaffCommand::CreateAccount {
                id: ALICE,
                password_hash: "hunter2hunter2".into(),
                holder_roles: vec![RoleName::Admin],
                by: Actor::System,
                at: t0(),
            })
            .then_expect_error(StaffError::PasswordNotHashed);
        Given::with(())
            .given(vec![created()])
            .when(StaffCommand::ChangePassword {
                password_hash: "plain".into(),
                by: Actor::user(ALICE, []),
                at: t0(),
            })
            .then_expect_error(StaffError::PasswordNotHashed);
    }

    #[test]
    fn a_holder_changes_their_own_password_but_not_a_colleagues() {
        Given::with(())
            .given(vec![created()])
            .when(StaffCommand::ChangePassword {
                password_hash: HASH.into(),
                by: Actor::user(ALICE, []),
                at: t0(),
            })
            .then_expect_events(vec![StaffEvent::StaffPasswordChanged {
                password_hash: HASH.into(),
                by: ActorRef::User(ALICE),
                at: t0(),
            }]);
        Given::with(())
            .given(vec![created()])
            .when(StaffCommand::ChangePassword {
                password_hash: HASH.into(),
                by: Actor::user(BOB, [Permission::ApproveReceipts]),
                at: t0(),
            })
            .then_expect_error(StaffError::Denied(PermissionDenied(Permission::ManageUsers)));
    }

    #[test]
    fn only_the_holder_chooses_their_second_factor_and_only_encrypted() {
        Given::with(())
            .given(vec![created()])
            .when(StaffCommand::EnableTotp {
                secret_encrypted: "v1:abc".into(),
                by: admin(),
                at: t0(),
            })
            .then_expect_error(StaffError::NotYourAccount);
        Given::with(())
            .given(vec![created()])
            .when(StaffCommand::EnableTotp {
                secret_encrypted: "JBSWY3DPEHPK3PXP".into(),
                by: Actor::user(ALICE, []),
                at: t0(),
            })
            .then_expect_error(StaffError::SecretNotEncrypted);
        Given::with(())
            .given(vec![created()])
            .when(StaffCommand::EnableTotp {
                secret_encrypted: "v1:abc".into(),
                by: Actor::user(ALICE, []),
                at: t0(),
            })
            .then_expect_events(vec![StaffEvent::StaffTotpEnabled {
                secret_encrypted: "v1:abc".into(),
                by: ActorRef::User(ALICE),
                at: t0(),
            }]);
    }

    #[test]
    fn totp_is_enabled_once_and_an_admin_may_reset_it() {
        let enabled = StaffEvent::StaffTotpEnabled {
            secret_encrypted: "v1:abc".into(),
            by: ActorRef::User(ALICE),
            at: t0(),
        };
        Given::with(())
            .given(vec![created(), enabled.clone()])
            .when(StaffCommand::EnableTotp {
                secret_encrypted: "v1:def".into(),
                by: Actor::user(ALICE, []),
                at: t0(),
            })
            .then_expect_error(StaffError::TotpAlreadyEnabled);
        Given::with(())
            .given(vec![created(), enabled])
            .when(StaffCommand::DisableTotp { by: admin(), at: t0() })
            .then_expect_events(vec![StaffEvent::StaffTotpDisabled {
                by: ActorRef::User(BOB),
                at: t0(),
            }]);
        Given::with(())
            .given(vec![created()])
            .when(StaffCommand::DisableTotp {
                by: Actor::user(ALICE, []),
                at: t0(),
            })
            .then_expect_error(StaffError::TotpNotEnabled);
    }

    #[test]
    fn suspension_needs_a_reason_and_never_targets_oneself() {
        Given::with(())
            .given(vec![created()])
            .when(StaffCommand::Suspend {
                reason: " ".into(),
                by: admin(),
                at: t0(),
            })
            .then_expect_error(StaffError::ReasonRequired);
        Given::with(())
            .given(vec![created()])
            .when(StaffCommand::Suspend {
                reason: "left".into(),
                by: Actor::user(ALICE, Permission::ALL),
                at: t0(),
            })
            .then_expect_error(StaffError::CannotSuspendSelf);
        Given::with(())
            .given(vec![created()])
            .when(StaffCommand::Reinstate { by: admin(), at: t0() })
            .then_expect_error(StaffError::NotSuspended);
    }

    #[test]
    fn passwords_follow_the_policy_and_do_not_print() {
        assert_eq!(NewPassword::parse("short"), Err(StaffError::WeakPassword));
        assert_eq!(NewPassword::parse(&" ".repeat(12)), Err(StaffError::WeakPassword));
        assert_eq!(NewPassword::parse(&"x".repeat(129)), Err(StaffError::WeakPassword));
        let p = NewPassword::parse("correct horse battery").unwrap();
        assert_eq!(p.expose(), "correct horse battery");
        assert_eq!(format!("{p:?}"), "NewPassword(***)");
    }
}
