//! `tgops`: the Telegram-facing operations of MRJ Bot (issue 7).
//!
//! - [`courier::Courier`], a feed consumer with its own checkpoint, turns
//!   events into outbox rows: one concise line per event for the staff group
//!   of its topic (users, finance, servers, support, backups, toggles), in
//!   that group's language, and reminders to customers.
//! - [`dispatcher::Dispatcher`] delivers the outbox in order per chat,
//!   batching a group's pending lines into one message, at a shared rate,
//!   waiting out 429s and outages; a message is sent at most once.
//! - [`reminders::ReminderScheduler`]: points-expiry reminders and
//!   auto-renewal from the wallet, each once, whatever restarts or runs twice.
//! - [`support`]: the live-chat dispatcher (least busy online agent) and
//!   response-time figures per agent. The bot's chat screens live in the
//!   `bot` crate and call `commands`.
//! - [`broadcast::BroadcastWorker`]: campaigns to all customers or a
//!   segment, at the configured rate, resumable, with a delivery report.
//!
//! Depends on the backbone crates and reqwest: [`telegram::Telegram`] is a
//! small Bot API client (see there why not teloxide's); only the API URL
//! differs in tests, where `tgfake` serves it. Reads no environment
//! variables: the binary passes [`TgOpsConfig`].
#![forbid(unsafe_code)]

pub mod broadcast;
pub mod courier;
pub mod dispatcher;
pub mod groups;
pub mod i18n;
pub mod outbox;
pub mod reminders;
pub mod support;
pub mod telegram;
pub mod texts;

use std::sync::Arc;
use std::time::Duration;

use commands::Commands;
use sqlx::PgPool;
use workers::{run_consumer, Feed, Shutdown};

pub use broadcast::{BroadcastConfig, BroadcastWorker};
pub use courier::{Courier, COURIER_CHECKPOINT};
pub use dispatcher::{Dispatcher, DispatcherConfig};
pub use groups::{Group, Groups, Topic};
pub use reminders::{ReminderConfig, ReminderScheduler};
pub use support::SupportDispatcher;
pub use telegram::{Body, RateLimiter, SendError, Telegram};

/// Everything the binary configures.
#[derive(Debug, Clone)]
pub struct TgOpsConfig {
    pub groups: Groups,
    /// Notifications (group lines, reminders, live chat) per second.
    /// Broadcasts have their own rate (`broadcast.rate`); Telegram allows
    /// about 30 a second overall and answers 429 beyond, which both obey.
    pub rate: f64,
    pub dispatcher: DispatcherConfig,
    pub reminders: ReminderConfig,
    pub broadcast: BroadcastConfig,
    /// Time between live-chat assignment passes.
    pub support_interval: Duration,
}

impl Default for TgOpsConfig {
    fn default() -> Self {
        TgOpsConfig {
            groups: Groups::default(),
            rate: 20.0,
            dispatcher: DispatcherConfig::default(),
            reminders: ReminderConfig::default(),
            broadcast: BroadcastConfig::default(),
            support_interval: Duration::from_secs(2),
        }
    }
}

/// Spawns the courier, the dispatcher, the reminder scheduler, the live-chat
/// dispatcher and the broadcast worker onto `tasks`, all stopping on
/// `shutdown`. Returns the dispatcher and broadcast wake-ups (edges may nudge them).
pub fn spawn(
    tasks: &mut tokio::task::JoinSet<()>,
    pool: PgPool,
    feed: Arc<dyn Feed>,
    tg: Telegram,
    config: TgOpsConfig,
    shutdown: Shutdown,
) -> Wakers {
    let commands = Commands::new(pool.clone());
    let dispatcher = Dispatcher::new(pool.clone(), tg.clone(), RateLimiter::new(config.rate), config.dispatcher.clone());
    let broadcast = BroadcastWorker::new(
        commands.clone(),
        tg,
        RateLimiter::new(config.broadcast.rate),
        config.broadcast.clone(),
    );
    let wakers = Wakers {
        outbox: dispatcher.wake.clone(),
        broadcasts: broadcast.wake.clone(),
    };
    let courier = Courier {
        pool,
        commands: commands.clone(),
        groups: config.groups.clone(),
        wake: Some(dispatcher.wake.clone()),
    };
    tasks.spawn(run_consumer(feed, Arc::new(courier), shutdown.clone()));
    tasks.spawn(dispatcher.run_until_stopped(shutdown.clone()));
    tasks.spawn(broadcast.run_until_stopped(shutdown.clone()));
    tasks.spawn(
        ReminderScheduler {
            commands: commands.clone(),
            config: config.reminders.clone(),
        }
        .run_until_stopped(shutdown.clone()),
    );
    tasks.spawn(
        SupportDispatcher {
            commands,
            interval: config.support_interval,
        }
        .run_until_stopped(shutdown),
    );
    wakers
}

/// Nudges for the long-running parts, so edges need not wait for a poll.
#[derive(Clone)]
pub struct Wakers {
    pub outbox: Arc<tokio::sync::Notify>,
    pub broadcasts: Arc<tokio::sync::Notify>,
}
