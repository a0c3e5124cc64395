//! Quotes: what a job will cost and take, before anything is queued.
//!
//! A pre-pass ([`probe`]) renders blocks of pixels spread evenly over the job's frames on this
//! machine's CPU, all its cores, and times it: the job's work in this machine's seconds ("probe
//! seconds"). The farm's ledger says what a probe second has cost on its workers (charges over
//! the probe seconds of the tasks charged) and how many probe seconds each worker renders per
//! second; until it has seen some, a probe second costs what this machine's CPU would charge as
//! a worker, and a worker's speed is its share of this machine's threads.

use std::time::{Duration, Instant};

use tessera_protocol::api::Quote;
use tessera_protocol::device::CPU_CLASS;
use tessera_protocol::money::Money;
use tessera_renderer::backend::Backend;
use tessera_renderer::backend::cpu::CpuBackend;
use tessera_renderer::film::Resolution;
use tessera_renderer::scene::FrameScene;
use tessera_renderer::settings::{RenderSettings, Spp};

use crate::billing::PriceTable;

/// How long the pre-pass renders: long enough that the timer and the pixels sampled err by a
/// few per cent, short enough for a submission to wait on.
const PROBE_TIME: Duration = Duration::from_millis(400);
/// Side of the square blocks of pixels the pre-pass renders: neighbours, as in a job's tiles.
const BLOCK: u32 = 8;
/// Blocks rendered in one call: enough work to keep every thread of the pool busy (calls of a
/// few hundred pixels spent more time waking threads than rendering).
const BLOCKS_PER_CALL: usize = 128;
/// Samples per pixel in the pre-pass: a sample costs the same whichever its index.
const PROBE_SPP: u32 = 8;
/// Probe seconds the ledger must hold before its price replaces the default.
const HISTORY: f64 = 1.0;

/// A job's work as the pre-pass measured it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Probe {
    pub seconds_per_sample: f64,
    /// This machine's CPU threads, which rendered the pre-pass.
    pub threads: u32,
}

/// Times the CPU backend on blocks of pixels spread evenly over `frames` (a few of the job's
/// frames, evaluated): blocks at the points of an R2 low-discrepancy sequence, alternating
/// frames from call to call, until [`PROBE_TIME`] has passed or as many pixels as a frame holds
/// are done. The work is the median call's seconds per sample.
pub fn probe(
    backend: &CpuBackend,
    frames: &[(u32, FrameScene)],
    resolution: Resolution,
    settings: &RenderSettings,
) -> Result<Probe, String> {
    let settings = RenderSettings {
        spp: Spp::new(settings.spp.get().min(PROBE_SPP)).map_err(|e| e.to_string())?,
        ..*settings
    };
    let prepared: Vec<_> = frames
        .iter()
        .map(|(number, scene)| (*number, backend.prepare_cpu(scene)))
        .collect();
    let (w, h) = (resolution.width(), resolution.height());
    let (bw, bh) = (BLOCK.min(w), BLOCK.min(h));
    let mut pixels = Vec::new();
    let mut done = 0usize;
    let mut rendering = Duration::ZERO;
    // Seconds per sample of each timed call; their median is robust to a call that the
    // operating system or a neighbour stalled.
    let mut rates = Vec::new();
    let mut block = 0usize;
    // Call 0 warms up (threads waking, the scene's memory first touched) and is not timed: it
    // made short pre-passes err by 10-20 % high.
    let mut call = 0usize;
    while rendering < PROBE_TIME && done < resolution.pixel_count() {
        pixels.clear();
        for _ in 0..BLOCKS_PER_CALL {
            let (u, v) = r2(block);
            block += 1;
            let x0 = ((u * f64::from(w - bw + 1)) as u32).min(w - bw);
            let y0 = ((v * f64::from(h - bh + 1)) as u32).min(h - bh);
            pixels.extend((y0..y0 + bh).flat_map(|y| (x0..x0 + bw).map(move |x| (x, y))));
        }
        let (number, frame) = &prepared[call % prepared.len()];
        let started = Instant::now();
        frame
            .estimate(resolution, &pixels, *number, &settings)
            .map_err(|e| e.to_string())?;
        if call > 0 || pixels.len() >= resolution.pixel_count() {
            let elapsed = started.elapsed();
            rendering += elapsed;
            done += pixels.len();
            let samples = pixels.len() as f64 * f64::from(settings.spp.get());
            rates.push(elapsed.as_secs_f64() / samples);
        }
        call += 1;
    }
    rates.sort_by(f64::total_cmp);
    Ok(Probe {
        seconds_per_sample: rates[rates.len() / 2],
        threads: backend.device().threads,
    })
}

/// The frames a pre-pass samples: the job's first, already evaluated, and its last when that
/// is another, evaluated by `evaluate`.
pub fn probed_frames<E>(
    frames: &[u32],
    first: FrameScene,
    evaluate: impl FnOnce(u32) -> Result<FrameScene, E>,
) -> Result<Vec<(u32, FrameScene)>, E> {
    let mut probed = vec![(frames[0], first)];
    if let Some(&last) = frames.last().filter(|&&last| last != frames[0]) {
        probed.push((last, evaluate(last)?));
    }
    Ok(probed)
}

/// Point `i` of the R2 sequence in the unit square: evenly spread for any prefix.
fn r2(i: usize) -> (f64, f64) {
    const A1: f64 = 0.754_877_666_246_692_7;
    const A2: f64 = 0.569_840_290_998_053_3;
    ((0.5 + A1 * i as f64).fract(), (0.5 + A2 * i as f64).fract())
}

/// What the farm's ledger says of probe seconds: what they cost, and how fast each worker
/// renders them. Sums over charged tasks of jobs that were probed.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct History {
    pub charged: Money,
    pub probe_seconds: f64,
}

/// A worker alive now, with the probe seconds and render seconds of the tasks it was charged.
#[derive(Clone, Debug, PartialEq)]
pub struct AliveWorker {
    pub class: String,
    pub threads: u32,
    pub probe_seconds: f64,
    pub render_seconds: f64,
}

/// The quote for `samples` samples of work measured by `probe`, priced from `history` (or, with
/// too little of it, at `default_hourly` per hour of this machine's CPU) and timed on `fleet`.
pub fn quote(
    probe: Probe,
    samples: u64,
    history: History,
    default_hourly: Money,
    fleet: &[AliveWorker],
) -> Quote {
    let work = probe.seconds_per_sample * samples as f64;
    let micros_per_probe_second = if history.probe_seconds >= HISTORY {
        history.charged.micros() as f64 / history.probe_seconds
    } else {
        default_hourly.micros() as f64 / 3600.0
    };
    let speed: f64 = fleet
        .iter()
        .map(|w| {
            if w.render_seconds > 0.0 && w.probe_seconds >= HISTORY {
                w.probe_seconds / w.render_seconds
            } else {
                // Unmeasured: a CPU worker as its share of this machine's threads, a GPU as
                // this whole machine.
                let threads = if w.class.eq_ignore_ascii_case(CPU_CLASS) {
                    w.threads
                } else {
                    probe.threads
                };
                f64::from(threads) / f64::from(probe.threads.max(1))
            }
        })
        .sum();
    Quote {
        cost: Money::from_micros((work * micros_per_probe_second).round() as i64),
        seconds: (speed > 0.0).then(|| work / speed),
        samples,
        probe_seconds_per_sample: probe.seconds_per_sample,
    }
}

/// The quote for `samples` samples rendered by this machine's CPU alone, priced by `prices`
/// (`tessera render --quote`).
pub fn on_this_machine(probe: Probe, samples: u64, prices: &PriceTable) -> Quote {
    let this_machine = AliveWorker {
        class: CPU_CLASS.into(),
        threads: probe.threads,
        probe_seconds: 0.0,
        render_seconds: 0.0,
    };
    quote(
        probe,
        samples,
        History::default(),
        prices.hourly(CPU_CLASS, probe.threads),
        &[this_machine],
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const PROBE: Probe = Probe {
        seconds_per_sample: 1e-6,
        threads: 4,
    };

    #[test]
    fn without_history_a_probe_second_costs_this_machine_as_a_worker() {
        let hourly = Money::from_micros(3_600_000);
        let fleet = [AliveWorker {
            class: "cpu".into(),
            threads: 2,
            probe_seconds: 0.0,
            render_seconds: 0.0,
        }];
        let q = quote(PROBE, 10_000_000, History::default(), hourly, &fleet);
        // 10 probe seconds at 1,000 µ$ a second.
        assert_eq!(q.cost, Money::from_micros(10_000));
        // Half this machine's threads: twice the probe's time.
        assert_eq!(q.seconds, Some(20.0));
        assert_eq!(
            quote(PROBE, 1, History::default(), hourly, &[]).seconds,
            None
        );
    }

    #[test]
    fn history_prices_probe_seconds_and_times_the_workers_that_rendered_them() {
        let history = History {
            charged: Money::from_micros(500),
            probe_seconds: 10.0,
        };
        let fleet = [AliveWorker {
            class: "h100".into(),
            threads: 1,
            probe_seconds: 100.0,
            render_seconds: 10.0,
        }];
        let q = quote(PROBE, 10_000_000, history, Money::ZERO, &fleet);
        assert_eq!(q.cost, Money::from_micros(500));
        assert_eq!(q.seconds, Some(1.0));
    }

    #[test]
    fn the_r2_sequence_spreads_tiles_over_the_frame() {
        let mut quarters = [0; 4];
        for i in 0..400 {
            let (u, v) = r2(i);
            quarters[usize::from(u >= 0.5) + 2 * usize::from(v >= 0.5)] += 1;
        }
        assert!(
            quarters.iter().all(|&q| (90..=110).contains(&q)),
            "{quarters:?}"
        );
    }
}
