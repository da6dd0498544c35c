//! Payment gateways and receipt OCR in `mrjbot serve`: their configuration
//! (each variable also a flag) and the tasks they add — the Zarinpal callback
//! route and reconciler, the USDT watcher, the OCR worker — plus
//! `mrjbot bench ocr`.
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use clap::{ArgAction, Args};
use commands::{Commands, UsdtOffer};
use gateways::tron::{TronClient, TronConfig, UsdtWatcher, USDT_MAINNET};
use gateways::zarinpal::{callback_router, ZarinpalCheckout, ZarinpalClient, ZarinpalConfig, PRODUCTION_BASE_URL, SANDBOX_BASE_URL};
use ocr::{LocalFiles, OcrSettings, OcrWorker, ReceiptFiles, TelegramFiles, TesseractReader};
use rust_decimal::Decimal;
use tokio::task::JoinSet;
use workers::{run_consumer, Feed, Shutdown};

#[derive(Debug, Clone, Args)]
pub struct GatewayArgs {
    /// Zarinpal merchant id (36 characters; any UUID in the sandbox). Unset: no Zarinpal.
    #[arg(long, env = "MRJ_ZARINPAL_MERCHANT_ID", hide_env_values = true)]
    pub zarinpal_merchant_id: Option<String>,
    /// Use Zarinpal's sandbox (https://sandbox.zarinpal.com) instead of production.
    #[arg(long, env = "MRJ_ZARINPAL_SANDBOX", default_value_t = false, action = ArgAction::Set)]
    pub zarinpal_sandbox: bool,
    /// Zarinpal's base URL; overrides the sandbox switch (e.g. a test server).
    #[arg(long, env = "MRJ_ZARINPAL_URL")]
    pub zarinpal_url: Option<String>,
    /// The public URL Zarinpal sends customers back to (GET /payments/zarinpal/callback).
    #[arg(long, env = "MRJ_ZARINPAL_CALLBACK_URL")]
    pub zarinpal_callback_url: Option<String>,
    /// Seconds between checks of paid-but-unverified Zarinpal sessions.
    #[arg(long, env = "MRJ_ZARINPAL_RECONCILE_SECS", default_value_t = 300)]
    pub zarinpal_reconcile_secs: u64,
    /// Serve the Zarinpal callback route here (when the HTTP API does not mount it).
    #[arg(long, env = "MRJ_GATEWAY_HTTP_ADDR")]
    pub gateway_http_addr: Option<SocketAddr>,

    /// TronGrid (or compatible) API base URL.
    #[arg(long, env = "MRJ_TRONGRID_URL", default_value = "https://api.trongrid.io")]
    pub trongrid_url: String,
    /// TronGrid API key, sent as TRON-PRO-API-KEY.
    #[arg(long, env = "MRJ_TRONGRID_API_KEY", hide_env_values = true)]
    pub trongrid_api_key: Option<String>,
    /// The USDT token contract (base58).
    #[arg(long, env = "MRJ_USDT_CONTRACT", default_value = USDT_MAINNET)]
    pub usdt_contract: String,
    /// The address customers pay USDT to (base58 T…). Unset: no USDT.
    #[arg(long, env = "MRJ_USDT_ADDRESS")]
    pub usdt_address: Option<String>,
    /// Toman per USDT used to price USDT payments.
    #[arg(long, env = "MRJ_USDT_RATE")]
    pub usdt_rate: Option<Decimal>,
    /// Blocks after a transfer's block before it counts (19 = solidified).
    #[arg(long, env = "MRJ_USDT_CONFIRMATIONS", default_value_t = 19)]
    pub usdt_confirmations: u32,
    /// Minutes a USDT offer (its unique amount) stays valid.
    #[arg(long, env = "MRJ_USDT_OFFER_MINUTES", default_value_t = 60)]
    pub usdt_offer_minutes: i64,
    /// Seconds between TronGrid polls.
    #[arg(long, env = "MRJ_USDT_POLL_SECS", default_value_t = 10)]
    pub usdt_poll_secs: u64,

    /// Read card-to-card receipts with OCR as they arrive.
    #[arg(long, env = "MRJ_OCR", default_value_t = true, action = ArgAction::Set)]
    pub ocr: bool,
    /// Approve receipts whose reading matches exactly (amount, card, fresh tracking number, time) without an admin.
    #[arg(long, env = "MRJ_OCR_AUTO_APPROVE", default_value_t = false, action = ArgAction::Set)]
    pub ocr_auto_approve: bool,
    /// Read receipt files from this directory instead of Telegram.
    #[arg(long, env = "MRJ_RECEIPTS_DIR")]
    pub receipts_dir: Option<PathBuf>,
    /// Bot token used to download receipt photos (Telegram getFile).
    #[arg(long, env = "TELEGRAM_BOT_TOKEN", hide_env_values = true)]
    pub ocr_telegram_token: Option<String>,
    /// Telegram Bot API base URL for receipt downloads.
    #[arg(long, env = "TELEGRAM_API_URL", default_value = "https://api.telegram.org")]
    pub ocr_telegram_api_url: String,
}

impl GatewayArgs {
    /// The USDT offer, when USDT is configured (address and rate both set).
    pub fn usdt_offer(&self) -> Result<Option<UsdtOffer>> {
        match (&self.usdt_address, self.usdt_rate) {
            (None, None) => Ok(None),
            (Some(address), Some(rate)) => {
                gateways::tron::address::decode(address).context("MRJ_USDT_ADDRESS")?;
                gateways::tron::address::decode(&self.usdt_contract).context("MRJ_USDT_CONTRACT")?;
                if rate <= Decimal::ZERO {
                    bail!("MRJ_USDT_RATE must be positive");
                }
                Ok(Some(UsdtOffer {
                    address: address.clone(),
                    contract: self.usdt_contract.clone(),
                    rate,
                    confirmations: self.usdt_confirmations,
                    valid_for: chrono::Duration::minutes(self.usdt_offer_minutes.max(1)),
                }))
            }
            _ => bail!("USDT needs both MRJ_USDT_ADDRESS and MRJ_USDT_RATE"),
        }
    }

    /// The Zarinpal checkout, when a merchant id is configured.
    pub fn zarinpal(&self, commands: &Commands) -> Result<Option<ZarinpalCheckout>> {
        let Some(merchant_id) = &self.zarinpal_merchant_id else {
            return Ok(None);
        };
        let Some(callback_url) = &self.zarinpal_callback_url else {
            bail!("Zarinpal needs MRJ_ZARINPAL_CALLBACK_URL");
        };
        let base_url = self.zarinpal_url.clone().unwrap_or_else(|| {
            if self.zarinpal_sandbox {
                SANDBOX_BASE_URL
            } else {
                PRODUCTION_BASE_URL
            }
            .to_string()
        });
        let client = ZarinpalClient::new(ZarinpalConfig {
            base_url,
            merchant_id: merchant_id.clone(),
            callback_url: callback_url.clone(),
        })?;
        Ok(Some(ZarinpalCheckout::new(client, commands.clone())))
    }
}

/// Starts the gateway and OCR tasks that the configuration enables.
pub async fn spawn(
    args: &GatewayArgs,
    commands: &Commands,
    feed: Arc<dyn Feed>,
    tasks: &mut JoinSet<()>,
    shutdown: &Shutdown,
) -> Result<()> {
    if let Some(checkout) = args.zarinpal(commands)? {
        let checkout = Arc::new(checkout);
        if let Some(addr) = args.gateway_http_addr {
            let listener = tokio::net::TcpListener::bind(addr)
                .await
                .with_context(|| format!("cannot listen on {addr}"))?;
            let router = callback_router(checkout.clone());
            let mut stop = shutdown.clone();
            tracing::info!(%addr, "Zarinpal callback route listening");
            tasks.spawn(async move {
                if let Err(e) = axum::serve(listener, router)
                    .with_graceful_shutdown(async move { stop.stopped().await })
                    .await
                {
                    tracing::error!(error = %e, "Zarinpal callback server stopped");
                }
            });
        }
        let interval = Duration::from_secs(args.zarinpal_reconcile_secs.max(10));
        let mut stop = shutdown.clone();
        tasks.spawn(async move {
            loop {
                match checkout.reconcile(chrono::Utc::now()).await {
                    Ok(0) => {}
                    Ok(n) => tracing::info!(approved = n, "Zarinpal: verified paid sessions whose callback never came"),
                    Err(e) => tracing::warn!(error = %e, "Zarinpal reconciliation failed"),
                }
                tokio::select! {
                    _ = tokio::time::sleep(interval) => {},
                    _ = stop.stopped() => return,
                }
            }
        });
    }
    if let Some(offer) = args.usdt_offer()? {
        let watcher = UsdtWatcher {
            client: TronClient::new(TronConfig {
                base_url: args.trongrid_url.clone(),
                api_key: args.trongrid_api_key.clone(),
            })?,
            commands: commands.clone(),
            address: offer.address.clone(),
            expiry_grace: chrono::Duration::seconds(i64::from(offer.confirmations) * 3 + 300),
            interval: Duration::from_secs(args.usdt_poll_secs.max(3)),
        };
        tasks.spawn(watcher.run_until_stopped(shutdown.clone()));
    }
    if args.ocr {
        let files: Arc<dyn ReceiptFiles> = match (&args.receipts_dir, &args.ocr_telegram_token) {
            (Some(dir), _) => Arc::new(LocalFiles { root: dir.clone() }),
            (None, Some(token)) => Arc::new(TelegramFiles::new(&args.ocr_telegram_api_url, token)?),
            (None, None) => {
                tracing::warn!("receipt OCR is on but neither TELEGRAM_BOT_TOKEN nor MRJ_RECEIPTS_DIR is set: OCR stays off");
                return Ok(());
            }
        };
        // OCR only helps the admins: without Tesseract, receipts are still
        // queued for them, so this is a loud error, not a refusal to start.
        let reader = match TesseractReader::new(None) {
            Ok(r) => r,
            Err(e) => {
                tracing::error!(error = %e, "receipt OCR is off (install tesseract-ocr, or set MRJ_OCR=false)");
                return Ok(());
            }
        };
        let worker = OcrWorker {
            commands: commands.clone(),
            reader: Arc::new(reader),
            files,
            settings: OcrSettings {
                auto_approve: args.ocr_auto_approve,
            },
        };
        tasks.spawn(run_consumer(feed, Arc::new(worker), shutdown.clone()));
    }
    Ok(())
}

/// `mrjbot bench ocr`: renders receipts with text2image and reads them.
pub fn bench_ocr(receipts: usize, keep: Option<PathBuf>) -> Result<()> {
    let dir = keep
        .clone()
        .unwrap_or_else(|| std::env::temp_dir().join(format!("mrjbot-bench-ocr-{}", uuid::Uuid::new_v4().simple())));
    let started = Instant::now();
    let generated = ocr::synth::generate(&dir, receipts, 2026)?;
    println!(
        "rendered {receipts} receipts in {:.1}s into {}",
        started.elapsed().as_secs_f64(),
        dir.display()
    );
    let reader = TesseractReader::new(None)?;
    let started = Instant::now();
    let e = ocr::synth::evaluate(&reader, &generated, 1);
    let wall = started.elapsed().as_secs_f64();
    println!(
        "amount and card exact: {}/{} = {:.1}%  (amount {}, card {}, tracking {}, date+time {}; wrong values {})",
        e.amount_and_card,
        e.receipts,
        e.share() * 100.0,
        e.amount,
        e.card,
        e.tracking,
        e.time,
        e.wrong_values
    );
    println!(
        "time per receipt: {:.2} s (one at a time, {wall:.1} s in all)",
        e.seconds_per_receipt()
    );
    for f in &e.failures {
        println!("  {f}");
    }
    if keep.is_none() {
        let _ = std::fs::remove_dir_all(&dir);
    }
    Ok(())
}
