//! Spot checks: a few pixels of an accepted tile, chosen after the result arrived (so a worker
//! cannot know which), rendered again here and compared. A sample's random numbers depend only
//! on (seed, frame, pixel, sample), so a one-pixel tile renders exactly the pixel of the whole
//! tile: within the CPU backend's determinism class the comparison is exact, bit for bit.
//!
//! The verifier renders on a thread of its own with one CPU thread, keeping the last scene it
//! loaded.

use std::path::PathBuf;
use std::sync::{Arc, Mutex, mpsc};

use tessera_protocol::scene::SceneHash;
use tessera_protocol::task::TaskMessage;
use tessera_renderer::backend::Backend;
use tessera_renderer::backend::cpu::CpuBackend;
use tessera_renderer::film::{Pixels, Tile};
use tessera_renderer::scene::Scene;

/// Pixels checked in a tile.
pub const PIXELS_PER_CHECK: usize = 4;

/// What a spot check found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    Passed,
    Failed(String),
}

struct Request {
    scene: PathBuf,
    task: TaskMessage,
    pixels: Vec<(u32, u32)>,
    reply: mpsc::SyncSender<Result<Pixels, String>>,
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

    /// Renders `pixels` (frame coordinates) of `task` again and compares them with the worker's
    /// `reported` pixels of the whole tile. Blocking.
    pub fn check(
        &self,
        scene: PathBuf,
        task: &TaskMessage,
        pixels: Vec<(u32, u32)>,
        reported: &Pixels,
    ) -> Result<Verdict, String> {
        let (reply, answer) = mpsc::sync_channel(1);
        let request = Request {
            scene,
            task: task.clone(),
            pixels: pixels.clone(),
            reply,
        };
        let gone = || "the verifier stopped".to_owned();
        self.requests
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .send(request)
            .map_err(|_| gone())?;
        let truth = answer.recv().map_err(|_| gone())??;
        Ok(compare(task.tile, &pixels, reported, &truth))
    }
}

/// Compares bit for bit: the same estimator with the same random numbers gives the same floats.
fn compare(tile: Tile, pixels: &[(u32, u32)], reported: &Pixels, truth: &Pixels) -> Verdict {
    for (i, &(x, y)) in pixels.iter().enumerate() {
        let at = ((y - tile.y()) * tile.width() + (x - tile.x())) as usize;
        let bits = |v: &[f32]| v.iter().map(|f| f.to_bits()).collect::<Vec<_>>();
        let same = bits(&reported.color[at]) == bits(&truth.color[i])
            && bits(&reported.albedo[at]) == bits(&truth.albedo[i])
            && bits(&reported.normal[at]) == bits(&truth.normal[i])
            && reported.depth[at].to_bits() == truth.depth[i].to_bits();
        if !same {
            return Verdict::Failed(format!(
                "pixel ({x}, {y}) is {:?}, a new render gives {:?}",
                reported.color[at], truth.color[i]
            ));
        }
    }
    Verdict::Passed
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
    let mut held: Option<(SceneHash, Arc<Scene>)> = None;
    for request in inbox {
        let _ = request.reply.send(render(&backend, &mut held, &request));
    }
}

fn render(
    backend: &CpuBackend,
    held: &mut Option<(SceneHash, Arc<Scene>)>,
    request: &Request,
) -> Result<Pixels, String> {
    let task = &request.task;
    let scene = match held {
        Some((hash, scene)) if *hash == task.scene => scene.clone(),
        _ => {
            let scene = Arc::new(Scene::load(&request.scene).map_err(|e| e.to_string())?);
            *held = Some((task.scene, scene.clone()));
            scene
        }
    };
    let frame = scene
        .frame_from(task.time, task.camera.as_deref(), &task.view)
        .map_err(|e| e.to_string())?;
    let prepared = backend.prepare(&frame).map_err(|e| e.to_string())?;
    let mut out = Pixels::zeroed(request.pixels.len());
    for (i, &(x, y)) in request.pixels.iter().enumerate() {
        let tile = Tile::new(x, y, 1, 1, task.resolution).map_err(|e| e.to_string())?;
        let image = prepared
            .render_tile(task.resolution, tile, task.frame, &task.settings)
            .map_err(|e| e.to_string())?;
        out.color[i] = image.pixels.color[0];
        out.albedo[i] = image.pixels.albedo[0];
        out.normal[i] = image.pixels.normal[0];
        out.depth[i] = image.pixels.depth[0];
    }
    Ok(out)
}
