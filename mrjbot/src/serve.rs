//! `mrjbot serve` and `mrjbot relay`: long-running processes.
use std::sync::Arc;
use std::time::Duration;

use anyhow::Result;
use clap::Args;
use commands::Commands;
use workers::{run_consumer, DirectFeed, ExpiryScheduler, Feed, NatsConfig, NatsFeed, ProcessManager, ProjectorConsumer, Relay, Shutdown};

use crate::config::Config;

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// The 3x-UI panel workers (issue 3).
    #[command(flatten)]
    panels: crate::panels_cli::ServePanelsArgs,
    /// The HTTP API and the dashboard (issue 5).
    #[command(flatten)]
    api: crate::api_cli::ApiArgs,
    /// Scheduled backups (issue 7).
    #[command(flatten)]
    backups: crate::ops::BackupArgs,
    /// Do not run the relay here (another process runs `mrjbot relay`).
    #[arg(long)]
    no_relay: bool,
    /// Seconds between expiry scans.
    #[arg(long, env = "MRJ_EXPIRY_INTERVAL_SECS", default_value_t = 60)]
    expiry_interval_secs: u64,
    /// Seconds between commerce scheduler passes: commission releases, points
    /// expiry and account-age awards (each dated at its own instant).
    #[arg(long, env = "MRJ_COMMERCE_INTERVAL_SECS", default_value_t = 60)]
    commerce_interval_secs: u64,
    /// Payment gateways and receipt OCR (issue 6).
    #[command(flatten)]
    gateways: crate::gateways::GatewayArgs,
    /// Staff groups, reminders, live chat and broadcasts (issue 7).
    #[command(flatten)]
    tgops: crate::tgops_cli::TgOpsArgs,
}

async fn nats_feed(config: &Config, pool: &sqlx::PgPool) -> Result<Option<NatsFeed>> {
    let Some(url) = &config.nats_url else { return Ok(None) };
    let feed = NatsFeed::connect(
        NatsConfig {
            url: url.clone(),
            prefix: config.nats_prefix.clone(),
        },
        pool.clone(),
    )
    .await?;
    Ok(Some(feed))
}

async fn wait_for_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).expect("SIGTERM handler");
        tokio::select! { _ = ctrl_c => {}, _ = term.recv() => {} }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}

pub async fn serve(config: &Config, args: ServeArgs) -> Result<()> {
    let pool = crate::ready(config).await?;
    let (stop, shutdown) = Shutdown::new();
    let mut tasks = tokio::task::JoinSet::new();
    let nats = nats_feed(config, &pool).await?;
    let feed: Arc<dyn Feed> = match &nats {
        Some(n) => {
            tracing::info!(prefix = %config.nats_prefix, "event feed: NATS JetStream");
            Arc::new(n.clone())
        }
        None => {
            tracing::info!("event feed: direct from the event store (NATS_URL unset)");
            Arc::new(DirectFeed::new(pool.clone()))
        }
    };
    if let (Some(n), false) = (&nats, args.no_relay) {
        let relay = Relay::new(pool.clone(), n.clone());
        let s = shutdown.clone();
        tasks.spawn(async move {
            if let Err(e) = relay.run_until_stopped(s).await {
                tracing::error!(error = %e, "relay stopped");
            }
        });
    }
    for projector in projections::all() {
        let consumer = Arc::new(ProjectorConsumer {
            pool: pool.clone(),
            projector,
        });
        tasks.spawn(run_consumer(feed.clone(), consumer, shutdown.clone()));
    }
    let commands = Commands::new(pool.clone());
    tasks.spawn(run_consumer(
        feed.clone(),
        Arc::new(ProcessManager {
            commands: commands.clone(),
        }),
        shutdown.clone(),
    ));
    let scheduler = ExpiryScheduler {
        commands,
        interval: Duration::from_secs(args.expiry_interval_secs.max(1)),
    };
    tasks.spawn(scheduler.run_until_stopped(shutdown.clone()));
    // Commerce (issue 6): reactions to sales and refunds, and its scheduler.
    let commerce = Commands::new(pool.clone());
    tasks.spawn(run_consumer(
        feed.clone(),
        Arc::new(workers::CommerceConsumer {
            commands: commerce.clone(),
        }),
        shutdown.clone(),
    ));
    let commerce_scheduler = workers::CommerceScheduler {
        commands: commerce,
        interval: Duration::from_secs(args.commerce_interval_secs.max(1)),
        catch_up_wait: Duration::from_secs(10),
    };
    tasks.spawn(commerce_scheduler.run_until_stopped(shutdown.clone()));
    crate::panels_cli::spawn(config, &args.panels, &pool, feed.clone(), &shutdown, &mut tasks)?;
    // The Telegram bot (issue 4), when TELEGRAM_BOT_TOKEN is set.
    crate::bot_cli::spawn(config, &pool, feed.clone(), &shutdown, &mut tasks).await?;
    // Staff groups, reminders and auto-renewal, live chat, broadcasts (issue 7), with the same token.
    crate::tgops_cli::spawn(config, &args.tgops, &pool, feed.clone(), &shutdown, &mut tasks)?;
    // Payment gateways and receipt OCR (issue 6): Zarinpal callback and reconciler, USDT watcher, OCR worker.
    crate::gateways::spawn(&args.gateways, &Commands::new(pool.clone()), feed.clone(), &mut tasks, &shutdown).await?;
    // The HTTP API and the dashboard (issue 5); Telegram for sign-in codes and receipt photos.
    let telegram = config.telegram.bot_token.clone().map(|token| api::TelegramConfig {
        api_url: config.telegram.api_url.clone(),
        token,
    });
    // The Zarinpal callback is public on the API's address (unless MRJ_GATEWAY_HTTP_ADDR serves it).
    let extra = match args.gateways.zarinpal(&Commands::new(pool.clone()))? {
        Some(checkout) if args.gateways.gateway_http_addr.is_none() => gateways::zarinpal::callback_router(Arc::new(checkout)),
        _ => axum::Router::new(),
    };
    crate::api_cli::spawn(
        &args.api,
        config.panels.secret_key.as_deref(),
        telegram,
        extra,
        &pool,
        &shutdown,
        &mut tasks,
    )
    .await?;
    // Scheduled backups (issue 7): one per slot while the backups feature is on and licensed.
    let backup_scheduler = args.backups.scheduler(config, Commands::new(pool.clone()))?;
    tasks.spawn(backup_scheduler.run_until_stopped(shutdown.clone()));
    tracing::info!(tasks = tasks.len(), "mrjbot serving; Ctrl-C or SIGTERM stops");
    wait_for_signal().await;
    tracing::info!("stopping");
    let _ = stop.send(true);
    while tasks.join_next().await.is_some() {}
    Ok(())
}

pub async fn relay(config: &Config) -> Result<()> {
    let pool = crate::ready(config).await?;
    let Some(nats) = nats_feed(config, &pool).await? else {
        anyhow::bail!("NATS_URL is not set: there is nothing to relay to");
    };
    let (stop, shutdown) = Shutdown::new();
    let task = tokio::spawn(Relay::new(pool, nats).run_until_stopped(shutdown));
    wait_for_signal().await;
    let _ = stop.send(true);
    task.await??;
    Ok(())
}
