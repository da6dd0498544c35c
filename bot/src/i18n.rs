//! Message catalogs (Fluent) in Persian and English, and how numbers, money
//! and dates are written in each.
//!
//! Persian text gets Persian digits (۰–۹), the Arabic thousands separator
//! (٬), Solar Hijri dates, and Fluent's Unicode isolation marks around every
//! placeable, so a Latin name or a card number inside right-to-left text
//! keeps its own direction. English keeps ASCII digits and no marks.
use chrono::{DateTime, Datelike, FixedOffset, Utc};
use domain::{Language, Toman};
use fluent_bundle::concurrent::FluentBundle;
use fluent_bundle::{FluentArgs, FluentResource, FluentValue};

pub const EN_FTL: &str = include_str!("../locales/en.ftl");
pub const FA_FTL: &str = include_str!("../locales/fa.ftl");

#[derive(Debug, thiserror::Error)]
#[error("message catalog `{lang}` is invalid: {detail}")]
pub struct CatalogError {
    pub lang: &'static str,
    pub detail: String,
}

pub struct Texts {
    fa: FluentBundle<FluentResource>,
    en: FluentBundle<FluentResource>,
}

impl std::fmt::Debug for Texts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Texts(fa, en)")
    }
}

fn bundle(lang: &'static str, source: &str, isolate: bool) -> Result<FluentBundle<FluentResource>, CatalogError> {
    let resource = FluentResource::try_new(source.to_string()).map_err(|(_, errors)| CatalogError {
        lang,
        detail: format!("{errors:?}"),
    })?;
    let id = lang.parse().map_err(|e| CatalogError {
        lang,
        detail: format!("{e:?}"),
    })?;
    let mut bundle = FluentBundle::new_concurrent(vec![id]);
    bundle.set_use_isolating(isolate);
    bundle.add_resource(resource).map_err(|errors| CatalogError {
        lang,
        detail: format!("{errors:?}"),
    })?;
    Ok(bundle)
}

/// Iran's time (no daylight saving since 2022), in which dates are shown.
pub fn tehran() -> FixedOffset {
    FixedOffset::east_opt(3 * 3600 + 1800).expect("valid offset")
}

impl Texts {
    pub fn new() -> Result<Texts, CatalogError> {
        Ok(Texts {
            fa: bundle("fa", FA_FTL, true)?,
            en: bundle("en", EN_FTL, false)?,
        })
    }

    fn bundle(&self, lang: Language) -> &FluentBundle<FluentResource> {
        match lang {
            Language::Fa => &self.fa,
            Language::En => &self.en,
        }
    }

    /// Whether `key` exists in `lang`'s catalog.
    pub fn has(&self, lang: Language, key: &str) -> bool {
        self.bundle(lang).has_message(key)
    }

    /// The text for `key` with `args`. A missing key or argument is a bug the
    /// catalog test catches; at run time it shows `⟦key⟧` rather than nothing.
    pub fn get(&self, lang: Language, key: &str, args: &[(&str, String)]) -> String {
        let bundle = self.bundle(lang);
        let Some(pattern) = bundle.get_message(key).and_then(|m| m.value()) else {
            tracing::error!(key, lang = lang.code(), "missing message");
            return format!("⟦{key}⟧");
        };
        let mut fluent_args = FluentArgs::new();
        for (name, value) in args {
            fluent_args.set(*name, FluentValue::from(value.clone()));
        }
        let mut errors = Vec::new();
        let text = bundle.format_pattern(pattern, Some(&fluent_args), &mut errors);
        if !errors.is_empty() {
            tracing::error!(key, lang = lang.code(), ?errors, "message formatting failed");
        }
        text.into_owned()
    }

    /// Formats `key`, returning the errors instead of logging them (for tests).
    pub fn try_get(&self, lang: Language, key: &str, args: &[(&str, String)]) -> Result<String, String> {
        let bundle = self.bundle(lang);
        let pattern = bundle
            .get_message(key)
            .and_then(|m| m.value())
            .ok_or_else(|| format!("missing {key} in {}", lang.code()))?;
        let mut fluent_args = FluentArgs::new();
        for (name, value) in args {
            fluent_args.set(*name, FluentValue::from(value.clone()));
        }
        let mut errors = Vec::new();
        let text = bundle.format_pattern(pattern, Some(&fluent_args), &mut errors);
        if errors.is_empty() {
            Ok(text.into_owned())
        } else {
            Err(format!("{key} in {}: {errors:?}", lang.code()))
        }
    }

    /// `150,000 Toman` / `۱۵۰٬۰۰۰ تومان`.
    pub fn money(&self, lang: Language, amount: Toman) -> String {
        self.get(lang, "money", &[("amount", digits(lang, &amount.to_string()))])
    }
}

/// Writes ASCII digits and separators the way `lang` reads them.
pub fn digits(lang: Language, s: &str) -> String {
    match lang {
        Language::En => s.to_string(),
        Language::Fa => s
            .chars()
            .map(|c| match c {
                '0'..='9' => char::from_u32('۰' as u32 + (c as u32 - '0' as u32)).expect("Persian digit"),
                ',' => '٬',
                '.' => '٫',
                other => other,
            })
            .collect(),
    }
}

/// Persian and Arabic-Indic digits (and separators) as ASCII, for parsing what people type.
pub fn ascii_digits(s: &str) -> String {
    s.trim()
        .chars()
        .map(|c| match c {
            '۰'..='۹' => char::from_u32('0' as u32 + (c as u32 - '۰' as u32)).expect("digit"),
            '٠'..='٩' => char::from_u32('0' as u32 + (c as u32 - '٠' as u32)).expect("digit"),
            '٬' => ',',
            '٫' => '.',
            other => other,
        })
        .collect()
}

/// A whole number with thousands separators in `lang`.
pub fn number(lang: Language, n: i64) -> String {
    let s = n.unsigned_abs().to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    if n < 0 {
        out.insert(0, '-');
    }
    digits(lang, &out)
}

/// A calendar date in Tehran: `2026-11-25` in English, `۱۴۰۵/۰۹/۰۴` (Solar Hijri) in Persian.
pub fn date(lang: Language, at: DateTime<Utc>) -> String {
    let local = at.with_timezone(&tehran()).date_naive();
    match lang {
        Language::En => local.format("%Y-%m-%d").to_string(),
        Language::Fa => {
            let (y, m, d) = jalali(local.year(), local.month(), local.day());
            digits(lang, &format!("{y}/{m:02}/{d:02}"))
        }
    }
}

/// Gregorian to Solar Hijri (the arithmetic algorithm of jdf.scr.ir, exact for 1800–2200).
pub fn jalali(gy: i32, gm: u32, gd: u32) -> (i32, u32, u32) {
    const G_D_M: [i32; 12] = [0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334];
    let gy2 = if gm > 2 { gy + 1 } else { gy };
    let mut days = 355_666 + 365 * gy + (gy2 + 3) / 4 - (gy2 + 99) / 100 + (gy2 + 399) / 400 + gd as i32 + G_D_M[gm as usize - 1];
    let mut jy = -1595 + 33 * (days / 12_053);
    days %= 12_053;
    jy += 4 * (days / 1461);
    days %= 1461;
    if days > 365 {
        jy += (days - 1) / 365;
        days = (days - 1) % 365;
    }
    let (jm, jd) = if days < 186 {
        (1 + days / 31, 1 + days % 31)
    } else {
        (7 + (days - 186) / 30, 1 + (days - 186) % 30)
    };
    (jy, jm as u32, jd as u32)
}

/// Escapes text for Telegram's HTML parse mode (names, plan titles, reasons).
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            other => out.push(other),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn nowruz_is_the_first_of_farvardin() {
        assert_eq!(jalali(2024, 3, 20), (1403, 1, 1));
        assert_eq!(jalali(2025, 3, 21), (1404, 1, 1));
        assert_eq!(jalali(2026, 3, 21), (1405, 1, 1));
        assert_eq!(jalali(2026, 11, 25), (1405, 9, 4));
    }

    #[test]
    fn persian_numbers_and_money() {
        let texts = Texts::new().unwrap();
        let t = Toman::from_int(1_250_000).unwrap();
        assert_eq!(texts.money(Language::En, t), "1,250,000 Toman");
        let fa = texts.money(Language::Fa, t);
        assert!(fa.contains("۱٬۲۵۰٬۰۰۰"), "{fa}");
        assert!(fa.contains("تومان"));
        assert!(
            fa.contains('\u{2068}') && fa.contains('\u{2069}'),
            "placeables are isolated in RTL text"
        );
        assert_eq!(number(Language::Fa, -5000), "-۵٬۰۰۰");
    }

    #[test]
    fn dates_are_shown_in_tehran() {
        // 22:00 UTC is already the next day in Tehran.
        let at = Utc.with_ymd_and_hms(2026, 11, 24, 22, 0, 0).unwrap();
        assert_eq!(date(Language::En, at), "2026-11-25");
        assert_eq!(date(Language::Fa, at), "۱۴۰۵/۰۹/۰۴");
    }

    #[test]
    fn html_is_escaped() {
        assert_eq!(esc("<b>&\"x\""), "&lt;b&gt;&amp;&quot;x&quot;");
    }
}
