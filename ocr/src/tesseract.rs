//! Tesseract through its command-line program rather than the C API: no
//! bindgen or libclang at build time, a crash in Leptonica cannot take the
//! server down, and a stuck run is killed on a timeout. The price is one
//! process start and model load per pass (~0.1 s next to ~0.5 s of
//! recognition). Several passes (Persian, English, other page-segmentation
//! modes) run until every field is found; each field comes from the first
//! pass where it parsed and validated.
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use domain::payment::ReceiptReading;

use crate::parse::{parse, Fields};
use crate::{OcrError, ReceiptReader};

const PERSIAN_LABELS: [&str; 4] = ["مبلغ", "کارت", "تاریخ", "پیگیری"];

#[derive(Debug, Clone)]
pub struct TesseractReader {
    pub binary: PathBuf,
    /// (language, page segmentation mode), tried in order.
    pub passes: Vec<(String, u8)>,
    pub timeout: Duration,
    version: String,
}

impl TesseractReader {
    /// Finds `tesseract` (on PATH unless `binary` is given) and checks that
    /// the Persian and English language data are installed.
    pub fn new(binary: Option<PathBuf>) -> Result<TesseractReader, OcrError> {
        let binary = binary.unwrap_or_else(|| PathBuf::from("tesseract"));
        let out = Command::new(&binary)
            .arg("--list-langs")
            .output()
            .map_err(|e| OcrError::Engine(format!("cannot run {}: {e} (install tesseract-ocr)", binary.display())))?;
        let langs = String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
        for lang in ["fas", "eng"] {
            if !langs.lines().any(|l| l.trim() == lang) {
                return Err(OcrError::Engine(format!(
                    "tesseract has no `{lang}` data (install tesseract-ocr-{lang})"
                )));
            }
        }
        let version = Command::new(&binary)
            .arg("--version")
            .output()
            .ok()
            .and_then(|o| String::from_utf8_lossy(&o.stdout).lines().next().map(str::to_string))
            .unwrap_or_else(|| "tesseract".into());
        Ok(TesseractReader {
            binary,
            passes: vec![
                ("fas".into(), 6),
                ("fas".into(), 11),
                ("fas".into(), 4),
                ("eng".into(), 6),
                ("eng".into(), 11),
            ],
            timeout: Duration::from_secs(30),
            version,
        })
    }

    fn run(&self, image: &std::path::Path, out_base: &std::path::Path, lang: &str, psm: u8, deadline: Instant) -> Result<String, OcrError> {
        let mut child = Command::new(&self.binary)
            .arg(image)
            .arg(out_base)
            .args(["-l", lang, "--psm", &psm.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| OcrError::Engine(e.to_string()))?;
        loop {
            if let Some(status) = child.try_wait()? {
                if !status.success() {
                    return Err(OcrError::Engine(format!("tesseract exited with {status}")));
                }
                break;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                return Err(OcrError::Timeout(self.timeout));
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let txt = out_base.with_extension("txt");
        let text = std::fs::read_to_string(&txt)?;
        let _ = std::fs::remove_file(txt);
        Ok(text)
    }
}

impl ReceiptReader for TesseractReader {
    fn read(&self, image: &[u8]) -> Result<ReceiptReading, OcrError> {
        let dir = std::env::temp_dir().join(format!("mrjbot-ocr-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir)?;
        let path = dir.join("receipt");
        std::fs::write(&path, image)?;
        let deadline = Instant::now() + self.timeout;
        let mut fields = Fields::default();
        let mut texts = Vec::new();
        let mut result = Ok(());
        let mut passes = self.passes.clone();
        let mut first = true;
        while !passes.is_empty() {
            let (lang, psm) = passes.remove(0);
            match self.run(&path, &dir.join("out"), &lang, psm, deadline) {
                Ok(text) => {
                    // After the first (Persian) pass, an English receipt has
                    // shown no Persian label: try the English passes next.
                    if first && !PERSIAN_LABELS.iter().any(|l| text.contains(l)) {
                        passes.sort_by_key(|(l, _)| l != "eng");
                    }
                    first = false;
                    fields.merge(parse(&text));
                    texts.push(text);
                }
                Err(e) => {
                    result = Err(e);
                    break;
                }
            }
            if fields.complete() {
                break;
            }
        }
        let _ = std::fs::remove_dir_all(&dir);
        if texts.is_empty() {
            result?;
        }
        Ok(ReceiptReading {
            amount: fields.amount,
            card: fields.card.clone(),
            tracking: fields.tracking.clone(),
            paid_at: fields.paid_at(),
            engine: self.version.clone(),
            text: texts.join("\n---\n").chars().take(2000).collect(),
        })
    }
}
