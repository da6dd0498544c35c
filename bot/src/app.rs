//! The bot's dependencies, the per-update context handlers work in, and
//! what a handler shows (a [`Screen`]).
use std::sync::Mutex;
use std::time::Duration;

use chrono::Utc;
use commands::{CommandError, Commands};
use domain::access::{Actor, Permission};
use domain::{CustomerId, Language, Toman};
use rust_decimal::Decimal;
use sqlx::PgPool;
use teloxide::payloads::{AnswerCallbackQuerySetters, EditMessageTextSetters, SendMessageSetters, SendPhotoSetters};
use teloxide::requests::{Request, Requester};
use teloxide::types::{ChatId, InlineKeyboardButton, InlineKeyboardMarkup, InputFile, MessageId, ParseMode};
use teloxide::{ApiError, RequestError};

use crate::callback::{Action, Signer};
use crate::i18n::{self, Texts};
use crate::store::{Inbox, Session, Sessions};

#[derive(Debug, thiserror::Error)]
pub enum BotError {
    #[error(transparent)]
    Command(#[from] CommandError),
    #[error("Telegram: {0}")]
    Telegram(#[from] RequestError),
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    #[error("permission `{0}` is required")]
    Denied(Permission),
    #[error("not found")]
    NotFound,
}

/// Settings of the bot that are not business rules.
#[derive(Debug, Clone)]
pub struct BotSettings {
    /// The smallest card-to-card top-up.
    pub min_top_up: Toman,
    /// Amounts offered as buttons, in thousands of Toman.
    pub top_up_presets: Vec<u32>,
}

impl Default for BotSettings {
    fn default() -> Self {
        BotSettings {
            min_top_up: Toman::from_int(50_000).expect("valid"),
            top_up_presets: vec![100, 200, 500, 1000],
        }
    }
}

/// Everything a handler may use. The bot changes state only through
/// `commands` and reads business data only from the read models.
pub struct App {
    pub commands: Commands,
    pub pool: PgPool,
    pub tg: teloxide::Bot,
    pub texts: Texts,
    pub signer: Signer,
    pub bot_username: String,
    pub inbox: Inbox,
    pub sessions: Sessions,
    pub settings: BotSettings,
}

/// Sends `req`, waiting out 429s (`retry_after`) and retrying network
/// errors a few times; Telegram's other answers are returned as they are.
pub async fn send<R>(req: R) -> Result<teloxide::requests::Output<R>, RequestError>
where
    R: Request<Err = RequestError>,
{
    let mut attempt: u32 = 0;
    loop {
        attempt += 1;
        match req.send_ref().await {
            Err(RequestError::RetryAfter(s)) if attempt <= 5 => tokio::time::sleep(s.duration()).await,
            Err(RequestError::Network(_) | RequestError::Io(_)) if attempt <= 3 => {
                tokio::time::sleep(Duration::from_millis(250 << attempt)).await
            }
            other => return other,
        }
    }
}

/// A message to show: HTML text and inline buttons.
#[derive(Debug, Clone, Default)]
pub struct Screen {
    pub text: String,
    pub rows: Vec<Vec<InlineKeyboardButton>>,
}

impl Screen {
    pub fn new(text: String) -> Screen {
        Screen { text, rows: Vec::new() }
    }
    pub fn row(mut self, row: Vec<InlineKeyboardButton>) -> Screen {
        if !row.is_empty() {
            self.rows.push(row);
        }
        self
    }
    pub fn button(self, b: InlineKeyboardButton) -> Screen {
        self.row(vec![b])
    }
    pub fn markup(&self) -> InlineKeyboardMarkup {
        InlineKeyboardMarkup::new(self.rows.clone())
    }
}

/// One update being handled: who, where, in which language, with what power.
pub struct Ctx<'a> {
    pub app: &'a App,
    pub update_id: i64,
    pub chat: i64,
    pub user: i64,
    pub first_name: String,
    pub username: Option<String>,
    pub lang: Language,
    /// Permissions as the events say (never a read model).
    pub actor: Actor,
    /// The message whose button was pressed: screens replace it.
    pub message: Option<i32>,
    /// A callback query not yet answered.
    pub query: Mutex<Option<String>>,
}

impl Ctx<'_> {
    pub fn customer(&self) -> CustomerId {
        CustomerId(self.user)
    }

    pub fn t(&self, key: &str) -> String {
        self.app.texts.get(self.lang, key, &[])
    }

    pub fn ta(&self, key: &str, args: &[(&str, String)]) -> String {
        self.app.texts.get(self.lang, key, args)
    }

    pub fn money(&self, amount: Toman) -> String {
        self.app.texts.money(self.lang, amount)
    }

    /// Money from a read model (which stores valid Toman).
    pub fn money_dec(&self, amount: Decimal) -> String {
        match Toman::new(amount.abs()) {
            Ok(t) => self.money(t),
            Err(_) => i18n::digits(self.lang, &amount.to_string()),
        }
    }

    pub fn num(&self, n: i64) -> String {
        i18n::number(self.lang, n)
    }

    pub fn date(&self, at: chrono::DateTime<Utc>) -> String {
        i18n::date(self.lang, at)
    }

    /// A button that only this person can press.
    pub fn btn(&self, text: String, action: Action) -> InlineKeyboardButton {
        InlineKeyboardButton::callback(text, self.app.signer.sign(self.user, &action))
    }

    pub fn back(&self, action: Action) -> InlineKeyboardButton {
        self.btn(self.t("btn-back"), action)
    }

    pub fn has(&self, p: Permission) -> bool {
        self.actor.has(p)
    }

    pub fn require(&self, p: Permission) -> Result<(), BotError> {
        self.actor.require(p).map_err(|_| BotError::Denied(p))
    }

    pub async fn session(&self) -> Result<Session, BotError> {
        Ok(self.app.sessions.get(self.chat).await?)
    }

    pub async fn set_session(&self, s: Session) -> Result<(), BotError> {
        Ok(self.app.sessions.set(self.chat, &s).await?)
    }

    /// Answers the pending callback query (once; later calls do nothing).
    pub async fn ack(&self, text: Option<String>, alert: bool) -> Result<(), BotError> {
        let query = self.query.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(id) = query {
            let mut req = self.app.tg.answer_callback_query(teloxide::types::CallbackQueryId(id));
            if let Some(t) = text {
                req = req.text(t).show_alert(alert);
            }
            match send(req).await {
                // The query timed out (the person waited too long): nothing to answer.
                Err(RequestError::Api(ApiError::InvalidQueryId)) => {}
                other => {
                    other?;
                }
            }
        }
        Ok(())
    }

    /// Sends a new message; returns its id.
    pub async fn send(&self, screen: Screen) -> Result<i32, BotError> {
        let mut req = self
            .app
            .tg
            .send_message(ChatId(self.chat), screen.text.clone())
            .parse_mode(ParseMode::Html)
            .link_preview_options(teloxide::types::LinkPreviewOptions {
                is_disabled: true,
                url: None,
                prefer_small_media: false,
                prefer_large_media: false,
                show_above_text: false,
            });
        if !screen.rows.is_empty() {
            req = req.reply_markup(screen.markup());
        }
        Ok(send(req).await?.id.0)
    }

    /// Replaces the message whose button was pressed, or sends a new one.
    pub async fn show(&self, screen: Screen) -> Result<i32, BotError> {
        let Some(message) = self.message else {
            return self.send(screen).await;
        };
        self.edit(message, screen).await
    }

    /// Edits `message` to `screen`; sends it anew when the old one cannot be
    /// edited (a photo, or too old).
    pub async fn edit(&self, message: i32, screen: Screen) -> Result<i32, BotError> {
        let mut req = self
            .app
            .tg
            .edit_message_text(ChatId(self.chat), MessageId(message), screen.text.clone())
            .parse_mode(ParseMode::Html);
        if !screen.rows.is_empty() {
            req = req.reply_markup(screen.markup());
        }
        match send(req).await {
            Ok(_) | Err(RequestError::Api(ApiError::MessageNotModified)) => Ok(message),
            Err(RequestError::Api(_)) => self.send(screen).await,
            Err(e) => Err(e.into()),
        }
    }

    pub async fn send_photo(&self, png: Vec<u8>, caption: String) -> Result<i32, BotError> {
        let req = self
            .app
            .tg
            .send_photo(ChatId(self.chat), InputFile::memory(png).file_name("qr.png"))
            .caption(caption)
            .parse_mode(ParseMode::Html);
        Ok(send(req).await?.id.0)
    }
}
