//! An in-memory 3x-UI panel speaking the real HTTP protocol, written from
//! `shared/3x-ui-api.md` (§10 "minimal fake-server contract" and more), so the
//! client and everything above it are tested against the same bytes a real
//! panel sends:
//!
//! - `POST {base}login` with a form or JSON body; the `3x-ui` session cookie;
//!   sessions that expire ([`FakePanel::expire_sessions`], or a max age);
//! - the three unauthenticated behaviours on `{base}panel/api/*` (307, 401, 404);
//! - v3 CSRF tokens (`GET {base}csrf-token`, `X-CSRF-Token` on every non-GET,
//!   login included, else 403) and Bearer API tokens;
//! - `{success,msg,obj}` with HTTP 200 on errors, service errors with Go's
//!   trailing newline (`"Something went wrong (Duplicate email: x\n)"`);
//! - `settings` as a JSON *string*: an object fails to bind, a settings text
//!   without a `clients` array makes the panel panic (HTTP 500, empty body);
//! - email uniqueness across the whole panel, case-insensitive; deleting an
//!   inbound's last client refused; unknown keys deleted as a no-op;
//! - the classic client API (v2.4–v3.0) or the v3.1+ `/panel/api/clients/*`
//!   API (the classic client routes then answer 404);
//! - server status; the subscription server on its own port (`/sub/<subId>`,
//!   base64 body, `Subscription-Userinfo`, 400 `Error!` when unknown);
//! - a "down" switch that drops connections, per-route call counters, and
//!   helpers that change clients behind the API's back (drift).
#![forbid(unsafe_code)]
// Handlers return the panel's answer as their error value; boxing it buys nothing in a test server.
#![allow(clippy::result_large_err)]

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::header::{HeaderValue, CONTENT_TYPE, COOKIE, HOST, LOCATION, SET_COOKIE};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::{json, Map, Value};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// Which client API the fake speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Api {
    /// v2.4–v3.0.x: `inbounds/addClient`, `updateClient/:id`, `:id/delClient/:id`, …
    Classic,
    /// v3.1+: `clients/list|get|add|update|del`; the classic client routes are gone (404).
    Clients,
}

/// What `{base}panel/api/*` answers without a valid session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unauthenticated {
    /// v2.0–v2.8.3 `checkLogin`: 307 to the login page (401 JSON when the
    /// request says `X-Requested-With: XMLHttpRequest`).
    Redirect307,
    /// 401 JSON `"Your session has expired, please log in again"`, always.
    Unauthorized401,
    /// v2.8.4+ `checkAPIAuth`: 404 with an empty body.
    NotFound404,
}

#[derive(Debug, Clone)]
pub struct FakeConfig {
    pub api: Api,
    pub unauthenticated: Unauthenticated,
    /// v3: CSRF token required on every non-GET of a cookie session.
    pub csrf: bool,
    pub username: String,
    pub password: String,
    /// v3 API token accepted as `Authorization: Bearer …`.
    pub api_token: Option<String>,
    /// `/`, or e.g. `/abc/`.
    pub base_path: String,
    /// Sessions older than this are refused (the cookie's Max-Age).
    pub session_max_age: Option<Duration>,
    /// Base64 the subscription body (`subEncrypt`, default true).
    pub sub_encrypt: bool,
}

impl Default for FakeConfig {
    fn default() -> Self {
        FakeConfig {
            api: Api::Classic,
            unauthenticated: Unauthenticated::NotFound404,
            csrf: false,
            username: "admin".into(),
            password: "admin-secret".into(),
            api_token: None,
            base_path: "/".into(),
            session_max_age: None,
            sub_encrypt: true,
        }
    }
}

impl FakeConfig {
    /// A v2.8-like panel: classic API, 404 when unauthenticated, no CSRF.
    pub fn classic() -> Self {
        FakeConfig::default()
    }
    /// A v3.1+-like panel: clients API, CSRF on, 404 when unauthenticated.
    pub fn v3() -> Self {
        FakeConfig {
            api: Api::Clients,
            csrf: true,
            ..FakeConfig::default()
        }
    }
}

struct Session {
    logged_in: bool,
    csrf: String,
    created: Instant,
}

#[derive(Clone)]
struct Traffic {
    id: i64,
    inbound_id: i64,
    email: String,
    up: i64,
    down: i64,
    total: i64,
    expiry: i64,
    enable: bool,
    reset: i64,
    last_online: i64,
}

struct InboundRow {
    id: i64,
    remark: String,
    protocol: String,
    port: u16,
    listen: String,
    enable: bool,
    /// Parsed `settings`; clients are kept as the raw maps sent, like the panel.
    settings: Value,
    stream: String,
    up: i64,
    down: i64,
}

struct State {
    config: FakeConfig,
    inbounds: BTreeMap<i64, InboundRow>,
    /// client_traffics, keyed by lower-case email.
    traffics: BTreeMap<String, Traffic>,
    sessions: HashMap<String, Session>,
    next_inbound: i64,
    next_traffic: i64,
    down: bool,
    calls: BTreeMap<String, u64>,
    logins: u64,
    xray_state: String,
}

type Shared = Arc<Mutex<State>>;

/// A running fake panel (and its sub server). Dropping it stops both.
pub struct FakePanel {
    state: Shared,
    pub addr: SocketAddr,
    pub sub_addr: SocketAddr,
    tasks: Vec<JoinHandle<()>>,
}

impl Drop for FakePanel {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

impl FakePanel {
    /// Binds the panel and its sub server on 127.0.0.1, each on a free port.
    pub async fn start(config: FakeConfig) -> FakePanel {
        let mut base = config.base_path.trim_matches('/').to_string();
        base = if base.is_empty() { "/".into() } else { format!("/{base}/") };
        let config = FakeConfig { base_path: base, ..config };
        let state = Arc::new(Mutex::new(State {
            config,
            inbounds: BTreeMap::new(),
            traffics: BTreeMap::new(),
            sessions: HashMap::new(),
            next_inbound: 1,
            next_traffic: 1,
            down: false,
            calls: BTreeMap::new(),
            logins: 0,
            xray_state: "running".into(),
        }));
        let panel = TcpListener::bind("127.0.0.1:0").await.expect("bind fake panel");
        let sub = TcpListener::bind("127.0.0.1:0").await.expect("bind fake sub server");
        let addr = panel.local_addr().expect("addr");
        let sub_addr = sub.local_addr().expect("addr");
        let tasks = vec![
            tokio::spawn(serve(panel, state.clone(), false)),
            tokio::spawn(serve(sub, state.clone(), true)),
        ];
        FakePanel {
            state,
            addr,
            sub_addr,
            tasks,
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// `http://127.0.0.1:<port>/<base path>/`
    pub fn base_url(&self) -> String {
        format!("http://{}{}", self.addr, self.lock().config.base_path)
    }

    /// `http://127.0.0.1:<sub port>/sub/`
    pub fn sub_base_url(&self) -> String {
        format!("http://{}/sub/", self.sub_addr)
    }

    /// Creates an inbound with no clients; returns its id.
    pub fn add_inbound(&self, protocol: &str, port: u16, remark: &str, stream_settings: Value) -> i64 {
        let mut s = self.lock();
        let id = s.next_inbound;
        s.next_inbound += 1;
        let settings = match protocol {
            "vless" => json!({"clients": [], "decryption": "none", "fallbacks": []}),
            "shadowsocks" => json!({"clients": [], "method": "chacha20-ietf-poly1305", "network": "tcp,udp"}),
            _ => json!({"clients": []}),
        };
        s.inbounds.insert(
            id,
            InboundRow {
                id,
                remark: remark.into(),
                protocol: protocol.into(),
                port,
                listen: String::new(),
                enable: true,
                settings,
                stream: stream_settings.to_string(),
                up: 0,
                down: 0,
            },
        );
        id
    }

    /// A vless inbound over TCP with REALITY, the most common setup.
    pub fn add_vless_reality_inbound(&self, port: u16, remark: &str) -> i64 {
        self.add_inbound(
            "vless",
            port,
            remark,
            json!({"network": "tcp", "security": "reality", "tcpSettings": {"header": {"type": "none"}},
                   "realitySettings": {"serverNames": ["www.google.com"], "shortIds": ["6ba85179e30d4fc2"],
                                       "settings": {"publicKey": "Z84J2IelR9ch3k8VtlVhhs5ycBUlXA7wHBWcBrjqnAw", "fingerprint": "chrome"}}}),
        )
    }

    /// While down, the panel drops every connection (new and kept-alive).
    pub fn set_down(&self, down: bool) {
        self.lock().down = down;
    }

    /// Every session cookie issued so far stops working (as after Max-Age).
    pub fn expire_sessions(&self) {
        self.lock().sessions.clear();
    }

    pub fn set_xray_state(&self, state: &str) {
        self.lock().xray_state = state.into();
    }

    /// Calls per `METHOD path` (path without the base path), logins included.
    pub fn calls(&self) -> BTreeMap<String, u64> {
        self.lock().calls.clone()
    }

    /// Calls whose `METHOD path` starts with `prefix`, e.g. `"POST login"`.
    pub fn calls_to(&self, prefix: &str) -> u64 {
        self.lock()
            .calls
            .iter()
            .filter(|(k, _)| k.starts_with(prefix))
            .map(|(_, v)| v)
            .sum()
    }

    pub fn total_calls(&self) -> u64 {
        self.lock().calls.values().sum()
    }

    pub fn reset_calls(&self) {
        self.lock().calls.clear();
    }

    /// Successful logins.
    pub fn logins(&self) -> u64 {
        self.lock().logins
    }

    /// Every client as stored: (inbound id, the raw client map).
    pub fn clients(&self) -> Vec<(i64, Value)> {
        let s = self.lock();
        s.inbounds
            .values()
            .flat_map(|ib| clients_of(&ib.settings).iter().map(move |c| (ib.id, c.clone())))
            .collect()
    }

    pub fn client(&self, email: &str) -> Option<(i64, Value)> {
        self.clients()
            .into_iter()
            .find(|(_, c)| c["email"].as_str().is_some_and(|e| e.eq_ignore_ascii_case(email)))
    }

    pub fn client_count(&self) -> usize {
        self.clients().len()
    }

    /// Drift: the client vanishes (and its traffic row).
    pub fn remove_client(&self, email: &str) -> bool {
        let mut s = self.lock();
        let key = email.to_lowercase();
        let mut found = false;
        for ib in s.inbounds.values_mut() {
            let list = clients_mut(&mut ib.settings);
            let before = list.len();
            list.retain(|c| c["email"].as_str().map(str::to_lowercase) != Some(key.clone()));
            found |= list.len() != before;
        }
        s.traffics.remove(&key);
        found
    }

    /// Drift: change a stored client in place (quota, expiry, enable…); the
    /// traffic row follows as `UpdateClientStat` would.
    pub fn patch_client(&self, email: &str, patch: impl FnOnce(&mut Map<String, Value>)) -> bool {
        let mut s = self.lock();
        let key = email.to_lowercase();
        let mut patched = None;
        let mut patch = Some(patch);
        for ib in s.inbounds.values_mut() {
            for c in clients_mut(&mut ib.settings) {
                if c["email"].as_str().map(str::to_lowercase) == Some(key.clone()) {
                    if let (Some(m), Some(f)) = (c.as_object_mut(), patch.take()) {
                        f(m);
                        patched = Some(c.clone());
                    }
                }
            }
        }
        match patched {
            Some(c) => {
                if let Some(t) = s.traffics.get_mut(&key) {
                    t.total = c["totalGB"].as_i64().unwrap_or(0);
                    t.expiry = c["expiryTime"].as_i64().unwrap_or(0);
                    t.enable = c["enable"].as_bool().unwrap_or(true);
                }
                true
            }
            None => false,
        }
    }

    /// Drift: a client the shop does not know about (an orphan), added behind the API.
    pub fn insert_client(&self, inbound_id: i64, client: Value) {
        let mut s = self.lock();
        let email = client["email"].as_str().unwrap_or_default().to_string();
        let row = Traffic {
            id: s.next_traffic,
            inbound_id,
            email: email.clone(),
            up: 0,
            down: 0,
            total: client["totalGB"].as_i64().unwrap_or(0),
            expiry: client["expiryTime"].as_i64().unwrap_or(0),
            enable: client["enable"].as_bool().unwrap_or(true),
            reset: 0,
            last_online: 0,
        };
        s.next_traffic += 1;
        s.traffics.insert(email.to_lowercase(), row);
        if let Some(ib) = s.inbounds.get_mut(&inbound_id) {
            clients_mut(&mut ib.settings).push(client);
        }
    }

    /// Traffic used by a client (as Xray would report it).
    pub fn set_traffic(&self, email: &str, up: i64, down: i64, last_online_ms: i64) -> bool {
        let mut s = self.lock();
        match s.traffics.get_mut(&email.to_lowercase()) {
            Some(t) => {
                t.up = up;
                t.down = down;
                t.last_online = last_online_ms;
                true
            }
            None => false,
        }
    }
}

// ---- serving ---------------------------------------------------------------

async fn serve(listener: TcpListener, state: Shared, sub: bool) {
    loop {
        let Ok((stream, _)) = listener.accept().await else { continue };
        if lock(&state).down {
            drop(stream);
            continue;
        }
        let state = state.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req: Request<Incoming>| {
                let state = state.clone();
                async move {
                    if lock(&state).down {
                        // An error makes hyper close the connection without an answer.
                        return Err(std::io::Error::other("panel is down"));
                    }
                    Ok::<_, std::io::Error>(handle(state, req, sub).await)
                }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

fn lock(state: &Shared) -> MutexGuard<'_, State> {
    state.lock().unwrap_or_else(|p| p.into_inner())
}

type Resp = Response<Full<Bytes>>;

fn respond(status: StatusCode, content_type: Option<&'static str>, body: impl Into<Bytes>) -> Resp {
    let mut r = Response::new(Full::new(body.into()));
    *r.status_mut() = status;
    if let Some(ct) = content_type {
        r.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static(ct));
    }
    r
}

fn envelope(success: bool, msg: &str, obj: Value) -> Resp {
    let body = json!({"success": success, "msg": msg, "obj": obj}).to_string();
    respond(StatusCode::OK, Some("application/json; charset=utf-8"), body)
}

fn ok(msg: &str, obj: Value) -> Resp {
    envelope(true, msg, obj)
}

/// A service error: `common.NewError` = `fmt.Sprintln`, hence the newline.
fn service_error(err: &str) -> Resp {
    envelope(false, &format!("Something went wrong ({err}\n)"), Value::Null)
}

fn empty(status: StatusCode) -> Resp {
    respond(status, None, Bytes::new())
}

async fn handle(state: Shared, req: Request<Incoming>, sub: bool) -> Resp {
    let (parts, body) = req.into_parts();
    let body = body.collect().await.map(|b| b.to_bytes()).unwrap_or_default();
    let path = parts.uri.path().to_string();
    let mut s = lock(&state);
    if sub {
        let host = parts.headers.get(HOST).and_then(|h| h.to_str().ok()).unwrap_or("127.0.0.1");
        let host = host.split(':').next().unwrap_or("127.0.0.1").to_string();
        *s.calls.entry(format!("GET sub{path}")).or_default() += 1;
        return sub_server(&s, &path, &host);
    }
    let base = s.config.base_path.clone();
    let Some(route) = path.strip_prefix(base.as_str()).map(str::to_string) else {
        return empty(StatusCode::NOT_FOUND);
    };
    *s.calls.entry(format!("{} {route}", parts.method)).or_default() += 1;
    let ctx = Ctx {
        method: parts.method.clone(),
        cookie: session_cookie(&parts.headers),
        csrf: parts.headers.get("X-CSRF-Token").and_then(|v| v.to_str().ok()).map(str::to_string),
        bearer: parts
            .headers
            .get(hyper::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::to_string),
        xhr: parts
            .headers
            .get("X-Requested-With")
            .is_some_and(|v| v.as_bytes() == b"XMLHttpRequest"),
        json: parts
            .headers
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.contains("json")),
        body,
    };
    route_request(&mut s, &ctx, &route)
}

struct Ctx {
    method: Method,
    cookie: Option<String>,
    csrf: Option<String>,
    bearer: Option<String>,
    xhr: bool,
    json: bool,
    body: Bytes,
}

impl Ctx {
    /// The body as a JSON object, from JSON or a form (gin `ShouldBind`).
    fn fields(&self) -> Result<Map<String, Value>, String> {
        if self.json {
            match serde_json::from_slice::<Value>(&self.body) {
                Ok(Value::Object(m)) => Ok(m),
                Ok(_) => Err("json: cannot unmarshal non-object".into()),
                Err(e) => Err(e.to_string()),
            }
        } else {
            Ok(form_urlencoded::parse(&self.body)
                .map(|(k, v)| (k.into_owned(), Value::String(v.into_owned())))
                .collect())
        }
    }
}

fn session_cookie(headers: &hyper::HeaderMap) -> Option<String> {
    headers.get_all(COOKIE).iter().filter_map(|v| v.to_str().ok()).find_map(|v| {
        v.split(';')
            .filter_map(|p| p.trim().split_once('='))
            .find(|(k, _)| *k == "3x-ui")
            .map(|(_, v)| v.to_string())
    })
}

fn set_cookie(resp: &mut Resp, token: &str, max_age: Option<Duration>) {
    let age = max_age.map(|d| format!("; Max-Age={}", d.as_secs())).unwrap_or_default();
    if let Ok(v) = HeaderValue::from_str(&format!("3x-ui={token}; Path=/; HttpOnly; SameSite=Lax{age}")) {
        resp.headers_mut().append(SET_COOKIE, v);
    }
}

fn route_request(s: &mut State, ctx: &Ctx, route: &str) -> Resp {
    let segs: Vec<&str> = route.split('/').collect();
    match (&ctx.method, segs.as_slice()) {
        (&Method::POST, ["login"]) => login(s, ctx),
        (&Method::GET, ["csrf-token"]) if s.config.csrf => csrf_token(s, ctx),
        (&Method::POST, ["getTwoFactorEnable"]) => ok("", json!(false)),
        (_, ["panel", "api", rest @ ..]) => {
            let Some(m) = match_api(s.config.api, &ctx.method, rest) else {
                return empty(StatusCode::NOT_FOUND); // gin NoRoute
            };
            if let Err(resp) = authorize(s, ctx) {
                return resp;
            }
            api(s, ctx, m, rest)
        }
        _ => empty(StatusCode::NOT_FOUND),
    }
}

fn csrf_token(s: &mut State, ctx: &Ctx) -> Resp {
    if let Some(sess) = ctx.cookie.as_ref().and_then(|c| s.sessions.get(c)) {
        return ok("", json!(sess.csrf));
    }
    let token = uuid::Uuid::new_v4().simple().to_string();
    let csrf = uuid::Uuid::new_v4().simple().to_string();
    s.sessions.insert(
        token.clone(),
        Session {
            logged_in: false,
            csrf: csrf.clone(),
            created: Instant::now(),
        },
    );
    let mut r = ok("", json!(csrf));
    set_cookie(&mut r, &token, None);
    r
}

fn csrf_ok(s: &State, ctx: &Ctx) -> bool {
    if !s.config.csrf || ctx.method == Method::GET {
        return true;
    }
    match (ctx.cookie.as_ref().and_then(|c| s.sessions.get(c)), &ctx.csrf) {
        (Some(sess), Some(t)) => &sess.csrf == t,
        _ => false,
    }
}

fn login(s: &mut State, ctx: &Ctx) -> Resp {
    if !csrf_ok(s, ctx) {
        return empty(StatusCode::FORBIDDEN);
    }
    let fields = match ctx.fields() {
        Ok(f) => f,
        Err(_) => return envelope(false, "The Input data format is invalid.", Value::Null),
    };
    let field = |k: &str| fields.get(k).and_then(Value::as_str).unwrap_or("").to_string();
    let (user, pass) = (field("username"), field("password"));
    if user.is_empty() {
        return envelope(false, "Username is required", Value::Null);
    }
    if pass.is_empty() {
        return envelope(false, "Password is required", Value::Null);
    }
    if user != s.config.username || pass != s.config.password {
        return envelope(false, "Invalid username or password or two-factor code.", Value::Null);
    }
    if let Some(old) = &ctx.cookie {
        s.sessions.remove(old);
    }
    let token = uuid::Uuid::new_v4().simple().to_string();
    s.sessions.insert(
        token.clone(),
        Session {
            logged_in: true,
            csrf: uuid::Uuid::new_v4().simple().to_string(),
            created: Instant::now(),
        },
    );
    s.logins += 1;
    let max_age = s.config.session_max_age;
    let mut r = ok(" You have successfully logged into your account.", Value::Null);
    set_cookie(&mut r, &token, max_age);
    r
}

fn authorize(s: &mut State, ctx: &Ctx) -> Result<(), Resp> {
    if let (Some(t), Some(expected)) = (&ctx.bearer, &s.config.api_token) {
        if t == expected {
            return Ok(());
        }
    }
    let max_age = s.config.session_max_age;
    let valid = ctx
        .cookie
        .as_ref()
        .and_then(|c| s.sessions.get(c))
        .is_some_and(|sess| sess.logged_in && max_age.is_none_or(|m| sess.created.elapsed() < m));
    if valid {
        if !csrf_ok(s, ctx) {
            return Err(empty(StatusCode::FORBIDDEN));
        }
        return Ok(());
    }
    let expired = || envelope(false, "Your session has expired, please log in again", Value::Null);
    Err(match s.config.unauthenticated {
        Unauthenticated::Redirect307 if ctx.xhr => {
            let mut r = expired();
            *r.status_mut() = StatusCode::UNAUTHORIZED;
            r
        }
        Unauthenticated::Redirect307 => {
            let mut r = empty(StatusCode::TEMPORARY_REDIRECT);
            if let Ok(v) = HeaderValue::from_str(&s.config.base_path) {
                r.headers_mut().insert(LOCATION, v);
            }
            r
        }
        Unauthenticated::Unauthorized401 => {
            let mut r = expired();
            *r.status_mut() = StatusCode::UNAUTHORIZED;
            r
        }
        Unauthenticated::NotFound404 => empty(StatusCode::NOT_FOUND),
    })
}

#[derive(Clone, Copy)]
enum Route {
    InboundsList,
    InboundGet,
    AddClient,
    UpdateClient,
    DelClient,
    DelClientByEmail,
    ClientTraffics,
    ServerStatus,
    ClientsList,
    ClientsGet,
    ClientsAdd,
    ClientsUpdate,
    ClientsDel,
    ClientsLastOnline,
}

fn match_api(api: Api, method: &Method, rest: &[&str]) -> Option<Route> {
    use Route::*;
    let get = method == Method::GET;
    let post = method == Method::POST;
    let r = match rest {
        ["inbounds", "list"] if get => InboundsList,
        ["inbounds", "get", _] if get => InboundGet,
        ["server", "status"] if get => ServerStatus,
        ["inbounds", "addClient"] if post && api == Api::Classic => AddClient,
        ["inbounds", "updateClient", _] if post && api == Api::Classic => UpdateClient,
        ["inbounds", _, "delClient", _] if post && api == Api::Classic => DelClient,
        ["inbounds", _, "delClientByEmail", _] if post && api == Api::Classic => DelClientByEmail,
        ["inbounds", "getClientTraffics", _] if get && api == Api::Classic => ClientTraffics,
        ["clients", "list"] if get && api == Api::Clients => ClientsList,
        ["clients", "get", _] if get && api == Api::Clients => ClientsGet,
        ["clients", "add"] if post && api == Api::Clients => ClientsAdd,
        ["clients", "update", _] if post && api == Api::Clients => ClientsUpdate,
        ["clients", "del", _] if post && api == Api::Clients => ClientsDel,
        ["clients", "lastOnline"] if post && api == Api::Clients => ClientsLastOnline,
        _ => return None,
    };
    Some(r)
}

fn decode(seg: &str) -> String {
    form_urlencoded::parse(format!("x={}", seg.replace('+', "%2B")).as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

fn clients_of(settings: &Value) -> &[Value] {
    settings["clients"].as_array().map(Vec::as_slice).unwrap_or(&[])
}

fn clients_mut(settings: &mut Value) -> &mut Vec<Value> {
    if !settings["clients"].is_array() {
        settings["clients"] = json!([]);
    }
    settings["clients"].as_array_mut().expect("just made an array")
}

fn email_of(c: &Value) -> String {
    c["email"].as_str().unwrap_or("").to_string()
}

fn email_taken(s: &State, email: &str, except_inbound_key: Option<(i64, &str)>, protocol_key: &dyn Fn(i64, &Value) -> String) -> bool {
    s.inbounds.values().any(|ib| {
        clients_of(&ib.settings).iter().any(|c| {
            email_of(c).eq_ignore_ascii_case(email)
                && except_inbound_key.is_none_or(|(id, key)| !(ib.id == id && protocol_key(ib.id, c) == key))
        })
    })
}

fn key_of(protocol: &str, c: &Value) -> String {
    let field = match protocol {
        "trojan" => "password",
        "shadowsocks" => "email",
        _ => "id",
    };
    c[field].as_str().unwrap_or("").to_string()
}

impl State {
    fn traffic_row(&mut self, inbound_id: i64, c: &Value) {
        let email = email_of(c);
        if email.is_empty() {
            return;
        }
        let id = self.next_traffic;
        self.next_traffic += 1;
        self.traffics.insert(
            email.to_lowercase(),
            Traffic {
                id,
                inbound_id,
                email,
                up: 0,
                down: 0,
                total: c["totalGB"].as_i64().unwrap_or(0),
                expiry: c["expiryTime"].as_i64().unwrap_or(0),
                enable: c["enable"].as_bool().unwrap_or(true),
                reset: c["reset"].as_i64().unwrap_or(0),
                last_online: 0,
            },
        );
    }

    fn traffic_json(&self, t: &Traffic) -> Value {
        let (uuid, sub_id) = self
            .inbounds
            .get(&t.inbound_id)
            .and_then(|ib| clients_of(&ib.settings).iter().find(|c| email_of(c).eq_ignore_ascii_case(&t.email)))
            .map(|c| {
                (
                    c["id"].as_str().unwrap_or("").to_string(),
                    c["subId"].as_str().unwrap_or("").to_string(),
                )
            })
            .unwrap_or_default();
        json!({"id": t.id, "inboundId": t.inbound_id, "enable": effective_enable(t), "email": t.email, "uuid": uuid, "subId": sub_id,
               "up": t.up, "down": t.down, "allTime": t.up + t.down, "expiryTime": t.expiry, "total": t.total, "reset": t.reset,
               "lastOnline": t.last_online})
    }

    fn inbound_json(&self, ib: &InboundRow, with_stats: bool) -> Value {
        let stats: Value = if with_stats {
            Value::Array(
                self.traffics
                    .values()
                    .filter(|t| t.inbound_id == ib.id)
                    .map(|t| self.traffic_json(t))
                    .collect(),
            )
        } else {
            Value::Null
        };
        json!({"id": ib.id, "up": ib.up, "down": ib.down, "total": 0, "allTime": ib.up + ib.down, "remark": ib.remark, "enable": ib.enable,
               "expiryTime": 0, "trafficReset": "never", "lastTrafficResetTime": 0, "clientStats": stats, "listen": ib.listen,
               "port": ib.port, "protocol": ib.protocol, "settings": ib.settings.to_string(), "streamSettings": ib.stream,
               "tag": format!("inbound-{}", ib.port), "sniffing": "{\"enabled\":false}"})
    }
}

/// The panel's own view: a depleted or expired client's stat row is disabled.
fn effective_enable(t: &Traffic) -> bool {
    let depleted = t.total > 0 && t.up + t.down >= t.total;
    let expired = t.expiry > 0 && t.expiry <= now_ms();
    t.enable && !depleted && !expired
}

/// Parses `settings` the way `AddInboundClient` does. `Err(Some(resp))` is an
/// answer; a text without a `clients` array is a Go panic → empty HTTP 500.
fn parse_settings(fields: &Map<String, Value>, what: &str) -> Result<Vec<Value>, Resp> {
    let text = match fields.get("settings") {
        Some(Value::String(t)) => t.clone(),
        Some(other) => {
            let kind = if other.is_object() { "object" } else { "value" };
            return Err(envelope(
                false,
                &format!("{what} (json: cannot unmarshal {kind} into Go struct field Inbound.settings of type string)"),
                Value::Null,
            ));
        }
        None => String::new(),
    };
    let parsed: Value = match serde_json::from_str(&text) {
        Ok(v) => v,
        Err(_) => return Err(empty(StatusCode::INTERNAL_SERVER_ERROR)),
    };
    match parsed.get("clients").and_then(Value::as_array) {
        Some(list) => Ok(list.clone()),
        None => Err(empty(StatusCode::INTERNAL_SERVER_ERROR)),
    }
}

fn inbound_id_field(fields: &Map<String, Value>) -> Option<i64> {
    match fields.get("id") {
        Some(Value::Number(n)) => n.as_i64(),
        Some(Value::String(s)) => s.parse().ok(),
        _ => None,
    }
}

fn api(s: &mut State, ctx: &Ctx, route: Route, rest: &[&str]) -> Resp {
    match route {
        Route::InboundsList => {
            let list: Vec<Value> = s.inbounds.values().map(|ib| s.inbound_json(ib, true)).collect();
            ok("", Value::Array(list))
        }
        Route::InboundGet => match rest[2].parse::<i64>().ok().and_then(|id| s.inbounds.get(&id)) {
            Some(ib) => ok("", s.inbound_json(ib, false)),
            None => envelope(false, "Obtain (record not found)", Value::Null),
        },
        Route::ServerStatus => ok(
            "",
            json!({"cpu": 12.5, "cpuCores": 2, "logicalPro": 2, "cpuSpeedMhz": 2400.0,
                   "mem": {"current": 512u64 << 20, "total": 2048u64 << 20}, "swap": {"current": 0, "total": 0},
                   "disk": {"current": 5u64 << 30, "total": 40u64 << 30},
                   "xray": {"state": s.xray_state, "errorMsg": "", "version": "25.10.15"},
                   "uptime": 86400, "loads": [0.1, 0.2, 0.3], "tcpCount": 10, "udpCount": 2,
                   "netIO": {"up": 0, "down": 0}, "netTraffic": {"sent": 0, "recv": 0},
                   "publicIP": {"ipv4": "127.0.0.1", "ipv6": ""}, "appStats": {"threads": 8, "mem": 1, "uptime": 86400}}),
        ),
        Route::AddClient => {
            let fields = match ctx.fields() {
                Ok(f) => f,
                Err(e) => return envelope(false, &format!("Inbound has been successfully updated. ({e})"), Value::Null),
            };
            let clients = match parse_settings(&fields, "Inbound has been successfully updated.") {
                Ok(c) => c,
                Err(r) => return r,
            };
            let id = inbound_id_field(&fields).unwrap_or(0);
            match add_clients(s, id, clients) {
                Ok(()) => ok("Inbound client(s) have been added.", Value::Null),
                Err(r) => r,
            }
        }
        Route::UpdateClient => {
            let key = decode(rest[2]);
            let fields = match ctx.fields() {
                Ok(f) => f,
                Err(e) => return envelope(false, &format!("Inbound client has been updated. ({e})"), Value::Null),
            };
            let clients = match parse_settings(&fields, "Inbound client has been updated.") {
                Ok(c) => c,
                Err(r) => return r,
            };
            let Some(new) = clients.into_iter().next() else {
                return empty(StatusCode::INTERNAL_SERVER_ERROR); // index out of range → panic
            };
            let id = inbound_id_field(&fields).unwrap_or(0);
            match update_client(s, id, &key, new) {
                Ok(()) => ok("Inbound client has been updated.", Value::Null),
                Err(r) => r,
            }
        }
        Route::DelClient => {
            let id = rest[1].parse::<i64>().unwrap_or(0);
            let key = decode(rest[3]);
            let Some(ib) = s.inbounds.get_mut(&id) else {
                return service_error("record not found");
            };
            let protocol = ib.protocol.clone();
            let list = clients_mut(&mut ib.settings);
            let Some(pos) = list.iter().position(|c| key_of(&protocol, c) == key) else {
                // v2.8: nothing removed, and still a success.
                return ok("Inbound client has been deleted.", Value::Null);
            };
            if list.len() == 1 {
                return service_error("no client remained in Inbound");
            }
            let removed = list.remove(pos);
            s.traffics.remove(&email_of(&removed).to_lowercase());
            ok("Inbound client has been deleted.", Value::Null)
        }
        Route::DelClientByEmail => {
            let id = rest[1].parse::<i64>().unwrap_or(0);
            let email = decode(rest[3]);
            let Some(ib) = s.inbounds.get_mut(&id) else {
                return service_error("record not found");
            };
            let list = clients_mut(&mut ib.settings);
            let Some(pos) = list.iter().position(|c| email_of(c).eq_ignore_ascii_case(&email)) else {
                return service_error("client not found");
            };
            if list.len() == 1 {
                return service_error("no client remained in Inbound");
            }
            list.remove(pos);
            s.traffics.remove(&email.to_lowercase());
            ok("Client deleted successfully", Value::Null)
        }
        Route::ClientTraffics => {
            let email = decode(rest[2]);
            match s.traffics.get(&email.to_lowercase()) {
                Some(t) => ok("", s.traffic_json(t)),
                None => envelope(
                    false,
                    &format!("Error getting traffics. (Inbound Not Found For Email: {email}\n)"),
                    Value::Null,
                ),
            }
        }
        Route::ClientsList => {
            let rows: Vec<Value> = s.traffics.values().filter_map(|t| v31_client(s, &t.email)).collect();
            ok("", Value::Array(rows))
        }
        Route::ClientsGet => {
            let email = decode(rest[2]);
            match v31_client(s, &email) {
                Some(c) => ok("", c),
                None => service_error("record not found"),
            }
        }
        Route::ClientsAdd => {
            let body: Value = match serde_json::from_slice(&ctx.body) {
                Ok(v) => v,
                Err(e) => return envelope(false, &format!("The Input data format is invalid. ({e})"), Value::Null),
            };
            let Some(mut client) = body.get("client").filter(|c| c.is_object()).cloned() else {
                return envelope(false, "The Input data format is invalid.", Value::Null);
            };
            let ids: Vec<i64> = body["inboundIds"]
                .as_array()
                .map(|a| a.iter().filter_map(Value::as_i64).collect())
                .unwrap_or_default();
            if ids.is_empty() {
                return service_error("no inbound selected");
            }
            // The v3.1 server fills in what is missing.
            for (k, v) in [
                ("id", json!(uuid::Uuid::new_v4().to_string())),
                ("subId", json!(uuid::Uuid::new_v4().simple().to_string()[..16].to_string())),
            ] {
                if client[k].as_str().is_none_or(str::is_empty) {
                    client[k] = v;
                }
            }
            for id in ids {
                if let Err(r) = add_clients(s, id, vec![client.clone()]) {
                    return r;
                }
            }
            ok("Client added", Value::Null)
        }
        Route::ClientsUpdate => {
            let email = decode(rest[2]);
            let new: Value = match serde_json::from_slice(&ctx.body) {
                Ok(v @ Value::Object(_)) => v,
                _ => return envelope(false, "The Input data format is invalid.", Value::Null),
            };
            let Some((id, protocol, key)) = s.inbounds.values().find_map(|ib| {
                clients_of(&ib.settings)
                    .iter()
                    .find(|c| email_of(c).eq_ignore_ascii_case(&email))
                    .map(|c| (ib.id, ib.protocol.clone(), key_of(&ib.protocol, c)))
            }) else {
                return service_error("record not found");
            };
            let _ = protocol;
            match update_client(s, id, &key, new) {
                Ok(()) => ok("Client updated", Value::Null),
                Err(r) => r,
            }
        }
        Route::ClientsDel => {
            let email = decode(rest[2]);
            let mut found = false;
            for ib in s.inbounds.values_mut() {
                let list = clients_mut(&mut ib.settings);
                let before = list.len();
                list.retain(|c| !email_of(c).eq_ignore_ascii_case(&email));
                found |= before != list.len();
            }
            if !found {
                return service_error("record not found");
            }
            s.traffics.remove(&email.to_lowercase());
            ok("Client deleted", Value::Null)
        }
        Route::ClientsLastOnline => {
            let m: Map<String, Value> = s.traffics.values().map(|t| (t.email.clone(), json!(t.last_online))).collect();
            ok("", Value::Object(m))
        }
    }
}

fn add_clients(s: &mut State, inbound_id: i64, clients: Vec<Value>) -> Result<(), Resp> {
    // Duplicates within the request, then against every inbound.
    let mut seen: Vec<String> = Vec::new();
    for c in &clients {
        let e = email_of(c).to_lowercase();
        if !e.is_empty() && seen.contains(&e) {
            return Err(service_error(&format!("Duplicate email: {}", email_of(c))));
        }
        seen.push(e);
    }
    for c in &clients {
        let e = email_of(c);
        if !e.is_empty() && email_taken(s, &e, None, &|_, _| String::new()) {
            return Err(service_error(&format!("Duplicate email: {e}")));
        }
    }
    let Some(protocol) = s.inbounds.get(&inbound_id).map(|ib| ib.protocol.clone()) else {
        return Err(service_error("record not found"));
    };
    for c in &clients {
        if key_of(&protocol, c).is_empty() {
            return Err(service_error("empty client ID"));
        }
    }
    let stamp = now_ms();
    for mut c in clients {
        if let Some(m) = c.as_object_mut() {
            m.insert("created_at".into(), json!(stamp));
            m.insert("updated_at".into(), json!(stamp));
        }
        s.traffic_row(inbound_id, &c);
        if let Some(ib) = s.inbounds.get_mut(&inbound_id) {
            clients_mut(&mut ib.settings).push(c);
        }
    }
    Ok(())
}

fn update_client(s: &mut State, inbound_id: i64, key: &str, mut new: Value) -> Result<(), Resp> {
    let Some(protocol) = s.inbounds.get(&inbound_id).map(|ib| ib.protocol.clone()) else {
        return Err(service_error("record not found"));
    };
    let Some(old) = s
        .inbounds
        .get(&inbound_id)
        .and_then(|ib| clients_of(&ib.settings).iter().find(|c| key_of(&protocol, c) == key).cloned())
    else {
        return Err(service_error("empty client ID"));
    };
    let new_email = email_of(&new);
    let old_email = email_of(&old);
    if !new_email.eq_ignore_ascii_case(&old_email)
        && email_taken(s, &new_email, Some((inbound_id, key)), &|id, c| {
            let _ = id;
            key_of(&protocol, c)
        })
    {
        return Err(service_error(&format!("Duplicate email: {new_email}")));
    }
    if let Some(m) = new.as_object_mut() {
        m.insert("created_at".into(), old["created_at"].clone());
        m.insert("updated_at".into(), json!(now_ms()));
    }
    // UpdateClientStat: enable, email, total, expiry, reset; up/down are kept.
    if let Some(mut t) = s.traffics.remove(&old_email.to_lowercase()) {
        t.email = new_email.clone();
        t.total = new["totalGB"].as_i64().unwrap_or(0);
        t.expiry = new["expiryTime"].as_i64().unwrap_or(0);
        t.enable = new["enable"].as_bool().unwrap_or(true);
        t.reset = new["reset"].as_i64().unwrap_or(0);
        s.traffics.insert(new_email.to_lowercase(), t);
    }
    if let Some(ib) = s.inbounds.get_mut(&inbound_id) {
        for c in clients_mut(&mut ib.settings) {
            if key_of(&protocol, c) == key {
                *c = new.clone();
            }
        }
    }
    Ok(())
}

fn v31_client(s: &State, email: &str) -> Option<Value> {
    let t = s.traffics.get(&email.to_lowercase())?;
    let mut inbound_ids = Vec::new();
    let mut found = None;
    for ib in s.inbounds.values() {
        if let Some(c) = clients_of(&ib.settings).iter().find(|c| email_of(c).eq_ignore_ascii_case(email)) {
            inbound_ids.push(ib.id);
            found = Some(c.clone());
        }
    }
    let c = found?;
    Some(
        json!({"id": t.id, "email": c["email"], "subId": c["subId"], "uuid": c["id"], "password": c["password"], "flow": c["flow"],
                "totalGB": c["totalGB"], "expiryTime": c["expiryTime"], "enable": c["enable"], "tgId": c["tgId"], "limitIp": c["limitIp"],
                "comment": c["comment"], "reset": c["reset"], "inboundIds": inbound_ids,
                "traffic": {"up": t.up, "down": t.down, "enable": effective_enable(t)}}),
    )
}

// ---- subscription server ------------------------------------------------------

fn sub_server(s: &State, path: &str, host: &str) -> Resp {
    let Some(sub_id) = path.strip_prefix("/sub/").filter(|x| !x.is_empty() && !x.contains('/')) else {
        return respond(StatusCode::BAD_REQUEST, Some("text/plain; charset=utf-8"), "Error!");
    };
    let mut links = Vec::new();
    let (mut up, mut down, mut total, mut expire) = (0i64, 0i64, 0i64, None::<i64>);
    let mut unlimited = false;
    for ib in s.inbounds.values().filter(|ib| ib.enable) {
        if !["vmess", "vless", "trojan", "shadowsocks"].contains(&ib.protocol.as_str()) {
            continue;
        }
        for c in clients_of(&ib.settings) {
            if c["subId"].as_str() != Some(sub_id) || c["enable"].as_bool() != Some(true) {
                continue;
            }
            links.push(link(ib, c, host));
            if let Some(t) = s.traffics.get(&email_of(c).to_lowercase()) {
                up += t.up;
                down += t.down;
                unlimited |= t.total == 0;
                total += t.total;
                expire = match expire {
                    None => Some(t.expiry),
                    Some(e) if e == t.expiry => Some(e),
                    Some(_) => Some(0),
                };
            }
        }
    }
    if links.is_empty() {
        return respond(StatusCode::BAD_REQUEST, Some("text/plain; charset=utf-8"), "Error!");
    }
    let mut text = String::new();
    for l in &links {
        text.push_str(l);
        text.push('\n');
    }
    let body = if s.config.sub_encrypt { STANDARD.encode(text) } else { text };
    let mut r = respond(StatusCode::OK, Some("text/plain; charset=utf-8"), body);
    let info = format!(
        "upload={up}; download={down}; total={}; expire={}",
        if unlimited { 0 } else { total },
        expire.unwrap_or(0) / 1000
    );
    if let Ok(v) = HeaderValue::from_str(&info) {
        r.headers_mut().insert("Subscription-Userinfo", v);
    }
    r.headers_mut().insert("Profile-Update-Interval", HeaderValue::from_static("12"));
    r
}

/// A plain rendition of the panel's link for the sub server (the exact
/// parameter set is the client library's business; tests parse, not compare).
fn link(ib: &InboundRow, c: &Value, host: &str) -> String {
    let stream: Value = serde_json::from_str(&ib.stream).unwrap_or(Value::Null);
    let network = stream["network"].as_str().unwrap_or("tcp");
    let security = stream["security"].as_str().unwrap_or("none");
    let remark: String = form_urlencoded::byte_serialize(format!("{}-{}", ib.remark, email_of(c)).as_bytes()).collect();
    match ib.protocol.as_str() {
        "vmess" => {
            let obj = json!({"add": host, "id": c["id"], "net": network, "port": ib.port, "ps": format!("{}-{}", ib.remark, email_of(c)),
                             "scy": "auto", "tls": if security == "tls" { "tls" } else { "none" }, "type": "none", "v": "2"});
            format!(
                "vmess://{}",
                STANDARD.encode(serde_json::to_string_pretty(&obj).unwrap_or_default())
            )
        }
        "trojan" => format!(
            "trojan://{}@{host}:{}?security={security}&type={network}#{remark}",
            c["password"].as_str().unwrap_or(""),
            ib.port
        ),
        "shadowsocks" => format!(
            "ss://{}@{host}:{}#{remark}",
            STANDARD.encode(c["password"].as_str().unwrap_or("")),
            ib.port
        ),
        _ => format!(
            "vless://{}@{host}:{}?encryption=none&security={security}&type={network}#{remark}",
            c["id"].as_str().unwrap_or(""),
            ib.port
        ),
    }
}
