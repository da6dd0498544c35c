//! Reads receipts as they are submitted: a consumer of the event feed that,
//! for each `ReceiptSubmitted`, fetches the image, runs the reader off the
//! async threads and records the reading on the payment (with its flags).
//! When the operator enabled auto-approval, a reading without a single flag
//! approves the payment; the domain refuses anything less.
use std::sync::Arc;

use async_trait::async_trait;
use chrono::Utc;
use commands::{CommandError, Commands};
use domain::payment::{PaymentError, PaymentEvent, PaymentMethod};
use domain::AnyEvent;
use eventstore::StoredEvent;
use uuid::Uuid;
use workers::{Consumer, FeedError};

use crate::{read_off_thread, ReceiptFiles, ReceiptReader};

pub const OCR_CHECKPOINT: &str = "ocr_receipts";

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OcrSettings {
    /// Approve exact matches without an admin (off unless the operator says so).
    pub auto_approve: bool,
}

pub struct OcrWorker {
    pub commands: Commands,
    pub reader: Arc<dyn ReceiptReader>,
    pub files: Arc<dyn ReceiptFiles>,
    pub settings: OcrSettings,
}

impl OcrWorker {
    /// Reads one receipt and records it. Skips quietly what no longer needs
    /// reading (a newer receipt, a decided payment); an unreadable file is
    /// logged and skipped so one bad upload cannot stop the queue.
    pub async fn read_receipt(&self, payment: Uuid, file: &str) -> Result<(), CommandError> {
        let p = self.commands.payment(payment).await?;
        let current = p.receipt.as_deref() == Some(file) && matches!(p.method, Some(PaymentMethod::CardToCard { .. }));
        // Not the current receipt, or read already (a redelivered event): nothing to do.
        if !current || p.reading_flags.is_some() {
            return Ok(());
        }
        let bytes = match self.files.fetch(file).await {
            Ok(b) => b,
            Err(e) => {
                tracing::warn!(%payment, error = %e, "receipt file unavailable; not read");
                return Ok(());
            }
        };
        let reading = match read_off_thread(self.reader.clone(), bytes).await {
            Ok(r) => r,
            Err(e) => {
                tracing::warn!(%payment, error = %e, "OCR failed; the admin reads this receipt");
                return Ok(());
            }
        };
        let flags = match self.commands.record_receipt_reading(payment, file, reading, Utc::now()).await {
            Ok(flags) => flags,
            Err(CommandError::Payment(PaymentError::AlreadyDecided(_) | PaymentError::StaleReceipt(_))) => return Ok(()),
            Err(e) => return Err(e),
        };
        tracing::info!(%payment, flags = flags.len(), "receipt read");
        if self.settings.auto_approve && flags.is_empty() {
            match self.commands.auto_approve_receipt(payment, Utc::now()).await {
                Ok(()) => tracing::info!(%payment, "receipt matched exactly; approved automatically"),
                Err(CommandError::Payment(e)) => tracing::info!(%payment, reason = %e, "not auto-approved"),
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }
}

#[async_trait]
impl Consumer for OcrWorker {
    fn name(&self) -> String {
        OCR_CHECKPOINT.to_string()
    }
    async fn checkpoint(&self) -> Result<i64, FeedError> {
        Ok(eventstore::checkpoint(&self.commands.pool, OCR_CHECKPOINT).await?)
    }
    async fn handle(&self, events: &[StoredEvent]) -> Result<i64, FeedError> {
        let start = self.checkpoint().await?;
        let mut done = start;
        for event in events.iter().filter(|e| e.position > start) {
            if event.aggregate_type == "Payment" && event.event_type == "ReceiptSubmitted" {
                if let Ok(AnyEvent::Payment(PaymentEvent::ReceiptSubmitted { file, .. })) =
                    AnyEvent::decode(&event.aggregate_type, &event.payload)
                {
                    let payment = Uuid::parse_str(&event.aggregate_id).map_err(|e| FeedError::Malformed(e.to_string()))?;
                    self.read_receipt(payment, &file).await?;
                }
            }
            done = event.position;
        }
        let mut tx = self.commands.pool.begin().await?;
        eventstore::lock_checkpoint(&mut tx, OCR_CHECKPOINT).await?;
        eventstore::set_checkpoint(&mut tx, OCR_CHECKPOINT, done).await?;
        tx.commit().await?;
        Ok(done)
    }
}
