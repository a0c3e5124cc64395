//! Work: what a task is charged for. The coordinator cannot see how long a worker rendered, but
//! it knows what was rendered: the task's samples, and what a sample of this job costs, measured
//! on the coordinator's own CPU by the pre-pass at submission ([`crate::quote`], "probe
//! seconds"). A task's work is its samples times those seconds per sample; how long the worker
//! says it took changes nothing.
//!
//! An hour of work costs, on each device class, the class's hourly price for one unit (a CPU
//! core, a GPU) over the work one unit renders in an hour: its throughput, measured on the
//! class's results that passed a spot check (the median over its workers, so that no one of
//! several moves it). Until a class has such results, a CPU core is taken to render like a core
//! of the coordinator's machine, and a GPU like the whole machine; a measure only ever lowers a
//! class's price below that, never raises it (see [`hour_price`]). A job's prices are fixed at
//! submission, in its quote, so that its invoice is its quoted work at its quoted prices.

use std::collections::BTreeMap;

use tessera_protocol::device::CPU_CLASS;
use tessera_protocol::money::Money;

use super::PriceTable;

/// Work a worker must have had verified before its throughput counts, in probe seconds.
pub const MEASURED_AFTER: f64 = 1.0;

/// The units a device's hourly price is counted in: a CPU's threads, one GPU.
pub fn units(class: &str, threads: u32) -> u32 {
    if class.eq_ignore_ascii_case(CPU_CLASS) {
        threads.max(1)
    } else {
        1
    }
}

/// A task's work: `samples` at `seconds_per_sample`, in whole microseconds.
pub fn work_micros(samples: u64, seconds_per_sample: f64) -> u64 {
    (samples as f64 * seconds_per_sample * 1e6).round() as u64
}

/// Results of one worker: the work they held and the time it reported for them.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct WorkDone {
    pub class: String,
    pub threads: u32,
    pub work_seconds: f64,
    pub render_seconds: f64,
}

impl WorkDone {
    /// Probe seconds one unit of it rendered per second, once it has done enough work.
    pub fn per_unit(&self) -> Option<f64> {
        (self.work_seconds >= MEASURED_AFTER && self.render_seconds > 0.0).then(|| {
            self.work_seconds / (self.render_seconds * f64::from(units(&self.class, self.threads)))
        })
    }
}

/// A worker whose throughput contradicts its class renders less than this share of its class's
/// median.
pub const MISFIT_SHARE: f64 = 0.25;

/// The workers whose verified throughput contradicts the device class of their token (a CPU
/// whose token says `h100`): under [`MISFIT_SHARE`] of the median of their class, where at least
/// two of the class's workers were measured. Each with why.
pub fn misfits(verified: &[(String, WorkDone)]) -> Vec<(String, String)> {
    let done: Vec<WorkDone> = verified.iter().map(|(_, d)| d.clone()).collect();
    let throughput = Throughput::measure(&done);
    let measured_in = |class: &str| {
        done.iter()
            .filter(|d| d.class.eq_ignore_ascii_case(class) && d.per_unit().is_some())
            .count()
    };
    verified
        .iter()
        .filter_map(|(name, d)| {
            let own = d.per_unit()?;
            let median = *throughput.0.get(&d.class.to_lowercase())?;
            (measured_in(&d.class) >= 2 && own < MISFIT_SHARE * median).then(|| {
                (
                    name.clone(),
                    format!(
                        "it renders {own:.3} probe seconds a second per unit, under a quarter of \
                         the median of class '{}' ({median:.3}): its token's class does not fit it",
                        d.class
                    ),
                )
            })
        })
        .collect()
}

/// Probe seconds that one unit of each device class renders per second, where measured.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Throughput(BTreeMap<String, f64>);

impl Throughput {
    /// The median over each class's workers with enough work, from their verified results.
    pub fn measure(verified: &[WorkDone]) -> Self {
        let mut by_class: BTreeMap<String, Vec<f64>> = BTreeMap::new();
        for w in verified {
            if let Some(unit) = w.per_unit() {
                by_class
                    .entry(w.class.to_lowercase())
                    .or_default()
                    .push(unit);
            }
        }
        Self(
            by_class
                .into_iter()
                .map(|(class, mut speeds)| {
                    speeds.sort_by(f64::total_cmp);
                    // The lower of the middle two: with two workers, one that understates its
                    // render time must not set the class's speed and so make the other a misfit.
                    (class, speeds[(speeds.len() - 1) / 2])
                })
                .collect(),
        )
    }

    /// What one unit of `class` renders per second: measured, or else assumed
    /// ([`assumed_per_unit`]).
    pub fn per_unit(&self, class: &str, probe_threads: u32) -> f64 {
        self.0
            .get(&class.to_lowercase())
            .copied()
            .unwrap_or_else(|| assumed_per_unit(class, probe_threads))
    }

    /// The classes measured.
    pub fn classes(&self) -> impl Iterator<Item = &str> {
        self.0.keys().map(String::as_str)
    }
}

/// What one unit of `class` is taken to render per second until it is measured: a CPU core
/// like a core of the machine the pre-pass ran on (`probe_threads` threads), a GPU like the
/// whole machine.
fn assumed_per_unit(class: &str, probe_threads: u32) -> f64 {
    if class.eq_ignore_ascii_case(CPU_CLASS) {
        1.0 / f64::from(probe_threads.max(1))
    } else {
        1.0
    }
}

/// What an hour of work costs on `class`: its unit's hourly price over its throughput, never
/// taken as slower than assumed. A class measured faster is cheaper; one measured slower is
/// priced as assumed, because slowness is measured from the render times workers report, and
/// a worker alone in its class (or the slower of two) can report them as long as it holds its
/// leases, multiplying its class's price. The coordinator vouches for its assumption, not for
/// that.
pub fn hour_price(
    prices: &PriceTable,
    throughput: &Throughput,
    class: &str,
    probe_threads: u32,
) -> Money {
    let unit_hourly = prices.hourly(class, 1).micros() as f64;
    let speed = throughput
        .per_unit(class, probe_threads)
        .max(assumed_per_unit(class, probe_threads));
    Money::from_micros((unit_hourly / speed).round().min(i64::MAX as f64) as i64)
}

/// The price of an hour of work on the CPU, on every class the price table names or
/// `throughput` measured, and on `also`: a job's prices, fixed at submission.
pub fn hour_prices<'a>(
    prices: &'a PriceTable,
    throughput: &'a Throughput,
    probe_threads: u32,
    also: impl IntoIterator<Item = &'a str>,
) -> BTreeMap<String, Money> {
    std::iter::once(CPU_CLASS)
        .chain(prices.device_hour.keys().map(String::as_str))
        .chain(throughput.classes())
        .chain(also)
        .map(|class| {
            (
                class.to_lowercase(),
                hour_price(prices, throughput, class, probe_threads),
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn done(class: &str, threads: u32, work: f64, render: f64) -> WorkDone {
        WorkDone {
            class: class.into(),
            threads,
            work_seconds: work,
            render_seconds: render,
        }
    }

    #[test]
    fn a_cpu_core_unmeasured_renders_like_a_core_of_this_machine() {
        let prices = PriceTable::default();
        let none = Throughput::default();
        // 0.04 USD per core-hour; a core does a quarter of a 4-thread probe's work.
        assert_eq!(
            hour_price(&prices, &none, "cpu", 4),
            Money::from_micros(160_000)
        );
        // A GPU as the whole machine: its own hourly price.
        assert_eq!(
            hour_price(&prices, &none, "h100", 4),
            Money::from_micros(2_560_000)
        );
    }

    #[test]
    fn throughput_is_the_median_worker_of_each_class_with_enough_verified_work() {
        let measured = Throughput::measure(&[
            done("h100", 1, 100.0, 2.0),
            done("h100", 1, 100.0, 4.0),
            // Claims to be slow (reported time inflated): does not move the median of three.
            done("H100", 1, 100.0, 400.0),
            // Too little verified work to count.
            done("h100", 1, 0.5, 100.0),
            done("cpu", 8, 8.0, 2.0),
        ]);
        assert_eq!(measured.per_unit("h100", 2), 25.0);
        assert_eq!(measured.per_unit("cpu", 2), 0.5);
        assert_eq!(measured.per_unit("a100", 2), 1.0);
        let prices = PriceTable::default();
        // 2.56 USD per hour for 25 probe-hours of work.
        assert_eq!(
            hour_price(&prices, &measured, "h100", 2),
            Money::from_micros(102_400)
        );
        let all = hour_prices(&prices, &measured, 2, ["my-gpu"]);
        assert_eq!(all["cpu"], Money::from_micros(80_000));
        assert_eq!(all["h100"], Money::from_micros(102_400));
        assert!(all.contains_key("rtx4090"));
        assert_eq!(all["my-gpu"], Money::from_micros(1_000_000));
    }

    #[test]
    fn a_class_measured_slower_than_assumed_costs_what_it_would_unmeasured() {
        let prices = PriceTable::default();
        let none = Throughput::default();
        // Alone in its class, a worker holding each lease 100 times as long as it renders.
        let padded = Throughput::measure(&[done("rtx4090", 1, 100.0, 10_000.0)]);
        assert_eq!(padded.per_unit("rtx4090", 4), 0.01);
        assert_eq!(
            hour_price(&prices, &padded, "rtx4090", 4),
            hour_price(&prices, &none, "rtx4090", 4)
        );
        // CPU cores slower than this machine's: as this machine's.
        let slow_cores = Throughput::measure(&[done("cpu", 8, 8.0, 100.0)]);
        assert_eq!(
            hour_price(&prices, &slow_cores, "cpu", 4),
            Money::from_micros(160_000)
        );
        // Measured faster: cheaper.
        let fast = Throughput::measure(&[done("rtx4090", 1, 100.0, 10.0)]);
        assert_eq!(
            hour_price(&prices, &fast, "rtx4090", 4),
            Money::from_micros(70_000)
        );
    }

    #[test]
    fn a_worker_far_slower_than_its_class_does_not_fit_it() {
        let named = |name: &str, d: WorkDone| (name.to_string(), d);
        let fleet = [
            named("gpu-1", done("h100", 1, 100.0, 4.0)),
            named("gpu-2", done("h100", 1, 100.0, 5.0)),
            // A CPU with an h100 token: 2 probe seconds a second.
            named("fake", done("h100", 1, 100.0, 50.0)),
            // Alone in its class: nothing to compare it with.
            named("lone", done("a100", 1, 100.0, 500.0)),
            named("cpu", done("cpu", 8, 100.0, 100.0)),
        ];
        let found = misfits(&fleet);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].0, "fake");
        assert!(found[0].1.contains("'h100'"), "{}", found[0].1);
        // Three times slower than the median still fits.
        let slower = [
            named("gpu-1", done("h100", 1, 100.0, 4.0)),
            named("gpu-2", done("h100", 1, 100.0, 12.0)),
        ];
        assert!(misfits(&slower).is_empty());
        // One of two reports a render far shorter than any honest one: the honest one still fits.
        let liar = [
            named("honest", done("h100", 1, 100.0, 4.0)),
            named("liar", done("h100", 1, 100.0, 1e-6)),
        ];
        assert!(misfits(&liar).is_empty(), "{:?}", misfits(&liar));
    }

    #[test]
    fn work_is_samples_at_the_measured_seconds_per_sample() {
        assert_eq!(work_micros(1_000_000, 2.5e-7), 250_000);
        assert_eq!(work_micros(16, 1e-9), 0);
    }
}
