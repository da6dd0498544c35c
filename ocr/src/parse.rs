//! From recognised text to receipt fields. Labels in Persian or English find
//! the line; digits in any script are normalised; every field is validated
//! (thousands groups of three, a card's Luhn digit and Iranian BIN, a real
//! calendar date) and left empty rather than guessed when it fails.
use chrono::{DateTime, FixedOffset, NaiveDate, NaiveTime, TimeZone, Utc};
use domain::Toman;
use rust_decimal::Decimal;

/// What one text yields; fields are `None` when not found or not valid.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Fields {
    pub amount: Option<Toman>,
    pub card: Option<String>,
    pub tracking: Option<String>,
    pub date: Option<NaiveDate>,
    pub time: Option<NaiveTime>,
}

impl Fields {
    /// Fills what `self` lacks from `other`.
    pub fn merge(&mut self, other: Fields) {
        self.amount = self.amount.or(other.amount);
        self.card = self.card.take().or(other.card);
        self.tracking = self.tracking.take().or(other.tracking);
        self.date = self.date.or(other.date);
        self.time = self.time.or(other.time);
    }

    pub fn complete(&self) -> bool {
        self.amount.is_some() && self.card.is_some() && self.tracking.is_some() && self.date.is_some() && self.time.is_some()
    }

    /// Receipts show Tehran time (UTC+03:30, no daylight saving since 2022).
    pub fn paid_at(&self) -> Option<DateTime<Utc>> {
        let tehran = FixedOffset::east_opt(3 * 3600 + 1800)?;
        let local = self.date?.and_time(self.time?);
        tehran.from_local_datetime(&local).single().map(|t| t.with_timezone(&Utc))
    }
}

/// Persian (U+06F0–06F9) and Arabic-Indic (U+0660–0669) digits to ASCII,
/// Arabic separators to ASCII ones, bidi controls removed.
pub fn normalise(text: &str) -> String {
    text.chars()
        .filter_map(|c| match c {
            '۰'..='۹' => Some(char::from(b'0' + (c as u32 - '۰' as u32) as u8)),
            '٠'..='٩' => Some(char::from(b'0' + (c as u32 - '٠' as u32) as u8)),
            '٬' | '،' => Some(','),
            '٫' => Some('.'),
            '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' => None,
            other => Some(other),
        })
        .collect()
}

fn has(line: &str, labels: &[&str]) -> bool {
    let lower = line.to_lowercase();
    labels.iter().any(|l| lower.contains(l))
}

const AMOUNT: &[&str] = &["مبلغ", "amount", "sum"];
const CARD: &[&str] = &[
    "کارت مقصد",
    "به کارت",
    "شماره کارت",
    "destination card",
    "to card",
    "card number",
    "beneficiary card",
];
const TRACKING: &[&str] = &["پیگیری", "رهگیری", "شماره مرجع", "tracking", "reference", "trace"];
const DATE: &[&str] = &["تاریخ", "date"];
const TIME: &[&str] = &["ساعت", "time"];
const RIAL: &[&str] = &["ریال", "rial", "irr"];
const TOMAN: &[&str] = &["تومان", "toman", "irt"];

/// Reads every field it can from `text`.
pub fn parse(text: &str) -> Fields {
    let text = normalise(text);
    let mut f = Fields::default();
    for line in text.lines() {
        if !line.chars().any(|c| c.is_ascii_digit()) {
            continue;
        }
        if f.amount.is_none() && has(line, AMOUNT) {
            f.amount = amount(line);
        }
        if f.card.is_none() && has(line, CARD) {
            f.card = card(line);
        }
        if f.tracking.is_none() && has(line, TRACKING) {
            f.tracking = tracking(line);
        }
        if f.date.is_none() && has(line, DATE) {
            f.date = date(line);
        }
        if f.time.is_none() && (has(line, TIME) || has(line, DATE)) {
            f.time = time(line);
        }
    }
    f
}

/// Runs of digits and separators, in the order they appear.
fn numbers(line: &str, separators: &[char]) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    for c in line.chars() {
        if c.is_ascii_digit() || (!cur.is_empty() && separators.contains(&c)) {
            cur.push(c);
        } else if !cur.is_empty() {
            out.push(std::mem::take(&mut cur));
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out.into_iter()
        .map(|s| s.trim_end_matches(separators).to_string())
        .filter(|s| !s.is_empty())
        .collect()
}

/// `1,500,000 ریال` → 150,000 Toman. Groups after a separator must be three
/// digits, or the reading is refused (OCR drops Persian zeros).
fn amount(line: &str) -> Option<Toman> {
    let found = numbers(line, &[',', '.']);
    // Two numbers on the amount line: OCR split or invented one; no guess.
    if found.len() != 1 {
        return None;
    }
    let best = found
        .into_iter()
        .filter(|n| {
            let groups: Vec<&str> = n.split([',', '.']).collect();
            groups.len() == 1 || (groups[0].len() <= 3 && groups[1..].iter().all(|g| g.len() == 3))
        })
        .map(|n| n.replace([',', '.'], ""))
        .filter(|n| n.len() >= 3 && n.len() <= 13)
        .max_by_key(String::len)?;
    let value: Decimal = best.parse().ok()?;
    // A unit in the line or the label; banks print rials when they say nothing.
    let value = if has(line, TOMAN) && !has(line, RIAL) {
        value
    } else {
        value / Decimal::TEN
    };
    Toman::positive(value).ok()
}

/// Issuer prefixes (BINs) of Iranian bank cards (Shetab), from the banks'
/// published lists. A reading is trusted only when it starts with one.
pub const IRANIAN_BINS: &[&str] = &[
    "603799", "589210", "627648", "627961", "603770", "628023", "627760", "502908", "627412", "622106", "627884", "639194", "502229",
    "639347", "627488", "502910", "621986", "639346", "639607", "502806", "504706", "603769", "610433", "991975", "627353", "585983",
    "589463", "627381", "505785", "636214", "636795", "636949", "504172", "505416", "505801", "606373", "507677", "606256", "585947",
    "628157", "639217", "639370", "639599", "627593", "639346", "502938",
];

fn known_bin(s: &str) -> bool {
    s.len() >= 6 && IRANIAN_BINS.contains(&&s[..6])
}

/// Every rotation of `s` (right-to-left lines can come back with the card's
/// groups reversed or cut and wrapped around).
fn rotations(s: &str) -> impl Iterator<Item = String> + '_ {
    (0..s.len()).map(move |i| format!("{}{}", &s[i..], &s[..i]))
}

/// The card's 16 characters (digits, `*` where masked). Right-to-left lines
/// come back with the groups reversed or rotated, and OCR drops the `*` of a
/// masked card: every order of what was read is tried, and a reading counts
/// only when exactly one order starts with an Iranian BIN (and, for a full
/// number, has a valid check digit).
fn card(line: &str) -> Option<String> {
    let groups: Vec<&str> = line.split(|c: char| !c.is_ascii_digit()).filter(|g| !g.is_empty()).collect();
    let as_read: String = groups.concat();
    let reversed: String = groups.iter().rev().copied().collect();
    let valid = |c: &String| match c.len() {
        16 => known_bin(c) && domain::CardNumber::parse(c).is_ok(),
        // Masked: the first six and the last four survive.
        10 => known_bin(c),
        _ => false,
    };
    let show = |c: String| {
        if c.len() == 10 {
            format!("{}******{}", &c[..6], &c[6..])
        } else {
            c
        }
    };
    // As read, then with the groups reversed; only then any rotation, and
    // then only if exactly one rotation fits.
    if let Some(c) = [as_read.clone(), reversed.clone()].into_iter().find(|c| valid(c)) {
        return Some(show(c));
    }
    let mut found: Vec<String> = rotations(&as_read).chain(rotations(&reversed)).filter(|c| valid(c)).collect();
    found.sort();
    found.dedup();
    match found.len() {
        1 => found.pop().map(show),
        _ => None,
    }
}

fn tracking(line: &str) -> Option<String> {
    numbers(line, &[])
        .into_iter()
        .filter(|n| (6..=20).contains(&n.len()))
        .max_by_key(String::len)
}

/// `1405/08/10` (Jalali) or `2026/11/01`, `2026-11-01` (Gregorian).
fn date(line: &str) -> Option<NaiveDate> {
    for token in numbers(line, &['/', '-']) {
        let parts: Vec<&str> = token.split(['/', '-']).collect();
        if parts.len() != 3 {
            continue;
        }
        let (Ok(y), Ok(m), Ok(d)) = (parts[0].parse::<i32>(), parts[1].parse::<u32>(), parts[2].parse::<u32>()) else {
            continue;
        };
        // Read right to left, a date can come back as day/month/year.
        let (y, d) = if y < 100 && d > 1000 { (d as i32, y as u32) } else { (y, d) };
        let date = match y {
            1300..=1499 => crate::jalali::to_gregorian(y, m, d),
            2000..=2099 => NaiveDate::from_ymd_opt(y, m, d),
            _ => None,
        };
        if date.is_some() {
            return date;
        }
    }
    None
}

fn time(line: &str) -> Option<NaiveTime> {
    for token in numbers(line, &[':']) {
        let parts: Vec<u32> = token.split(':').filter_map(|p| p.parse().ok()).collect();
        let t = match parts.as_slice() {
            [h, m] => NaiveTime::from_hms_opt(*h, *m, 0),
            [h, m, s] => NaiveTime::from_hms_opt(*h, *m, *s),
            _ => None,
        };
        if t.is_some() {
            return t;
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toman(v: i64) -> Toman {
        Toman::from_int(v).unwrap()
    }

    #[test]
    fn reads_a_persian_receipt_in_persian_digits() {
        let text = "رسید انتقال کارت به کارت\nمبلغ: ۱,۵۰۰,۰۰۰ ریال\nکارت مقصد: ۹۹۹۳-۹۹۹۹-۹۹۷۵-۶۰۳۷\nشماره پیگیری: ۸۴۵۲۱۳۷۷\nتاریخ: ۱۴۰۵/۰۸/۱۰\nساعت: ۱۴:۳۲:۱۰";
        let f = parse(text);
        assert_eq!(f.amount, Some(toman(150_000)));
        assert_eq!(f.card.as_deref(), Some("6037997599999993"), "groups reversed by bidi are put back");
        assert_eq!(f.tracking.as_deref(), Some("84521377"));
        assert_eq!(f.date, NaiveDate::from_ymd_opt(2026, 11, 1));
        assert_eq!(f.paid_at().unwrap().to_rfc3339(), "2026-11-01T11:02:10+00:00");
    }

    #[test]
    fn reads_arabic_indic_digits_toman_and_masked_cards() {
        let f = parse("مبلغ: ٢٣٠٬٥٠٠ تومان\nبه کارت: ٦٠٣٧-٩٩**-****-٩٩٩٣\nکد رهگیری: ٣٦٨٤١٧٠٩");
        assert_eq!(f.amount, Some(toman(230_500)));
        assert_eq!(f.card.as_deref(), Some("603799******9993"));
        assert_eq!(f.tracking.as_deref(), Some("36841709"));
    }

    #[test]
    fn puts_rotated_groups_and_dropped_asterisks_back_in_order() {
        // Groups reversed: both orders pass Luhn, only one starts with a BIN.
        assert_eq!(card("5790 4537 9952 6037").as_deref(), Some("6037995245375790"));
        // Cut and wrapped around.
        assert_eq!(
            card(
                "۴۱۴-۲۳۳۲ ۶۲۷۴-۱۲۲۵-۴"
                    .chars()
                    .map(|c| normalise(&c.to_string()))
                    .collect::<String>()
                    .as_str()
            )
            .as_deref(),
            Some("6274122544142332")
        );
        // A masked card whose asterisks OCR dropped.
        assert_eq!(card("1758 53 6273").as_deref(), Some("627353******1758"));
        assert_eq!(card("5766--6037-99").as_deref(), Some("603799******5766"));
    }

    #[test]
    fn reads_an_english_receipt() {
        let f = parse(
            "Amount: 150,000 Toman\nDestination card: 6037 9975 9999 9993\nTracking number: 84521377\nDate: 2026/11/01\nTime: 14:32:10",
        );
        assert_eq!(f.amount, Some(toman(150_000)));
        assert_eq!(f.card.as_deref(), Some("6037997599999993"));
        assert!(f.complete());
    }

    #[test]
    fn refuses_what_ocr_mangled_instead_of_guessing() {
        // Zeros lost: groups that are not three digits long.
        assert_eq!(parse("مبلغ: ۱,۰,۰ ریال").amount, None);
        // A card with a wrong check digit in every order.
        assert_eq!(parse("کارت مقصد: 6037 9975 9999 9994").card, None);
        // Two numbers on the amount line.
        assert_eq!(parse("مبلغ: ۰-۰۰ ۱۳,۱۷۰ ریال").amount, None);
        // Not a date.
        assert_eq!(parse("تاریخ: ۱۴۰۵/۱۳/۴۰").date, None);
        assert_eq!(parse("no labels 123456").tracking, None);
    }
}
