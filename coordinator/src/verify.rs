//! Spot checks: a few pixels of an accepted tile, chosen after the result arrived (so a worker
//! cannot know which), rendered again here on the CPU and compared. Only pixels that show
//! something count towards the few: a pixel where every sample missed the scene is the same
//! zeros a made-up tile holds, so checking it alone proves nothing. A sample's random numbers
//! depend only on (seed, frame, pixel, sample), so a pixel rendered alone is exactly the pixel
//! of the whole tile:
//! - a CPU worker's pixels must be the verifier's bit for bit;
//! - another backend's pixels follow the same paths with other float rounding, and a few of its
//!   paths diverge (a ray grazing an edge); each pixel must agree with the verifier's estimate
//!   to rounding and a sliver of its noise ([`Estimate::agrees`]), and a tile fails when more
//!   pixels disagree than an honest backend would, but once in a million checks.
//!
//! The verifier renders on a thread of its own with one CPU thread, keeping the last scene it
//! loaded, and the last frame it prepared (its BVH) while checks of that frame follow.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, mpsc};

use tessera_protocol::scene::SceneHash;
use tessera_protocol::task::TaskMessage;
use tessera_renderer::backend::cpu::{CpuBackend, CpuFrame};
use tessera_renderer::environment::MapCache;
use tessera_renderer::estimate::{self, Estimate};
use tessera_renderer::film::{Pixel, Pixels, Tile};
use tessera_renderer::scene::{FrameScene, Scene};

/// How a worker's pixels compare with the verifier's, by the backend the worker names. A
/// worker could name any backend: each is checked, the CPU's most strictly.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Comparison {
    /// The verifier's own determinism class: every output bit for bit.
    Exact,
    /// Another backend's rounding: agreement within noise, with a few paths allowed to diverge.
    WithinNoise,
}

/// Pixels that hit the scene checked in a tile compared exactly: one wrong pixel is enough.
const EXACT_PIXELS: usize = 4;
/// Pixels that hit the scene checked in a tile compared within noise: enough that a few honest
/// divergences stay far below the count that fails.
const WITHIN_NOISE_PIXELS: usize = 32;
/// A check looks for the pixels it wants among at most this many times as many: a tile mostly
/// of sky costs at most that much more to check (its pixels, mostly misses, cost less), and one
/// with a sliver of the scene may be checked on fewer.
const SEARCH: usize = 16;
/// How often an honest tile may fail a check compared within noise.
const FALSE_ALARM: f64 = 1e-6;

impl Comparison {
    pub fn for_backend(backend: &str) -> Self {
        if backend == "cpu" {
            Self::Exact
        } else {
            Self::WithinNoise
        }
    }

    /// How many pixels that hit the scene to check in a tile of `pixel_count` pixels.
    pub fn pixels(self, pixel_count: usize) -> usize {
        let wanted = match self {
            Self::Exact => EXACT_PIXELS,
            Self::WithinNoise => WITHIN_NOISE_PIXELS,
        };
        wanted.min(pixel_count)
    }

    /// Whether a check of a tile of `pixel_count` pixels rendered at `spp` could tell a made-up
    /// tile from an honest one (see [`Verdict::Inconclusive`]).
    pub fn can_tell(self, pixel_count: usize, spp: u32) -> bool {
        match self {
            Self::Exact => true,
            Self::WithinNoise => vouches(self.pixels(pixel_count), spp),
        }
    }

    /// Its name in metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Exact => "exact",
            Self::WithinNoise => "within_noise",
        }
    }
}

/// The most pixels out of `checked` (of `spp` samples) that may disagree within noise, so that
/// an honest backend fails a check with probability below [`FALSE_ALARM`].
pub fn allowed_disagreements(checked: usize, spp: u32) -> usize {
    estimate::allowed_disagreements(checked, spp, FALSE_ALARM)
}

/// Whether `checked` pixels compared within noise at `spp` vouch for a tile: fewer than half
/// of them may disagree from an honest backend, so a mostly made-up tile fails.
fn vouches(checked: usize, spp: u32) -> bool {
    2 * allowed_disagreements(checked, spp) < checked
}

/// A uniform random number in [0, 1) from the operating system: a worker must not be able to
/// predict which results or pixels are checked.
pub(crate) fn random_fraction() -> f64 {
    let mut bytes = [0u8; 8];
    getrandom::getrandom(&mut bytes).expect("the operating system's random number generator");
    (u64::from_le_bytes(bytes) >> 11) as f64 / (1u64 << 53) as f64
}

/// Up to `limit` distinct pixels of `tile` (frame coordinates) in a random order, drawn after
/// the result arrived. A Fisher-Yates shuffle cut short, its swaps kept in a map: memory in
/// `limit`, not in the tile's size.
fn pixel_order(tile: Tile, limit: usize) -> Vec<(u32, u32)> {
    let count = tile.pixel_count();
    let mut swapped: HashMap<usize, usize> = HashMap::new();
    (0..limit.min(count))
        .map(|i| {
            let j = i + ((random_fraction() * (count - i) as f64) as usize).min(count - i - 1);
            let at = swapped.get(&j).copied().unwrap_or(j);
            swapped.insert(j, swapped.get(&i).copied().unwrap_or(i));
            let at = at as u32;
            (tile.x() + at % tile.width(), tile.y() + at / tile.width())
        })
        .collect()
}

/// Whether any sample of the pixel hit the scene (its alpha is the share that did).
fn shows_the_scene(estimate: &Estimate) -> bool {
    estimate.pixel.color[3] > 0.0
}

/// What a spot check found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    Passed,
    Failed(String),
    /// Nothing found wrong, but the check could not have told: compared within noise at so
    /// many samples that an honest backend's pixels may disagree in most of those checked, a
    /// made-up tile would pass too. The result is accepted unverified, as one not checked.
    Inconclusive(String),
}

struct Request {
    scene: PathBuf,
    task: TaskMessage,
    /// The pixels to render, in this order, until `wanted` of them show the scene.
    order: Vec<(u32, u32)>,
    wanted: usize,
    /// The estimates of the pixels rendered, the first of `order`, and the seconds the
    /// verifier spent on them.
    reply: mpsc::SyncSender<Result<(Vec<Estimate>, f64), String>>,
}

pub struct Verifier {
    requests: Mutex<mpsc::Sender<Request>>,
}

impl Verifier {
    pub fn start() -> Self {
        let (requests, inbox) = mpsc::channel::<Request>();
        // Ends when the verifier is dropped and the channel closes.
        std::thread::spawn(move || serve(&inbox));
        Self {
            requests: Mutex::new(requests),
        }
    }

    /// Renders pixels of `task` chosen at random again, until as many as `comparison` wants
    /// show the scene, and compares them with the worker's `reported` pixels of the whole tile,
    /// also saying how many seconds the verifier rendered (not counting the wait for its turn).
    /// Blocking.
    pub fn check(
        &self,
        scene: PathBuf,
        task: &TaskMessage,
        reported: &Pixels,
        comparison: Comparison,
    ) -> Result<(Verdict, f64), String> {
        let tile = task.tile;
        let wanted = comparison.pixels(tile.pixel_count());
        let order = pixel_order(tile, wanted * SEARCH);
        let (reply, answer) = mpsc::sync_channel(1);
        let request = Request {
            scene,
            task: task.clone(),
            order: order.clone(),
            wanted,
            reply,
        };
        let gone = || "the verifier stopped".to_owned();
        self.requests
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .send(request)
            .map_err(|_| gone())?;
        let (truth, seconds) = answer.recv().map_err(|_| gone())??;
        let verdict = compare(
            tile,
            &order,
            wanted,
            reported,
            &truth,
            comparison,
            task.settings.spp.get(),
        );
        Ok((verdict, seconds))
    }
}

/// Compares the `truth` of the first pixels of `order` with what the worker reported.
fn compare(
    tile: Tile,
    order: &[(u32, u32)],
    wanted: usize,
    reported: &Pixels,
    truth: &[Estimate],
    comparison: Comparison,
    spp: u32,
) -> Verdict {
    let reported_at =
        |x: u32, y: u32| reported.get(((y - tile.y()) * tile.width() + (x - tile.x())) as usize);
    match comparison {
        // Every pixel rendered must match, the ones that miss the scene too.
        Comparison::Exact => {
            for (&(x, y), truth) in order.iter().zip(truth) {
                let pixel = reported_at(x, y);
                // The same estimator with the same random numbers gives the same floats.
                if !same_bits(&pixel, &truth.pixel) {
                    return Verdict::Failed(format!(
                        "pixel ({x}, {y}) is {:?}, a new render gives {:?}",
                        pixel.color, truth.pixel.color
                    ));
                }
            }
            Verdict::Passed
        }
        Comparison::WithinNoise => {
            // The first `wanted` pixels are a uniform sample, as the false-alarm odds assume;
            // those drawn beyond it to find enough that show the scene join it only if they do,
            // so that sky does not dilute the count a made-up tile must exceed.
            let (pixels, truth): (Vec<(u32, u32)>, Vec<Estimate>) = order
                .iter()
                .zip(truth)
                .enumerate()
                .filter(|(i, (_, truth))| *i < wanted || shows_the_scene(truth))
                .map(|(_, (&at, &truth))| (at, truth))
                .unzip();
            let disagreeing: Vec<(u32, u32)> = pixels
                .iter()
                .zip(&truth)
                .filter(|&(&(x, y), truth)| !truth.agrees(&reported_at(x, y)))
                .map(|(&at, _)| at)
                .collect();
            let allowed = allowed_disagreements(pixels.len(), spp);
            if disagreeing.len() <= allowed && !vouches(pixels.len(), spp) {
                return Verdict::Inconclusive(format!(
                    "at {spp} samples {allowed} of {} pixels may disagree with a new render \
                     beyond noise from an honest backend",
                    pixels.len()
                ));
            }
            if disagreeing.len() <= allowed {
                return Verdict::Passed;
            }
            let (x, y) = disagreeing[0];
            Verdict::Failed(format!(
                "{} of {} pixels disagree with a new render beyond noise (at most {allowed} \
                 would from an honest backend); pixel ({x}, {y}) is {:?}, a new render gives {:?}",
                disagreeing.len(),
                pixels.len(),
                reported_at(x, y).color,
                truth[pixels.iter().position(|&p| p == (x, y)).unwrap_or(0)]
                    .pixel
                    .color
            ))
        }
    }
}

fn same_bits(a: &Pixel, b: &Pixel) -> bool {
    let bits = |v: &[f32]| v.iter().map(|f| f.to_bits()).collect::<Vec<_>>();
    bits(&a.color) == bits(&b.color)
        && bits(&a.albedo) == bits(&b.albedo)
        && bits(&a.normal) == bits(&b.normal)
        && a.depth.to_bits() == b.depth.to_bits()
}

fn serve(inbox: &mpsc::Receiver<Request>) {
    let backend = match CpuBackend::new(Some(1)) {
        Ok(b) => b,
        Err(e) => {
            for request in inbox {
                let _ = request.reply.send(Err(format!("no verifier: {e}")));
            }
            return;
        }
    };
    let mut held = Held::default();
    // A frame is prepared once and kept while checks of it follow one another.
    let mut next = inbox.recv().ok();
    while let Some(first) = next.take() {
        let key = first.task.frame_key();
        let started = std::time::Instant::now();
        let frame = match evaluate(&mut held, &first) {
            Ok(frame) => frame,
            Err(e) => {
                let _ = first.reply.send(Err(e));
                next = inbox.recv().ok();
                continue;
            }
        };
        let prepared = backend.prepare_cpu(&frame);
        // The first check of a frame is timed with its preparation.
        let mut preparing = started.elapsed();
        let mut request = first;
        loop {
            let started = std::time::Instant::now();
            let estimates = until_enough_show_the_scene(&prepared, &request);
            let seconds = (started.elapsed() + std::mem::take(&mut preparing)).as_secs_f64();
            let _ = request.reply.send(estimates.map(|e| (e, seconds)));
            match inbox.recv() {
                Ok(r) if r.task.frame_key() == key => request = r,
                other => {
                    next = other.ok();
                    break;
                }
            }
        }
    }
}

/// Estimates the pixels of the request's order, from the first, until `wanted` of them show the
/// scene or the order ends.
fn until_enough_show_the_scene(
    frame: &CpuFrame,
    request: &Request,
) -> Result<Vec<Estimate>, String> {
    let task = &request.task;
    let mut estimates = Vec::with_capacity(request.wanted);
    let mut showing = 0;
    while showing < request.wanted && estimates.len() < request.order.len() {
        let from = estimates.len();
        let to = (from + request.wanted - showing).min(request.order.len());
        let more = frame
            .estimate(
                task.resolution,
                &request.order[from..to],
                task.frame,
                &task.settings,
            )
            .map_err(|e| e.to_string())?;
        showing += more.iter().filter(|e| shows_the_scene(e)).count();
        estimates.extend(more);
    }
    Ok(estimates)
}

/// The last scene and environment map the verifier loaded: consecutive checks are mostly of
/// one job.
#[derive(Default)]
struct Held {
    scene: Option<(SceneHash, Arc<Scene>)>,
    maps: MapCache<SceneHash>,
}

/// The frame a request is for, loading its scene and environment map unless they are the ones
/// already held.
fn evaluate(held: &mut Held, request: &Request) -> Result<FrameScene, String> {
    let task = &request.task;
    let scene = match &held.scene {
        Some((hash, scene)) if *hash == task.scene => scene.clone(),
        _ => {
            let scene = Arc::new(Scene::load(&request.scene).map_err(|e| e.to_string())?);
            held.scene = Some((task.scene, scene.clone()));
            scene
        }
    };
    // The map's name is the submitter's: it is read only inside the scene's folder.
    let dir = request.scene.parent().unwrap_or(Path::new("."));
    let environment = task
        .environment
        .as_ref()
        .map(|setting| {
            held.maps
                .environment(task.scene, setting, |s| s.load_map_in(dir))
        })
        .transpose()
        .map_err(|e| e.to_string())?;
    scene
        .frame_from(
            task.time,
            task.camera.as_deref(),
            &task.view,
            environment.as_ref(),
        )
        .map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use tessera_renderer::estimate::honest_disagreement;
    use tessera_renderer::film::Resolution;

    /// P(X > allowed) for X ~ Binomial(n, p), summed term by term.
    fn tail(n: u64, allowed: u64, p: f64) -> f64 {
        (allowed + 1..=n)
            .map(|k| {
                let choose: f64 = (0..k).map(|i| (n - i) as f64 / (i + 1) as f64).product();
                choose * p.powi(k as i32) * (1.0 - p).powi((n - k) as i32)
            })
            .sum()
    }

    #[test]
    fn pixels_are_drawn_once_each_from_inside_the_tile() {
        let tile = Resolution::new(100, 80)
            .unwrap()
            .tiles(std::num::NonZeroU32::new(32).unwrap())[5];
        for limit in [1, 64, 256, 1000] {
            let order = pixel_order(tile, limit);
            assert_eq!(order.len(), limit.min(tile.pixel_count()), "limit {limit}");
            let distinct: std::collections::HashSet<_> = order.iter().collect();
            assert_eq!(
                distinct.len(),
                order.len(),
                "limit {limit}: a pixel drawn twice"
            );
            assert!(order.iter().all(|&(x, y)| {
                (tile.x()..tile.x() + tile.width()).contains(&x)
                    && (tile.y()..tile.y() + tile.height()).contains(&y)
            }));
        }
        assert_ne!(pixel_order(tile, 256), pixel_order(tile, 256), "not random");
    }

    #[test]
    fn a_few_disagreeing_pixels_are_allowed_as_the_binomial_tail_says() {
        assert_eq!(allowed_disagreements(1, 64), 1, "one pixel can never fail");
        for spp in [1, 16, 64, 256, 1024] {
            let p = honest_disagreement(spp);
            for n in [4, 16, 32] {
                let allowed = allowed_disagreements(n as usize, spp) as u64;
                assert!(tail(n, allowed, p) < FALSE_ALARM, "{n} at {spp} spp");
                if allowed > 0 {
                    assert!(tail(n, allowed - 1, p) >= FALSE_ALARM, "{n} at {spp} spp");
                }
            }
        }
        assert_eq!(allowed_disagreements(32, 64), 6);
    }

    /// A made-up tile (every pixel black) checked within noise fails where an honest backend's
    /// pixels rarely disagree; at so many samples that most may, the check cannot tell and
    /// says so, rather than passing it as verified.
    #[test]
    fn a_check_that_could_not_tell_a_made_up_tile_passes_nothing() {
        let tile = Resolution::new(8, 4).unwrap().full_tile();
        let order: Vec<(u32, u32)> = (0..32).map(|i| (i % 8, i / 8)).collect();
        let made_up = Pixels::zeroed(32);
        let verdict = |spp: u32| {
            let truth: Vec<Estimate> = order
                .iter()
                .map(|_| Estimate {
                    pixel: Pixel {
                        color: [0.5, 0.4, 0.3, 1.0],
                        albedo: [0.7; 3],
                        normal: [0.0, 0.0, 1.0],
                        depth: 3.0,
                    },
                    spread: [0.2, 0.2, 0.2, 0.0],
                    spp,
                })
                .collect();
            let honest = Pixels {
                color: truth.iter().map(|t| t.pixel.color).collect(),
                albedo: truth.iter().map(|t| t.pixel.albedo).collect(),
                normal: truth.iter().map(|t| t.pixel.normal).collect(),
                depth: truth.iter().map(|t| t.pixel.depth).collect(),
            };
            let check = |reported: &Pixels| {
                compare(
                    tile,
                    &order,
                    32,
                    reported,
                    &truth,
                    Comparison::WithinNoise,
                    spp,
                )
            };
            (check(&honest), check(&made_up))
        };
        for spp in [16, 64, 512] {
            let (honest, made_up) = verdict(spp);
            assert_eq!(honest, Verdict::Passed, "{spp} spp");
            assert!(
                matches!(made_up, Verdict::Failed(_)),
                "{spp} spp: {made_up:?}"
            );
        }
        // Most pixels may disagree: still more than that fail.
        let (honest, made_up) = verdict(1024);
        assert!(matches!(honest, Verdict::Inconclusive(_)), "{honest:?}");
        assert!(matches!(made_up, Verdict::Failed(_)), "{made_up:?}");
        assert_eq!(allowed_disagreements(32, 4096), 32, "nothing could fail");
        // Known before rendering, so such a check is not made at all.
        assert!(Comparison::WithinNoise.can_tell(64 * 64, 512));
        assert!(!Comparison::WithinNoise.can_tell(64 * 64, 1024));
        assert!(Comparison::Exact.can_tell(1, 65536));
        for spp in [4096, 65536] {
            let (honest, made_up) = verdict(spp);
            assert!(matches!(honest, Verdict::Inconclusive(_)), "{honest:?}");
            assert!(matches!(made_up, Verdict::Inconclusive(_)), "{made_up:?}");
        }
    }

    /// A tile of 32 pixels checked from a cheater whose pixels disagree three times in four
    /// (the least share measured for half the samples, in the Cornell box) is caught but for
    /// odds this small.
    #[test]
    fn half_the_samples_are_caught_in_one_check() {
        for spp in [16, 64, 256] {
            let allowed = allowed_disagreements(32, spp) as u64;
            let escapes = 1.0 - tail(32, allowed, 0.75);
            assert!(escapes < 1e-6, "{spp} spp: escapes {escapes:e}");
        }
    }
}
