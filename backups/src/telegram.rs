//! Sends backup files to a Telegram group with the Bot API's `sendDocument`,
//! in parts when a file is larger than the upload limit.
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;
use std::time::Duration;

use serde_json::Value;

use crate::{io, BackupError};

/// The Bot API's upload limit for bots is 50 MB; parts stay below it with
/// room for the multipart envelope.
pub const TELEGRAM_UPLOAD_LIMIT: u64 = 48_000_000;
/// Attempts per part when Telegram answers 429 or 5xx, or cannot be reached.
const ATTEMPTS: u32 = 5;

#[derive(Debug, Clone)]
pub struct TelegramUploader {
    client: reqwest::Client,
    api_url: String,
    token: String,
    pub chat_id: i64,
    /// Largest part sent, in bytes.
    pub part_bytes: u64,
    /// Longest pause honoured for a `retry_after`.
    pub max_retry_wait: Duration,
}

impl TelegramUploader {
    /// `api_url` is `https://api.telegram.org` in production (a fake's URL in tests).
    pub fn new(api_url: &str, token: &str, chat_id: i64, part_bytes: u64) -> TelegramUploader {
        TelegramUploader {
            client: reqwest::Client::builder()
                .timeout(Duration::from_secs(600))
                .connect_timeout(Duration::from_secs(15))
                .build()
                .expect("an HTTP client"),
            api_url: api_url.trim_end_matches('/').to_string(),
            token: token.to_string(),
            chat_id,
            part_bytes: part_bytes.clamp(1, TELEGRAM_UPLOAD_LIMIT),
            max_retry_wait: Duration::from_secs(60),
        }
    }

    /// Sends `path` (in parts named `<file>.001`, `.002`, … when it exceeds
    /// `part_bytes`), each with `caption` and its part number. Returns the
    /// message ids, one per part, in order.
    #[tracing::instrument(skip_all, fields(chat = self.chat_id))]
    pub async fn upload(&self, path: &Path, caption: &str) -> Result<Vec<i64>, BackupError> {
        let size = std::fs::metadata(path).map_err(io(path))?.len();
        let file_name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "backup".into());
        let parts = size.div_ceil(self.part_bytes).max(1);
        let mut ids = Vec::with_capacity(parts as usize);
        for i in 0..parts {
            let offset = i * self.part_bytes;
            let len = self.part_bytes.min(size - offset);
            let bytes = {
                let owned = path.to_path_buf();
                tokio::task::spawn_blocking(move || -> std::io::Result<Vec<u8>> {
                    let mut f = std::fs::File::open(&owned)?;
                    f.seek(SeekFrom::Start(offset))?;
                    let mut buf = vec![0; len as usize];
                    f.read_exact(&mut buf)?;
                    Ok(buf)
                })
                .await
                .map_err(|e| BackupError::Tool(format!("read task failed: {e}")))?
                .map_err(io(path))?
            };
            let (name, caption) = if parts == 1 {
                (file_name.clone(), caption.to_string())
            } else {
                (
                    format!("{file_name}.{:03}", i + 1),
                    format!("{caption}\npart {} of {parts}: join with `cat {file_name}.0* > {file_name}`", i + 1),
                )
            };
            ids.push(self.send_document(&name, bytes, &caption).await?);
        }
        Ok(ids)
    }

    async fn send_document(&self, name: &str, bytes: Vec<u8>, caption: &str) -> Result<i64, BackupError> {
        let url = format!("{}/bot{}/sendDocument", self.api_url, self.token);
        let mut attempt = 0;
        loop {
            attempt += 1;
            let form = reqwest::multipart::Form::new()
                .text("chat_id", self.chat_id.to_string())
                .text("caption", caption.to_string())
                .text("disable_content_type_detection", "true")
                .part(
                    "document",
                    reqwest::multipart::Part::bytes(bytes.clone())
                        .file_name(name.to_string())
                        .mime_str("application/octet-stream")
                        .expect("a valid MIME type"),
                );
            let (retry, error) = match self.client.post(&url).multipart(form).send().await {
                Err(e) => (
                    Some(Duration::from_secs(2u64.pow(attempt))),
                    format!("cannot reach Telegram: {}", without_token(&e.to_string(), &self.token)),
                ),
                Ok(response) => {
                    let status = response.status();
                    let body: Value = response.json().await.unwrap_or(Value::Null);
                    if body["ok"].as_bool() == Some(true) {
                        return body["result"]["message_id"]
                            .as_i64()
                            .ok_or_else(|| BackupError::Telegram("sendDocument answered without a message_id".into()));
                    }
                    let description = body["description"].as_str().unwrap_or("no description").to_string();
                    let retry = match body["parameters"]["retry_after"].as_u64() {
                        Some(s) => Some(Duration::from_secs(s)),
                        None if status.is_server_error() => Some(Duration::from_secs(2u64.pow(attempt))),
                        None => None,
                    };
                    (retry, format!("sendDocument failed ({}): {description}", status.as_u16()))
                }
            };
            match retry {
                Some(wait) if attempt < ATTEMPTS && wait <= self.max_retry_wait => {
                    tracing::warn!(%error, ?wait, attempt, "backup upload retried");
                    tokio::time::sleep(wait).await;
                }
                _ => return Err(BackupError::Telegram(error)),
            }
        }
    }
}

fn without_token(message: &str, token: &str) -> String {
    if token.is_empty() {
        message.to_string()
    } else {
        message.replace(token, "<token>")
    }
}
