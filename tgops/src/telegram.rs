//! Sending to Telegram over the Bot API's HTTP interface (the URL is
//! `{api_url}/bot{token}/{method}`; only `api_url` differs in tests, where
//! `tgfake` serves it), with every failure sorted by what it means for
//! delivery, and a rate limiter shared by everything that sends.
//!
//! This is a small client of its own rather than teloxide's: teloxide sleeps
//! ten seconds inside the request on any 5xx answer before reading it, which
//! turns "Telegram is down, nothing was sent" into a timeout that cannot be
//! told from "sent, answer lost". Here the status code decides.
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
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
        Body { text, ..Body::default() }
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

/// Sorts an answer by its HTTP status and body.
pub fn classify(status: u16, body: &Value) -> SendError {
    let description = body
        .get("description")
        .and_then(Value::as_str)
        .unwrap_or("no description")
        .to_string();
    let retry_after = body.pointer("/parameters/retry_after").and_then(Value::as_u64);
    match status {
        429 => SendError::RetryAfter(Duration::from_secs(retry_after.unwrap_or(1)).max(Duration::from_millis(100))),
        403 => SendError::Blocked(description),
        // A wrong token or API address is configuration: keep the message for later.
        401 | 404 => SendError::Unavailable(format!("{status} {description}")),
        400..=499 => SendError::Refused(description),
        _ => SendError::Unavailable(format!("{status} {description}")),
    }
}

/// A Bot API client for sending.
#[derive(Clone)]
pub struct Telegram {
    http: reqwest::Client,
    base: String,
}

impl Telegram {
    /// A client for `api_url` (`https://api.telegram.org`, or a fake server)
    /// with a request timeout, so a hung request ends as `Uncertain`.
    pub fn new(token: &str, api_url: &str, timeout: Duration) -> Result<Telegram, String> {
        let api_url = api_url.trim_end_matches('/');
        if !(api_url.starts_with("http://") || api_url.starts_with("https://")) {
            return Err(format!("TELEGRAM_API_URL {api_url:?} is not an http(s) URL"));
        }
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(Duration::from_secs(10))
            .build()
            .map_err(|e| e.to_string())?;
        Ok(Telegram {
            http,
            base: format!("{api_url}/bot{token}"),
        })
    }

    /// Calls `method` once with a JSON body; `result` on success.
    pub async fn call(&self, method: &str, params: &Value) -> Result<Value, SendError> {
        let response = match self.http.post(format!("{}/{method}", self.base)).json(params).send().await {
            Ok(r) => r,
            // The connection was never made: nothing reached Telegram.
            Err(e) if e.is_connect() || e.is_builder() => return Err(SendError::Unavailable(e.to_string())),
            Err(e) => return Err(SendError::Uncertain(e.to_string())),
        };
        let status = response.status().as_u16();
        let body: Value = match response.json().await {
            Ok(v) => v,
            Err(e) if status == 200 => return Err(SendError::Uncertain(format!("unreadable answer: {e}"))),
            Err(_) => Value::Null,
        };
        if status == 200 && body.get("ok").and_then(Value::as_bool) == Some(true) {
            return Ok(body.get("result").cloned().unwrap_or(Value::Null));
        }
        Err(classify(status, &body))
    }

    fn markup(buttons: &[Vec<(String, String)>]) -> Value {
        let rows: Vec<Value> = buttons
            .iter()
            .map(|row| {
                Value::Array(
                    row.iter()
                        .map(|(label, data)| json!({"text": label, "callback_data": data}))
                        .collect(),
                )
            })
            .collect();
        json!({ "inline_keyboard": rows })
    }

    /// Sends `body` to `chat` once (no retry here: the caller decides from
    /// the error); returns Telegram's message id.
    pub async fn send(&self, chat: i64, body: &Body) -> Result<i64, SendError> {
        let (method, mut params) = if let Some(photo) = &body.photo {
            ("sendPhoto", json!({"chat_id": chat, "photo": photo}))
        } else if let Some(document) = &body.document {
            ("sendDocument", json!({"chat_id": chat, "document": document}))
        } else {
            (
                "sendMessage",
                json!({"chat_id": chat, "text": body.text, "link_preview_options": {"is_disabled": true}}),
            )
        };
        if method != "sendMessage" && !body.text.is_empty() {
            params["caption"] = json!(body.text);
        }
        if body.html {
            params["parse_mode"] = json!("HTML");
        }
        if !body.buttons.is_empty() {
            params["reply_markup"] = Self::markup(&body.buttons);
        }
        let result = self.call(method, &params).await?;
        result
            .get("message_id")
            .and_then(Value::as_i64)
            .ok_or_else(|| SendError::Uncertain("an answer without a message id".into()))
    }

    /// Replaces a message's text (progress messages). "Not modified" is success.
    pub async fn edit_text(&self, chat: i64, message_id: i64, text: &str, html: bool) -> Result<(), SendError> {
        let mut params = json!({"chat_id": chat, "message_id": message_id, "text": text});
        if html {
            params["parse_mode"] = json!("HTML");
        }
        match self.call("editMessageText", &params).await {
            Ok(_) => Ok(()),
            Err(SendError::Refused(d)) if d.contains("message is not modified") => Ok(()),
            Err(e) => Err(e),
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
    paused_until: Instant,
}

impl RateLimiter {
    /// `per_second` sends a second (at least one).
    pub fn new(per_second: f64) -> RateLimiter {
        let per_second = if per_second.is_finite() && per_second > 0.0 {
            per_second
        } else {
            1.0
        };
        let now = Instant::now();
        RateLimiter {
            inner: Arc::new(Mutex::new(Pacing {
                interval: Duration::from_secs_f64(1.0 / per_second),
                next: now,
                paused_until: now,
            })),
        }
    }

    /// Waits for the next free slot. A pause that began while waiting holds
    /// this send too (it takes a new slot after the pause).
    pub async fn acquire(&self) {
        loop {
            let slot = {
                let mut p = self.inner.lock().await;
                let slot = p.next.max(Instant::now()).max(p.paused_until);
                p.next = slot + p.interval;
                slot
            };
            tokio::time::sleep_until(slot).await;
            if self.inner.lock().await.paused_until <= Instant::now() {
                return;
            }
        }
    }

    /// Nobody sends before `wait` from now (Telegram's `retry_after`).
    pub async fn pause(&self, wait: Duration) {
        let mut p = self.inner.lock().await;
        let until = Instant::now() + wait;
        if until > p.paused_until {
            p.paused_until = until;
        }
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
    async fn a_pause_also_holds_sends_already_waiting_for_their_slot() {
        let limiter = RateLimiter::new(10.0);
        limiter.acquire().await;
        let waiting = limiter.clone();
        let start = Instant::now();
        // This send's slot is 100 ms away; a 429 arrives meanwhile.
        let send = tokio::spawn(async move {
            waiting.acquire().await;
            start.elapsed()
        });
        tokio::time::sleep(Duration::from_millis(20)).await;
        limiter.pause(Duration::from_millis(500)).await;
        assert!(send.await.unwrap() >= Duration::from_millis(500));
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
    fn answers_are_sorted_by_what_they_mean_for_delivery() {
        let body = |d: &str| json!({"ok": false, "description": d, "parameters": {"retry_after": 3}});
        assert_eq!(
            classify(429, &body("Too Many Requests")),
            SendError::RetryAfter(Duration::from_secs(3))
        );
        assert!(matches!(
            classify(403, &body("Forbidden: bot was blocked by the user")),
            SendError::Blocked(_)
        ));
        assert!(matches!(classify(400, &body("Bad Request: chat not found")), SendError::Refused(_)));
        assert!(matches!(classify(502, &body("Bad Gateway")), SendError::Unavailable(_)));
        assert!(matches!(classify(401, &body("Unauthorized")), SendError::Unavailable(_)));
    }

    #[tokio::test]
    async fn nothing_listening_means_not_sent() {
        // A port nobody listens on: the connection is refused, so nothing was sent.
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let tg = Telegram::new("1:x", &format!("http://127.0.0.1:{port}"), Duration::from_secs(2)).unwrap();
        assert!(matches!(
            tg.send(5, &Body::plain("hi".into())).await,
            Err(SendError::Unavailable(_))
        ));
    }
}
