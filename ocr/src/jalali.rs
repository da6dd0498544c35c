//! Solar Hijri (Jalali) ↔ Gregorian dates, the arithmetic algorithm of
//! jdf.scr.ir used by Iranian software. Persian receipts print Jalali dates.
use chrono::NaiveDate;

/// The Gregorian date of Jalali `jy/jm/jd`, `None` when it is not a date.
pub fn to_gregorian(jy: i32, jm: u32, jd: u32) -> Option<NaiveDate> {
    if !(1..=12).contains(&jm) || jd == 0 || jd > if jm <= 6 { 31 } else { 30 } || !(1..=3000).contains(&jy) {
        return None;
    }
    let (jy, jm, jd) = (i64::from(jy) + 1595, i64::from(jm), i64::from(jd));
    let mut days =
        -355_668 + 365 * jy + (jy / 33) * 8 + ((jy % 33) + 3) / 4 + jd + if jm < 7 { (jm - 1) * 31 } else { (jm - 7) * 30 + 186 };
    let mut gy = 400 * (days / 146_097);
    days %= 146_097;
    if days > 36_524 {
        days -= 1;
        gy += 100 * (days / 36_524);
        days %= 36_524;
        if days >= 365 {
            days += 1;
        }
    }
    gy += 4 * (days / 1461);
    days %= 1461;
    if days > 365 {
        gy += (days - 1) / 365;
        days = (days - 1) % 365;
    }
    let ordinal = u32::try_from(days + 1).ok()?;
    let date = NaiveDate::from_yo_opt(i32::try_from(gy).ok()?, ordinal)?;
    // Esfand 30 exists only in leap years: reject it when it rolled over.
    (from_gregorian(date) == (i32::try_from(jy - 1595).ok()?, jm as u32, jd as u32)).then_some(date)
}

/// The Jalali `(year, month, day)` of a Gregorian date.
pub fn from_gregorian(date: NaiveDate) -> (i32, u32, u32) {
    use chrono::Datelike;
    const G_D_M: [i64; 12] = [0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334];
    let (gy, gm, gd) = (i64::from(date.year()), date.month() as usize, i64::from(date.day()));
    let gy2 = if gm > 2 { gy + 1 } else { gy };
    let mut days = 355_666 + 365 * gy + (gy2 + 3) / 4 - (gy2 + 99) / 100 + (gy2 + 399) / 400 + gd + G_D_M[gm - 1];
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
    (jy as i32, jm as u32, jd as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nowruz_falls_where_the_calendar_says() {
        assert_eq!(to_gregorian(1403, 1, 1), NaiveDate::from_ymd_opt(2024, 3, 20));
        assert_eq!(to_gregorian(1404, 1, 1), NaiveDate::from_ymd_opt(2025, 3, 21));
        assert_eq!(to_gregorian(1405, 8, 10), NaiveDate::from_ymd_opt(2026, 11, 1));
        assert_eq!(from_gregorian(NaiveDate::from_ymd_opt(2026, 11, 1).unwrap()), (1405, 8, 10));
    }

    #[test]
    fn every_day_of_a_decade_round_trips() {
        let mut d = NaiveDate::from_ymd_opt(2020, 1, 1).unwrap();
        while d < NaiveDate::from_ymd_opt(2031, 1, 1).unwrap() {
            let (y, m, day) = from_gregorian(d);
            assert_eq!(to_gregorian(y, m, day), Some(d), "{d}");
            d = d.succ_opt().unwrap();
        }
        assert_eq!(to_gregorian(1404, 7, 31), None);
        assert_eq!(to_gregorian(1404, 13, 1), None);
    }
}
