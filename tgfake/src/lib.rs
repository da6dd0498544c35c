//! `tgfake`: a fake Telegram Bot API server on `127.0.0.1:0` that speaks the
//! real protocol, for tests and benchmarks of anything that talks to Telegram.
//!
//! Point a client at [`TgFake::api_url`] instead of `https://api.telegram.org`
//! (teloxide: `Bot::new(fake.token()).set_api_url(fake.api_url().parse()?)`).
//! Requests go to `{api_url}/bot{token}/{Method}` with a JSON, form or
//! multipart body (or a query string); answers are `{"ok":true,"result":…}`
//! or `{"ok":false,"error_code":…,"description":…,"parameters":{"retry_after":…}}`
//! with Telegram's own status codes and descriptions. Files are downloaded
//! from `{api_url}/file/bot{token}/{file_path}`.
//!
//! What it does like Telegram:
//! - `getUpdates` long polling with `offset` (confirms everything below it),
//!   `limit` and `timeout`; a second concurrent poll ends the first with 409;
//!   409 while a webhook is set. `setWebhook` makes the server POST each
//!   update to the URL (with `X-Telegram-Bot-Api-Secret-Token`) and retry it
//!   until the receiver answers 2xx; `deleteWebhook` (with
//!   `drop_pending_updates`) returns to polling.
//! - `sendMessage`, `sendPhoto`, `sendDocument`, `editMessageText`,
//!   `editMessageCaption`, `editMessageReplyMarkup`, `deleteMessage`,
//!   `answerCallbackQuery`, `getFile`, `getMe`, `sendChatAction`,
//!   `setMyCommands`/`getMyCommands`, `getWebhookInfo`. `parse_mode=HTML` is
//!   parsed into entities and malformed HTML is refused; text, caption and
//!   `callback_data` lengths are checked; an edit that changes nothing gets
//!   "message is not modified"; editing text without `reply_markup` removes
//!   the inline keyboard, as Telegram does.
//! - A chat must be known before the bot can write to it: a user who sent
//!   an update, or a group added with [`TgFake::add_group`]; otherwise
//!   "Bad Request: chat not found".
//!
//! Test controls: inject updates ([`TgFake::send_text`], [`TgFake::send_photo`],
//! [`TgFake::click`], [`TgFake::click_button`], [`TgFake::inject_update`]),
//! redeliver one ([`TgFake::redeliver`]), read what the bot sent per chat
//! ([`TgFake::messages`], [`TgFake::wait_for`]), and make Telegram misbehave:
//! [`TgFake::fail_next`] (for example a 429 with `retry_after`),
//! [`TgFake::set_outage`], [`TgFake::block_bot`] ("bot was blocked by the
//! user"), and [`TgFake::set_rate_limits`] (Telegram's flood limits).
#![forbid(unsafe_code)]

mod html;
mod server;

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::{json, Value};
use tokio::sync::watch;

pub use html::{parse_html, Parsed};

/// A Telegram user who writes to the bot in a private chat (chat id = user id).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TgUser {
    pub id: i64,
    pub first_name: String,
    pub username: Option<String>,
    pub language_code: Option<String>,
}

impl TgUser {
    pub fn new(id: i64, first_name: &str) -> TgUser {
        TgUser {
            id,
            first_name: first_name.to_string(),
            username: None,
            language_code: None,
        }
    }
    pub fn username(mut self, username: &str) -> TgUser {
        self.username = Some(username.to_string());
        self
    }
    pub fn language(mut self, code: &str) -> TgUser {
        self.language_code = Some(code.to_string());
        self
    }
    pub fn to_json(&self) -> Value {
        let mut v = json!({"id": self.id, "is_bot": false, "first_name": self.first_name});
        if let Some(u) = &self.username {
            v["username"] = json!(u);
        }
        if let Some(l) = &self.language_code {
            v["language_code"] = json!(l);
        }
        v
    }
}

/// A file the bot sent or a user uploaded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileRef {
    pub file_id: String,
    pub file_name: Option<String>,
}

/// An inline keyboard button.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Button {
    pub text: String,
    pub callback_data: Option<String>,
    pub url: Option<String>,
}

/// A message in a chat, as it stands now (after edits).
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    pub chat_id: i64,
    pub message_id: i64,
    /// Sent by the bot (as opposed to injected as the user's).
    pub from_bot: bool,
    pub date: i64,
    /// The text after `parse_mode` was applied (tags removed).
    pub text: Option<String>,
    pub caption: Option<String>,
    /// The text or caption exactly as the bot sent it.
    pub raw: Option<String>,
    pub parse_mode: Option<String>,
    pub entities: Vec<Value>,
    pub photo: Option<FileRef>,
    pub document: Option<FileRef>,
    pub reply_markup: Option<Value>,
    /// How many times the bot edited it.
    pub edits: u32,
    pub deleted: bool,
}

impl Message {
    /// The text, or the caption of a photo or document.
    pub fn body(&self) -> &str {
        self.text.as_deref().or(self.caption.as_deref()).unwrap_or("")
    }

    /// Inline keyboard buttons, row by row, flattened.
    pub fn buttons(&self) -> Vec<Button> {
        let Some(rows) = self
            .reply_markup
            .as_ref()
            .and_then(|m| m.get("inline_keyboard"))
            .and_then(Value::as_array)
        else {
            return Vec::new();
        };
        rows.iter()
            .filter_map(Value::as_array)
            .flatten()
            .map(|b| Button {
                text: b["text"].as_str().unwrap_or("").to_string(),
                callback_data: b.get("callback_data").and_then(Value::as_str).map(str::to_string),
                url: b.get("url").and_then(Value::as_str).map(str::to_string),
            })
            .collect()
    }

    /// The button whose text contains `needle`.
    pub fn button(&self, needle: &str) -> Option<Button> {
        self.buttons().into_iter().find(|b| b.text.contains(needle))
    }

    fn to_json(&self, chat: &Value, bot: &Value, user: Option<&Value>) -> Value {
        let mut v = json!({"message_id": self.message_id, "chat": chat, "date": self.date});
        if self.from_bot {
            v["from"] = bot.clone();
        } else if let Some(u) = user {
            v["from"] = u.clone();
        }
        if self.edits > 0 {
            v["edit_date"] = json!(self.date);
        }
        if let Some(t) = &self.text {
            v["text"] = json!(t);
        }
        if let Some(c) = &self.caption {
            v["caption"] = json!(c);
        }
        if !self.entities.is_empty() {
            let key = if self.text.is_some() { "entities" } else { "caption_entities" };
            v[key] = json!(self.entities);
        }
        if let Some(p) = &self.photo {
            v["photo"] = json!([
                {"file_id": format!("{}-s", p.file_id), "file_unique_id": format!("u{}-s", p.file_id), "width": 90, "height": 90, "file_size": 1000},
                {"file_id": p.file_id, "file_unique_id": format!("u{}", p.file_id), "width": 800, "height": 800, "file_size": 50000}
            ]);
        }
        if let Some(d) = &self.document {
            v["document"] = json!({
                "file_id": d.file_id,
                "file_unique_id": format!("u{}", d.file_id),
                "file_name": d.file_name.clone().unwrap_or_else(|| "file".into())
            });
        }
        if let Some(m) = &self.reply_markup {
            v["reply_markup"] = m.clone();
        }
        v
    }
}

/// What the bot answered to a callback query.
#[derive(Debug, Clone, PartialEq)]
pub struct CallbackAnswer {
    pub callback_query_id: String,
    pub from: i64,
    pub text: Option<String>,
    pub show_alert: bool,
}

/// One request the fake received (after authentication).
#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    pub method: String,
    pub params: Value,
    /// The status the fake answered with.
    pub status: u16,
}

/// A misbehaviour for the next matching request.
#[derive(Debug, Clone, PartialEq)]
pub enum Fault {
    /// 429 `Too Many Requests: retry after N` with `parameters.retry_after = N`.
    RetryAfter(u32),
    /// Any Telegram error, e.g. `Fault::Error(500, "Internal Server Error")`.
    Error(u16, String),
}

/// Telegram's flood limits, enforced on the methods that send or edit.
/// Exceeding one answers 429 with a `retry_after`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateLimits {
    /// Messages per second to one private chat (Telegram: about 1).
    pub per_chat_per_second: u32,
    /// Messages per minute to one group (Telegram: 20).
    pub per_group_per_minute: u32,
    /// Messages per second overall (Telegram: about 30).
    pub global_per_second: u32,
}

impl Default for RateLimits {
    fn default() -> Self {
        RateLimits {
            per_chat_per_second: 1,
            per_group_per_minute: 20,
            global_per_second: 30,
        }
    }
}

/// The webhook the bot set.
#[derive(Debug, Clone, PartialEq)]
pub struct Webhook {
    pub url: String,
    pub secret_token: Option<String>,
    /// Deliveries the receiver did not accept (non-2xx or no answer).
    pub failed_deliveries: u64,
    pub last_error: Option<String>,
}

/// Options for [`TgFake::start_with`].
#[derive(Debug, Clone)]
pub struct Options {
    pub token: String,
    pub bot_username: String,
    pub bot_first_name: String,
}

impl Default for Options {
    fn default() -> Self {
        let secret = uuid::Uuid::new_v4().simple().to_string();
        Options {
            token: format!("7000000001:AA{}", &secret[..30]),
            bot_username: "mrj_test_bot".into(),
            bot_first_name: "MRJ Test Bot".into(),
        }
    }
}

pub(crate) struct Chat {
    pub info: Value,
    pub user: Option<Value>,
    pub messages: Vec<Message>,
    pub next_message_id: i64,
    pub blocked: bool,
    pub is_group: bool,
}

pub(crate) struct StoredFile {
    pub unique_id: String,
    pub path: String,
    pub bytes: Vec<u8>,
}

pub(crate) struct State {
    pub next_update_id: i64,
    /// Unconfirmed updates in order.
    pub queue: VecDeque<(i64, Value)>,
    /// Every update ever injected, for redelivery.
    pub history: HashMap<i64, Value>,
    /// Updates put back by [`TgFake::redeliver`], served once more whatever the offset.
    pub redelivered: Vec<i64>,
    pub webhook: Option<Webhook>,
    pub chats: HashMap<i64, Chat>,
    pub files: HashMap<String, StoredFile>,
    pub file_seq: u64,
    pub open_callbacks: HashMap<String, i64>,
    pub answers: Vec<CallbackAnswer>,
    pub requests: Vec<Request>,
    pub faults: VecDeque<(Option<String>, Fault)>,
    pub outage: bool,
    pub rate_limits: Option<RateLimits>,
    pub sends: VecDeque<(Instant, i64)>,
    pub poll_generation: u64,
    pub commands: Value,
    pub callback_seq: u64,
}

pub(crate) struct Inner {
    pub token: String,
    pub bot: Value,
    pub addr: SocketAddr,
    pub state: Mutex<State>,
    /// Bumped on every change, so waiters never miss one.
    pub changed: watch::Sender<u64>,
}

impl Inner {
    pub fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
    pub fn bump(&self) {
        self.changed.send_modify(|v| *v += 1);
    }
}

pub(crate) fn now_unix() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// A running fake Bot API server. Cheap to clone (all clones share one
/// server); it serves until the Tokio runtime that started it shuts down.
#[derive(Clone)]
pub struct TgFake {
    inner: Arc<Inner>,
}

impl TgFake {
    /// Starts a server with a random token on `127.0.0.1:0`.
    pub async fn start() -> TgFake {
        Self::start_with(Options::default()).await
    }

    pub async fn start_with(options: Options) -> TgFake {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("local addr");
        let bot_id: i64 = options
            .token
            .split(':')
            .next()
            .and_then(|s| s.parse().ok())
            .unwrap_or(7_000_000_001);
        let bot = json!({"id": bot_id, "is_bot": true, "first_name": options.bot_first_name, "username": options.bot_username});
        let (changed, _) = watch::channel(0);
        let inner = Arc::new(Inner {
            token: options.token,
            bot,
            addr,
            state: Mutex::new(State {
                next_update_id: 100_000,
                queue: VecDeque::new(),
                history: HashMap::new(),
                redelivered: Vec::new(),
                webhook: None,
                chats: HashMap::new(),
                files: HashMap::new(),
                file_seq: 0,
                open_callbacks: HashMap::new(),
                answers: Vec::new(),
                requests: Vec::new(),
                faults: VecDeque::new(),
                outage: false,
                rate_limits: None,
                sends: VecDeque::new(),
                poll_generation: 0,
                commands: json!([]),
                callback_seq: 0,
            }),
            changed,
        });
        let app = server::router(inner.clone());
        tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, app).await {
                tracing::error!(error = %e, "tgfake server stopped");
            }
        });
        tokio::spawn(server::deliver_webhooks(inner.clone()));
        TgFake { inner }
    }

    /// The base URL to give the client instead of `https://api.telegram.org`.
    pub fn api_url(&self) -> String {
        format!("http://{}", self.inner.addr)
    }

    pub fn token(&self) -> &str {
        &self.inner.token
    }

    /// The bot's `User` object, as `getMe` returns it.
    pub fn bot_user(&self) -> Value {
        self.inner.bot.clone()
    }

    // ---- injecting updates -------------------------------------------------

    fn known_private_chat(state: &mut State, user: &TgUser) -> Value {
        let mut chat = json!({"id": user.id, "type": "private", "first_name": user.first_name});
        if let Some(u) = &user.username {
            chat["username"] = json!(u);
        }
        let entry = state.chats.entry(user.id).or_insert_with(|| Chat {
            info: chat.clone(),
            user: Some(user.to_json()),
            messages: Vec::new(),
            next_message_id: 1,
            blocked: false,
            is_group: false,
        });
        entry.info = chat.clone();
        entry.user = Some(user.to_json());
        chat
    }

    fn push_update(&self, state: &mut State, mut body: Value) -> i64 {
        let id = state.next_update_id;
        state.next_update_id += 1;
        body["update_id"] = json!(id);
        state.history.insert(id, body.clone());
        state.queue.push_back((id, body));
        id
    }

    fn push_user_message(&self, from: &TgUser, build: impl FnOnce(&mut Message)) -> (i64, i64) {
        let (update_id, message_id) = {
            let mut state = self.inner.lock();
            let chat = Self::known_private_chat(&mut state, from);
            let c = state.chats.get_mut(&from.id).expect("chat just made");
            let message_id = c.next_message_id;
            c.next_message_id += 1;
            let mut m = Message {
                chat_id: from.id,
                message_id,
                from_bot: false,
                date: now_unix(),
                text: None,
                caption: None,
                raw: None,
                parse_mode: None,
                entities: Vec::new(),
                photo: None,
                document: None,
                reply_markup: None,
                edits: 0,
                deleted: false,
            };
            build(&mut m);
            let json = m.to_json(&chat, &self.inner.bot, Some(&from.to_json()));
            c.messages.push(m);
            let update_id = self.push_update(&mut state, json!({"message": json}));
            (update_id, message_id)
        };
        self.inner.bump();
        (update_id, message_id)
    }

    /// The user sends `text` (a `/command` gets its `bot_command` entity).
    /// Returns the update id.
    pub fn send_text(&self, from: &TgUser, text: &str) -> i64 {
        self.push_user_message(from, |m| {
            m.text = Some(text.to_string());
            m.entities = html::command_entities(text);
        })
        .0
    }

    /// The user sends a photo (its bytes are kept for `getFile` and download).
    /// Returns `(update_id, file_id)`.
    pub fn send_photo(&self, from: &TgUser, bytes: &[u8], caption: Option<&str>) -> (i64, String) {
        let file_id = self.store_file(bytes.to_vec(), "photos", "jpg");
        let f = file_id.clone();
        let (update_id, _) = self.push_user_message(from, |m| {
            m.photo = Some(FileRef {
                file_id: f,
                file_name: None,
            });
            m.caption = caption.map(str::to_string);
        });
        (update_id, file_id)
    }

    /// The user sends a document (for example a PDF receipt).
    pub fn send_document(&self, from: &TgUser, bytes: &[u8], file_name: &str) -> (i64, String) {
        let file_id = self.store_file(bytes.to_vec(), "documents", file_name.rsplit('.').next().unwrap_or("bin"));
        let f = file_id.clone();
        let name = file_name.to_string();
        let (update_id, _) = self.push_user_message(from, |m| {
            m.document = Some(FileRef {
                file_id: f,
                file_name: Some(name),
            });
        });
        (update_id, file_id)
    }

    pub(crate) fn store_file_in(state: &mut State, bytes: Vec<u8>, folder: &str, ext: &str) -> String {
        state.file_seq += 1;
        let file_id = format!("AgAC{:08}{}", state.file_seq, &uuid::Uuid::new_v4().simple().to_string()[..12]);
        state.files.insert(
            file_id.clone(),
            StoredFile {
                unique_id: format!("AQAD{:08}", state.file_seq),
                path: format!("{folder}/file_{}.{ext}", state.file_seq),
                bytes,
            },
        );
        file_id
    }

    fn store_file(&self, bytes: Vec<u8>, folder: &str, ext: &str) -> String {
        let mut state = self.inner.lock();
        Self::store_file_in(&mut state, bytes, folder, ext)
    }

    /// The user presses an inline button carrying `data` on message
    /// `message_id` of their chat. Any `data` can be sent (that is how a
    /// forged callback is tested); the message must exist. Returns the update id.
    pub fn click(&self, from: &TgUser, message_id: i64, data: &str) -> i64 {
        let id = {
            let mut state = self.inner.lock();
            let chat = Self::known_private_chat(&mut state, from);
            let bot = self.inner.bot.clone();
            let message = state
                .chats
                .get(&from.id)
                .and_then(|c| c.messages.iter().find(|m| m.message_id == message_id))
                .map(|m| m.to_json(&chat, &bot, None))
                .unwrap_or_else(|| panic!("no message {message_id} in chat {}", from.id));
            state.callback_seq += 1;
            let query_id = format!("{}{:010}", from.id, state.callback_seq);
            state.open_callbacks.insert(query_id.clone(), from.id);
            let body = json!({"callback_query": {
                "id": query_id, "from": from.to_json(), "message": message,
                "chat_instance": format!("ci{}", from.id), "data": data
            }});
            self.push_update(&mut state, body)
        };
        self.inner.bump();
        id
    }

    /// Presses the button whose text contains `needle` on message `message_id`.
    /// Panics when there is no such button (a test failure worth a clear message).
    pub fn click_button(&self, from: &TgUser, message_id: i64, needle: &str) -> i64 {
        let message = self
            .message(from.id, message_id)
            .unwrap_or_else(|| panic!("no message {message_id} in chat {}", from.id));
        let button = message.button(needle).unwrap_or_else(|| {
            panic!(
                "no button containing {needle:?} on message {message_id}: {:?}",
                message.buttons().iter().map(|b| &b.text).collect::<Vec<_>>()
            )
        });
        let data = button.callback_data.expect("a callback button");
        self.click(from, message_id, &data)
    }

    /// Queues any update; `update_id` is assigned. Returns it.
    pub fn inject_update(&self, update: Value) -> i64 {
        let id = {
            let mut state = self.inner.lock();
            self.push_update(&mut state, update)
        };
        self.inner.bump();
        id
    }

    /// Telegram delivers at least once: serve update `update_id` again, with
    /// the same id, even if the bot already confirmed it.
    pub fn redeliver(&self, update_id: i64) {
        {
            let mut state = self.inner.lock();
            let body = state.history.get(&update_id).cloned().expect("a known update id");
            state.queue.retain(|(id, _)| *id != update_id);
            state.queue.push_front((update_id, body));
            state.redelivered.push(update_id);
        }
        self.inner.bump();
    }

    /// Updates not yet confirmed by the bot (polling) or accepted by its webhook.
    pub fn pending_updates(&self) -> usize {
        self.inner.lock().queue.len()
    }

    /// Registers a group or supergroup (negative id) the bot is a member of.
    pub fn add_group(&self, chat_id: i64, title: &str) {
        let mut state = self.inner.lock();
        state.chats.entry(chat_id).or_insert_with(|| Chat {
            info: json!({"id": chat_id, "type": "supergroup", "title": title}),
            user: None,
            messages: Vec::new(),
            next_message_id: 1,
            blocked: false,
            is_group: true,
        });
    }

    /// Makes a private chat known without the user writing first.
    pub fn add_user(&self, user: &TgUser) {
        let mut state = self.inner.lock();
        Self::known_private_chat(&mut state, user);
    }

    // ---- reading what happened ------------------------------------------------

    /// Every message in the chat (the user's and the bot's), current state.
    pub fn chat(&self, chat_id: i64) -> Vec<Message> {
        self.inner
            .lock()
            .chats
            .get(&chat_id)
            .map(|c| c.messages.clone())
            .unwrap_or_default()
    }

    /// Messages the bot sent to the chat and did not delete, oldest first.
    pub fn messages(&self, chat_id: i64) -> Vec<Message> {
        self.chat(chat_id).into_iter().filter(|m| m.from_bot && !m.deleted).collect()
    }

    pub fn message(&self, chat_id: i64, message_id: i64) -> Option<Message> {
        self.chat(chat_id).into_iter().find(|m| m.message_id == message_id)
    }

    /// The last message the bot sent to the chat.
    pub fn last_message(&self, chat_id: i64) -> Option<Message> {
        self.messages(chat_id).pop()
    }

    pub fn callback_answers(&self) -> Vec<CallbackAnswer> {
        self.inner.lock().answers.clone()
    }

    /// Every authenticated request, in arrival order.
    pub fn requests(&self) -> Vec<Request> {
        self.inner.lock().requests.clone()
    }

    /// Requests of one method.
    pub fn requests_of(&self, method: &str) -> Vec<Request> {
        self.requests()
            .into_iter()
            .filter(|r| r.method.eq_ignore_ascii_case(method))
            .collect()
    }

    /// The bytes of an uploaded or sent file.
    pub fn file_bytes(&self, file_id: &str) -> Option<Vec<u8>> {
        self.inner.lock().files.get(file_id).map(|f| f.bytes.clone())
    }

    pub fn webhook(&self) -> Option<Webhook> {
        self.inner.lock().webhook.clone()
    }

    /// The command list the bot set with `setMyCommands`.
    pub fn my_commands(&self) -> Value {
        self.inner.lock().commands.clone()
    }

    /// Waits until some message in the chat (bot's, current state) satisfies
    /// `pred`, and returns it; panics after `timeout` with the chat's content.
    pub async fn wait_for(&self, chat_id: i64, timeout: Duration, pred: impl Fn(&Message) -> bool) -> Message {
        let deadline = tokio::time::Instant::now() + timeout;
        let mut rx = self.inner.changed.subscribe();
        loop {
            if let Some(m) = self.messages(chat_id).into_iter().rev().find(|m| pred(m)) {
                return m;
            }
            if tokio::time::timeout_at(deadline, rx.changed()).await.is_err() {
                let seen: Vec<String> = self.messages(chat_id).iter().map(|m| m.body().to_string()).collect();
                panic!("timed out after {timeout:?} waiting for a message in chat {chat_id}; the bot sent: {seen:#?}");
            }
        }
    }

    /// Waits for a bot message containing `needle` in its text or caption.
    pub async fn wait_for_text(&self, chat_id: i64, needle: &str) -> Message {
        let n = needle.to_string();
        self.wait_for(chat_id, Duration::from_secs(15), move |m| m.body().contains(&n))
            .await
    }

    /// Waits until `cond` holds on the fake (for example a number of
    /// requests), re-checking on every change; false after `timeout`.
    pub async fn wait_until(&self, timeout: Duration, cond: impl Fn(&TgFake) -> bool) -> bool {
        let deadline = tokio::time::Instant::now() + timeout;
        let mut rx = self.inner.changed.subscribe();
        loop {
            if cond(self) {
                return true;
            }
            if tokio::time::timeout_at(deadline, rx.changed()).await.is_err() {
                return cond(self);
            }
        }
    }

    // ---- misbehaving ------------------------------------------------------------

    /// The next request of `method` (any method when `None`) fails with `fault`.
    /// Faults queue up and are used once each, in order.
    pub fn fail_next(&self, method: Option<&str>, fault: Fault) {
        self.inner.lock().faults.push_back((method.map(str::to_string), fault));
    }

    /// While on, every request answers 502 Bad Gateway, as during a Telegram outage.
    pub fn set_outage(&self, on: bool) {
        self.inner.lock().outage = on;
        self.inner.bump();
    }

    /// The user blocks the bot: sending to them answers
    /// 403 "Forbidden: bot was blocked by the user".
    pub fn block_bot(&self, user_id: i64, blocked: bool) {
        if let Some(c) = self.inner.lock().chats.get_mut(&user_id) {
            c.blocked = blocked;
        }
    }

    /// Enforce Telegram's flood limits (`None`: unlimited, the default).
    pub fn set_rate_limits(&self, limits: Option<RateLimits>) {
        let mut state = self.inner.lock();
        state.rate_limits = limits;
        state.sends.clear();
    }
}

/// Seconds to wait, per Telegram's flood limits, before another message to `chat`.
pub(crate) fn rate_check(state: &mut State, chat: i64, is_group: bool) -> Option<u32> {
    let limits = state.rate_limits?;
    let now = Instant::now();
    while state
        .sends
        .front()
        .is_some_and(|(t, _)| now.duration_since(*t) > Duration::from_secs(60))
    {
        state.sends.pop_front();
    }
    let within = |d: Duration| state.sends.iter().filter(move |(t, _)| now.duration_since(*t) < d);
    let global = within(Duration::from_secs(1)).count() as u32;
    if global >= limits.global_per_second {
        return Some(1);
    }
    if is_group {
        let recent: Vec<Instant> = within(Duration::from_secs(60))
            .filter(|(_, c)| *c == chat)
            .map(|(t, _)| *t)
            .collect();
        if recent.len() as u32 >= limits.per_group_per_minute {
            let oldest = recent[0];
            return Some((60 - now.duration_since(oldest).as_secs()).max(1) as u32);
        }
    } else if within(Duration::from_secs(1)).filter(|(_, c)| *c == chat).count() as u32 >= limits.per_chat_per_second {
        return Some(1);
    }
    state.sends.push_back((now, chat));
    None
}
