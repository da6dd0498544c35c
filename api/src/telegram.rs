//! The little of the Telegram Bot API the API itself needs: send a sign-in
//! code (`sendMessage`) and fetch a receipt photo (`getFile` + the file URL).
//! Same requests as against api.telegram.org; only the base URL differs.
use std::time::Duration;

use serde::Deserialize;

use crate::config::TelegramConfig;

#[derive(Debug, thiserror::Error)]
pub enum TelegramError {
    #[error("Telegram is unreachable: {0}")]
    Unreachable(String),
    /// Telegram answered `ok: false` (e.g. 403 when the user blocked the bot).
    #[error("Telegram refused: {code} {description}")]
    Refused { code: i64, description: String },
    #[error("unexpected answer from Telegram: {0}")]
    Malformed(String),
}

#[derive(Clone)]
pub struct Telegram {
    client: reqwest::Client,
    config: TelegramConfig,
}

#[derive(Deserialize)]
struct Envelope<T> {
    ok: bool,
    result: Option<T>,
    error_code: Option<i64>,
    description: Option<String>,
}

#[derive(Deserialize)]
struct File {
    file_path: Option<String>,
}

impl Telegram {
    pub fn new(config: TelegramConfig) -> Telegram {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(15))
            .build()
            .expect("a TLS-capable HTTP client");
        Telegram { client, config }
    }

    fn method(&self, name: &str) -> String {
        format!("{}/bot{}/{name}", self.config.api_url.trim_end_matches('/'), self.config.token)
    }

    async fn call<T: serde::de::DeserializeOwned>(&self, name: &str, body: serde_json::Value) -> Result<T, TelegramError> {
        let response = self
            .client
            .post(self.method(name))
            .json(&body)
            .send()
            .await
            .map_err(|e| TelegramError::Unreachable(e.without_url().to_string()))?;
        let envelope: Envelope<T> = response
            .json()
            .await
            .map_err(|e| TelegramError::Malformed(e.without_url().to_string()))?;
        match (envelope.ok, envelope.result) {
            (true, Some(r)) => Ok(r),
            (true, None) => Err(TelegramError::Malformed("ok without a result".into())),
            (false, _) => Err(TelegramError::Refused {
                code: envelope.error_code.unwrap_or(0),
                description: envelope.description.unwrap_or_default(),
            }),
        }
    }

    #[tracing::instrument(skip(self, text))]
    pub async fn send_message(&self, chat_id: i64, text: &str) -> Result<(), TelegramError> {
        let _: serde_json::Value = self
            .call(
                "sendMessage",
                serde_json::json!({ "chat_id": chat_id, "text": text, "parse_mode": "HTML" }),
            )
            .await?;
        Ok(())
    }

    /// The bytes of a file the bot received, and a content type guessed from its path.
    #[tracing::instrument(skip(self))]
    pub async fn download(&self, file_id: &str) -> Result<(Vec<u8>, &'static str), TelegramError> {
        let file: File = self.call("getFile", serde_json::json!({ "file_id": file_id })).await?;
        let path = file
            .file_path
            .ok_or_else(|| TelegramError::Malformed("getFile without file_path".into()))?;
        let url = format!(
            "{}/file/bot{}/{}",
            self.config.api_url.trim_end_matches('/'),
            self.config.token,
            path
        );
        let response = self
            .client
            .get(url)
            .send()
            .await
            .map_err(|e| TelegramError::Unreachable(e.without_url().to_string()))?;
        if !response.status().is_success() {
            return Err(TelegramError::Refused {
                code: i64::from(response.status().as_u16()),
                description: "file download failed".into(),
            });
        }
        let bytes = response
            .bytes()
            .await
            .map_err(|e| TelegramError::Unreachable(e.without_url().to_string()))?;
        Ok((bytes.to_vec(), content_type(&path, &bytes)))
    }
}

/// From the magic bytes first (Telegram photos are JPEG), then the extension.
fn content_type(path: &str, bytes: &[u8]) -> &'static str {
    if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        return "image/jpeg";
    }
    if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        return "image/png";
    }
    if bytes.starts_with(b"%PDF") {
        return "application/pdf";
    }
    if bytes.len() > 12 && &bytes[0..4] == b"RIFF" && &bytes[8..12] == b"WEBP" {
        return "image/webp";
    }
    let lower = path.to_ascii_lowercase();
    if lower.ends_with(".jpg") || lower.ends_with(".jpeg") {
        "image/jpeg"
    } else if lower.ends_with(".png") {
        "image/png"
    } else {
        "application/octet-stream"
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn content_types_come_from_magic_bytes() {
        assert_eq!(super::content_type("photos/file_1.jpg", b"\x89PNG\r\n\x1a\nrest"), "image/png");
        assert_eq!(super::content_type("x", &[0xFF, 0xD8, 0xFF, 0xE0]), "image/jpeg");
        assert_eq!(super::content_type("documents/a.pdf", b"%PDF-1.4"), "application/pdf");
        assert_eq!(super::content_type("documents/a.bin", b"??"), "application/octet-stream");
    }
}
