//! The 3x-UI side of MRJ Bot, on top of the event-sourced backbone:
//!
//! - [`Provisioner`]: a feed consumer (checkpoint `provisioner`) that makes each
//!   paid subscription a client on the least-loaded healthy panel of its
//!   location that grants it a slot (capacity is a hard limit, kept by
//!   `domain::panel::PanelSlots`), with failover, and keeps that client in step with renewals,
//!   top-ups, bonuses, expiry, cancellation and location switches;
//! - [`UsageSync`]: pulls traffic from every panel (one list call per panel, not
//!   one per client) into `subscription_usage`, and records the 80%/100% and
//!   on-panel-expiry events;
//! - [`Monitor`]: polls each panel's server status into `panel_status`, marks a
//!   panel unhealthy after consecutive failures and healthy again on recovery;
//! - [`Reconciler`]: compares the events' truth with each panel and repairs (or,
//!   dry, reports) missing clients, orphans and wrong quota/expiry/enable;
//! - [`access`]: a subscription's links, sub URL and QR code, for the bot and the API.
//!
//! Panels are reached through [`xui::XuiClient`]; credentials are decrypted
//! here, in memory, with the operator's key, and never logged.
#![forbid(unsafe_code)]

pub mod access;
mod directory;
mod error;
mod monitor;
mod provisioner;
mod reconcile;
mod usage;

pub use directory::{Directory, PanelRow};
pub use error::PanelsError;
pub use monitor::{Monitor, MonitorReport};
pub use provisioner::{client_email, client_uuid, sub_id, Ensured, Provisioner, ProvisionerConsumer, PROVISIONER_CHECKPOINT};
pub use reconcile::{Drift, ReconcileReport, Reconciler, Repair};
pub use usage::{SyncReport, UsageSync};
