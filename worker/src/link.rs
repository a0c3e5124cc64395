//! The worker's link to its coordinator: where scenes come from, how a task taken from the
//! queue is claimed, and the heartbeat that keeps its leases. Over HTTP with scenes cached on
//! disk by hash, or (for `tessera render`) straight to the coordinator in the same process.

use std::path::PathBuf;

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
}

impl HttpLink {
    pub fn new(client: Client, cache: SceneStore, cache_bytes: u64) -> Self {
        Self {
            client,
            cache,
            cache_bytes,
        }
    }
}

impl Link for HttpLink {
    fn scene_path(&self, hash: SceneHash) -> Result<PathBuf, String> {
        if self.cache.contains(hash) {
            // Failing, the scene is only let go sooner.
            if let Err(e) = self.cache.mark_used(hash) {
                tracing::debug!(error = %e, "cannot mark a cached scene used");
            }
        } else {
            let bytes = self.client.scene(hash).map_err(|e| e.to_string())?;
            self.cache
                .put_checked(hash, &bytes)
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
