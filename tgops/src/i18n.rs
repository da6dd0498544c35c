//! Numbers, money and dates the way each language reads them, and HTML escaping.
use chrono::{DateTime, Datelike, FixedOffset, Utc};
use domain::{Language, Toman};

/// Iran Standard Time (no daylight saving since 2022).
pub fn tehran() -> FixedOffset {
    FixedOffset::east_opt(3 * 3600 + 1800).expect("valid offset")
}

/// ASCII digits and separators written the way `lang` reads them.
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

/// A whole number with thousands separators.
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

/// `1,250,000 Toman` / `۱٬۲۵۰٬۰۰۰ تومان`.
pub fn money(lang: Language, amount: Toman) -> String {
    let n = digits(lang, &amount.to_string());
    match lang {
        Language::En => format!("{n} Toman"),
        // First-strong isolation keeps the number whole inside right-to-left text.
        Language::Fa => format!("\u{2068}{n}\u{2069} تومان"),
    }
}

/// The calendar date in Tehran: Gregorian in English, Solar Hijri in Persian.
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

/// Date and time (minutes) in Tehran.
pub fn date_time(lang: Language, at: DateTime<Utc>) -> String {
    let local = at.with_timezone(&tehran());
    format!("{} {}", date(lang, at), digits(lang, &local.format("%H:%M").to_string()))
}

/// A duration in seconds as `1h 05m`, `3m 20s`, `45s`.
pub fn duration(lang: Language, secs: i64) -> String {
    let secs = secs.max(0);
    let (h, m, s) = (secs / 3600, (secs % 3600) / 60, secs % 60);
    let (hu, mu, su) = match lang {
        Language::En => ("h", "m", "s"),
        Language::Fa => (" ساعت", " دقیقه", " ثانیه"),
    };
    let text = if h > 0 {
        format!("{h}{hu} {m:02}{mu}")
    } else if m > 0 {
        format!("{m}{mu} {s:02}{su}")
    } else {
        format!("{s}{su}")
    };
    digits(lang, &text)
}

/// Gregorian to Solar Hijri (the arithmetic algorithm published by jdf.scr.ir).
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

/// Escapes text for Telegram's HTML parse mode.
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
        assert_eq!(jalali(2026, 11, 25), (1405, 9, 4));
    }

    #[test]
    fn numbers_money_and_dates_read_right_in_both_languages() {
        let t = Toman::from_int(1_250_000).unwrap();
        assert_eq!(money(Language::En, t), "1,250,000 Toman");
        assert!(money(Language::Fa, t).contains("۱٬۲۵۰٬۰۰۰"));
        assert_eq!(number(Language::Fa, -5000), "-۵٬۰۰۰");
        let at = Utc.with_ymd_and_hms(2026, 11, 25, 20, 0, 0).unwrap();
        // 20:00 UTC is 23:30 in Tehran, still the 25th.
        assert_eq!(date(Language::En, at), "2026-11-25");
        assert_eq!(date(Language::Fa, at), "۱۴۰۵/۰۹/۰۴");
        assert_eq!(duration(Language::En, 3_900), "1h 05m");
        assert_eq!(duration(Language::En, 200), "3m 20s");
        assert_eq!(esc("<b>&"), "&lt;b&gt;&amp;");
    }
}
