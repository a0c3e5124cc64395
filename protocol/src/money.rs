//! Money: US dollars as integer micro-dollars, so sums printed are sums of what is printed and
//! floating point never touches a charge.

use std::fmt;

use serde::{Deserialize, Serialize};

/// An amount of US dollars in micro-dollars (1 USD = 1 000 000).
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(transparent)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Money(i64);

impl Money {
    pub const ZERO: Money = Money(0);

    pub fn from_micros(micros: i64) -> Self {
        Self(micros)
    }
    pub fn micros(self) -> i64 {
        self.0
    }
    /// Converts a price typed by a person (`2.56`) to micro-dollars; `None` when it is not a
    /// sensible price.
    pub fn from_usd(usd: f64) -> Option<Self> {
        (usd.is_finite() && (0.0..1e9).contains(&usd)).then(|| Self((usd * 1e6).round() as i64))
    }
}

/// `12`, `12.5`, `0.000001`: an amount in USD as a person types it, read exactly.
impl std::str::FromStr for Money {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || format!("'{s}' is not an amount in USD (e.g. 12.50)");
        let (whole, fraction) = s.trim().split_once('.').unwrap_or((s.trim(), ""));
        let digits = |d: &str| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit());
        if !digits(whole) || (!fraction.is_empty() && !digits(fraction)) || fraction.len() > 6 {
            return Err(bad());
        }
        let whole: i64 = whole.parse().map_err(|_| bad())?;
        let fraction: i64 = format!("{fraction:0<6}").parse().map_err(|_| bad())?;
        whole
            .checked_mul(1_000_000)
            .and_then(|w| w.checked_add(fraction))
            .map(Self)
            .ok_or_else(bad)
    }
}

impl std::iter::Sum for Money {
    fn sum<I: Iterator<Item = Money>>(iter: I) -> Money {
        Money(iter.map(|m| m.0).fold(0, i64::saturating_add))
    }
}

impl Money {
    /// `1.234567`: the amount in USD with every micro-dollar, without a currency sign.
    pub fn usd_decimal(self) -> String {
        let sign = if self.0 < 0 { "-" } else { "" };
        let abs = self.0.unsigned_abs();
        format!("{sign}{}.{:06}", abs / 1_000_000, abs % 1_000_000)
    }
}

/// `$1.234567`: every micro-dollar shown, so sums printed are sums of what is printed.
impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let decimal = self.usd_decimal();
        match decimal.strip_prefix('-') {
            Some(abs) => write!(f, "-${abs}"),
            None => write!(f, "${decimal}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sum_past_the_range_saturates() {
        let sum = |v: [i64; 2]| v.into_iter().map(Money::from_micros).sum::<Money>();
        assert_eq!(sum([i64::MAX, 1]), Money::from_micros(i64::MAX));
        assert_eq!(sum([i64::MIN, -1]), Money::from_micros(i64::MIN));
    }

    #[test]
    fn money_prints_every_micro_dollar() {
        assert_eq!(Money::from_micros(2_560_000).to_string(), "$2.560000");
        assert_eq!(Money::from_micros(7).to_string(), "$0.000007");
        assert_eq!(Money::from_micros(-1_500_000).to_string(), "-$1.500000");
        assert_eq!(Money::from_micros(123).usd_decimal(), "0.000123");
        assert_eq!(Money::from_micros(-1_500_000).usd_decimal(), "-1.500000");
        let total: Money = [1, 2, 3].into_iter().map(Money::from_micros).sum();
        assert_eq!("12.5".parse::<Money>(), Ok(Money::from_micros(12_500_000)));
        assert_eq!("0.000001".parse::<Money>(), Ok(Money::from_micros(1)));
        assert_eq!("7".parse::<Money>(), Ok(Money::from_micros(7_000_000)));
        for bad in [
            "",
            "-1",
            "1.2345678",
            "1e3",
            "abc",
            ".5",
            "99999999999999999",
        ] {
            assert!(bad.parse::<Money>().is_err(), "{bad}");
        }
        assert_eq!(total, Money::from_micros(6));
    }
}
