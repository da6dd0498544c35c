//! The commerce commands of the `mrjbot` binary, as an operator runs them,
//! on a fresh real database.
use std::process::{Command, Output};

use chrono::{Duration, Utc};
use commands::Commands;
use domain::access::{Actor, RoleName};
use domain::{CustomerId, Language, Location};
use eventstore::testing::TestDb;
use workers::{CommerceConsumer, Consumer};

fn mrjbot(db: &TestDb, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_mrjbot"))
        .args(args)
        .env("DATABASE_URL", &db.url)
        .env_remove("NATS_URL")
        .output()
        .expect("mrjbot runs")
}

fn ok(o: Output) -> String {
    assert!(
        o.status.success(),
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn refused(o: Output, message: &str) {
    assert!(!o.status.success());
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(stderr.contains(message), "{stderr}");
}

async fn project(db: &TestDb) {
    for p in projections::all() {
        projections::catch_up(&db.pool, p.as_ref(), 1_000).await.unwrap();
    }
}

#[tokio::test]
async fn an_operator_sets_commissions_codes_and_points_and_exports_reports() {
    let db = TestDb::new().await.unwrap();
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
            "100,000",
            "--location",
            "France",
        ],
    ));
    let plan = plan.trim().to_string();
    assert!(ok(mrjbot(&db, &["commissions", "set-rate", "--rate", "10%"])).contains("10%"));
    assert!(ok(mrjbot(&db, &["commissions", "set-rate", "--plan", &plan, "--rate", "12,500"])).contains("12,500 Toman"));
    ok(mrjbot(
        &db,
        &["commissions", "terms", "--refund-window-hours", "1", "--minimum", "5000"],
    ));
    let shown = ok(mrjbot(&db, &["commissions", "show"]));
    assert!(
        shown.contains("default rate: 10%") && shown.contains("refund window: 1 h"),
        "{shown}"
    );

    // Bad input: one clear line, non-zero exit, nothing written.
    let head = eventstore::head(&db.pool).await.unwrap();
    refused(
        mrjbot(&db, &["commissions", "set-rate", "--rate", "150%"]),
        "error: a commission rate is a percent",
    );
    refused(
        mrjbot(&db, &["discounts", "add", "--code", "x", "--value", "10%"]),
        "error: a code is 3 to 32",
    );
    refused(
        mrjbot(&db, &["discounts", "add", "--code", "FREE", "--value", "100%"]),
        "error: a discount is a percent",
    );
    refused(mrjbot(&db, &["reports", "revenue", "--by", "year"]), "error: --by is one of");
    refused(mrjbot(&db, &["points", "rules", "--expiry-days", "0"]), "error: points rules");
    assert_eq!(eventstore::head(&db.pool).await.unwrap(), head);

    let added = ok(mrjbot(
        &db,
        &[
            "discounts",
            "add",
            "--code",
            "yalda",
            "--value",
            "20%",
            "--max-uses",
            "100",
            "--per-customer",
            "1",
            "--from",
            "2020-01-01",
            "--until",
            "2099-01-01",
            "--location",
            "France",
        ],
    ));
    assert!(added.contains("YALDA: 20% off"), "{added}");
    // Lists read the read models, which `mrjbot serve` keeps; here the test runs the projectors.
    project(&db).await;
    assert!(ok(mrjbot(&db, &["discounts", "list"])).contains("YALDA: 20% off, used 0 of 100, 1 per customer"));

    // A seller, a referred customer and a purchase with the code, through the library.
    let cmd = Commands::new(db.pool.clone());
    let t = Utc::now() - Duration::hours(3);
    let (seller, buyer) = (CustomerId(70), CustomerId(500));
    cmd.register_customer(seller, Some("sara".into()), Language::Fa, None, t)
        .await
        .unwrap();
    cmd.grant_role(&Actor::System, seller, RoleName::Seller, t).await.unwrap();
    cmd.register_customer(buyer, Some("ali".into()), Language::Fa, Some(seller), t)
        .await
        .unwrap();
    cmd.adjust_wallet(&Actor::System, buyer, 500_000.into(), "cash".into(), t)
        .await
        .unwrap();
    let me = cmd.actor(buyer).await.unwrap();
    let france = Location::parse("France").unwrap();
    cmd.purchase_plan_with_code(&me, buyer, plan.parse().unwrap(), &france, uuid::Uuid::new_v4(), Some("yalda"), t)
        .await
        .unwrap();
    let consumer = CommerceConsumer { commands: cmd.clone() };
    let events = eventstore::read_after(&db.pool, 0, 10_000).await.unwrap();
    consumer.handle(&events).await.unwrap();
    project(&db).await;

    let granted = ok(mrjbot(
        &db,
        &[
            "points",
            "grant",
            "--telegram-id",
            "500",
            "--points",
            "250",
            "--event",
            "Yalda night",
        ],
    ));
    assert!(granted.contains("+250 points, 330 now"), "{granted}");
    assert!(ok(mrjbot(
        &db,
        &[
            "points",
            "grant",
            "--telegram-id",
            "500",
            "--points",
            "250",
            "--event",
            "yalda night"
        ]
    ))
    .contains("already received"));
    project(&db).await;
    let board = ok(mrjbot(&db, &["points", "leaderboard"]));
    assert!(board.starts_with("  1. 500 @ali: 330 earned, 330 to spend"), "{board}");

    // 80,000 paid; a fixed 12,500 commission for the plan.
    let csv = ok(mrjbot(&db, &["reports", "revenue", "--by", "seller", "--csv"]));
    assert_eq!(
        csv,
        "seller,sales_count,sales_total,refunds_count,refunds_total,net\r\n70,1,80000,0,0,80000\r\n"
    );
    let commissions = ok(mrjbot(&db, &["reports", "commissions"]));
    assert!(commissions.contains("12,500"), "{commissions}");
    let weekly = ok(mrjbot(&db, &["reports", "revenue", "--by", "week", "--from", "2020-01-01"]));
    assert!(weekly.contains("80,000"), "{weekly}");
    let audit = ok(mrjbot(&db, &["audit"]));
    assert!(audit.contains("report figures") && audit.contains("OK"), "{audit}");

    // A report row changed by hand fails the audit.
    sqlx::query("UPDATE sales SET seller = NULL").execute(&db.pool).await.unwrap();
    let audit = mrjbot(&db, &["audit"]);
    assert!(!audit.status.success());
    assert!(String::from_utf8_lossy(&audit.stdout).contains("MISMATCH report revenue by seller"));
    db.drop_database().await.unwrap();
}
