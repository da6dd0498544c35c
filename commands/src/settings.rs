//! Operator settings: feature toggles, the license and its gates, and the
//! record of backups.
//!
//! Gates for other parts of the shop:
//! - [`Commands::require_feature`] / [`Commands::feature_enabled`]: one call,
//!   read from the event store (never stale);
//! - [`FeatureCache`]: the same answer from memory, refreshed by the store's
//!   LISTEN/NOTIFY wake-ups, for hot paths (a bot deciding on each message
//!   whether live chat is open). A toggle takes effect in every running
//!   process without a restart.
//! - The panel count is enforced inside [`Commands::register_panel`].
use std::sync::{Arc, RwLock};
use std::time::Duration;

use chrono::{DateTime, Utc};
use cqrs_es::Aggregate;
use domain::access::Actor;
use domain::backup::{Backup, BackupCommand, BackupFile, BackupTrigger};
use domain::features::{Feature, FeatureCommand, FeatureToggles};
use domain::license::{Entitlements, InstalledLicense, License, LicenseClaims, LicenseCommand};
use licensing::Verifier;
use sqlx::PgPool;
use tokio::sync::watch;

use crate::{CommandError, Commands, Store};

/// Key of the advisory lock that serialises panel registrations, so two
/// operators racing cannot both take the last licensed slot.
const PANEL_SLOTS_LOCK: i64 = 724_012;

#[derive(Clone)]
pub(crate) struct Stores {
    pub features: Store<FeatureToggles>,
    pub license: Store<License>,
    pub backups: Store<Backup>,
    pub verifier: Arc<Verifier>,
}

impl Stores {
    pub fn new(pool: &PgPool) -> Self {
        Stores {
            features: Store::new(pool.clone()),
            license: Store::new(pool.clone()),
            backups: Store::new(pool.clone()),
            verifier: Arc::new(Verifier::vendor()),
        }
    }
}

/// The result of switching a feature.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FeatureChange {
    pub feature: Feature,
    pub enabled: bool,
    /// False when the feature was already in that state.
    pub changed: bool,
}

impl std::fmt::Display for FeatureChange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = if self.enabled { "enabled" } else { "disabled" };
        if self.changed {
            write!(f, "{} {state}", self.feature)
        } else {
            write!(f, "{} was already {state}; nothing changed", self.feature)
        }
    }
}

/// The license as an operator sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct LicenseStatus {
    pub installed: Option<InstalledLicense>,
    pub entitlements: Entitlements,
    /// Why an installed license is ignored (bad signature, edited claims).
    pub problem: Option<String>,
    /// Expiry coming up, grace period, lapsed.
    pub warning: Option<String>,
}

impl Commands {
    /// Checks licenses against `verifier` instead of the compiled-in vendor key
    /// (tests, and `mrjbot --license-public-key` in development builds).
    pub fn with_license_verifier(mut self, verifier: Verifier) -> Self {
        self.settings.verifier = Arc::new(verifier);
        self
    }

    pub fn license_verifier(&self) -> &Verifier {
        &self.settings.verifier
    }

    // ---- license -------------------------------------------------------------

    /// Verifies `key` offline and installs it. Returns its claims.
    pub async fn install_license(&self, by: &Actor, key: &str, at: DateTime<Utc>) -> Result<LicenseClaims, CommandError> {
        let claims = self.settings.verifier.verify(key)?;
        self.settings
            .license
            .execute(
                License::ID,
                LicenseCommand::InstallLicense {
                    key: key.chars().filter(|c| !c.is_whitespace()).collect(),
                    claims: claims.clone(),
                    by: by.clone(),
                    at,
                },
            )
            .await?;
        Ok(claims)
    }

    pub async fn license_status(&self, at: DateTime<Utc>) -> Result<LicenseStatus, CommandError> {
        let license = self.settings.license.load(License::ID).await?;
        let (entitlements, problem) = self.settings.verifier.entitlements(&license, at);
        let warning = entitlements.warning(at);
        Ok(LicenseStatus {
            installed: license.installed,
            entitlements,
            problem,
            warning,
        })
    }

    /// What the verified license allows at `at`.
    pub async fn entitlements(&self, at: DateTime<Utc>) -> Result<Entitlements, CommandError> {
        Ok(self.license_status(at).await?.entitlements)
    }

    // ---- feature toggles -------------------------------------------------------

    pub async fn feature_toggles(&self) -> Result<FeatureToggles, CommandError> {
        self.settings.features.load(FeatureToggles::ID).await
    }

    /// Switches `feature` on or off (on needs the license to cover it).
    pub async fn set_feature(&self, by: &Actor, feature: Feature, enabled: bool, at: DateTime<Utc>) -> Result<FeatureChange, CommandError> {
        let license = self.entitlements(at).await?;
        let events = self
            .settings
            .features
            .execute(
                FeatureToggles::ID,
                FeatureCommand::SetFeature {
                    feature,
                    enabled,
                    license,
                    by: by.clone(),
                    at,
                },
            )
            .await?;
        Ok(FeatureChange {
            feature,
            enabled,
            changed: !events.is_empty(),
        })
    }

    /// Flips `feature`; the aggregate decides from its own state, so two
    /// racing toggles make two flips, never a lost one.
    pub async fn toggle_feature(&self, by: &Actor, feature: Feature, at: DateTime<Utc>) -> Result<FeatureChange, CommandError> {
        let license = self.entitlements(at).await?;
        let events = self
            .settings
            .features
            .execute(
                FeatureToggles::ID,
                FeatureCommand::ToggleFeature {
                    feature,
                    license,
                    by: by.clone(),
                    at,
                },
            )
            .await?;
        let enabled = match events.last() {
            Some(e) => e.enabled(),
            None => self.feature_toggles().await?.is_enabled(feature),
        };
        Ok(FeatureChange {
            feature,
            enabled,
            changed: !events.is_empty(),
        })
    }

    /// `Ok(())` when `feature` is switched on and licensed at `at`; otherwise
    /// [`CommandError::FeatureOff`] or [`CommandError::NotLicensed`], whose
    /// messages say what to do.
    pub async fn require_feature(&self, feature: Feature, at: DateTime<Utc>) -> Result<(), CommandError> {
        if !self.feature_toggles().await?.is_enabled(feature) {
            return Err(CommandError::FeatureOff(feature));
        }
        self.entitlements(at).await?.allows(feature)?;
        Ok(())
    }

    pub async fn feature_enabled(&self, feature: Feature, at: DateTime<Utc>) -> Result<bool, CommandError> {
        match self.require_feature(feature, at).await {
            Ok(()) => Ok(true),
            Err(CommandError::FeatureOff(_) | CommandError::NotLicensed(_)) => Ok(false),
            Err(e) => Err(e),
        }
    }

    // ---- panel slots ---------------------------------------------------------

    /// Panels registered and not retired, from the events.
    pub async fn registered_panels(&self) -> Result<u32, CommandError> {
        count_panels(&self.pool).await
    }

    /// Runs `register` only if the license allows one more panel. Registrations
    /// are serialised by an advisory lock held until the check's transaction
    /// ends, after `register` committed its event.
    pub(crate) async fn with_panel_slot<T, F>(&self, at: DateTime<Utc>, register: F) -> Result<T, CommandError>
    where
        F: std::future::Future<Output = Result<T, CommandError>>,
    {
        let mut tx = self.pool.begin().await?;
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(PANEL_SLOTS_LOCK)
            .execute(&mut *tx)
            .await?;
        let registered = count_panels(&mut *tx).await?;
        self.entitlements(at).await?.allows_another_panel(registered)?;
        let result = register.await;
        tx.commit().await?;
        result
    }

    // ---- backups -------------------------------------------------------------

    pub async fn backup(&self, name: &str) -> Result<Backup, CommandError> {
        self.settings.backups.load(name).await
    }

    /// Starts backup `name`; [`domain::backup::BackupError::AlreadyStarted`]
    /// tells a second scheduler that another process has this slot.
    pub async fn start_backup(&self, by: &Actor, name: &str, trigger: BackupTrigger, at: DateTime<Utc>) -> Result<(), CommandError> {
        self.settings
            .backups
            .execute(
                name,
                BackupCommand::StartBackup {
                    name: name.to_string(),
                    trigger,
                    by: by.clone(),
                    at,
                },
            )
            .await?;
        Ok(())
    }

    pub async fn record_backup_taken(&self, name: &str, file: BackupFile, at: DateTime<Utc>) -> Result<(), CommandError> {
        self.settings.backups.execute(name, BackupCommand::RecordTaken { file, at }).await?;
        Ok(())
    }

    pub async fn record_backup_failed(&self, name: &str, reason: String, at: DateTime<Utc>) -> Result<(), CommandError> {
        self.settings
            .backups
            .execute(name, BackupCommand::RecordFailed { reason, at })
            .await?;
        Ok(())
    }

    /// Upload `attempt` (1: the first send) succeeded; refused when the
    /// backup was already uploaded or the attempt is out of turn.
    pub async fn record_backup_uploaded(
        &self,
        name: &str,
        chat_id: i64,
        message_ids: Vec<i64>,
        attempt: u32,
        at: DateTime<Utc>,
    ) -> Result<(), CommandError> {
        self.settings
            .backups
            .execute(
                name,
                BackupCommand::RecordUploaded {
                    chat_id,
                    message_ids,
                    attempt,
                    at,
                },
            )
            .await?;
        Ok(())
    }

    /// Upload `attempt` failed (the file stays local, to be retried).
    pub async fn record_backup_upload_failed(
        &self,
        name: &str,
        chat_id: i64,
        reason: String,
        attempt: u32,
        at: DateTime<Utc>,
    ) -> Result<(), CommandError> {
        self.settings
            .backups
            .execute(
                name,
                BackupCommand::RecordUploadFailed {
                    chat_id,
                    reason,
                    attempt,
                    at,
                },
            )
            .await?;
        Ok(())
    }

    /// Recorded in a freshly restored database.
    pub async fn record_backup_restored(
        &self,
        name: &str,
        database: &str,
        head_position: i64,
        at: DateTime<Utc>,
    ) -> Result<(), CommandError> {
        self.settings
            .backups
            .execute(
                name,
                BackupCommand::RecordRestored {
                    name: name.to_string(),
                    database: database.to_string(),
                    head_position,
                    at,
                },
            )
            .await?;
        Ok(())
    }
}

async fn count_panels<'e, E: sqlx::PgExecutor<'e>>(executor: E) -> Result<u32, CommandError> {
    let n: i64 = sqlx::query_scalar(
        "SELECT count(*) FILTER (WHERE event_type = 'PanelRegistered') - count(*) FILTER (WHERE event_type = 'PanelRetired') \
         FROM events WHERE aggregate_type = 'Panel'",
    )
    .fetch_one(executor)
    .await?;
    Ok(u32::try_from(n.max(0)).unwrap_or(u32::MAX))
}

// ---- the cache -----------------------------------------------------------------

struct CacheState {
    toggles: FeatureToggles,
    /// The installed license's claims if its signature verifies.
    claims: Option<LicenseClaims>,
    license: License,
    position: i64,
}

/// Feature switches and the verified license, in memory, kept current from
/// the event store. Cheap to clone; every clone shares one state.
#[derive(Clone)]
pub struct FeatureCache {
    pool: PgPool,
    verifier: Arc<Verifier>,
    state: Arc<RwLock<CacheState>>,
    version: watch::Sender<u64>,
}

impl FeatureCache {
    /// Loads the current switches and license.
    pub async fn load(commands: &Commands) -> Result<FeatureCache, CommandError> {
        let (version, _) = watch::channel(0);
        let cache = FeatureCache {
            pool: commands.pool.clone(),
            verifier: commands.settings.verifier.clone(),
            state: Arc::new(RwLock::new(CacheState {
                toggles: FeatureToggles::default(),
                claims: None,
                license: License::default(),
                position: 0,
            })),
            version,
        };
        cache.refresh().await?;
        Ok(cache)
    }

    /// Applies the toggle and license events committed since the last call;
    /// returns how many there were.
    pub async fn refresh(&self) -> Result<usize, CommandError> {
        let after = self.state.read().unwrap_or_else(|e| e.into_inner()).position;
        let rows: Vec<(i64, String, serde_json::Value)> = sqlx::query_as(
            "SELECT position, aggregate_type, payload FROM events \
             WHERE aggregate_type IN ($1, $2) AND position > $3 ORDER BY position",
        )
        .bind(FeatureToggles::TYPE)
        .bind(License::TYPE)
        .bind(after)
        .fetch_all(&self.pool)
        .await?;
        if rows.is_empty() {
            return Ok(0);
        }
        let mut state = self.state.write().unwrap_or_else(|e| e.into_inner());
        let mut license_changed = false;
        let mut applied = 0;
        for (position, aggregate_type, payload) in rows {
            if position <= state.position {
                continue;
            }
            let decode = |e: serde_json::Error| CommandError::Storage(format!("cannot decode {aggregate_type} event {position}: {e}"));
            if aggregate_type == FeatureToggles::TYPE {
                state.toggles.apply(serde_json::from_value(payload).map_err(decode)?);
            } else {
                state.license.apply(serde_json::from_value(payload).map_err(decode)?);
                license_changed = true;
            }
            state.position = position;
            applied += 1;
        }
        if license_changed {
            state.claims = state
                .license
                .installed
                .as_ref()
                .and_then(|l| self.verifier.verify(&l.key).ok().filter(|c| *c == l.claims));
        }
        drop(state);
        self.version.send_modify(|v| *v += 1);
        Ok(applied)
    }

    /// Whether `feature` is switched on and licensed at `at`.
    pub fn is_enabled(&self, feature: Feature, at: DateTime<Utc>) -> bool {
        self.check(feature, at).is_ok()
    }

    /// Like [`Commands::require_feature`], from memory.
    pub fn check(&self, feature: Feature, at: DateTime<Utc>) -> Result<(), CommandError> {
        let state = self.state.read().unwrap_or_else(|e| e.into_inner());
        if !state.toggles.is_enabled(feature) {
            return Err(CommandError::FeatureOff(feature));
        }
        self.entitlements_of(&state, at).allows(feature)?;
        Ok(())
    }

    pub fn entitlements(&self, at: DateTime<Utc>) -> Entitlements {
        let state = self.state.read().unwrap_or_else(|e| e.into_inner());
        self.entitlements_of(&state, at)
    }

    fn entitlements_of(&self, state: &CacheState, at: DateTime<Utc>) -> Entitlements {
        match &state.claims {
            Some(c) => c.entitlements(at),
            None => Entitlements::unlicensed(),
        }
    }

    /// The switches' positions (license aside).
    pub fn toggles(&self) -> FeatureToggles {
        self.state.read().unwrap_or_else(|e| e.into_inner()).toggles.clone()
    }

    /// Bumped after every refresh that applied events: for tasks that react to a switch.
    pub fn changes(&self) -> watch::Receiver<u64> {
        self.version.subscribe()
    }

    /// Keeps the cache current until `stop` completes: woken by each commit
    /// (LISTEN/NOTIFY, which works with either feed since every process
    /// shares the database), with a poll every `poll` as a safety net.
    pub async fn follow_until(&self, poll: Duration, stop: impl std::future::Future<Output = ()>) {
        tokio::pin!(stop);
        let mut wakeup = None;
        loop {
            if wakeup.is_none() {
                wakeup = eventstore::Wakeup::listen(&self.pool)
                    .await
                    .map_err(|e| tracing::warn!(error = %e, "feature cache cannot LISTEN; polling"))
                    .ok();
            }
            if let Err(e) = self.refresh().await {
                tracing::warn!(error = %e, "feature cache refresh failed");
            }
            let wait = async {
                match wakeup.as_mut() {
                    Some(w) => {
                        if w.wait(poll).await.is_err() {
                            wakeup = None;
                        }
                    }
                    None => tokio::time::sleep(poll).await,
                }
            };
            tokio::select! {
                _ = wait => {}
                _ = &mut stop => return,
            }
        }
    }
}
