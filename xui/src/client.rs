//! The HTTP client. One [`XuiClient`] per panel, shared by every task: it logs
//! in once, reuses the session, and logs in again (once per call) when the
//! panel says the session is gone — a redirect (v2.0–v2.8.3), 401, 404
//! (v2.8.4+), 403 (a stale v3 CSRF token) or an HTML page instead of JSON.
use std::collections::BTreeMap;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use reqwest::header::{HeaderMap, HeaderValue, AUTHORIZATION, CONTENT_TYPE, COOKIE, SET_COOKIE};
use reqwest::{Method, StatusCode};
use serde::Deserialize;
use serde_json::{json, Value};
use tokio::sync::Mutex;

use crate::model::{ApiFlavor, Client, ClientTraffic, Envelope, Inbound, PanelClient, ServerStatus};
use crate::XuiError;

/// How the client authenticates. `Debug` never shows the secret.
#[derive(Clone, PartialEq, Eq)]
pub enum Credentials {
    Password {
        username: String,
        password: String,
    },
    /// A v3 API token, sent as `Authorization: Bearer …` (no session, no CSRF).
    Token(String),
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Credentials::Password { username, .. } => write!(f, "Password {{ username: {username:?}, password: *** }}"),
            Credentials::Token(_) => f.write_str("Token(***)"),
        }
    }
}

/// Timeouts and retries. Only transient failures (no connection, a timeout,
/// 502/503/504) are retried; a refusal is an answer and is returned at once.
#[derive(Debug, Clone)]
pub struct ClientOptions {
    /// For one HTTP exchange.
    pub timeout: Duration,
    pub connect_timeout: Duration,
    /// Attempts per request, the first included.
    pub attempts: u32,
    /// Pause before the second attempt; doubled for each further one.
    pub backoff: Duration,
}

impl Default for ClientOptions {
    fn default() -> Self {
        ClientOptions {
            timeout: Duration::from_secs(15),
            connect_timeout: Duration::from_secs(5),
            attempts: 3,
            backoff: Duration::from_millis(300),
        }
    }
}

#[derive(Default)]
struct Session {
    cookies: BTreeMap<String, String>,
    csrf: Option<String>,
    valid: bool,
    /// Bumped by every login, so racing callers log in once between them.
    generation: u64,
}

#[derive(Clone)]
struct Auth {
    cookie: Option<String>,
    csrf: Option<String>,
    generation: u64,
    /// The session was made during this call: a 404 now is a missing route, not an expired session.
    fresh: bool,
}

enum Body {
    Empty,
    Form(Vec<(&'static str, String)>),
    Json(Value),
}

struct Req {
    method: Method,
    route: String,
    body: Body,
}

impl Req {
    fn get(route: impl Into<String>) -> Req {
        Req {
            method: Method::GET,
            route: route.into(),
            body: Body::Empty,
        }
    }
    fn post(route: impl Into<String>, body: Body) -> Req {
        Req {
            method: Method::POST,
            route: route.into(),
            body,
        }
    }
}

struct Reply {
    status: StatusCode,
    html: bool,
    set_cookies: Vec<String>,
    body: Vec<u8>,
}

/// What a 404 means for a request.
#[derive(Clone, Copy, PartialEq)]
enum On404 {
    /// The route exists on every version we call it on: 404 = no session.
    Session,
    /// The route may not exist on this version: after a fresh login, 404 = missing.
    MaybeMissing,
}

pub struct XuiClient {
    http: reqwest::Client,
    base: String,
    credentials: Credentials,
    options: ClientOptions,
    session: Mutex<Session>,
    flavor: Mutex<Option<ApiFlavor>>,
    logins: AtomicU64,
    requests: AtomicU64,
}

impl fmt::Debug for XuiClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("XuiClient").field("base", &self.base).finish_non_exhaustive()
    }
}

fn url_segment(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes())
        .collect::<String>()
        .replace('+', "%20")
}

impl XuiClient {
    /// `base_url` is `scheme://host:port/<webBasePath>/` (the base path is part of it).
    pub fn new(base_url: &str, credentials: Credentials, options: ClientOptions) -> Result<XuiClient, XuiError> {
        let http = reqwest::Client::builder()
            .timeout(options.timeout)
            .connect_timeout(options.connect_timeout)
            // A redirect is how old panels say "log in"; it must be seen, not followed.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| XuiError::UnexpectedReply(format!("cannot build the HTTP client: {e}")))?;
        let base = format!("{}/", base_url.trim_end_matches('/'));
        if reqwest::Url::parse(&base).is_err() {
            return Err(XuiError::UnexpectedReply(format!("not a URL: {base}")));
        }
        Ok(XuiClient {
            http,
            base,
            credentials,
            options,
            session: Mutex::new(Session::default()),
            flavor: Mutex::new(None),
            logins: AtomicU64::new(0),
            requests: AtomicU64::new(0),
        })
    }

    pub fn base_url(&self) -> &str {
        &self.base
    }

    /// Logins performed so far (a healthy client logs in once per session).
    pub fn logins(&self) -> u64 {
        self.logins.load(Ordering::Relaxed)
    }

    /// HTTP requests sent so far, retries and logins included.
    pub fn requests(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }

    fn url(&self, route: &str) -> String {
        format!("{}{}", self.base, route.trim_start_matches('/'))
    }

    // ---- transport ---------------------------------------------------------

    async fn send_once(&self, req: &Req, auth: Option<&Auth>) -> Result<Reply, reqwest::Error> {
        self.requests.fetch_add(1, Ordering::Relaxed);
        let mut headers = HeaderMap::new();
        headers.insert("Accept", HeaderValue::from_static("application/json"));
        match &self.credentials {
            Credentials::Token(t) => {
                if let Ok(v) = HeaderValue::from_str(&format!("Bearer {t}")) {
                    headers.insert(AUTHORIZATION, v);
                }
            }
            Credentials::Password { .. } => {
                if let Some(a) = auth {
                    if let Some(c) = a.cookie.as_deref().and_then(|c| HeaderValue::from_str(c).ok()) {
                        headers.insert(COOKIE, c);
                    }
                    if req.method != Method::GET {
                        if let Some(t) = a.csrf.as_deref().and_then(|t| HeaderValue::from_str(t).ok()) {
                            headers.insert("X-CSRF-Token", t);
                        }
                    }
                }
            }
        }
        let mut builder = self.http.request(req.method.clone(), self.url(&req.route)).headers(headers);
        builder = match &req.body {
            Body::Empty => builder,
            Body::Form(fields) => builder.form(fields),
            Body::Json(v) => builder.json(v),
        };
        let resp = builder.send().await?;
        let status = resp.status();
        let html = resp
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.contains("text/html"));
        let set_cookies = resp
            .headers()
            .get_all(SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok().map(str::to_string))
            .collect();
        let body = resp.bytes().await?.to_vec();
        Ok(Reply {
            status,
            html,
            set_cookies,
            body,
        })
    }

    /// Sends with bounded retries and doubling pauses for transient failures only.
    async fn send(&self, req: &Req, auth: Option<&Auth>) -> Result<Reply, XuiError> {
        let mut pause = self.options.backoff;
        let attempts = self.options.attempts.max(1);
        let mut last = String::new();
        for attempt in 1..=attempts {
            match self.send_once(req, auth).await {
                Ok(r) if matches!(r.status.as_u16(), 502..=504) => last = format!("HTTP {}", r.status.as_u16()),
                Ok(r) => return Ok(r),
                Err(e) => last = describe(&e),
            }
            if attempt < attempts {
                tracing::debug!(route = %req.route, attempt, error = %last, "panel request failed; retrying");
                tokio::time::sleep(pause).await;
                pause *= 2;
            }
        }
        Err(XuiError::Unreachable(last))
    }

    // ---- session -------------------------------------------------------------

    /// The current session, logging in first when there is none.
    async fn auth(&self) -> Result<Auth, XuiError> {
        let mut s = self.session.lock().await;
        let mut fresh = false;
        if !s.valid {
            if let Credentials::Password { .. } = self.credentials {
                self.login_locked(&mut s).await?;
                fresh = true;
            }
        }
        Ok(Auth {
            cookie: cookie_header(&s.cookies),
            csrf: s.csrf.clone(),
            generation: s.generation,
            fresh,
        })
    }

    /// Logs in again unless another caller already did since `seen`.
    async fn relogin(&self, seen: u64) -> Result<Auth, XuiError> {
        let mut s = self.session.lock().await;
        if s.generation == seen {
            self.login_locked(&mut s).await?;
        }
        Ok(Auth {
            cookie: cookie_header(&s.cookies),
            csrf: s.csrf.clone(),
            generation: s.generation,
            fresh: true,
        })
    }

    /// Forgets the session (the next call logs in).
    pub async fn logout_locally(&self) {
        let mut s = self.session.lock().await;
        s.valid = false;
        s.cookies.clear();
        s.csrf = None;
    }

    async fn login_locked(&self, s: &mut Session) -> Result<(), XuiError> {
        let Credentials::Password { username, password } = &self.credentials else {
            return Ok(());
        };
        s.valid = false;
        s.cookies.clear();
        s.csrf = None;
        // v3 wants a CSRF token on every non-GET, the login included.
        s.csrf = self.fetch_csrf(s).await?;
        let auth = Auth {
            cookie: cookie_header(&s.cookies),
            csrf: s.csrf.clone(),
            generation: s.generation,
            fresh: true,
        };
        let form = Body::Form(vec![("username", username.clone()), ("password", password.clone())]);
        let reply = self.send(&Req::post("login", form), Some(&auth)).await?;
        absorb_cookies(&mut s.cookies, &reply.set_cookies);
        if !reply.status.is_success() {
            return Err(XuiError::UnexpectedReply(format!(
                "login answered HTTP {} (is the base path right?)",
                reply.status.as_u16()
            )));
        }
        let env = envelope(&reply)?;
        if !env.success {
            return Err(XuiError::BadCredentials);
        }
        if s.cookies.is_empty() {
            return Err(XuiError::UnexpectedReply("login succeeded but set no session cookie".into()));
        }
        if s.csrf.is_some() {
            // The token belongs to the session: take the one for the new session.
            s.csrf = self.fetch_csrf(s).await?;
        }
        s.valid = true;
        s.generation += 1;
        self.logins.fetch_add(1, Ordering::Relaxed);
        tracing::debug!(panel = %self.base, "logged in to panel");
        Ok(())
    }

    /// `GET {base}csrf-token` (v3+); `None` when the panel has no CSRF protection.
    async fn fetch_csrf(&self, s: &mut Session) -> Result<Option<String>, XuiError> {
        let auth = Auth {
            cookie: cookie_header(&s.cookies),
            csrf: None,
            generation: s.generation,
            fresh: true,
        };
        let reply = self.send(&Req::get("csrf-token"), Some(&auth)).await?;
        if reply.status != StatusCode::OK || reply.html {
            return Ok(None);
        }
        absorb_cookies(&mut s.cookies, &reply.set_cookies);
        match serde_json::from_slice::<Envelope>(&reply.body) {
            Ok(Envelope {
                success: true,
                obj: Value::String(t),
                ..
            }) if !t.is_empty() => Ok(Some(t)),
            _ => Ok(None),
        }
    }

    /// One authenticated API call, with one transparent re-login.
    async fn call(&self, req: Req, on404: On404) -> Result<Envelope, XuiError> {
        let mut auth = self.auth().await?;
        let mut relogged = false;
        loop {
            let reply = self.send(&req, Some(&auth)).await?;
            let status = reply.status.as_u16();
            let unauthenticated = match status {
                200 if reply.html || reply.body.first() == Some(&b'<') => true,
                200 => return envelope(&reply),
                300..=399 | 401 | 403 => true,
                404 if on404 == On404::MaybeMissing && (auth.fresh || relogged) => {
                    return Err(XuiError::NotFound(format!("route {}", req.route)));
                }
                404 if on404 == On404::MaybeMissing => {
                    // Expired session or missing route? Ask a route every version
                    // has (it logs in again if the session is gone), then retry once.
                    Box::pin(self.call(Req::get("panel/api/inbounds/get/0"), On404::Session)).await?;
                    auth = self.auth().await?;
                    auth.fresh = true;
                    continue;
                }
                404 => true,
                _ => {
                    let what = if reply.body.is_empty() { " with an empty body" } else { "" };
                    return Err(XuiError::UnexpectedReply(format!("HTTP {status}{what} for {}", req.route)));
                }
            };
            debug_assert!(unauthenticated);
            match &self.credentials {
                Credentials::Token(_) if on404 == On404::MaybeMissing && status == 404 => {
                    return Err(XuiError::NotFound(format!("route {}", req.route)));
                }
                Credentials::Token(_) => return Err(XuiError::BadCredentials),
                Credentials::Password { .. } if relogged => {
                    return Err(XuiError::UnexpectedReply(format!(
                        "HTTP {status} for {} right after logging in (wrong base path?)",
                        req.route
                    )));
                }
                Credentials::Password { .. } => {
                    tracing::info!(panel = %self.base, status, "panel session expired; logging in again");
                    auth = self.relogin(auth.generation).await?;
                    relogged = true;
                }
            }
        }
    }

    async fn call_ok(&self, req: Req, on404: On404) -> Result<Value, XuiError> {
        let env = self.call(req, on404).await?;
        if env.success {
            Ok(env.obj)
        } else {
            Err(refusal(&env.message()))
        }
    }

    // ---- API -------------------------------------------------------------------

    /// Which client API the panel speaks (detected once, then remembered).
    pub async fn flavor(&self) -> Result<ApiFlavor, XuiError> {
        // Held while probing, so concurrent first calls probe once.
        let mut cached = self.flavor.lock().await;
        if let Some(f) = *cached {
            return Ok(f);
        }
        // A cheap probe: an unknown email. v3.1+ answers JSON, older panels 404.
        let found = match self
            .call(Req::get("panel/api/clients/get/mrjbot-api-probe"), On404::MaybeMissing)
            .await
        {
            Ok(_) => ApiFlavor::Clients,
            Err(XuiError::NotFound(_)) => ApiFlavor::Classic,
            Err(e) => return Err(e),
        };
        *cached = Some(found);
        tracing::info!(panel = %self.base, api = found.name(), "detected panel API");
        Ok(found)
    }

    /// Logs in (when needed) and detects the API: a connectivity and credentials check.
    pub async fn check(&self) -> Result<ApiFlavor, XuiError> {
        self.auth().await?;
        self.flavor().await
    }

    pub async fn inbounds(&self) -> Result<Vec<Inbound>, XuiError> {
        let obj = self.call_ok(Req::get("panel/api/inbounds/list"), On404::Session).await?;
        if obj.is_null() {
            return Ok(Vec::new());
        }
        serde_json::from_value(obj).map_err(|e| XuiError::UnexpectedReply(format!("inbounds/list: {e}")))
    }

    pub async fn inbound(&self, id: i64) -> Result<Inbound, XuiError> {
        let obj = self
            .call_ok(Req::get(format!("panel/api/inbounds/get/{id}")), On404::Session)
            .await
            .map_err(|e| match e {
                XuiError::Rejected(m) if m.contains("not found") => XuiError::NotFound(format!("inbound {id}")),
                e => e,
            })?;
        serde_json::from_value(obj).map_err(|e| XuiError::UnexpectedReply(format!("inbounds/get: {e}")))
    }

    /// Every client on the panel with its traffic: one call for classic panels
    /// (`inbounds/list` carries `clientStats`), two for v3.1+ (`clients/list`
    /// and `clients/lastOnline`) — never one per client.
    pub async fn clients(&self) -> Result<Vec<PanelClient>, XuiError> {
        match self.flavor().await? {
            ApiFlavor::Classic => {
                let mut out = Vec::new();
                for inbound in self.inbounds().await? {
                    out.extend(classic_clients(&inbound)?);
                }
                Ok(out)
            }
            ApiFlavor::Clients => {
                let obj = self.call_ok(Req::get("panel/api/clients/list"), On404::Session).await?;
                let rows: Vec<V31Client> = if obj.is_null() {
                    Vec::new()
                } else {
                    serde_json::from_value(obj).map_err(|e| XuiError::UnexpectedReply(format!("clients/list: {e}")))?
                };
                let last = self
                    .call_ok(Req::post("panel/api/clients/lastOnline", Body::Empty), On404::Session)
                    .await?;
                let last: BTreeMap<String, i64> = serde_json::from_value(last).unwrap_or_default();
                Ok(rows
                    .into_iter()
                    .flat_map(|r| {
                        let last_online = last.get(&r.email).copied().unwrap_or(0);
                        r.into_panel_clients(last_online)
                    })
                    .collect())
            }
        }
    }

    /// The client with this email (case-insensitive, as the panel compares), if any.
    pub async fn find_client(&self, email: &str) -> Result<Option<PanelClient>, XuiError> {
        match self.flavor().await? {
            ApiFlavor::Classic => Ok(self
                .clients()
                .await?
                .into_iter()
                .find(|c| c.client.email.eq_ignore_ascii_case(email))),
            ApiFlavor::Clients => {
                let env = self
                    .call(Req::get(format!("panel/api/clients/get/{}", url_segment(email))), On404::Session)
                    .await?;
                if !env.success || env.obj.is_null() {
                    return Ok(None);
                }
                let row: V31Client = serde_json::from_value(env.obj).map_err(|e| XuiError::UnexpectedReply(format!("clients/get: {e}")))?;
                Ok(row.into_panel_clients(0).into_iter().next())
            }
        }
    }

    /// Adds `client` to inbound `inbound_id`. `settings` goes as a JSON *string*
    /// holding `{"clients":[…]}`: the shape the panel needs (anything else
    /// makes it answer an empty HTTP 500).
    pub async fn add_client(&self, inbound_id: i64, client: &Client) -> Result<(), XuiError> {
        let req = match self.flavor().await? {
            ApiFlavor::Classic => Req::post(
                "panel/api/inbounds/addClient",
                Body::Json(json!({ "id": inbound_id, "settings": settings_string(client)? })),
            ),
            ApiFlavor::Clients => Req::post(
                "panel/api/clients/add",
                Body::Json(json!({ "client": client, "inboundIds": [inbound_id] })),
            ),
        };
        self.call_ok(req, On404::Session).await.map(drop).map_err(|e| match e {
            XuiError::Rejected(m) if is_duplicate(&m) => XuiError::DuplicateEmail(client.email.clone()),
            e => e,
        })
    }

    /// Replaces the client (found by its key on classic panels, by email on
    /// v3.1+) with `client`, wholesale.
    pub async fn update_client(&self, inbound_id: i64, key: &str, client: &Client) -> Result<(), XuiError> {
        let req = match self.flavor().await? {
            ApiFlavor::Classic => Req::post(
                format!("panel/api/inbounds/updateClient/{}", url_segment(key)),
                Body::Json(json!({ "id": inbound_id, "settings": settings_string(client)? })),
            ),
            ApiFlavor::Clients => Req::post(
                format!("panel/api/clients/update/{}", url_segment(&client.email)),
                Body::Json(serde_json::to_value(client).map_err(|e| XuiError::UnexpectedReply(e.to_string()))?),
            ),
        };
        self.call_ok(req, On404::Session).await.map(drop).map_err(|e| match e {
            XuiError::Rejected(m) if m.contains("empty client ID") || m.to_lowercase().contains("not found") => {
                XuiError::NotFound(format!("client {}", client.email))
            }
            XuiError::Rejected(m) if is_duplicate(&m) => XuiError::DuplicateEmail(client.email.clone()),
            e => e,
        })
    }

    /// Deletes a client. Classic panels answer success for an unknown key and
    /// refuse to delete an inbound's last client ([`XuiError::is_last_client`]).
    pub async fn delete_client(&self, inbound_id: i64, protocol: &str, client: &Client) -> Result<(), XuiError> {
        let req = match self.flavor().await? {
            ApiFlavor::Classic => Req::post(
                format!("panel/api/inbounds/{inbound_id}/delClient/{}", url_segment(client.key(protocol))),
                Body::Empty,
            ),
            ApiFlavor::Clients => Req::post(format!("panel/api/clients/del/{}", url_segment(&client.email)), Body::Empty),
        };
        self.call_ok(req, On404::Session).await.map(drop).map_err(|e| match e {
            XuiError::Rejected(m) if m.to_lowercase().contains("not found") => XuiError::NotFound(format!("client {}", client.email)),
            e => e,
        })
    }

    /// CPU, memory, disk, Xray state and uptime: `GET panel/api/server/status`
    /// (v2.7+), falling back to `POST server/status` on older panels.
    pub async fn server_status(&self) -> Result<ServerStatus, XuiError> {
        let obj = match self.call_ok(Req::get("panel/api/server/status"), On404::MaybeMissing).await {
            Err(XuiError::NotFound(_)) => self.call_ok(Req::post("server/status", Body::Empty), On404::Session).await?,
            other => other?,
        };
        if obj.is_null() {
            return Err(XuiError::UnexpectedReply("server status not ready yet (null)".into()));
        }
        serde_json::from_value(obj).map_err(|e| XuiError::UnexpectedReply(format!("server/status: {e}")))
    }
}

fn settings_string(client: &Client) -> Result<String, XuiError> {
    serde_json::to_string(&json!({ "clients": [client] })).map_err(|e| XuiError::UnexpectedReply(e.to_string()))
}

fn is_duplicate(msg: &str) -> bool {
    let m = msg.to_lowercase();
    m.contains("duplicate email") || m.contains("already in use")
}

fn refusal(msg: &str) -> XuiError {
    if is_duplicate(msg) {
        let email = msg
            .split("Duplicate email:")
            .nth(1)
            .map(|s| s.trim_end_matches(')').trim().to_string())
            .unwrap_or_default();
        return XuiError::DuplicateEmail(email);
    }
    XuiError::Rejected(msg.to_string())
}

fn envelope(reply: &Reply) -> Result<Envelope, XuiError> {
    serde_json::from_slice(&reply.body).map_err(|e| {
        let head: String = String::from_utf8_lossy(&reply.body).chars().take(80).collect();
        XuiError::UnexpectedReply(format!("not the JSON envelope ({e}): {head:?}"))
    })
}

fn describe(e: &reqwest::Error) -> String {
    let kind = if e.is_timeout() {
        "timeout"
    } else if e.is_connect() {
        "cannot connect"
    } else {
        "connection failed"
    };
    let mut cause = String::new();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        cause = s.to_string();
        source = s.source();
    }
    if cause.is_empty() {
        kind.to_string()
    } else {
        format!("{kind}: {cause}")
    }
}

fn cookie_header(cookies: &BTreeMap<String, String>) -> Option<String> {
    if cookies.is_empty() {
        return None;
    }
    Some(cookies.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("; "))
}

fn absorb_cookies(jar: &mut BTreeMap<String, String>, set_cookies: &[String]) {
    for c in set_cookies {
        let pair = c.split(';').next().unwrap_or_default();
        if let Some((name, value)) = pair.split_once('=') {
            let expired = c.to_ascii_lowercase().contains("max-age=0") || c.to_ascii_lowercase().contains("max-age=-");
            if value.is_empty() || expired {
                jar.remove(name.trim());
            } else {
                jar.insert(name.trim().to_string(), value.trim().to_string());
            }
        }
    }
}

fn classic_clients(inbound: &Inbound) -> Result<Vec<PanelClient>, XuiError> {
    let clients = inbound
        .clients()
        .map_err(|e| XuiError::UnexpectedReply(format!("inbound {} settings: {e}", inbound.id)))?;
    let stats: BTreeMap<String, &ClientTraffic> = inbound.client_stats.iter().flatten().map(|s| (s.email.to_lowercase(), s)).collect();
    Ok(clients
        .into_iter()
        .map(|client| {
            let stat = stats.get(&client.email.to_lowercase());
            PanelClient {
                inbound_id: inbound.id,
                protocol: inbound.protocol.clone(),
                up: stat.map_or(0, |s| s.up),
                down: stat.map_or(0, |s| s.down),
                traffic_enabled: stat.map_or(client.enable, |s| s.enable),
                last_online_ms: stat.map_or(0, |s| s.last_online),
                client,
            }
        })
        .collect())
}

/// A client as `clients/list` and `clients/get` return it (v3.1+).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct V31Client {
    #[serde(default, deserialize_with = "crate::model::nullable")]
    id: Value,
    #[serde(default, deserialize_with = "crate::model::nullable")]
    uuid: Option<String>,
    #[serde(default, deserialize_with = "crate::model::nullable")]
    password: String,
    #[serde(default, deserialize_with = "crate::model::nullable")]
    flow: String,
    email: String,
    #[serde(default, deserialize_with = "crate::model::nullable")]
    limit_ip: i64,
    #[serde(rename = "totalGB", default, deserialize_with = "crate::model::nullable")]
    total_bytes: i64,
    #[serde(default, deserialize_with = "crate::model::nullable")]
    expiry_time: i64,
    #[serde(default, deserialize_with = "crate::model::nullable")]
    enable: bool,
    #[serde(default, deserialize_with = "crate::model::nullable")]
    tg_id: Value,
    #[serde(default, deserialize_with = "crate::model::nullable")]
    sub_id: String,
    #[serde(default, deserialize_with = "crate::model::nullable")]
    comment: String,
    #[serde(default, deserialize_with = "crate::model::nullable")]
    reset: i64,
    #[serde(default, deserialize_with = "crate::model::nullable")]
    inbound_ids: Vec<i64>,
    #[serde(default, deserialize_with = "crate::model::nullable")]
    traffic: Option<V31Traffic>,
}

#[derive(Debug, Deserialize, Default)]
struct V31Traffic {
    #[serde(default)]
    up: i64,
    #[serde(default)]
    down: i64,
    #[serde(default)]
    enable: Option<bool>,
}

impl V31Client {
    fn into_panel_clients(self, last_online_ms: i64) -> Vec<PanelClient> {
        let id = self
            .uuid
            .clone()
            .or_else(|| self.id.as_str().map(str::to_string))
            .unwrap_or_default();
        let tg_id = match &self.tg_id {
            Value::Number(n) => n.as_i64().unwrap_or(0),
            Value::String(s) => s.parse().unwrap_or(0),
            _ => 0,
        };
        let traffic = self.traffic.unwrap_or_default();
        let client = Client {
            id,
            password: self.password,
            flow: self.flow,
            email: self.email,
            limit_ip: self.limit_ip,
            total_bytes: self.total_bytes,
            expiry_time: self.expiry_time,
            enable: self.enable,
            tg_id,
            sub_id: self.sub_id,
            comment: self.comment,
            reset: self.reset,
            security: String::new(),
        };
        self.inbound_ids
            .iter()
            .map(|&inbound_id| PanelClient {
                inbound_id,
                protocol: String::new(),
                client: client.clone(),
                up: traffic.up,
                down: traffic.down,
                traffic_enabled: traffic.enable.unwrap_or(client.enable),
                last_online_ms,
            })
            .collect()
    }
}
