//! Generates receipt images offline for the accuracy test and `mrjbot bench
//! ocr`: Persian layouts (Jalali dates, Persian digits, rials or Toman,
//! card groups full or masked) and English ones, rendered by Tesseract's
//! `text2image` in several fonts with speckle noise, blur and a random
//! rotation. Deterministic for a seed. Needs `text2image` (package
//! tesseract-ocr) and the fonts `fonts-dejavu-core`, `fonts-noto-core` and
//! `fonts-freefont-ttf`.
use std::path::{Path, PathBuf};
use std::process::Command;

use chrono::{DateTime, Duration, FixedOffset, NaiveDate, TimeZone, Timelike, Utc};
use domain::Toman;

/// What a generated receipt says (the truth a reading is scored against).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Truth {
    pub layout: &'static str,
    pub font: &'static str,
    pub amount: Toman,
    /// As printed: 16 digits, `*` where masked.
    pub card: String,
    pub tracking: String,
    pub paid_at: DateTime<Utc>,
}

pub struct Generated {
    pub image: PathBuf,
    pub truth: Truth,
}

/// A small deterministic generator (xorshift64*), so a seed names a data set.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }
}

const BINS: [&str; 8] = ["603799", "610433", "627353", "589210", "502229", "621986", "603769", "627412"];
const PERSIAN_FONTS: [&str; 3] = ["DejaVu Sans", "Noto Sans Arabic", "FreeSerif"];
const ENGLISH_FONTS: [&str; 3] = ["DejaVu Sans", "DejaVu Serif", "FreeSans"];

fn luhn_digit(first15: &str) -> char {
    let sum: u32 = first15
        .bytes()
        .rev()
        .enumerate()
        .map(|(i, b)| {
            let d = u32::from(b - b'0');
            if i % 2 == 0 {
                let x = d * 2;
                if x > 9 {
                    x - 9
                } else {
                    x
                }
            } else {
                d
            }
        })
        .sum();
    char::from(b'0' + ((10 - sum % 10) % 10) as u8)
}

fn card_number(rng: &mut Rng) -> String {
    let mut s = BINS[rng.below(BINS.len() as u64) as usize].to_string();
    while s.len() < 15 {
        s.push(char::from(b'0' + rng.below(10) as u8));
    }
    let check = luhn_digit(&s);
    s.push(check);
    s
}

fn persian_digits(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_digit() {
                char::from_u32('۰' as u32 + (c as u32 - '0' as u32)).unwrap_or(c)
            } else {
                c
            }
        })
        .collect()
}

fn thousands(v: u64) -> String {
    let s = v.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Left-to-right isolate, as banking apps print card numbers in RTL text.
fn ltr(s: &str) -> String {
    format!("\u{2066}{s}\u{2069}")
}

/// The text of receipt `n` and its truth.
pub fn receipt_text(rng: &mut Rng, n: usize) -> (String, Truth) {
    let toman = (rng.below(200) + 1) * 5_000 + if rng.below(3) == 0 { 500 } else { 0 };
    let card = card_number(rng);
    let masked = rng.below(3) == 0;
    let shown = if masked {
        format!("{}******{}", &card[..6], &card[12..])
    } else {
        card.clone()
    };
    let groups: Vec<&str> = (0..4).map(|i| &shown[i * 4..i * 4 + 4]).collect();
    let tracking = (0..(6 + rng.below(5)))
        .map(|_| char::from(b'1' + rng.below(9) as u8))
        .collect::<String>();
    let tehran = FixedOffset::east_opt(3 * 3600 + 1800).unwrap();
    let day = NaiveDate::from_ymd_opt(2026, 1, 1).unwrap() + Duration::days(rng.below(365) as i64);
    let local = day
        .and_hms_opt(rng.below(24) as u32, rng.below(60) as u32, rng.below(60) as u32)
        .unwrap();
    let paid_at = tehran.from_local_datetime(&local).unwrap().with_timezone(&Utc);
    let (jy, jm, jd) = crate::jalali::from_gregorian(day);
    let jdate = format!("{jy}/{jm:02}/{jd:02}");
    let hms = format!("{:02}:{:02}:{:02}", local.hour(), local.minute(), local.second());
    let rials = toman * 10;
    let layout = n % 3;
    let (text, layout_name, font) = match layout {
        0 => {
            let amount_line = if rng.below(2) == 0 {
                format!("مبلغ (ریال): {}", persian_digits(&thousands(rials)))
            } else {
                format!("مبلغ: {} ریال", persian_digits(&thousands(rials)))
            };
            (
                format!(
                    "بانک ملت\nرسید انتقال کارت به کارت\n{amount_line}\nکارت مقصد: {}\nشماره پیگیری: {}\nتاریخ: {}\nساعت: {}\n",
                    ltr(&persian_digits(&groups.join("-"))),
                    persian_digits(&tracking),
                    persian_digits(&jdate),
                    persian_digits(&hms)
                ),
                "persian-rial",
                PERSIAN_FONTS[(n / 3) % PERSIAN_FONTS.len()],
            )
        }
        1 => (
            format!(
                "رسید انتقال وجه\nمبلغ: {} تومان\nبه کارت: {}\nکد رهگیری: {}\nتاریخ و ساعت: {} - {}\n",
                persian_digits(&thousands(toman)),
                ltr(&persian_digits(&groups.join(" "))),
                persian_digits(&tracking),
                persian_digits(&jdate),
                persian_digits(&hms[..5])
            ),
            "persian-toman",
            PERSIAN_FONTS[(n / 3 + 1) % PERSIAN_FONTS.len()],
        ),
        _ => (
            format!(
                "Card to Card Transfer Receipt\nAmount: {} Rials\nDestination card: {}\nTracking number: {}\nDate: {}\nTime: {}\n",
                thousands(rials),
                groups.join(" "),
                tracking,
                day.format("%Y/%m/%d"),
                hms
            ),
            "english",
            ENGLISH_FONTS[(n / 3) % ENGLISH_FONTS.len()],
        ),
    };
    let paid_at = if layout == 1 {
        paid_at - Duration::seconds(i64::from(local.second()))
    } else {
        paid_at
    };
    let truth = Truth {
        layout: layout_name,
        font,
        amount: Toman::from_int(toman as i64).expect("a small positive amount"),
        card: shown,
        tracking,
        paid_at,
    };
    (text, truth)
}

#[derive(Debug, thiserror::Error)]
pub enum SynthError {
    #[error("cannot run text2image: {0} (install tesseract-ocr and the fonts)")]
    Tool(String),
    #[error("text2image failed for receipt {0}: {1}")]
    Render(usize, String),
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// Renders `text` as `dir/<name>.tif` in `font`, with speckle noise, blur
/// and a random rotation, as a phone photo or screenshot would be degraded.
pub fn render(dir: &Path, name: &str, text: &str, font: &str, ptsize: u32, exposure: i64) -> Result<PathBuf, SynthError> {
    std::fs::create_dir_all(dir)?;
    let txt = dir.join(format!("{name}.txt"));
    std::fs::write(&txt, text)?;
    let base = dir.join(name);
    let output = Command::new("text2image")
        .current_dir(dir) // it writes a fonts.conf into the working directory
        .arg(format!("--text={}", txt.display()))
        .arg(format!("--outputbase={}", base.display()))
        .arg(format!("--font={font}"))
        .arg("--fonts_dir=/usr/share/fonts")
        .arg(format!("--fontconfig_tmpdir={}", dir.display()))
        .args(["--xsize=1500", "--ysize=1000", "--margin=80", "--leading=20"])
        .arg(format!("--ptsize={ptsize}"))
        .arg(format!("--exposure={exposure}"))
        .args(["--rotate_image=true", "--degrade_image=true", "--distort_image=true"])
        .args(["--white_noise=true", "--smooth_noise=true", "--blur=true", "--invert=false"])
        .arg("--strip_unrenderable_words=false")
        .output()
        .map_err(|e| SynthError::Tool(e.to_string()))?;
    let image = base.with_extension("tif");
    if !output.status.success() || !image.exists() {
        return Err(SynthError::Render(
            0,
            String::from_utf8_lossy(&output.stderr).chars().take(300).collect(),
        ));
    }
    Ok(image)
}

/// Renders `count` receipts into `dir` (created), with noise and rotation.
pub fn generate(dir: &Path, count: usize, seed: u64) -> Result<Vec<Generated>, SynthError> {
    std::fs::create_dir_all(dir)?;
    let mut rng = Rng::new(seed);
    let mut out = Vec::with_capacity(count);
    for n in 0..count {
        let (text, truth) = receipt_text(&mut rng, n);
        let exposure = rng.below(3) as i64 - 1;
        let ptsize = 12 + rng.below(5) as u32;
        let image = render(dir, &format!("receipt-{n:03}"), &text, truth.font, ptsize, exposure).map_err(|e| match e {
            SynthError::Render(_, why) => SynthError::Render(n, why),
            other => other,
        })?;
        out.push(Generated { image, truth });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_cards_pass_luhn_and_truths_are_deterministic() {
        let mut a = Rng::new(5);
        let mut b = Rng::new(5);
        for n in 0..30 {
            let (ta, truth) = receipt_text(&mut a, n);
            let (tb, _) = receipt_text(&mut b, n);
            assert_eq!(ta, tb);
            if !truth.card.contains('*') {
                assert!(domain::CardNumber::parse(&truth.card).is_ok(), "{}", truth.card);
            }
        }
    }

    #[test]
    fn the_parser_reads_every_layout_from_clean_text() {
        let mut rng = Rng::new(11);
        for n in 0..30 {
            let (text, truth) = receipt_text(&mut rng, n);
            let f = crate::parse::parse(&text);
            assert_eq!(f.amount, Some(truth.amount), "{text}");
            assert_eq!(f.card.as_deref(), Some(truth.card.as_str()), "{text}");
            assert_eq!(f.tracking.as_deref(), Some(truth.tracking.as_str()), "{text}");
            assert_eq!(f.paid_at(), Some(truth.paid_at), "{text}");
        }
    }
}

/// How well a reader did on generated receipts.
#[derive(Debug, Clone, Default)]
pub struct Evaluation {
    pub receipts: usize,
    /// Amount and card digits both read exactly: the headline figure.
    pub amount_and_card: usize,
    pub amount: usize,
    pub card: usize,
    pub tracking: usize,
    pub time: usize,
    /// Readings that put a wrong value (not a blank) in amount or card.
    pub wrong_values: usize,
    pub total_seconds: f64,
    pub failures: Vec<String>,
}

impl Evaluation {
    pub fn share(&self) -> f64 {
        self.amount_and_card as f64 / self.receipts.max(1) as f64
    }
    pub fn seconds_per_receipt(&self) -> f64 {
        self.total_seconds / self.receipts.max(1) as f64
    }
}

/// Reads every generated receipt with `reader` on `threads` threads and scores it.
pub fn evaluate(reader: &dyn crate::ReceiptReader, receipts: &[Generated], threads: usize) -> Evaluation {
    let next = std::sync::atomic::AtomicUsize::new(0);
    let results = std::sync::Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for _ in 0..threads.max(1) {
            s.spawn(|| loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let Some(g) = receipts.get(i) else { break };
                let started = std::time::Instant::now();
                let reading = std::fs::read(&g.image).map_err(crate::OcrError::from).and_then(|b| reader.read(&b));
                results.lock().unwrap().push((i, reading, started.elapsed().as_secs_f64()));
            });
        }
    });
    let mut e = Evaluation {
        receipts: receipts.len(),
        ..Evaluation::default()
    };
    for (i, reading, secs) in results.into_inner().unwrap() {
        let t = &receipts[i].truth;
        e.total_seconds += secs;
        let Ok(r) = reading else {
            e.failures.push(format!("#{i}: OCR error"));
            continue;
        };
        let amount_ok = r.amount == Some(t.amount);
        let card_ok = r.card.as_deref() == Some(t.card.as_str());
        e.amount += usize::from(amount_ok);
        e.card += usize::from(card_ok);
        e.tracking += usize::from(r.tracking.as_deref() == Some(t.tracking.as_str()));
        e.time += usize::from(r.paid_at == Some(t.paid_at));
        e.wrong_values += usize::from((r.amount.is_some() && !amount_ok) || (r.card.is_some() && !card_ok));
        if amount_ok && card_ok {
            e.amount_and_card += 1;
        } else {
            e.failures.push(format!(
                "#{i} {} [{}]: amount {:?} (truth {}), card {:?} (truth {})",
                t.layout,
                t.font,
                r.amount.map(|a| a.to_string()),
                t.amount,
                r.card,
                t.card
            ));
        }
    }
    e
}
