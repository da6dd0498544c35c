//! Reading card-to-card receipts: amount, date and time, tracking number and
//! the destination card's digits (Persian, Arabic-Indic or Latin digits).
//!
//! [`ReceiptReader`] is the engine seam; [`TesseractReader`] runs the
//! distribution's `tesseract` (Persian and English data from Debian's
//! packages, nothing downloaded at run time) in a child process, off the async
//! threads. [`ReceiptFiles`] turns a receipt reference into bytes (Telegram's
//! getFile, or a local directory). [`OcrWorker`] reads receipts as they are
//! submitted and attaches the reading to the payment; [`synth`] renders
//! receipt images with `text2image` for the accuracy test and bench.
#![forbid(unsafe_code)]

mod files;
pub mod jalali;
pub mod parse;
pub mod synth;
mod tesseract;
mod worker;

use std::sync::Arc;

use domain::payment::ReceiptReading;

pub use files::{FileError, LocalFiles, ReceiptFiles, TelegramFiles};
pub use tesseract::TesseractReader;
pub use worker::{OcrSettings, OcrWorker, OCR_CHECKPOINT};

#[derive(Debug, thiserror::Error)]
pub enum OcrError {
    #[error("OCR engine failed: {0}")]
    Engine(String),
    #[error("OCR took longer than {0:?}")]
    Timeout(std::time::Duration),
    #[error("I/O: {0}")]
    Io(#[from] std::io::Error),
}

/// An OCR engine for receipts. Blocking: call it through [`read_off_thread`].
pub trait ReceiptReader: Send + Sync {
    fn read(&self, image: &[u8]) -> Result<ReceiptReading, OcrError>;
}

/// Runs `reader` on tokio's blocking pool, so OCR never stalls async tasks.
pub async fn read_off_thread(reader: Arc<dyn ReceiptReader>, image: Vec<u8>) -> Result<ReceiptReading, OcrError> {
    tokio::task::spawn_blocking(move || reader.read(&image))
        .await
        .map_err(|e| OcrError::Engine(format!("OCR task panicked: {e}")))?
}
