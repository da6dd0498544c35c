//! A typed client for Zarinpal's v4 JSON API. Never branches on the HTTP
//! status alone: the body's envelope says success (`data` an object with a
//! `code`, `errors` empty) or failure (`errors` an object or a non-empty list,
//! `data` empty); a transport failure or 5xx means "outcome unknown, retry".
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::Value;

pub const PRODUCTION_BASE_URL: &str = "https://payment.zarinpal.com";
pub const SANDBOX_BASE_URL: &str = "https://sandbox.zarinpal.com";

#[derive(Debug, Clone)]
pub struct ZarinpalConfig {
    /// `https://payment.zarinpal.com`, `https://sandbox.zarinpal.com`, or a fake's URL.
    pub base_url: String,
    /// The terminal's 36-character merchant id (any UUID in the sandbox).
    pub merchant_id: String,
    /// Where Zarinpal sends the customer back (GET `?Authority=…&Status=OK|NOK`).
    pub callback_url: String,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ZarinpalError {
    /// The gateway answered with an error code (e.g. -9, -11, -50, -51, -54).
    #[error("Zarinpal error {code}: {message}")]
    Api {
        code: i64,
        message: String,
        validations: Vec<String>,
    },
    /// No answer, or 5xx: the outcome is unknown; retry later.
    #[error("Zarinpal unreachable: {0}")]
    Unavailable(String),
    #[error("unexpected answer from Zarinpal: {0}")]
    Malformed(String),
}

impl ZarinpalError {
    pub fn code(&self) -> Option<i64> {
        match self {
            ZarinpalError::Api { code, .. } => Some(*code),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestOk {
    pub authority: String,
    pub fee: i64,
    pub fee_type: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    /// 100: verified now; 101: verified before (same ref_id).
    pub code: i64,
    pub ref_id: u64,
    pub card_pan: Option<String>,
    pub card_hash: Option<String>,
    pub fee: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct UnverifiedPayment {
    pub authority: String,
    pub amount: i64,
    #[serde(default)]
    pub callback_url: String,
    #[serde(default)]
    pub date: String,
}

/// `VERIFIED`, `PAID`, `IN_BANK`, `FAILED` or `REVERSED` (never use it to verify).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inquiry {
    pub status: String,
}

#[derive(Debug, Serialize)]
struct Metadata<'a> {
    order_id: &'a str,
}

#[derive(Clone)]
pub struct ZarinpalClient {
    http: reqwest::Client,
    base: String,
    merchant_id: String,
    callback_url: String,
}

/// `code` arrives as a number or as a string (`"100"` in unVerified).
fn code_of(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn non_empty(v: &Value) -> bool {
    match v {
        Value::Object(m) => !m.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Null => false,
        _ => true,
    }
}

/// Splits an envelope into `data` or the error it carries.
fn envelope(status: reqwest::StatusCode, body: &str) -> Result<serde_json::Map<String, Value>, ZarinpalError> {
    let parsed: Value = match serde_json::from_str(body) {
        Ok(v) => v,
        Err(_) if status.is_server_error() => return Err(ZarinpalError::Unavailable(format!("HTTP {status}"))),
        Err(e) => return Err(ZarinpalError::Malformed(format!("HTTP {status}: {e}"))),
    };
    let errors = parsed.get("errors").cloned().unwrap_or(Value::Null);
    if non_empty(&errors) {
        // `errors` is an object, or (seen in the wild) a list of them.
        let e = match &errors {
            Value::Array(a) => a.first().cloned().unwrap_or(Value::Null),
            other => other.clone(),
        };
        let code = e.get("code").and_then(code_of).unwrap_or(0);
        let message = e.get("message").and_then(Value::as_str).unwrap_or_default().to_string();
        let validations = e
            .get("validations")
            .and_then(Value::as_array)
            .map(|list| {
                list.iter()
                    .filter_map(Value::as_object)
                    .flat_map(|m| m.iter().map(|(k, v)| format!("{k}: {}", v.as_str().unwrap_or_default())))
                    .collect()
            })
            .unwrap_or_default();
        return Err(ZarinpalError::Api {
            code,
            message,
            validations,
        });
    }
    match parsed.get("data") {
        Some(Value::Object(d)) if d.contains_key("code") => Ok(d.clone()),
        _ if status.is_server_error() => Err(ZarinpalError::Unavailable(format!("HTTP {status}"))),
        _ => Err(ZarinpalError::Malformed(format!(
            "HTTP {status} with neither data nor errors: {body:.200}"
        ))),
    }
}

fn success_code(data: &serde_json::Map<String, Value>, accepted: &[i64]) -> Result<i64, ZarinpalError> {
    let code = data.get("code").and_then(code_of).unwrap_or(0);
    if accepted.contains(&code) {
        Ok(code)
    } else {
        Err(ZarinpalError::Api {
            code,
            message: data.get("message").and_then(Value::as_str).unwrap_or_default().to_string(),
            validations: vec![],
        })
    }
}

fn int(data: &serde_json::Map<String, Value>, key: &str) -> i64 {
    data.get(key).and_then(code_of).unwrap_or(0)
}

fn text(data: &serde_json::Map<String, Value>, key: &str) -> Option<String> {
    data.get(key).and_then(Value::as_str).map(str::to_string)
}

impl ZarinpalClient {
    pub fn new(config: ZarinpalConfig) -> Result<Self, ZarinpalError> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(20))
            .build()
            .map_err(|e| ZarinpalError::Unavailable(e.to_string()))?;
        Ok(ZarinpalClient {
            http,
            base: config.base_url.trim_end_matches('/').to_string(),
            merchant_id: config.merchant_id,
            callback_url: config.callback_url,
        })
    }

    #[tracing::instrument(skip(self, body), fields(base = %self.base))]
    async fn post(&self, endpoint: &str, body: Value) -> Result<serde_json::Map<String, Value>, ZarinpalError> {
        let response = self
            .http
            .post(format!("{}/pg/v4/payment/{endpoint}", self.base))
            .header("Accept", "application/json")
            .json(&body)
            .send()
            .await
            .map_err(|e| ZarinpalError::Unavailable(e.to_string()))?;
        let status = response.status();
        let body = response.text().await.map_err(|e| ZarinpalError::Unavailable(e.to_string()))?;
        envelope(status, &body)
    }

    /// Asks for a payment session of `amount_rial` rials; `order_id` goes into the metadata.
    pub async fn request(&self, amount_rial: i64, description: &str, order_id: &str) -> Result<RequestOk, ZarinpalError> {
        let body = serde_json::json!({
            "merchant_id": self.merchant_id,
            "amount": amount_rial,
            "currency": "IRR",
            "description": description,
            "callback_url": self.callback_url,
            "metadata": Metadata { order_id },
        });
        let data = self.post("request.json", body).await?;
        success_code(&data, &[100])?;
        let authority = text(&data, "authority").ok_or_else(|| ZarinpalError::Malformed("no authority in the answer".into()))?;
        Ok(RequestOk {
            authority,
            fee: int(&data, "fee"),
            fee_type: text(&data, "fee_type").unwrap_or_default(),
        })
    }

    /// Where the customer's browser goes to pay.
    pub fn start_pay_url(&self, authority: &str) -> String {
        format!("{}/pg/StartPay/{authority}", self.base)
    }

    /// Verifies a paid session; code 101 (verified before) is a success too.
    pub async fn verify(&self, amount_rial: i64, authority: &str) -> Result<Verified, ZarinpalError> {
        let body = serde_json::json!({"merchant_id": self.merchant_id, "amount": amount_rial, "authority": authority});
        let data = self.post("verify.json", body).await?;
        let code = success_code(&data, &[100, 101])?;
        let ref_id = data
            .get("ref_id")
            .and_then(|v| v.as_u64().or_else(|| v.as_str().and_then(|s| s.parse().ok())))
            .ok_or_else(|| ZarinpalError::Malformed("verified without a ref_id".into()))?;
        Ok(Verified {
            code,
            ref_id,
            card_pan: text(&data, "card_pan"),
            card_hash: text(&data, "card_hash"),
            fee: int(&data, "fee"),
        })
    }

    /// The last (up to 100) paid sessions nobody verified yet.
    pub async fn unverified(&self) -> Result<Vec<UnverifiedPayment>, ZarinpalError> {
        let data = self
            .post("unVerified.json", serde_json::json!({"merchant_id": self.merchant_id}))
            .await?;
        success_code(&data, &[100])?;
        let list = data.get("authorities").cloned().unwrap_or(Value::Array(vec![]));
        serde_json::from_value(list).map_err(|e| ZarinpalError::Malformed(e.to_string()))
    }

    pub async fn inquiry(&self, authority: &str) -> Result<Inquiry, ZarinpalError> {
        let data = self
            .post(
                "inquiry.json",
                serde_json::json!({"merchant_id": self.merchant_id, "authority": authority}),
            )
            .await?;
        success_code(&data, &[100])?;
        Ok(Inquiry {
            status: text(&data, "status").unwrap_or_default(),
        })
    }

    /// Refunds a successful session within 30 minutes (server IP must be allowed).
    pub async fn reverse(&self, authority: &str) -> Result<(), ZarinpalError> {
        let data = self
            .post(
                "reverse.json",
                serde_json::json!({"merchant_id": self.merchant_id, "authority": authority}),
            )
            .await?;
        success_code(&data, &[100])?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::StatusCode;

    #[test]
    fn parses_the_documented_error_shapes() {
        let php = r#"{"data": [], "errors": {"code": -9, "message": "The input params invalid, validation error.", "validations": [{"description": "The description field is required."}]}}"#;
        assert_eq!(
            envelope(StatusCode::UNPROCESSABLE_ENTITY, php),
            Err(ZarinpalError::Api {
                code: -9,
                message: "The input params invalid, validation error.".into(),
                validations: vec!["description: The description field is required.".into()]
            })
        );
        let list = r#"{"data": {}, "errors": [{"code": "-51", "message": "Session is not valid, session is not active paid try."}]}"#;
        assert_eq!(envelope(StatusCode::OK, list).unwrap_err().code(), Some(-51));
        assert!(matches!(
            envelope(StatusCode::BAD_GATEWAY, "<html>"),
            Err(ZarinpalError::Unavailable(_))
        ));
    }

    #[test]
    fn accepts_string_codes_and_a_missing_errors_key() {
        let unverified = r#"{"data": {"code": "100", "message": "Success", "authorities": []}}"#;
        let data = envelope(StatusCode::OK, unverified).unwrap();
        assert_eq!(success_code(&data, &[100]), Ok(100));
    }
}
