//! The client against the fake panel, over real HTTP on 127.0.0.1.
use std::time::Duration;

use serde_json::json;
use xui::{ApiFlavor, Client, ClientOptions, Credentials, XuiClient, XuiError};
use xui_fake::{Api, FakeConfig, FakePanel, Unauthenticated};

fn creds(cfg: &FakeConfig) -> Credentials {
    Credentials::Password {
        username: cfg.username.clone(),
        password: cfg.password.clone(),
    }
}

fn fast() -> ClientOptions {
    ClientOptions {
        timeout: Duration::from_secs(5),
        connect_timeout: Duration::from_secs(2),
        attempts: 3,
        backoff: Duration::from_millis(20),
    }
}

fn client(email: &str, uuid: &str) -> Client {
    Client {
        id: uuid.into(),
        password: String::new(),
        flow: "xtls-rprx-vision".into(),
        email: email.into(),
        limit_ip: 0,
        total_bytes: 50 << 30,
        expiry_time: 1_900_000_000_000,
        enable: true,
        tg_id: 1000,
        sub_id: "k2fjd9a8sl3mc0zq".into(),
        comment: String::new(),
        reset: 0,
        security: String::new(),
    }
}

async fn panel(cfg: FakeConfig) -> (FakePanel, XuiClient) {
    let fake = FakePanel::start(cfg.clone()).await;
    let c = XuiClient::new(&fake.base_url(), creds(&cfg), fast()).unwrap();
    (fake, c)
}

/// The whole client lifecycle, the same on both APIs.
async fn lifecycle(cfg: FakeConfig, expected: ApiFlavor) {
    let (fake, xui) = panel(cfg).await;
    let inbound = fake.add_vless_reality_inbound(443, "FR");
    assert_eq!(xui.check().await.unwrap(), expected);

    let uuid = uuid::Uuid::new_v4().to_string();
    xui.add_client(inbound, &client("MoonVpn-France-1000-1", &uuid)).await.unwrap();
    // Emails are unique on the whole panel, whatever their case.
    let again = xui
        .add_client(inbound, &client("moonvpn-france-1000-1", &uuid::Uuid::new_v4().to_string()))
        .await;
    assert!(matches!(again, Err(XuiError::DuplicateEmail(_))), "{again:?}");

    let found = xui.find_client("MOONVPN-FRANCE-1000-1").await.unwrap().expect("found");
    assert_eq!(found.client.id, uuid);
    assert_eq!(found.client.total_bytes, 50 << 30);
    assert!(found.client.enable);

    let mut changed = client("MoonVpn-France-1000-1", &uuid);
    changed.total_bytes = 60 << 30;
    changed.enable = false;
    xui.update_client(inbound, &uuid, &changed).await.unwrap();
    fake.set_traffic("MoonVpn-France-1000-1", 1 << 30, 2 << 30, 1_700_000_000_000);
    let all = xui.clients().await.unwrap();
    assert_eq!(all.len(), 1);
    assert_eq!(all[0].client.total_bytes, 60 << 30);
    assert!(!all[0].client.enable);
    assert_eq!((all[0].up, all[0].down), (1 << 30, 2 << 30));
    assert_eq!(all[0].last_online_ms, 1_700_000_000_000);

    let ghost = client("nobody", &uuid::Uuid::new_v4().to_string());
    assert!(matches!(
        xui.update_client(inbound, &ghost.id, &ghost).await,
        Err(XuiError::NotFound(_))
    ));

    // A second client, so the first can be deleted (classic panels keep the last one).
    xui.add_client(inbound, &client("MoonVpn-France-1000-2", &uuid::Uuid::new_v4().to_string()))
        .await
        .unwrap();
    xui.delete_client(inbound, "vless", &changed).await.unwrap();
    assert!(xui.find_client("MoonVpn-France-1000-1").await.unwrap().is_none());
    assert_eq!(fake.client_count(), 1);

    let status = xui.server_status().await.unwrap();
    assert_eq!(status.xray.state, "running");
    assert!(status.mem.total > 0);
    assert_eq!(xui.logins(), 1, "one login serves every call");
    assert_eq!(fake.logins(), 1);
}

#[tokio::test]
async fn the_classic_api_lifecycle_works_with_one_login() {
    lifecycle(FakeConfig::classic(), ApiFlavor::Classic).await;
}

#[tokio::test]
async fn the_v3_clients_api_lifecycle_works_with_csrf_and_one_login() {
    lifecycle(FakeConfig::v3(), ApiFlavor::Clients).await;
}

#[tokio::test]
async fn a_classic_panel_refuses_to_delete_the_last_client_of_an_inbound() {
    let (fake, xui) = panel(FakeConfig::classic()).await;
    let inbound = fake.add_vless_reality_inbound(443, "FR");
    let c = client("only", &uuid::Uuid::new_v4().to_string());
    xui.add_client(inbound, &c).await.unwrap();
    let err = xui.delete_client(inbound, "vless", &c).await.unwrap_err();
    assert!(err.is_last_client(), "{err:?}");
    // Deleting an unknown key is a silent success on classic panels.
    xui.delete_client(inbound, "vless", &client("x", &uuid::Uuid::new_v4().to_string()))
        .await
        .unwrap();
}

async fn expired_session_relogs_once(unauth: Unauthenticated, api: Api, csrf: bool) {
    let cfg = FakeConfig {
        unauthenticated: unauth,
        api,
        csrf,
        ..FakeConfig::default()
    };
    let (fake, xui) = panel(cfg).await;
    fake.add_vless_reality_inbound(443, "FR");
    assert_eq!(xui.inbounds().await.unwrap().len(), 1);
    assert_eq!(fake.logins(), 1);
    fake.expire_sessions();
    assert_eq!(xui.inbounds().await.unwrap().len(), 1, "the call succeeds after re-login");
    assert_eq!(fake.logins(), 2, "exactly one re-login ({unauth:?})");
    assert_eq!(xui.inbounds().await.unwrap().len(), 1);
    assert_eq!(fake.logins(), 2, "the new session is reused");
}

#[tokio::test]
async fn an_expired_session_triggers_one_relogin_on_307_401_and_404_panels() {
    expired_session_relogs_once(Unauthenticated::Redirect307, Api::Classic, false).await;
    expired_session_relogs_once(Unauthenticated::Unauthorized401, Api::Classic, false).await;
    expired_session_relogs_once(Unauthenticated::NotFound404, Api::Classic, false).await;
    expired_session_relogs_once(Unauthenticated::NotFound404, Api::Clients, true).await;
}

#[tokio::test]
async fn concurrent_calls_on_an_expired_session_log_in_once() {
    let (fake, xui) = panel(FakeConfig::classic()).await;
    fake.add_vless_reality_inbound(443, "FR");
    xui.inbounds().await.unwrap();
    fake.expire_sessions();
    let xui = std::sync::Arc::new(xui);
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let x = xui.clone();
        tasks.push(tokio::spawn(async move { x.inbounds().await.map(|l| l.len()) }));
    }
    for t in tasks {
        assert_eq!(t.await.unwrap().unwrap(), 1);
    }
    assert_eq!(fake.logins(), 2);
}

#[tokio::test]
async fn wrong_credentials_and_tokens_are_typed_errors() {
    let cfg = FakeConfig::classic();
    let fake = FakePanel::start(cfg.clone()).await;
    let bad = XuiClient::new(
        &fake.base_url(),
        Credentials::Password {
            username: "admin".into(),
            password: "wrong".into(),
        },
        fast(),
    )
    .unwrap();
    assert_eq!(bad.inbounds().await.unwrap_err(), XuiError::BadCredentials);
    let text = format!(
        "{:?}",
        Credentials::Password {
            username: "admin".into(),
            password: "hunter2".into()
        }
    );
    assert!(!text.contains("hunter2"));

    let cfg = FakeConfig {
        api_token: Some("tok-123".into()),
        ..FakeConfig::v3()
    };
    let fake = FakePanel::start(cfg).await;
    fake.add_vless_reality_inbound(443, "FR");
    let good = XuiClient::new(&fake.base_url(), Credentials::Token("tok-123".into()), fast()).unwrap();
    assert_eq!(good.check().await.unwrap(), ApiFlavor::Clients);
    good.add_client(1, &client("t1", &uuid::Uuid::new_v4().to_string())).await.unwrap();
    assert_eq!(fake.logins(), 0, "a token needs no login");
    let wrong = XuiClient::new(&fake.base_url(), Credentials::Token("nope".into()), fast()).unwrap();
    assert_eq!(wrong.inbounds().await.unwrap_err(), XuiError::BadCredentials);
}

#[tokio::test]
async fn a_down_panel_is_unreachable_after_bounded_retries_and_works_when_back() {
    let (fake, xui) = panel(FakeConfig::classic()).await;
    fake.add_vless_reality_inbound(443, "FR");
    xui.inbounds().await.unwrap();
    fake.set_down(true);
    let started = std::time::Instant::now();
    let err = xui.inbounds().await.unwrap_err();
    assert!(matches!(err, XuiError::Unreachable(_)), "{err:?}");
    assert!(err.is_transient());
    assert!(started.elapsed() < Duration::from_secs(5));
    fake.set_down(false);
    assert_eq!(xui.inbounds().await.unwrap().len(), 1);
}

#[tokio::test]
async fn the_fake_answers_like_the_panel_to_malformed_client_bodies() {
    let cfg = FakeConfig::classic();
    let fake = FakePanel::start(cfg).await;
    let inbound = fake.add_vless_reality_inbound(443, "FR");
    let http = reqwest::Client::builder().cookie_store(true).build().unwrap();
    let base = fake.base_url();
    let login = http
        .post(format!("{base}login"))
        .form(&[("username", "admin"), ("password", "admin-secret")])
        .send()
        .await
        .unwrap();
    let body: serde_json::Value = login.json().await.unwrap();
    assert_eq!(body["success"], true);
    // A bare client object as settings: the panel panics → empty 500.
    let r = http
        .post(format!("{base}panel/api/inbounds/addClient"))
        .json(&json!({"id": inbound, "settings": "{\"id\":\"x\",\"email\":\"a\"}"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 500);
    assert!(r.bytes().await.unwrap().is_empty());
    // settings as an object: the JSON bind fails, HTTP 200 with success=false.
    let r = http
        .post(format!("{base}panel/api/inbounds/addClient"))
        .json(&json!({"id": inbound, "settings": {"clients": []}}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["success"], false);
    // A form body works, and a duplicate carries Go's trailing newline.
    let settings = json!({"clients": [{"id": uuid::Uuid::new_v4().to_string(), "email": "Bob", "enable": true}]}).to_string();
    for expected in [true, false] {
        let r: serde_json::Value = http
            .post(format!("{base}panel/api/inbounds/addClient"))
            .form(&[("id", inbound.to_string()), ("settings", settings.clone())])
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(r["success"], expected);
        if !expected {
            assert_eq!(r["msg"], "Something went wrong (Duplicate email: Bob\n)");
        }
    }
    // The sub server: base64 links with the traffic header; unknown ids get 400 "Error!".
    let r = reqwest::get(format!("{}k2fjd9a8sl3mc0zq", fake.sub_base_url())).await.unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(r.text().await.unwrap(), "Error!");
    let xui = XuiClient::new(&base, creds(&FakeConfig::classic()), fast()).unwrap();
    let uuid = uuid::Uuid::new_v4().to_string();
    xui.add_client(inbound, &client("carol", &uuid)).await.unwrap();
    let r = reqwest::get(format!("{}k2fjd9a8sl3mc0zq", fake.sub_base_url())).await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.headers()["Subscription-Userinfo"]
        .to_str()
        .unwrap()
        .contains(&format!("total={}", 50u64 << 30)));
    use base64::Engine;
    let text = String::from_utf8(base64::engine::general_purpose::STANDARD.decode(r.text().await.unwrap()).unwrap()).unwrap();
    assert!(text.starts_with(&format!("vless://{uuid}@127.0.0.1:443?")), "{text}");
    // The library builds the same link's essentials from the inbound.
    let ib = xui.inbound(inbound).await.unwrap();
    let link = xui::links::client_link(&ib, &client("carol", &uuid), "127.0.0.1").unwrap();
    assert!(link.starts_with(&format!("vless://{uuid}@127.0.0.1:443?")), "{link}");
    assert!(matches!(xui.inbound(999).await, Err(XuiError::NotFound(_))));
}

#[tokio::test]
async fn a_wrong_base_path_is_reported_not_looped_on() {
    let cfg = FakeConfig {
        base_path: "/secret/".into(),
        ..FakeConfig::classic()
    };
    let fake = FakePanel::start(cfg.clone()).await;
    let wrong = XuiClient::new(&format!("http://{}/", fake.addr), creds(&cfg), fast()).unwrap();
    let err = wrong.inbounds().await.unwrap_err();
    assert!(matches!(err, XuiError::UnexpectedReply(_)), "{err:?}");
    let right = XuiClient::new(&fake.base_url(), creds(&cfg), fast()).unwrap();
    assert!(right.inbounds().await.unwrap().is_empty());
}
