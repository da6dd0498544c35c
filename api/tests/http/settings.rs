//! Feature toggles and the license: who may see and switch them, what the
//! license refuses, and the live events that follow a switch.
use std::time::Duration;

use chrono::Utc;
use domain::access::RoleName;
use domain::features::Feature;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::common::Harness;
use crate::flow::{listen, next_of};

fn feature<'a>(list: &'a Value, name: &str) -> &'a Value {
    list.as_array()
        .and_then(|l| l.iter().find(|f| f["feature"] == name))
        .unwrap_or_else(|| panic!("no {name} in {list}"))
}

async fn feature_events(h: &Harness) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM events WHERE aggregate_type = 'Features'")
        .fetch_one(h.pool())
        .await
        .unwrap()
}

#[tokio::test]
async fn only_settings_managers_see_and_switch_features_and_the_license_refuses_what_it_does_not_cover() {
    let h = Harness::start().await;
    h.staff(60, "boss", RoleName::Admin).await;
    h.staff(61, "receipts", RoleName::ReceiptAdmin).await;
    h.staff(62, "seller", RoleName::Seller).await;
    h.customer(63, "buyer").await;
    let boss = h.staff_token(60).await;
    let receipts = h.staff_token(61).await;
    let seller = h.staff_token(62).await;
    let buyer = h.customer_token(63).await;

    // Wrong roles (and customers) are refused every route, and nothing is written.
    for token in [&receipts, &seller, &buyer] {
        for path in ["/api/admin/features", "/api/admin/license"] {
            let a = h.get(path, token).await;
            assert_eq!((a.status, a.code()), (StatusCode::FORBIDDEN, "forbidden"), "{path}: {:?}", a.body);
            assert_eq!(a.body["details"]["permission"], "manage_settings");
        }
        let a = h.post("/api/admin/features/points", Some(token), json!({"enabled": false})).await;
        assert_eq!(a.status, StatusCode::FORBIDDEN, "{:?}", a.body);
    }
    assert_eq!(feature_events(&h).await, 0);

    // Without a license: points are on and need none; the rest are off and unlicensed.
    let list = h.get("/api/admin/features", &boss).await;
    assert_eq!(list.status, StatusCode::OK, "{:?}", list.body);
    assert_eq!(list.body.as_array().unwrap().len(), Feature::ALL.len());
    let points = feature(&list.body, "points");
    assert_eq!(
        (
            points["enabled"].as_bool(),
            points["licensed"].as_bool(),
            points["active"].as_bool()
        ),
        (Some(true), Some(true), Some(true))
    );
    let chat = feature(&list.body, "chat");
    assert_eq!((chat["enabled"].as_bool(), chat["licensed"].as_bool()), (Some(false), Some(false)));
    assert!(chat["refusal"].as_str().unwrap().contains("chat is outside the license"), "{chat}");

    // Switching on an unlicensed feature is refused with the domain's reason.
    let refused = h.post("/api/admin/features/chat", Some(&boss), json!({"enabled": true})).await;
    assert_eq!(
        (refused.status, refused.code()),
        (StatusCode::UNPROCESSABLE_ENTITY, "not_licensed"),
        "{:?}",
        refused.body
    );
    assert!(
        refused.body["message"].as_str().unwrap().contains("chat is outside the license"),
        "{:?}",
        refused.body
    );

    // Bad input: an unknown feature, a missing or mistyped field, broken JSON.
    let unknown = h.post("/api/admin/features/teleport", Some(&boss), json!({"enabled": true})).await;
    assert_eq!(
        (unknown.status, unknown.code()),
        (StatusCode::UNPROCESSABLE_ENTITY, "validation_failed")
    );
    assert!(
        unknown.body["details"]["fields"]["feature"]
            .as_str()
            .unwrap()
            .contains("broadcasts"),
        "{:?}",
        unknown.body
    );
    let missing = h.post("/api/admin/features/points", Some(&boss), json!({})).await;
    assert_eq!(missing.status, StatusCode::UNPROCESSABLE_ENTITY, "{:?}", missing.body);
    let mistyped = h.post("/api/admin/features/points", Some(&boss), json!({"enabled": "yes"})).await;
    assert_eq!(mistyped.status, StatusCode::UNPROCESSABLE_ENTITY, "{:?}", mistyped.body);
    let broken = h
        .http
        .post(format!("{}/api/admin/features/points", h.base))
        .bearer_auth(&boss)
        .header("content-type", "application/json")
        .body("{\"enabled\": ")
        .send()
        .await
        .unwrap();
    assert_eq!(broken.status(), StatusCode::BAD_REQUEST);
    assert_eq!(feature_events(&h).await, 0, "nothing refused was written");

    // Switching off never needs a license; the same switch again writes nothing.
    let mut boss_live = listen(&h, &boss).await;
    let mut seller_live = listen(&h, &seller).await;
    let off = h.post("/api/admin/features/points", Some(&boss), json!({"enabled": false})).await;
    assert_eq!(off.status, StatusCode::OK, "{:?}", off.body);
    assert_eq!(
        (off.body["enabled"].as_bool(), off.body["changed"].as_bool()),
        (Some(false), Some(true))
    );
    assert_eq!(off.body["state"]["active"], false);
    let heard = next_of(&mut boss_live, "features_changed").await;
    assert_eq!(
        (heard["data"]["feature"].as_str(), heard["data"]["enabled"].as_bool()),
        (Some("points"), Some(false))
    );
    let again = h.post("/api/admin/features/points", Some(&boss), json!({"enabled": false})).await;
    assert_eq!(again.body["changed"], false);
    assert_eq!(feature_events(&h).await, 1);
    assert_eq!(feature(&h.get("/api/admin/features", &boss).await.body, "points")["enabled"], false);
    assert!(!h.cmd.feature_enabled(Feature::Points, Utc::now()).await.unwrap());
    tokio::time::sleep(Duration::from_millis(300)).await;
    while let Ok((kind, _)) = seller_live.try_recv() {
        assert_ne!(kind, "features_changed", "a seller heard of a settings change");
    }

    // The license page without a license: the unlicensed allowance.
    let license = h.get("/api/admin/license", &boss).await;
    assert_eq!(license.status, StatusCode::OK, "{:?}", license.body);
    assert_eq!(license.body["state"], "unlicensed");
    assert_eq!(license.body["licensee"], Value::Null);
    assert_eq!(
        (license.body["max_panels"].as_u64(), license.body["panels_used"].as_u64()),
        (Some(1), Some(0))
    );
    h.finish().await;
}

#[tokio::test]
async fn the_license_page_shows_the_installed_license_and_switches_follow_it() {
    // A throwaway vendor trusted by this test process (nextest runs each test in its own).
    let (issuer, verifier) = licensing::testing::vendor();
    assert!(
        licensing::replace_vendor_key(verifier),
        "the vendor key is replaced once per process"
    );
    let h = Harness::start().await;
    h.staff(64, "boss", RoleName::Admin).await;
    let boss = h.staff_token(64).await;
    let mut live = listen(&h, &boss).await;

    let mut claims = licensing::testing::claims(3);
    claims.licensee = "Moon Shop".into();
    claims.features = [Feature::Backups, Feature::Chat].into_iter().collect();
    let key = issuer.issue(&claims).unwrap();
    h.cmd.install_license(&domain::Actor::System, &key, Utc::now()).await.unwrap();
    next_of(&mut live, "license_changed").await;

    let license = h.get("/api/admin/license", &boss).await;
    assert_eq!(license.status, StatusCode::OK, "{:?}", license.body);
    let l = &license.body;
    assert_eq!(l["state"], "valid");
    assert_eq!(l["licensee"], "Moon Shop");
    assert_eq!(l["license_id"], claims.license_id.to_string());
    assert_eq!(l["grace_days"], 14);
    assert_eq!(l["licensed_features"], json!(["backups", "chat"]));
    assert_eq!(l["active_features"], json!(["backups", "chat"]));
    assert_eq!((l["max_panels"].as_u64(), l["panels_used"].as_u64()), (Some(3), Some(0)));
    assert_eq!(l["problem"], Value::Null);
    assert!(l["expires_at"].is_string() && l["grace_ends_at"].is_string() && l["installed_at"].is_string());

    // A licensed feature switches on; one outside the license is refused with what it covers.
    let on = h.post("/api/admin/features/chat", Some(&boss), json!({"enabled": true})).await;
    assert_eq!(on.status, StatusCode::OK, "{:?}", on.body);
    assert_eq!(
        (on.body["changed"].as_bool(), on.body["state"]["active"].as_bool()),
        (Some(true), Some(true))
    );
    assert!(h.cmd.feature_enabled(Feature::Chat, Utc::now()).await.unwrap());
    let ai = h.post("/api/admin/features/ai", Some(&boss), json!({"enabled": true})).await;
    assert_eq!(
        (ai.status, ai.code()),
        (StatusCode::UNPROCESSABLE_ENTITY, "not_licensed"),
        "{:?}",
        ai.body
    );
    assert!(
        ai.body["message"].as_str().unwrap().starts_with("ai is outside the license"),
        "{:?}",
        ai.body
    );
    let list = h.get("/api/admin/features", &boss).await.body;
    assert_eq!(feature(&list, "chat")["active"], true);
    assert_eq!(feature(&list, "backups")["licensed"], true);
    assert_eq!(feature(&list, "backups")["enabled"], false);
    assert_eq!(feature(&list, "ai")["licensed"], false);
    h.finish().await;
}

#[tokio::test]
async fn a_license_cannot_be_installed_over_http() {
    let h = Harness::start().await;
    h.staff(65, "boss", RoleName::Admin).await;
    let boss = h.staff_token(65).await;
    // Installing a license is the CLI's job: there is no write route for it.
    let install = h
        .call(Method::POST, "/api/admin/license", Some(&boss), Some(json!({"key": "MRJ1.x.y"})))
        .await;
    assert_eq!(install.status, StatusCode::METHOD_NOT_ALLOWED);
    h.finish().await;
}
