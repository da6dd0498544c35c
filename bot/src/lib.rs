//! The Telegram bot for customers, sellers and staff: an adapter over the
//! backbone. Updates become a typed [`command::Input`], each handled by one
//! module in [`handlers`], which changes state only through `commands` and
//! reads only read models (`projections::views`).
//!
//! Delivery is exactly-once over Telegram's at-least-once: every update is
//! written to `bot_inbox` before it is confirmed to Telegram (polling) or
//! acknowledged (webhook), the inbox's primary key drops a redelivered
//! update, and what an update creates is named from the update (or from the
//! button's nonce), so handling it again after a crash creates nothing new.
//! Updates from one chat are handled in order; chats run in parallel.
//!
//! Events reach people through [`notifier`], a consumer of the backbone's
//! feed with its own checkpoint and an outbox.
#![forbid(unsafe_code)]

pub mod app;
pub mod bench;
pub mod callback;
pub mod command;
pub mod handlers;
pub mod i18n;
pub mod notifier;
pub mod qr;
pub mod store;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use commands::Commands;
use sqlx::PgPool;
use teloxide::payloads::{GetUpdatesSetters, SetMyCommandsSetters, SetWebhookSetters};
use teloxide::requests::Requester;
use teloxide::types::{AllowedUpdate, BotCommand, Update};
use teloxide::RequestError;
use tokio::sync::mpsc;
use workers::Shutdown;

pub use app::{App, BotError, BotSettings};
pub use callback::Signer;
pub use i18n::Texts;

/// How the bot receives updates.
#[derive(Debug, Clone)]
pub enum Mode {
    /// `getUpdates` long polling (the default; needs no public address).
    Polling,
    /// Telegram POSTs updates to `url`; this process listens on `listen`.
    /// The path of `url` is served; `secret` is checked on every request.
    Webhook { url: String, listen: SocketAddr, secret: String },
}

/// Configuration the binary reads once (flags or environment).
#[derive(Debug, Clone)]
pub struct BotConfig {
    pub token: String,
    /// `https://api.telegram.org`, or a fake server in tests.
    pub api_url: String,
    /// `MRJ_SECRET_KEY`: button signatures are derived from it.
    pub secret_key: String,
    pub mode: Mode,
    /// Updates handled at the same time (one chat's updates never overlap).
    pub lanes: usize,
    pub settings: BotSettings,
}

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("TELEGRAM_API_URL is not a URL: {0}")]
    ApiUrl(String),
    #[error("Telegram refused the bot token or is unreachable: {0}")]
    Telegram(#[from] RequestError),
    #[error(transparent)]
    Catalog(#[from] i18n::CatalogError),
    #[error("MRJ_SECRET_KEY must be at least 16 characters: button signatures are derived from it")]
    WeakSecret,
    #[error("webhook server: {0}")]
    Webhook(String),
}

/// Builds the bot's dependencies and checks the token with `getMe`.
pub async fn build(config: &BotConfig, pool: PgPool) -> Result<Arc<App>, StartError> {
    if config.secret_key.chars().count() < 16 {
        return Err(StartError::WeakSecret);
    }
    let url = config.api_url.parse().map_err(|_| StartError::ApiUrl(config.api_url.clone()))?;
    let client = teloxide::net::default_reqwest_settings()
        .timeout(Duration::from_secs(60))
        .build()
        .map_err(|e| StartError::ApiUrl(e.to_string()))?;
    let tg = teloxide::Bot::with_client(config.token.clone(), client).set_api_url(url);
    let me = app::send(tg.get_me()).await?;
    Ok(Arc::new(App {
        commands: Commands::new(pool.clone()),
        tg,
        texts: Texts::new()?,
        signer: Signer::new(&config.secret_key),
        bot_username: me.username().to_string(),
        inbox: store::Inbox::new(pool.clone()),
        sessions: store::Sessions::new(pool.clone()),
        settings: config.settings.clone(),
        pool,
    }))
}

/// Handles one update: reads it, routes it, records it handled. Errors are
/// logged; the person got a message about them.
pub async fn process(app: &App, update: Update) {
    let id = update.id.0 as i64;
    let result = match command::incoming(&update, &app.bot_username, &app.signer) {
        Some(inc) => handlers::handle(app, inc).await,
        None => Ok(()),
    };
    let error = result.err().map(|e| {
        tracing::warn!(update = id, error = %e, "update handled with an error");
        e.to_string()
    });
    if let Err(e) = app.inbox.done(id, error).await {
        // Left unhandled: its lease expires and it is handled again (idempotently).
        tracing::error!(update = id, error = %e, "cannot mark update handled");
    }
}

/// Parallel lanes; a chat always maps to the same lane, so its updates
/// are handled one after another, in order.
#[derive(Clone)]
pub struct Lanes {
    senders: Vec<mpsc::Sender<Update>>,
}

impl Lanes {
    pub fn start(app: Arc<App>, lanes: usize) -> Lanes {
        let senders = (0..lanes.max(1))
            .map(|_| {
                let (tx, mut rx) = mpsc::channel::<Update>(1024);
                let app = app.clone();
                tokio::spawn(async move {
                    while let Some(update) = rx.recv().await {
                        process(&app, update).await;
                    }
                });
                tx
            })
            .collect();
        Lanes { senders }
    }

    pub async fn submit(&self, update: Update) {
        let chat = update
            .chat()
            .map(|c| c.id.0)
            .or_else(|| update.from().map(|u| u.id.0 as i64))
            .unwrap_or(0);
        let lane = (chat.unsigned_abs() % self.senders.len() as u64) as usize;
        if self.senders[lane].send(update).await.is_err() {
            tracing::error!("bot lane stopped");
        }
    }
}

async fn set_commands(app: &App) {
    let commands = |lang: usize| {
        command::Command::MENU
            .iter()
            .map(|(c, en, fa)| BotCommand::new(*c, if lang == 0 { *en } else { *fa }))
            .collect::<Vec<_>>()
    };
    if let Err(e) = app::send(app.tg.set_my_commands(commands(0))).await {
        tracing::warn!(error = %e, "setMyCommands failed");
    }
    if let Err(e) = app::send(app.tg.set_my_commands(commands(1)).language_code("fa")).await {
        tracing::warn!(error = %e, "setMyCommands (fa) failed");
    }
}

/// Takes over updates a dead handler left (expired lease), now and every 30 s.
async fn reclaim_loop(app: Arc<App>, lanes: Lanes, mut shutdown: Shutdown) {
    loop {
        match app.inbox.reclaim().await {
            Ok(updates) => {
                for u in updates {
                    tracing::info!(update = u.id.0, "handling an update a stopped process left");
                    lanes.submit(u).await;
                }
            }
            Err(e) => tracing::warn!(error = %e, "inbox reclaim failed"),
        }
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs(30)) => {},
            _ = shutdown.stopped() => return,
        }
    }
}

/// Runs the bot until `shutdown`: long polling or a webhook server.
pub async fn run(app: Arc<App>, config: &BotConfig, shutdown: Shutdown) -> Result<(), StartError> {
    let lanes = Lanes::start(app.clone(), config.lanes);
    set_commands(&app).await;
    tokio::spawn(reclaim_loop(app.clone(), lanes.clone(), shutdown.clone()));
    match &config.mode {
        Mode::Polling => {
            app::send(app.tg.delete_webhook()).await?;
            poll(app, lanes, shutdown).await;
            Ok(())
        }
        Mode::Webhook { url, listen, secret } => webhook(app, lanes, url, *listen, secret, shutdown).await,
    }
}

/// `getUpdates` long polling. An update is recorded in the inbox before the
/// next call confirms it, so a crash loses nothing; while the database is
/// down nothing is confirmed and Telegram keeps the updates.
pub async fn poll(app: Arc<App>, lanes: Lanes, mut shutdown: Shutdown) {
    let mut offset: Option<i32> = None;
    let mut failures: u32 = 0;
    while !shutdown.is_stopped() {
        let mut req = app
            .tg
            .get_updates()
            .timeout(25)
            .allowed_updates([AllowedUpdate::Message, AllowedUpdate::CallbackQuery]);
        if let Some(o) = offset {
            req = req.offset(o);
        }
        let updates = tokio::select! {
            r = teloxide::requests::Request::send(req) => r,
            _ = shutdown.stopped() => return,
        };
        let updates = match updates {
            Ok(u) => u,
            Err(RequestError::RetryAfter(s)) => {
                tokio::time::sleep(s.duration()).await;
                continue;
            }
            Err(e) => {
                failures += 1;
                tracing::warn!(error = %e, "getUpdates failed");
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_millis(200 * u64::from(failures.min(25)))) => {},
                    _ = shutdown.stopped() => return,
                }
                continue;
            }
        };
        failures = 0;
        if updates.is_empty() {
            continue;
        }
        let fresh = loop {
            match app.inbox.admit(&updates).await {
                Ok(f) => break f,
                Err(e) => {
                    tracing::error!(error = %e, "cannot record updates; retrying before confirming them");
                    tokio::select! {
                        _ = tokio::time::sleep(Duration::from_secs(1)) => {},
                        _ = shutdown.stopped() => return,
                    }
                }
            }
        };
        offset = updates.iter().map(|u| u.id.0 as i32 + 1).max();
        for u in fresh {
            lanes.submit(u).await;
        }
    }
}

async fn webhook(
    app: Arc<App>,
    lanes: Lanes,
    url: &str,
    listen: SocketAddr,
    secret: &str,
    mut shutdown: Shutdown,
) -> Result<(), StartError> {
    use axum::extract::State;
    use axum::http::{HeaderMap, StatusCode};

    let parsed: reqwest::Url = url.parse().map_err(|_| StartError::ApiUrl(url.to_string()))?;
    let path = parsed.path().to_string();
    #[derive(Clone)]
    struct Hook {
        app: Arc<App>,
        lanes: Lanes,
        secret: String,
    }
    async fn receive(State(hook): State<Hook>, headers: HeaderMap, body: axum::body::Bytes) -> StatusCode {
        let given = headers.get("X-Telegram-Bot-Api-Secret-Token").and_then(|v| v.to_str().ok());
        if given != Some(hook.secret.as_str()) {
            return StatusCode::UNAUTHORIZED;
        }
        let Ok(update) = serde_json::from_slice::<Update>(&body) else {
            // Not ours to parse (a newer update kind): accept so Telegram moves on.
            return StatusCode::OK;
        };
        match hook.app.inbox.admit(std::slice::from_ref(&update)).await {
            Ok(fresh) => {
                for u in fresh {
                    hook.lanes.submit(u).await;
                }
                StatusCode::OK
            }
            // Telegram retries an update that was not acknowledged.
            Err(_) => StatusCode::SERVICE_UNAVAILABLE,
        }
    }
    let router = axum::Router::new().route(&path, axum::routing::post(receive)).with_state(Hook {
        app: app.clone(),
        lanes,
        secret: secret.to_string(),
    });
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|e| StartError::Webhook(e.to_string()))?;
    app::send(
        app.tg
            .set_webhook(parsed)
            .secret_token(secret.to_string())
            .allowed_updates([AllowedUpdate::Message, AllowedUpdate::CallbackQuery]),
    )
    .await?;
    tracing::info!(%listen, %path, "bot webhook listening");
    axum::serve(listener, router)
        .with_graceful_shutdown(async move { shutdown.stopped().await })
        .await
        .map_err(|e| StartError::Webhook(e.to_string()))
}

/// Starts everything the bot runs beside the backbone: the update loop
/// (polling or webhook), the notifier on `feed` with its outbox sender, and
/// the expiry reminders (every `reminder_interval`).
pub fn spawn(
    app: Arc<App>,
    config: BotConfig,
    feed: Arc<dyn workers::Feed>,
    reminder_interval: Duration,
    shutdown: Shutdown,
) -> Vec<tokio::task::JoinHandle<()>> {
    let wake = Arc::new(tokio::sync::Notify::new());
    let notifier = Arc::new(notifier::Notifier {
        app: app.clone(),
        wake: wake.clone(),
    });
    let sender = notifier::Sender { app: app.clone(), wake };
    let mut tasks = vec![
        tokio::spawn(workers::run_consumer(feed, notifier.clone(), shutdown.clone())),
        tokio::spawn(sender.run_until_stopped(shutdown.clone())),
        tokio::spawn(notifier.run_reminders(reminder_interval, shutdown.clone())),
    ];
    tasks.push(tokio::spawn(async move {
        if let Err(e) = run(app, &config, shutdown).await {
            tracing::error!(error = %e, "the Telegram bot stopped");
        }
    }));
    tasks
}
