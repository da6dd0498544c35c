//! `mrjbot`: one binary for every MRJ Bot process. `main` only parses the
//! configuration and wires crates together; the work is in the libraries.
#![forbid(unsafe_code)]

mod admin;
mod api_cli;
mod bench;
mod bench_api;
mod bot_cli;
mod commerce;
mod config;
mod gateways;
mod ops;
mod panels_cli;
mod serve;
mod tgops_cli;

use anyhow::{Context, Result};
use chrono::{DateTime, Utc};
use clap::{Parser, Subcommand};
use sqlx::PgPool;

use config::Config;

#[derive(Parser)]
#[command(name = "mrjbot", version, about = "MRJ Bot: sell V2Ray subscriptions, event-sourced")]
struct Cli {
    #[command(flatten)]
    config: Config,
    #[command(subcommand)]
    command: Command,
}

// Parsed once per run: the size of `serve`'s arguments costs nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Subcommand)]
enum Command {
    /// Apply the database migrations (also done by `serve` at start).
    Migrate,
    /// Run every consumer in one process: projectors, process manager,
    /// expiry scheduler, and the NATS relay when NATS_URL is set.
    Serve(serve::ServeArgs),
    /// Run only the relay that publishes events to NATS JetStream.
    Relay,
    /// Read-model maintenance.
    #[command(subcommand)]
    Projections(ProjectionsCommand),
    /// Replay the financial history and check the read models against it.
    /// Exits non-zero on any mismatch.
    Audit {
        /// Print every customer's balance at this instant (RFC 3339), from the events.
        #[arg(long)]
        at: Option<DateTime<Utc>>,
    },
    /// Administrators and roles.
    #[command(subcommand)]
    Admin(admin::AdminCommand),
    /// The plan catalog.
    #[command(subcommand)]
    Plans(admin::PlansCommand),
    /// Dashboard sign-in for staff: password and two-factor (TOTP).
    #[command(subcommand)]
    Staff(api_cli::StaffCommand),
    /// Print the HTTP API's OpenAPI document (JSON).
    Openapi,
    /// Bank cards that receive card-to-card payments.
    #[command(subcommand)]
    Cards(admin::CardsCommand),
    /// 3x-UI panels: add, list, check, reconcile, disable, enable.
    #[command(subcommand)]
    Panels(panels_cli::PanelsCommand),
    /// Seller commissions: rates, terms, balances, agent prices, withdrawals.
    #[command(subcommand)]
    Commissions(commerce::CommissionsCommand),
    /// Discount codes.
    #[command(subcommand)]
    Discounts(commerce::DiscountsCommand),
    /// Loyalty points: rules, grants, redemptions, leaderboard.
    #[command(subcommand)]
    Points(commerce::PointsCommand),
    /// Financial reports, as text or CSV (`--csv`).
    #[command(subcommand)]
    Reports(commerce::ReportsCommand),
    /// Switch scheduled backups on (the license must cover backups).
    EnableBackups,
    /// Switch scheduled backups off.
    DisableBackups,
    /// Open live chat support (the license must cover chat).
    EnableChat,
    /// Close live chat support.
    DisableChat,
    /// Switch AI answers on if they are off, off if they are on.
    ToggleAi,
    /// Feature toggles: list them, or switch one by name.
    #[command(subcommand)]
    Features(ops::FeaturesCommand),
    /// Give a customer (Telegram id or @username) a role; --remove takes it away.
    SetRole {
        user: String,
        role: String,
        #[arg(long)]
        remove: bool,
    },
    /// A customer's points, their next expiry, and what rewards cost.
    CheckPoints { user: String },
    /// Spend a customer's points: vip, discount:TOMAN, days:N or gb:N (with --subscription).
    RedeemPoints {
        user: String,
        reward: String,
        #[arg(long)]
        subscription: Option<uuid::Uuid>,
    },
    /// Move an active subscription to another location.
    SwitchLocation { subscription: uuid::Uuid, location: String },
    /// Backups: take one now, list them.
    #[command(subcommand)]
    Backup(ops::BackupCommand),
    /// Restore a backup (one file, or its parts in order) into an EMPTY
    /// database (DATABASE_URL, created if missing); checksums are verified first.
    Restore {
        #[arg(required = true)]
        files: Vec<std::path::PathBuf>,
        /// The whole file's SHA-256 (from the backup group's caption) when there is no .sha256 file.
        #[arg(long)]
        sha256: Option<String>,
        /// Directory with psql; default: /usr/lib/postgresql/<server major>/bin, else PATH.
        #[arg(long, env = "MRJ_PG_BIN_DIR")]
        pg_bin_dir: Option<std::path::PathBuf>,
    },
    /// The license: keygen and issue (vendor), install and show (operator).
    #[command(subcommand)]
    License(ops::LicenseCommand),
    /// Measure appends, projection lag through each feed, and rebuild speed
    /// on a scratch database created on the DATABASE_URL server.
    Bench(bench::BenchArgs),
    /// Broadcasts: campaigns and their delivery reports.
    #[command(subcommand)]
    Broadcasts(tgops_cli::BroadcastsCommand),
    /// Run only the Telegram bot (and its notifier); `serve` runs it too
    /// when TELEGRAM_BOT_TOKEN is set.
    Bot,
}

#[derive(Subcommand)]
enum ProjectionsCommand {
    /// Rebuild one read model (or all) from the event store, beside the live
    /// one, then swap it in.
    Rebuild {
        /// customers, roles, plans, cards, payments, pending_receipts,
        /// subscriptions, wallet_ledger or daily_totals; all when omitted.
        name: Option<String>,
    },
    /// Each read model's checkpoint and how far it is behind the store.
    Status,
}

fn main() -> std::process::ExitCode {
    let runtime = tokio::runtime::Runtime::new().expect("tokio runtime");
    match runtime.block_on(run()) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            // One readable line with its causes; a backtrace helps no operator.
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info,sqlx=warn".into()))
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let config = cli.config;
    config.ops.apply()?;
    match cli.command {
        Command::Bench(args) => return bench::run(&config, args).await,
        Command::Bot => bot_cli::run_only(&config).await?,
        Command::Broadcasts(c) => tgops_cli::broadcasts(&ready(&config).await?, c).await?,
        Command::Migrate => {
            let pool = connect(&config).await?;
            let applied = eventstore::migrate(&pool).await?;
            println!("migrations applied: {applied:?} (schema is current)");
        }
        Command::Serve(args) => serve::serve(&config, args).await?,
        Command::Relay => serve::relay(&config).await?,
        Command::Projections(ProjectionsCommand::Rebuild { name }) => {
            let pool = ready(&config).await?;
            let targets = match name {
                Some(n) => vec![projections::by_name(&n)?],
                None => projections::all(),
            };
            for p in targets {
                let report = projections::rebuild(&pool, p.as_ref()).await?;
                println!(
                    "{:<17} {:>9} events in {:>7.2}s  {:>10.0} events/s",
                    report.projector,
                    report.events,
                    report.elapsed.as_secs_f64(),
                    report.events_per_second()
                );
            }
        }
        Command::Projections(ProjectionsCommand::Status) => {
            let pool = ready(&config).await?;
            let head = eventstore::head(&pool).await?;
            println!("event store head: {head}");
            for p in projections::all() {
                let cp = eventstore::checkpoint(&pool, p.name()).await?;
                println!("{:<17} at {:>9}  behind {:>9}", p.name(), cp, head - cp);
            }
        }
        Command::Audit { at } => {
            let pool = ready(&config).await?;
            if let Some(at) = at {
                let balances = projections::audit::balances_at(&pool, at).await?;
                println!("balances at {at}:");
                for (customer, balance) in balances {
                    println!(
                        "{customer:>14}  {}",
                        domain::Toman::new(balance)
                            .map(|t| t.to_string())
                            .unwrap_or_else(|_| balance.to_string())
                    );
                }
            }
            let report = projections::audit::audit(&pool).await?;
            println!(
                "audited {} events: {} customers, {} ledger rows, {} days, {} report figures",
                report.events, report.customers, report.ledger_rows, report.days, report.report_figures
            );
            if !report.is_clean() {
                for m in &report.mismatches {
                    println!("MISMATCH {m}");
                }
                anyhow::bail!("{} mismatches between the events and the read models", report.mismatches.len());
            }
            println!("OK: every balance, ledger row and daily total matches the events");
        }
        Command::Admin(c) => admin::admin(&ready(&config).await?, c).await?,
        Command::EnableBackups => ops::set_feature(&ready(&config).await?, "backups", Some(true)).await?,
        Command::DisableBackups => ops::set_feature(&ready(&config).await?, "backups", Some(false)).await?,
        Command::EnableChat => ops::set_feature(&ready(&config).await?, "chat", Some(true)).await?,
        Command::DisableChat => ops::set_feature(&ready(&config).await?, "chat", Some(false)).await?,
        Command::ToggleAi => ops::set_feature(&ready(&config).await?, "ai", None).await?,
        Command::Features(c) => ops::features(&ready(&config).await?, c).await?,
        Command::SetRole { user, role, remove } => ops::set_role(&ready(&config).await?, &user, &role, remove).await?,
        Command::CheckPoints { user } => ops::check_points(&ready(&config).await?, &user).await?,
        Command::RedeemPoints {
            user,
            reward,
            subscription,
        } => ops::redeem_points(&ready(&config).await?, &user, &reward, subscription).await?,
        Command::SwitchLocation { subscription, location } => ops::switch_location(&ready(&config).await?, subscription, &location).await?,
        Command::Backup(c) => ops::backup(&config, &ready(&config).await?, c).await?,
        Command::Restore { files, sha256, pg_bin_dir } => ops::restore(&config, files, sha256, pg_bin_dir).await?,
        Command::License(c @ (ops::LicenseCommand::Keygen { .. } | ops::LicenseCommand::Issue { .. })) => ops::license(None, c).await?,
        Command::License(c) => ops::license(Some(&ready(&config).await?), c).await?,
        Command::Plans(c) => admin::plans(&ready(&config).await?, c).await?,
        Command::Cards(c) => admin::cards(&ready(&config).await?, c).await?,
        Command::Staff(c) => api_cli::staff(&ready(&config).await?, config.panels.secret_key.as_deref(), c).await?,
        Command::Openapi => api_cli::print_openapi()?,
        Command::Panels(c) => panels_cli::run(&config, &ready(&config).await?, c).await?,
        Command::Commissions(c) => commerce::commissions(&ready(&config).await?, c).await?,
        Command::Discounts(c) => commerce::discounts(&ready(&config).await?, c).await?,
        Command::Points(c) => commerce::points(&ready(&config).await?, c).await?,
        Command::Reports(c) => commerce::reports(&ready(&config).await?, c).await?,
    }
    Ok(())
}

pub async fn connect(config: &Config) -> Result<PgPool> {
    eventstore::connect_or_create(&config.database_url, config.db_pool)
        .await
        .with_context(|| format!("cannot connect to PostgreSQL at {}", redact(&config.database_url)))
}

/// Connects and makes sure the schema is current.
pub async fn ready(config: &Config) -> Result<PgPool> {
    let pool = connect(config).await?;
    eventstore::migrate(&pool).await?;
    Ok(pool)
}

/// The URL without its password, for messages and logs.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let creds = &url[s + 3..at];
            match creds.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..s + 3], &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    /// Clap checks flag clashes (two arguments named `--bot-lanes`, say)
    /// only when a subcommand is parsed; this walks every subcommand at once.
    #[test]
    fn the_command_line_is_consistent() {
        super::Cli::command().debug_assert();
    }
}
