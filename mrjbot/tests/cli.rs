//! The `mrjbot` binary as an operator runs it, on a fresh real database.
use std::process::{Command, Output};

use eventstore::testing::TestDb;

fn mrjbot(db: &TestDb, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_mrjbot"))
        .args(args)
        .env("DATABASE_URL", &db.url)
        .env_remove("NATS_URL")
        .output()
        .expect("mrjbot runs")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[tokio::test]
async fn an_operator_sets_up_a_shop_and_audit_catches_a_row_corrupted_by_hand() {
    let db = TestDb::new().await.unwrap();
    let ok = |o: Output| {
        assert!(o.status.success(), "{}{}", stdout(&o), String::from_utf8_lossy(&o.stderr));
        stdout(&o)
    };
    ok(mrjbot(&db, &["admin", "create-admin", "--telegram-id", "42", "--username", "boss"]));
    let plan = ok(mrjbot(
        &db,
        &[
            "plans",
            "add",
            "--name",
            "Monthly",
            "--days",
            "30",
            "--gb",
            "50",
            "--price",
            "150,000",
            "--location",
            "France",
        ],
    ));
    assert!(uuid::Uuid::parse_str(plan.trim()).is_ok(), "{plan}");
    ok(mrjbot(
        &db,
        &["cards", "add", "--number", "6037-9975-9999-9993", "--holder", "Reza Ahmadi"],
    ));
    let wallet = ok(mrjbot(
        &db,
        &[
            "admin",
            "adjust-wallet",
            "--telegram-id",
            "42",
            "--amount",
            "2500",
            "--note",
            "opening",
        ],
    ));
    assert!(wallet.contains("2,500"), "{wallet}");

    // Bad input: a clear one-line error, non-zero exit, nothing written.
    let head = eventstore::head(&db.pool).await.unwrap();
    let bad = mrjbot(
        &db,
        &["admin", "adjust-wallet", "--telegram-id", "42", "--amount", "-9999", "--note", "x"],
    );
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("error: insufficient balance"));
    let bad = mrjbot(
        &db,
        &[
            "plans",
            "add",
            "--name",
            "x",
            "--days",
            "30",
            "--gb",
            "1",
            "--price",
            "-5",
            "--location",
            "X",
        ],
    );
    assert!(String::from_utf8_lossy(&bad.stderr).contains("must not be negative"));
    assert_eq!(eventstore::head(&db.pool).await.unwrap(), head);

    let rebuilt = ok(mrjbot(&db, &["projections", "rebuild"]));
    assert!(rebuilt.contains("customers") && rebuilt.contains("events/s"), "{rebuilt}");
    assert!(ok(mrjbot(&db, &["plans", "list"])).contains("Monthly: 30 days, 50 GB, 150,000 Toman, France"));
    assert!(ok(mrjbot(&db, &["audit"])).contains("OK"));

    sqlx::query("UPDATE customers SET balance = 1000000 WHERE telegram_id = 42")
        .execute(&db.pool)
        .await
        .unwrap();
    let audit = mrjbot(&db, &["audit"]);
    assert!(!audit.status.success(), "audit passed a corrupted balance");
    assert!(
        stdout(&audit).contains("MISMATCH customers: 42 has balance 1000000, events give 2500"),
        "{}",
        stdout(&audit)
    );

    // Rebuilding from the events repairs it.
    ok(mrjbot(&db, &["projections", "rebuild", "customers"]));
    assert!(mrjbot(&db, &["audit"]).status.success());
    db.drop_database().await.unwrap();
}
