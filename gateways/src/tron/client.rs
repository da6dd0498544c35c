//! A typed client for the TronGrid endpoints a deposit watcher needs: an
//! account's TRC20 transfers (v1, paged by fingerprint), a transaction's
//! execution receipt, and the current block height.
use std::time::Duration;

use serde::Deserialize;
use serde_json::Value;

#[derive(Debug, Clone)]
pub struct TronConfig {
    /// `https://api.trongrid.io`, or a fake's URL.
    pub base_url: String,
    /// Sent as `TRON-PRO-API-KEY` when set.
    pub api_key: Option<String>,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum TronError {
    #[error("TronGrid unreachable: {0}")]
    Unavailable(String),
    #[error("TronGrid refused the request (HTTP {status}): {message}")]
    Refused { status: u16, message: String },
    #[error("unexpected answer from TronGrid: {0}")]
    Malformed(String),
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct TokenInfo {
    #[serde(default)]
    pub symbol: String,
    /// The token contract, base58.
    pub address: String,
    pub decimals: u32,
    #[serde(default)]
    pub name: String,
}

/// One item of `/v1/accounts/{address}/transactions/trc20`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Trc20Transfer {
    pub transaction_id: String,
    pub token_info: TokenInfo,
    pub block_timestamp: i64,
    pub from: String,
    pub to: String,
    #[serde(rename = "type", default)]
    pub kind: String,
    /// Base units as a decimal string.
    pub value: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Default)]
pub struct Receipt {
    #[serde(default)]
    pub result: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Log {
    #[serde(default)]
    pub address: String,
    #[serde(default)]
    pub topics: Vec<String>,
    #[serde(default)]
    pub data: String,
}

/// `/wallet/gettransactioninfobyid` (`None` when the chain does not know it yet).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct TransactionInfo {
    pub id: String,
    #[serde(rename = "blockNumber")]
    pub block_number: u64,
    #[serde(rename = "blockTimeStamp")]
    pub block_timestamp: i64,
    #[serde(default)]
    pub contract_address: String,
    #[serde(default)]
    pub receipt: Receipt,
    #[serde(default)]
    pub log: Vec<Log>,
    /// `FAILED` only when it failed; absent on success.
    #[serde(default)]
    pub result: Option<String>,
    #[serde(rename = "resMessage", default)]
    pub res_message: Option<String>,
}

#[derive(Clone)]
pub struct TronClient {
    http: reqwest::Client,
    base: String,
    api_key: Option<String>,
}

/// At most this many pages are followed in one listing (200 transfers each).
const MAX_PAGES: usize = 50;

impl TronClient {
    pub fn new(config: TronConfig) -> Result<Self, TronError> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(20))
            .build()
            .map_err(|e| TronError::Unavailable(e.to_string()))?;
        Ok(TronClient {
            http,
            base: config.base_url.trim_end_matches('/').to_string(),
            api_key: config.api_key.filter(|k| !k.is_empty()),
        })
    }

    async fn send(&self, request: reqwest::RequestBuilder) -> Result<Value, TronError> {
        let request = match &self.api_key {
            Some(k) => request.header("TRON-PRO-API-KEY", k),
            None => request,
        };
        let response = request
            .header("Accept", "application/json")
            .send()
            .await
            .map_err(|e| TronError::Unavailable(e.to_string()))?;
        let status = response.status();
        let body = response.text().await.map_err(|e| TronError::Unavailable(e.to_string()))?;
        if status.is_server_error() || status.as_u16() == 429 {
            return Err(TronError::Unavailable(format!("HTTP {status}")));
        }
        let value: Value = serde_json::from_str(&body).map_err(|e| TronError::Malformed(format!("HTTP {status}: {e}")))?;
        let error = value
            .get("error")
            .or_else(|| value.get("Error"))
            .and_then(Value::as_str)
            .map(str::to_string);
        if !status.is_success() || value.get("success") == Some(&Value::Bool(false)) || error.is_some() {
            return Err(TronError::Refused {
                status: status.as_u16(),
                message: error.unwrap_or_else(|| body.chars().take(200).collect()),
            });
        }
        Ok(value)
    }

    /// Incoming TRC20 transfers to `address` since `min_timestamp_ms`, oldest
    /// first, every page. Unconfirmed ones are included: the watcher counts
    /// confirmations itself from the receipt's block.
    #[tracing::instrument(skip(self))]
    pub async fn incoming_transfers(&self, address: &str, min_timestamp_ms: i64) -> Result<Vec<Trc20Transfer>, TronError> {
        let url = format!("{}/v1/accounts/{address}/transactions/trc20", self.base);
        let mut params: Vec<(&str, String)> = vec![
            ("only_to", "true".into()),
            ("limit", "200".into()),
            ("order_by", "block_timestamp,asc".into()),
            ("min_timestamp", min_timestamp_ms.to_string()),
        ];
        let mut out = Vec::new();
        for _ in 0..MAX_PAGES {
            let page = self.send(self.http.get(&url).query(&params)).await?;
            let data = page.get("data").cloned().unwrap_or(Value::Array(vec![]));
            let items: Vec<Trc20Transfer> = serde_json::from_value(data).map_err(|e| TronError::Malformed(e.to_string()))?;
            out.extend(items);
            match page.pointer("/meta/fingerprint").and_then(Value::as_str) {
                Some(f) if !f.is_empty() => {
                    params.retain(|(k, _)| *k != "fingerprint");
                    params.push(("fingerprint", f.to_string()));
                }
                _ => return Ok(out),
            }
        }
        Ok(out)
    }

    /// The execution receipt of `tx`, `None` while the chain does not have it.
    #[tracing::instrument(skip(self))]
    pub async fn transaction_info(&self, tx: &str) -> Result<Option<TransactionInfo>, TronError> {
        let value = self
            .send(
                self.http
                    .post(format!("{}/wallet/gettransactioninfobyid", self.base))
                    .json(&serde_json::json!({ "value": tx })),
            )
            .await?;
        if value.as_object().is_some_and(|o| o.is_empty()) {
            return Ok(None);
        }
        serde_json::from_value(value)
            .map(Some)
            .map_err(|e| TronError::Malformed(e.to_string()))
    }

    /// The head block's number.
    pub async fn now_block(&self) -> Result<u64, TronError> {
        let value = self.send(self.http.post(format!("{}/wallet/getnowblock", self.base))).await?;
        value
            .pointer("/block_header/raw_data/number")
            .and_then(Value::as_u64)
            .ok_or_else(|| TronError::Malformed("no block_header.raw_data.number".into()))
    }
}
