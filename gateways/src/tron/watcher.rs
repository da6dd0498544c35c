//! Polls TronGrid for TRC20 transfers to the operator's address and hands
//! each one that carries a pending payment's unique amount to the domain,
//! with the chain's facts: the token contract, the execution receipt
//! (SUCCESS and a Transfer log to us for that value), the block and its
//! confirmations. The Payment aggregate decides; the transaction hash is
//! claimed first, so it pays once. Transfers that match no payment are
//! recorded on the hash's own stream. Offers past their deadline expire.
use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use commands::{CommandError, Commands, GatewayOutcome};
use domain::payment::{RefusalReason, TronTransfer};
use domain::reference::ReferenceKind;
use rust_decimal::Decimal;
use uuid::Uuid;
use workers::Shutdown;

use super::address::{evm_hex, tron_hex};
use super::client::{TransactionInfo, Trc20Transfer, TronClient, TronError};
use super::TRANSFER_TOPIC;

#[derive(Debug, thiserror::Error)]
pub enum WatchError {
    #[error(transparent)]
    Tron(#[from] TronError),
    #[error(transparent)]
    Command(#[from] CommandError),
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
}

/// What one poll did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WatchReport {
    pub transfers_seen: usize,
    pub approved: usize,
    pub refused: usize,
    pub waiting: usize,
    pub unmatched: usize,
    pub expired: usize,
}

pub struct UsdtWatcher {
    pub client: TronClient,
    pub commands: Commands,
    /// The operator's receiving address (base58).
    pub address: String,
    /// How long after an offer's deadline a transfer inside the deadline
    /// may still be confirming before the offer is failed.
    pub expiry_grace: chrono::Duration,
    pub interval: Duration,
}

/// Whether the receipt proves a successful transfer of `value` base units
/// of `token` to `to`; otherwise the chain's reason.
pub fn executed(info: &TransactionInfo, token: &str, to: &str, value: u128) -> Result<(), String> {
    let receipt = info.receipt.result.as_deref().unwrap_or("none");
    if receipt != "SUCCESS" || info.result.as_deref().is_some_and(|r| r != "SUCCESS") {
        return Err(format!("receipt {receipt}, result {}", info.result.as_deref().unwrap_or("none")));
    }
    let (Ok(token_hex), Ok(token_evm), Ok(to_evm)) = (tron_hex(token), evm_hex(token), evm_hex(to)) else {
        return Err("unparseable address".into());
    };
    if !info.contract_address.eq_ignore_ascii_case(&token_hex) {
        return Err(format!("called contract {} is not the token {token}", info.contract_address));
    }
    let logged = info.log.iter().any(|l| {
        l.address.eq_ignore_ascii_case(&token_evm)
            && l.topics.first().is_some_and(|t| t.eq_ignore_ascii_case(TRANSFER_TOPIC))
            && l.topics.get(2).is_some_and(|t| t.to_ascii_lowercase().ends_with(&to_evm))
            && u128::from_str_radix(l.data.trim_start_matches("0x"), 16).ok() == Some(value)
    });
    if logged {
        Ok(())
    } else {
        Err("no Transfer log to this address for this value".into())
    }
}

fn millis(ms: i64) -> DateTime<Utc> {
    Utc.timestamp_millis_opt(ms).single().unwrap_or_default()
}

impl UsdtWatcher {
    /// One poll: every transfer to our address since the oldest pending offer.
    #[tracing::instrument(skip(self))]
    pub async fn step(&self, now: DateTime<Utc>) -> Result<WatchReport, WatchError> {
        let mut report = WatchReport::default();
        let pending: Vec<(Uuid, DateTime<Utc>, DateTime<Utc>)> = sqlx::query_as(
            "SELECT payment_id, created_at, expires_at FROM gateway_payments \
             WHERE method = 'usdt_trc20' AND status = 'pending' ORDER BY created_at",
        )
        .fetch_all(&self.commands.pool)
        .await?;
        let Some(oldest) = pending.first().map(|p| p.1) else {
            return Ok(report);
        };
        // A margin for clock skew between us and the chain.
        let since = (oldest - chrono::Duration::minutes(5)).timestamp_millis();
        let transfers = self.client.incoming_transfers(&self.address, since).await?;
        if !transfers.is_empty() {
            let head = self.client.now_block().await?;
            for t in transfers.iter().filter(|t| t.kind == "Transfer" && t.to == self.address) {
                report.transfers_seen += 1;
                self.consider(t, head, now, &mut report).await?;
            }
        }
        for (payment, _, expires_at) in pending {
            if expires_at + self.expiry_grace < now
                && self.commands.payment(payment).await?.status == domain::payment::PaymentStatus::AwaitingGateway
            {
                self.commands
                    .fail_gateway_payment(payment, format!("no matching transfer before {expires_at}"), now)
                    .await?;
                report.expired += 1;
            }
        }
        Ok(report)
    }

    async fn consider(&self, t: &Trc20Transfer, head: u64, now: DateTime<Utc>, report: &mut WatchReport) -> Result<(), WatchError> {
        let hash = t.transaction_id.to_ascii_lowercase();
        if let Some(p) = self.commands.reference_holder(ReferenceKind::TronTransaction, &hash).await? {
            if self.commands.payment(p).await?.status != domain::payment::PaymentStatus::AwaitingGateway {
                return Ok(()); // settled or refused for good earlier
            }
        }
        let Ok(value) = u128::from_str(&t.value) else {
            return Ok(());
        };
        let amount = i128::try_from(value)
            .ok()
            .and_then(|v| Decimal::try_from_i128_with_scale(v, t.token_info.decimals).ok())
            .map(|d| d.normalize());
        let Some(amount) = amount else { return Ok(()) };
        let Some(payment) = self.commands.usdt_payment_for_amount(amount).await? else {
            let reason = if t.token_info.address != self.usdt_contract_of_pending().await? {
                RefusalReason::WrongToken
            } else {
                RefusalReason::WrongAmount
            };
            self.commands
                .record_unmatched_reference(
                    ReferenceKind::TronTransaction,
                    &hash,
                    reason,
                    format!(
                        "{amount} {} ({}) from {} matches no pending payment",
                        t.token_info.symbol, t.token_info.address, t.from
                    ),
                    now,
                )
                .await?;
            report.unmatched += 1;
            return Ok(());
        };
        let Some(info) = self.client.transaction_info(&hash).await? else {
            report.waiting += 1; // not on chain yet
            return Ok(());
        };
        let executed = executed(&info, &t.token_info.address, &self.address, value);
        let transfer = TronTransfer {
            tx_hash: hash,
            contract: t.token_info.address.clone(),
            from: t.from.clone(),
            to: t.to.clone(),
            amount,
            block: info.block_number,
            block_time: millis(info.block_timestamp),
            confirmations: head.saturating_sub(info.block_number),
            succeeded: executed.is_ok(),
            failure: executed.err(),
        };
        match self.commands.confirm_tron_transfer(payment, transfer, now).await? {
            GatewayOutcome::Approved => report.approved += 1,
            GatewayOutcome::Refused(_) => report.refused += 1,
            GatewayOutcome::Pending(_) => report.waiting += 1,
        }
        Ok(())
    }

    /// The USDT contract pending offers ask for (all offers share the configured one).
    async fn usdt_contract_of_pending(&self) -> Result<String, WatchError> {
        Ok(sqlx::query_scalar::<_, String>(
            "SELECT usdt_contract FROM gateway_payments WHERE method = 'usdt_trc20' ORDER BY created_at DESC LIMIT 1",
        )
        .fetch_optional(&self.commands.pool)
        .await?
        .unwrap_or_default())
    }

    pub async fn run_until_stopped(self, mut shutdown: Shutdown) {
        loop {
            match self.step(Utc::now()).await {
                Ok(r) if r != WatchReport::default() => tracing::info!(report = ?r, "USDT watcher"),
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "USDT watcher step failed"),
            }
            tokio::select! {
                _ = tokio::time::sleep(self.interval) => {},
                _ = shutdown.stopped() => return,
            }
        }
    }
}
