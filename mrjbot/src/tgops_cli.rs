//! Issue 7's Telegram-facing half in the binary: the staff groups' notifier,
//! reminders and auto-renewal, live-chat assignment and the broadcast
//! worker, run by `mrjbot serve` when a Telegram token is configured
//! (`TELEGRAM_BOT_TOKEN`, `TELEGRAM_API_URL`); `mrjbot broadcasts` reports
//! campaigns.
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Result};
use clap::{Args, Subcommand};
use sqlx::PgPool;
use tgops::{BroadcastConfig, DispatcherConfig, Group, Groups, ReminderConfig, Telegram, TgOpsConfig, Topic};
use uuid::Uuid;
use workers::{Feed, Shutdown};

use crate::config::Config;

#[derive(Debug, Clone, Args)]
pub struct TgOpsArgs {
    /// Staff group for registrations, blocks, roles and broadcasts: `CHAT_ID` or `CHAT_ID:LANG` (fa or en; fa by default).
    #[arg(long, env = "MRJ_GROUP_USERS", allow_hyphen_values = true)]
    group_users: Option<Group>,
    /// Staff group for receipts, approvals, sales, refunds, wallet corrections, withdrawals, auto-renewals.
    #[arg(long, env = "MRJ_GROUP_FINANCE", allow_hyphen_values = true)]
    group_finance: Option<Group>,
    /// Staff group for panels going down and up and provisioning failures.
    #[arg(long, env = "MRJ_GROUP_SERVERS", allow_hyphen_values = true)]
    group_servers: Option<Group>,
    /// Staff group for the live-chat queue, assignments, closings, ratings, agents on and off.
    #[arg(long, env = "MRJ_GROUP_SUPPORT", allow_hyphen_values = true)]
    group_support: Option<Group>,
    /// Staff group told about backups (usually the one MRJ_BACKUP_CHAT_ID sends the files to).
    #[arg(long, env = "MRJ_GROUP_BACKUPS", allow_hyphen_values = true)]
    group_backups: Option<Group>,
    /// Staff group for feature toggles and licenses.
    #[arg(long, env = "MRJ_GROUP_TOGGLES", allow_hyphen_values = true)]
    group_toggles: Option<Group>,
    /// Notifications (group lines, reminders, live chat) per second.
    #[arg(long, env = "MRJ_NOTIFY_RATE", default_value_t = 20.0)]
    notify_rate: f64,
    /// Broadcast messages per second (Telegram allows about 30).
    #[arg(long, env = "MRJ_BROADCAST_RATE", default_value_t = 30.0)]
    broadcast_rate: f64,
    /// Least seconds between two messages to one staff group; lines arriving meanwhile are joined.
    #[arg(long, env = "MRJ_GROUP_INTERVAL_SECS", default_value_t = 3)]
    group_interval_secs: u64,
    /// Warn customers this many days before their loyalty points expire.
    #[arg(long, env = "MRJ_POINTS_REMINDER_DAYS", default_value_t = 3)]
    points_reminder_days: u32,
    /// Renew a subscription whose customer opted in this many hours before its term ends.
    #[arg(long, env = "MRJ_AUTO_RENEW_LEAD_HOURS", default_value_t = 24)]
    auto_renew_lead_hours: u32,
    /// Seconds between reminder and auto-renewal passes.
    #[arg(long, env = "MRJ_REMINDER_INTERVAL_SECS", default_value_t = 60)]
    reminder_interval_secs: u64,
    /// Seconds a send may stay unanswered before it counts as cut off (marked uncertain, never sent again).
    #[arg(long, env = "MRJ_SEND_LEASE_SECS", default_value_t = 90)]
    send_lease_secs: u64,
}

/// The request timeout; a claim's lease must outlast it.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

impl TgOpsArgs {
    pub fn config(&self) -> Result<TgOpsConfig> {
        for (name, rate) in [("MRJ_NOTIFY_RATE", self.notify_rate), ("MRJ_BROADCAST_RATE", self.broadcast_rate)] {
            if !(rate.is_finite() && rate > 0.0 && rate <= 1000.0) {
                bail!("{name} must be more than 0 and at most 1000 messages a second (got {rate})");
            }
        }
        let lease = Duration::from_secs(self.send_lease_secs);
        if lease <= REQUEST_TIMEOUT {
            bail!(
                "MRJ_SEND_LEASE_SECS must be more than the {}-second request timeout (got {})",
                REQUEST_TIMEOUT.as_secs(),
                self.send_lease_secs
            );
        }
        if !(1..=30).contains(&self.points_reminder_days) {
            bail!("MRJ_POINTS_REMINDER_DAYS must be 1 to 30 (got {})", self.points_reminder_days);
        }
        if !(1..=24 * 14).contains(&self.auto_renew_lead_hours) {
            bail!("MRJ_AUTO_RENEW_LEAD_HOURS must be 1 to 336 (got {})", self.auto_renew_lead_hours);
        }
        let groups = Groups::new()
            .with(Topic::Users, self.group_users)
            .with(Topic::Finance, self.group_finance)
            .with(Topic::Servers, self.group_servers)
            .with(Topic::Support, self.group_support)
            .with(Topic::Backups, self.group_backups)
            .with(Topic::Toggles, self.group_toggles);
        Ok(TgOpsConfig {
            groups,
            rate: self.notify_rate,
            dispatcher: DispatcherConfig {
                group_interval: Duration::from_secs(self.group_interval_secs),
                lease,
                ..DispatcherConfig::default()
            },
            reminders: ReminderConfig {
                points_days_ahead: self.points_reminder_days,
                auto_renew_lead: chrono::Duration::hours(i64::from(self.auto_renew_lead_hours)),
                interval: Duration::from_secs(self.reminder_interval_secs.max(1)),
            },
            broadcast: BroadcastConfig {
                rate: self.broadcast_rate,
                lease,
                ..BroadcastConfig::default()
            },
            support_interval: Duration::from_secs(2),
        })
    }
}

/// In `serve`: starts the notifier, dispatcher, schedulers and broadcast
/// worker when a Telegram token is configured.
pub fn spawn(
    config: &Config,
    args: &TgOpsArgs,
    pool: &PgPool,
    feed: Arc<dyn Feed>,
    shutdown: &Shutdown,
    tasks: &mut tokio::task::JoinSet<()>,
) -> Result<()> {
    let ops = args.config()?;
    let Some(token) = &config.telegram.bot_token else {
        tracing::info!("TELEGRAM_BOT_TOKEN is not set: staff groups, reminders, live chat and broadcasts are not started");
        return Ok(());
    };
    let tg = Telegram::new(token, &config.telegram.api_url, REQUEST_TIMEOUT).map_err(anyhow::Error::msg)?;
    let topics: Vec<String> = ops.groups.iter().map(|(t, g)| format!("{t}={}", g.chat_id)).collect();
    tracing::info!(groups = ?topics, rate = ops.rate, broadcast_rate = ops.broadcast.rate, "Telegram operations started");
    tgops::spawn(tasks, pool.clone(), feed, tg, ops, shutdown.clone());
    Ok(())
}

#[derive(Debug, Subcommand)]
pub enum BroadcastsCommand {
    /// Campaigns, newest first, with their delivery figures.
    List,
    /// One campaign's delivery report.
    Show {
        #[arg(long)]
        id: Uuid,
    },
}

pub async fn broadcasts(pool: &PgPool, command: BroadcastsCommand) -> Result<()> {
    let ids: Vec<Uuid> = match command {
        BroadcastsCommand::List => {
            sqlx::query_scalar("SELECT id FROM broadcasts ORDER BY created_at DESC LIMIT 50")
                .fetch_all(pool)
                .await?
        }
        BroadcastsCommand::Show { id } => vec![id],
    };
    for id in ids {
        let Some(r) = tgops::broadcast::report(pool, id).await? else {
            bail!("no broadcast {id}");
        };
        let f = r.figures;
        println!(
            "{id}  {:<9}  {}  recipients {}  sent {}  blocked {}  failed {}  uncertain {}  skipped {}  pending {}",
            r.status,
            r.segment,
            r.recipients.map_or("-".to_string(), |n| n.to_string()),
            f.sent,
            f.blocked,
            f.failed,
            f.uncertain,
            f.skipped,
            r.pending + r.sending
        );
    }
    Ok(())
}
