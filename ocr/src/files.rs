//! Where receipt images come from. The bot stores Telegram file ids as the
//! receipt reference; [`TelegramFiles`] downloads them through the Bot API
//! (`getFile`, then `/file/bot<token>/<file_path>`). [`LocalFiles`] reads a
//! directory (tests, or receipts uploaded through the web).
use std::path::PathBuf;
use std::time::Duration;

use async_trait::async_trait;

#[derive(Debug, thiserror::Error)]
pub enum FileError {
    #[error("receipt file `{0}` not found")]
    NotFound(String),
    #[error("receipt file is too large ({0} bytes)")]
    TooLarge(u64),
    #[error("cannot fetch receipt file: {0}")]
    Fetch(String),
}

/// Largest receipt image accepted (Telegram bots can download up to 20 MB).
pub const MAX_RECEIPT_BYTES: u64 = 20 * 1024 * 1024;

#[async_trait]
pub trait ReceiptFiles: Send + Sync {
    async fn fetch(&self, reference: &str) -> Result<Vec<u8>, FileError>;
}

/// Files under a directory; the reference is a relative name without `..`.
pub struct LocalFiles {
    pub root: PathBuf,
}

#[async_trait]
impl ReceiptFiles for LocalFiles {
    async fn fetch(&self, reference: &str) -> Result<Vec<u8>, FileError> {
        let name = reference.strip_prefix("file:").unwrap_or(reference);
        if name.is_empty() || name.split(['/', '\\']).any(|p| p == ".." || p.is_empty()) {
            return Err(FileError::NotFound(reference.to_string()));
        }
        let path = self.root.join(name);
        let meta = tokio::fs::metadata(&path)
            .await
            .map_err(|_| FileError::NotFound(reference.to_string()))?;
        if meta.len() > MAX_RECEIPT_BYTES {
            return Err(FileError::TooLarge(meta.len()));
        }
        tokio::fs::read(&path).await.map_err(|e| FileError::Fetch(e.to_string()))
    }
}

/// Telegram's Bot API: `{api_url}/bot{token}/getFile?file_id=…` then
/// `{api_url}/file/bot{token}/{file_path}`. The reference is the file id
/// (a `tg:` prefix is accepted).
pub struct TelegramFiles {
    http: reqwest::Client,
    api_url: String,
    token: String,
}

impl TelegramFiles {
    pub fn new(api_url: &str, token: &str) -> Result<TelegramFiles, FileError> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .build()
            .map_err(|e| FileError::Fetch(e.to_string()))?;
        Ok(TelegramFiles {
            http,
            api_url: api_url.trim_end_matches('/').to_string(),
            token: token.to_string(),
        })
    }
}

#[async_trait]
impl ReceiptFiles for TelegramFiles {
    async fn fetch(&self, reference: &str) -> Result<Vec<u8>, FileError> {
        let file_id = reference.strip_prefix("tg:").unwrap_or(reference);
        let fetch = |e: reqwest::Error| FileError::Fetch(e.without_url().to_string());
        let answer: serde_json::Value = self
            .http
            .get(format!("{}/bot{}/getFile", self.api_url, self.token))
            .query(&[("file_id", file_id)])
            .send()
            .await
            .map_err(fetch)?
            .json()
            .await
            .map_err(fetch)?;
        if answer.get("ok") != Some(&serde_json::Value::Bool(true)) {
            let why = answer.get("description").and_then(|d| d.as_str()).unwrap_or("getFile failed");
            return Err(FileError::NotFound(format!("{file_id}: {why}")));
        }
        if let Some(size) = answer.pointer("/result/file_size").and_then(|s| s.as_u64()) {
            if size > MAX_RECEIPT_BYTES {
                return Err(FileError::TooLarge(size));
            }
        }
        let path = answer
            .pointer("/result/file_path")
            .and_then(|p| p.as_str())
            .ok_or_else(|| FileError::Fetch("getFile returned no file_path".into()))?;
        let response = self
            .http
            .get(format!("{}/file/bot{}/{path}", self.api_url, self.token))
            .send()
            .await
            .map_err(fetch)?;
        if !response.status().is_success() {
            return Err(FileError::Fetch(format!("download answered HTTP {}", response.status())));
        }
        let bytes = response.bytes().await.map_err(fetch)?;
        if bytes.len() as u64 > MAX_RECEIPT_BYTES {
            return Err(FileError::TooLarge(bytes.len() as u64));
        }
        Ok(bytes.to_vec())
    }
}
