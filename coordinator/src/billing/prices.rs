//! Prices: what an hour of each device class costs, and what one task's render time costs.
//!
//! Floating point never touches a charge: prices are read once into micro-dollars per hour, render
//! time is counted in microseconds, and the charge is their product divided with rounding in
//! 128-bit integers.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};
use tessera_protocol::device::CPU_CLASS;
use tessera_protocol::money::Money;

#[derive(Debug, thiserror::Error)]
pub enum PriceError {
    #[error("cannot read price table '{path}'")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("price table '{path}' is not valid TOML for a price table: {message}")]
    Parse { path: String, message: String },
    #[error(
        "price '{name}' is {value}: prices must be finite, at least 0 and below 1e9 USD per hour"
    )]
    BadPrice { name: String, value: f64 },
}

/// What an hour of each kind of device costs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PriceTable {
    /// Per core-hour, times the worker's threads.
    pub cpu_core_hour: Money,
    /// Per device-hour, by device class (`h100`, `rtx4090`, ...).
    pub device_hour: BTreeMap<String, Money>,
    /// Per device-hour for a GPU class missing from `device_hour`.
    pub default_device_hour: Money,
}

/// The file format: prices in USD as decimal numbers.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PriceFile {
    cpu_core_hour: Option<f64>,
    default_device_hour: Option<f64>,
    #[serde(default)]
    device_hour: BTreeMap<String, f64>,
}

/// The documented defaults (see README): cloud list prices, rounded.
pub const DEFAULT_PRICES_TOML: &str = r#"# USD per hour. CPU workers pay per core-hour times their threads; GPUs per device-hour.
cpu_core_hour = 0.04
# For a GPU whose class is not listed below.
default_device_hour = 1.00

[device_hour]
h100 = 2.56
h200 = 3.50
a100 = 1.60
l40s = 1.00
rtx4090 = 0.70
"#;

impl Default for PriceTable {
    fn default() -> Self {
        let empty = PriceTable {
            cpu_core_hour: Money::ZERO,
            device_hour: BTreeMap::new(),
            default_device_hour: Money::ZERO,
        };
        Self::parse_onto(empty, DEFAULT_PRICES_TOML, "built-in prices")
            .expect("built-in prices are valid")
    }
}

impl PriceTable {
    /// Reads a price table; entries the file leaves out keep their defaults.
    pub fn load(path: &Path) -> Result<Self, PriceError> {
        let name = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| PriceError::Read {
            path: name.clone(),
            source,
        })?;
        Self::parse(&text, &name)
    }

    /// Parses a price table; entries `text` leaves out keep their defaults.
    pub fn parse(text: &str, name: &str) -> Result<Self, PriceError> {
        Self::parse_onto(PriceTable::default(), text, name)
    }

    fn parse_onto(mut table: PriceTable, text: &str, name: &str) -> Result<Self, PriceError> {
        let file: PriceFile = toml::from_str(text).map_err(|e| PriceError::Parse {
            path: name.to_owned(),
            message: e.message().to_owned(),
        })?;
        let price = |key: &str, usd: f64| {
            Money::from_usd(usd).ok_or_else(|| PriceError::BadPrice {
                name: key.to_owned(),
                value: usd,
            })
        };
        if let Some(usd) = file.cpu_core_hour {
            table.cpu_core_hour = price("cpu_core_hour", usd)?;
        }
        if let Some(usd) = file.default_device_hour {
            table.default_device_hour = price("default_device_hour", usd)?;
        }
        for (class, usd) in file.device_hour {
            let money = price(&format!("device_hour.{class}"), usd)?;
            table.device_hour.insert(class.to_lowercase(), money);
        }
        Ok(table)
    }

    /// The hourly price of a device of `class` with `threads` threads.
    pub fn hourly(&self, class: &str, threads: u32) -> Money {
        if class.eq_ignore_ascii_case(CPU_CLASS) {
            Money::from_micros(
                self.cpu_core_hour
                    .micros()
                    .saturating_mul(i64::from(threads.max(1))),
            )
        } else {
            *self
                .device_hour
                .get(&class.to_lowercase())
                .unwrap_or(&self.default_device_hour)
        }
    }

    /// What `render_micros` microseconds on such a device cost, rounded to the nearest
    /// micro-dollar (halves up).
    pub fn charge(&self, class: &str, threads: u32, render_micros: u64) -> Money {
        charge(self.hourly(class, threads), render_micros)
    }
}

const MICROS_PER_HOUR: u128 = 3_600_000_000;

/// `hourly * micros`: a cost in units of a micro-dollar / 3.6e9.
fn units(hourly: Money, render_micros: u64) -> u128 {
    u128::try_from(hourly.micros().max(0)).unwrap_or(0) * u128::from(render_micros)
}

/// `hourly * micros / 3.6e9`, rounded half up, in integers.
pub fn charge(hourly: Money, render_micros: u64) -> Money {
    let rounded = (units(hourly, render_micros) + MICROS_PER_HOUR / 2) / MICROS_PER_HOUR;
    Money::from_micros(i64::try_from(rounded).unwrap_or(i64::MAX))
}

/// What a job's charges so far fell short of whole micro-dollars, in units of a micro-dollar /
/// 3.6e9 (below one micro-dollar).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Carry(u64);

impl Carry {
    pub fn from_units(units: u64) -> Self {
        Self(units % MICROS_PER_HOUR as u64)
    }
    pub fn units(self) -> u64 {
        self.0
    }
}

/// A task's charge when the job's earlier charges left `carry`: whole micro-dollars of the exact
/// cost plus the carry, with what remains carried on. A job's charges thus add up to its exact
/// cost rounded down, however small its tasks (rounding each alone would bill a job of many
/// small tiles nothing).
pub fn charge_carried(hourly: Money, render_micros: u64, carry: Carry) -> (Money, Carry) {
    let total = units(hourly, render_micros) + u128::from(carry.0);
    let whole = i64::try_from(total / MICROS_PER_HOUR).unwrap_or(i64::MAX);
    let rest = (total % MICROS_PER_HOUR) as u64;
    (Money::from_micros(whole), Carry(rest))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_price_an_h100_hour_at_2_56() {
        let prices = PriceTable::default();
        assert_eq!(prices.hourly("h100", 1), Money::from_micros(2_560_000));
        assert_eq!(prices.hourly("H100", 1), Money::from_micros(2_560_000));
        assert_eq!(prices.hourly("cpu", 8), Money::from_micros(8 * 40_000));
        assert_eq!(
            prices.hourly("unknown-gpu", 1),
            Money::from_micros(1_000_000)
        );
    }

    #[test]
    fn charges_round_to_the_nearest_micro_dollar() {
        let prices = PriceTable::default();
        // One hour on an H100.
        assert_eq!(
            prices.charge("h100", 1, 3_600_000_000),
            Money::from_micros(2_560_000)
        );
        // 1.5 s on an H100: 2.56 * 1.5 / 3600 USD = 1066.67 micro-dollars.
        assert_eq!(
            prices.charge("h100", 1, 1_500_000),
            Money::from_micros(1067)
        );
        // 10 s on 4 cores at 0.04 per core-hour = 444.44 micro-dollars.
        assert_eq!(prices.charge("cpu", 4, 10_000_000), Money::from_micros(444));
        assert_eq!(prices.charge("cpu", 4, 0), Money::ZERO);
        // Exactly half a micro-dollar rounds up: 1.8 USD/h for 1 microsecond... times 1000.
        let hourly = Money::from_micros(1_800_000);
        assert_eq!(charge(hourly, 1_000), Money::from_micros(1)); // 0.5 -> 1
        assert_eq!(charge(hourly, 999), Money::ZERO); // 0.4995 -> 0
    }

    #[test]
    fn small_tiles_are_billed_what_they_cost_together() {
        // 576 tiles of 20 ms on one core at 0.04 USD/h: 0.22 micro-dollars each.
        let hourly = Money::from_micros(40_000);
        assert_eq!(charge(hourly, 20_000), Money::ZERO);
        let mut carry = Carry::default();
        let mut total = Money::ZERO;
        for _ in 0..576 {
            let (charge, next) = charge_carried(hourly, 20_000, carry);
            total = Money::from_micros(total.micros() + charge.micros());
            carry = next;
        }
        // Exactly 128 micro-dollars: 576 x 40000 x 20000 / 3.6e9.
        assert_eq!(total, Money::from_micros(128));
        assert_eq!(carry, Carry::default());
        let (one, rest) = charge_carried(
            Money::from_micros(3_600_000),
            1,
            Carry::from_units(3_599_999_999),
        );
        assert_eq!(
            (one, rest),
            (Money::from_micros(1), Carry::from_units(3_599_999))
        );
    }

    #[test]
    fn a_price_file_overrides_some_defaults() {
        let prices = PriceTable::parse(
            "cpu_core_hour = 0.1\n[device_hour]\nH100 = 3.0\nmi300 = 2\n",
            "t",
        )
        .unwrap();
        assert_eq!(prices.cpu_core_hour, Money::from_micros(100_000));
        assert_eq!(prices.hourly("h100", 1), Money::from_micros(3_000_000));
        assert_eq!(prices.hourly("mi300", 1), Money::from_micros(2_000_000));
        assert_eq!(prices.hourly("a100", 1), Money::from_micros(1_600_000));
    }

    #[test]
    fn bad_price_files_are_refused() {
        let err = PriceTable::parse("cpu_core_hour = -1.0", "p.toml").unwrap_err();
        assert!(err.to_string().contains("cpu_core_hour"), "{err}");
        let err = PriceTable::parse("gpu = 1.0", "p.toml").unwrap_err();
        assert!(matches!(err, PriceError::Parse { .. }), "{err}");
        let err = PriceTable::parse("[device_hour]\nh100 = nan", "p.toml").unwrap_err();
        assert!(matches!(err, PriceError::BadPrice { .. }), "{err}");
    }
}
