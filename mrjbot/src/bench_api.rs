//! `mrjbot bench api`: requests per second and latency of the hottest read
//! routes with a warm cache, on a scratch database (dropped afterwards).
//!
//! The server and the load generator share the process (and the machine's
//! cores): the figures are what one box serves while also making the load.
//! Each route gets `connections` keep-alive clients for `seconds`.
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use api::auth::{password, sessions, SessionKind};
use chrono::Utc;
use commands::Commands;
use domain::access::RoleName;
use domain::payment::PaymentPurpose;
use domain::plan::PlanSpec;
use domain::staff::NewPassword;
use domain::{Actor, CardNumber, CustomerId, Language, Location, Toman};
use sqlx::PgPool;
use workers::{run_consumer, DirectFeed, Feed, ProjectorConsumer, Shutdown};

use crate::config::Config;

pub struct ApiBench {
    pub seconds: u64,
    pub connections: usize,
    pub customers: usize,
    pub keep: bool,
}

pub async fn run(config: &Config, b: ApiBench) -> Result<()> {
    let scratch = crate::bench::Scratch::create(config, 32).await?;
    println!("scratch database {}", scratch.name);
    let result = measure(&scratch.pool, &b).await;
    scratch.finish(b.keep).await?;
    result
}

const ADMIN: CustomerId = CustomerId(1);

/// A shop with customers, plans, a card, balances and a queue of receipts.
async fn seed(pool: &PgPool, customers: usize) -> Result<()> {
    let cmd = Commands::new(pool.clone());
    let now = Utc::now();
    cmd.register_customer(ADMIN, Some("boss".into()), Language::En, None, now).await?;
    cmd.grant_role(&Actor::System, ADMIN, RoleName::Admin, now).await?;
    let pw = NewPassword::parse("benchmark password").map_err(|e| anyhow::anyhow!("{e}"))?;
    cmd.create_staff_account(&Actor::System, ADMIN, password::hash(&pw), now).await?;
    let france = Location::parse("France")?;
    for (i, (days, gb, price)) in [
        (30, 50, 150_000),
        (30, 0, 250_000),
        (90, 150, 400_000),
        (7, 10, 40_000),
        (365, 0, 900_000),
    ]
    .into_iter()
    .enumerate()
    {
        cmd.create_plan(
            &Actor::System,
            PlanSpec {
                name: format!("Plan {i}: {days} days"),
                duration_days: days,
                traffic_gb: gb,
                price: Toman::from_int(price)?,
                locations: vec![france.clone(), Location::parse("Germany")?],
            },
            now,
        )
        .await?;
    }
    cmd.add_card(
        &Actor::System,
        CardNumber::parse("6037997599999993")?,
        "Reza Ahmadi".into(),
        None,
        now,
    )
    .await?;
    // Card payments pick their card from the `cards` read model.
    for p in projections::all() {
        projections::catch_up(pool, p.as_ref(), 2_000).await?;
    }
    let mut tasks = tokio::task::JoinSet::new();
    for w in 0..8usize {
        let cmd = cmd.clone();
        tasks.spawn(async move {
            for i in (w..customers).step_by(8) {
                let id = CustomerId(1000 + i as i64);
                cmd.register_customer(id, Some(format!("customer{i}")), Language::Fa, None, now)
                    .await?;
                cmd.adjust_wallet(
                    &Actor::System,
                    id,
                    rust_decimal::Decimal::from(100_000 + i as i64),
                    "opening".into(),
                    now,
                )
                .await?;
                if i % 20 == 0 {
                    let p = cmd
                        .create_card_payment(id, Toman::from_int(50_000)?, PaymentPurpose::WalletTopUp, None, now)
                        .await?;
                    let payer = cmd.actor(id).await?;
                    cmd.submit_receipt(&payer, p, format!("AgACbench{i}"), now).await?;
                }
            }
            anyhow::Ok(())
        });
    }
    while let Some(r) = tasks.join_next().await {
        r??;
    }
    for p in projections::all() {
        projections::catch_up(pool, p.as_ref(), 2_000).await?;
    }
    Ok(())
}

struct Route {
    path: &'static str,
    token: Option<String>,
    cached: bool,
}

async fn measure(pool: &PgPool, b: &ApiBench) -> Result<()> {
    let started = Instant::now();
    seed(pool, b.customers).await?;
    println!(
        "seeded {} customers, 5 plans, {} pending receipts in {:.1}s",
        b.customers,
        b.customers.div_ceil(20),
        started.elapsed().as_secs_f64()
    );

    let state = api::AppState::new(pool.clone(), api::ApiConfig::default(), "benchmark secret key, not for use", None)
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let (stop, shutdown) = Shutdown::new();
    let feed: Arc<dyn Feed> = Arc::new(DirectFeed::new(pool.clone()));
    for projector in projections::all() {
        let consumer = Arc::new(ProjectorConsumer {
            pool: pool.clone(),
            projector,
        });
        tokio::spawn(run_consumer(feed.clone(), consumer, shutdown.clone()));
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    let server = tokio::spawn(api::serve(listener, state.clone(), feed, shutdown));

    let token = |id: CustomerId, kind: SessionKind| {
        let state = state.clone();
        let pool = pool.clone();
        async move {
            let (session, _) = sessions::create(&pool, kind, id.0, None, Some("bench".into()), Duration::from_secs(3600)).await?;
            anyhow::Ok(state.auth.access_token(id, session, kind, Duration::from_secs(3600)))
        }
    };
    let staff = token(ADMIN, SessionKind::Staff).await?;
    let customer = token(CustomerId(1000), SessionKind::Customer).await?;
    let routes = [
        Route {
            path: "/api/plans",
            token: None,
            cached: true,
        },
        Route {
            path: "/api/me",
            token: Some(customer.clone()),
            cached: true,
        },
        Route {
            path: "/api/admin/payments/pending",
            token: Some(staff.clone()),
            cached: true,
        },
        Route {
            path: "/api/admin/overview",
            token: Some(staff.clone()),
            cached: true,
        },
        Route {
            path: "/api/admin/reports/daily",
            token: Some(staff.clone()),
            cached: true,
        },
        Route {
            path: "/api/me/transactions",
            token: Some(customer.clone()),
            cached: false,
        },
    ];
    let client = reqwest::Client::builder().pool_max_idle_per_host(b.connections).build()?;
    println!(
        "{} connections for {} s per route, server and load generator in one process\n",
        b.connections, b.seconds
    );
    println!(
        "{:<30} {:>9} {:>9} {:>9} {:>9}  cache",
        "route", "req/s", "p50 ms", "p99 ms", "max ms"
    );
    for route in &routes {
        // Warm up: fill the caches and the connection pool.
        for _ in 0..200 {
            get(&client, &base, route).await?;
        }
        let deadline = Instant::now() + Duration::from_secs(b.seconds);
        let began = Instant::now();
        let mut workers = tokio::task::JoinSet::new();
        for _ in 0..b.connections {
            let client = client.clone();
            let base = base.clone();
            let route = Route {
                path: route.path,
                token: route.token.clone(),
                cached: route.cached,
            };
            workers.spawn(async move {
                let mut latencies = Vec::with_capacity(50_000);
                while Instant::now() < deadline {
                    let t = Instant::now();
                    get(&client, &base, &route).await?;
                    latencies.push(t.elapsed());
                }
                anyhow::Ok(latencies)
            });
        }
        let mut all = Vec::new();
        while let Some(r) = workers.join_next().await {
            all.extend(r??);
        }
        let elapsed = began.elapsed().as_secs_f64();
        all.sort();
        let pct = |p: f64| all[((all.len() as f64 * p) as usize).min(all.len() - 1)].as_secs_f64() * 1000.0;
        println!(
            "{:<30} {:>9.0} {:>9.2} {:>9.2} {:>9.2}  {}",
            route.path,
            all.len() as f64 / elapsed,
            pct(0.50),
            pct(0.99),
            all.last().map(|d| d.as_secs_f64() * 1000.0).unwrap_or(0.0),
            if route.cached { "warm" } else { "none (reads PostgreSQL)" }
        );
    }
    let _ = stop.send(true);
    let _ = tokio::time::timeout(Duration::from_secs(5), server).await;
    Ok(())
}

async fn get(client: &reqwest::Client, base: &str, route: &Route) -> Result<()> {
    let mut req = client.get(format!("{base}{}", route.path));
    if let Some(t) = &route.token {
        req = req.bearer_auth(t);
    }
    let res = req.send().await.with_context(|| route.path.to_string())?;
    let status = res.status();
    let body = res.bytes().await?;
    if !status.is_success() {
        anyhow::bail!("{} answered {status}: {}", route.path, String::from_utf8_lossy(&body));
    }
    Ok(())
}
