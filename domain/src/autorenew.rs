//! Auto-renewal from the wallet (aggregate id = the subscription's UUID).
//!
//! The customer opts in (or out) per subscription; staff with
//! `manage_subscriptions` may too. Near the end of each paid term a scheduler
//! starts **one** renewal for that term: [`AutoRenewalEvent::AutoRenewalStarted`]
//! names the term (its expiry instant) and the charge number the renewal will
//! use on the subscription, and a term starts once, so two schedulers never
//! renew twice. The charge itself goes through the subscription's normal
//! charge → debit → settle steps, and the subscription refuses to request a
//! charge number twice (`RequestAutoRenewal`), so a scheduler that crashed
//! half-way can simply redo the started renewal. Its outcome is recorded once.
use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use cqrs_es::event_sink::EventSink;
use cqrs_es::{Aggregate, DomainEvent};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::access::{Actor, ActorRef, Permission};
use crate::values::CustomerId;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum AutoRenewalCommand {
    /// Opt in. `owner` is the subscription's customer (loaded by the caller).
    Enable {
        subscription: Uuid,
        owner: CustomerId,
        by: Actor,
        at: DateTime<Utc>,
    },
    /// Opt out.
    Disable {
        subscription: Uuid,
        owner: CustomerId,
        by: Actor,
        at: DateTime<Utc>,
    },
    /// Start the renewal of the term ending at `term_expires_at`, as charge
    /// `charge_no` of the subscription. A term starts once.
    Start {
        term_expires_at: DateTime<Utc>,
        charge_no: u32,
        at: DateTime<Utc>,
    },
    /// How the started renewal's charge ended. Recorded once.
    RecordOutcome {
        charge_no: u32,
        outcome: RenewalOutcome,
        at: DateTime<Utc>,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "result")]
pub enum RenewalOutcome {
    Renewed { expires_at: DateTime<Utc> },
    Failed { reason: String },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum AutoRenewalEvent {
    AutoRenewalEnabled {
        subscription: Uuid,
        customer: CustomerId,
        by: ActorRef,
        at: DateTime<Utc>,
    },
    AutoRenewalDisabled {
        subscription: Uuid,
        customer: CustomerId,
        by: ActorRef,
        at: DateTime<Utc>,
    },
    AutoRenewalStarted {
        subscription: Uuid,
        customer: CustomerId,
        term_expires_at: DateTime<Utc>,
        charge_no: u32,
        at: DateTime<Utc>,
    },
    AutoRenewalSucceeded {
        subscription: Uuid,
        customer: CustomerId,
        charge_no: u32,
        expires_at: DateTime<Utc>,
        at: DateTime<Utc>,
    },
    AutoRenewalFailed {
        subscription: Uuid,
        customer: CustomerId,
        charge_no: u32,
        reason: String,
        at: DateTime<Utc>,
    },
}

impl DomainEvent for AutoRenewalEvent {
    fn event_type(&self) -> String {
        match self {
            AutoRenewalEvent::AutoRenewalEnabled { .. } => "AutoRenewalEnabled",
            AutoRenewalEvent::AutoRenewalDisabled { .. } => "AutoRenewalDisabled",
            AutoRenewalEvent::AutoRenewalStarted { .. } => "AutoRenewalStarted",
            AutoRenewalEvent::AutoRenewalSucceeded { .. } => "AutoRenewalSucceeded",
            AutoRenewalEvent::AutoRenewalFailed { .. } => "AutoRenewalFailed",
        }
        .to_string()
    }
    fn event_version(&self) -> String {
        "1.0".to_string()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AutoRenewalError {
    #[error("only the customer or staff may change auto-renewal of this subscription")]
    NotYourSubscription,
    #[error("auto-renewal is not enabled for this subscription")]
    NotEnabled,
    #[error("another renewal (charge #{0}) is still open")]
    RenewalOpen(u32),
    #[error("no renewal with charge #{0} is open")]
    NoOpenRenewal(u32),
    #[error("a renewal must use a charge number after the last one")]
    StaleCharge,
}

/// A renewal started and not yet finished.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OpenRenewal {
    pub charge_no: u32,
    pub term_expires_at: DateTime<Utc>,
    pub started_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AutoRenewal {
    pub subscription: Option<Uuid>,
    pub customer: Option<CustomerId>,
    pub enabled: bool,
    /// Terms (expiry instants, ms) whose renewal was started.
    pub terms: BTreeSet<i64>,
    pub open: Option<OpenRenewal>,
    pub last_charge: u32,
}

impl AutoRenewal {
    fn authorize(by: &Actor, owner: CustomerId) -> Result<(), AutoRenewalError> {
        if by.customer_id() == Some(owner) || by.has(Permission::ManageSubscriptions) {
            Ok(())
        } else {
            Err(AutoRenewalError::NotYourSubscription)
        }
    }
}

impl Aggregate for AutoRenewal {
    const TYPE: &'static str = "AutoRenewal";
    type Command = AutoRenewalCommand;
    type Event = AutoRenewalEvent;
    type Error = AutoRenewalError;
    type Services = ();

    async fn handle(&mut self, command: Self::Command, _: &(), sink: &EventSink<Self>) -> Result<(), Self::Error> {
        use AutoRenewalCommand as C;
        use AutoRenewalEvent as E;
        let event = match command {
            C::Enable {
                subscription,
                owner,
                by,
                at,
            } => {
                Self::authorize(&by, owner)?;
                if self.enabled {
                    return Ok(());
                }
                E::AutoRenewalEnabled {
                    subscription,
                    customer: owner,
                    by: by.reference(),
                    at,
                }
            }
            C::Disable {
                subscription,
                owner,
                by,
                at,
            } => {
                Self::authorize(&by, owner)?;
                if !self.enabled {
                    return Ok(());
                }
                E::AutoRenewalDisabled {
                    subscription,
                    customer: owner,
                    by: by.reference(),
                    at,
                }
            }
            C::Start {
                term_expires_at,
                charge_no,
                at,
            } => {
                let (Some(subscription), Some(customer)) = (self.subscription, self.customer) else {
                    return Err(AutoRenewalError::NotEnabled);
                };
                if self.terms.contains(&term_expires_at.timestamp_millis()) {
                    return Ok(()); // this term's renewal already started
                }
                if !self.enabled {
                    return Err(AutoRenewalError::NotEnabled);
                }
                if let Some(open) = &self.open {
                    return Err(AutoRenewalError::RenewalOpen(open.charge_no));
                }
                if charge_no <= self.last_charge {
                    return Err(AutoRenewalError::StaleCharge);
                }
                E::AutoRenewalStarted {
                    subscription,
                    customer,
                    term_expires_at,
                    charge_no,
                    at,
                }
            }
            C::RecordOutcome { charge_no, outcome, at } => {
                let (Some(subscription), Some(customer)) = (self.subscription, self.customer) else {
                    return Err(AutoRenewalError::NoOpenRenewal(charge_no));
                };
                match &self.open {
                    Some(open) if open.charge_no == charge_no => {}
                    // Recorded already (by this or another scheduler).
                    _ if charge_no <= self.last_charge && self.open.is_none() => return Ok(()),
                    _ => return Err(AutoRenewalError::NoOpenRenewal(charge_no)),
                }
                match outcome {
                    RenewalOutcome::Renewed { expires_at } => E::AutoRenewalSucceeded {
                        subscription,
                        customer,
                        charge_no,
                        expires_at,
                        at,
                    },
                    RenewalOutcome::Failed { reason } => E::AutoRenewalFailed {
                        subscription,
                        customer,
                        charge_no,
                        reason,
                        at,
                    },
                }
            }
        };
        sink.write(event, self).await;
        Ok(())
    }

    fn apply(&mut self, event: Self::Event) {
        use AutoRenewalEvent as E;
        match event {
            E::AutoRenewalEnabled {
                subscription, customer, ..
            } => {
                self.subscription = Some(subscription);
                self.customer = Some(customer);
                self.enabled = true;
            }
            E::AutoRenewalDisabled {
                subscription, customer, ..
            } => {
                self.subscription = Some(subscription);
                self.customer = Some(customer);
                self.enabled = false;
            }
            E::AutoRenewalStarted {
                term_expires_at,
                charge_no,
                at,
                ..
            } => {
                self.terms.insert(term_expires_at.timestamp_millis());
                self.last_charge = charge_no;
                self.open = Some(OpenRenewal {
                    charge_no,
                    term_expires_at,
                    started_at: at,
                });
            }
            E::AutoRenewalSucceeded { .. } | E::AutoRenewalFailed { .. } => self.open = None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::t0;
    use chrono::Duration;
    use cqrs_es::test::TestFramework;

    type Given = TestFramework<AutoRenewal>;
    const ALICE: CustomerId = CustomerId(1001);
    const BOB: CustomerId = CustomerId(1002);

    fn sub() -> Uuid {
        Uuid::from_u128(7)
    }
    fn enabled() -> AutoRenewalEvent {
        AutoRenewalEvent::AutoRenewalEnabled {
            subscription: sub(),
            customer: ALICE,
            by: ActorRef::User(ALICE),
            at: t0(),
        }
    }
    fn started(charge_no: u32) -> AutoRenewalEvent {
        AutoRenewalEvent::AutoRenewalStarted {
            subscription: sub(),
            customer: ALICE,
            term_expires_at: t0() + Duration::days(30),
            charge_no,
            at: t0(),
        }
    }

    #[test]
    fn the_customer_opts_in_and_a_repeat_records_nothing() {
        Given::with(())
            .given_no_previous_events()
            .when(AutoRenewalCommand::Enable {
                subscription: sub(),
                owner: ALICE,
                by: Actor::user(ALICE, []),
                at: t0(),
            })
            .then_expect_events(vec![enabled()]);
        Given::with(())
            .given(vec![enabled()])
            .when(AutoRenewalCommand::Enable {
                subscription: sub(),
                owner: ALICE,
                by: Actor::user(ALICE, []),
                at: t0(),
            })
            .then_expect_events(vec![]);
    }

    #[test]
    fn someone_else_cannot_switch_it_but_staff_can() {
        Given::with(())
            .given_no_previous_events()
            .when(AutoRenewalCommand::Enable {
                subscription: sub(),
                owner: ALICE,
                by: Actor::user(BOB, [Permission::Sell]),
                at: t0(),
            })
            .then_expect_error(AutoRenewalError::NotYourSubscription);
        Given::with(())
            .given(vec![enabled()])
            .when(AutoRenewalCommand::Disable {
                subscription: sub(),
                owner: ALICE,
                by: Actor::user(BOB, [Permission::ManageSubscriptions]),
                at: t0(),
            })
            .then_expect_events(vec![AutoRenewalEvent::AutoRenewalDisabled {
                subscription: sub(),
                customer: ALICE,
                by: ActorRef::User(BOB),
                at: t0(),
            }]);
    }

    #[test]
    fn a_term_is_renewed_once() {
        Given::with(())
            .given(vec![enabled()])
            .when(AutoRenewalCommand::Start {
                term_expires_at: t0() + Duration::days(30),
                charge_no: 2,
                at: t0(),
            })
            .then_expect_events(vec![started(2)]);
        // The second scheduler asks for the same term: nothing happens.
        Given::with(())
            .given(vec![enabled(), started(2)])
            .when(AutoRenewalCommand::Start {
                term_expires_at: t0() + Duration::days(30),
                charge_no: 2,
                at: t0(),
            })
            .then_expect_events(vec![]);
    }

    #[test]
    fn nothing_starts_without_the_opt_in() {
        Given::with(())
            .given(vec![
                enabled(),
                AutoRenewalEvent::AutoRenewalDisabled {
                    subscription: sub(),
                    customer: ALICE,
                    by: ActorRef::User(ALICE),
                    at: t0(),
                },
            ])
            .when(AutoRenewalCommand::Start {
                term_expires_at: t0() + Duration::days(30),
                charge_no: 2,
                at: t0(),
            })
            .then_expect_error(AutoRenewalError::NotEnabled);
    }

    #[test]
    fn an_outcome_is_recorded_once_and_only_for_the_open_renewal() {
        let succeeded = AutoRenewalEvent::AutoRenewalSucceeded {
            subscription: sub(),
            customer: ALICE,
            charge_no: 2,
            expires_at: t0() + Duration::days(60),
            at: t0(),
        };
        let record = |n| AutoRenewalCommand::RecordOutcome {
            charge_no: n,
            outcome: RenewalOutcome::Renewed {
                expires_at: t0() + Duration::days(60),
            },
            at: t0(),
        };
        Given::with(())
            .given(vec![enabled(), started(2)])
            .when(record(2))
            .then_expect_events(vec![succeeded.clone()]);
        Given::with(())
            .given(vec![enabled(), started(2), succeeded])
            .when(record(2))
            .then_expect_events(vec![]);
        Given::with(())
            .given(vec![enabled(), started(2)])
            .when(record(3))
            .then_expect_error(AutoRenewalError::NoOpenRenewal(3));
    }

    #[test]
    fn a_new_term_waits_for_the_open_renewal_and_needs_a_later_charge() {
        Given::with(())
            .given(vec![enabled(), started(2)])
            .when(AutoRenewalCommand::Start {
                term_expires_at: t0() + Duration::days(60),
                charge_no: 3,
                at: t0(),
            })
            .then_expect_error(AutoRenewalError::RenewalOpen(2));
        Given::with(())
            .given(vec![
                enabled(),
                started(2),
                AutoRenewalEvent::AutoRenewalFailed {
                    subscription: sub(),
                    customer: ALICE,
                    charge_no: 2,
                    reason: "insufficient balance".into(),
                    at: t0(),
                },
            ])
            .when(AutoRenewalCommand::Start {
                term_expires_at: t0() + Duration::days(60),
                charge_no: 2,
                at: t0(),
            })
            .then_expect_error(AutoRenewalError::StaleCharge);
    }
}
