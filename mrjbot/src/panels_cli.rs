//! `mrjbot panels …`, the panel workers of `mrjbot serve`, and `mrjbot bench panels`.
use std::io::BufRead;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use chrono::Utc;
use clap::{Args, Subcommand};
use commands::Commands;
use domain::access::Actor;
use domain::panel::{PanelCredentials, PanelSpec};
use domain::Location;
use panels::{Directory, Monitor, Provisioner, ProvisionerConsumer, Reconciler, Repair, UsageSync};
use secrets::SecretKey;
use sqlx::PgPool;
use uuid::Uuid;
use workers::{run_consumer, Feed, Shutdown};
use xui::{ClientOptions, Credentials, XuiClient};

use crate::config::Config;

/// Global settings of the panel side.
#[derive(Debug, Clone, Args)]
pub struct PanelsConfig {
    /// Passphrase (16+ characters) that encrypts panel passwords and tokens at
    /// rest; needed to add panels and to run the panel workers.
    #[arg(long, env = "MRJ_SECRET_KEY", global = true, hide_env_values = true)]
    pub secret_key: Option<String>,

    /// Brand at the start of every client email: `<brand>-<location>-<customer>-<n>`.
    #[arg(long, env = "MRJ_BRAND", default_value = "MoonVpn", global = true)]
    pub brand: String,

    /// Seconds one panel HTTP exchange may take.
    #[arg(long, env = "MRJ_PANEL_TIMEOUT_SECS", default_value_t = 15, global = true)]
    pub panel_timeout_secs: u64,
}

impl PanelsConfig {
    fn key(&self) -> Result<SecretKey> {
        let Some(k) = &self.secret_key else {
            bail!("MRJ_SECRET_KEY (or --secret-key) is required for panel credentials")
        };
        SecretKey::from_passphrase(k).map_err(|e| anyhow::anyhow!("{e}"))
    }

    fn options(&self) -> ClientOptions {
        ClientOptions {
            timeout: Duration::from_secs(self.panel_timeout_secs.max(1)),
            ..ClientOptions::default()
        }
    }

    fn directory(&self, pool: &PgPool) -> Result<Directory> {
        Ok(Directory::new(Commands::new(pool.clone()), self.key()?, self.options()))
    }
}

/// Intervals of the panel workers in `mrjbot serve`.
#[derive(Debug, Clone, Args)]
pub struct ServePanelsArgs {
    /// Seconds between usage syncs (traffic from every panel).
    #[arg(long, env = "MRJ_USAGE_SYNC_INTERVAL_SECS", default_value_t = 300)]
    pub usage_sync_interval_secs: u64,
    /// Seconds between server-status checks of every panel.
    #[arg(long, env = "MRJ_PANEL_MONITOR_INTERVAL_SECS", default_value_t = 60)]
    pub panel_monitor_interval_secs: u64,
    /// Consecutive failed checks before a panel is marked unhealthy.
    #[arg(long, env = "MRJ_PANEL_UNHEALTHY_AFTER", default_value_t = 3)]
    pub panel_unhealthy_after: u32,
    /// Seconds between reconciliations (repairing drift between events and panels).
    #[arg(long, env = "MRJ_RECONCILE_INTERVAL_SECS", default_value_t = 3600)]
    pub reconcile_interval_secs: u64,
    /// Subscriptions the provisioner handles at once.
    #[arg(long, env = "MRJ_PROVISIONER_CONCURRENCY", default_value_t = 8)]
    pub provisioner_concurrency: usize,
}

/// Starts the provisioner, usage sync, monitor and reconciler.
pub fn spawn(
    config: &Config,
    args: &ServePanelsArgs,
    pool: &PgPool,
    feed: Arc<dyn Feed>,
    shutdown: &Shutdown,
    tasks: &mut tokio::task::JoinSet<()>,
) -> Result<()> {
    if config.panels.secret_key.is_none() {
        tracing::warn!("MRJ_SECRET_KEY is not set: panel provisioning, usage sync, monitor and reconciliation are not started");
        return Ok(());
    }
    let directory = config.panels.directory(pool)?;
    let provisioner = Provisioner {
        directory: directory.clone(),
        brand: config.panels.brand.clone(),
    };
    tasks.spawn(run_consumer(
        feed,
        Arc::new(ProvisionerConsumer {
            provisioner: provisioner.clone(),
            concurrency: args.provisioner_concurrency.max(1),
        }),
        shutdown.clone(),
    ));
    let usage = UsageSync {
        directory: directory.clone(),
        interval: Duration::from_secs(args.usage_sync_interval_secs.max(10)),
    };
    tasks.spawn(usage.run_until_stopped(shutdown.clone()));
    let monitor = Monitor {
        directory,
        interval: Duration::from_secs(args.panel_monitor_interval_secs.max(5)),
        unhealthy_after: args.panel_unhealthy_after.max(1),
    };
    tasks.spawn(monitor.run_until_stopped(shutdown.clone()));
    let reconciler = Reconciler {
        provisioner,
        interval: Duration::from_secs(args.reconcile_interval_secs.max(60)),
    };
    tasks.spawn(reconciler.run_until_stopped(shutdown.clone()));
    Ok(())
}

#[derive(Subcommand)]
pub enum PanelsCommand {
    /// Register a 3x-UI panel. The password or token comes from a flag, the
    /// environment or stdin, is checked against the panel, and is stored
    /// encrypted with MRJ_SECRET_KEY; it is never printed.
    Add {
        #[arg(long)]
        name: String,
        /// Netherlands, France, Germany, United States, Singapore, or any other.
        #[arg(long)]
        location: String,
        /// The panel URL with its web base path, e.g. https://fr1.example.com:2053/abc/
        #[arg(long)]
        url: String,
        /// The subscription server, e.g. https://fr1.example.com:2096/sub/
        #[arg(long)]
        sub_url: String,
        /// Host customers connect to (default: the panel URL's host).
        #[arg(long)]
        public_host: Option<String>,
        /// An inbound id to place clients on; repeat for several.
        #[arg(long = "inbound", required = true)]
        inbounds: Vec<i64>,
        /// Clients this panel may hold.
        #[arg(long)]
        capacity: u32,
        #[arg(long)]
        username: Option<String>,
        #[arg(long, env = "MRJ_PANEL_PASSWORD", hide_env_values = true)]
        password: Option<String>,
        /// Read the password from the first line of stdin.
        #[arg(long)]
        password_stdin: bool,
        /// A v3 API token instead of a username and password.
        #[arg(long, env = "MRJ_PANEL_TOKEN", hide_env_values = true)]
        token: Option<String>,
        /// Read the API token from the first line of stdin.
        #[arg(long)]
        token_stdin: bool,
        /// Register without logging in to the panel first.
        #[arg(long)]
        no_check: bool,
    },
    /// Panels with their load, health and last server status; load per location.
    List,
    /// Log in to each panel (or one), detect its API and read its server status.
    Check {
        #[arg(long)]
        id: Option<Uuid>,
    },
    /// Compare the events with every panel and repair the differences.
    Reconcile {
        /// Only report.
        #[arg(long)]
        dry_run: bool,
    },
    /// Stop placing new clients on a panel.
    Disable {
        #[arg(long)]
        id: Uuid,
        #[arg(long)]
        reason: String,
    },
    /// Place new clients on a panel again.
    Enable {
        #[arg(long)]
        id: Uuid,
    },
}

fn first_line_of_stdin(what: &str) -> Result<String> {
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .with_context(|| format!("reading the {what} from stdin"))?;
    let line = line.trim_end_matches(['\r', '\n']).to_string();
    if line.is_empty() {
        bail!("no {what} on stdin");
    }
    Ok(line)
}

pub async fn run(config: &Config, pool: &PgPool, command: PanelsCommand) -> Result<()> {
    let cmd = Commands::new(pool.clone());
    match command {
        PanelsCommand::Add {
            name,
            location,
            url,
            sub_url,
            public_host,
            inbounds,
            capacity,
            username,
            password,
            password_stdin,
            token,
            token_stdin,
            no_check,
        } => {
            let key = config.panels.key()?;
            let location = Location::parse(&location).map_err(|e| anyhow::anyhow!("{e}"))?;
            let token = if token_stdin { Some(first_line_of_stdin("token")?) } else { token };
            let password = if password_stdin {
                Some(first_line_of_stdin("password")?)
            } else {
                password
            };
            let (plain, stored) = match (token, username, password) {
                (Some(t), None, None) => (
                    Credentials::Token(t.clone()),
                    PanelCredentials::Token {
                        token_encrypted: key.encrypt(&t),
                    },
                ),
                (None, Some(u), Some(p)) => (
                    Credentials::Password {
                        username: u.clone(),
                        password: p.clone(),
                    },
                    PanelCredentials::Password {
                        username: u,
                        password_encrypted: key.encrypt(&p),
                    },
                ),
                _ => bail!("give either --username with a password (--password, MRJ_PANEL_PASSWORD or --password-stdin), or a token"),
            };
            let public_host = match public_host {
                Some(h) => h,
                None => reqwest::Url::parse(&url)
                    .ok()
                    .and_then(|u| u.host_str().map(str::to_string))
                    .context("cannot take the public host from --url; give --public-host")?,
            };
            if !no_check {
                let xui = XuiClient::new(&url, plain, config.panels.options())?;
                let api = xui.check().await.with_context(|| format!("checking panel {name}"))?;
                for id in &inbounds {
                    xui.inbound(*id).await.with_context(|| format!("inbound {id} on panel {name}"))?;
                }
                eprintln!("panel {name}: logged in, {} API, inbounds found", api.name());
            }
            let spec = PanelSpec {
                name,
                location,
                base_url: url,
                sub_base_url: sub_url,
                public_host,
                inbound_ids: inbounds,
                capacity,
            };
            let id = cmd.register_panel(&Actor::System, spec, stored, Utc::now()).await?;
            println!("{id}");
        }
        PanelsCommand::List => {
            catch_up_models(pool, &["panels", "subscriptions"]).await?;
            let rows: Vec<PanelListRow> =
                sqlx::query_as(
                    "SELECT p.id, p.name, p.location, p.capacity, p.enabled, p.healthy, \
                     (SELECT count(*) FROM subscriptions s WHERE s.panel_id = p.id AND s.provisioning IN ('started', 'provisioned', 'missing')), \
                     st.api, st.cpu_percent, st.xray_state, st.last_error \
                     FROM panels p LEFT JOIN panel_status st ON st.panel_id = p.id WHERE NOT p.retired ORDER BY p.location, p.name",
                )
                .fetch_all(pool)
                .await?;
            println!(
                "{:<36}  {:<12} {:<14} {:>11}  {:<8} {:<9} {:<13} {:>5}  xray",
                "id", "name", "location", "load", "enabled", "health", "api", "cpu%"
            );
            let mut locations: std::collections::BTreeMap<String, (i64, i64)> = Default::default();
            for (id, name, location, capacity, enabled, healthy, load, api, cpu, xray, error) in rows {
                println!(
                    "{id}  {name:<12} {location:<14} {:>11}  {:<8} {:<9} {:<13} {:>5}  {}{}",
                    format!("{load}/{capacity}"),
                    if enabled { "yes" } else { "no" },
                    if healthy { "healthy" } else { "UNHEALTHY" },
                    api.unwrap_or_else(|| "-".into()),
                    cpu.map(|c| format!("{c:.0}")).unwrap_or_else(|| "-".into()),
                    xray.unwrap_or_else(|| "-".into()),
                    error.map(|e| format!("  ({e})")).unwrap_or_default()
                );
                if enabled && healthy {
                    let e = locations.entry(location).or_default();
                    e.0 += load;
                    e.1 += i64::from(capacity);
                }
            }
            println!("\nload per location (enabled, healthy panels):");
            for (location, (load, capacity)) in locations {
                let pct = if capacity > 0 { load as f64 * 100.0 / capacity as f64 } else { 0.0 };
                println!("  {location:<14} {load}/{capacity} ({pct:.0}%)");
            }
        }
        PanelsCommand::Check { id } => {
            let directory = config.panels.directory(pool)?;
            catch_up_models(pool, &["panels", "subscriptions"]).await?;
            let panels = match id {
                Some(id) => vec![directory.panel(id).await?],
                None => directory.panels().await?,
            };
            let mut failed = 0;
            for panel in panels {
                let xui = directory.client(&panel).await?;
                let result = async {
                    let api = xui.check().await?;
                    let status = xui.server_status().await?;
                    Ok::<_, xui::XuiError>((api, status))
                }
                .await;
                match result {
                    Ok((api, s)) => println!(
                        "{} ({}): OK, {} API, xray {} {}, cpu {:.0}%, memory {}/{} MB, disk {}/{} GB, up {} h",
                        panel.name,
                        panel.location,
                        api.name(),
                        s.xray.state,
                        s.xray.version,
                        s.cpu,
                        s.mem.current >> 20,
                        s.mem.total >> 20,
                        s.disk.current >> 30,
                        s.disk.total >> 30,
                        s.uptime / 3600
                    ),
                    Err(e) => {
                        failed += 1;
                        println!("{} ({}): FAILED: {e}", panel.name, panel.location);
                    }
                }
            }
            if failed > 0 {
                bail!("{failed} panel(s) failed the check");
            }
        }
        PanelsCommand::Reconcile { dry_run } => {
            catch_up_models(pool, &["panels", "subscriptions"]).await?;
            let reconciler = Reconciler {
                provisioner: Provisioner {
                    directory: config.panels.directory(pool)?,
                    brand: config.panels.brand.clone(),
                },
                interval: Duration::from_secs(3600),
            };
            let report = reconciler.run(dry_run).await?;
            for (panel, drift, repair) in &report.drifts {
                let what = match repair {
                    Repair::Reported => "found".to_string(),
                    Repair::Repaired => "repaired".to_string(),
                    Repair::Failed(e) => format!("NOT repaired: {e}"),
                };
                println!("{panel}: {drift:?} — {what}");
            }
            for (panel, e) in &report.unreachable {
                println!("{panel}: unreachable: {e}");
            }
            println!(
                "{} panels, {} clients checked, {} differences{}, {} clients of the operator's own left alone",
                report.panels,
                report.clients_checked,
                report.drifts.len(),
                if dry_run { " (dry run: nothing changed)" } else { "" },
                report.foreign
            );
            if !report.unreachable.is_empty() {
                bail!("{} panel(s) could not be reconciled", report.unreachable.len());
            }
        }
        PanelsCommand::Disable { id, reason } => {
            cmd.disable_panel(&Actor::System, id, reason, Utc::now()).await?;
            println!("panel {id} disabled: no new clients go there");
        }
        PanelsCommand::Enable { id } => {
            cmd.enable_panel(&Actor::System, id, Utc::now()).await?;
            println!("panel {id} enabled");
        }
    }
    Ok(())
}

/// Brings the named read models up to the store's head (the CLI reads them).
pub async fn catch_up_models(pool: &PgPool, names: &[&str]) -> Result<()> {
    for name in names {
        projections::catch_up(pool, projections::by_name(name)?.as_ref(), 2_000).await?;
    }
    Ok(())
}

/// Peak and current resident memory of this process, in MiB (Linux).
fn memory_mib() -> (f64, f64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse::<f64>().ok())
            .map_or(0.0, |kb| kb / 1024.0)
    };
    (field("VmHWM:"), field("VmRSS:"))
}

/// `mrjbot bench panels` on a scratch database made on the DATABASE_URL server (dropped afterwards).
pub async fn bench_main(config: &Config, panels: usize, clients_per_panel: usize, keep: bool) -> Result<()> {
    let scratch = crate::bench::Scratch::create(config, 32).await?;
    println!("scratch database {}", scratch.name);
    let result = bench(&scratch.pool, panels.max(1), clients_per_panel.max(1)).await;
    scratch.finish(keep).await?;
    result
}

/// `mrjbot bench panels`: provisioning throughput through the provisioner,
/// then one usage sync over every panel, against fake panels on 127.0.0.1.
pub async fn bench(pool: &PgPool, panels: usize, clients_per_panel: usize) -> Result<()> {
    use domain::plan::PlanSpec;
    use domain::{CustomerId, Language, Toman};
    use xui_fake::{FakeConfig, FakePanel};
    // A scratch database licensed by a throwaway vendor for the panels benchmarked (issue 7).
    let (vendor, verifier) = licensing::testing::vendor();
    let cmd = Commands::new(pool.clone()).with_license_verifier(verifier);
    let license = vendor.issue(&licensing::testing::claims(panels.max(1) as u32))?;
    cmd.install_license(&Actor::System, &license, Utc::now()).await?;
    let key = SecretKey::from_passphrase("bench passphrase, not a secret")?;
    let cfg = FakeConfig::classic();
    let mut fakes = Vec::new();
    for i in 0..panels {
        let fake = FakePanel::start(cfg.clone()).await;
        let inbound = fake.add_vless_reality_inbound(443, &format!("fr-{i}"));
        cmd.register_panel(
            &Actor::System,
            PanelSpec {
                name: format!("fr-{i}"),
                location: Location::parse("France")?,
                base_url: fake.base_url(),
                sub_base_url: fake.sub_base_url(),
                public_host: "127.0.0.1".into(),
                inbound_ids: vec![inbound],
                capacity: clients_per_panel as u32,
            },
            PanelCredentials::Password {
                username: cfg.username.clone(),
                password_encrypted: key.encrypt(&cfg.password),
            },
            Utc::now(),
        )
        .await?;
        fakes.push(fake);
    }
    let plan = cmd
        .create_plan(
            &Actor::System,
            PlanSpec {
                name: "Monthly 50GB".into(),
                duration_days: 30,
                traffic_gb: 50,
                price: Toman::from_int(1_000)?,
                locations: vec![Location::parse("France")?],
            },
            Utc::now(),
        )
        .await?;
    let total = panels * clients_per_panel;
    let per_customer = 15;
    let customers = total.div_ceil(per_customer);
    println!("setup: {customers} customers buying {total} subscriptions (8 writers)…");
    let started = Instant::now();
    let mut writers = Vec::new();
    for w in 0..8 {
        let cmd = cmd.clone();
        writers.push(tokio::spawn(async move {
            let mut made = 0;
            for c in (w..customers).step_by(8) {
                let id = CustomerId(10_000 + c as i64);
                cmd.register_customer(id, None, Language::En, None, Utc::now()).await?;
                cmd.adjust_wallet(
                    &Actor::System,
                    id,
                    rust_decimal::Decimal::from(1_000_000),
                    "bench".into(),
                    Utc::now(),
                )
                .await?;
                for _ in 0..per_customer.min(total - c * per_customer) {
                    cmd.purchase_plan(&Actor::System, id, plan, &Location::parse("France")?, Uuid::new_v4(), Utc::now())
                        .await?;
                    made += 1;
                }
            }
            anyhow::Ok(made)
        }));
    }
    let mut bought = 0;
    for w in writers {
        bought += w.await??;
    }
    catch_up_models(pool, &["panels", "subscriptions"]).await?;
    println!("setup done in {:.1}s ({bought} subscriptions)", started.elapsed().as_secs_f64());

    let directory = Directory::new(cmd.clone(), key, ClientOptions::default());
    let provisioner = Provisioner {
        directory: directory.clone(),
        brand: "MoonVpn".into(),
    };
    let consumer = ProvisionerConsumer {
        provisioner,
        concurrency: 8,
    };
    // The subscriptions read model follows along, as in `mrjbot serve`, so the
    // least-loaded choice sees the clients placed so far.
    let (stop, shutdown) = Shutdown::new();
    let projector_pool = pool.clone();
    let projector = tokio::spawn(async move {
        let mut shutdown = shutdown;
        while !shutdown.is_stopped() {
            let _ = catch_up_models(&projector_pool, &["subscriptions"]).await;
            tokio::select! { _ = tokio::time::sleep(Duration::from_millis(50)) => {}, _ = shutdown.stopped() => {} }
        }
    });
    let started = Instant::now();
    loop {
        let from = workers::Consumer::checkpoint(&consumer).await?;
        let events = eventstore::read_after(pool, from, 2_000).await?;
        if events.is_empty() {
            break;
        }
        workers::Consumer::handle(&consumer, &events).await?;
    }
    let provision_secs = started.elapsed().as_secs_f64();
    let _ = stop.send(true);
    projector.await?;
    catch_up_models(pool, &["panels", "subscriptions"]).await?;
    let made: usize = fakes.iter().map(|f| f.client_count()).sum();
    let per_panel: Vec<usize> = fakes.iter().map(|f| f.client_count()).collect();
    println!(
        "provisioning: {made} clients in {provision_secs:.1}s = {:.0} clients/s (8 at a time; per panel {per_panel:?})",
        made as f64 / provision_secs
    );

    // Usage: every client has used some traffic; one sync over all panels.
    for f in &fakes {
        for (_, c) in f.clients() {
            let email = c["email"].as_str().unwrap_or_default().to_string();
            f.set_traffic(&email, 1 << 30, 2 << 30, 1_700_000_000_000);
        }
        f.reset_calls();
    }
    let sync = UsageSync {
        directory,
        interval: Duration::from_secs(300),
    };
    let (_, rss_before) = memory_mib();
    let report = sync.step(Utc::now()).await?;
    let (peak, rss_after) = memory_mib();
    let panel_calls: u64 = fakes.iter().map(|f| f.total_calls()).sum();
    println!(
        "usage sync: {} panels, {} clients, {} rows written in {:.2}s; {} HTTP calls to panels ({} counted by the panels); \
         RSS {:.0} → {:.0} MiB, peak {:.0} MiB (the process also hosts the fake panels)",
        report.panels,
        report.clients_seen,
        report.rows_written,
        report.elapsed.as_secs_f64(),
        report.requests,
        panel_calls,
        rss_before,
        rss_after,
        peak
    );
    let started = Instant::now();
    let again = sync.step(Utc::now()).await?;
    println!(
        "usage sync again (session reused): {:.2}s, {} HTTP calls",
        started.elapsed().as_secs_f64(),
        again.requests
    );
    Ok(())
}

/// `panels list`: id, name, location, capacity, enabled, healthy, load, and the monitor's api, cpu, xray state and last error.
type PanelListRow = (
    Uuid,
    String,
    String,
    i32,
    bool,
    bool,
    i64,
    Option<String>,
    Option<f64>,
    Option<String>,
    Option<String>,
);
