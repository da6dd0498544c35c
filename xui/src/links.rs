//! Direct links (vless, vmess, trojan, shadowsocks) built from an inbound's
//! `settings` and `streamSettings`, the way the panel's sub server builds them
//! (`shared/3x-ui-api.md` §7.1), and the subscription URL.
//!
//! Where the panel picks at random (a REALITY server name, short id, spiderX)
//! this takes the first entry and leaves `spx` out, so a link is stable.
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde_json::{Map, Value};

use crate::model::{Client, Inbound};

/// Where customers connect: the panel's public host, used when the inbound
/// listens on all addresses (the usual case).
pub fn connect_host<'a>(inbound: &'a Inbound, public_host: &'a str) -> &'a str {
    match inbound.listen.as_str() {
        "" | "0.0.0.0" | "::" | "::0" => public_host,
        other => other,
    }
}

/// `<sub base>/<subId>`, e.g. `https://vpn.example.com:2096/sub/k2fjd9a8sl3mc0zq`.
pub fn sub_url(sub_base_url: &str, sub_id: &str) -> String {
    format!("{}/{}", sub_base_url.trim_end_matches('/'), sub_id)
}

fn s<'a>(v: &'a Value, path: &[&str]) -> &'a str {
    let mut cur = v;
    for p in path {
        cur = &cur[*p];
    }
    cur.as_str().unwrap_or("")
}

fn first(v: &Value) -> String {
    match v {
        Value::Array(a) => a.first().and_then(Value::as_str).unwrap_or("").to_string(),
        Value::String(x) => x.clone(),
        _ => String::new(),
    }
}

fn escape_fragment(text: &str) -> String {
    let mut out = String::new();
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Query parameters of a vless or trojan link, sorted by key as Go's
/// `url.Values.Encode` sorts them.
fn params(stream: &Value, flow: &str, encryption: Option<&str>) -> Vec<(String, String)> {
    let mut p: Vec<(String, String)> = Vec::new();
    let network = match s(stream, &["network"]) {
        "" => "tcp",
        n => n,
    };
    p.push(("type".into(), network.into()));
    if let Some(e) = encryption {
        p.push(("encryption".into(), if e.is_empty() { "none".into() } else { e.into() }));
    }
    match network {
        "tcp" => {
            let header = &stream["tcpSettings"]["header"];
            if s(header, &["type"]) == "http" {
                p.push(("headerType".into(), "http".into()));
                p.push(("path".into(), first(&header["request"]["path"])));
                p.push(("host".into(), first(&header["request"]["headers"]["Host"])));
            }
        }
        "ws" | "httpupgrade" => {
            let key = if network == "ws" { "wsSettings" } else { "httpupgradeSettings" };
            let ws = &stream[key];
            p.push(("path".into(), s(ws, &["path"]).into()));
            let host = match s(ws, &["host"]) {
                "" => first(&ws["headers"]["Host"]),
                h => h.to_string(),
            };
            p.push(("host".into(), host));
        }
        "grpc" => {
            let g = &stream["grpcSettings"];
            p.push(("serviceName".into(), s(g, &["serviceName"]).into()));
            p.push(("authority".into(), s(g, &["authority"]).into()));
            if g["multiMode"].as_bool() == Some(true) {
                p.push(("mode".into(), "multi".into()));
            }
        }
        "xhttp" => {
            let x = &stream["xhttpSettings"];
            p.push(("path".into(), s(x, &["path"]).into()));
            p.push(("host".into(), s(x, &["host"]).into()));
            p.push(("mode".into(), s(x, &["mode"]).into()));
        }
        "kcp" => {
            let k = &stream["kcpSettings"];
            p.push(("headerType".into(), s(k, &["header", "type"]).into()));
            p.push(("seed".into(), s(k, &["seed"]).into()));
        }
        _ => {}
    }
    let security = match s(stream, &["security"]) {
        "" => "none",
        x => x,
    };
    p.push(("security".into(), security.into()));
    match security {
        "tls" => {
            let t = &stream["tlsSettings"];
            p.push(("sni".into(), s(t, &["serverName"]).into()));
            p.push(("fp".into(), s(t, &["settings", "fingerprint"]).into()));
            if let Some(alpn) = t["alpn"].as_array() {
                let joined: Vec<&str> = alpn.iter().filter_map(Value::as_str).collect();
                p.push(("alpn".into(), joined.join(",")));
            }
        }
        "reality" => {
            let r = &stream["realitySettings"];
            p.push(("sni".into(), first(&r["serverNames"])));
            p.push(("pbk".into(), s(r, &["settings", "publicKey"]).into()));
            p.push(("sid".into(), first(&r["shortIds"])));
            p.push(("fp".into(), s(r, &["settings", "fingerprint"]).into()));
        }
        _ => {}
    }
    if network == "tcp" && !flow.is_empty() && security != "none" {
        p.push(("flow".into(), flow.into()));
    }
    p.retain(|(_, v)| !v.is_empty());
    p.sort();
    p
}

fn query(p: &[(String, String)]) -> String {
    let mut ser = form_urlencoded::Serializer::new(String::new());
    for (k, v) in p {
        ser.append_pair(k, v);
    }
    ser.finish()
}

fn host_port(host: &str, port: u16) -> String {
    if host.contains(':') && !host.starts_with('[') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

/// The remark the panel shows: `<inbound remark>-<email>`.
pub fn remark(inbound: &Inbound, client: &Client) -> String {
    if inbound.remark.is_empty() {
        client.email.clone()
    } else {
        format!("{}-{}", inbound.remark, client.email)
    }
}

/// The direct link for `client` on `inbound`, or `None` for a protocol that has none.
pub fn client_link(inbound: &Inbound, client: &Client, public_host: &str) -> Option<String> {
    let stream = inbound.stream_json();
    let settings = inbound.settings_json();
    let host = connect_host(inbound, public_host);
    let remark = remark(inbound, client);
    match inbound.protocol.as_str() {
        "vless" => {
            let enc = settings["encryption"].as_str().unwrap_or("none");
            let p = params(&stream, &client.flow, Some(enc));
            Some(format!(
                "vless://{}@{}?{}#{}",
                client.id,
                host_port(host, inbound.port),
                query(&p),
                escape_fragment(&remark)
            ))
        }
        "trojan" => {
            let p = params(&stream, &client.flow, None);
            Some(format!(
                "trojan://{}@{}?{}#{}",
                escape_fragment(&client.password),
                host_port(host, inbound.port),
                query(&p),
                escape_fragment(&remark)
            ))
        }
        "vmess" => Some(vmess_link(inbound, client, host, &remark, &stream)),
        "shadowsocks" => {
            let method = settings["method"].as_str().unwrap_or("");
            let secret = if method.starts_with("2022") {
                format!("{method}:{}:{}", settings["password"].as_str().unwrap_or(""), client.password)
            } else {
                format!("{method}:{}", client.password)
            };
            let network = match s(&stream, &["network"]) {
                "" => "tcp",
                n => n,
            };
            Some(format!(
                "ss://{}@{}?type={network}#{}",
                STANDARD.encode(secret),
                host_port(host, inbound.port),
                escape_fragment(&remark)
            ))
        }
        _ => None,
    }
}

fn vmess_link(inbound: &Inbound, client: &Client, host: &str, remark: &str, stream: &Value) -> String {
    // A BTreeMap-backed map serialises with sorted keys, as the panel does.
    let mut o = Map::new();
    let p: std::collections::BTreeMap<String, String> = params(stream, "", None).into_iter().collect();
    let network = p.get("type").cloned().unwrap_or_else(|| "tcp".into());
    o.insert("v".into(), Value::from("2"));
    o.insert("ps".into(), Value::from(remark));
    o.insert("add".into(), Value::from(host));
    o.insert("port".into(), Value::from(inbound.port));
    o.insert("id".into(), Value::from(client.id.as_str()));
    o.insert(
        "scy".into(),
        Value::from(if client.security.is_empty() {
            "auto"
        } else {
            client.security.as_str()
        }),
    );
    o.insert("net".into(), Value::from(network.as_str()));
    let kind = match (network.as_str(), p.get("headerType"), p.get("mode")) {
        ("grpc", _, Some(m)) if m == "multi" => "multi".to_string(),
        (_, Some(h), _) => h.clone(),
        _ => "none".to_string(),
    };
    o.insert("type".into(), Value::from(kind));
    let tls = p.get("security").map(String::as_str).unwrap_or("none");
    o.insert("tls".into(), Value::from(if tls == "tls" { "tls" } else { "none" }));
    for (k, key) in [
        ("path", "path"),
        ("host", "host"),
        ("sni", "sni"),
        ("fp", "fp"),
        ("alpn", "alpn"),
        ("serviceName", "path"),
        ("authority", "authority"),
    ] {
        if let Some(v) = p.get(k) {
            o.insert(key.into(), Value::from(v.as_str()));
        }
    }
    let sorted: std::collections::BTreeMap<String, Value> = o.into_iter().collect();
    let text = serde_json::to_string_pretty(&sorted).expect("a map of strings serialises");
    format!("vmess://{}", STANDARD.encode(text))
}

/// The subscription body as the sub server sends it: links joined by `\n`
/// (each followed by one), base64 when `encrypt`.
pub fn subscription_body(links: &[String], encrypt: bool) -> String {
    let mut text = String::new();
    for l in links {
        text.push_str(l);
        text.push('\n');
    }
    if encrypt {
        STANDARD.encode(text)
    } else {
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inbound(protocol: &str, settings: Value, stream: Value) -> Inbound {
        Inbound {
            id: 1,
            up: 0,
            down: 0,
            total: 0,
            remark: "FR".into(),
            enable: true,
            expiry_time: 0,
            client_stats: None,
            listen: String::new(),
            port: 443,
            protocol: protocol.into(),
            settings: settings.to_string(),
            stream_settings: stream.to_string(),
            tag: "inbound-443".into(),
        }
    }

    fn client() -> Client {
        Client {
            id: "b831381d-6324-4d53-ad4f-8cda48b30811".into(),
            password: "p@ss word".into(),
            flow: "xtls-rprx-vision".into(),
            email: "MoonVpn-France-1000-1".into(),
            limit_ip: 0,
            total_bytes: 0,
            expiry_time: 0,
            enable: true,
            tg_id: 0,
            sub_id: "k2fjd9a8sl3mc0zq".into(),
            comment: String::new(),
            reset: 0,
            security: String::new(),
        }
    }

    fn query_of(link: &str) -> Vec<(String, String)> {
        let q = link.split_once('?').unwrap().1.split_once('#').unwrap().0;
        form_urlencoded::parse(q.as_bytes()).into_owned().collect()
    }

    #[test]
    fn a_vless_reality_link_carries_the_reality_keys_in_sorted_order() {
        let stream = serde_json::json!({
            "network": "tcp", "security": "reality",
            "realitySettings": {"serverNames": ["www.google.com", "x.com"], "shortIds": ["6ba85179e30d4fc2"],
                                "settings": {"publicKey": "KEY", "fingerprint": "chrome"}}
        });
        let link = client_link(
            &inbound("vless", serde_json::json!({"clients": [], "decryption": "none"}), stream),
            &client(),
            "fr1.example.com",
        )
        .unwrap();
        assert!(
            link.starts_with("vless://b831381d-6324-4d53-ad4f-8cda48b30811@fr1.example.com:443?"),
            "{link}"
        );
        assert!(link.ends_with("#FR-MoonVpn-France-1000-1"), "{link}");
        let q = query_of(&link);
        let keys: Vec<&str> = q.iter().map(|(k, _)| k.as_str()).collect();
        let mut sorted = keys.clone();
        sorted.sort();
        assert_eq!(keys, sorted);
        let get = |k: &str| q.iter().find(|(x, _)| x == k).map(|(_, v)| v.clone());
        assert_eq!(get("pbk").as_deref(), Some("KEY"));
        assert_eq!(get("sni").as_deref(), Some("www.google.com"));
        assert_eq!(get("sid").as_deref(), Some("6ba85179e30d4fc2"));
        assert_eq!(get("flow").as_deref(), Some("xtls-rprx-vision"));
        assert_eq!(get("encryption").as_deref(), Some("none"));
        assert_eq!(get("type").as_deref(), Some("tcp"));
    }

    #[test]
    fn a_vmess_link_is_base64_of_sorted_pretty_json() {
        let stream = serde_json::json!({"network": "ws", "security": "tls", "wsSettings": {"path": "/ws", "headers": {"Host": "cdn.example.com"}},
                                        "tlsSettings": {"serverName": "cdn.example.com", "alpn": ["h2", "http/1.1"]}});
        let link = client_link(
            &inbound("vmess", serde_json::json!({"clients": []}), stream),
            &client(),
            "fr1.example.com",
        )
        .unwrap();
        let text = String::from_utf8(STANDARD.decode(link.strip_prefix("vmess://").unwrap()).unwrap()).unwrap();
        assert!(text.starts_with("{\n  \"add\""), "{text}");
        let v: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["net"], "ws");
        assert_eq!(v["path"], "/ws");
        assert_eq!(v["host"], "cdn.example.com");
        assert_eq!(v["tls"], "tls");
        assert_eq!(v["port"], 443);
        assert_eq!(v["id"], "b831381d-6324-4d53-ad4f-8cda48b30811");
        assert_eq!(v["alpn"], "h2,http/1.1");
    }

    #[test]
    fn a_trojan_link_escapes_the_password_and_uses_the_listen_address_when_set() {
        let mut ib = inbound(
            "trojan",
            serde_json::json!({"clients": []}),
            serde_json::json!({"network": "grpc", "security": "tls",
            "grpcSettings": {"serviceName": "svc", "multiMode": true}, "tlsSettings": {"serverName": "t.example.com"}}),
        );
        ib.listen = "10.0.0.5".into();
        let link = client_link(&ib, &client(), "ignored").unwrap();
        assert!(link.starts_with("trojan://p%40ss%20word@10.0.0.5:443?"), "{link}");
        let q = query_of(&link);
        assert!(q.contains(&("mode".into(), "multi".into())));
        assert!(q.contains(&("serviceName".into(), "svc".into())));
        assert!(!q.iter().any(|(k, _)| k == "flow"), "flow only on tcp");
    }

    #[test]
    fn subscription_urls_and_bodies() {
        assert_eq!(sub_url("https://h:2096/sub/", "abc"), "https://h:2096/sub/abc");
        let body = subscription_body(&["a".into(), "b".into()], true);
        assert_eq!(STANDARD.decode(body).unwrap(), b"a\nb\n");
    }
}
