//! A fake Zarinpal on 127.0.0.1 that speaks the v4 JSON API with its error
//! envelopes and codes (`../shared/payment-apis.md` 1.6–1.11): request →
//! `IN_BANK`; the StartPay page pays or cancels and redirects to the callback
//! (`Status=OK`/`NOK`); verify answers 100 once, then 101, or -50, -51, -53,
//! -54; unVerified lists paid sessions; inquiry and reverse. Business errors
//! are HTTP 422 with `{"data": [], "errors": {…}}`, successes 200 with
//! `{"data": {…}, "errors": []}`.
use std::collections::{BTreeMap, HashSet};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionState {
    InBank,
    Paid,
    Verified,
    Failed,
    Reversed,
}

impl SessionState {
    fn name(self) -> &'static str {
        match self {
            SessionState::InBank => "IN_BANK",
            SessionState::Paid => "PAID",
            SessionState::Verified => "VERIFIED",
            SessionState::Failed => "FAILED",
            SessionState::Reversed => "REVERSED",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Session {
    pub merchant_id: String,
    pub amount: i64,
    pub callback_url: String,
    pub description: String,
    pub order_id: Option<String>,
    pub state: SessionState,
    pub ref_id: u64,
}

#[derive(Debug, Default)]
struct Inner {
    /// Registered merchants; in sandbox mode any UUID-shaped id is accepted.
    merchants: HashSet<String>,
    inactive: HashSet<String>,
    sessions: BTreeMap<String, Session>,
    next: u64,
    verify_calls: u64,
}

#[derive(Clone)]
pub struct FakeZarinpal {
    pub base_url: String,
    sandbox: bool,
    inner: Arc<Mutex<Inner>>,
}

fn ok(data: Value) -> Response {
    (StatusCode::OK, Json(json!({"data": data, "errors": []}))).into_response()
}

fn fail(code: i64, message: &str, validations: Vec<Value>) -> Response {
    (
        StatusCode::UNPROCESSABLE_ENTITY,
        Json(json!({"data": [], "errors": {"code": code, "message": message, "validations": validations}})),
    )
        .into_response()
}

fn uuid_shaped(s: &str) -> bool {
    s.len() == 36 && uuid::Uuid::parse_str(s).is_ok()
}

impl FakeZarinpal {
    /// Starts the fake on 127.0.0.1 with a random port. In `sandbox` mode any
    /// UUID is a valid merchant and authorities start with `S`.
    pub async fn start(sandbox: bool) -> std::io::Result<FakeZarinpal> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr: SocketAddr = listener.local_addr()?;
        let fake = FakeZarinpal {
            base_url: format!("http://{addr}"),
            sandbox,
            inner: Arc::new(Mutex::new(Inner {
                next: 1,
                ..Inner::default()
            })),
        };
        let app = Router::new()
            .route("/pg/v4/payment/request.json", post(request))
            .route("/pg/v4/payment/verify.json", post(verify))
            .route("/pg/v4/payment/unVerified.json", post(unverified))
            .route("/pg/v4/payment/inquiry.json", post(inquiry))
            .route("/pg/v4/payment/reverse.json", post(reverse))
            .route("/pg/StartPay/{authority}", get(start_pay))
            .with_state(fake.clone());
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(fake)
    }

    pub fn register_merchant(&self, merchant_id: &str) {
        self.inner.lock().unwrap().merchants.insert(merchant_id.to_string());
    }

    /// The terminal exists but is not active (-11).
    pub fn deactivate_merchant(&self, merchant_id: &str) {
        self.inner.lock().unwrap().inactive.insert(merchant_id.to_string());
    }

    pub fn session(&self, authority: &str) -> Option<Session> {
        self.inner.lock().unwrap().sessions.get(authority).cloned()
    }

    /// How many verify calls arrived (any outcome).
    pub fn verify_calls(&self) -> u64 {
        self.inner.lock().unwrap().verify_calls
    }

    /// The customer pays on the bank page; returns the callback URL the browser is sent to.
    pub fn pay(&self, authority: &str) -> Option<String> {
        self.finish(authority, true)
    }

    /// The customer cancels on the bank page.
    pub fn cancel(&self, authority: &str) -> Option<String> {
        self.finish(authority, false)
    }

    /// Makes the session's amount differ from what was requested (a
    /// tampered session), so verify with the merchant's amount gives -50.
    pub fn tamper_amount(&self, authority: &str, amount: i64) {
        if let Some(s) = self.inner.lock().unwrap().sessions.get_mut(authority) {
            s.amount = amount;
        }
    }

    fn finish(&self, authority: &str, paid: bool) -> Option<String> {
        let mut inner = self.inner.lock().unwrap();
        let s = inner.sessions.get_mut(authority)?;
        if s.state == SessionState::InBank {
            s.state = if paid { SessionState::Paid } else { SessionState::Failed };
        }
        let sep = if s.callback_url.contains('?') { '&' } else { '?' };
        let status = if s.state == SessionState::Failed { "NOK" } else { "OK" };
        Some(format!("{}{sep}Authority={authority}&Status={status}", s.callback_url))
    }

    fn merchant_error(&self, inner: &Inner, merchant: &str) -> Option<Response> {
        if !uuid_shaped(merchant) {
            return Some(fail(
                -9,
                "The input params invalid, validation error.",
                vec![json!({"merchant_id": "The merchant id must be 36 characters."})],
            ));
        }
        if !self.sandbox && !inner.merchants.contains(merchant) {
            return Some(fail(-10, "Terminal is not valid, please check merchant_id or ip address.", vec![]));
        }
        if inner.inactive.contains(merchant) {
            return Some(fail(-11, "Terminal is not active, please contact our support team.", vec![]));
        }
        None
    }
}

fn field<'a>(body: &'a Value, key: &str) -> &'a str {
    body.get(key).and_then(Value::as_str).unwrap_or_default()
}

/// `amount` may come as an integer or a numeric string (the docs' own example).
fn amount_of(body: &Value) -> Option<i64> {
    match body.get("amount")? {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
}

async fn request(State(fake): State<FakeZarinpal>, Json(body): Json<Value>) -> Response {
    let mut inner = fake.inner.lock().unwrap();
    let merchant = field(&body, "merchant_id").to_string();
    if let Some(e) = fake.merchant_error(&inner, &merchant) {
        return e;
    }
    let mut validations = Vec::new();
    let description = field(&body, "description");
    if description.trim().is_empty() {
        validations.push(json!({"description": "The description field is required."}));
    } else if description.chars().count() > 500 {
        validations.push(json!({"description": "The description may not be greater than 500 characters."}));
    }
    let callback = field(&body, "callback_url");
    if !(callback.starts_with("http://") || callback.starts_with("https://")) {
        validations.push(json!({"callback_url": "The callback url format is invalid."}));
    }
    let currency = body.get("currency").and_then(Value::as_str).unwrap_or("IRR");
    let amount = amount_of(&body);
    // Limits in rials: at least 1,000 rials, at most 100,000,000 Toman.
    let rial = match (amount, currency) {
        (Some(a), "IRT") => Some(a * 10),
        (Some(a), "IRR") => Some(a),
        _ => None,
    };
    match rial {
        None => validations.push(json!({"amount": "The amount field is required."})),
        Some(r) if r > 1_000_000_000 => return fail(-41, "Maximum amount is 100,000,000 tomans.", vec![]),
        Some(r) if r < 1_000 => validations.push(json!({"amount": "The amount must be at least 1000."})),
        Some(_) => {}
    }
    if !validations.is_empty() {
        return fail(-9, "The input params invalid, validation error.", validations);
    }
    let n = inner.next;
    inner.next += 1;
    let authority = format!("{}{:035}", if fake.sandbox { 'S' } else { 'A' }, n * 7919 + 217_885_159);
    let order_id = body.pointer("/metadata/order_id").and_then(Value::as_str).map(str::to_string);
    inner.sessions.insert(
        authority.clone(),
        Session {
            merchant_id: merchant,
            amount: amount.unwrap_or_default(),
            callback_url: callback.to_string(),
            description: description.to_string(),
            order_id,
            state: SessionState::InBank,
            ref_id: 0,
        },
    );
    ok(json!({"code": 100, "message": "Success", "authority": authority, "fee_type": "Merchant", "fee": 100}))
}

async fn verify(State(fake): State<FakeZarinpal>, Json(body): Json<Value>) -> Response {
    let mut inner = fake.inner.lock().unwrap();
    inner.verify_calls += 1;
    let merchant = field(&body, "merchant_id").to_string();
    if let Some(e) = fake.merchant_error(&inner, &merchant) {
        return e;
    }
    let authority = field(&body, "authority").to_string();
    let amount = amount_of(&body);
    let next_ref = 1_000_000_000 + inner.next * 13;
    let Some(s) = inner.sessions.get_mut(&authority) else {
        return fail(-54, "Invalid authority.", vec![]);
    };
    if s.merchant_id != merchant {
        return fail(-53, "Session is not this merchant_id session", vec![]);
    }
    if !matches!(s.state, SessionState::Paid | SessionState::Verified) {
        return fail(-51, "Session is not valid, session is not active paid try.", vec![]);
    }
    if amount != Some(s.amount) {
        return fail(-50, "Session is not valid, amounts values is not the same.", vec![]);
    }
    let code = if s.state == SessionState::Verified {
        101
    } else {
        s.state = SessionState::Verified;
        s.ref_id = next_ref;
        100
    };
    let ref_id = s.ref_id;
    inner.next += 1;
    ok(json!({
        "wages": [], "code": code, "message": "Verified",
        "card_hash": "1EBE3EBEBE35C7EC0F8D6EE4F2F859107A87822CA179BC9528767EA7B5489B69",
        "card_pan": "502229******5995", "ref_id": ref_id, "fee_type": "Merchant", "fee": 0,
        "shaparak_fee": "1200", "order_id": null
    }))
}

async fn unverified(State(fake): State<FakeZarinpal>, Json(body): Json<Value>) -> Response {
    let inner = fake.inner.lock().unwrap();
    let merchant = field(&body, "merchant_id").to_string();
    if let Some(e) = fake.merchant_error(&inner, &merchant) {
        return e;
    }
    let list: Vec<Value> = inner
        .sessions
        .iter()
        .filter(|(_, s)| s.merchant_id == merchant && s.state == SessionState::Paid)
        .take(100)
        .map(|(a, s)| json!({"authority": a, "amount": s.amount, "callback_url": s.callback_url, "referer": "", "date": "2026-11-01 17:33:25"}))
        .collect();
    // The official sample: `code` as a string, no `errors` key.
    (
        StatusCode::OK,
        Json(json!({"data": {"code": "100", "message": "Success", "authorities": list}})),
    )
        .into_response()
}

async fn inquiry(State(fake): State<FakeZarinpal>, Json(body): Json<Value>) -> Response {
    let inner = fake.inner.lock().unwrap();
    let merchant = field(&body, "merchant_id").to_string();
    if let Some(e) = fake.merchant_error(&inner, &merchant) {
        return e;
    }
    match inner.sessions.get(field(&body, "authority")) {
        Some(s) if s.merchant_id == merchant => ok(json!({"code": 100, "message": "Success", "status": s.state.name()})),
        Some(_) => fail(-53, "Session is not this merchant_id session", vec![]),
        None => fail(-54, "Invalid authority.", vec![]),
    }
}

async fn reverse(State(fake): State<FakeZarinpal>, Json(body): Json<Value>) -> Response {
    let mut inner = fake.inner.lock().unwrap();
    let merchant = field(&body, "merchant_id").to_string();
    if let Some(e) = fake.merchant_error(&inner, &merchant) {
        return e;
    }
    match inner.sessions.get_mut(field(&body, "authority")) {
        Some(s) if s.merchant_id == merchant && matches!(s.state, SessionState::Paid | SessionState::Verified) => {
            s.state = SessionState::Reversed;
            ok(json!({"code": 100, "message": "Reversed"}))
        }
        Some(_) => fail(-61, "Session is not in success status.", vec![]),
        None => fail(-54, "Invalid authority.", vec![]),
    }
}

#[derive(serde::Deserialize)]
struct StartPayQuery {
    /// Test hook standing in for the customer at the bank: `paid` or `cancel`.
    outcome: Option<String>,
}

/// The bank page. With `?outcome=paid|cancel` it acts as the customer and
/// redirects (302) to the callback, as Zarinpal does.
async fn start_pay(State(fake): State<FakeZarinpal>, Path(authority): Path<String>, Query(q): Query<StartPayQuery>) -> Response {
    let target = match q.outcome.as_deref() {
        Some("paid") => fake.pay(&authority),
        Some("cancel") => fake.cancel(&authority),
        _ => {
            return match fake.session(&authority) {
                Some(s) => (
                    StatusCode::OK,
                    [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
                    format!(
                        "<html><body><h1>Zarinpal (fake)</h1><p>{} rials: {}</p></body></html>",
                        s.amount, s.description
                    ),
                )
                    .into_response(),
                None => (StatusCode::NOT_FOUND, "unknown authority").into_response(),
            }
        }
    };
    match target {
        Some(url) => (StatusCode::FOUND, [(header::LOCATION, url)]).into_response(),
        None => (StatusCode::NOT_FOUND, "unknown authority").into_response(),
    }
}
