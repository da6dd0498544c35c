//! `mrjbot bench`: append throughput, end-to-end projection lag through each
//! feed, and rebuild speed, on a scratch database (dropped afterwards).
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Result;
use chrono::{DateTime, Utc};
use clap::Args;
use commands::Commands;
use domain::{CustomerId, Language};
use sqlx::PgPool;
use workers::{run_consumer, DirectFeed, Feed, NatsConfig, NatsFeed, ProjectorConsumer, Relay, Shutdown};

use crate::config::Config;

#[derive(Debug, Args)]
pub struct BenchArgs {
    /// `ocr`: receipt OCR accuracy and time per receipt (no database); default: the event store.
    area: Option<String>,
    /// Receipts rendered for `bench ocr`.
    #[arg(long, default_value_t = 60)]
    receipts: usize,
    /// Keep the rendered receipts of `bench ocr` in this directory.
    #[arg(long)]
    receipts_dir: Option<std::path::PathBuf>,
    /// Events appended in the throughput phase (half by one writer, half by eight).
    #[arg(long, default_value_t = 100_000)]
    events: usize,
    /// Events appended while measuring projection lag, per feed.
    #[arg(long, default_value_t = 5_000)]
    lag_events: usize,
    /// Paced write rate (events/s) during the lag phase.
    #[arg(long, default_value_t = 500)]
    lag_rate: u32,
    /// `bench api`: seconds of load per route.
    #[arg(long, default_value_t = 10)]
    api_seconds: u64,
    /// `bench api`: concurrent keep-alive connections.
    #[arg(long, default_value_t = 32)]
    api_connections: usize,
    /// `bench api`: customers in the scratch shop.
    #[arg(long, default_value_t = 2_000)]
    api_customers: usize,
    /// Keep the scratch database instead of dropping it.
    #[arg(long)]
    keep: bool,
    /// `bench bot`: customers who each send /start and then the updates below.
    #[arg(long, default_value_t = 500)]
    bot_users: usize,
    /// `bench bot`: updates per customer after /start (commands and button presses).
    #[arg(long, default_value_t = 16)]
    bot_updates: usize,
    /// `bench panels`: fake 3x-UI panels to provision onto and sync.
    #[arg(long, default_value_t = 3)]
    panels: usize,
    /// `bench panels`: clients per panel.
    #[arg(long, default_value_t = 5_000)]
    clients_per_panel: usize,
}

pub async fn run(config: &Config, args: BenchArgs) -> Result<()> {
    match args.area.as_deref() {
        Some("ocr") => return tokio::task::block_in_place(|| crate::gateways::bench_ocr(args.receipts, args.receipts_dir.clone())),
        Some("panels") => return crate::panels_cli::bench_main(config, args.panels, args.clients_per_panel, args.keep).await,
        Some("api") => {
            return crate::bench_api::run(
                config,
                crate::bench_api::ApiBench {
                    seconds: args.api_seconds,
                    connections: args.api_connections,
                    customers: args.api_customers,
                    keep: args.keep,
                },
            )
            .await
        }
        Some("bot") => return crate::bot_cli::bench(config, args.bot_users, args.bot_updates, config.telegram.lanes, args.keep).await,
        Some(other) => anyhow::bail!("unknown bench area `{other}` (try `api`, `ocr`, `panels`, or none for the event store)"),
        None => {}
    }
    let scratch = Scratch::create(config, 32).await?;
    println!("scratch database {}", scratch.name);
    let result = measure(config, &scratch.pool, &args).await;
    scratch.finish(args.keep).await?;
    result
}

/// A database made for one benchmark on the DATABASE_URL server (whose own
/// database is created first when missing), migrated, and dropped after.
pub struct Scratch {
    pub name: String,
    pub pool: PgPool,
    admin: PgPool,
}

impl Scratch {
    pub async fn create(config: &Config, max_connections: u32) -> Result<Scratch> {
        let name = format!("mrjbot_bench_{}", uuid::Uuid::new_v4().simple());
        let admin = eventstore::connect_or_create(&config.database_url, 1).await?;
        sqlx::query(&format!("CREATE DATABASE {name}")).execute(&admin).await?;
        let url = eventstore::testing::database_url(&config.database_url, &name);
        let pool = eventstore::connect(&url, max_connections).await?;
        eventstore::migrate(&pool).await?;
        Ok(Scratch { name, pool, admin })
    }

    /// Closes the pool and drops the database unless `keep`.
    pub async fn finish(self, keep: bool) -> Result<()> {
        self.pool.close().await;
        if !keep {
            sqlx::query(&format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name))
                .execute(&self.admin)
                .await?;
        }
        Ok(())
    }
}

async fn measure(config: &Config, pool: &PgPool, args: &BenchArgs) -> Result<()> {
    let cmd = Commands::new(pool.clone());
    let half = args.events / 2;

    // 1. Appends through the real command path (load, decide, append), one event each.
    let started = Instant::now();
    for i in 0..half {
        register(&cmd, i as i64).await?;
    }
    let single = half as f64 / started.elapsed().as_secs_f64();
    let started = Instant::now();
    let mut writers = Vec::new();
    for w in 0..8 {
        let cmd = cmd.clone();
        let (from, to) = (half + w * half / 8, half + (w + 1) * half / 8);
        writers.push(tokio::spawn(async move {
            for i in from..to {
                register(&cmd, i as i64).await?;
            }
            anyhow::Ok(())
        }));
    }
    for w in writers {
        w.await??;
    }
    let concurrent = half as f64 / started.elapsed().as_secs_f64();
    println!("appends: single writer {single:.0} events/s, 8 writers {concurrent:.0} events/s");

    // 2. Rebuild every read model from the store (this also leaves them caught up).
    let head = eventstore::head(pool).await?;
    let started = Instant::now();
    let mut customers_rate = 0.0;
    for p in projections::all() {
        let report = projections::rebuild(pool, p.as_ref()).await?;
        if report.projector == "customers" {
            customers_rate = report.events_per_second();
        }
    }
    let all_rate = head as f64 / started.elapsed().as_secs_f64();
    let models = projections::all().len();
    println!(
        "rebuild of {head} events: customers {customers_rate:.0} events/s; all {models} read models {all_rate:.0} events/s of history"
    );

    // 3. Projection lag through each feed.
    let mut next = args.events as i64;
    let direct: Arc<dyn Feed> = Arc::new(DirectFeed::new(pool.clone()));
    let (p50, p99, max) = lag(pool, &cmd, direct, None, &mut next, args).await?;
    println!(
        "lag, direct feed: p50 {p50:.1} ms, p99 {p99:.1} ms, max {max:.1} ms ({} events at {}/s)",
        args.lag_events, args.lag_rate
    );
    match &config.nats_url {
        Some(url) => {
            let nats = NatsFeed::connect(
                NatsConfig {
                    url: url.clone(),
                    prefix: format!("bench{}", uuid::Uuid::new_v4().simple()),
                },
                pool.clone(),
            )
            .await?;
            let feed: Arc<dyn Feed> = Arc::new(nats.clone());
            let result = lag(pool, &cmd, feed, Some(nats.clone()), &mut next, args).await;
            nats.delete_stream().await?;
            let (p50, p99, max) = result?;
            println!("lag, NATS feed (with relay): p50 {p50:.1} ms, p99 {p99:.1} ms, max {max:.1} ms");
        }
        None => println!("lag, NATS feed: skipped (set NATS_URL)"),
    }
    Ok(())
}

async fn register(cmd: &Commands, i: i64) -> Result<()> {
    cmd.register_customer(CustomerId(1_000_000 + i), None, Language::Fa, None, Utc::now())
        .await?;
    Ok(())
}

/// Writes `lag_events` at a paced rate while every projector runs on
/// `feed`, sampling the slowest projector's checkpoint every millisecond or
/// so. An event's lag is from its commit to the first sample in which every
/// read model includes it.
async fn lag(
    pool: &PgPool,
    cmd: &Commands,
    feed: Arc<dyn Feed>,
    relay: Option<NatsFeed>,
    next: &mut i64,
    args: &BenchArgs,
) -> Result<(f64, f64, f64)> {
    let (stop, shutdown) = Shutdown::new();
    let mut tasks = Vec::new();
    if let Some(nats) = relay {
        // In production the relay runs from the first event; publish the
        // throughput phase's backlog before timing anything.
        let r = Relay::new(pool.clone(), nats);
        while r.step().await? > 0 {}
        let s = shutdown.clone();
        tasks.push(tokio::spawn(async move {
            let _ = r.run_until_stopped(s).await;
        }));
    }
    for projector in projections::all() {
        let consumer = Arc::new(ProjectorConsumer {
            pool: pool.clone(),
            projector,
        });
        tasks.push(tokio::spawn(run_consumer(feed.clone(), consumer, shutdown.clone())));
    }
    let from = eventstore::head(pool).await?;
    let target = from + args.lag_events as i64;
    let names: Vec<String> = projections::all().iter().map(|p| p.name().to_string()).collect();
    let sampler = {
        let pool = pool.clone();
        tokio::spawn(async move {
            let mut samples: Vec<(DateTime<Utc>, i64)> = Vec::new();
            loop {
                let min: i64 = sqlx::query_scalar("SELECT coalesce(min(position), 0) FROM checkpoints WHERE name = ANY($1)")
                    .bind(&names)
                    .fetch_one(&pool)
                    .await?;
                samples.push((Utc::now(), min));
                if min >= target {
                    return anyhow::Ok(samples);
                }
                tokio::time::sleep(Duration::from_micros(500)).await;
            }
        })
    };
    let mut ticker = tokio::time::interval(Duration::from_secs_f64(1.0 / f64::from(args.lag_rate.max(1))));
    let mut inflight = tokio::task::JoinSet::new();
    for _ in 0..args.lag_events {
        ticker.tick().await;
        let cmd = cmd.clone();
        let i = *next;
        *next += 1;
        inflight.spawn(async move { register(&cmd, i).await });
        while inflight.len() > 8 {
            inflight.join_next().await.expect("non-empty")??;
        }
    }
    while let Some(r) = inflight.join_next().await {
        r??;
    }
    let samples = tokio::time::timeout(Duration::from_secs(600), sampler).await???;
    let _ = stop.send(true);
    for t in tasks {
        let _ = t.await;
    }
    let events: Vec<(i64, DateTime<Utc>)> =
        sqlx::query_as("SELECT position, recorded_at FROM events WHERE position > $1 AND position <= $2 ORDER BY position")
            .bind(from)
            .bind(target)
            .fetch_all(pool)
            .await?;
    let mut lags: Vec<f64> = Vec::with_capacity(events.len());
    let mut s = 0;
    for (position, recorded) in events {
        while samples[s].1 < position {
            s += 1;
        }
        lags.push((samples[s].0 - recorded).num_microseconds().unwrap_or(0) as f64 / 1000.0);
    }
    lags.sort_by(|a, b| a.total_cmp(b));
    let pct = |p: f64| lags[((lags.len() as f64 - 1.0) * p).round() as usize];
    Ok((pct(0.5), pct(0.99), *lags.last().unwrap_or(&0.0)))
}
