//! The business rules of MRJ Bot as pure event-sourced aggregates.
//!
//! No I/O and no clock: time arrives inside commands, outside facts (a card's
//! details, a plan's price) arrive as snapshots the `commands` crate loads.
//! Depends only on serde, thiserror and value crates, so every rule is
//! unit-testable with cqrs-es' `TestFramework`.
#![forbid(unsafe_code)]

pub mod access;
pub mod autorenew;
pub mod backup;
pub mod broadcast;
pub mod card;
pub mod commission;
pub mod customer;
pub mod discount;
pub mod event;
pub mod features;
pub mod license;
pub mod money;
pub mod panel;
pub mod payment;
pub mod plan;
pub mod points;
pub mod reference;
pub mod reminder;
pub mod role;
pub mod sale;
pub mod staff;
pub mod subscription;
pub mod support;
pub mod values;
pub mod wallet;

pub use access::{Actor, ActorRef, Permission, RoleName};
pub use event::AnyEvent;
pub use money::{MoneyError, Toman};
pub use values::{CardNumber, CustomerId, Language, Location, ValueError};

#[cfg(test)]
pub(crate) mod test_support {
    use chrono::{DateTime, TimeZone, Utc};

    pub fn t0() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 1, 12, 0, 0).unwrap()
    }
    pub fn toman(v: i64) -> crate::Toman {
        crate::Toman::from_int(v).unwrap()
    }
    pub fn loc(s: &str) -> crate::Location {
        crate::Location::parse(s).unwrap()
    }
    pub fn card_number() -> crate::CardNumber {
        crate::CardNumber::parse("6037997599999993").unwrap()
    }
}
