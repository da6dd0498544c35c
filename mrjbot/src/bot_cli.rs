//! The Telegram bot (issue 4) in the binary: its configuration, `mrjbot bot`
//! (only the bot), its place in `mrjbot serve`, and `mrjbot bench bot`.
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use clap::Args;
use sha2::{Digest, Sha256};
use sqlx::PgPool;
use workers::{Feed, Shutdown};

use crate::config::Config;

#[derive(Debug, Clone, Args)]
pub struct TelegramArgs {
    /// Telegram bot token (from @BotFather). When set, `serve` runs the bot too.
    #[arg(long = "telegram-bot-token", env = "TELEGRAM_BOT_TOKEN", global = true, hide_env_values = true)]
    pub bot_token: Option<String>,
    /// Telegram Bot API base URL (a local Bot API server, or a fake in tests).
    #[arg(
        long = "telegram-api-url",
        env = "TELEGRAM_API_URL",
        default_value = "https://api.telegram.org",
        global = true
    )]
    pub api_url: String,
    /// Public HTTPS URL Telegram should POST updates to. Unset: long polling.
    #[arg(long = "telegram-webhook-url", env = "TELEGRAM_WEBHOOK_URL", global = true)]
    pub webhook_url: Option<String>,
    /// Address the webhook server listens on (behind your TLS proxy).
    #[arg(
        long = "telegram-webhook-listen",
        env = "TELEGRAM_WEBHOOK_LISTEN",
        default_value = "127.0.0.1:8443",
        global = true
    )]
    pub webhook_listen: SocketAddr,
    /// Updates the bot handles at once (one chat's updates never overlap).
    #[arg(long = "bot-lanes", env = "MRJ_BOT_LANES", default_value_t = 16, global = true)]
    pub lanes: usize,
}

/// The bot's configuration. Buttons are signed with a key derived from
/// MRJ_SECRET_KEY (or, without it, from the bot token); the webhook's secret
/// header is derived the same way.
fn bot_config(telegram: &TelegramArgs, token: &str, secret_key: Option<&str>) -> bot::BotConfig {
    let secret = match secret_key {
        Some(k) => k.to_string(),
        None => {
            tracing::warn!("MRJ_SECRET_KEY is not set: button signatures are derived from the bot token");
            format!("telegram-token:{token}")
        }
    };
    let mode = match &telegram.webhook_url {
        Some(url) => {
            let digest = Sha256::digest(format!("mrjbot/telegram/webhook/v1:{secret}").as_bytes());
            let header: String = digest.iter().map(|b| format!("{b:02x}")).collect();
            bot::Mode::Webhook {
                url: url.clone(),
                listen: telegram.webhook_listen,
                secret: header,
            }
        }
        None => bot::Mode::Polling,
    };
    bot::BotConfig {
        token: token.to_string(),
        api_url: telegram.api_url.clone(),
        secret_key: secret,
        mode,
        lanes: telegram.lanes,
        settings: bot::BotSettings::default(),
    }
}

/// In `serve`: starts the bot when a token is configured.
pub async fn spawn(
    config: &Config,
    pool: &PgPool,
    feed: Arc<dyn Feed>,
    shutdown: &Shutdown,
    tasks: &mut tokio::task::JoinSet<()>,
) -> Result<()> {
    let Some(token) = &config.telegram.bot_token else {
        tracing::info!("TELEGRAM_BOT_TOKEN is not set: the Telegram bot is not started");
        return Ok(());
    };
    let bot_config = bot_config(&config.telegram, token, config.panels.secret_key.as_deref());
    let app = bot::build(&bot_config, pool.clone())
        .await
        .context("cannot start the Telegram bot")?;
    tracing::info!(bot = %app.bot_username, mode = ?bot_config.mode, "Telegram bot started");
    // Live chat (issue 7): chat events to the people in it, through the tgops outbox.
    let relay = Arc::new(bot::handlers::ops::SupportRelay { app: app.clone() });
    tasks.spawn(workers::run_consumer(feed.clone(), relay, shutdown.clone()));
    for task in bot::spawn(app, bot_config, feed, Duration::from_secs(600), shutdown.clone()) {
        tasks.spawn(async move {
            let _ = task.await;
        });
    }
    Ok(())
}

/// `mrjbot bot`: only the bot (its notifier included), no other consumer.
pub async fn run_only(config: &Config) -> Result<()> {
    let Some(token) = &config.telegram.bot_token else {
        anyhow::bail!("TELEGRAM_BOT_TOKEN (or --telegram-bot-token) is required to run the bot");
    };
    let pool = crate::ready(config).await?;
    let feed: Arc<dyn Feed> = match &config.nats_url {
        Some(url) => Arc::new(
            workers::NatsFeed::connect(
                workers::NatsConfig {
                    url: url.clone(),
                    prefix: config.nats_prefix.clone(),
                },
                pool.clone(),
            )
            .await?,
        ),
        None => Arc::new(workers::DirectFeed::new(pool.clone())),
    };
    let bot_config = bot_config(&config.telegram, token, config.panels.secret_key.as_deref());
    let app = bot::build(&bot_config, pool.clone())
        .await
        .context("cannot start the Telegram bot")?;
    tracing::info!(bot = %app.bot_username, mode = ?bot_config.mode, "Telegram bot running; Ctrl-C or SIGTERM stops");
    let (stop, shutdown) = Shutdown::new();
    let tasks = bot::spawn(app, bot_config, feed, Duration::from_secs(600), shutdown);
    let _ = tokio::signal::ctrl_c().await;
    let _ = stop.send(true);
    for t in tasks {
        let _ = tokio::time::timeout(Duration::from_secs(10), t).await;
    }
    Ok(())
}

/// `mrjbot bench bot`: a scratch database on the DATABASE_URL server, the
/// bot against the fake Telegram server, updates per second.
pub async fn bench(config: &Config, users: usize, updates_per_user: usize, lanes: usize, keep: bool) -> Result<()> {
    let scratch = crate::bench::Scratch::create(config, config.db_pool.max(8)).await?;
    println!(
        "scratch database {}; {users} users, {updates_per_user} updates each, {lanes} lanes",
        scratch.name
    );
    let result = bot::bench::run(scratch.pool.clone(), users, updates_per_user, lanes).await;
    scratch.finish(keep).await?;
    let report = result.map_err(|e| anyhow::anyhow!(e))?;
    println!(
        "registrations (/start): {} in {:.2}s = {:.0} updates/s",
        report.registrations,
        report.registration_secs,
        report.registrations_per_second()
    );
    println!(
        "mixed commands and buttons: {} in {:.2}s = {:.0} updates/s",
        report.updates,
        report.update_secs,
        report.updates_per_second()
    );
    Ok(())
}
