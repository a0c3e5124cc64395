//! The farm's errors, named for the farm; the HTTP server alone maps them to status codes.

use tessera_protocol::api::JobState;
use tessera_protocol::id::{JobId, TaskId};
use tessera_protocol::scene::SceneStoreError;
use tessera_renderer::output::OutputError;
use tessera_transport::TransportError;

use crate::store::StoreError;

/// What can go wrong in the farm.
#[derive(Debug, thiserror::Error)]
pub enum FarmError {
    #[error("{0}")]
    InvalidJob(String),
    #[error("{0}")]
    SceneRejected(String),
    #[error("{0}")]
    QuotaExceeded(String),
    #[error("no job {0}")]
    UnknownJob(JobId),
    #[error("job {job} has no frame {frame}")]
    UnknownFrame { job: JobId, frame: u32 },
    #[error("job {job} is already {}", .state.as_str())]
    JobNotRunning { job: JobId, state: JobState },
    #[error("frame {frame} of job {job} is not finished")]
    FrameNotFinished { job: JobId, frame: u32 },
    #[error("at most {limit} event streams may be open at once with one token; close one first")]
    TooManyWatchers { limit: usize },
    #[error("the stored tile of task {task} is unusable: {reason}")]
    CorruptTile { task: TaskId, reason: String },
    #[error("frame {frame} of job {job} is missing tiles in the store")]
    IncompleteFrame { job: JobId, frame: u32 },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Scenes(#[from] SceneStoreError),
    #[error(transparent)]
    Transport(#[from] TransportError),
    #[error("{what}: {source}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Output(#[from] OutputError),
}

impl FarmError {
    /// Whether doing the same again fails the same way, whatever the wait: the store refused
    /// the values ([`crate::store::DbError::is_permanent`]) or holds what it cannot read.
    pub(crate) fn is_permanent(&self) -> bool {
        match self {
            FarmError::Store(StoreError::Database(e)) => e.is_permanent(),
            FarmError::Store(StoreError::Corrupt(_)) => true,
            _ => false,
        }
    }

    pub(crate) fn from_store(e: StoreError) -> Self {
        match e {
            StoreError::UnknownJob(id) => FarmError::UnknownJob(id),
            e => FarmError::Store(e),
        }
    }
}

pub(crate) fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> FarmError {
    let what = what.into();
    move |source| FarmError::Io { what, source }
}
