//! Operator commands of issue 7: feature toggles, roles, points and location
//! switches by hand, backups and restore, the license. Each change is an
//! event-sourced command run as the trusted `System` actor, and prints one line.
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use backups::{
    BackupScheduler, BackupSettings, ConfigSnapshot, Retention, StepOutcome, TelegramUploader, UploadRetryPolicy, TELEGRAM_UPLOAD_LIMIT,
};
use chrono::{DateTime, Utc};
use clap::{Args, Subcommand};
use commands::{CommandError, Commands};
use domain::access::{Actor, RoleName};
use domain::customer::CustomerError;
use domain::features::Feature;
use domain::license::LicenseClaims;
use domain::points::Reward;
use domain::{CustomerId, Location, Toman};
use sqlx::PgPool;
use uuid::Uuid;

use crate::config::Config;

/// Global settings of issue 7's operator side.
#[derive(Debug, Clone, Args)]
pub struct OpsConfig {
    /// Trust license keys signed by this public key instead of the vendor's
    /// compiled-in one (`mrj-license-public-v1:…`). Development builds only:
    /// tests use it; a release build refuses it.
    #[arg(long, env = "MRJ_LICENSE_PUBLIC_KEY", global = true, hide = true)]
    pub license_public_key: Option<String>,
}

impl OpsConfig {
    /// Applies the license key override, once, before any command runs.
    pub fn apply(&self) -> Result<()> {
        let Some(key) = self.license_public_key.as_deref().filter(|k| !k.trim().is_empty()) else {
            return Ok(());
        };
        if !cfg!(debug_assertions) {
            bail!("--license-public-key (MRJ_LICENSE_PUBLIC_KEY) is for tests and development builds only");
        }
        let verifier = licensing::Verifier::from_public(key).context("--license-public-key")?;
        licensing::replace_vendor_key(verifier);
        Ok(())
    }
}

/// Backups: where, how often, how many, and the backup group.
#[derive(Debug, Clone, Args)]
pub struct BackupArgs {
    /// Directory holding the backups.
    #[arg(long, env = "MRJ_BACKUP_DIR", default_value = ".mrjbot/backups")]
    pub backup_dir: PathBuf,
    /// Minutes between scheduled backups (when the backups feature is on).
    #[arg(long, env = "MRJ_BACKUP_INTERVAL_MINS", default_value_t = 30)]
    pub backup_interval_mins: u64,
    /// How many of the newest backups are kept.
    #[arg(long, env = "MRJ_BACKUP_KEEP_RECENT", default_value_t = 48)]
    pub backup_keep_recent: usize,
    /// For how many days the last backup of the day is kept.
    #[arg(long, env = "MRJ_BACKUP_KEEP_DAILY", default_value_t = 14)]
    pub backup_keep_daily: usize,
    /// Telegram group the backups are sent to (a negative chat id); unset: kept locally only.
    #[arg(long, env = "MRJ_BACKUP_CHAT_ID", allow_hyphen_values = true)]
    pub backup_chat_id: Option<i64>,
    /// Largest piece sent to Telegram; bigger backups go in parts (the Bot API takes 50 MB).
    #[arg(long, env = "MRJ_BACKUP_PART_BYTES", default_value_t = TELEGRAM_UPLOAD_LIMIT)]
    pub backup_part_bytes: u64,
    /// Attempts at sending a backup to the group, the first included; a failed send is tried again later.
    #[arg(long, env = "MRJ_BACKUP_UPLOAD_ATTEMPTS", default_value_t = 6, value_parser = clap::value_parser!(u32).range(1..))]
    pub backup_upload_attempts: u32,
    /// Minutes before the first retry of a failed send; doubled after each further failure (at most 6 hours).
    #[arg(long, env = "MRJ_BACKUP_UPLOAD_RETRY_MINS", default_value_t = 5)]
    pub backup_upload_retry_mins: u32,
    /// Bot token that sends the backups.
    #[arg(long, env = "TELEGRAM_BOT_TOKEN", hide_env_values = true)]
    pub backup_bot_token: Option<String>,
    /// Telegram Bot API base URL.
    #[arg(long, env = "TELEGRAM_API_URL", default_value = "https://api.telegram.org")]
    pub backup_telegram_api_url: String,
    /// Directory with pg_dump and psql; default: /usr/lib/postgresql/<server major>/bin, else PATH.
    #[arg(long, env = "MRJ_PG_BIN_DIR")]
    pub pg_bin_dir: Option<PathBuf>,
}

impl BackupArgs {
    fn uploader(&self) -> Result<Option<TelegramUploader>> {
        match (self.backup_chat_id, &self.backup_bot_token) {
            (None, _) => Ok(None),
            (Some(_), None) => bail!("MRJ_BACKUP_CHAT_ID is set but TELEGRAM_BOT_TOKEN is not: backups cannot be sent"),
            (Some(chat), Some(token)) => Ok(Some(TelegramUploader::new(
                &self.backup_telegram_api_url,
                token,
                chat,
                self.backup_part_bytes,
            ))),
        }
    }

    /// The configuration written into each backup; secrets encrypted with MRJ_SECRET_KEY.
    fn snapshot(&self, config: &Config) -> ConfigSnapshot {
        let key = config
            .panels
            .secret_key
            .as_deref()
            .and_then(|k| secrets::SecretKey::from_passphrase(k).ok());
        let mut s = ConfigSnapshot::default();
        s.plain("DATABASE_URL (password removed)", crate::redact(&config.database_url));
        s.secret("DATABASE_URL", &config.database_url, key.as_ref());
        if let Some(n) = &config.nats_url {
            s.plain("NATS_URL (password removed)", crate::redact(n));
        }
        s.plain("MRJ_NATS_PREFIX", &config.nats_prefix);
        s.plain("MRJ_DB_POOL", config.db_pool.to_string());
        s.plain("MRJ_BRAND", &config.panels.brand);
        s.plain("MRJ_BACKUP_INTERVAL_MINS", self.backup_interval_mins.to_string());
        s.plain("MRJ_BACKUP_KEEP_RECENT", self.backup_keep_recent.to_string());
        s.plain("MRJ_BACKUP_KEEP_DAILY", self.backup_keep_daily.to_string());
        s.plain("MRJ_BACKUP_UPLOAD_ATTEMPTS", self.backup_upload_attempts.to_string());
        s.plain("MRJ_BACKUP_UPLOAD_RETRY_MINS", self.backup_upload_retry_mins.to_string());
        if let Some(c) = self.backup_chat_id {
            s.plain("MRJ_BACKUP_CHAT_ID", c.to_string());
        }
        s.plain("TELEGRAM_API_URL", &self.backup_telegram_api_url);
        if let Some(t) = &self.backup_bot_token {
            s.secret("TELEGRAM_BOT_TOKEN", t, key.as_ref());
        }
        if config.panels.secret_key.is_some() {
            // The key cannot encrypt itself: only that one was set is kept.
            s.values.insert("MRJ_SECRET_KEY".into(), backups::ConfigValue::Omitted);
        }
        s
    }

    fn upload_retry(&self) -> UploadRetryPolicy {
        UploadRetryPolicy {
            max_attempts: self.backup_upload_attempts,
            first_wait: chrono::Duration::minutes(i64::from(self.backup_upload_retry_mins)),
            ..UploadRetryPolicy::default()
        }
    }

    pub fn scheduler(&self, config: &Config, commands: Commands) -> Result<BackupScheduler> {
        Ok(BackupScheduler {
            commands,
            database_url: config.database_url.clone(),
            settings: BackupSettings {
                dir: self.backup_dir.clone(),
                pg_bin_dir: self.pg_bin_dir.clone(),
                retention: Retention {
                    keep_recent: self.backup_keep_recent,
                    keep_daily: self.backup_keep_daily,
                },
            },
            interval: Duration::from_secs(self.backup_interval_mins.max(1) * 60),
            uploader: self.uploader()?,
            config: self.snapshot(config),
            upload_retry: self.upload_retry(),
        })
    }
}

#[derive(Subcommand)]
pub enum BackupCommand {
    /// Take a backup now (whatever the toggle and license say) and send it to the backup group.
    Now(BackupArgs),
    /// The backups in the backup directory, oldest first, each with whether it reached the backup group.
    List(BackupArgs),
}

#[derive(Subcommand)]
pub enum FeaturesCommand {
    /// Every feature: switched on or off, and whether the license covers it.
    List,
    /// Switch a feature on (backups, chat, ai, points, broadcasts).
    Enable { feature: String },
    /// Switch a feature off.
    Disable { feature: String },
}

#[derive(Subcommand)]
pub enum LicenseCommand {
    /// Vendor: make a signing key pair; the secret goes to FILE, the public key is printed.
    Keygen {
        #[arg(long)]
        out: PathBuf,
    },
    /// Vendor: sign a license with the secret key file.
    Issue {
        /// The vendor's secret key file (from `license keygen`).
        #[arg(long)]
        key: PathBuf,
        #[arg(long)]
        licensee: String,
        /// Expiry (RFC 3339, e.g. 2027-12-31T00:00:00Z) ...
        #[arg(long, conflicts_with = "days", required_unless_present = "days")]
        expires: Option<DateTime<Utc>>,
        /// ... or valid for this many days from now.
        #[arg(long)]
        days: Option<i64>,
        /// Licensed features, comma-separated (backups, chat, ai, broadcasts).
        #[arg(long, value_delimiter = ',')]
        features: Vec<String>,
        /// Panels (servers) allowed.
        #[arg(long)]
        panels: u32,
        /// Days features keep working after expiry.
        #[arg(long, default_value_t = 14)]
        grace_days: u32,
    },
    /// Verify a license key and install it (an event).
    Install {
        /// The key (MRJ1.…); `-` reads it from stdin.
        key: String,
    },
    /// The installed license and what it allows now.
    Show,
}

fn feature(name: &str) -> Result<Feature> {
    Feature::parse(name).with_context(|| {
        let names: Vec<&str> = Feature::ALL.iter().map(|f| f.name()).collect();
        format!("unknown feature {name:?}: one of {}", names.join(", "))
    })
}

/// `mrjbot enable-backups` and friends, and `mrjbot features …`.
pub async fn set_feature(pool: &PgPool, name: &str, enabled: Option<bool>) -> Result<()> {
    let cmd = Commands::new(pool.clone());
    let now = Utc::now();
    let f = feature(name)?;
    let change = match enabled {
        Some(on) => cmd.set_feature(&Actor::System, f, on, now).await?,
        None => cmd.toggle_feature(&Actor::System, f, now).await?,
    };
    println!("{change}");
    if let Some(w) = cmd.license_status(now).await?.warning {
        eprintln!("warning: {w}");
    }
    Ok(())
}

pub async fn features(pool: &PgPool, c: FeaturesCommand) -> Result<()> {
    match c {
        FeaturesCommand::Enable { feature } => set_feature(pool, &feature, Some(true)).await,
        FeaturesCommand::Disable { feature } => set_feature(pool, &feature, Some(false)).await,
        FeaturesCommand::List => {
            let cmd = Commands::new(pool.clone());
            let now = Utc::now();
            let toggles = cmd.feature_toggles().await?;
            let license = cmd.entitlements(now).await?;
            for f in Feature::ALL {
                let switch = if toggles.is_enabled(f) { "on" } else { "off" };
                let licensed = match license.allows(f) {
                    Ok(()) if f.needs_license() => "licensed".to_string(),
                    Ok(()) => "needs no license".to_string(),
                    Err(e) => format!("not licensed: {}", e.reason),
                };
                println!("{:<11} {switch:<4} {licensed}", f.name());
            }
            Ok(())
        }
    }
}

/// A Telegram id, or `@username` as the customers read model knows it.
async fn user(pool: &PgPool, s: &str) -> Result<CustomerId> {
    if let Some(name) = s.strip_prefix('@') {
        let id: Option<i64> = sqlx::query_scalar("SELECT telegram_id FROM customers WHERE lower(username) = lower($1)")
            .bind(name)
            .fetch_optional(pool)
            .await?;
        // The read model may lag (no `serve` running): the registration event says it too.
        let id = match id {
            Some(id) => Some(id),
            None => sqlx::query_scalar::<_, String>(
                "SELECT aggregate_id FROM events WHERE aggregate_type = 'Customer' AND event_type = 'CustomerRegistered' \
                 AND lower(payload->'CustomerRegistered'->>'username') = lower($1) ORDER BY position DESC LIMIT 1",
            )
            .bind(name)
            .fetch_optional(pool)
            .await?
            .and_then(|s| s.parse().ok()),
        };
        return id.map(CustomerId).with_context(|| format!("no customer with username @{name}"));
    }
    CustomerId::parse(s).map_err(|_| anyhow::anyhow!("{s:?} is neither a Telegram id nor an @username"))
}

pub async fn set_role(pool: &PgPool, who: &str, role: &str, remove: bool) -> Result<()> {
    let cmd = Commands::new(pool.clone());
    let id = user(pool, who).await?;
    let role = RoleName::parse(role).map_err(|e| anyhow::anyhow!("{e}"))?;
    let now = Utc::now();
    if remove {
        cmd.revoke_role(&Actor::System, id, role.clone(), now).await?;
        println!("{id} no longer has role {role}");
        return Ok(());
    }
    match cmd.grant_role(&Actor::System, id, role.clone(), now).await {
        Ok(()) => println!("{id} now has role {role}"),
        Err(CommandError::Customer(CustomerError::RoleAlreadyGranted(_))) => println!("{id} already has role {role}; nothing changed"),
        Err(e) => return Err(e.into()),
    }
    Ok(())
}

pub async fn check_points(pool: &PgPool, who: &str) -> Result<()> {
    let cmd = Commands::new(pool.clone());
    let id = user(pool, who).await?;
    cmd.registered_at(id).await?;
    let now = Utc::now();
    let account = cmd.points_account(id).await?;
    let rules = cmd.points_policy().await?.rules;
    let worth = Toman::new(rust_decimal::Decimal::from(account.balance) * rules.toman_per_point.value())
        .map(|t| t.to_string())
        .unwrap_or_default();
    let mut line = format!("{id}: {} points (worth {worth} Toman as a discount)", account.balance);
    if let Some((at, points)) = account
        .lots
        .values()
        .filter(|l| l.remaining > 0 && l.expires_at > now)
        .map(|l| (l.expires_at, l.remaining))
        .min()
    {
        line.push_str(&format!("; {points} expire on {}", at.format("%Y-%m-%d")));
    }
    if !cmd.feature_enabled(Feature::Points, now).await? {
        line.push_str("; the points feature is switched off");
    }
    println!("{line}");
    println!(
        "rewards: vip {} points, one day {} points, one GB {} points, discount 1 point per {} Toman",
        rules.vip_cost, rules.day_cost, rules.gb_cost, rules.toman_per_point
    );
    Ok(())
}

/// `vip`, `discount:50000`, `days:7` or `gb:10` (the last two need --subscription).
fn reward(s: &str, subscription: Option<Uuid>) -> Result<Reward> {
    let (kind, amount) = s.split_once(':').map(|(k, a)| (k, Some(a))).unwrap_or((s, None));
    let sub = || subscription.context("days and gb rewards need --subscription");
    let number = |a: Option<&str>| -> Result<u32> {
        a.context("give an amount, e.g. days:7")?
            .trim()
            .parse()
            .with_context(|| format!("{s:?}: the amount must be a whole number"))
    };
    Ok(match kind.trim().to_ascii_lowercase().as_str() {
        "vip" => Reward::Vip,
        "discount" => Reward::Discount {
            value: amount
                .context("give an amount, e.g. discount:50000")?
                .parse::<Toman>()
                .map_err(|e| anyhow::anyhow!("{e}"))?,
        },
        "days" => Reward::ExtraDays {
            subscription_id: sub()?,
            days: number(amount)?,
        },
        "gb" => Reward::Traffic {
            subscription_id: sub()?,
            gb: number(amount)?,
        },
        _ => bail!("unknown reward {s:?}: vip, discount:TOMAN, days:N or gb:N"),
    })
}

pub async fn redeem_points(pool: &PgPool, who: &str, what: &str, subscription: Option<Uuid>) -> Result<()> {
    let cmd = Commands::new(pool.clone());
    let id = user(pool, who).await?;
    let r = reward(what, subscription)?;
    let now = Utc::now();
    cmd.require_feature(Feature::Points, now).await?;
    let redeemed = cmd.redeem_points(&Actor::System, id, r.clone(), now).await?;
    let left = cmd.points_account(id).await?.balance;
    match redeemed.code {
        Some(code) => println!(
            "{id} redeemed {} points for {}: code {code}; {left} points left",
            redeemed.points,
            r.kind()
        ),
        None => println!("{id} redeemed {} points for {}; {left} points left", redeemed.points, r.kind()),
    }
    Ok(())
}

pub async fn switch_location(pool: &PgPool, subscription: Uuid, location: &str) -> Result<()> {
    let cmd = Commands::new(pool.clone());
    let to = Location::parse(location).map_err(|e| anyhow::anyhow!("{e}"))?;
    cmd.request_location_switch(&Actor::System, subscription, to.clone(), Utc::now())
        .await?;
    println!("subscription {subscription}: switch to {to} requested; the provisioner moves the client and then removes the old one");
    Ok(())
}

fn describe(outcome: &StepOutcome) -> String {
    match outcome {
        StepOutcome::Taken {
            name,
            sha256,
            bytes,
            uploaded,
            upload_error,
            rotated,
        } => {
            let sent = match (uploaded, upload_error) {
                (Some(ids), _) => format!("sent to the backup group in {} part(s)", ids.len()),
                (None, Some(e)) => format!("NOT sent ({e})"),
                (None, None) => "kept locally (no MRJ_BACKUP_CHAT_ID)".to_string(),
            };
            format!("backup {name}: {bytes} bytes, sha256 {sha256}, {sent}; {rotated} old backup(s) rotated out")
        }
        StepOutcome::Failed { name, reason } => format!("backup {name} failed: {reason}"),
        StepOutcome::Disabled(reason) => reason.clone(),
        StepOutcome::NotDue => "this slot's backup was already taken".to_string(),
    }
}

/// Whether a backup reached the backup group, as `backup list` says it.
fn upload_state(b: &domain::backup::Backup, policy: &UploadRetryPolicy, now: chrono::DateTime<Utc>) -> String {
    use domain::backup::BackupError as E;
    if b.uploaded {
        return format!("sent (attempt {})", b.upload_attempts);
    }
    let last = b.last_upload_error.as_ref().map(|(e, _)| e.as_str()).unwrap_or("");
    match b.next_upload_retry(policy, now) {
        Err(E::UploadNotTried) => "not sent (kept locally)".to_string(),
        Err(E::UploadAttemptsExhausted(n)) => format!("upload FAILED after {n} attempt(s), not retried any more: {last}"),
        Err(E::UploadRetryNotDue { attempts, due }) => format!(
            "upload failed {attempts} time(s), retry at {}: {last}",
            due.format("%Y-%m-%d %H:%M:%SZ")
        ),
        Ok(next) => format!("upload failed {} time(s), retry {next} due now: {last}", next - 1),
        Err(_) => "not recorded in this database".to_string(),
    }
}

pub async fn backup(config: &Config, pool: &PgPool, c: BackupCommand) -> Result<()> {
    match c {
        BackupCommand::Now(args) => {
            let s = args.scheduler(config, Commands::new(pool.clone()))?;
            let outcome = s.backup_now(&Actor::System, Utc::now()).await?;
            let line = describe(&outcome);
            if matches!(outcome, StepOutcome::Failed { .. }) {
                bail!(line);
            }
            println!("{line}");
        }
        BackupCommand::List(args) => {
            let list = backups::list(&args.backup_dir)?;
            if list.is_empty() {
                println!("no backups in {}", args.backup_dir.display());
            }
            let cmd = Commands::new(pool.clone());
            let policy = args.upload_retry();
            let now = Utc::now();
            for b in list {
                let sent = upload_state(&cmd.backup(&b.name).await?, &policy, now);
                println!(
                    "{}  {:>12} bytes  {}  sha256 {}  {sent}",
                    b.taken_at.format("%Y-%m-%d %H:%M:%SZ"),
                    b.bytes,
                    b.path.display(),
                    b.sha256.as_deref().unwrap_or("(no .sha256 file)")
                );
            }
        }
    }
    Ok(())
}

pub async fn restore(config: &Config, files: Vec<PathBuf>, sha256: Option<String>, pg_bin_dir: Option<PathBuf>) -> Result<()> {
    // No migrations first: the target must be empty.
    let pool = crate::connect(config).await?;
    let cmd = Commands::new(pool.clone());
    let report = backups::restore(&cmd, &config.database_url, &files, sha256.as_deref(), pg_bin_dir.as_deref()).await?;
    let m = &report.verified.manifest;
    println!(
        "restored {} (taken {}) into {}: events up to #{}, checksums verified{}",
        m.name,
        m.created_at.format("%Y-%m-%d %H:%M:%SZ"),
        report.database,
        report.head_position,
        if report.verified.file_checksum_checked {
            " (file and contents)"
        } else {
            " (contents; no .sha256 file or --sha256 to check the whole file)"
        }
    );
    if !report.migrated.is_empty() {
        println!("migrations applied after the restore: {:?}", report.migrated);
    }
    println!("run `mrjbot audit` to check the money before serving from it");
    Ok(())
}

pub async fn license(pool: Option<&PgPool>, c: LicenseCommand) -> Result<()> {
    match c {
        LicenseCommand::Keygen { out } => {
            if out.exists() {
                bail!("{} exists: refusing to overwrite a signing key", out.display());
            }
            let (secret, public) = licensing::keygen();
            write_secret(&out, &secret)?;
            println!("{public}");
            eprintln!("secret key written to {} (keep it offline; it signs licenses)", out.display());
        }
        LicenseCommand::Issue {
            key,
            licensee,
            expires,
            days,
            features,
            panels,
            grace_days,
        } => {
            let text = std::fs::read_to_string(&key).with_context(|| format!("cannot read {}", key.display()))?;
            let issuer = licensing::Issuer::from_secret(&text)?;
            let now = Utc::now();
            let expires_at = match (expires, days) {
                (Some(e), _) => e,
                (None, Some(d)) => now + chrono::Duration::days(d),
                (None, None) => bail!("give --expires or --days"),
            };
            let features = features
                .iter()
                .filter(|f| !f.trim().is_empty())
                .map(|f| feature(f))
                .collect::<Result<_>>()?;
            let claims = LicenseClaims {
                license_id: Uuid::new_v4(),
                licensee,
                issued_at: now,
                expires_at,
                grace_days,
                features,
                max_panels: panels,
            };
            println!("{}", issuer.issue(&claims)?);
        }
        LicenseCommand::Install { key } => {
            let pool = pool.expect("install has a database");
            let key = if key == "-" {
                let mut s = String::new();
                std::io::Read::read_to_string(&mut std::io::stdin(), &mut s)?;
                s
            } else {
                key
            };
            let cmd = Commands::new(pool.clone());
            let claims = cmd.install_license(&Actor::System, &key, Utc::now()).await?;
            println!(
                "license {} installed for {}: until {}, {} panel(s), features: {}",
                claims.license_id,
                claims.licensee,
                claims.expires_at.format("%Y-%m-%d"),
                claims.max_panels,
                names(&claims.features)
            );
        }
        LicenseCommand::Show => {
            let pool = pool.expect("show has a database");
            let cmd = Commands::new(pool.clone());
            let now = Utc::now();
            let status = cmd.license_status(now).await?;
            match &status.installed {
                None => println!(
                    "no license installed: {} panel, no optional features",
                    status.entitlements.max_panels
                ),
                Some(l) => println!(
                    "license {} for {}: issued {}, expires {}, grace {} days; {} panel(s) allowed, {} registered; features: {}",
                    l.claims.license_id,
                    l.claims.licensee,
                    l.claims.issued_at.format("%Y-%m-%d"),
                    l.claims.expires_at.format("%Y-%m-%d"),
                    l.claims.grace_days,
                    status.entitlements.max_panels,
                    cmd.registered_panels().await?,
                    names(&status.entitlements.features)
                ),
            }
            let state = match &status.entitlements.state {
                domain::license::LicenseState::Unlicensed => "unlicensed",
                domain::license::LicenseState::Valid { .. } => "valid",
                domain::license::LicenseState::Grace { .. } => "expired, in its grace period",
                domain::license::LicenseState::Lapsed { .. } => "expired, grace period over",
            };
            println!("state now: {state}");
            for line in status.problem.iter().chain(status.warning.iter()) {
                println!("warning: {line}");
            }
        }
    }
    Ok(())
}

fn names(features: &std::collections::BTreeSet<Feature>) -> String {
    if features.is_empty() {
        return "none".into();
    }
    features.iter().map(|f| f.name()).collect::<Vec<_>>().join(", ")
}

fn write_secret(path: &std::path::Path, text: &str) -> Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut f = options.open(path).with_context(|| format!("cannot create {}", path.display()))?;
    f.write_all(text.as_bytes())?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use domain::backup::{Backup, BackupStatus};

    #[test]
    fn backup_list_says_whether_a_backup_was_sent_will_be_retried_or_was_given_up() {
        let policy = UploadRetryPolicy::default();
        let now = Utc::now();
        let mut b = Backup {
            name: Some("mrjbot-20261101T120000Z".into()),
            status: BackupStatus::Taken,
            ..Backup::default()
        };
        assert_eq!(upload_state(&b, &policy, now), "not sent (kept locally)");
        b.upload_attempts = 2;
        b.last_upload_error = Some(("Telegram: 502".into(), now));
        let line = upload_state(&b, &policy, now);
        assert!(
            line.starts_with("upload failed 2 time(s), retry at ") && line.ends_with("Telegram: 502"),
            "{line}"
        );
        b.upload_attempts = 6;
        assert_eq!(
            upload_state(&b, &policy, now),
            "upload FAILED after 6 attempt(s), not retried any more: Telegram: 502"
        );
        b.uploaded = true;
        assert_eq!(upload_state(&b, &policy, now), "sent (attempt 6)");
    }
}
