//! Where a worker gets its scenes, and whom it asks whether a job still runs: the coordinator
//! over HTTP, with scenes cached on disk by hash (or, for `tessera render`, the coordinator in the
//! same process).

use std::path::PathBuf;

use tessera_protocol::api::JobState;
use tessera_protocol::client::Client;
use tessera_protocol::id::JobId;
use tessera_protocol::result::WorkerInfo;
use tessera_protocol::scene::{SceneHash, SceneStore};

/// Where a worker gets scenes and asks whether a job still runs.
pub trait SceneSource: Send + Sync + 'static {
    /// A local path holding the scene blob, checked against its hash.
    fn scene_path(&self, hash: SceneHash) -> Result<PathBuf, String>;
    /// False for a job cancelled or failed: its remaining tasks are skipped.
    fn job_is_running(&self, job: JobId) -> bool;
    fn announce(&self, worker: &WorkerInfo);
}

/// Scenes over HTTP from the coordinator, cached on disk by hash.
pub struct HttpSceneSource {
    client: Client,
    cache: SceneStore,
}

impl HttpSceneSource {
    pub fn new(client: Client, cache: SceneStore) -> Self {
        Self { client, cache }
    }
}

impl SceneSource for HttpSceneSource {
    fn scene_path(&self, hash: SceneHash) -> Result<PathBuf, String> {
        if !self.cache.contains(hash) {
            let bytes = self.client.scene(hash).map_err(|e| e.to_string())?;
            self.cache
                .put_checked(hash, &bytes)
                .map_err(|e| e.to_string())?;
        }
        self.cache.scene_file(hash).map_err(|e| e.to_string())
    }

    fn job_is_running(&self, job: JobId) -> bool {
        // When the coordinator cannot be asked, render: a wasted tile is cheaper than a lost one.
        self.client
            .job_state(job)
            .map_or(true, |state| state == JobState::Running)
    }

    fn announce(&self, worker: &WorkerInfo) {
        if let Err(e) = self.client.announce(worker) {
            tracing::warn!(error = %e, "cannot announce this worker to the coordinator");
        }
    }
}
