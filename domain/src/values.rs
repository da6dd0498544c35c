//! Value types parsed at the edge; after parsing they are valid by construction.
use std::fmt;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ValueError {
    #[error("a card number has 16 digits and a valid check digit")]
    InvalidCardNumber,
    #[error("a location name is 1 to 64 characters")]
    InvalidLocation,
    #[error("language must be `fa` or `en`")]
    InvalidLanguage,
    #[error("a Telegram id is a positive number")]
    InvalidTelegramId,
}

/// A customer is identified by their Telegram user id, which Telegram guarantees unique.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct CustomerId(pub i64);

impl CustomerId {
    pub fn parse(s: &str) -> Result<Self, ValueError> {
        match s.trim().parse::<i64>() {
            Ok(v) if v > 0 => Ok(CustomerId(v)),
            _ => Err(ValueError::InvalidTelegramId),
        }
    }
}

impl fmt::Display for CustomerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Language {
    #[default]
    Fa,
    En,
}

impl Language {
    pub fn parse(s: &str) -> Result<Self, ValueError> {
        match s.trim().to_ascii_lowercase().as_str() {
            "fa" => Ok(Language::Fa),
            "en" => Ok(Language::En),
            _ => Err(ValueError::InvalidLanguage),
        }
    }
    pub fn code(self) -> &'static str {
        match self {
            Language::Fa => "fa",
            Language::En => "en",
        }
    }
}

/// Where a subscription is hosted, e.g. `France`. Compared case-insensitively.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Location(String);

impl Location {
    pub fn parse(s: &str) -> Result<Self, ValueError> {
        let t = s.trim();
        if t.is_empty() || t.chars().count() > 64 || t.chars().any(char::is_control) {
            return Err(ValueError::InvalidLocation);
        }
        Ok(Location(t.to_string()))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
    pub fn same_as(&self, other: &Location) -> bool {
        self.0.eq_ignore_ascii_case(&other.0)
    }
}

impl TryFrom<String> for Location {
    type Error = ValueError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Location::parse(&s)
    }
}
impl From<Location> for String {
    fn from(l: Location) -> String {
        l.0
    }
}
impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A 16-digit Iranian (Shetab) bank card number; these carry a Luhn check digit.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct CardNumber(String);

impl CardNumber {
    /// Accepts spaces and dashes and Persian/Arabic-Indic digits, as people type them.
    pub fn parse(s: &str) -> Result<Self, ValueError> {
        let mut digits = String::with_capacity(16);
        for c in s.chars() {
            match c {
                '0'..='9' => digits.push(c),
                '۰'..='۹' => digits.push(char::from(b'0' + (c as u32 - '۰' as u32) as u8)),
                '٠'..='٩' => digits.push(char::from(b'0' + (c as u32 - '٠' as u32) as u8)),
                ' ' | '-' => {}
                _ => return Err(ValueError::InvalidCardNumber),
            }
        }
        if digits.len() != 16 || !luhn(&digits) {
            return Err(ValueError::InvalidCardNumber);
        }
        Ok(CardNumber(digits))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
    /// `6037-99**-****-1234`, for places where the full number is not needed.
    pub fn masked(&self) -> String {
        let d = &self.0;
        format!("{}-{}**-****-{}", &d[0..4], &d[4..6], &d[12..16])
    }
    pub fn last4(&self) -> &str {
        &self.0[12..16]
    }
}

fn luhn(digits: &str) -> bool {
    let sum: u32 = digits
        .bytes()
        .rev()
        .enumerate()
        .map(|(i, b)| {
            let d = u32::from(b - b'0');
            if i % 2 == 1 {
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
    sum.is_multiple_of(10)
}

impl TryFrom<String> for CardNumber {
    type Error = ValueError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        CardNumber::parse(&s)
    }
}
impl From<CardNumber> for String {
    fn from(c: CardNumber) -> String {
        c.0
    }
}
impl fmt::Display for CardNumber {
    /// Grouped in fours, the way it is printed on the card.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let d = &self.0;
        write!(f, "{} {} {} {}", &d[0..4], &d[4..8], &d[8..12], &d[12..16])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn card_numbers_need_sixteen_digits_and_a_valid_check_digit() {
        let c = CardNumber::parse("6037-9975-9999-9993").unwrap();
        assert_eq!(c.as_str(), "6037997599999993");
        assert_eq!(c.masked(), "6037-99**-****-9993");
        assert_eq!(CardNumber::parse("6037997599999994"), Err(ValueError::InvalidCardNumber));
        assert_eq!(CardNumber::parse("603799759999999"), Err(ValueError::InvalidCardNumber));
    }

    #[test]
    fn card_numbers_accept_persian_digits() {
        assert!(CardNumber::parse("۶۰۳۷ ۹۹۷۵ ۹۹۹۹ ۹۹۹۳").is_ok());
    }

    #[test]
    fn locations_are_trimmed_and_bounded() {
        assert_eq!(Location::parse("  France ").unwrap().as_str(), "France");
        assert!(Location::parse("").is_err());
        assert!(Location::parse(&"x".repeat(65)).is_err());
    }

    #[test]
    fn telegram_ids_are_positive() {
        assert!(CustomerId::parse("0").is_err());
        assert_eq!(CustomerId::parse("42").unwrap(), CustomerId(42));
    }
}
