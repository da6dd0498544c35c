//! Issue 7's operator commands as an operator runs them: the license from
//! keygen to install, feature toggles, roles, backups restored and audited.
use std::path::Path;
use std::process::{Command, Output};

use eventstore::testing::{admin_url, database_url, TestDb};

fn run(url: &str, public_key: &str, args: &[&str]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_mrjbot"));
    if public_key.is_empty() {
        cmd.env_remove("MRJ_LICENSE_PUBLIC_KEY");
    } else {
        cmd.env("MRJ_LICENSE_PUBLIC_KEY", public_key);
    }
    cmd.args(args)
        .env("DATABASE_URL", url)
        .env("RUST_LOG", "warn")
        .env_remove("NATS_URL")
        .env_remove("MRJ_BACKUP_CHAT_ID")
        .output()
        .expect("mrjbot runs")
}

fn out(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}
fn err(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[track_caller]
fn ok(o: Output) -> String {
    assert!(o.status.success(), "{}{}", out(&o), err(&o));
    out(&o)
}

#[track_caller]
fn fails(o: Output, message: &str) {
    assert!(!o.status.success(), "should fail: {}", out(&o));
    assert!(err(&o).contains(message), "{}", err(&o));
}

#[tokio::test]
async fn an_operator_licenses_the_shop_switches_features_and_restores_a_backup() {
    let db = TestDb::new().await.unwrap();
    let dir = std::env::temp_dir().join(format!("mrjbot-ops-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let secret = dir.join("vendor.secret");
    let secret_s = secret.to_str().unwrap();

    // Vendor side: a key pair and a license.
    let public = ok(run(&db.url, "", &["license", "keygen", "--out", secret_s])).trim().to_string();
    assert!(public.starts_with("mrj-license-public-v1:"), "{public}");
    fails(run(&db.url, "", &["license", "keygen", "--out", secret_s]), "refusing to overwrite");
    let m = |args: &[&str]| run(&db.url, &public, args);
    let key = ok(m(&[
        "license",
        "issue",
        "--key",
        secret_s,
        "--licensee",
        "Moon Shop",
        "--days",
        "30",
        "--features",
        "backups,chat",
        "--panels",
        "2",
    ]))
    .trim()
    .to_string();

    // Operator side.
    ok(m(&["admin", "create-admin", "--telegram-id", "42", "--username", "boss"]));
    fails(m(&["enable-chat"]), "error: chat is outside the license: no license is installed");
    let head = eventstore::head(&db.pool).await.unwrap();
    let mut tampered = key.clone();
    tampered.insert(12, if key.as_bytes()[12] == b'A' { 'B' } else { 'A' });
    fails(m(&["license", "install", &tampered]), "error: ");
    assert_eq!(eventstore::head(&db.pool).await.unwrap(), head, "a refused key writes nothing");
    assert!(ok(m(&["license", "install", &key])).contains("installed for Moon Shop"));
    let shown = ok(m(&["license", "show"]));
    assert!(
        shown.contains("2 panel(s) allowed, 0 registered; features: backups, chat") && shown.contains("state now: valid"),
        "{shown}"
    );

    assert_eq!(ok(m(&["enable-chat"])).trim(), "chat enabled");
    assert_eq!(ok(m(&["enable-chat"])).trim(), "chat was already enabled; nothing changed");
    assert_eq!(ok(m(&["disable-chat"])).trim(), "chat disabled");
    assert_eq!(ok(m(&["enable-backups"])).trim(), "backups enabled");
    fails(
        m(&["toggle-ai"]),
        "error: ai is outside the license: the license includes only backups, chat",
    );
    let features = ok(m(&["features", "list"]));
    assert!(
        features.contains("backups     on   licensed") && features.contains("chat        off  licensed"),
        "{features}"
    );
    assert_eq!(ok(m(&["disable-backups"])).trim(), "backups disabled");

    assert_eq!(ok(m(&["set-role", "@boss", "seller"])).trim(), "42 now has role seller");
    assert_eq!(
        ok(m(&["set-role", "42", "seller"])).trim(),
        "42 already has role seller; nothing changed"
    );
    assert_eq!(
        ok(m(&["set-role", "42", "seller", "--remove"])).trim(),
        "42 no longer has role seller"
    );
    fails(m(&["set-role", "@nobody", "seller"]), "no customer with username @nobody");
    assert!(ok(m(&["check-points", "42"])).starts_with("42: 0 points"));
    fails(m(&["redeem-points", "42", "vip"]), "not enough points");
    fails(m(&["redeem-points", "42", "days:7"]), "need --subscription");
    ok(m(&[
        "admin",
        "adjust-wallet",
        "--telegram-id",
        "42",
        "--amount",
        "75000",
        "--note",
        "opening",
    ]));

    // A backup (read models brought up to date first, as `serve` keeps them),
    // restored into a new database where the audit passes.
    ok(m(&["projections", "rebuild"]));
    let backups_dir = dir.join("backups");
    let b = backups_dir.to_str().unwrap();
    let taken = ok(m(&["backup", "now", "--backup-dir", b]));
    assert!(taken.contains("kept locally"), "{taken}");
    let listed = ok(m(&["backup", "list", "--backup-dir", b]));
    assert_eq!(listed.lines().count(), 1, "{listed}");
    let file = std::fs::read_dir(&backups_dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "tar"))
        .unwrap();

    let restored_name = format!("mrjbot_test_{}", uuid::Uuid::new_v4().simple());
    let restored_url = database_url(&admin_url(), &restored_name);
    let r = |args: &[&str]| run(&restored_url, &public, args);
    let report = ok(r(&["restore", file.to_str().unwrap()]));
    assert!(report.contains("checksums verified (file and contents)"), "{report}");
    let audit = ok(r(&["audit"]));
    assert!(audit.contains("1 customers") && audit.contains("OK"), "{audit}");
    // The license and toggles came back with the events.
    assert!(ok(r(&["license", "show"])).contains("Moon Shop"));
    fails(r(&["restore", file.to_str().unwrap()]), "it is not empty");

    // A damaged copy is refused before anything is written.
    let mut bytes = std::fs::read(&file).unwrap();
    let at = bytes.len() - 2000;
    bytes[at] ^= 0xff;
    let damaged = dir.join("damaged.tar");
    std::fs::write(&damaged, &bytes).unwrap();
    let sum = std::fs::read_to_string(format!("{}.sha256", file.display())).unwrap();
    std::fs::write(dir.join("damaged.tar.sha256"), sum).unwrap();
    let fresh_name = format!("mrjbot_test_{}", uuid::Uuid::new_v4().simple());
    let fresh_url = database_url(&admin_url(), &fresh_name);
    fails(
        run(&fresh_url, &public, &["restore", damaged.to_str().unwrap()]),
        "error: the backup is damaged",
    );

    for name in [restored_name, fresh_name] {
        drop_database(&name).await;
    }
    db.drop_database().await.unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    assert!(!Path::new(&dir).exists());
}

async fn drop_database(name: &str) {
    let admin = eventstore::connect(&admin_url(), 1).await.unwrap();
    sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        .execute(&admin)
        .await
        .unwrap();
}
