//! The HTTP side: `/bot{token}/{method}` and `/file/bot{token}/{path}`.
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State as AxState};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
use axum::Router;
use serde_json::{json, Map, Value};

use crate::{html, now_unix, rate_check, CallbackAnswer, Fault, FileRef, Inner, Message, Request, State, TgFake, Webhook};

type Shared = Arc<Inner>;

pub(crate) fn router(inner: Shared) -> Router {
    Router::new()
        .route("/{bot}/{method}", any(method))
        .route("/file/{bot}/{*path}", get(download))
        .with_state(inner)
}

/// A Telegram error: HTTP status = `error_code`.
struct ApiError {
    code: u16,
    description: String,
    retry_after: Option<u32>,
}

fn err(code: u16, description: impl Into<String>) -> ApiError {
    ApiError {
        code,
        description: description.into(),
        retry_after: None,
    }
}

fn bad(description: &str) -> ApiError {
    err(400, format!("Bad Request: {description}"))
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut body = json!({"ok": false, "error_code": self.code, "description": self.description});
        if let Some(r) = self.retry_after {
            body["parameters"] = json!({"retry_after": r});
        }
        let status = StatusCode::from_u16(self.code).unwrap_or(StatusCode::BAD_REQUEST);
        (status, axum::Json(body)).into_response()
    }
}

fn ok(result: Value) -> Response {
    axum::Json(json!({"ok": true, "result": result})).into_response()
}

/// Files uploaded in a multipart request, by field name.
type Uploads = HashMap<String, (Option<String>, Vec<u8>)>;

async fn parse_params(headers: &HeaderMap, query: Option<String>, body: Bytes) -> Result<(Map<String, Value>, Uploads), ApiError> {
    let mut params = Map::new();
    let mut uploads = Uploads::new();
    if let Some(q) = query {
        for (k, v) in form_urlencoded(&q) {
            params.insert(k, Value::String(v));
        }
    }
    let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    if content_type.starts_with("application/json") {
        if !body.is_empty() {
            let v: Value = serde_json::from_slice(&body).map_err(|_| bad("can't parse JSON object"))?;
            let Value::Object(m) = v else {
                return Err(bad("JSON object expected"));
            };
            params.extend(m);
        }
    } else if content_type.starts_with("application/x-www-form-urlencoded") {
        for (k, v) in form_urlencoded(&String::from_utf8_lossy(&body)) {
            params.insert(k, Value::String(v));
        }
    } else if content_type.starts_with("multipart/form-data") {
        let boundary = multer::parse_boundary(content_type).map_err(|_| bad("invalid multipart boundary"))?;
        let stream = futures::stream::once(async move { Ok::<Bytes, std::io::Error>(body) });
        let mut multipart = multer::Multipart::new(stream, boundary);
        while let Some(field) = multipart.next_field().await.map_err(|_| bad("invalid multipart body"))? {
            let name = field.name().unwrap_or("").to_string();
            let file_name = field.file_name().map(str::to_string);
            let data = field.bytes().await.map_err(|_| bad("invalid multipart body"))?;
            if file_name.is_some() {
                uploads.insert(name, (file_name, data.to_vec()));
            } else {
                params.insert(name, Value::String(String::from_utf8_lossy(&data).into_owned()));
            }
        }
    }
    Ok((params, uploads))
}

fn form_urlencoded(s: &str) -> Vec<(String, String)> {
    s.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (percent_decode(k), percent_decode(v))
        })
        .collect()
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => match u8::from_str_radix(std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("zz"), 16) {
                Ok(b) => {
                    out.push(b);
                    i += 2;
                }
                Err(_) => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

struct Params {
    map: Map<String, Value>,
    uploads: Uploads,
}

impl Params {
    fn get(&self, key: &str) -> Option<&Value> {
        self.map.get(key).filter(|v| !v.is_null())
    }
    fn str(&self, key: &str) -> Option<String> {
        self.get(key).map(|v| match v {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        })
    }
    fn i64(&self, key: &str) -> Result<Option<i64>, ApiError> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Number(n)) => n.as_i64().map(Some).ok_or_else(|| bad(&format!("invalid {key} specified"))),
            Some(Value::String(s)) => s.trim().parse().map(Some).map_err(|_| bad(&format!("invalid {key} specified"))),
            Some(_) => Err(bad(&format!("invalid {key} specified"))),
        }
    }
    fn bool(&self, key: &str) -> bool {
        match self.get(key) {
            Some(Value::Bool(b)) => *b,
            Some(Value::String(s)) => s == "true" || s == "1",
            _ => false,
        }
    }
    /// A JSON-valued parameter (an object in a JSON body, a string elsewhere).
    fn json(&self, key: &str) -> Result<Option<Value>, ApiError> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::String(s)) => serde_json::from_str(s)
                .map(Some)
                .map_err(|_| bad(&format!("can't parse {key} JSON object"))),
            Some(v) => Ok(Some(v.clone())),
        }
    }
    fn chat_id(&self) -> Result<i64, ApiError> {
        match self.get("chat_id") {
            None => Err(bad("chat_id is empty")),
            Some(Value::String(s)) if s.starts_with('@') => Err(bad("chat not found")),
            _ => Ok(self.i64("chat_id")?.expect("present")),
        }
    }
}

async fn method(
    AxState(inner): AxState<Shared>,
    Path((bot, method)): Path<(String, String)>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if bot.strip_prefix("bot") != Some(inner.token.as_str()) {
        return err(401, "Unauthorized").into_response();
    }
    let (map, uploads) = match parse_params(&headers, query, body).await {
        Ok(p) => p,
        Err(e) => return e.into_response(),
    };
    let params = Params { map, uploads };
    let recorded = Value::Object(params.map.clone());
    let response = dispatch(&inner, &method, &params).await;
    let status = response.status().as_u16();
    inner.lock().requests.push(Request {
        method: method.clone(),
        params: recorded,
        status,
    });
    inner.bump();
    response
}

async fn dispatch(inner: &Shared, method: &str, p: &Params) -> Response {
    // Methods are case-insensitive in the Bot API.
    let m = method.to_ascii_lowercase();
    {
        let mut state = inner.lock();
        if state.outage {
            return err(502, "Bad Gateway").into_response();
        }
        let pos = state
            .faults
            .iter()
            .position(|(target, _)| target.as_deref().is_none_or(|t| t.eq_ignore_ascii_case(method)));
        if let Some(i) = pos {
            let (_, fault) = state.faults.remove(i).expect("index from position");
            return match fault {
                Fault::RetryAfter(secs) => ApiError {
                    code: 429,
                    description: format!("Too Many Requests: retry after {secs}"),
                    retry_after: Some(secs),
                }
                .into_response(),
                Fault::Error(code, description) => err(code, description).into_response(),
            };
        }
    }
    let result = match m.as_str() {
        "getme" => {
            let mut me = inner.bot.clone();
            for (k, v) in [
                ("can_join_groups", true),
                ("can_read_all_group_messages", false),
                ("supports_inline_queries", false),
                ("can_connect_to_business", false),
                ("has_main_web_app", false),
            ] {
                me[k] = json!(v);
            }
            Ok(me)
        }
        "getupdates" => return get_updates(inner, p).await,
        "setwebhook" => set_webhook(inner, p),
        "deletewebhook" => delete_webhook(inner, p),
        "getwebhookinfo" => Ok(webhook_info(inner)),
        "sendmessage" => send(inner, p, Kind::Text),
        "sendphoto" => send(inner, p, Kind::Photo),
        "senddocument" => send(inner, p, Kind::Document),
        "editmessagetext" => edit(inner, p, Edit::Text),
        "editmessagecaption" => edit(inner, p, Edit::Caption),
        "editmessagereplymarkup" => edit(inner, p, Edit::Markup),
        "deletemessage" => delete_message(inner, p),
        "answercallbackquery" => answer_callback(inner, p),
        "getfile" => get_file(inner, p),
        "sendchataction" => known_chat(inner, p).map(|_| json!(true)),
        "setmycommands" => {
            let commands = p.json("commands").ok().flatten().unwrap_or(json!([]));
            inner.lock().commands = commands;
            Ok(json!(true))
        }
        "getmycommands" => Ok(inner.lock().commands.clone()),
        "deletemycommands" => {
            inner.lock().commands = json!([]);
            Ok(json!(true))
        }
        _ => Err(err(404, "Not Found")),
    };
    match result {
        Ok(v) => ok(v),
        Err(e) => e.into_response(),
    }
}

fn known_chat(inner: &Shared, p: &Params) -> Result<i64, ApiError> {
    let chat = p.chat_id()?;
    let state = inner.lock();
    match state.chats.get(&chat) {
        None => Err(bad("chat not found")),
        Some(c) if c.blocked => Err(err(403, "Forbidden: bot was blocked by the user")),
        Some(_) => Ok(chat),
    }
}

async fn get_updates(inner: &Shared, p: &Params) -> Response {
    let offset = match p.i64("offset") {
        Ok(o) => o,
        Err(e) => return e.into_response(),
    };
    let limit = p.i64("limit").ok().flatten().unwrap_or(100).clamp(1, 100) as usize;
    let timeout = p.i64("timeout").ok().flatten().unwrap_or(0).clamp(0, 50) as u64;
    let generation = {
        let mut state = inner.lock();
        if state.webhook.is_some() {
            return err(
                409,
                "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete the webhook first",
            )
            .into_response();
        }
        state.poll_generation += 1;
        state.poll_generation
    };
    // A new poll ends one that is still waiting.
    inner.bump();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(timeout);
    let mut rx = inner.changed.subscribe();
    loop {
        {
            let mut state = inner.lock();
            if state.poll_generation != generation {
                return err(
                    409,
                    "Conflict: terminated by other getUpdates request; make sure that only one bot instance is running",
                )
                .into_response();
            }
            if let Some(offset) = offset {
                if offset >= 0 {
                    // Confirms every update below the offset (except one being redelivered).
                    let redelivered = std::mem::take(&mut state.redelivered);
                    state.queue.retain(|(id, _)| *id >= offset || redelivered.contains(id));
                } else {
                    let keep = offset.unsigned_abs() as usize;
                    let len = state.queue.len();
                    if len > keep {
                        state.queue.drain(..len - keep);
                    }
                }
            }
            let batch: Vec<Value> = state.queue.iter().take(limit).map(|(_, u)| u.clone()).collect();
            if !batch.is_empty() || tokio::time::Instant::now() >= deadline {
                if !batch.is_empty() {
                    state.redelivered.clear();
                }
                return ok(Value::Array(batch));
            }
        }
        if tokio::time::timeout_at(deadline, rx.changed()).await.is_err() {
            let state = inner.lock();
            if state.poll_generation != generation {
                continue;
            }
            return ok(Value::Array(state.queue.iter().take(limit).map(|(_, u)| u.clone()).collect()));
        }
    }
}

fn set_webhook(inner: &Shared, p: &Params) -> Result<Value, ApiError> {
    let url = p.str("url").unwrap_or_default();
    let mut state = inner.lock();
    if url.is_empty() {
        state.webhook = None;
    } else {
        if !(url.starts_with("https://") || url.starts_with("http://")) {
            return Err(bad("bad webhook: An HTTPS URL must be provided for webhook"));
        }
        if let Some(secret) = p.str("secret_token") {
            let valid =
                !secret.is_empty() && secret.len() <= 256 && secret.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
            if !valid {
                return Err(bad("secret token contains unallowed characters"));
            }
        }
        if p.bool("drop_pending_updates") {
            state.queue.clear();
        }
        state.webhook = Some(Webhook {
            url,
            secret_token: p.str("secret_token"),
            failed_deliveries: 0,
            last_error: None,
        });
    }
    drop(state);
    inner.bump();
    Ok(json!(true))
}

fn delete_webhook(inner: &Shared, p: &Params) -> Result<Value, ApiError> {
    let mut state = inner.lock();
    state.webhook = None;
    if p.bool("drop_pending_updates") {
        state.queue.clear();
    }
    drop(state);
    inner.bump();
    Ok(json!(true))
}

fn webhook_info(inner: &Shared) -> Value {
    let state = inner.lock();
    match &state.webhook {
        Some(w) => {
            let mut v =
                json!({"url": w.url, "has_custom_certificate": false, "pending_update_count": state.queue.len(), "max_connections": 40});
            if let Some(e) = &w.last_error {
                v["last_error_message"] = json!(e);
                v["last_error_date"] = json!(now_unix());
            }
            v
        }
        None => json!({"url": "", "has_custom_certificate": false, "pending_update_count": state.queue.len()}),
    }
}

/// POSTs queued updates to the webhook, one at a time in order, retrying
/// until the receiver answers 2xx — Telegram's delivery, at least once.
pub(crate) async fn deliver_webhooks(inner: Shared) {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .expect("HTTP client");
    let mut rx = inner.changed.subscribe();
    loop {
        let next = {
            let state = inner.lock();
            match (&state.webhook, state.queue.front()) {
                (Some(w), Some((id, body))) => Some((w.url.clone(), w.secret_token.clone(), *id, body.clone())),
                _ => None,
            }
        };
        let Some((url, secret, id, body)) = next else {
            if rx.changed().await.is_err() {
                return;
            }
            continue;
        };
        let mut request = client.post(&url).json(&body);
        if let Some(s) = &secret {
            request = request.header("X-Telegram-Bot-Api-Secret-Token", s);
        }
        let outcome = match request.send().await {
            Ok(r) if r.status().is_success() => Ok(()),
            Ok(r) => Err(format!("Wrong response from the webhook: {}", r.status())),
            Err(e) => Err(format!("Connection failed: {e}")),
        };
        let failed = outcome.is_err();
        {
            let mut state = inner.lock();
            match outcome {
                Ok(()) => {
                    if state.queue.front().map(|(i, _)| *i) == Some(id) {
                        state.queue.pop_front();
                    }
                    if let Some(w) = state.webhook.as_mut() {
                        w.last_error = None;
                    }
                }
                Err(e) => {
                    if let Some(w) = state.webhook.as_mut() {
                        w.failed_deliveries += 1;
                        w.last_error = Some(e);
                    }
                }
            }
        }
        inner.bump();
        if failed {
            // Telegram backs off before retrying a webhook that failed.
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Text,
    Photo,
    Document,
}

/// Text (or caption) after `parse_mode`: (plain, entities).
fn formatted(p: &Params, key: &str, raw: &str) -> Result<(String, Vec<Value>), ApiError> {
    match p.str("parse_mode").as_deref() {
        Some(mode) if mode.eq_ignore_ascii_case("html") => {
            let parsed = html::parse_html(raw).map_err(|e| err(400, e))?;
            Ok((parsed.text, parsed.entities))
        }
        Some(mode) if mode.eq_ignore_ascii_case("markdownv2") || mode.eq_ignore_ascii_case("markdown") => {
            // Kept as sent: this fake parses only HTML.
            Ok((raw.to_string(), Vec::new()))
        }
        Some(_) => Err(bad("unsupported parse_mode")),
        None => {
            let entities = p.json(if key == "text" { "entities" } else { "caption_entities" })?;
            let entities = entities.and_then(|e| e.as_array().cloned()).unwrap_or_default();
            Ok((raw.to_string(), entities))
        }
    }
}

fn check_markup(markup: &Option<Value>) -> Result<(), ApiError> {
    let Some(m) = markup else { return Ok(()) };
    if let Some(rows) = m.get("inline_keyboard") {
        let rows = rows
            .as_array()
            .ok_or_else(|| bad("field \"inline_keyboard\" of the InlineKeyboardMarkup must be an Array"))?;
        for row in rows {
            for b in row
                .as_array()
                .ok_or_else(|| bad("can't parse inline keyboard button: InlineKeyboardButton must be an Object"))?
            {
                if b.get("text").and_then(Value::as_str).is_none_or(str::is_empty) {
                    return Err(bad(
                        "can't parse inline keyboard button: Text buttons are unallowed in the inline keyboard",
                    ));
                }
                if let Some(data) = b.get("callback_data") {
                    let len = data.as_str().map_or(0, str::len);
                    if len == 0 || len > 64 {
                        return Err(bad("BUTTON_DATA_INVALID"));
                    }
                } else if b.get("url").is_none() && b.get("switch_inline_query").is_none() && b.get("copy_text").is_none() {
                    return Err(bad(
                        "can't parse inline keyboard button: InlineKeyboardButton must have exactly one of the optional fields",
                    ));
                }
            }
        }
    }
    Ok(())
}

fn chat_state(state: &mut State, chat: i64) -> Result<&mut crate::Chat, ApiError> {
    match state.chats.get_mut(&chat) {
        None => Err(bad("chat not found")),
        Some(c) if c.blocked => Err(err(403, "Forbidden: bot was blocked by the user")),
        Some(c) => Ok(c),
    }
}

fn flood(state: &mut State, chat: i64) -> Result<(), ApiError> {
    let is_group = state.chats.get(&chat).is_some_and(|c| c.is_group);
    match rate_check(state, chat, is_group) {
        Some(secs) => Err(ApiError {
            code: 429,
            description: format!("Too Many Requests: retry after {secs}"),
            retry_after: Some(secs),
        }),
        None => Ok(()),
    }
}

/// Resolves the `photo`/`document` parameter: an upload, `attach://name`, or an existing file id.
fn input_file(state: &mut State, p: &Params, key: &str, folder: &str) -> Result<FileRef, ApiError> {
    if let Some((name, bytes)) = p.uploads.get(key) {
        let ext = name.as_deref().and_then(|n| n.rsplit('.').next()).unwrap_or("bin").to_string();
        let id = TgFake::store_file_in(state, bytes.clone(), folder, &ext);
        return Ok(FileRef {
            file_id: id,
            file_name: name.clone(),
        });
    }
    let value = p.str(key).ok_or_else(|| bad(&format!("there is no {key} in the request")))?;
    if let Some(attach) = value.strip_prefix("attach://") {
        let (name, bytes) = p
            .uploads
            .get(attach)
            .ok_or_else(|| bad(&format!("file {attach} not found in the request")))?;
        let ext = name.as_deref().and_then(|n| n.rsplit('.').next()).unwrap_or("bin").to_string();
        let id = TgFake::store_file_in(state, bytes.clone(), folder, &ext);
        return Ok(FileRef {
            file_id: id,
            file_name: name.clone(),
        });
    }
    if value.starts_with("http://") || value.starts_with("https://") {
        return Err(bad("wrong file identifier/HTTP URL specified"));
    }
    let id = value.strip_suffix("-s").unwrap_or(&value).to_string();
    if !state.files.contains_key(&id) {
        return Err(bad("wrong file identifier/HTTP URL specified"));
    }
    Ok(FileRef {
        file_id: id,
        file_name: None,
    })
}

fn send(inner: &Shared, p: &Params, kind: Kind) -> Result<Value, ApiError> {
    let chat = p.chat_id()?;
    let markup = p.json("reply_markup")?;
    check_markup(&markup)?;
    let mut state = inner.lock();
    chat_state(&mut state, chat)?;
    let (text, caption, raw, entities) = match kind {
        Kind::Text => {
            let raw = p.str("text").unwrap_or_default();
            let (plain, entities) = formatted(p, "text", &raw)?;
            if plain.trim().is_empty() {
                return Err(bad("message text is empty"));
            }
            if plain.chars().count() > 4096 {
                return Err(bad("message is too long"));
            }
            (Some(plain), None, Some(raw), entities)
        }
        Kind::Photo | Kind::Document => match p.str("caption") {
            Some(raw) => {
                let (plain, entities) = formatted(p, "caption", &raw)?;
                if plain.chars().count() > 1024 {
                    return Err(bad("message caption is too long"));
                }
                (None, Some(plain), Some(raw), entities)
            }
            None => (None, None, None, Vec::new()),
        },
    };
    let (photo, document) = match kind {
        Kind::Text => (None, None),
        Kind::Photo => (Some(input_file(&mut state, p, "photo", "photos")?), None),
        Kind::Document => (None, Some(input_file(&mut state, p, "document", "documents")?)),
    };
    flood(&mut state, chat)?;
    let bot = inner.bot.clone();
    let c = chat_state(&mut state, chat)?;
    let message_id = c.next_message_id;
    c.next_message_id += 1;
    let m = Message {
        chat_id: chat,
        message_id,
        from_bot: true,
        date: now_unix(),
        text,
        caption,
        raw,
        parse_mode: p.str("parse_mode"),
        entities,
        photo,
        document,
        reply_markup: markup,
        edits: 0,
        deleted: false,
    };
    let json = m.to_json(&c.info, &bot, None);
    c.messages.push(m);
    Ok(json)
}

#[derive(Clone, Copy, PartialEq)]
enum Edit {
    Text,
    Caption,
    Markup,
}

fn edit(inner: &Shared, p: &Params, what: Edit) -> Result<Value, ApiError> {
    if p.get("inline_message_id").is_some() {
        return Err(bad("MESSAGE_ID_INVALID"));
    }
    let chat = p.chat_id()?;
    let message_id = p.i64("message_id")?.ok_or_else(|| bad("message identifier is not specified"))?;
    let markup = p.json("reply_markup")?;
    check_markup(&markup)?;
    let mut state = inner.lock();
    chat_state(&mut state, chat)?;
    let new_body = match what {
        Edit::Text => {
            let raw = p.str("text").unwrap_or_default();
            let (plain, entities) = formatted(p, "text", &raw)?;
            if plain.trim().is_empty() {
                return Err(bad("message text is empty"));
            }
            if plain.chars().count() > 4096 {
                return Err(bad("MESSAGE_TOO_LONG"));
            }
            Some((plain, raw, entities))
        }
        Edit::Caption => {
            let raw = p.str("caption").unwrap_or_default();
            let (plain, entities) = formatted(p, "caption", &raw)?;
            if plain.chars().count() > 1024 {
                return Err(bad("message caption is too long"));
            }
            Some((plain, raw, entities))
        }
        Edit::Markup => None,
    };
    flood(&mut state, chat)?;
    let bot = inner.bot.clone();
    let c = chat_state(&mut state, chat)?;
    let info = c.info.clone();
    let m = c
        .messages
        .iter_mut()
        .find(|m| m.message_id == message_id && !m.deleted)
        .ok_or_else(|| bad("message to edit not found"))?;
    if !m.from_bot {
        return Err(bad("message can't be edited"));
    }
    let mut next = m.clone();
    match (what, new_body) {
        (Edit::Text, Some((plain, raw, entities))) => {
            if m.text.is_none() {
                return Err(bad("there is no text in the message to edit"));
            }
            next.text = Some(plain);
            next.raw = Some(raw);
            next.entities = entities;
            next.parse_mode = p.str("parse_mode");
        }
        (Edit::Caption, Some((plain, raw, entities))) => {
            if m.photo.is_none() && m.document.is_none() {
                return Err(bad("there is no caption in the message to edit"));
            }
            next.caption = Some(plain);
            next.raw = Some(raw);
            next.entities = entities;
            next.parse_mode = p.str("parse_mode");
        }
        _ => {}
    }
    // Telegram: an edit without reply_markup removes the inline keyboard.
    next.reply_markup = markup;
    if next.text == m.text && next.caption == m.caption && next.entities == m.entities && next.reply_markup == m.reply_markup {
        return Err(bad(
            "message is not modified: specified new message content and reply markup are exactly the same as a current content and reply markup of the message",
        ));
    }
    next.edits += 1;
    *m = next;
    Ok(m.to_json(&info, &bot, None))
}

fn delete_message(inner: &Shared, p: &Params) -> Result<Value, ApiError> {
    let chat = p.chat_id()?;
    let message_id = p.i64("message_id")?.ok_or_else(|| bad("message identifier is not specified"))?;
    let mut state = inner.lock();
    let c = chat_state(&mut state, chat)?;
    let m = c
        .messages
        .iter_mut()
        .find(|m| m.message_id == message_id && !m.deleted)
        .ok_or_else(|| bad("message to delete not found"))?;
    m.deleted = true;
    Ok(json!(true))
}

fn answer_callback(inner: &Shared, p: &Params) -> Result<Value, ApiError> {
    let id = p.str("callback_query_id").unwrap_or_default();
    let mut state = inner.lock();
    let Some(from) = state.open_callbacks.remove(&id) else {
        return Err(bad("query is too old and response timeout expired or query id is invalid"));
    };
    if let Some(text) = p.str("text") {
        if text.chars().count() > 200 {
            return Err(bad("MESSAGE_TOO_LONG"));
        }
    }
    state.answers.push(CallbackAnswer {
        callback_query_id: id,
        from,
        text: p.str("text"),
        show_alert: p.bool("show_alert"),
    });
    Ok(json!(true))
}

fn get_file(inner: &Shared, p: &Params) -> Result<Value, ApiError> {
    let id = p.str("file_id").unwrap_or_default();
    let id = id.strip_suffix("-s").unwrap_or(&id).to_string();
    let state = inner.lock();
    let f = state.files.get(&id).ok_or_else(|| bad("invalid file_id"))?;
    Ok(json!({"file_id": id, "file_unique_id": f.unique_id, "file_size": f.bytes.len(), "file_path": f.path}))
}

async fn download(AxState(inner): AxState<Shared>, Path((bot, path)): Path<(String, String)>) -> Response {
    if bot.strip_prefix("bot") != Some(inner.token.as_str()) {
        return err(401, "Unauthorized").into_response();
    }
    let state = inner.lock();
    match state.files.values().find(|f| f.path == path) {
        Some(f) => (StatusCode::OK, f.bytes.clone()).into_response(),
        None => err(404, "Not Found").into_response(),
    }
}
