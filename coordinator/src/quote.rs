//! Quotes: what a job will cost and take, before anything is queued.
//!
//! A pre-pass ([`probe`]) renders blocks of pixels spread evenly over the job's frames on this
//! machine's CPU, all its cores, and times it: the job's work in this machine's seconds ("probe
//! seconds"), which is also what its tasks are charged for ([`crate::billing::work`]). The cost
//! is that work at the price of an hour of work on the workers alive now, each weighted by its
//! speed (the share of the tasks it will take); the time is that work over their speeds. A
//! worker's speed is what the ledger measured of it, or its class's.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use tessera_protocol::api::Quote;
use tessera_protocol::auth::Trust;
use tessera_protocol::device::CPU_CLASS;
use tessera_protocol::job::JobOptions;
use tessera_protocol::money::Money;
use tessera_protocol::scene::SceneHash;
use tessera_renderer::backend::Backend;
use tessera_renderer::backend::cpu::{CpuBackend, CpuFrame};
use tessera_renderer::film::Resolution;
use tessera_renderer::scene::FrameScene;
use tessera_renderer::settings::{RenderSettings, Spp};

use crate::billing::PriceTable;
use crate::billing::work::{self, Throughput};

/// The longest the pre-pass renders: long enough that the timer and the pixels sampled err by a
/// few per cent on a large job (two pre-passes of 0.4 s of one job differed by up to 9 % here),
/// short enough for a submission to wait on.
const PROBE_TIME: Duration = Duration::from_millis(1000);
/// The shortest. A pre-pass samples a machine whose pace drifts by 20 % from one such window
/// to the next: of 0.2 s, the Cornell box and `materials.gltf` (64 spp) were quoted 0.85-1.42x
/// their bills (12 quotes, median 1.08); of 0.5 s, 0.86-1.26x (10, median 0.97); of 3 s,
/// 0.85-1.02x (4). Longer would be paid by every submission to a farm: 0.3 s more is 2 % of
/// the 15 s job of `benches/farm_overhead.rs`.
const PROBE_MIN: Duration = Duration::from_millis(200);
/// Between the two, the pre-pass spends this share of the job's work as measured so far: the
/// quote of a 13 s job must not add 8 % to it, and on a small job the money a few per cent of
/// error moves is as small.
const PROBE_SHARE: f64 = 0.01;
/// Timed calls of each frame the pre-pass makes, time allowing: its statistic is a quartile.
const MIN_CALLS: usize = 4;
/// Side of the square blocks of pixels the pre-pass renders: neighbours, as in a job's tiles.
const BLOCK: u32 = 8;
/// Blocks rendered in the first call, which warms up and sizes the later ones: 256 pixels, at
/// most 16,384 samples, so that a scene whose samples are slow is not held up long by it.
const FIRST_BLOCKS: usize = 4;
/// What a later call lasts at least, its blocks grown to fit: far longer than waking the
/// pool's other threads at its start. That takes microseconds on most machines but not on every
/// virtual one: on an Intel VM, calls of 2,048 pixels (about 10 ms) handed over from outside the
/// pool were timed at up to twice a whole render's seconds per sample, and the Cornell box was
/// quoted 1.3-2x its bill.
const CALL_TIME: Duration = Duration::from_millis(25);
/// The most blocks a call renders (a million samples at [`PROBE_SPP`]), so that a pre-pass of
/// a scene with next to nothing in view still times a dozen.
const MAX_BLOCKS: usize = 256;
/// Samples per pixel in the pre-pass, at most: those of a job. A pixel's samples follow much
/// the same paths, so its later ones cost less than its first: a render at 8 spp took 1.1x the
/// seconds per sample of the same render at 64 spp.
const PROBE_SPP: u32 = 64;
/// A job's work as the pre-pass measured it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Probe {
    pub seconds_per_sample: f64,
    /// This machine's CPU threads, which rendered the pre-pass.
    pub threads: u32,
}

/// Times the CPU backend on blocks of pixels spread evenly over `frames` (a few of the job's
/// frames, evaluated): blocks at the points of an R2 low-discrepancy sequence, alternating
/// frames from call to call, until [`PROBE_SHARE`] of the job's work as measured so far (at
/// least [`PROBE_MIN`], at most [`PROBE_TIME`]) has passed and each frame had [`MIN_CALLS`]
/// timed calls, or [`PROBE_TIME`] has passed, or as many samples as the job's (`job_samples`)
/// are done. The work is the mean over the frames of each frame's lower-quartile call's
/// seconds per sample (one statistic over calls of frames that differ would jump between
/// them).
pub fn probe(
    backend: &CpuBackend,
    frames: &[(u32, FrameScene)],
    resolution: Resolution,
    settings: &RenderSettings,
    job_samples: u64,
) -> Result<Probe, String> {
    let settings = RenderSettings {
        spp: Spp::new(settings.spp.get().min(PROBE_SPP)).map_err(|e| e.to_string())?,
        ..*settings
    };
    let prepared: Vec<_> = frames
        .iter()
        .map(|(number, scene)| (*number, backend.prepare_cpu(scene)))
        .collect();
    // The loop runs on the pool's own thread, so that each call starts its work there rather
    // than handing it over and sleeping until woken (see CALL_TIME).
    let mut rates =
        backend.in_pool(|| time_calls(&prepared, resolution, &settings, job_samples))?;
    let quartiles: Vec<f64> = rates
        .iter_mut()
        .filter(|r| !r.is_empty())
        .map(|r| {
            r.sort_by(f64::total_cmp);
            r[r.len() / 4]
        })
        .collect();
    Ok(Probe {
        seconds_per_sample: quartiles.iter().sum::<f64>() / quartiles.len() as f64,
        threads: backend.device().threads,
    })
}

/// [`probe`]'s timed calls: each frame's seconds per sample, call by call.
fn time_calls(
    prepared: &[(u32, CpuFrame<'_>)],
    resolution: Resolution,
    settings: &RenderSettings,
    job_samples: u64,
) -> Result<Vec<Vec<f64>>, String> {
    let mut pixels = Vec::new();
    let mut done = 0u64;
    let mut rendering = Duration::ZERO;
    // Seconds per sample of each frame's timed calls. Whatever else runs only ever slows a
    // call, so the fastest quarter measures the job's work: the median left two pre-passes a
    // second apart 5-13 % apart, the first slower, while the broker and the coordinator settled
    // after a job.
    let mut rates = vec![Vec::new(); prepared.len()];
    let mut block = 0usize;
    // Each frame's first call warms up (threads waking, the scene's memory first touched) and
    // is not timed: it made short pre-passes err by 10-20 % high.
    let mut call = 0usize;
    // Stopping at a frame's pixels, a short pre-pass of a large frame timed a handful of calls
    // and two pre-passes of one job differed by 10-20 %.
    let mut budget = PROBE_TIME;
    let mut blocks = FIRST_BLOCKS;
    let too_few_calls = |rates: &[Vec<f64>]| rates.iter().any(|r| r.len() < MIN_CALLS);
    while (rendering < budget || (too_few_calls(&rates) && rendering < PROBE_TIME))
        && done < job_samples
    {
        pixels.clear();
        for _ in 0..blocks {
            pixels.extend(block_pixels(block, resolution));
            block += 1;
        }
        let which = call % prepared.len();
        let (number, frame) = &prepared[which];
        let started = Instant::now();
        frame
            .estimate(resolution, &pixels, *number, settings)
            .map_err(|e| e.to_string())?;
        let elapsed = started.elapsed();
        let samples = pixels.len() as u64 * u64::from(settings.spp.get());
        tracing::debug!(
            call,
            frame = number,
            pixels = pixels.len(),
            ms = elapsed.as_secs_f64() * 1e3,
            "pre-pass call"
        );
        blocks = grown(blocks, elapsed);
        if call >= prepared.len() || samples >= job_samples {
            rendering += elapsed;
            done += samples;
            rates[which].push(elapsed.as_secs_f64() / samples as f64);
            let work = rendering.as_secs_f64() / done as f64 * job_samples as f64;
            budget = Duration::from_secs_f64(
                (work * PROBE_SHARE).clamp(PROBE_MIN.as_secs_f64(), PROBE_TIME.as_secs_f64()),
            );
        }
        call += 1;
    }
    Ok(rates)
}

/// Blocks for the next call after `blocks` took `elapsed`: as many as fill [`CALL_TIME`] at
/// that pace, never fewer than before nor more than [`MAX_BLOCKS`].
fn grown(blocks: usize, elapsed: Duration) -> usize {
    let scaled = blocks as f64 * CALL_TIME.as_secs_f64() / elapsed.as_secs_f64().max(1e-6);
    (scaled.ceil() as usize).clamp(blocks, MAX_BLOCKS)
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

/// The pixels of the pre-pass's `i`th block: a block of a grid over the frame (those at its
/// right and bottom edges cut short) at point `i` of the R2 sequence. Each pixel lies in one
/// block, so any pixel is as likely to be rendered as another: blocks placed anywhere left the
/// pixels along the edges under-sampled, and the Cornell box was quoted 1.1-1.45x its bill.
fn block_pixels(i: usize, resolution: Resolution) -> impl Iterator<Item = (u32, u32)> {
    let (w, h) = (resolution.width(), resolution.height());
    let (columns, rows) = (w.div_ceil(BLOCK), h.div_ceil(BLOCK));
    let (u, v) = r2(i);
    let x0 = ((u * f64::from(columns)) as u32).min(columns - 1) * BLOCK;
    let y0 = ((v * f64::from(rows)) as u32).min(rows - 1) * BLOCK;
    let xs = x0..(x0 + BLOCK).min(w);
    (y0..(y0 + BLOCK).min(h)).flat_map(move |y| xs.clone().map(move |x| (x, y)))
}

/// Point `i` of the R2 sequence in the unit square: evenly spread for any prefix.
fn r2(i: usize) -> (f64, f64) {
    const A1: f64 = 0.754_877_666_246_692_7;
    const A2: f64 = 0.569_840_290_998_053_3;
    ((0.5 + A1 * i as f64).fract(), (0.5 + A2 * i as f64).fract())
}

/// A worker alive now, with the work of the tasks it was charged and the time it reported for
/// them.
#[derive(Clone, Debug, PartialEq)]
pub struct AliveWorker {
    pub class: String,
    pub threads: u32,
    pub work_seconds: f64,
    pub render_seconds: f64,
}

impl AliveWorker {
    /// Probe seconds it renders per second: measured, or its class's.
    fn speed(&self, throughput: &Throughput, probe_threads: u32) -> f64 {
        if self.render_seconds > 0.0 && self.work_seconds >= work::MEASURED_AFTER {
            self.work_seconds / self.render_seconds
        } else {
            throughput.per_unit(&self.class, probe_threads)
                * f64::from(work::units(&self.class, self.threads))
        }
    }
}

/// The quote for `samples` samples of work measured by `probe`, at `prices` (an hour of work
/// on each class) and timed on `fleet`, whose classes `throughput` measured. With nobody alive
/// the work is priced as on the CPU.
pub fn quote(
    probe: Probe,
    samples: u64,
    prices: BTreeMap<String, Money>,
    throughput: &Throughput,
    fleet: &[AliveWorker],
) -> Quote {
    let work = probe.seconds_per_sample * samples as f64;
    let price = |class: &str| {
        prices
            .get(&class.to_lowercase())
            .map_or(0.0, |m| m.micros() as f64)
    };
    let speeds: Vec<f64> = fleet
        .iter()
        .map(|w| w.speed(throughput, probe.threads))
        .collect();
    let speed: f64 = speeds.iter().sum();
    let micros_per_hour = if speed > 0.0 {
        fleet
            .iter()
            .zip(&speeds)
            .map(|(w, s)| s * price(&w.class))
            .sum::<f64>()
            / speed
    } else {
        price(CPU_CLASS)
    };
    Quote {
        cost: Money::from_micros((work * micros_per_hour / 3600.0).round() as i64),
        seconds: (speed > 0.0).then(|| work / speed),
        samples,
        probe_seconds_per_sample: probe.seconds_per_sample,
        work_hour_prices: prices,
    }
}

/// How long a quote holds: the same scene with the same options and trust, submitted within
/// this time of being quoted, is charged at that quote's work and prices.
pub const QUOTE_HOLDS: Duration = Duration::from_secs(600);
/// Quotes held at once, and of one tenant: memory stays bounded whoever asks. Past either, a
/// quote is given but not held until held ones expire; none is let go early, or a tenant could
/// push its own out and ask again.
const HELD_QUOTES: usize = 1024;
const HELD_QUOTES_A_TENANT: usize = 64;

/// What a quote is of: whose it is, the scene's bytes and kind, the render options and which
/// workers may render. The seed is left out: it moves no cost, and a key of its own for each
/// seed would let a tenant ask for as many pre-passes as it likes and submit with the cheapest.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QuoteKey {
    tenant: String,
    of: String,
}

impl QuoteKey {
    /// `kind` is the scene file's extension, which decides how its bytes load.
    pub fn new(
        tenant: &str,
        scene: SceneHash,
        kind: &str,
        options: &JobOptions,
        trust: Trust,
    ) -> Self {
        let mut options = options.clone();
        options.settings.seed = 0;
        let options = serde_json::to_string(&options).expect("job options serialize");
        Self {
            tenant: tenant.to_owned(),
            of: format!("{scene} {kind:?} {} {options}", trust.as_str()),
        }
    }
}

/// The quotes given in the last [`QUOTE_HOLDS`], by what they quoted.
#[derive(Default)]
pub struct HeldQuotes(Mutex<VecDeque<(QuoteKey, Quote, Instant)>>);

impl HeldQuotes {
    /// Holds `quote` for `key` where there is room; false where there is none.
    pub fn hold(&self, key: QuoteKey, quote: Quote) -> bool {
        let mut held = self.0.lock().unwrap_or_else(|p| p.into_inner());
        held.retain(|(k, _, at)| *k != key && at.elapsed() < QUOTE_HOLDS);
        let tenants = held.iter().filter(|(k, ..)| k.tenant == key.tenant).count();
        if held.len() >= HELD_QUOTES || tenants >= HELD_QUOTES_A_TENANT {
            return false;
        }
        held.push_back((key, quote, Instant::now()));
        true
    }

    pub fn is_empty(&self) -> bool {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).is_empty()
    }

    /// The quote for `key`, if one was given within [`QUOTE_HOLDS`].
    pub fn get(&self, key: &QuoteKey) -> Option<Quote> {
        let held = self.0.lock().unwrap_or_else(|p| p.into_inner());
        held.iter()
            .find(|(k, _, at)| k == key && at.elapsed() < QUOTE_HOLDS)
            .map(|(_, quote, _)| quote.clone())
    }
}

/// The quote for `samples` samples rendered by this machine's CPU alone, priced by `prices`
/// (`tessera render --quote`).
pub fn on_this_machine(probe: Probe, samples: u64, prices: &PriceTable) -> Quote {
    let this_machine = AliveWorker {
        class: CPU_CLASS.into(),
        threads: probe.threads,
        work_seconds: 0.0,
        render_seconds: 0.0,
    };
    let none = Throughput::default();
    quote(
        probe,
        samples,
        work::hour_prices(prices, &none, probe.threads, []),
        &none,
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

    fn worker(class: &str, threads: u32, work_seconds: f64, render_seconds: f64) -> AliveWorker {
        AliveWorker {
            class: class.into(),
            threads,
            work_seconds,
            render_seconds,
        }
    }

    #[test]
    fn unmeasured_the_work_costs_this_machines_cpu_and_a_worker_its_share_of_its_threads() {
        let prices = PriceTable::default();
        let none = Throughput::default();
        let table = work::hour_prices(&prices, &none, PROBE.threads, []);
        let fleet = [worker("cpu", 2, 0.0, 0.0)];
        let q = quote(PROBE, 10_000_000, table.clone(), &none, &fleet);
        // 10 probe seconds at 4 cores x 0.04 USD per hour.
        assert_eq!(q.cost, Money::from_micros(444));
        // Half this machine's threads: twice the probe's time.
        assert_eq!(q.seconds, Some(20.0));
        let alone = quote(PROBE, 10_000_000, table, &none, &[]);
        assert_eq!((alone.cost, alone.seconds), (q.cost, None));
    }

    #[test]
    fn the_price_of_a_mixed_fleet_follows_the_share_each_worker_renders() {
        let mut table = BTreeMap::new();
        table.insert("cpu".to_string(), Money::from_micros(3_600_000));
        table.insert("h100".to_string(), Money::from_micros(360_000));
        // The GPU renders 9 probe seconds a second, the CPU 1: 90 % of the work at its price.
        let fleet = [worker("h100", 1, 90.0, 10.0), worker("cpu", 4, 0.0, 0.0)];
        let q = quote(PROBE, 10_000_000, table, &Throughput::default(), &fleet);
        assert_eq!(q.cost, Money::from_micros(900 + 1_000));
        assert_eq!(q.seconds, Some(1.0));
    }

    #[test]
    fn a_quote_is_held_for_its_job_and_memory_stays_bounded() {
        let options = JobOptions::default();
        let scene = SceneHash::of(b"scene");
        let key = |tenant: &str, options: &JobOptions| {
            QuoteKey::new(tenant, scene, "gltf", options, Trust::Any)
        };
        let ours = key("studio", &options);
        assert_ne!(
            ours,
            QuoteKey::new("studio", scene, "gltf", &options, Trust::Verified)
        );
        assert_ne!(
            ours,
            QuoteKey::new("studio", scene, "glb", &options, Trust::Any)
        );
        assert_ne!(ours, key("other", &options));
        let mut reseeded = options.clone();
        reseeded.settings.seed = 7;
        assert_eq!(ours, key("studio", &reseeded), "the seed moves no cost");
        let none = Throughput::default();
        let prices = work::hour_prices(&PriceTable::default(), &none, 4, []);
        let quote = |samples| quote(PROBE, samples, prices.clone(), &none, &[]);
        let held = HeldQuotes::default();
        assert!(held.hold(ours.clone(), quote(1)));
        assert!(held.hold(ours.clone(), quote(2)));
        assert_eq!(held.get(&ours).unwrap().samples, 2);
        // A tenant's further quotes are not held, and do not push out the ones it has.
        for i in 1..2 * HELD_QUOTES_A_TENANT {
            let mut other = options.clone();
            other.settings.spp = Spp::new(1000 + i as u32).unwrap();
            held.hold(key("studio", &other), quote(3));
        }
        assert_eq!(held.0.lock().unwrap().len(), HELD_QUOTES_A_TENANT);
        assert_eq!(held.get(&ours).unwrap().samples, 2, "the first stays");
        // Nor do other tenants' fill more than the whole.
        for i in 0..2 * HELD_QUOTES {
            held.hold(key(&format!("tenant {i}"), &options), quote(3));
        }
        assert_eq!(held.0.lock().unwrap().len(), HELD_QUOTES);
        assert!(held.get(&ours).is_some());
    }

    #[test]
    fn calls_grow_to_fill_the_call_time_and_no_further() {
        let ms = Duration::from_millis;
        assert_eq!(grown(FIRST_BLOCKS, CALL_TIME / 4), 4 * FIRST_BLOCKS);
        assert_eq!(grown(100, CALL_TIME), 100);
        assert_eq!(
            grown(100, 2 * CALL_TIME),
            100,
            "a slow call does not shrink the next"
        );
        assert_eq!(grown(FIRST_BLOCKS, ms(0)), MAX_BLOCKS);
        assert_eq!(grown(MAX_BLOCKS, ms(1)), MAX_BLOCKS);
    }

    #[test]
    fn every_pixel_is_as_likely_to_be_probed_as_any_other() {
        // Blocks cut short at the right and bottom edges, as 20x12 frames have.
        let resolution = Resolution::new(20, 12).unwrap();
        let mut times = vec![0u32; 20 * 12];
        for i in 0..6000 {
            for (x, y) in block_pixels(i, resolution) {
                times[(y * 20 + x) as usize] += 1;
            }
        }
        // 6 blocks, each taken about 1000 times.
        assert!(
            times.iter().all(|&t| (950..=1050).contains(&t)),
            "{times:?}"
        );
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
