//! The HTTP API and dashboard in `mrjbot serve` (issue 5), the operator's
//! `mrjbot staff` commands, and `mrjbot openapi`.
use std::io::{BufRead, IsTerminal};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{bail, Context, Result};
use api::auth::{password, sessions, totp};
use chrono::Utc;
use clap::{Args, Subcommand};
use commands::{CommandError, Commands};
use domain::staff::NewPassword;
use domain::{Actor, CustomerId};
use sqlx::PgPool;
use workers::{DirectFeed, Shutdown};

/// `mrjbot serve`'s HTTP side.
#[derive(Debug, Clone, Args)]
pub struct ApiArgs {
    /// Where the HTTP API and the dashboard listen.
    #[arg(long, env = "HTTP_ADDR", default_value = "127.0.0.1:8080")]
    pub http_addr: SocketAddr,
    /// Do not serve HTTP from this process.
    #[arg(long)]
    pub no_http: bool,
    /// Networks allowed to reach /api/admin/* and staff sign-in, e.g.
    /// `10.0.0.0/8,203.0.113.7`; unset: anywhere.
    #[arg(long, env = "MRJ_ADMIN_ALLOWED_IPS")]
    pub admin_allowed_ips: Option<String>,
    /// Take the client address from X-Forwarded-For (only behind a reverse proxy that sets it).
    #[arg(long, env = "MRJ_TRUST_FORWARDED_FOR", default_value_t = false, action = clap::ArgAction::Set)]
    pub trust_forwarded_for: bool,
    /// The built dashboard (`npm run build` in dashboard/).
    #[arg(long, env = "MRJ_DASHBOARD_DIR", default_value = "dashboard/dist")]
    pub dashboard_dir: PathBuf,
    /// Minutes an access token lives (a refresh gets a new one).
    #[arg(long, env = "MRJ_ACCESS_TOKEN_MINUTES", default_value_t = 15)]
    pub access_token_minutes: u64,
    /// Days a session lives without being used.
    #[arg(long, env = "MRJ_SESSION_DAYS", default_value_t = 30)]
    pub session_days: u64,
}

impl ApiArgs {
    pub fn api_config(&self) -> Result<api::ApiConfig> {
        let admin_allow_list = match &self.admin_allowed_ips {
            Some(s) => api::parse_allow_list(s).map_err(|e| anyhow::anyhow!("MRJ_ADMIN_ALLOWED_IPS: {e}"))?,
            None => Vec::new(),
        };
        if self.access_token_minutes == 0 || self.session_days == 0 {
            bail!("MRJ_ACCESS_TOKEN_MINUTES and MRJ_SESSION_DAYS must be at least 1");
        }
        Ok(api::ApiConfig {
            admin_allow_list,
            trust_forwarded_for: self.trust_forwarded_for,
            access_ttl: std::time::Duration::from_secs(self.access_token_minutes * 60),
            refresh_ttl: std::time::Duration::from_secs(self.session_days * 24 * 3600),
            dashboard_dir: Some(self.dashboard_dir.clone()),
            ..api::ApiConfig::default()
        })
    }
}

/// Binds `HTTP_ADDR` and serves the API, the docs and the dashboard until shutdown.
#[allow(clippy::too_many_arguments)]
pub async fn spawn(
    args: &ApiArgs,
    secret_key: Option<&str>,
    telegram: Option<api::TelegramConfig>,
    extra: axum::Router,
    pool: &PgPool,
    shutdown: &Shutdown,
    tasks: &mut tokio::task::JoinSet<()>,
) -> Result<()> {
    if args.no_http {
        return Ok(());
    }
    let Some(secret_key) = secret_key else {
        bail!("MRJ_SECRET_KEY (or --secret-key) is required to serve the HTTP API: it signs tokens and encrypts TOTP keys (or pass --no-http)");
    };
    let config = args.api_config()?;
    if !args.dashboard_dir.join("index.html").is_file() {
        tracing::warn!(dir = %args.dashboard_dir.display(), "the dashboard is not built here; serving the API only");
    }
    if telegram.is_none() {
        tracing::warn!("TELEGRAM_BOT_TOKEN is not set: customer sign-in codes and receipt photos are unavailable");
    }
    let state = api::AppState::new(pool.clone(), config, secret_key, telegram).map_err(|e| anyhow::anyhow!("MRJ_SECRET_KEY: {e}"))?;
    let listener = tokio::net::TcpListener::bind(args.http_addr)
        .await
        .with_context(|| format!("cannot listen on {} (HTTP_ADDR)", args.http_addr))?;
    tracing::info!(addr = %args.http_addr, "HTTP API, /docs and the dashboard");
    // The live task reads the store directly in every API process: a shared
    // durable JetStream consumer would split the events between processes.
    let feed = Arc::new(DirectFeed::new(pool.clone()));
    let shutdown = shutdown.clone();
    tasks.spawn(async move {
        if let Err(e) = api::serve_with(listener, state, extra, feed, shutdown).await {
            tracing::error!(error = %e, "HTTP server stopped");
        }
    });
    Ok(())
}

#[derive(Subcommand)]
pub enum StaffCommand {
    /// Give a Telegram user who holds a role a dashboard password (read from
    /// stdin, or asked twice without echo on a terminal).
    Add {
        #[arg(long)]
        telegram_id: i64,
    },
    /// Set a new password (stdin or prompt); every session of the account ends.
    Passwd {
        #[arg(long)]
        telegram_id: i64,
    },
    /// Turn on two-factor sign-in and print the key for an authenticator app
    /// (with a QR code); `--disable` turns it off. Needs MRJ_SECRET_KEY.
    Totp {
        #[arg(long)]
        telegram_id: i64,
        #[arg(long)]
        disable: bool,
    },
    /// Staff accounts, from the read model.
    List,
}

fn read_password() -> Result<NewPassword> {
    let stdin = std::io::stdin();
    let typed = if stdin.is_terminal() {
        let first = rpassword::prompt_password("New password: ")?;
        let second = rpassword::prompt_password("Again: ")?;
        if first != second {
            bail!("the two passwords differ");
        }
        first
    } else {
        let mut line = String::new();
        stdin.lock().read_line(&mut line)?;
        line.trim_end_matches(['\r', '\n']).to_string()
    };
    NewPassword::parse(&typed).map_err(|e| anyhow::anyhow!("{e}"))
}

fn id(raw: i64) -> Result<CustomerId> {
    Ok(CustomerId::parse(&raw.to_string())?)
}

pub async fn staff(pool: &PgPool, secret_key: Option<&str>, command: StaffCommand) -> Result<()> {
    let cmd = Commands::new(pool.clone());
    let now = Utc::now();
    match command {
        StaffCommand::Add { telegram_id } => {
            let who = id(telegram_id)?;
            let pw = read_password()?;
            let hash = tokio::task::spawn_blocking(move || password::hash(&pw)).await?;
            cmd.create_staff_account(&Actor::System, who, hash, now).await?;
            println!("{who} can now sign in to the dashboard with that password");
        }
        StaffCommand::Passwd { telegram_id } => {
            let who = id(telegram_id)?;
            cmd.staff_account(who).await?;
            let pw = read_password()?;
            let hash = tokio::task::spawn_blocking(move || password::hash(&pw)).await?;
            cmd.change_staff_password(&Actor::System, who, hash, now).await?;
            let ended = sessions::revoke_all(pool, who.0, None, None, "password changed by the operator").await?;
            println!("password of {who} changed; {ended} session(s) ended");
        }
        StaffCommand::Totp { telegram_id, disable } => {
            let who = id(telegram_id)?;
            if disable {
                cmd.disable_staff_totp(&Actor::System, who, now).await?;
                println!("two-factor sign-in is off for {who}");
                return Ok(());
            }
            let Some(passphrase) = secret_key else {
                bail!("MRJ_SECRET_KEY (or --secret-key) is required: the TOTP key is stored encrypted with it");
            };
            let key = secrets::SecretKey::from_passphrase(passphrase).map_err(|e| anyhow::anyhow!("MRJ_SECRET_KEY: {e}"))?;
            let account = cmd.staff_account(who).await?;
            if account.totp_secret_encrypted.is_some() {
                bail!("two-factor sign-in is already on for {who}; `--disable` it first to issue a new key");
            }
            let secret = totp::new_secret();
            match cmd.enable_staff_totp(&Actor::System, who, key.encrypt(&secret), now).await {
                Ok(()) => {}
                Err(CommandError::NotFound(_)) => bail!("{who} has no staff account; `mrjbot staff add` first"),
                Err(e) => return Err(e.into()),
            }
            let url = totp::otpauth_url(&secret, "MRJ Bot", &who.to_string()).context("a fresh TOTP key")?;
            println!("two-factor sign-in is on for {who}. Add this key to an authenticator app:\n");
            println!("  key: {secret}\n  uri: {url}\n");
            if let Ok(code) = qrcode::QrCode::new(url.as_bytes()) {
                println!("{}", code.render::<qrcode::render::unicode::Dense1x2>().quiet_zone(true).build());
            }
        }
        StaffCommand::List => {
            let rows: Vec<StaffRow> = sqlx::query_as(
                "SELECT s.telegram_id, c.username, coalesce(c.roles, '{}'), s.totp_enabled, s.suspended \
                 FROM staff_accounts s LEFT JOIN customers c ON c.telegram_id = s.telegram_id ORDER BY s.created_at",
            )
            .fetch_all(pool)
            .await?;
            for (tid, username, roles, totp_on, suspended) in rows {
                let name = username.map(|u| format!(" @{u}")).unwrap_or_default();
                let flags = [(totp_on, "2FA"), (suspended, "SUSPENDED")]
                    .iter()
                    .filter(|(on, _)| *on)
                    .map(|(_, f)| *f)
                    .collect::<Vec<_>>()
                    .join(", ");
                println!("{tid}{name}  roles: {}  {flags}", roles.join(","));
            }
        }
    }
    Ok(())
}

/// `mrjbot openapi`: the OpenAPI document of every route, as JSON.
pub fn print_openapi() -> Result<()> {
    println!("{}", serde_json::to_string_pretty(&api::openapi())?);
    Ok(())
}

/// `staff list`: telegram id, username, roles, two-factor on, suspended.
type StaffRow = (i64, Option<String>, Vec<String>, bool, bool);
