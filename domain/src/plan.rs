//! The plan catalog (aggregate id = a UUID). A price change is an event and
//! never rewrites past sales: orders copy a [`PlanSnapshot`] when they are made.
use chrono::{DateTime, Utc};
use cqrs_es::event_sink::EventSink;
use cqrs_es::{Aggregate, DomainEvent};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::access::{Actor, ActorRef, Permission, PermissionDenied};
use crate::money::Toman;
use crate::values::Location;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlanSpec {
    pub name: String,
    pub duration_days: u32,
    /// 0 means unlimited traffic, as on 3x-UI panels.
    pub traffic_gb: u32,
    pub price: Toman,
    pub locations: Vec<Location>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum PlanCommand {
    CreatePlan {
        id: Uuid,
        spec: PlanSpec,
        by: Actor,
        at: DateTime<Utc>,
    },
    ChangePrice {
        price: Toman,
        by: Actor,
        at: DateTime<Utc>,
    },
    ChangeLocations {
        locations: Vec<Location>,
        by: Actor,
        at: DateTime<Utc>,
    },
    RetirePlan {
        by: Actor,
        at: DateTime<Utc>,
    },
    ReactivatePlan {
        by: Actor,
        at: DateTime<Utc>,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum PlanEvent {
    PlanCreated {
        id: Uuid,
        name: String,
        duration_days: u32,
        traffic_gb: u32,
        price: Toman,
        locations: Vec<Location>,
        by: ActorRef,
        at: DateTime<Utc>,
    },
    PlanPriceChanged {
        old_price: Toman,
        new_price: Toman,
        by: ActorRef,
        at: DateTime<Utc>,
    },
    PlanLocationsChanged {
        locations: Vec<Location>,
        by: ActorRef,
        at: DateTime<Utc>,
    },
    PlanRetired {
        by: ActorRef,
        at: DateTime<Utc>,
    },
    PlanReactivated {
        by: ActorRef,
        at: DateTime<Utc>,
    },
}

impl DomainEvent for PlanEvent {
    fn event_type(&self) -> String {
        match self {
            PlanEvent::PlanCreated { .. } => "PlanCreated",
            PlanEvent::PlanPriceChanged { .. } => "PlanPriceChanged",
            PlanEvent::PlanLocationsChanged { .. } => "PlanLocationsChanged",
            PlanEvent::PlanRetired { .. } => "PlanRetired",
            PlanEvent::PlanReactivated { .. } => "PlanReactivated",
        }
        .to_string()
    }
    fn event_version(&self) -> String {
        "1.0".to_string()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    #[error("this plan already exists")]
    AlreadyExists,
    #[error("no such plan")]
    NotFound,
    #[error("a plan name is 1 to 64 characters")]
    InvalidName,
    #[error("a plan lasts 1 to 3650 days")]
    InvalidDuration,
    #[error("a plan's price must be greater than zero")]
    FreePlan,
    #[error("a plan needs at least one location")]
    NoLocations,
    #[error("the plan is retired")]
    Retired,
    #[error("the plan is already active")]
    AlreadyActive,
    #[error("the plan is not offered in {0}")]
    LocationNotOffered(Location),
    #[error(transparent)]
    Denied(#[from] PermissionDenied),
}

/// What an order copies from the catalog at the moment it is made.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlanSnapshot {
    pub plan_id: Uuid,
    pub name: String,
    pub duration_days: u32,
    pub traffic_gb: u32,
    pub price: Toman,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    pub id: Option<Uuid>,
    pub name: String,
    pub duration_days: u32,
    pub traffic_gb: u32,
    pub price: Toman,
    pub locations: Vec<Location>,
    pub retired: bool,
}

impl Plan {
    /// The snapshot an order records for `location`, if the plan can be sold there now.
    pub fn offer(&self, location: &Location) -> Result<PlanSnapshot, PlanError> {
        let id = self.id.ok_or(PlanError::NotFound)?;
        if self.retired {
            return Err(PlanError::Retired);
        }
        if !self.locations.iter().any(|l| l.same_as(location)) {
            return Err(PlanError::LocationNotOffered(location.clone()));
        }
        Ok(PlanSnapshot {
            plan_id: id,
            name: self.name.clone(),
            duration_days: self.duration_days,
            traffic_gb: self.traffic_gb,
            price: self.price,
        })
    }
}

fn check_locations(mut locations: Vec<Location>) -> Result<Vec<Location>, PlanError> {
    let mut unique: Vec<Location> = Vec::new();
    for l in locations.drain(..) {
        if !unique.iter().any(|u| u.same_as(&l)) {
            unique.push(l);
        }
    }
    if unique.is_empty() {
        return Err(PlanError::NoLocations);
    }
    Ok(unique)
}

impl Aggregate for Plan {
    const TYPE: &'static str = "Plan";
    type Command = PlanCommand;
    type Event = PlanEvent;
    type Error = PlanError;
    type Services = ();

    async fn handle(&mut self, command: Self::Command, _: &(), sink: &EventSink<Self>) -> Result<(), Self::Error> {
        let event = match command {
            PlanCommand::CreatePlan { id, spec, by, at } => {
                by.require(Permission::ManagePlans)?;
                if self.id.is_some() {
                    return Err(PlanError::AlreadyExists);
                }
                let name = spec.name.trim().to_string();
                if name.is_empty() || name.chars().count() > 64 {
                    return Err(PlanError::InvalidName);
                }
                if spec.duration_days == 0 || spec.duration_days > 3650 {
                    return Err(PlanError::InvalidDuration);
                }
                if spec.price.is_zero() {
                    return Err(PlanError::FreePlan);
                }
                PlanEvent::PlanCreated {
                    id,
                    name,
                    duration_days: spec.duration_days,
                    traffic_gb: spec.traffic_gb,
                    price: spec.price,
                    locations: check_locations(spec.locations)?,
                    by: by.reference(),
                    at,
                }
            }
            PlanCommand::ChangePrice { price, by, at } => {
                by.require(Permission::ManagePlans)?;
                self.id.ok_or(PlanError::NotFound)?;
                if price.is_zero() {
                    return Err(PlanError::FreePlan);
                }
                if price == self.price {
                    return Ok(());
                }
                PlanEvent::PlanPriceChanged {
                    old_price: self.price,
                    new_price: price,
                    by: by.reference(),
                    at,
                }
            }
            PlanCommand::ChangeLocations { locations, by, at } => {
                by.require(Permission::ManagePlans)?;
                self.id.ok_or(PlanError::NotFound)?;
                PlanEvent::PlanLocationsChanged {
                    locations: check_locations(locations)?,
                    by: by.reference(),
                    at,
                }
            }
            PlanCommand::RetirePlan { by, at } => {
                by.require(Permission::ManagePlans)?;
                self.id.ok_or(PlanError::NotFound)?;
                if self.retired {
                    return Err(PlanError::Retired);
                }
                PlanEvent::PlanRetired { by: by.reference(), at }
            }
            PlanCommand::ReactivatePlan { by, at } => {
                by.require(Permission::ManagePlans)?;
                self.id.ok_or(PlanError::NotFound)?;
                if !self.retired {
                    return Err(PlanError::AlreadyActive);
                }
                PlanEvent::PlanReactivated { by: by.reference(), at }
            }
        };
        sink.write(event, self).await;
        Ok(())
    }

    fn apply(&mut self, event: Self::Event) {
        match event {
            PlanEvent::PlanCreated {
                id,
                name,
                duration_days,
                traffic_gb,
                price,
                locations,
                ..
            } => {
                self.id = Some(id);
                self.name = name;
                self.duration_days = duration_days;
                self.traffic_gb = traffic_gb;
                self.price = price;
                self.locations = locations;
            }
            PlanEvent::PlanPriceChanged { new_price, .. } => self.price = new_price,
            PlanEvent::PlanLocationsChanged { locations, .. } => self.locations = locations,
            PlanEvent::PlanRetired { .. } => self.retired = true,
            PlanEvent::PlanReactivated { .. } => self.retired = false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::{loc, t0, toman};
    use crate::values::CustomerId;
    use cqrs_es::test::TestFramework;

    type Given = TestFramework<Plan>;

    fn created() -> PlanEvent {
        PlanEvent::PlanCreated {
            id: Uuid::nil(),
            name: "Monthly 50GB".into(),
            duration_days: 30,
            traffic_gb: 50,
            price: toman(150_000),
            locations: vec![loc("France"), loc("Germany")],
            by: ActorRef::System,
            at: t0(),
        }
    }

    #[test]
    fn creating_a_plan_deduplicates_locations() {
        Given::with(())
            .given_no_previous_events()
            .when(PlanCommand::CreatePlan {
                id: Uuid::nil(),
                spec: PlanSpec {
                    name: " Monthly 50GB ".into(),
                    duration_days: 30,
                    traffic_gb: 50,
                    price: toman(150_000),
                    locations: vec![loc("France"), loc("germany"), loc("FRANCE")],
                },
                by: Actor::System,
                at: t0(),
            })
            .then_expect_events(vec![PlanEvent::PlanCreated {
                id: Uuid::nil(),
                name: "Monthly 50GB".into(),
                duration_days: 30,
                traffic_gb: 50,
                price: toman(150_000),
                locations: vec![loc("France"), loc("germany")],
                by: ActorRef::System,
                at: t0(),
            }]);
    }

    #[test]
    fn a_plan_must_cost_something_and_last_at_least_a_day() {
        let spec = |days, price| PlanSpec {
            name: "x".into(),
            duration_days: days,
            traffic_gb: 0,
            price: toman(price),
            locations: vec![loc("France")],
        };
        Given::with(())
            .given_no_previous_events()
            .when(PlanCommand::CreatePlan {
                id: Uuid::nil(),
                spec: spec(30, 0),
                by: Actor::System,
                at: t0(),
            })
            .then_expect_error(PlanError::FreePlan);
        Given::with(())
            .given_no_previous_events()
            .when(PlanCommand::CreatePlan {
                id: Uuid::nil(),
                spec: spec(0, 10),
                by: Actor::System,
                at: t0(),
            })
            .then_expect_error(PlanError::InvalidDuration);
    }

    #[test]
    fn a_price_change_records_old_and_new_price() {
        Given::with(())
            .given(vec![created()])
            .when(PlanCommand::ChangePrice {
                price: toman(180_000),
                by: Actor::user(CustomerId(1), [Permission::ManagePlans]),
                at: t0(),
            })
            .then_expect_events(vec![PlanEvent::PlanPriceChanged {
                old_price: toman(150_000),
                new_price: toman(180_000),
                by: ActorRef::User(CustomerId(1)),
                at: t0(),
            }]);
    }

    #[test]
    fn a_seller_cannot_change_prices() {
        Given::with(())
            .given(vec![created()])
            .when(PlanCommand::ChangePrice {
                price: toman(1),
                by: Actor::user(CustomerId(1), [Permission::Sell]),
                at: t0(),
            })
            .then_expect_error(PlanError::Denied(PermissionDenied(Permission::ManagePlans)));
    }

    #[test]
    fn a_retired_plan_or_another_location_cannot_be_offered() {
        let mut plan = Plan::default();
        plan.apply(created());
        assert_eq!(plan.offer(&loc("france")).unwrap().price, toman(150_000));
        assert_eq!(plan.offer(&loc("Singapore")), Err(PlanError::LocationNotOffered(loc("Singapore"))));
        plan.apply(PlanEvent::PlanRetired {
            by: ActorRef::System,
            at: t0(),
        });
        assert_eq!(plan.offer(&loc("France")), Err(PlanError::Retired));
    }
}
