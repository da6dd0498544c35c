//! `mrjbot panels …` as an operator runs it, against a fake 3x-UI panel.
use std::io::Write;
use std::process::{Command, Output, Stdio};

use eventstore::testing::TestDb;
use xui_fake::{FakeConfig, FakePanel};

const KEY: &str = "operator passphrase for tests";

fn mrjbot(db: &TestDb, args: &[&str], stdin: Option<&str>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_mrjbot"))
        .args(args)
        .env("DATABASE_URL", &db.url)
        .env("MRJ_SECRET_KEY", KEY)
        .env("RUST_LOG", "debug")
        .env_remove("NATS_URL")
        .env_remove("MRJ_PANEL_PASSWORD")
        .env_remove("MRJ_PANEL_TOKEN")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("mrjbot runs");
    if let Some(text) = stdin {
        child.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
    }
    drop(child.stdin.take());
    child.wait_with_output().unwrap()
}

fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

#[tokio::test(flavor = "multi_thread")]
async fn an_operator_adds_checks_lists_reconciles_and_disables_a_panel_and_the_password_never_shows() {
    let db = TestDb::new().await.unwrap();
    let cfg = FakeConfig {
        password: "Very-Secret-Panel-Pass".into(),
        ..FakeConfig::classic()
    };
    let fake = FakePanel::start(cfg.clone()).await;
    let inbound = fake.add_vless_reality_inbound(443, "fr").to_string();
    let base = fake.base_url();
    let sub = fake.sub_base_url();
    let add = |password: &str| {
        let args = [
            "panels",
            "add",
            "--name",
            "fr-1",
            "--location",
            "France",
            "--url",
            &base,
            "--sub-url",
            &sub,
            "--inbound",
            &inbound,
            "--capacity",
            "500",
            "--username",
            "admin",
            "--password-stdin",
        ];
        mrjbot(&db, &args, Some(&format!("{password}\n")))
    };
    // A wrong password is caught before anything is written.
    let head = eventstore::head(&db.pool).await.unwrap();
    let bad = add("wrong");
    assert!(!bad.status.success());
    assert!(text(&bad).contains("refused the credentials"), "{}", text(&bad));
    assert_eq!(eventstore::head(&db.pool).await.unwrap(), head);

    let ok = add(&cfg.password);
    assert!(ok.status.success(), "{}", text(&ok));
    let id = String::from_utf8_lossy(&ok.stdout).trim().to_string();
    assert!(uuid::Uuid::parse_str(&id).is_ok(), "{id}");
    assert!(
        !text(&ok).contains(&cfg.password),
        "the password is never printed, even at debug level"
    );
    let stored: i64 = sqlx::query_scalar("SELECT count(*) FROM events WHERE payload::text LIKE '%' || $1 || '%'")
        .bind(&cfg.password)
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(stored, 0, "only ciphertext reaches the event store");

    let check = mrjbot(&db, &["panels", "check"], None);
    assert!(check.status.success(), "{}", text(&check));
    assert!(
        text(&check).contains("fr-1 (France): OK, classic API, xray running"),
        "{}",
        text(&check)
    );
    assert!(!text(&check).contains(&cfg.password));

    let list = mrjbot(&db, &["panels", "list"], None);
    assert!(list.status.success(), "{}", text(&list));
    assert!(text(&list).contains("0/500"), "{}", text(&list));
    assert!(text(&list).contains("France"), "{}", text(&list));

    let dry = mrjbot(&db, &["panels", "reconcile", "--dry-run"], None);
    assert!(dry.status.success(), "{}", text(&dry));
    assert!(text(&dry).contains("0 differences (dry run: nothing changed)"), "{}", text(&dry));

    let without_reason = mrjbot(&db, &["panels", "disable", "--id", &id, "--reason", " "], None);
    assert!(!without_reason.status.success());
    assert!(text(&without_reason).contains("a reason is required"), "{}", text(&without_reason));
    let disable = mrjbot(&db, &["panels", "disable", "--id", &id, "--reason", "maintenance"], None);
    assert!(disable.status.success(), "{}", text(&disable));
    let list = mrjbot(&db, &["panels", "list"], None);
    assert!(text(&list).contains(" no "), "{}", text(&list));

    // Down: check says so and exits non-zero.
    fake.set_down(true);
    let down = mrjbot(&db, &["panels", "check"], None);
    assert!(!down.status.success());
    assert!(text(&down).contains("FAILED: panel unreachable"), "{}", text(&down));
    db.drop_database().await.unwrap();
}
