//! USDT-TRC20 on TRON through a TronGrid-compatible API
//! (`../shared/payment-apis.md`, part 2).
pub mod address;
mod client;
pub mod fake;
mod watcher;

pub use client::{TransactionInfo, Trc20Transfer, TronClient, TronConfig, TronError};
pub use watcher::{UsdtWatcher, WatchReport};

/// USDT's contract on TRON mainnet.
pub const USDT_MAINNET: &str = "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t";
/// keccak256("Transfer(address,address,uint256)").
pub const TRANSFER_TOPIC: &str = "ddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef";
