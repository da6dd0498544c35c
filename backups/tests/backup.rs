//! Backups on the real PostgreSQL, restored into fresh databases, and sent
//! to a fake Telegram Bot API.
use std::path::PathBuf;
use std::time::Duration;

use backups::{
    BackupScheduler, BackupSettings, ConfigSnapshot, Retention, StepOutcome, TelegramUploader, UploadAttempt, UploadRetryPolicy,
};
use chrono::Utc;
use commands::{Commands, PurchaseOutcome};
use domain::access::Actor;
use domain::features::Feature;
use domain::plan::PlanSpec;
use domain::{CustomerId, Language, Location, Toman};
use eventstore::testing::{admin_url, database_url, TestDb};
use rust_decimal::Decimal;
use uuid::Uuid;

const GROUP: i64 = -1001234567890;

fn scratch_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("mrjbot-backups-{}", Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A shop with money in it: customers, a card payment approved, a purchase.
async fn shop(db: &TestDb) -> Commands {
    let (vendor, verifier) = licensing::testing::vendor();
    let cmd = Commands::new(db.pool.clone()).with_license_verifier(verifier);
    let now = Utc::now();
    cmd.install_license(&Actor::System, &vendor.issue(&licensing::testing::claims(2)).unwrap(), now)
        .await
        .unwrap();
    let plan = cmd
        .create_plan(
            &Actor::System,
            PlanSpec {
                name: "Monthly".into(),
                duration_days: 30,
                traffic_gb: 50,
                price: Toman::from_int(150_000).unwrap(),
                locations: vec![Location::parse("France").unwrap()],
            },
            now,
        )
        .await
        .unwrap();
    for id in 1..=20 {
        let c = CustomerId(1000 + id);
        cmd.register_customer(c, Some(format!("user{id}")), Language::Fa, None, now)
            .await
            .unwrap();
        cmd.adjust_wallet(&Actor::System, c, Decimal::from(200_000 + id), "opening".into(), now)
            .await
            .unwrap();
        if id % 2 == 0 {
            let out = cmd
                .purchase_plan(
                    &Actor::user(c, []),
                    c,
                    plan,
                    &Location::parse("France").unwrap(),
                    Uuid::new_v4(),
                    now,
                )
                .await
                .unwrap();
            assert!(matches!(out, PurchaseOutcome::Active { .. }), "{out:?}");
        }
    }
    for p in projections::all() {
        projections::catch_up(&db.pool, p.as_ref(), 1000).await.unwrap();
    }
    cmd
}

/// A new database with nothing in it (not migrated).
async fn empty_database() -> TestDb {
    let name = format!("mrjbot_test_{}", Uuid::new_v4().simple());
    let admin = eventstore::connect(&admin_url(), 1).await.unwrap();
    sqlx::query(&format!("CREATE DATABASE {name}")).execute(&admin).await.unwrap();
    admin.close().await;
    let url = database_url(&admin_url(), &name);
    let pool = eventstore::connect(&url, 5).await.unwrap();
    TestDb { name, url, pool }
}

fn scheduler(cmd: &Commands, db: &TestDb, dir: &std::path::Path, uploader: Option<TelegramUploader>) -> BackupScheduler {
    let key = secrets::SecretKey::from_passphrase("backup test passphrase").unwrap();
    let mut config = ConfigSnapshot::default();
    config.plain("MRJ_NATS_PREFIX", "mrjbot");
    config.secret("TELEGRAM_BOT_TOKEN", "123:secret-token", Some(&key));
    config.secret("MRJ_ZARINPAL_MERCHANT_ID", "merchant", None);
    BackupScheduler {
        commands: cmd.clone(),
        database_url: db.url.clone(),
        settings: BackupSettings {
            dir: dir.to_path_buf(),
            pg_bin_dir: None,
            retention: Retention::default(),
        },
        interval: Duration::from_secs(1800),
        uploader,
        config,
        upload_retry: UploadRetryPolicy::default(),
    }
}

/// An uploader that gives up at once while Telegram is down (no waiting for `retry_after`).
fn quick_uploader(fake: &tgfake::TgFake) -> TelegramUploader {
    let mut u = TelegramUploader::new(&fake.api_url(), fake.token(), GROUP, 8_000);
    u.max_retry_wait = Duration::from_millis(0);
    u
}

async fn backup_events(db: &TestDb, name: &str) -> Vec<(String, serde_json::Value)> {
    sqlx::query_as("SELECT event_type, payload FROM events WHERE aggregate_type = 'Backup' AND aggregate_id = $1 ORDER BY sequence")
        .bind(name)
        .fetch_all(&db.pool)
        .await
        .unwrap()
}

/// A backup taken while Telegram is down: its first send failed.
async fn backup_with_failed_upload(s: &BackupScheduler, fake: &tgfake::TgFake) -> String {
    fake.set_outage(true);
    let StepOutcome::Taken {
        name,
        upload_error: Some(_),
        ..
    } = s.backup_now(&Actor::System, Utc::now()).await.unwrap()
    else {
        panic!("the upload should fail")
    };
    fake.set_outage(false);
    name
}

#[tokio::test]
async fn a_backup_restores_into_a_fresh_database_and_passes_the_audit() {
    let db = TestDb::new().await.unwrap();
    let cmd = shop(&db).await;
    let dir = scratch_dir();
    let s = scheduler(&cmd, &db, &dir, None);
    let StepOutcome::Taken { name, sha256, .. } = s.backup_now(&Actor::System, Utc::now()).await.unwrap() else {
        panic!("no backup")
    };
    // Written after the dump: not in it.
    let head_after = eventstore::head(&db.pool).await.unwrap();
    let listed = backups::list(&dir).unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].sha256.as_deref(), Some(sha256.as_str()));
    let path = listed[0].path.clone();
    let verified = backups::verify(&path, None).unwrap();
    assert!(verified.file_checksum_checked);
    assert_eq!(
        verified.manifest.head_position,
        head_after - 1,
        "the dump holds everything up to BackupStarted"
    );
    // Secrets are encrypted or left out, never in the clear.
    let config = serde_json::to_string(&verified.config).unwrap();
    assert!(
        !config.contains("secret-token") && config.contains("\"encrypted\"") && config.contains("\"omitted\""),
        "{config}"
    );

    let target = empty_database().await;
    let restored_cmd = Commands::new(target.pool.clone());
    let report = backups::restore(&restored_cmd, &target.url, std::slice::from_ref(&path), None, None)
        .await
        .unwrap();
    assert_eq!(report.head_position, verified.manifest.head_position);
    assert!(report.migrated.is_empty(), "the schema came with the backup");
    let audit = projections::audit::audit(&target.pool).await.unwrap();
    assert!(audit.is_clean(), "{:?}", audit.mismatches);
    assert_eq!(audit.customers, 20);
    let balance: Decimal = sqlx::query_scalar("SELECT balance FROM customers WHERE telegram_id = 1020")
        .fetch_one(&target.pool)
        .await
        .unwrap();
    assert_eq!(balance, Decimal::from(200_020 - 150_000));
    // The restore is itself recorded, on the backup it came from.
    let restored: Vec<String> =
        sqlx::query_scalar("SELECT event_type FROM events WHERE aggregate_type = 'Backup' AND aggregate_id = $1 ORDER BY sequence")
            .bind(&name)
            .fetch_all(&target.pool)
            .await
            .unwrap();
    assert_eq!(restored, ["BackupStarted", "BackupRestored"]);
    // History stays append-only after a restore (the triggers came back).
    assert!(sqlx::query("DELETE FROM events").execute(&target.pool).await.is_err());

    // A database with anything in it is refused, and nothing is written.
    let head = eventstore::head(&target.pool).await.unwrap();
    let err = backups::restore(&restored_cmd, &target.url, std::slice::from_ref(&path), None, None)
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .starts_with(&format!("refusing to restore into {}: it is not empty", target.name)),
        "{err}"
    );
    assert_eq!(eventstore::head(&target.pool).await.unwrap(), head);

    target.drop_database().await.unwrap();
    db.drop_database().await.unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn a_corrupted_backup_is_refused_before_anything_is_written() {
    let db = TestDb::new().await.unwrap();
    let cmd = shop(&db).await;
    let dir = scratch_dir();
    let s = scheduler(&cmd, &db, &dir, None);
    s.backup_now(&Actor::System, Utc::now()).await.unwrap();
    let path = backups::list(&dir).unwrap()[0].path.clone();
    let mut bytes = std::fs::read(&path).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x55;
    std::fs::write(&path, &bytes).unwrap();

    let target = empty_database().await;
    let restored_cmd = Commands::new(target.pool.clone());
    let err = backups::restore(&restored_cmd, &target.url, std::slice::from_ref(&path), None, None)
        .await
        .unwrap_err();
    let msg = err.to_string();
    assert!(msg.starts_with("the backup is damaged") && msg.contains("expected"), "{msg}");
    // Without the .sha256 file the member checksums still catch it.
    std::fs::remove_file(format!("{}.sha256", path.display())).unwrap();
    let err = backups::restore(&restored_cmd, &target.url, &[path], None, None).await.unwrap_err();
    assert!(err.to_string().starts_with("the backup is damaged"), "{err}");
    let tables: i64 = sqlx::query_scalar("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")
        .fetch_one(&target.pool)
        .await
        .unwrap();
    assert_eq!(tables, 0, "nothing was restored");
    target.drop_database().await.unwrap();
    db.drop_database().await.unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn the_scheduler_follows_the_toggle_and_sends_the_backup_in_parts_under_the_upload_limit() {
    let db = TestDb::new().await.unwrap();
    let cmd = shop(&db).await;
    let dir = scratch_dir();
    let fake = tgfake::TgFake::start().await;
    fake.add_group(GROUP, "Backups");
    let uploader = TelegramUploader::new(&fake.api_url(), fake.token(), GROUP, 8_000);
    let s = scheduler(&cmd, &db, &dir, Some(uploader));
    let now = Utc::now();

    match s.step(now).await.unwrap() {
        StepOutcome::Disabled(reason) => assert!(reason.contains("backups feature is switched off"), "{reason}"),
        other => panic!("{other:?}"),
    }
    assert!(backups::list(&dir).unwrap().is_empty());
    cmd.set_feature(&Actor::System, Feature::Backups, true, now).await.unwrap();

    let StepOutcome::Taken {
        name,
        sha256,
        bytes,
        uploaded: Some(ids),
        upload_error: None,
        ..
    } = s.step(now).await.unwrap()
    else {
        panic!("no upload")
    };
    assert_eq!(name, BackupScheduler::slot_name(s.slot(now)));
    let parts = bytes.div_ceil(8_000) as usize;
    assert!(parts >= 2, "the test backup must need several parts ({bytes} bytes)");
    assert_eq!(ids.len(), parts);
    let sent = fake.messages(GROUP);
    assert_eq!(sent.len(), parts);
    let mut joined = Vec::new();
    for (i, m) in sent.iter().enumerate() {
        let doc = m.document.clone().expect("a document");
        assert_eq!(doc.file_name.unwrap(), format!("{name}.tar.{:03}", i + 1));
        assert!(
            m.body().contains(&sha256) && m.body().contains(&format!("part {} of {parts}", i + 1)),
            "{}",
            m.body()
        );
        let part = fake.file_bytes(&doc.file_id).unwrap();
        assert!(part.len() <= 8_000);
        joined.extend(part);
    }
    let local = std::fs::read(dir.join(format!("{name}.tar"))).unwrap();
    assert_eq!(joined, local, "the parts put together are the backup");

    // The parts as downloaded from the group restore, checked against the caption's checksum.
    let download = scratch_dir();
    let mut part_paths = Vec::new();
    for (i, m) in sent.iter().enumerate() {
        let p = download.join(format!("{name}.tar.{:03}", i + 1));
        std::fs::write(&p, fake.file_bytes(&m.document.clone().unwrap().file_id).unwrap()).unwrap();
        part_paths.push(p);
    }
    let target = empty_database().await;
    let report = backups::restore(&Commands::new(target.pool.clone()), &target.url, &part_paths, Some(&sha256), None)
        .await
        .unwrap();
    assert!(report.verified.file_checksum_checked);
    assert!(projections::audit::audit(&target.pool).await.unwrap().is_clean());
    target.drop_database().await.unwrap();

    // The same slot is not taken twice (another process would find it started too).
    assert_eq!(s.step(now).await.unwrap(), StepOutcome::NotDue);
    let events: Vec<String> =
        sqlx::query_scalar("SELECT event_type FROM events WHERE aggregate_type = 'Backup' AND aggregate_id = $1 ORDER BY sequence")
            .bind(&name)
            .fetch_all(&db.pool)
            .await
            .unwrap();
    assert_eq!(events, ["BackupStarted", "BackupTaken", "BackupUploaded"]);

    // Telegram down: the backup is kept and the failure is an event.
    fake.set_outage(true);
    let mut quick = scheduler(
        &cmd,
        &db,
        &dir,
        Some(TelegramUploader::new(&fake.api_url(), fake.token(), GROUP, 8_000)),
    );
    if let Some(u) = quick.uploader.as_mut() {
        u.max_retry_wait = Duration::from_millis(0);
    }
    let StepOutcome::Taken {
        name,
        upload_error: Some(e),
        ..
    } = quick.backup_now(&Actor::System, Utc::now()).await.unwrap()
    else {
        panic!("the upload should fail")
    };
    assert!(e.starts_with("Telegram: "), "{e}");
    assert!(dir.join(format!("{name}.tar")).exists());
    let last: String = sqlx::query_scalar(
        "SELECT event_type FROM events WHERE aggregate_type = 'Backup' AND aggregate_id = $1 ORDER BY sequence DESC LIMIT 1",
    )
    .bind(&name)
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!(last, "BackupUploadFailed");
    db.drop_database().await.unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    std::fs::remove_dir_all(&download).unwrap();
}

#[tokio::test]
async fn a_failed_upload_is_sent_once_when_telegram_is_back_and_never_again() {
    let db = TestDb::new().await.unwrap();
    let cmd = shop(&db).await;
    let dir = scratch_dir();
    let fake = tgfake::TgFake::start().await;
    fake.add_group(GROUP, "Backups");
    let s = scheduler(&cmd, &db, &dir, Some(quick_uploader(&fake)));
    let name = backup_with_failed_upload(&s, &fake).await;
    let events = backup_events(&db, &name).await;
    assert_eq!(events.last().unwrap().0, "BackupUploadFailed");
    assert_eq!(events.last().unwrap().1["BackupUploadFailed"]["attempt"], 1);
    assert!(fake.messages(GROUP).is_empty());

    // Not before the first wait (5 minutes) has passed.
    assert_eq!(s.retry_uploads(Utc::now()).await.unwrap(), []);
    assert!(fake.messages(GROUP).is_empty());

    let later = Utc::now() + chrono::Duration::minutes(6);
    let tried = s.retry_uploads(later).await.unwrap();
    let [UploadAttempt {
        name: sent,
        attempt: 2,
        result: Ok(ids),
    }] = tried.as_slice()
    else {
        panic!("{tried:?}")
    };
    assert_eq!(sent, &name);
    let messages = fake.messages(GROUP);
    assert_eq!(messages.len(), ids.len(), "every part sent once");
    assert!(ids.len() >= 2, "the whole file again, in parts");
    let mut joined = Vec::new();
    for m in &messages {
        assert!(m.body().contains("attempt 2 of 6"), "{}", m.body());
        joined.extend(fake.file_bytes(&m.document.clone().unwrap().file_id).unwrap());
    }
    assert_eq!(joined, std::fs::read(dir.join(format!("{name}.tar"))).unwrap());
    let events = backup_events(&db, &name).await;
    let types: Vec<&str> = events.iter().map(|(t, _)| t.as_str()).collect();
    assert_eq!(types, ["BackupStarted", "BackupTaken", "BackupUploadFailed", "BackupUploaded"]);
    assert_eq!(events[3].1["BackupUploaded"]["attempt"], 2);

    // Further passes send nothing, however late.
    assert_eq!(s.retry_uploads(later + chrono::Duration::days(1)).await.unwrap(), []);
    assert_eq!(fake.messages(GROUP).len(), ids.len());
    db.drop_database().await.unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn a_backup_is_sent_at_most_max_attempts_times_and_then_stays_failed() {
    let db = TestDb::new().await.unwrap();
    let cmd = shop(&db).await;
    let dir = scratch_dir();
    let fake = tgfake::TgFake::start().await;
    fake.add_group(GROUP, "Backups");
    let mut s = scheduler(&cmd, &db, &dir, Some(quick_uploader(&fake)));
    s.upload_retry = UploadRetryPolicy {
        max_attempts: 3,
        first_wait: chrono::Duration::minutes(1),
        max_wait: chrono::Duration::hours(1),
    };
    let name = backup_with_failed_upload(&s, &fake).await;
    fake.set_outage(true);
    let mut now = Utc::now();
    for attempt in 2..=3 {
        // Waits of 1 then 2 minutes after the last failure (just recorded):
        // not due a little before, due after.
        let failed_at = Utc::now();
        let wait = chrono::Duration::minutes(1 << (attempt - 2));
        assert_eq!(s.retry_uploads(failed_at + wait - chrono::Duration::seconds(5)).await.unwrap(), []);
        now = failed_at + wait + chrono::Duration::seconds(1);
        let tried = s.retry_uploads(now).await.unwrap();
        assert!(
            matches!(tried.as_slice(), [UploadAttempt { attempt: a, result: Err(e), .. }] if *a == attempt && e.starts_with("Telegram: ")),
            "{tried:?}"
        );
    }
    fake.set_outage(false);
    assert_eq!(s.retry_uploads(now + chrono::Duration::days(1)).await.unwrap(), []);
    assert!(fake.messages(GROUP).is_empty(), "never sent after the last attempt");
    let events = backup_events(&db, &name).await;
    let failed: Vec<&serde_json::Value> = events
        .iter()
        .filter(|(t, _)| t == "BackupUploadFailed")
        .map(|(_, p)| &p["BackupUploadFailed"]["attempt"])
        .collect();
    assert_eq!(failed, [1, 2, 3]);
    let backup = cmd.backup(&name).await.unwrap();
    assert!(backup.upload_failed());
    assert_eq!(
        backup.next_upload_retry(&s.upload_retry, now + chrono::Duration::days(1)),
        Err(domain::backup::BackupError::UploadAttemptsExhausted(3))
    );
    db.drop_database().await.unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn a_failed_backup_whose_file_was_rotated_away_is_not_sent() {
    let db = TestDb::new().await.unwrap();
    let cmd = shop(&db).await;
    let dir = scratch_dir();
    let fake = tgfake::TgFake::start().await;
    fake.add_group(GROUP, "Backups");
    let s = scheduler(&cmd, &db, &dir, Some(quick_uploader(&fake)));
    let name = backup_with_failed_upload(&s, &fake).await;
    std::fs::remove_file(dir.join(format!("{name}.tar"))).unwrap();
    std::fs::remove_file(dir.join(format!("{name}.tar.sha256"))).unwrap();
    assert_eq!(s.retry_uploads(Utc::now() + chrono::Duration::hours(1)).await.unwrap(), []);
    assert!(fake.messages(GROUP).is_empty());
    db.drop_database().await.unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_schedulers_retrying_at_once_send_the_backup_once() {
    let db = TestDb::new().await.unwrap();
    let cmd = shop(&db).await;
    let dir = scratch_dir();
    let fake = tgfake::TgFake::start().await;
    fake.add_group(GROUP, "Backups");
    let first = scheduler(&cmd, &db, &dir, Some(quick_uploader(&fake)));
    let name = backup_with_failed_upload(&first, &fake).await;
    // A second process: its own pool and commands, the same database and directory.
    let other_pool = eventstore::connect(&db.url, 5).await.unwrap();
    let second = scheduler(&Commands::new(other_pool), &db, &dir, Some(quick_uploader(&fake)));
    let later = Utc::now() + chrono::Duration::minutes(10);
    let (a, b) = tokio::join!(
        tokio::spawn(async move { first.retry_uploads(later).await.unwrap() }),
        tokio::spawn(async move { second.retry_uploads(later).await.unwrap() }),
    );
    let tried: Vec<UploadAttempt> = a.unwrap().into_iter().chain(b.unwrap()).collect();
    assert!(
        matches!(
            tried.as_slice(),
            [UploadAttempt {
                attempt: 2,
                result: Ok(_),
                ..
            }]
        ),
        "{tried:?}"
    );
    let parts = std::fs::metadata(dir.join(format!("{name}.tar"))).unwrap().len().div_ceil(8_000) as usize;
    assert_eq!(fake.messages(GROUP).len(), parts, "each part received once");
    let types: Vec<String> = backup_events(&db, &name).await.into_iter().map(|(t, _)| t).collect();
    assert_eq!(types, ["BackupStarted", "BackupTaken", "BackupUploadFailed", "BackupUploaded"]);
    db.drop_database().await.unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
}
