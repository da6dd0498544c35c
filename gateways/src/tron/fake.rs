//! A fake TronGrid on 127.0.0.1 (`../shared/payment-apis.md` 2.9): the v1
//! TRC20 transfer list with its paging and filters, transaction receipts
//! (`/wallet` and `/walletsolidity`), and the block height. Tests add
//! transfers (good, failed, of a look-alike token, to another address) and
//! advance the chain.
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};

use super::address::{evm_hex, tron_hex};
use super::{TRANSFER_TOPIC, USDT_MAINNET};

/// Blocks after which TronGrid's solidity node has a block (19 SRs).
pub const SOLIDIFIED_AFTER: u64 = 19;
const GENESIS_MS: i64 = 1_777_000_000_000;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakeToken {
    pub address: String,
    pub symbol: String,
    pub decimals: u32,
    pub name: String,
}

impl FakeToken {
    pub fn usdt() -> FakeToken {
        FakeToken {
            address: USDT_MAINNET.into(),
            symbol: "USDT".into(),
            decimals: 6,
            name: "Tether USD".into(),
        }
    }
    /// A scam token that calls itself USDT.
    pub fn look_alike(address: &str) -> FakeToken {
        FakeToken {
            address: address.into(),
            symbol: "USDT".into(),
            decimals: 6,
            name: "Tether USD".into(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct FakeTransfer {
    pub tx_id: String,
    pub token: FakeToken,
    pub from: String,
    pub to: String,
    /// Base units.
    pub value: u128,
    pub block: u64,
    /// `None` = SUCCESS; `Some("OUT_OF_ENERGY")` etc. = failed, with no log.
    pub failure: Option<String>,
}

#[derive(Default)]
struct Inner {
    head: u64,
    transfers: Vec<FakeTransfer>,
    api_keys: Vec<String>,
    requests: u64,
}

#[derive(Clone)]
pub struct FakeTronGrid {
    pub base_url: String,
    inner: Arc<Mutex<Inner>>,
}

/// The timestamp (ms) the fake chain gives block `n` (one block every 3 s).
pub fn block_time_ms(n: u64) -> i64 {
    GENESIS_MS + n as i64 * 3000
}

impl FakeTronGrid {
    pub async fn start(head: u64) -> std::io::Result<FakeTronGrid> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr: SocketAddr = listener.local_addr()?;
        let fake = FakeTronGrid {
            base_url: format!("http://{addr}"),
            inner: Arc::new(Mutex::new(Inner { head, ..Inner::default() })),
        };
        let app = Router::new()
            .route("/v1/accounts/{address}/transactions/trc20", get(trc20))
            .route("/wallet/gettransactioninfobyid", get(info_get).post(info_post))
            .route("/walletsolidity/gettransactioninfobyid", get(solid_info_get).post(solid_info_post))
            .route("/wallet/getnowblock", get(now_block).post(now_block))
            .route("/walletsolidity/getnowblock", get(solid_now_block).post(solid_now_block))
            .with_state(fake.clone());
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(fake)
    }

    pub fn head(&self) -> u64 {
        self.inner.lock().unwrap().head
    }

    pub fn advance(&self, blocks: u64) {
        self.inner.lock().unwrap().head += blocks;
    }

    /// Adds a transfer in the current head block and returns its id.
    pub fn add(&self, mut t: FakeTransfer) -> String {
        let mut inner = self.inner.lock().unwrap();
        if t.block == 0 {
            t.block = inner.head;
        }
        let id = t.tx_id.clone();
        inner.transfers.push(t);
        id
    }

    /// API keys the requests carried (in order).
    pub fn api_keys(&self) -> Vec<String> {
        self.inner.lock().unwrap().api_keys.clone()
    }

    pub fn requests(&self) -> u64 {
        self.inner.lock().unwrap().requests
    }

    fn seen(&self, headers: &HeaderMap) {
        let mut inner = self.inner.lock().unwrap();
        inner.requests += 1;
        if let Some(k) = headers.get("TRON-PRO-API-KEY").and_then(|v| v.to_str().ok()) {
            inner.api_keys.push(k.to_string());
        }
    }
}

fn v1_error(status: StatusCode, message: &str) -> Response {
    (
        status,
        Json(json!({"success": false, "error": message, "statusCode": status.as_u16()})),
    )
        .into_response()
}

#[derive(Debug, Deserialize, Default)]
struct Trc20Query {
    only_confirmed: Option<bool>,
    only_unconfirmed: Option<bool>,
    only_to: Option<bool>,
    only_from: Option<bool>,
    limit: Option<usize>,
    fingerprint: Option<String>,
    order_by: Option<String>,
    min_timestamp: Option<i64>,
    max_timestamp: Option<i64>,
    contract_address: Option<String>,
}

async fn trc20(State(fake): State<FakeTronGrid>, headers: HeaderMap, Path(address): Path<String>, Query(q): Query<Trc20Query>) -> Response {
    fake.seen(&headers);
    if evm_hex(&address).is_err() {
        return v1_error(StatusCode::BAD_REQUEST, &format!("Invalid address: {address}"));
    }
    if q.only_confirmed == Some(true) && q.only_unconfirmed == Some(true) {
        return v1_error(
            StatusCode::BAD_REQUEST,
            "only_confirmed and only_unconfirmed cannot be used together",
        );
    }
    let inner = fake.inner.lock().unwrap();
    let head = inner.head;
    let mut rows: Vec<&FakeTransfer> = inner
        .transfers
        .iter()
        .filter(|t| t.block <= head)
        .filter(|t| {
            let incoming = t.to == address;
            let outgoing = t.from == address;
            let only_to = q.only_to == Some(true);
            let only_from = q.only_from == Some(true);
            match (only_to, only_from) {
                (true, _) => incoming,
                (_, true) => outgoing,
                _ => incoming || outgoing,
            }
        })
        .filter(|t| q.contract_address.as_deref().is_none_or(|c| c == t.token.address))
        .filter(|t| q.min_timestamp.is_none_or(|m| block_time_ms(t.block) >= m))
        .filter(|t| q.max_timestamp.is_none_or(|m| block_time_ms(t.block) <= m))
        .filter(|t| {
            let confirmed = head - t.block >= SOLIDIFIED_AFTER;
            match (q.only_confirmed, q.only_unconfirmed) {
                (Some(true), _) => confirmed,
                (_, Some(true)) => !confirmed,
                _ => true,
            }
        })
        .collect();
    rows.sort_by_key(|t| block_time_ms(t.block));
    if q.order_by.as_deref() != Some("block_timestamp,asc") {
        rows.reverse();
    }
    let limit = q.limit.unwrap_or(20).clamp(1, 200);
    let offset: usize = q
        .fingerprint
        .as_deref()
        .and_then(|f| f.strip_prefix("fp-"))
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    let page: Vec<Value> = rows
        .iter()
        .skip(offset)
        .take(limit)
        .map(|t| {
            json!({
                "transaction_id": t.tx_id,
                "token_info": {"symbol": t.token.symbol, "address": t.token.address, "decimals": t.token.decimals, "name": t.token.name},
                "block_timestamp": block_time_ms(t.block),
                "from": t.from,
                "to": t.to,
                "type": "Transfer",
                "value": t.value.to_string(),
            })
        })
        .collect();
    let mut meta = json!({"at": block_time_ms(head), "page_size": page.len()});
    if offset + limit < rows.len() {
        let fp = format!("fp-{}", offset + limit);
        meta["fingerprint"] = json!(fp);
        meta["links"] = json!({"next": format!("{}/v1/accounts/{address}/transactions/trc20?fingerprint={fp}", fake.base_url)});
    }
    Json(json!({"data": page, "success": true, "meta": meta})).into_response()
}

#[derive(Deserialize, Default)]
struct ValueArg {
    #[serde(default)]
    value: String,
}

fn info(fake: &FakeTronGrid, tx: &str, solidified_only: bool) -> Response {
    if tx.len() != 64 || !tx.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Json(json!({"Error": "class org.tron.core.exception.BadItemException : invalid transaction id"})).into_response();
    }
    let inner = fake.inner.lock().unwrap();
    let Some(t) = inner
        .transfers
        .iter()
        .find(|t| t.tx_id.eq_ignore_ascii_case(tx) && t.block <= inner.head)
    else {
        return Json(json!({})).into_response();
    };
    if solidified_only && inner.head - t.block < SOLIDIFIED_AFTER {
        return Json(json!({})).into_response();
    }
    let contract = tron_hex(&t.token.address).unwrap_or_default();
    let mut body = json!({
        "id": t.tx_id.to_ascii_lowercase(),
        "fee": 5_254_500,
        "blockNumber": t.block,
        "blockTimeStamp": block_time_ms(t.block),
        "contractResult": [""],
        "contract_address": contract,
    });
    match &t.failure {
        None => {
            let pad = |a: &str| format!("{:0>64}", evm_hex(a).unwrap_or_default());
            body["receipt"] = json!({"energy_fee": 4_458_500, "energy_usage_total": 44_585, "net_fee": 796_000, "result": "SUCCESS"});
            body["log"] = json!([{
                "address": contract.get(2..).unwrap_or_default(),
                "topics": [TRANSFER_TOPIC, pad(&t.from), pad(&t.to)],
                "data": format!("{:064x}", t.value),
            }]);
        }
        Some(reason) => {
            body["receipt"] = json!({"energy_usage": 32_007, "energy_fee": 13_394_430, "energy_usage_total": 95_790, "net_fee": 345_000, "result": reason});
            body["result"] = json!("FAILED");
            body["resMessage"] = json!(super::address::hex(b"Not enough energy"));
        }
    }
    Json(body).into_response()
}

async fn info_get(State(f): State<FakeTronGrid>, h: HeaderMap, Query(a): Query<ValueArg>) -> Response {
    f.seen(&h);
    info(&f, &a.value, false)
}
async fn info_post(State(f): State<FakeTronGrid>, h: HeaderMap, Json(a): Json<ValueArg>) -> Response {
    f.seen(&h);
    info(&f, &a.value, false)
}
async fn solid_info_get(State(f): State<FakeTronGrid>, h: HeaderMap, Query(a): Query<ValueArg>) -> Response {
    f.seen(&h);
    info(&f, &a.value, true)
}
async fn solid_info_post(State(f): State<FakeTronGrid>, h: HeaderMap, Json(a): Json<ValueArg>) -> Response {
    f.seen(&h);
    info(&f, &a.value, true)
}

fn block(n: u64) -> Response {
    Json(json!({
        "blockID": format!("{n:016x}{}", "0".repeat(48)),
        "block_header": {"raw_data": {"number": n, "txTrieRoot": "0", "witness_address": "41e7", "parentHash": format!("{:064x}", n.saturating_sub(1)), "version": 34, "timestamp": block_time_ms(n)}, "witness_signature": ""},
    }))
    .into_response()
}

async fn now_block(State(f): State<FakeTronGrid>, h: HeaderMap) -> Response {
    f.seen(&h);
    let head = f.head();
    block(head)
}

async fn solid_now_block(State(f): State<FakeTronGrid>, h: HeaderMap) -> Response {
    f.seen(&h);
    let head = f.head();
    block(head.saturating_sub(SOLIDIFIED_AFTER))
}
