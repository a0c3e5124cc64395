//! The worker's link to its coordinator: where scenes come from, how a task taken from the
//! queue is claimed, and the heartbeat that keeps its leases. Over HTTP with scenes cached on
//! disk by hash, or (for `tessera render`) straight to the coordinator in the same process.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};

use tessera_protocol::client::{Client, ClientError};
use tessera_protocol::lease::{Claim, ClaimRequest};
use tessera_protocol::result::WorkerInfo;
use tessera_protocol::scene::{SceneHash, SceneStore};
use tessera_protocol::task::TaskMessage;

pub trait Link: Send + Sync + 'static {
    /// A local path holding the scene blob, checked against its hash.
    fn scene_path(&self, hash: SceneHash) -> Result<PathBuf, String>;
    /// Asks to render the tasks of a message: a claim for each, in their order; `Err` when
    /// the coordinator could not be asked.
    fn claim(&self, tasks: &[TaskMessage]) -> Result<Vec<Claim>, String>;
    /// Says this worker is alive, keeping the leases it names: those it holds now.
    fn heartbeat(&self, leases: &[String]) -> Result<(), String>;
    fn announce(&self, worker: &WorkerInfo);
    /// Whether the operator verified this worker's token: it then takes the tasks of jobs
    /// that take verified workers only, besides the rest.
    fn verified(&self) -> bool {
        false
    }
}

/// The coordinator's HTTP API, with scenes cached on disk by hash.
pub struct HttpLink {
    client: Client,
    cache: SceneStore,
    /// What the cache may hold: past it, scenes unused for longest are let go.
    cache_bytes: u64,
    /// A turn for each scene being fetched: the tasks in hand of one job wait for the one
    /// fetch of their scene, instead of each downloading and unpacking it at once.
    fetching: Mutex<HashMap<SceneHash, Arc<Mutex<()>>>>,
}

impl HttpLink {
    pub fn new(client: Client, cache: SceneStore, cache_bytes: u64) -> Self {
        Self {
            client,
            cache,
            cache_bytes,
            fetching: Mutex::default(),
        }
    }

    /// The scene of `hash` in the cache, fetched if it is not there yet.
    fn cached(&self, hash: SceneHash) -> Result<PathBuf, String> {
        if self.cache.contains(hash) {
            // Failing, the scene is only let go sooner.
            if let Err(e) = self.cache.mark_used(hash) {
                tracing::debug!(error = %e, "cannot mark a cached scene used");
            }
        } else {
            let download = self.client.scene(hash).map_err(|e| e.to_string())?;
            self.cache
                .put_checked(hash, download)
                .map_err(|e| e.to_string())?;
            match self.cache.trim(self.cache_bytes, hash) {
                Ok(let_go) => {
                    for (scene, bytes) in let_go {
                        tracing::info!(%scene, bytes, "scene let go from the cache");
                    }
                }
                Err(e) => tracing::warn!(error = %e, "cannot trim the scene cache"),
            }
        }
        self.cache.scene_file(hash).map_err(|e| e.to_string())
    }
}

impl Link for HttpLink {
    fn scene_path(&self, hash: SceneHash) -> Result<PathBuf, String> {
        let turn = {
            let mut fetching = self.fetching.lock().unwrap_or_else(PoisonError::into_inner);
            fetching.entry(hash).or_default().clone()
        };
        let path = {
            let _mine = turn.lock().unwrap_or_else(PoisonError::into_inner);
            self.cached(hash)
        };
        let mut fetching = self.fetching.lock().unwrap_or_else(PoisonError::into_inner);
        // Clones are made and dropped only under this lock: two left (the map's and this) means
        // nobody else waits for this scene's turn.
        let last = Arc::strong_count(&turn) == 2;
        drop(turn);
        if last {
            fetching.remove(&hash);
        }
        path
    }

    fn claim(&self, tasks: &[TaskMessage]) -> Result<Vec<Claim>, String> {
        match self.client.claim(&ClaimRequest::of(tasks)) {
            Ok(claims) => Ok(claims),
            // A token the coordinator refuses (revoked, or not a worker's) claims nothing ever
            // again: stop, giving the tasks back, rather than hold them and ask for ever.
            Err(ClientError::Api {
                status: 401 | 403,
                message,
            }) => {
                let reason = format!("the coordinator refuses this worker's token: {message}");
                Ok(tasks
                    .iter()
                    .map(|_| Claim::Stop {
                        reason: reason.clone(),
                    })
                    .collect())
            }
            Err(e) => Err(e.to_string()),
        }
    }

    fn heartbeat(&self, leases: &[String]) -> Result<(), String> {
        self.client.heartbeat(leases).map_err(|e| e.to_string())
    }

    fn announce(&self, worker: &WorkerInfo) {
        if let Err(e) = self.client.announce(worker) {
            tracing::warn!(error = %e, "cannot announce this worker to the coordinator");
        }
    }

    fn verified(&self) -> bool {
        match self.client.me() {
            Ok(me) => me.verified,
            Err(e) => {
                tracing::warn!(error = %e, "cannot ask the coordinator whether this worker is verified; taking only the tasks any worker may render");
                false
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::{BufRead, BufReader, Write};
    use std::net::TcpListener;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    use super::*;

    /// A coordinator that serves one scene, slowly, and counts the requests for it.
    fn slow_scene_server(scene: &'static [u8]) -> (String, Arc<AtomicUsize>) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let asked = Arc::new(AtomicUsize::new(0));
        let counted = asked.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let (stream, counted) = (stream.unwrap(), counted.clone());
                std::thread::spawn(move || {
                    let mut request = BufReader::new(&stream);
                    let mut line = String::new();
                    while request.read_line(&mut line).is_ok_and(|n| n > 2) {
                        line.clear();
                    }
                    counted.fetch_add(1, Ordering::SeqCst);
                    let mut out = &stream;
                    let head =
                        format!("HTTP/1.1 200 OK\r\ncontent-length: {}\r\n\r\n", scene.len());
                    out.write_all(head.as_bytes()).unwrap();
                    for piece in scene.chunks(8) {
                        std::thread::sleep(Duration::from_millis(50));
                        out.write_all(piece).unwrap();
                    }
                });
            }
        });
        (url, asked)
    }

    #[test]
    fn the_tasks_in_hand_of_one_scene_fetch_it_once() {
        const SCENE: &[u8] = br#"{"asset":{"version":"2.0"}}"#;
        let (url, asked) = slow_scene_server(SCENE);
        let dir = tempfile::tempdir().unwrap();
        let link = Arc::new(HttpLink::new(
            Client::new(&url, Some("worker-token")),
            SceneStore::open(dir.path()).unwrap(),
            1 << 30,
        ));
        let hash = SceneHash::of(SCENE);
        let fetches: Vec<_> = (0..4)
            .map(|_| {
                let link = link.clone();
                std::thread::spawn(move || link.scene_path(hash).unwrap())
            })
            .collect();
        let paths: Vec<PathBuf> = fetches.into_iter().map(|t| t.join().unwrap()).collect();
        assert_eq!(
            asked.load(Ordering::SeqCst),
            1,
            "one download for four tasks"
        );
        assert!(paths.iter().all(|p| p == &paths[0]), "{paths:?}");
        assert_eq!(std::fs::read(&paths[0]).unwrap(), SCENE);
        assert!(link.fetching.lock().unwrap().is_empty(), "no turn kept");
    }
}
