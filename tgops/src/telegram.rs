//! Sending to Telegram through teloxide (the same client as the bot; only
//! the API URL differs in tests), with every failure sorted by what it means
//! for delivery, and a rate limiter shared by everything that sends.
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use teloxide::payloads::{EditMessageTextSetters, SendDocumentSetters, SendMessageSetters, SendPhotoSetters};
use teloxide::requests::{Request, Requester};
use teloxide::types::{ChatId, InlineKeyboardButton, InlineKeyboardMarkup, InputFile, LinkPreviewOptions, MessageId, ParseMode};
use teloxide::{ApiError, RequestError};
use tokio::sync::Mutex;
use tokio::time::Instant;

/// What to send: text (HTML or plain), optionally as the caption of a photo
/// or document given by Telegram file id, with inline buttons whose callback
/// data is already signed for the recipient.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Body {
    pub text: String,
    /// `parse_mode=HTML` (values inside must be escaped); plain text otherwise.
    #[serde(default)]
    pub html: bool,
    #[serde(default)]
    pub photo: Option<String>,
    #[serde(default)]
    pub document: Option<String>,
    /// Rows of (label, callback data).
    #[serde(default)]
    pub buttons: Vec<Vec<(String, String)>>,
}

impl Body {
    pub fn html(text: String) -> Body {
        Body {
            text,
            html: true,
            ..Body::default()
        }
    }
    pub fn plain(text: String) -> Body {
        Body {
            text,
            ..Body::default()
        }
    }
}

/// Why a send did not go through, by what it means for delivery.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// 429: not sent; wait this long and send again.
    #[error("flood control: retry after {0:?}")]
    RetryAfter(Duration),
    /// Not sent, for a reason that passes (Telegram down, 5xx, cannot connect).
    #[error("Telegram unavailable: {0}")]
    Unavailable(String),
    /// 403: the person blocked the bot, or the account is gone.
    #[error("blocked: {0}")]
    Blocked(String),
    /// Refused for good (400: chat not found, bad HTML, …): sending again changes nothing.
    #[error("refused: {0}")]
    Refused(String),
    /// The request may have reached Telegram (a timeout, a broken
    /// connection, an unreadable answer): whether it was delivered is unknown.
    #[error("delivery unknown: {0}")]
    Uncertain(String),
}

/// Sorts a teloxide error. Telegram has no idempotency key, so anything that
/// may have been delivered is `Uncertain`, never retried.
pub fn classify(e: &RequestError) -> SendError {
    match e {
        RequestError::RetryAfter(s) => SendError::RetryAfter(s.duration().max(Duration::from_millis(100))),
        RequestError::MigrateToChatId(id) => SendError::Refused(format!("the group moved to chat {id}")),
        RequestError::Api(api) => {
            let text = match api {
                ApiError::Unknown(s) => s.clone(),
                other => other.to_string(),
            };
            if text.starts_with("Forbidden") || matches!(api, ApiError::BotBlocked | ApiError::UserDeactivated | ApiError::BotKicked) {
                SendError::Blocked(text)
            } else if text.starts_with("Bad Request") {
                SendError::Refused(text)
            } else {
                // 5xx (Bad Gateway, Internal Server Error…) and the rest: the
                // request was not carried out.
                SendError::Unavailable(text)
            }
        }
        RequestError::Network(n) if n.is_connect() || n.is_builder() => SendError::Unavailable(n.to_string()),
        RequestError::Network(n) => SendError::Uncertain(n.to_string()),
        RequestError::InvalidJson { raw, .. } => SendError::Uncertain(format!("unreadable answer: {raw}")),
        RequestError::Io(io) => SendError::Unavailable(io.to_string()),
    }
}

/// A bot client for sending.
#[derive(Clone)]
pub struct Telegram {
    pub bot: teloxide::Bot,
}

impl Telegram {
    /// A client for `api_url` (`https://api.telegram.org`, or a fake server)
    /// with a request timeout, so a hung request ends as `Uncertain`.
    pub fn new(token: &str, api_url: &str, timeout: Duration) -> Result<Telegram, String> {
        let url = api_url.parse().map_err(|e| format!("TELEGRAM_API_URL {api_url:?}: {e}"))?;
        let client = teloxide::net::default_reqwest_settings()
            .timeout(timeout)
            .build()
            .map_err(|e| e.to_string())?;
        Ok(Telegram {
            bot: teloxide::Bot::with_client(token.to_string(), client).set_api_url(url),
        })
    }

    pub fn from_bot(bot: teloxide::Bot) -> Telegram {
        Telegram { bot }
    }

    fn markup(buttons: &[Vec<(String, String)>]) -> InlineKeyboardMarkup {
        InlineKeyboardMarkup::new(
            buttons
                .iter()
                .map(|row| row.iter().map(|(label, data)| InlineKeyboardButton::callback(label.clone(), data.clone())).collect::<Vec<_>>()),
        )
    }

    /// Sends `body` to `chat` once (no retry here: the caller decides from
    /// the error); returns Telegram's message id.
    pub async fn send(&self, chat: i64, body: &Body) -> Result<i64, SendError> {
        let chat = ChatId(chat);
        let parse = |html: bool| if html { Some(ParseMode::Html) } else { None };
        let result = if let Some(photo) = &body.photo {
            let mut req = self.bot.send_photo(chat, InputFile::file_id(photo.clone().into()));
            if !body.text.is_empty() {
                req = req.caption(body.text.clone());
            }
            if let Some(p) = parse(body.html) {
                req = req.parse_mode(p);
            }
            if !body.buttons.is_empty() {
                req = req.reply_markup(Self::markup(&body.buttons));
            }
            req.send().await
        } else if let Some(document) = &body.document {
            let mut req = self.bot.send_document(chat, InputFile::file_id(document.clone().into()));
            if !body.text.is_empty() {
                req = req.caption(body.text.clone());
            }
            if let Some(p) = parse(body.html) {
                req = req.parse_mode(p);
            }
            if !body.buttons.is_empty() {
                req = req.reply_markup(Self::markup(&body.buttons));
            }
            req.send().await
        } else {
            let mut req = self.bot.send_message(chat, body.text.clone()).link_preview_options(LinkPreviewOptions {
                is_disabled: true,
                url: None,
                prefer_small_media: false,
                prefer_large_media: false,
                show_above_text: false,
            });
            if let Some(p) = parse(body.html) {
                req = req.parse_mode(p);
            }
            if !body.buttons.is_empty() {
                req = req.reply_markup(Self::markup(&body.buttons));
            }
            req.send().await
        };
        result.map(|m| i64::from(m.id.0)).map_err(|e| classify(&e))
    }

    /// Replaces a message's text (progress messages). "Not modified" is success.
    pub async fn edit_text(&self, chat: i64, message_id: i64, text: &str, html: bool) -> Result<(), SendError> {
        let Ok(id) = i32::try_from(message_id) else {
            return Err(SendError::Refused("message id out of range".into()));
        };
        let mut req = self.bot.edit_message_text(ChatId(chat), MessageId(id), text.to_string());
        if html {
            req = req.parse_mode(ParseMode::Html);
        }
        match req.send().await {
            Ok(_) | Err(RequestError::Api(ApiError::MessageNotModified)) => Ok(()),
            Err(e) => Err(classify(&e)),
        }
    }
}

/// A pacing limiter: at most `rate` sends per second, spread evenly, shared by
/// every task that holds a clone. A 429 pauses everyone until its `retry_after`.
#[derive(Clone)]
pub struct RateLimiter {
    inner: Arc<Mutex<Pacing>>,
}

struct Pacing {
    interval: Duration,
    next: Instant,
}

impl RateLimiter {
    /// `per_second` sends a second (at least one).
    pub fn new(per_second: f64) -> RateLimiter {
        let per_second = if per_second.is_finite() && per_second > 0.0 { per_second } else { 1.0 };
        RateLimiter {
            inner: Arc::new(Mutex::new(Pacing {
                interval: Duration::from_secs_f64(1.0 / per_second),
                next: Instant::now(),
            })),
        }
    }

    /// Waits for the next free slot.
    pub async fn acquire(&self) {
        let slot = {
            let mut p = self.inner.lock().await;
            let now = Instant::now();
            let slot = p.next.max(now);
            p.next = slot + p.interval;
            slot
        };
        tokio::time::sleep_until(slot).await;
    }

    /// Nobody sends before `wait` from now (Telegram's `retry_after`).
    pub async fn pause(&self, wait: Duration) {
        let mut p = self.inner.lock().await;
        let until = Instant::now() + wait;
        if until > p.next {
            p.next = until;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_limiter_spreads_sends_at_the_rate() {
        let limiter = RateLimiter::new(200.0);
        let start = Instant::now();
        for _ in 0..101 {
            limiter.acquire().await;
        }
        let elapsed = start.elapsed();
        // 100 intervals of 5 ms.
        assert!(elapsed >= Duration::from_millis(495), "{elapsed:?}");
        assert!(elapsed < Duration::from_millis(900), "{elapsed:?}");
    }

    #[tokio::test]
    async fn a_pause_holds_every_holder() {
        let limiter = RateLimiter::new(1000.0);
        let other = limiter.clone();
        limiter.pause(Duration::from_millis(300)).await;
        let start = Instant::now();
        other.acquire().await;
        assert!(start.elapsed() >= Duration::from_millis(290));
    }

    #[test]
    fn errors_are_sorted_by_what_they_mean_for_delivery() {
        use teloxide::types::Seconds;
        assert_eq!(classify(&RequestError::RetryAfter(Seconds::from_seconds(3))), SendError::RetryAfter(Duration::from_secs(3)));
        assert!(matches!(classify(&RequestError::Api(ApiError::BotBlocked)), SendError::Blocked(_)));
        assert!(matches!(classify(&RequestError::Api(ApiError::ChatNotFound)), SendError::Refused(_)));
        assert!(matches!(classify(&RequestError::Api(ApiError::Unknown("Bad Gateway".into()))), SendError::Unavailable(_)));
        assert!(matches!(
            classify(&RequestError::InvalidJson {
                source: Arc::new(serde_json::from_str::<u8>("x").unwrap_err()),
                raw: "x".into()
            }),
            SendError::Uncertain(_)
        ));
    }
}
