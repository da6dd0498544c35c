//! Feature toggles, the license and its gates, on the real PostgreSQL.
use std::collections::BTreeSet;
use std::time::Duration;

use chrono::{DateTime, Utc};
use commands::{CommandError, Commands, FeatureCache};
use domain::access::{Actor, Permission};
use domain::features::Feature;
use domain::license::{LicenseClaims, LicenseRefusal, LicenseState};
use domain::panel::{PanelCredentials, PanelSpec};
use domain::{CustomerId, Location};
use eventstore::testing::TestDb;
use licensing::{Issuer, Verifier};
use uuid::Uuid;

fn vendor() -> (Issuer, Verifier) {
    let (secret, public) = licensing::keygen();
    (Issuer::from_secret(&secret).unwrap(), Verifier::from_public(&public).unwrap())
}

fn claims(features: &[Feature], max_panels: u32, issued_at: DateTime<Utc>, days: i64) -> LicenseClaims {
    LicenseClaims {
        license_id: Uuid::new_v4(),
        licensee: "Test Shop".into(),
        issued_at,
        expires_at: issued_at + chrono::Duration::days(days),
        grace_days: 7,
        features: features.iter().copied().collect::<BTreeSet<_>>(),
        max_panels,
    }
}

fn panel_spec(n: usize) -> PanelSpec {
    PanelSpec {
        name: format!("panel-{n}"),
        location: Location::parse("France").unwrap(),
        base_url: format!("https://p{n}.example.com:2053/base/"),
        sub_base_url: format!("https://p{n}.example.com:2096/sub/"),
        public_host: format!("p{n}.example.com"),
        inbound_ids: vec![1],
        capacity: 100,
    }
}

fn credentials() -> PanelCredentials {
    PanelCredentials::Token {
        token_encrypted: "v1:AAAA".into(),
    }
}

#[tokio::test]
async fn a_feature_outside_the_license_stays_off_until_a_license_covers_it() {
    let db = TestDb::new().await.unwrap();
    let (issuer, verifier) = vendor();
    let cmd = Commands::new(db.pool.clone()).with_license_verifier(verifier);
    let now = Utc::now();

    let err = cmd.set_feature(&Actor::System, Feature::Chat, true, now).await.unwrap_err();
    assert!(matches!(&err, CommandError::Feature(_)), "{err:?}");
    assert_eq!(
        err.to_string(),
        "chat is outside the license: no license is installed (install one with `mrjbot license install`)"
    );
    assert!(matches!(
        cmd.require_feature(Feature::Chat, now).await,
        Err(CommandError::FeatureOff(Feature::Chat))
    ));
    assert!(cmd.feature_enabled(Feature::Points, now).await.unwrap(), "points need no license");

    // A key from another vendor is refused and writes nothing.
    let head = eventstore::head(&db.pool).await.unwrap();
    let (stranger, _) = vendor();
    let foreign = stranger.issue(&claims(&[Feature::Chat], 1, now, 30)).unwrap();
    assert!(matches!(
        cmd.install_license(&Actor::System, &foreign, now).await,
        Err(CommandError::LicenseKey(_))
    ));
    assert_eq!(eventstore::head(&db.pool).await.unwrap(), head);

    let key = issuer.issue(&claims(&[Feature::Chat, Feature::Backups], 2, now, 30)).unwrap();
    let installed = cmd.install_license(&Actor::System, &key, now).await.unwrap();
    assert_eq!(installed.max_panels, 2);
    let change = cmd.set_feature(&Actor::System, Feature::Chat, true, now).await.unwrap();
    assert_eq!(change.to_string(), "chat enabled");
    assert_eq!(
        cmd.set_feature(&Actor::System, Feature::Chat, true, now).await.unwrap().to_string(),
        "chat was already enabled; nothing changed"
    );
    cmd.require_feature(Feature::Chat, now).await.unwrap();
    let ai = cmd.set_feature(&Actor::System, Feature::Ai, true, now).await.unwrap_err();
    assert!(ai.to_string().contains("the license includes only backups, chat"), "{ai}");

    // In the grace period chat still works, with a warning; after it, it is refused.
    let grace = now + chrono::Duration::days(33);
    cmd.require_feature(Feature::Chat, grace).await.unwrap();
    let status = cmd.license_status(grace).await.unwrap();
    assert!(matches!(status.entitlements.state, LicenseState::Grace { .. }));
    assert!(status.warning.unwrap().contains("grace period"));
    let lapsed = now + chrono::Duration::days(38);
    match cmd.require_feature(Feature::Chat, lapsed).await {
        Err(CommandError::NotLicensed(denied)) => assert!(matches!(denied.reason, LicenseRefusal::Lapsed { .. })),
        other => panic!("{other:?}"),
    }
    // Switching off never needs a license.
    assert!(cmd.set_feature(&Actor::System, Feature::Chat, false, lapsed).await.unwrap().changed);

    // The same shop under the compiled-in vendor key does not trust the test vendor's license.
    let production = Commands::new(db.pool.clone());
    let status = production.license_status(now).await.unwrap();
    assert_eq!(status.entitlements.state, LicenseState::Unlicensed);
    assert!(status.problem.unwrap().contains("signature is not valid"));
    db.drop_database().await.unwrap();
}

#[tokio::test]
async fn concurrent_toggles_each_flip_once_and_staff_need_the_permission() {
    let db = TestDb::new().await.unwrap();
    let (issuer, verifier) = vendor();
    let cmd = Commands::new(db.pool.clone()).with_license_verifier(verifier);
    let now = Utc::now();
    cmd.install_license(&Actor::System, &issuer.issue(&claims(&[Feature::Ai], 1, now, 30)).unwrap(), now)
        .await
        .unwrap();
    let tasks: Vec<_> = (0..9)
        .map(|_| {
            let cmd = cmd.clone();
            tokio::spawn(async move { cmd.toggle_feature(&Actor::System, Feature::Ai, Utc::now()).await })
        })
        .collect();
    for t in tasks {
        assert!(t.await.unwrap().unwrap().changed);
    }
    let flips: i64 = sqlx::query_scalar("SELECT count(*) FROM events WHERE aggregate_type = 'Features'")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(flips, 9);
    assert!(
        cmd.feature_toggles().await.unwrap().is_enabled(Feature::Ai),
        "nine flips from off end on"
    );

    let support = Actor::user(CustomerId(5), [Permission::AnswerSupport]);
    let err = cmd.set_feature(&support, Feature::Ai, false, now).await.unwrap_err();
    assert_eq!(err.to_string(), "permission `manage_settings` is required");
    db.drop_database().await.unwrap();
}

#[tokio::test]
async fn racing_registrations_never_exceed_the_licensed_panel_count() {
    let db = TestDb::new().await.unwrap();
    let (issuer, verifier) = vendor();
    let cmd = Commands::new(db.pool.clone()).with_license_verifier(verifier);
    let now = Utc::now();

    // Unlicensed: one panel.
    let first = cmd.register_panel(&Actor::System, panel_spec(0), credentials(), now).await.unwrap();
    let err = cmd
        .register_panel(&Actor::System, panel_spec(1), credentials(), now)
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "another panel is outside the license: no license is installed (install one with `mrjbot license install`)"
    );

    cmd.install_license(&Actor::System, &issuer.issue(&claims(&[], 3, now, 30)).unwrap(), now)
        .await
        .unwrap();
    let tasks: Vec<_> = (1..=10)
        .map(|n| {
            let cmd = cmd.clone();
            tokio::spawn(async move { cmd.register_panel(&Actor::System, panel_spec(n), credentials(), Utc::now()).await })
        })
        .collect();
    let mut ok = 0;
    for t in tasks {
        match t.await.unwrap() {
            Ok(_) => ok += 1,
            Err(CommandError::NotLicensed(d)) => {
                assert_eq!(d.reason, LicenseRefusal::PanelLimit { allowed: 3, registered: 3 })
            }
            Err(e) => panic!("{e}"),
        }
    }
    assert_eq!(ok, 2, "one panel existed and the license allows three");
    assert_eq!(cmd.registered_panels().await.unwrap(), 3);

    // Retiring a panel frees its slot.
    cmd.retire_panel(&Actor::System, first, now).await.unwrap();
    cmd.register_panel(&Actor::System, panel_spec(20), credentials(), now)
        .await
        .unwrap();
    assert_eq!(cmd.registered_panels().await.unwrap(), 3);
    db.drop_database().await.unwrap();
}

#[tokio::test]
async fn a_running_process_sees_a_toggle_without_restarting() {
    let db = TestDb::new().await.unwrap();
    let (issuer, verifier) = vendor();
    let cmd = Commands::new(db.pool.clone()).with_license_verifier(verifier);
    let now = Utc::now();
    let cache = FeatureCache::load(&cmd).await.unwrap();
    assert!(!cache.is_enabled(Feature::Backups, now));
    assert!(cache.is_enabled(Feature::Points, now));

    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let follower = {
        let cache = cache.clone();
        tokio::spawn(async move {
            cache
                .follow_until(Duration::from_secs(30), async {
                    let _ = stopped.await;
                })
                .await
        })
    };
    // The poll is 30 s: seeing the change sooner proves the NOTIFY wake-up.
    let wait_for = |want: bool| {
        let cache = cache.clone();
        async move {
            let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
            while cache.is_enabled(Feature::Backups, Utc::now()) != want {
                assert!(tokio::time::Instant::now() < deadline, "the cache never saw backups = {want}");
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    };
    tokio::time::sleep(Duration::from_millis(200)).await;
    let other_process = Commands::new(db.pool.clone()).with_license_verifier(cmd.license_verifier().clone());
    other_process
        .install_license(
            &Actor::System,
            &issuer.issue(&claims(&[Feature::Backups], 1, now, 30)).unwrap(),
            now,
        )
        .await
        .unwrap();
    other_process
        .set_feature(&Actor::System, Feature::Backups, true, now)
        .await
        .unwrap();
    wait_for(true).await;
    assert!(matches!(cache.entitlements(now).state, LicenseState::Valid { .. }));
    other_process
        .set_feature(&Actor::System, Feature::Backups, false, now)
        .await
        .unwrap();
    wait_for(false).await;
    assert!(matches!(
        cache.check(Feature::Backups, now),
        Err(CommandError::FeatureOff(Feature::Backups))
    ));

    let _ = stop.send(());
    tokio::time::timeout(Duration::from_secs(5), follower).await.unwrap().unwrap();
    db.drop_database().await.unwrap();
}
