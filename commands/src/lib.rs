//! Command handling over the event store: each use case loads the aggregates
//! it needs, lets the domain decide, and appends with optimistic concurrency,
//! retrying on a conflict so that racing writers are serialised, not failed.
//!
//! Operations that touch two aggregates (a purchase debits a wallet; an
//! approval credits one) run their steps here in the happy path, and the
//! same idempotent steps are what the process manager in `workers` replays
//! from the event feed after a crash — see [`Commands::react`].
#![forbid(unsafe_code)]

mod commerce;
mod commissions;
mod discounts;
mod error;
mod gateways;
mod points;
mod process;
mod provisioning;
mod settings;
mod staff;
mod store;
mod telegram;
mod tgops;
mod use_cases;

pub use discounts::Quote;
pub use error::CommandError;
pub use gateways::{GatewayOutcome, UsdtOffer, USDT_TAGS};
pub use points::{reward_code, Grant, Redeemed};
pub use process::Reaction;
pub use settings::{FeatureCache, FeatureChange, LicenseStatus};
pub use store::Store;
pub use tgops::{AutoRenewalStep, OpenedChat};
pub use use_cases::PurchaseOutcome;

use domain::card::Card;
use domain::customer::Customer;
use domain::payment::Payment;
use domain::plan::Plan;
use domain::role::Role;
use domain::staff::Staff;
use domain::subscription::Subscription;
use domain::wallet::Wallet;
use sqlx::PgPool;

/// Everything the edges (bot, API, CLI, workers) call to change state.
#[derive(Clone)]
pub struct Commands {
    pub pool: PgPool,
    commerce: commerce::Stores,
    customers: Store<Customer>,
    roles: Store<Role>,
    plans: Store<Plan>,
    cards: Store<Card>,
    wallets: Store<Wallet>,
    payments: Store<Payment>,
    subscriptions: Store<Subscription>,
    panels: Store<domain::panel::Panel>,
    staff: Store<Staff>,
    tgops: tgops::Stores,
    settings: settings::Stores,
}

impl Commands {
    pub fn new(pool: PgPool) -> Self {
        Commands {
            customers: Store::new(pool.clone()),
            roles: Store::new(pool.clone()),
            plans: Store::new(pool.clone()),
            cards: Store::new(pool.clone()),
            wallets: Store::new(pool.clone()),
            payments: Store::new(pool.clone()),
            subscriptions: Store::new(pool.clone()),
            panels: Store::new(pool.clone()),
            staff: Store::new(pool.clone()),
            tgops: tgops::Stores::new(&pool),
            settings: settings::Stores::new(&pool),
            commerce: commerce::Stores::new(&pool),
            pool,
        }
    }
}
