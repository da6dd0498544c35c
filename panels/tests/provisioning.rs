//! The provisioner, usage sync, monitor and reconciler against fake 3x-UI
//! panels (classic and v3.1+), on the real PostgreSQL.
mod common;

use std::time::Duration;

use base64::Engine;
use chrono::Utc;
use common::{count, loc, Shop, BRAND};
use domain::access::{Actor, Permission};
use domain::subscription::{Provisioning, SubscriptionEvent as E};
use domain::{CustomerId, Toman};
use panels::{client_uuid, Drift, Ensured, Monitor, Reconciler, Repair, UsageSync};
use xui_fake::{FakeConfig, FakePanel};

const GIB: i64 = 1 << 30;

fn admin() -> Actor {
    Actor::user(CustomerId(1), Permission::ALL)
}

/// Purchase → one client; renewal and top-up update it; expiry disables it;
/// cancellation deletes it. The same on both client APIs.
async fn lifecycle(cfg: FakeConfig) {
    let shop = Shop::new().await;
    let fake = FakePanel::start(cfg.clone()).await;
    let panel = shop.add_panel(&fake, &cfg, "fr-1", "France", 100).await;
    let alice = shop.customer(5001).await;
    let bob = shop.customer(5002).await;
    let first = shop.buy(alice, "France").await;
    let other = shop.buy(bob, "France").await;
    let second = shop.buy(alice, "France").await;
    shop.provision().await;

    // Naming: brand, location, customer number (1000 for the first customer), sequence.
    let (_, c) = fake.client("MoonVpn-France-1000-1").expect("alice's first client");
    assert_eq!(c["id"], client_uuid(first, panel).to_string());
    assert_eq!(c["totalGB"], 50 * GIB);
    assert_eq!(c["enable"], true);
    assert!(fake.client("MoonVpn-France-1001-1").is_some(), "bob is customer 1001");
    assert!(fake.client("MoonVpn-France-1000-2").is_some(), "alice's second subscription");
    assert_eq!(fake.client_count(), 3);
    let sub = shop.cmd.subscription(first).await.unwrap();
    assert!(matches!(sub.provisioning, Provisioning::Provisioned(_)));
    assert_eq!(c["expiryTime"], sub.expires_at.unwrap().timestamp_millis());

    // What the bot and the API show: the sub URL, the direct link and a QR code.
    let access = panels::access::subscription_access(&shop.db.pool, first).await.unwrap().unwrap();
    assert!(access.is_ready());
    let url = access.sub_url.clone().unwrap();
    assert!(url.starts_with(&fake.sub_base_url()), "{url}");
    assert_eq!(access.links.len(), 1);
    assert!(access.links[0].starts_with(&format!("vless://{}@127.0.0.1:443?", client_uuid(first, panel))));
    assert!(access.links[0].contains("security=reality"));
    let body = reqwest::get(&url).await.unwrap().text().await.unwrap();
    let text = String::from_utf8(base64::engine::general_purpose::STANDARD.decode(body).unwrap()).unwrap();
    assert!(
        text.contains(&client_uuid(first, panel).to_string()),
        "the panel's sub server serves it"
    );
    assert_eq!(&access.qr_png().unwrap()[..4], b"\x89PNG");

    // Renewal extends the expiry on the panel; a top-up raises the quota.
    shop.cmd
        .renew_subscription(&Actor::user(alice, []), first, Utc::now())
        .await
        .unwrap();
    shop.cmd
        .add_traffic(&Actor::user(alice, []), first, 10, Toman::from_int(20_000).unwrap(), Utc::now())
        .await
        .unwrap();
    shop.provision().await;
    let sub = shop.cmd.subscription(first).await.unwrap();
    let (_, c) = fake.client("MoonVpn-France-1000-1").unwrap();
    assert_eq!(c["totalGB"], 60 * GIB);
    assert_eq!(c["expiryTime"], sub.expires_at.unwrap().timestamp_millis());
    assert!(count(&shop.events(first).await, |e| matches!(e, E::ClientUpdated { .. })) >= 1);

    // Expiry disables; cancellation deletes.
    let later = sub.expires_at.unwrap() + chrono::Duration::seconds(1);
    assert!(shop.cmd.expire_subscription(second, later).await.unwrap());
    shop.cmd
        .cancel_subscription(&admin(), other, Toman::from_int(0).unwrap(), "customer asked".into(), Utc::now())
        .await
        .unwrap();
    shop.provision().await;
    assert_eq!(fake.client("MoonVpn-France-1000-2").unwrap().1["enable"], false);
    assert!(fake.client("MoonVpn-France-1001-1").is_none(), "cancelled: deleted");
    assert_eq!(shop.cmd.subscription(other).await.unwrap().provisioning.name(), "removed");
    let state: String = sqlx::query_scalar("SELECT provisioning FROM subscriptions WHERE id = $1")
        .bind(other)
        .fetch_one(&shop.db.pool)
        .await
        .unwrap();
    assert_eq!(state, "removed");

    // Running everything again changes nothing.
    let calls = fake.total_calls();
    for id in [first, second, other] {
        assert_eq!(shop.ensure(id).await, Ensured::Nothing);
    }
    assert_eq!(fake.total_calls(), calls, "nothing to do means no panel call");
    assert_eq!(fake.logins(), 1, "one session for everything");
    shop.drop().await;
}

#[tokio::test]
async fn the_client_lifecycle_on_a_classic_panel() {
    lifecycle(FakeConfig::classic()).await;
}

#[tokio::test]
async fn the_client_lifecycle_on_a_v3_1_panel() {
    lifecycle(FakeConfig::v3()).await;
}

#[tokio::test]
async fn duplicated_events_concurrent_workers_and_a_worker_killed_mid_call_leave_one_client() {
    let shop = Shop::new().await;
    let cfg = FakeConfig::classic();
    let fake = FakePanel::start(cfg.clone()).await;
    shop.add_panel(&fake, &cfg, "fr-1", "France", 100).await;
    let mut subs = Vec::new();
    for i in 0..6 {
        let c = shop.customer(6000 + i).await;
        subs.push(shop.buy(c, "France").await);
    }
    let events = eventstore::read_after(&shop.db.pool, 0, 10_000).await.unwrap();

    // Workers killed at random points of their calls (like kill -9), several times.
    for i in 0..6u64 {
        let consumer = shop.consumer();
        let batch = events.clone();
        let task = tokio::spawn(async move { workers::Consumer::handle(&consumer, &batch).await });
        tokio::time::sleep(Duration::from_millis(3 * i)).await;
        task.abort();
        let _ = task.await;
    }
    // The same batch handled by two workers at once, then delivered again.
    let (a, b) = (shop.consumer(), shop.consumer());
    let (ra, rb) = tokio::join!(workers::Consumer::handle(&a, &events), workers::Consumer::handle(&b, &events));
    ra.unwrap();
    rb.unwrap();
    sqlx::query("UPDATE checkpoints SET position = 0 WHERE name = 'provisioner'")
        .execute(&shop.db.pool)
        .await
        .unwrap();
    shop.provision().await;

    assert_eq!(fake.client_count(), subs.len(), "exactly one client per subscription");
    for s in &subs {
        let events = shop.events(*s).await;
        assert_eq!(count(&events, |e| matches!(e, E::SubscriptionProvisioned { .. })), 1);
        assert_eq!(count(&events, |e| matches!(e, E::ProvisioningStarted { .. })), 1);
    }
    shop.drop().await;
}

#[tokio::test]
async fn a_client_made_by_a_call_whose_answer_was_lost_is_adopted_not_duplicated() {
    let shop = Shop::new().await;
    let cfg = FakeConfig::v3();
    let fake = FakePanel::start(cfg.clone()).await;
    let panel = shop.add_panel(&fake, &cfg, "fr-1", "France", 100).await;
    let c = shop.customer(7000).await;
    let sub = shop.buy(c, "France").await;
    // The worker recorded its intent and the panel made the client, then the worker died.
    let directory = &shop.provisioner.directory;
    let row = directory.panel(panel).await.unwrap();
    let placement = domain::subscription::Placement {
        panel_id: panel,
        inbound_id: row.inbound_ids[0],
        email: "MoonVpn-France-1000-1".into(),
        client_uuid: client_uuid(sub, panel),
        sub_id: panels::sub_id(sub),
    };
    shop.cmd.start_provisioning(sub, placement.clone(), None, Utc::now()).await.unwrap();
    fake.insert_client(
        row.inbound_ids[0],
        serde_json::json!({"id": placement.client_uuid.to_string(), "email": placement.email, "enable": true,
                           "totalGB": 0, "expiryTime": 0, "subId": placement.sub_id}),
    );
    shop.provision().await;
    assert_eq!(fake.client_count(), 1);
    let (_, client) = fake.client("MoonVpn-France-1000-1").unwrap();
    assert_eq!(
        client["totalGB"],
        50 * GIB,
        "adopted and brought to the paid terms: {:?}",
        shop.events(sub).await.last()
    );
    assert!(matches!(
        shop.cmd.subscription(sub).await.unwrap().provisioning,
        Provisioning::Provisioned(_)
    ));
    shop.drop().await;
}

#[tokio::test]
async fn a_down_panel_makes_the_provisioner_use_another_panel_of_the_location_and_the_monitor_retires_it() {
    let shop = Shop::new().await;
    let cfg = FakeConfig::classic();
    let down = FakePanel::start(cfg.clone()).await;
    let up = FakePanel::start(cfg.clone()).await;
    // The down panel has more room, so it is chosen first.
    let a = shop.add_panel(&down, &cfg, "fr-a", "France", 1000).await;
    let b = shop.add_panel(&up, &cfg, "fr-b", "France", 10).await;
    down.set_down(true);
    let c = shop.customer(8000).await;
    let sub = shop.buy(c, "France").await;
    shop.provision().await;
    let s = shop.cmd.subscription(sub).await.unwrap();
    match &s.provisioning {
        Provisioning::Provisioned(p) => assert_eq!(p.panel_id, b),
        other => panic!("{other:?}"),
    }
    assert_eq!(up.client_count(), 1);
    let events = shop.events(sub).await;
    assert!(events
        .iter()
        .any(|e| matches!(e, E::ProvisioningStarted { replaces: Some(p), .. } if p.panel_id == a)));

    // The monitor marks it unhealthy after consecutive failures; new clients avoid it.
    let monitor = Monitor {
        directory: shop.provisioner.directory.clone(),
        interval: Duration::from_secs(60),
        unhealthy_after: 3,
    };
    for _ in 0..3 {
        monitor.step(Utc::now()).await.unwrap();
    }
    shop.project().await;
    let healthy: bool = sqlx::query_scalar("SELECT healthy FROM panels WHERE id = $1")
        .bind(a)
        .fetch_one(&shop.db.pool)
        .await
        .unwrap();
    assert!(!healthy);
    let before = down.total_calls();
    let c2 = shop.customer(8001).await;
    let sub2 = shop.buy(c2, "France").await;
    shop.provision().await;
    assert_eq!(up.client_count(), 2);
    assert_eq!(down.total_calls(), before, "an unhealthy panel is not even tried");
    assert_eq!(count(&shop.events(sub2).await, |e| matches!(e, E::ProvisioningStarted { .. })), 1);

    // Recovery: healthy again, and the placement given up is confirmed empty.
    down.set_down(false);
    let r = monitor.step(Utc::now()).await.unwrap();
    assert_eq!(r.marked_healthy, 1);
    shop.project().await;
    let status: (bool, String) = sqlx::query_as("SELECT ok, xray_state FROM panel_status WHERE panel_id = $1")
        .bind(a)
        .fetch_one(&shop.db.pool)
        .await
        .unwrap();
    assert_eq!(status, (true, "running".to_string()));
    shop.ensure(sub).await;
    assert!(shop.cmd.subscription(sub).await.unwrap().stale.is_empty());
    assert_eq!(down.client_count(), 0);
    shop.drop().await;
}

#[tokio::test]
async fn no_panel_fails_provisioning_and_an_admin_retry_succeeds_later() {
    let shop = Shop::new().await;
    let c = shop.customer(9000).await;
    let sub = shop.buy(c, "Germany").await;
    shop.provision().await;
    let access = panels::access::subscription_access(&shop.db.pool, sub).await.unwrap().unwrap();
    assert_eq!(access.provisioning, "failed");
    assert!(access.provisioning_error.unwrap().contains("Germany"));
    let cfg = FakeConfig::v3();
    let fake = FakePanel::start(cfg.clone()).await;
    shop.add_panel(&fake, &cfg, "de-1", "Germany", 10).await;
    shop.cmd.retry_provisioning(&admin(), sub, Utc::now()).await.unwrap();
    shop.provision().await;
    assert!(fake.client("MoonVpn-Germany-1000-1").is_some());
    assert!(panels::access::subscription_access(&shop.db.pool, sub)
        .await
        .unwrap()
        .unwrap()
        .is_ready());
    shop.drop().await;
}

#[tokio::test]
async fn a_location_switch_creates_the_new_client_before_removing_the_old() {
    let shop = Shop::new().await;
    let cfg = FakeConfig::classic();
    let fr = FakePanel::start(cfg.clone()).await;
    let de = FakePanel::start(FakeConfig::v3()).await;
    shop.add_panel(&fr, &cfg, "fr-1", "France", 10).await;
    shop.add_panel(&de, &FakeConfig::v3(), "de-1", "Germany", 10).await;
    let keep = shop.customer(9100).await;
    shop.buy(keep, "France").await; // so the France inbound keeps a client
    let c = shop.customer(9101).await;
    let sub = shop.buy(c, "France").await;
    shop.provision().await;
    assert!(fr.client("MoonVpn-France-1001-1").is_some());
    shop.cmd
        .request_location_switch(&Actor::user(c, []), sub, loc("Germany"), Utc::now())
        .await
        .unwrap();
    shop.provision().await;
    assert!(de.client("MoonVpn-Germany-1001-1").is_some());
    assert!(fr.client("MoonVpn-France-1001-1").is_none());
    let events = shop.events(sub).await;
    let made = events.iter().rposition(|e| matches!(e, E::SubscriptionProvisioned { .. })).unwrap();
    let removed = events
        .iter()
        .position(|e| matches!(e, E::ClientDeprovisioned { deleted: true, .. }))
        .unwrap();
    assert!(made < removed, "created before removed");
    let access = panels::access::subscription_access(&shop.db.pool, sub).await.unwrap().unwrap();
    assert!(access.sub_url.unwrap().starts_with(&de.sub_base_url()));
    assert_eq!(access.location, "Germany");
    shop.drop().await;
}

#[tokio::test]
async fn an_expired_panel_session_costs_one_relogin_during_provisioning() {
    let shop = Shop::new().await;
    let cfg = FakeConfig {
        unauthenticated: xui_fake::Unauthenticated::Redirect307,
        ..FakeConfig::classic()
    };
    let fake = FakePanel::start(cfg.clone()).await;
    shop.add_panel(&fake, &cfg, "fr-1", "France", 10).await;
    let c = shop.customer(9200).await;
    shop.buy(c, "France").await;
    shop.provision().await;
    assert_eq!(fake.logins(), 1);
    fake.expire_sessions();
    shop.buy(c, "France").await;
    shop.provision().await;
    assert_eq!(fake.logins(), 2);
    assert_eq!(fake.client_count(), 2);
    shop.drop().await;
}

#[tokio::test]
async fn usage_sync_reads_each_panel_once_and_announces_thresholds_and_panel_expiry_once() {
    let shop = Shop::new().await;
    let cfg = FakeConfig::classic();
    let fake = FakePanel::start(cfg.clone()).await;
    let v3 = FakePanel::start(FakeConfig::v3()).await;
    shop.add_panel(&fake, &cfg, "fr-1", "France", 10).await;
    shop.add_panel(&v3, &FakeConfig::v3(), "de-1", "Germany", 10).await;
    let c = shop.customer(9300).await;
    let s1 = shop.buy(c, "France").await;
    let s2 = shop.buy(c, "Germany").await;
    shop.provision().await;
    fake.set_traffic("MoonVpn-France-1000-1", 20 * GIB, 21 * GIB, 1_700_000_000_000);
    v3.set_traffic("MoonVpn-Germany-1000-2", 30 * GIB, 25 * GIB, 0);
    v3.patch_client("MoonVpn-Germany-1000-2", |c| {
        c.insert("expiryTime".into(), serde_json::json!(1_000));
    });
    let sync = UsageSync {
        directory: shop.provisioner.directory.clone(),
        interval: Duration::from_secs(300),
    };
    fake.reset_calls();
    v3.reset_calls();
    let r = sync.step(Utc::now()).await.unwrap();
    assert_eq!(fake.calls_to("GET panel/api/inbounds/list"), 1);
    assert_eq!(fake.total_calls(), 1, "one list call for the whole classic panel");
    assert_eq!(v3.calls_to("GET panel/api/clients/list"), 1);
    assert_eq!(r.rows_written, 2);
    assert_eq!(r.thresholds_crossed, 3, "80% for France; 80% and 100% for Germany");
    assert_eq!(r.expired_on_panel, 1);
    shop.project().await;
    sync.step(Utc::now()).await.unwrap();
    let e1 = shop.events(s1).await;
    let e2 = shop.events(s2).await;
    assert_eq!(count(&e1, |e| matches!(e, E::TrafficThresholdCrossed { threshold: 80, .. })), 1);
    assert_eq!(count(&e1, |e| matches!(e, E::TrafficThresholdCrossed { threshold: 100, .. })), 0);
    assert_eq!(count(&e2, |e| matches!(e, E::TrafficThresholdCrossed { .. })), 2);
    assert_eq!(count(&e2, |e| matches!(e, E::ClientExpiredOnPanel { .. })), 1);
    let row: (i64, i64, i64) =
        sqlx::query_as("SELECT up_bytes, down_bytes, last_online_ms FROM subscription_usage WHERE subscription_id = $1")
            .bind(s1)
            .fetch_one(&shop.db.pool)
            .await
            .unwrap();
    assert_eq!(row, (20 * GIB, 21 * GIB, 1_700_000_000_000));
    shop.drop().await;
}

async fn drift(cfg: FakeConfig) {
    let shop = Shop::new().await;
    let fake = FakePanel::start(cfg.clone()).await;
    let panel = shop.add_panel(&fake, &cfg, "fr-1", "France", 100).await;
    let mut subs = Vec::new();
    for i in 0..6 {
        let c = shop.customer(9400 + i).await;
        subs.push(shop.buy(c, "France").await);
    }
    shop.provision().await;
    let email = |i: usize| format!("MoonVpn-France-{}-1", 1000 + i);
    let inbound = shop.provisioner.directory.panel(panel).await.unwrap().inbound_ids[0];
    // Every kind of drift.
    fake.remove_client(&email(0));
    fake.patch_client(&email(1), |c| {
        c.insert("totalGB".into(), serde_json::json!(999));
    });
    fake.patch_client(&email(2), |c| {
        c.insert("expiryTime".into(), serde_json::json!(1_234));
    });
    fake.patch_client(&email(3), |c| {
        c.insert("enable".into(), serde_json::json!(false));
    });
    fake.insert_client(
        inbound,
        serde_json::json!({"id": uuid::Uuid::new_v4().to_string(), "email": format!("{BRAND}-France-4242-1"), "enable": true, "totalGB": 0, "expiryTime": 0}),
    );
    fake.insert_client(
        inbound,
        serde_json::json!({"id": uuid::Uuid::new_v4().to_string(), "email": "operator-own", "enable": true, "totalGB": 0, "expiryTime": 0}),
    );
    // Cancelled here, but the client came back on the panel (say, a restored panel backup).
    shop.cmd
        .cancel_subscription(&admin(), subs[4], Toman::from_int(0).unwrap(), "fraud".into(), Utc::now())
        .await
        .unwrap();
    shop.provision().await;
    assert!(fake.client(&email(4)).is_none());
    let uuid4 = shop.cmd.subscription(subs[4]).await.unwrap().provisioning.name().to_string();
    assert_eq!(uuid4, "removed");

    let reconciler = Reconciler {
        provisioner: shop.provisioner.clone(),
        interval: Duration::from_secs(3600),
    };
    let dry = reconciler.run(true).await.unwrap();
    let kinds = |r: &panels::ReconcileReport| {
        (
            r.count(|d| matches!(d, Drift::Missing { .. })),
            r.count(|d| matches!(d, Drift::WrongTerms { .. })),
            r.count(|d| matches!(d, Drift::Orphan { .. })),
        )
    };
    assert_eq!(kinds(&dry), (1, 3, 1), "{:#?}", dry.drifts);
    assert_eq!(dry.foreign, 1);
    assert!(dry.drifts.iter().all(|(_, _, r)| *r == Repair::Reported));
    assert!(fake.client(&email(0)).is_none(), "a dry run changes nothing");

    let fixed = reconciler.run(false).await.unwrap();
    shop.project().await;
    assert_eq!(kinds(&fixed), (1, 3, 1));
    assert!(fixed.drifts.iter().all(|(_, _, r)| *r == Repair::Repaired), "{:#?}", fixed.drifts);
    for (i, &id) in subs.iter().enumerate().take(4) {
        let sub = shop.cmd.subscription(id).await.unwrap();
        let (_, c) = fake.client(&email(i)).unwrap_or_else(|| panic!("{} is back", email(i)));
        assert_eq!(c["totalGB"], 50 * GIB);
        assert_eq!(c["expiryTime"], sub.expires_at.unwrap().timestamp_millis());
        assert_eq!(c["enable"], true);
    }
    assert!(fake.client(&format!("{BRAND}-France-4242-1")).is_none(), "the orphan is gone");
    assert!(fake.client("operator-own").is_some(), "the operator's own client is left alone");
    let e0 = shop.events(subs[0]).await;
    assert_eq!(
        count(&e0, |e| matches!(e, E::ClientMissingOnPanel { .. })),
        1,
        "missing is explicit"
    );
    assert_eq!(count(&e0, |e| matches!(e, E::SubscriptionProvisioned { .. })), 2);

    let clean = reconciler.run(false).await.unwrap();
    assert!(clean.drifts.is_empty(), "{:#?}", clean.drifts);
    shop.drop().await;
}

#[tokio::test]
async fn reconciliation_finds_and_repairs_every_kind_of_drift_on_a_classic_panel() {
    drift(FakeConfig::classic()).await;
}

#[tokio::test]
async fn reconciliation_finds_and_repairs_every_kind_of_drift_on_a_v3_1_panel() {
    drift(FakeConfig::v3()).await;
}

/// Clients placed before panels kept slots (an existing install) are counted
/// when the panel's slots are opened, so they fill the panel too.
#[tokio::test]
async fn clients_placed_before_slots_existed_count_toward_the_capacity() {
    let shop = Shop::new().await;
    let cfg = FakeConfig::v3();
    let fake = FakePanel::start(cfg.clone()).await;
    let panel = shop.add_panel(&fake, &cfg, "fr-1", "France", 2).await;
    let inbound = shop.provisioner.directory.panel(panel).await.unwrap().inbound_ids[0];
    let mut subs = Vec::new();
    for i in 0..3 {
        let c = shop.customer(11_000 + i).await;
        subs.push(shop.buy(c, "France").await);
    }
    // Two clients placed the old way (an intent and a result, no slot), and
    // not projected yet: the read model still shows an empty panel.
    for (i, &sub) in subs.iter().take(2).enumerate() {
        let placement = domain::subscription::Placement {
            panel_id: panel,
            inbound_id: inbound,
            email: format!("MoonVpn-France-{}-1", 1000 + i),
            client_uuid: client_uuid(sub, panel),
            sub_id: panels::sub_id(sub),
        };
        shop.cmd.start_provisioning(sub, placement.clone(), None, Utc::now()).await.unwrap();
        let terms = shop.cmd.subscription(sub).await.unwrap().desired_terms().unwrap();
        shop.cmd
            .record_provisioned(sub, placement, terms, "https://x/sub/1".into(), vec![], Utc::now())
            .await
            .unwrap();
    }
    let r = shop.provisioner.ensure(subs[2]).await.unwrap();
    assert!(
        matches!(&r, Ensured::Failed(reason) if reason.contains("no room in France")),
        "{r:?}"
    );
    let slots = shop.cmd.panel_slot_state(panel).await.unwrap();
    assert_eq!((slots.capacity, slots.held.len()), (Some(2), 2));
    assert_eq!(fake.client_count(), 0, "the panel was not called for the third");
    shop.drop().await;
}

/// Capacity is a hard limit: every client takes a slot on its panel's
/// `PanelSlots` before the panel is called, and the read model's lag cannot
/// overfill a panel (here the `subscriptions` read model is not even projected
/// while provisioning runs, so every panel looks empty the whole time).
#[tokio::test]
async fn many_concurrent_provisions_never_place_more_clients_on_a_panel_than_its_capacity() {
    let shop = Shop::new().await;
    let cfg = FakeConfig::classic();
    let (fa, fb) = (FakePanel::start(cfg.clone()).await, FakePanel::start(cfg.clone()).await);
    let a = shop.add_panel(&fa, &cfg, "fr-a", "France", 15).await;
    let b = shop.add_panel(&fb, &cfg, "fr-b", "France", 15).await;
    let mut subs = Vec::new();
    for i in 0..40 {
        let c = shop.customer(10_000 + i).await;
        subs.push(shop.buy(c, "France").await);
    }
    let events = eventstore::read_after(&shop.db.pool, 0, 10_000).await.unwrap();
    let consumer = panels::ProvisionerConsumer {
        provisioner: shop.provisioner.clone(),
        concurrency: 8,
    };
    workers::Consumer::handle(&consumer, &events).await.unwrap();

    assert_eq!(fa.client_count(), 15, "fr-a is full, not over");
    assert_eq!(fb.client_count(), 15, "fr-b is full, not over");
    let mut provisioned = 0;
    let mut no_room = Vec::new();
    for &s in &subs {
        match shop.cmd.subscription(s).await.unwrap().provisioning {
            Provisioning::Provisioned(_) => provisioned += 1,
            Provisioning::Failed { reason } => {
                assert!(reason.starts_with("no room in France"), "{reason}");
                no_room.push(s);
            }
            other => panic!("{other:?}"),
        }
    }
    assert_eq!((provisioned, no_room.len()), (30, 10));
    for panel in [a, b] {
        let slots = shop.cmd.panel_slot_state(panel).await.unwrap();
        assert_eq!((slots.capacity, slots.held.len()), (Some(15), 15));
    }

    // The whole history delivered again reserves nothing twice and changes nothing.
    sqlx::query("UPDATE checkpoints SET position = 0 WHERE name = 'provisioner'")
        .execute(&shop.db.pool)
        .await
        .unwrap();
    shop.provision().await;
    assert_eq!((fa.client_count(), fb.client_count()), (15, 15));
    assert_eq!(shop.cmd.panel_slot_state(a).await.unwrap().held.len(), 15);

    // A cancellation frees its slot, and a retry of a failed provisioning takes it.
    let gone = *shop.cmd.panel_slot_state(a).await.unwrap().held.iter().next().unwrap();
    shop.cmd
        .cancel_subscription(&admin(), gone, Toman::from_int(0).unwrap(), "customer asked".into(), Utc::now())
        .await
        .unwrap();
    shop.provision().await;
    assert_eq!(fa.client_count(), 14);
    assert!(!shop.cmd.panel_slot_state(a).await.unwrap().held.contains(&gone), "released");
    shop.cmd.retry_provisioning(&admin(), no_room[0], Utc::now()).await.unwrap();
    shop.cmd.retry_provisioning(&admin(), no_room[1], Utc::now()).await.unwrap();
    shop.provision().await;
    assert_eq!((fa.client_count(), fb.client_count()), (15, 15));
    let states: Vec<&'static str> = {
        let mut v = Vec::new();
        for s in &no_room[..2] {
            v.push(shop.cmd.subscription(*s).await.unwrap().provisioning.name());
        }
        v.sort();
        v
    };
    assert_eq!(
        states,
        vec!["failed", "provisioned"],
        "one took the freed slot, the other found no room again"
    );
    shop.drop().await;
}
