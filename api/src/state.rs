//! What every handler shares: commands, the pool, keys, caches, the live channel.
use std::ops::Deref;
use std::sync::Arc;
use std::time::Duration;

use axum::http::StatusCode;
use commands::{CommandError, Commands};
use domain::{Actor, CustomerId};
use sqlx::PgPool;
use tokio::sync::broadcast;
use uuid::Uuid;

use crate::auth::{AuthKeys, SessionKind};
use crate::cache::Cached;
use crate::config::{ApiConfig, TelegramConfig};
use crate::error::{ApiError, ApiResult};
use crate::live::LiveEvent;
use crate::ratelimit::RateLimiter;
use crate::routes::{admin, me, plans};
use crate::telegram::Telegram;

#[derive(Clone)]
pub struct AppState(Arc<Inner>);

pub struct Inner {
    pub commands: Commands,
    pub pool: PgPool,
    pub config: ApiConfig,
    pub auth: AuthKeys,
    pub telegram: Option<Telegram>,
    pub cache: Caches,
    pub live: broadcast::Sender<LiveEvent>,
    pub limiter: RateLimiter,
}

impl Deref for AppState {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}

/// The hot reads. Each is invalidated by the events that change it (see `live`).
pub struct Caches {
    /// Resolved callers, by (Telegram id, session kind).
    pub actors: Cached<(i64, SessionKind), Actor>,
    /// Sessions known to be live.
    pub sessions: Cached<Uuid, bool>,
    /// `GET /api/me`, by Telegram id.
    pub profiles: Cached<i64, Arc<me::Profile>>,
    /// `GET /api/plans`.
    pub plans: Cached<(), Arc<Vec<plans::Plan>>>,
    /// `GET /api/admin/payments/pending`.
    pub pending: Cached<(), Arc<Vec<admin::payments::PendingReceipt>>>,
    /// `GET /api/admin/reports/daily`, by (from, to).
    pub daily: Cached<(chrono::NaiveDate, chrono::NaiveDate), Arc<Vec<admin::reports::DailyTotal>>>,
    /// `GET /api/admin/overview`.
    pub overview: Cached<(), Arc<admin::reports::Overview>>,
}

impl Caches {
    fn new() -> Caches {
        let minute = Duration::from_secs(60);
        Caches {
            actors: Cached::new(100_000, minute),
            sessions: Cached::new(100_000, Duration::from_secs(5)),
            profiles: Cached::new(100_000, minute),
            plans: Cached::new(1, minute),
            pending: Cached::new(1, minute),
            daily: Cached::new(1_000, minute),
            overview: Cached::new(1, minute),
        }
    }
}

impl AppState {
    /// `passphrase` is `MRJ_SECRET_KEY`; `telegram` is needed for customer
    /// sign-in codes and receipt images (those routes answer 503 without it).
    pub fn new(
        pool: PgPool,
        config: ApiConfig,
        passphrase: &str,
        telegram: Option<TelegramConfig>,
    ) -> Result<AppState, secrets::SecretError> {
        let auth = AuthKeys::from_passphrase(passphrase)?;
        let (live, _) = broadcast::channel(4096);
        let limiter = RateLimiter::new(config.limits.window);
        Ok(AppState(Arc::new(Inner {
            commands: Commands::new(pool.clone()),
            pool,
            auth,
            telegram: telegram.map(Telegram::new),
            cache: Caches::new(),
            live,
            limiter,
            config,
        })))
    }

    pub async fn session_active(&self, id: Uuid) -> ApiResult<bool> {
        let pool = self.pool.clone();
        // Only live sessions are cached: a revoked one is checked every time (and is refused).
        if let Some(true) = self.cache.sessions.get(&id) {
            return Ok(true);
        }
        let active = crate::auth::sessions::is_active(&pool, id).await?;
        if active {
            self.cache.sessions.get_or_load(id, || async { Ok::<_, ApiError>(true) }).await?;
        }
        Ok(active)
    }

    /// The caller's actor: from the events, cached until a customer, role or
    /// staff event says otherwise. Blocked customers and suspended staff are refused.
    pub async fn actor_for(&self, id: CustomerId, kind: SessionKind) -> ApiResult<Actor> {
        self.cache
            .actors
            .get_or_load((id.0, kind), || async {
                let actor = match self.commands.actor(id).await {
                    Ok(a) => a,
                    Err(CommandError::Blocked(_)) => {
                        return Err(ApiError::new(StatusCode::FORBIDDEN, "blocked", "this account is blocked"))
                    }
                    Err(CommandError::NotFound(_)) => return Err(ApiError::unauthorized("unknown user")),
                    Err(e) => return Err(e.into()),
                };
                match kind {
                    SessionKind::Customer => Ok(Actor::user(id, [])),
                    SessionKind::Staff => {
                        let account = match self.commands.staff_account(id).await {
                            Ok(a) => a,
                            Err(CommandError::NotFound(_)) => return Err(ApiError::unauthorized("no staff account")),
                            Err(e) => return Err(e.into()),
                        };
                        if account.suspended {
                            return Err(ApiError::new(
                                StatusCode::FORBIDDEN,
                                "account_suspended",
                                "this staff account is suspended",
                            ));
                        }
                        Ok(actor)
                    }
                }
            })
            .await
    }
}
