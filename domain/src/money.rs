//! Toman amounts. Money is `rust_decimal`, never a float, and never negative:
//! a debit is a separate event, not a negative amount.
use std::fmt;
use std::str::FromStr;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

/// Non-negative amount in Toman, at most one decimal place (one rial).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, Default)]
#[serde(try_from = "Decimal", into = "Decimal")]
pub struct Toman(Decimal);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    #[error("amount must not be negative")]
    Negative,
    #[error("amount must be greater than zero")]
    Zero,
    #[error("amount has more precision than one rial (0.1 Toman)")]
    TooPrecise,
    #[error("amount is too large")]
    TooLarge,
    #[error("not a number: {0}")]
    NotANumber(String),
}

/// Ten thousand billion Toman: far above any real wallet, low enough that sums never overflow.
const MAX: i64 = 10_000_000_000_000;

impl Toman {
    pub const ZERO: Toman = Toman(Decimal::ZERO);

    pub fn new(value: Decimal) -> Result<Self, MoneyError> {
        if value.is_sign_negative() && !value.is_zero() {
            return Err(MoneyError::Negative);
        }
        let normalized = value.normalize();
        if normalized.scale() > 1 {
            return Err(MoneyError::TooPrecise);
        }
        if normalized > Decimal::from(MAX) {
            return Err(MoneyError::TooLarge);
        }
        Ok(Toman(normalized))
    }

    /// A price or payment amount: strictly positive.
    pub fn positive(value: Decimal) -> Result<Self, MoneyError> {
        let t = Self::new(value)?;
        if t.is_zero() {
            return Err(MoneyError::Zero);
        }
        Ok(t)
    }

    pub fn from_int(value: i64) -> Result<Self, MoneyError> {
        Self::new(Decimal::from(value))
    }

    pub fn value(self) -> Decimal {
        self.0
    }

    pub fn is_zero(self) -> bool {
        self.0.is_zero()
    }

    pub fn checked_add(self, other: Toman) -> Option<Toman> {
        Toman::new(self.0.checked_add(other.0)?).ok()
    }

    /// `None` when the result would be negative: that is how "no negative wallet" is enforced.
    pub fn checked_sub(self, other: Toman) -> Option<Toman> {
        let r = self.0.checked_sub(other.0)?;
        if r.is_sign_negative() && !r.is_zero() {
            return None;
        }
        Toman::new(r).ok()
    }
}

impl TryFrom<Decimal> for Toman {
    type Error = MoneyError;
    fn try_from(value: Decimal) -> Result<Self, Self::Error> {
        Toman::new(value)
    }
}

impl From<Toman> for Decimal {
    fn from(t: Toman) -> Decimal {
        t.0
    }
}

impl FromStr for Toman {
    type Err = MoneyError;
    /// Accepts `150000`, `150,000` and `150000.5`; Persian and Arabic-Indic digits are normalised.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let ascii: String = s
            .trim()
            .chars()
            .filter(|c| *c != ',' && *c != '٬' && *c != '_')
            .map(|c| match c {
                '۰'..='۹' => char::from(b'0' + (c as u32 - '۰' as u32) as u8),
                '٠'..='٩' => char::from(b'0' + (c as u32 - '٠' as u32) as u8),
                '٫' => '.',
                other => other,
            })
            .collect();
        let d = Decimal::from_str(&ascii).map_err(|_| MoneyError::NotANumber(s.to_string()))?;
        Toman::new(d)
    }
}

impl fmt::Display for Toman {
    /// `1,250,000` — thousands separators, as Toman are shown to people.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.0.to_string();
        let (int, frac) = match s.split_once('.') {
            Some((i, f)) => (i.to_string(), Some(f.to_string())),
            None => (s, None),
        };
        let mut out = String::new();
        for (i, ch) in int.chars().enumerate() {
            if i > 0 && (int.len() - i) % 3 == 0 {
                out.push(',');
            }
            out.push(ch);
        }
        if let Some(frac) = frac {
            out.push('.');
            out.push_str(&frac);
        }
        f.write_str(&out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    #[test]
    fn negative_amounts_are_refused() {
        assert_eq!(Toman::new(dec!(-1)), Err(MoneyError::Negative));
    }

    #[test]
    fn amounts_finer_than_a_rial_are_refused() {
        assert_eq!(Toman::new(dec!(1.25)), Err(MoneyError::TooPrecise));
        assert!(Toman::new(dec!(1.50)).is_ok());
    }

    #[test]
    fn positive_refuses_zero() {
        assert_eq!(Toman::positive(dec!(0)), Err(MoneyError::Zero));
    }

    #[test]
    fn subtraction_never_goes_negative() {
        let a = Toman::from_int(10).unwrap();
        let b = Toman::from_int(11).unwrap();
        assert_eq!(a.checked_sub(b), None);
        assert_eq!(b.checked_sub(a), Some(Toman::from_int(1).unwrap()));
    }

    #[test]
    fn parses_persian_digits_and_separators() {
        assert_eq!("۱۵۰,۰۰۰".parse::<Toman>().unwrap(), Toman::from_int(150_000).unwrap());
        assert_eq!("1,250,000".parse::<Toman>().unwrap(), Toman::from_int(1_250_000).unwrap());
        assert!("abc".parse::<Toman>().is_err());
    }

    #[test]
    fn displays_thousands_separators() {
        assert_eq!(Toman::from_int(1_250_000).unwrap().to_string(), "1,250,000");
        assert_eq!(Toman::from_int(999).unwrap().to_string(), "999");
        assert_eq!(Toman::new(dec!(1000.5)).unwrap().to_string(), "1,000.5");
    }

    #[test]
    fn serializes_as_a_string_and_refuses_negative_json() {
        let t = Toman::from_int(5000).unwrap();
        assert_eq!(serde_json::to_string(&t).unwrap(), "\"5000\"");
        assert!(serde_json::from_str::<Toman>("\"-5\"").is_err());
    }
}
