//! `mrjbot bench bot`: updates handled per second by one bot process with
//! the real PostgreSQL behind it, against the fake Telegram server
//! (`tgfake`) on 127.0.0.1. The backbone's projectors and process manager
//! run in the same process, as in `mrjbot serve`.
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use commands::Commands;
use domain::access::Actor;
use domain::plan::PlanSpec;
use domain::{CardNumber, Location, Toman};
use sqlx::PgPool;
use tgfake::{TgFake, TgUser};
use workers::{run_consumer, DirectFeed, Feed, ProcessManager, ProjectorConsumer, Shutdown};

use crate::callback::{location_handle, Action, Signer};
use crate::{BotConfig, BotSettings, Mode};

#[derive(Debug, Clone)]
pub struct BenchReport {
    pub users: usize,
    pub registrations: usize,
    pub registration_secs: f64,
    pub updates: usize,
    pub update_secs: f64,
    pub lanes: usize,
}

impl BenchReport {
    pub fn registrations_per_second(&self) -> f64 {
        self.registrations as f64 / self.registration_secs
    }
    pub fn updates_per_second(&self) -> f64 {
        self.updates as f64 / self.update_secs
    }
}

async fn handled(pool: &PgPool) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("SELECT count(*) FROM bot_inbox WHERE handled_at IS NOT NULL")
        .fetch_one(pool)
        .await
}

async fn wait_handled(pool: &PgPool, target: i64, limit: Duration) -> Result<(), String> {
    let deadline = Instant::now() + limit;
    loop {
        let done = handled(pool).await.map_err(|e| e.to_string())?;
        if done >= target {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(format!("only {done} of {target} updates handled within {limit:?}"));
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Runs the benchmark on `pool` (a scratch, migrated database): `users`
/// newcomers send `/start`, then each sends `per_user` more updates — a mix
/// of commands and button presses (wallet, plans, a plan, transactions,
/// profile, help, payments, subscriptions).
pub async fn run(pool: PgPool, users: usize, per_user: usize, lanes: usize) -> Result<BenchReport, String> {
    let fake = TgFake::start().await;
    let (stop, shutdown) = Shutdown::new();
    let feed: Arc<dyn Feed> = Arc::new(DirectFeed::new(pool.clone()));
    let mut tasks = Vec::new();
    for projector in projections::all() {
        let consumer = Arc::new(ProjectorConsumer {
            pool: pool.clone(),
            projector,
        });
        tasks.push(tokio::spawn(run_consumer(feed.clone(), consumer, shutdown.clone())));
    }
    let commands = Commands::new(pool.clone());
    tasks.push(tokio::spawn(run_consumer(
        feed.clone(),
        Arc::new(ProcessManager {
            commands: commands.clone(),
        }),
        shutdown.clone(),
    )));
    let at = Utc::now();
    let plan = commands
        .create_plan(
            &Actor::System,
            PlanSpec {
                name: "Bench 30d".into(),
                duration_days: 30,
                traffic_gb: 50,
                price: Toman::from_int(150_000).expect("valid"),
                locations: vec![Location::parse("France").expect("valid")],
            },
            at,
        )
        .await
        .map_err(|e| e.to_string())?;
    commands
        .add_card(
            &Actor::System,
            CardNumber::parse("6037997599999993").expect("valid"),
            "Bench Holder".into(),
            None,
            at,
        )
        .await
        .map_err(|e| e.to_string())?;
    let secret = "bench secret key, long enough";
    let config = BotConfig {
        token: fake.token().to_string(),
        api_url: fake.api_url(),
        secret_key: secret.into(),
        mode: Mode::Polling,
        lanes,
        settings: BotSettings::default(),
    };
    let app = crate::build(&config, pool.clone()).await.map_err(|e| e.to_string())?;
    tasks.extend(crate::spawn(app, config, feed, Duration::from_secs(3600), shutdown));

    let people: Vec<TgUser> = (0..users)
        .map(|i| TgUser::new(5_000_000 + i as i64, "Bench").language(if i % 2 == 0 { "fa" } else { "en" }))
        .collect();
    // Phase 1: registrations.
    let started = Instant::now();
    for u in &people {
        fake.send_text(u, "/start");
    }
    wait_handled(&pool, users as i64, Duration::from_secs(600)).await?;
    let registration_secs = started.elapsed().as_secs_f64();

    // Phase 2: a mix of commands and signed button presses on the welcome message.
    let signer = Signer::new(secret);
    let france = location_handle("France");
    let started = Instant::now();
    let mut sent = 0;
    for round in 0..per_user {
        for u in &people {
            let welcome = fake.messages(u.id).first().map(|m| m.message_id).unwrap_or(1);
            match round % 8 {
                0 => fake.send_text(u, "/wallet"),
                1 => fake.click(u, welcome, &signer.sign(u.id, &Action::Locations)),
                2 => fake.click(u, welcome, &signer.sign(u.id, &Action::Plan { plan, location: france })),
                3 => fake.send_text(u, "/transactions"),
                4 => fake.click(u, welcome, &signer.sign(u.id, &Action::Profile)),
                5 => fake.send_text(u, "/help"),
                6 => fake.send_text(u, "/payment"),
                _ => fake.click(u, welcome, &signer.sign(u.id, &Action::Subscriptions)),
            };
            sent += 1;
        }
    }
    wait_handled(&pool, (users + sent) as i64, Duration::from_secs(1200)).await?;
    let update_secs = started.elapsed().as_secs_f64();
    let _ = stop.send(true);
    for t in tasks {
        t.abort();
    }
    Ok(BenchReport {
        users,
        registrations: users,
        registration_secs,
        updates: sent,
        update_secs,
        lanes,
    })
}
