//! The dashboard in a real browser against the real binary: `mrjbot serve`
//! on a fresh database with a fake Telegram, and Playwright (playwright-core
//! driving Debian's Chromium) running `dashboard/e2e/dashboard.mjs`: an admin
//! signs in, approves a pending receipt, sees the customer's balance change,
//! and switches to Persian. Screenshots go to `dashboard/e2e-artifacts/`.
//!
//! Needs the built dashboard, its node modules and Chromium; `scripts/test.sh`
//! provides all three (`npm ci && npm run build`, `apt-get install chromium`).
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use chrono::Utc;
use commands::Commands;
use domain::access::{Actor, RoleName};
use domain::payment::PaymentPurpose;
use domain::staff::NewPassword;
use domain::{CardNumber, CustomerId, Language, Toman};
use eventstore::testing::TestDb;
use tgfake::{TgFake, TgUser};

const STAFF: i64 = 4242;
const CUSTOMER: i64 = 5151;
const PASSWORD: &str = "e2e staff password";

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

/// A receipt-looking PNG (a white slip with dark lines) for the queue's photo.
fn receipt_png() -> Vec<u8> {
    let (w, h) = (320u32, 200u32);
    let mut pixels = Vec::with_capacity((w * h * 3) as usize);
    for y in 0..h {
        for x in 0..w {
            let line = (y % 24 < 3 && y > 20 && x > 20 && x < w - 20 - (y * 7 % 90)) || y < 14;
            let v = if line { 40 } else { 245 };
            pixels.extend_from_slice(&[v, v, if y < 14 { 160 } else { v }]);
        }
    }
    let mut out = Vec::new();
    {
        let mut enc = png::Encoder::new(&mut out, w, h);
        enc.set_color(png::ColorType::Rgb);
        enc.set_depth(png::BitDepth::Eight);
        let mut writer = enc.write_header().unwrap();
        writer.write_image_data(&pixels).unwrap();
    }
    out
}

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_approves_a_receipt_in_the_browser_and_persian_mirrors_the_layout() {
    let dashboard = repo().join("dashboard");
    let chromium = std::env::var("MRJ_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    for (path, what) in [
        (
            dashboard.join("dist/index.html"),
            "the built dashboard (cd dashboard && npm ci && npm run build)",
        ),
        (
            dashboard.join("node_modules/playwright-core"),
            "playwright-core (cd dashboard && npm ci)",
        ),
        (PathBuf::from(&chromium), "Chromium (apt-get install chromium)"),
    ] {
        assert!(path.exists(), "missing {what} at {}; scripts/test.sh installs it", path.display());
    }

    // The shop: an admin with a staff password, a card, and a customer whose
    // top-up receipt (a photo sent to the bot) waits in the queue.
    let db = TestDb::new().await.unwrap();
    let tg = TgFake::start().await;
    let cmd = Commands::new(db.pool.clone());
    let now = Utc::now();
    cmd.register_customer(CustomerId(STAFF), Some("boss".into()), Language::En, None, now)
        .await
        .unwrap();
    cmd.grant_role(&Actor::System, CustomerId(STAFF), RoleName::Admin, now)
        .await
        .unwrap();
    let hash = api::auth::password::hash(&NewPassword::parse(PASSWORD).unwrap());
    cmd.create_staff_account(&Actor::System, CustomerId(STAFF), hash, now)
        .await
        .unwrap();
    let card = cmd
        .add_card(
            &Actor::System,
            CardNumber::parse("6037997599999993").unwrap(),
            "Reza Ahmadi".into(),
            None,
            now,
        )
        .await
        .unwrap();
    cmd.register_customer(CustomerId(CUSTOMER), Some("ali_e2e".into()), Language::Fa, None, now)
        .await
        .unwrap();
    let payment = cmd
        .create_card_payment(
            CustomerId(CUSTOMER),
            Toman::from_int(250_000).unwrap(),
            PaymentPurpose::WalletTopUp,
            Some(card),
            now,
        )
        .await
        .unwrap();
    let (_, file_id) = tg.send_photo(&TgUser::new(CUSTOMER, "Ali"), &receipt_png(), None);
    let payer = cmd.actor(CustomerId(CUSTOMER)).await.unwrap();
    cmd.submit_receipt(&payer, payment, file_id, now).await.unwrap();

    // The binary, as an operator runs it.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let base = format!("http://127.0.0.1:{port}");
    let log = std::fs::File::create(std::env::temp_dir().join(format!("mrjbot-e2e-{port}.log"))).unwrap();
    let _server = Server(
        Command::new(env!("CARGO_BIN_EXE_mrjbot"))
            .args(["serve", "--http-addr", &format!("127.0.0.1:{port}")])
            .env("DATABASE_URL", &db.url)
            .env("MRJ_SECRET_KEY", "e2e secret key, sixteen plus")
            .env("TELEGRAM_BOT_TOKEN", tg.token())
            .env("TELEGRAM_API_URL", tg.api_url())
            .env("MRJ_DASHBOARD_DIR", dashboard.join("dist"))
            .env("MRJ_OCR", "false")
            .env("RUST_LOG", "warn")
            .env_remove("NATS_URL")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("mrjbot serve starts"),
    );
    let http = reqwest::Client::new();
    let started = Instant::now();
    loop {
        if let Ok(r) = http.get(format!("{base}/api/health")).send().await {
            let body: serde_json::Value = r.json().await.unwrap_or_default();
            let caught_up = body["read_models"].as_array().is_some_and(|m| m.iter().all(|m| m["behind"] == 0));
            if caught_up {
                break;
            }
        }
        assert!(started.elapsed() < Duration::from_secs(90), "mrjbot serve did not come up");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // The browser.
    let artifacts = dashboard.join("e2e-artifacts");
    let out = tokio::task::spawn_blocking({
        let dashboard = dashboard.clone();
        let base = base.clone();
        move || {
            Command::new("node")
                .arg("e2e/dashboard.mjs")
                .current_dir(&dashboard)
                .env("BASE_URL", &base)
                .env("STAFF_ID", STAFF.to_string())
                .env("STAFF_PASSWORD", PASSWORD)
                .env("CUSTOMER_ID", CUSTOMER.to_string())
                .env("CUSTOMER_USERNAME", "ali_e2e")
                .env("PAYMENT_ID", payment.to_string())
                .env("ARTIFACTS", &artifacts)
                .env("CHROMIUM", &chromium)
                .output()
                .expect("node runs")
        }
    })
    .await
    .unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "the browser test failed:\n{text}");
    assert!(text.contains("\"ok\":true"), "{text}");
    for shot in ["queue", "users-after", "persian-rtl", "notifications", "my-chat-off"] {
        assert!(text.contains(shot), "no {shot} screenshot:\n{text}");
    }

    // What the browser did is in the events: approved once, money credited once.
    assert_eq!(cmd.balance(CustomerId(CUSTOMER)).await.unwrap(), Toman::from_int(250_000).unwrap());
    let approvals: i64 = sqlx::query_scalar("SELECT count(*) FROM events WHERE event_type = 'PaymentApproved'")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(approvals, 1);
    drop(_server);
    db.drop_database().await.unwrap();
}
