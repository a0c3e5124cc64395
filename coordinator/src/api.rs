//! The coordinator's HTTP API (JSON; errors as `{"error": "..."}` with a fitting status). The
//! routes are listed in the README.

use std::num::NonZeroU32;
use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::{Deserialize, Serialize};
use tessera_renderer::integrator::{MaxDepth, RenderSettings, Spp};

use crate::coordinator::{Farm, FarmError, Submission, scene_hash};
use crate::job::{Fps, FrameSet, SizeRequest};
use crate::ledger::Money;
use crate::scene_store::SceneStoreError;
use crate::store::{FrameProgress, JobRecord, JobState, LedgerRow, WorkerRecord};
use crate::task_message::JobId;
use crate::tile_result::WorkerInfo;
use crate::transport::Transport;

/// Largest scene accepted.
const MAX_SCENE_BYTES: usize = 1 << 30;

/// The render options of a submission, as query parameters of `POST /api/jobs`.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct SubmitParams {
    pub scene_name: String,
    pub frames: String,
    pub width: Option<u32>,
    pub height: Option<u32>,
    pub spp: Option<u32>,
    pub max_depth: Option<u32>,
    pub tile: Option<u32>,
    pub seed: Option<u64>,
    pub fps: Option<f64>,
    pub camera: Option<String>,
    pub priority: Option<i32>,
}

impl SubmitParams {
    /// As query pairs, leaving out what is unset.
    pub fn query(&self) -> Vec<(&'static str, String)> {
        let mut q = vec![
            ("scene_name", self.scene_name.clone()),
            ("frames", self.frames.clone()),
        ];
        let mut opt = |k: &'static str, v: Option<String>| {
            if let Some(v) = v {
                q.push((k, v));
            }
        };
        opt("width", self.width.map(|v| v.to_string()));
        opt("height", self.height.map(|v| v.to_string()));
        opt("spp", self.spp.map(|v| v.to_string()));
        opt("max_depth", self.max_depth.map(|v| v.to_string()));
        opt("tile", self.tile.map(|v| v.to_string()));
        opt("seed", self.seed.map(|v| v.to_string()));
        opt("fps", self.fps.map(|v| v.to_string()));
        opt("camera", self.camera.clone());
        opt("priority", self.priority.map(|v| v.to_string()));
        q
    }

    /// Checks every option, with the same defaults as `tessera render`.
    fn into_submission(self, scene: Vec<u8>) -> Result<Submission, FarmError> {
        let bad = |e: &dyn std::fmt::Display| FarmError::BadRequest(e.to_string());
        let frames: FrameSet = self.frames.parse().map_err(|e| bad(&e))?;
        let tile = self.tile.unwrap_or(64);
        let tile_size = NonZeroU32::new(tile)
            .ok_or_else(|| FarmError::BadRequest("tile size must be at least 1 pixel".into()))?;
        if self.scene_name.trim().is_empty() {
            return Err(FarmError::BadRequest("scene_name is missing".into()));
        }
        if scene.is_empty() {
            return Err(FarmError::BadRequest("the scene is empty".into()));
        }
        Ok(Submission {
            scene_name: self.scene_name,
            scene,
            frames,
            size: SizeRequest::from_sides(self.width, self.height).map_err(|e| bad(&e))?,
            settings: RenderSettings {
                spp: Spp::new(self.spp.unwrap_or(64)).map_err(|e| bad(&e))?,
                max_depth: MaxDepth::new(self.max_depth.unwrap_or(8)).map_err(|e| bad(&e))?,
                seed: self.seed.unwrap_or(0),
            },
            tile_size,
            fps: Fps::new(self.fps.unwrap_or(24.0)).map_err(|e| bad(&e))?,
            camera: self.camera,
            priority: self.priority.unwrap_or(0),
        })
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Submitted {
    pub id: JobId,
}

/// A job as the API shows it.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct JobView {
    pub id: JobId,
    pub state: JobState,
    pub reason: Option<String>,
    pub scene_name: String,
    pub scene: String,
    pub frames: String,
    pub width: u32,
    pub height: u32,
    pub spp: u32,
    pub tile: u32,
    pub priority: i32,
    pub tasks_total: u64,
    pub tasks_done: u64,
    pub frame_progress: Vec<FrameProgress>,
    /// What the accepted tasks cost so far.
    pub cost: Money,
    pub submitted_at: f64,
    pub finished_at: Option<f64>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct InvoiceView {
    pub job: JobId,
    pub rows: Vec<LedgerRow>,
    pub total: Money,
}

struct ApiError(StatusCode, String);

impl From<FarmError> for ApiError {
    fn from(e: FarmError) -> Self {
        let status = match &e {
            FarmError::BadRequest(_) => StatusCode::BAD_REQUEST,
            FarmError::BadScene(_) => StatusCode::UNPROCESSABLE_ENTITY,
            FarmError::UnknownJob(_) | FarmError::NotFound(_) => StatusCode::NOT_FOUND,
            FarmError::Scenes(SceneStoreError::Missing(_)) => StatusCode::NOT_FOUND,
            FarmError::Conflict(_) => StatusCode::CONFLICT,
            FarmError::Transport(_) => StatusCode::SERVICE_UNAVAILABLE,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        };
        ApiError(status, e.to_string())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.0, Json(serde_json::json!({ "error": self.1 }))).into_response()
    }
}

type ApiResult<T> = Result<T, ApiError>;

fn job_id(raw: &str) -> Result<JobId, ApiError> {
    raw.parse()
        .map_err(|e: String| ApiError(StatusCode::NOT_FOUND, e))
}

pub fn router<T: Transport>(farm: Arc<Farm<T>>) -> Router {
    Router::new()
        .route("/api/jobs", post(submit::<T>).get(list_jobs::<T>))
        .route("/api/jobs/{id}", get(show_job::<T>))
        .route("/api/jobs/{id}/state", get(job_state::<T>))
        .route("/api/jobs/{id}/cancel", post(cancel::<T>))
        .route("/api/jobs/{id}/invoice", get(invoice::<T>))
        .route("/api/jobs/{id}/frames/{frame}", get(frame::<T>))
        .route("/api/scenes/{hash}", get(scene::<T>))
        .route("/api/workers", get(list_workers::<T>).post(announce::<T>))
        .fallback(|| async { ApiError(StatusCode::NOT_FOUND, "no such API route".into()) })
        .layer(DefaultBodyLimit::max(MAX_SCENE_BYTES))
        .with_state(farm)
}

async fn submit<T: Transport>(
    State(farm): State<Arc<Farm<T>>>,
    query: Result<Query<SubmitParams>, axum::extract::rejection::QueryRejection>,
    body: Bytes,
) -> ApiResult<(StatusCode, Json<Submitted>)> {
    let Query(params) = query.map_err(|e| ApiError(StatusCode::BAD_REQUEST, e.body_text()))?;
    let submission = params.into_submission(body.to_vec())?;
    let id = farm.submit(submission).await?;
    Ok((StatusCode::CREATED, Json(Submitted { id })))
}

fn view<T: Transport>(farm: &Farm<T>, job: JobRecord) -> Result<JobView, FarmError> {
    let store = farm.store();
    Ok(JobView {
        id: job.id,
        state: job.state,
        reason: job.reason,
        scene_name: job.scene_name,
        scene: job.scene.to_string(),
        frames: job.spec.frames.to_string(),
        width: job.spec.resolution.width(),
        height: job.spec.resolution.height(),
        spp: job.spec.settings.spp.get(),
        tile: job.spec.tile_size.get(),
        priority: job.priority,
        tasks_total: job.tasks_total,
        tasks_done: job.tasks_done,
        frame_progress: store.frame_progress(job.id)?,
        cost: store.invoice_total(job.id)?,
        submitted_at: job.submitted_at,
        finished_at: job.finished_at,
    })
}

async fn list_jobs<T: Transport>(
    State(farm): State<Arc<Farm<T>>>,
) -> ApiResult<Json<Vec<JobView>>> {
    let jobs = farm.store().jobs().map_err(FarmError::from)?;
    let views = jobs
        .into_iter()
        .map(|j| view(&farm, j))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Json(views))
}

async fn show_job<T: Transport>(
    State(farm): State<Arc<Farm<T>>>,
    Path(id): Path<String>,
) -> ApiResult<Json<JobView>> {
    let job = farm.job(job_id(&id)?)?;
    Ok(Json(view(&farm, job)?))
}

async fn job_state<T: Transport>(
    State(farm): State<Arc<Farm<T>>>,
    Path(id): Path<String>,
) -> ApiResult<Json<serde_json::Value>> {
    let id = job_id(&id)?;
    let state = farm
        .store()
        .job_state(id)
        .map_err(|_| FarmError::UnknownJob(id))?;
    Ok(Json(serde_json::json!({ "id": id, "state": state })))
}

async fn cancel<T: Transport>(
    State(farm): State<Arc<Farm<T>>>,
    Path(id): Path<String>,
) -> ApiResult<Json<serde_json::Value>> {
    let id = job_id(&id)?;
    farm.cancel(id)?;
    Ok(Json(
        serde_json::json!({ "id": id, "state": JobState::Cancelled }),
    ))
}

async fn invoice<T: Transport>(
    State(farm): State<Arc<Farm<T>>>,
    Path(id): Path<String>,
) -> ApiResult<Json<InvoiceView>> {
    let id = job_id(&id)?;
    farm.job(id)?;
    let rows = farm.store().ledger(id).map_err(FarmError::from)?;
    let total = farm.store().invoice_total(id).map_err(FarmError::from)?;
    Ok(Json(InvoiceView {
        job: id,
        rows,
        total,
    }))
}

async fn frame<T: Transport>(
    State(farm): State<Arc<Farm<T>>>,
    Path((id, frame)): Path<(String, String)>,
) -> ApiResult<Response> {
    let id = job_id(&id)?;
    let number = frame.trim_end_matches(".exr").parse::<u32>().map_err(|_| {
        ApiError(
            StatusCode::NOT_FOUND,
            format!("'{frame}' is not a frame number"),
        )
    })?;
    let path = farm.frame_file(id, number)?;
    let bytes = tokio::fs::read(&path).await.map_err(|e| {
        ApiError(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("cannot read frame: {e}"),
        )
    })?;
    Ok(([(header::CONTENT_TYPE, "image/x-exr")], bytes).into_response())
}

async fn scene<T: Transport>(
    State(farm): State<Arc<Farm<T>>>,
    Path(hash): Path<String>,
) -> ApiResult<Response> {
    let hash = scene_hash(&hash)?;
    let bytes = farm.scenes().read(hash).map_err(FarmError::from)?;
    Ok(([(header::CONTENT_TYPE, "application/octet-stream")], bytes).into_response())
}

async fn list_workers<T: Transport>(
    State(farm): State<Arc<Farm<T>>>,
) -> ApiResult<Json<Vec<WorkerRecord>>> {
    Ok(Json(farm.store().workers().map_err(FarmError::from)?))
}

async fn announce<T: Transport>(
    State(farm): State<Arc<Farm<T>>>,
    Json(worker): Json<WorkerInfo>,
) -> ApiResult<StatusCode> {
    tracing::info!(worker = %worker.name, device = %worker.device, "worker announced");
    farm.store()
        .announce_worker(&worker)
        .map_err(FarmError::from)?;
    Ok(StatusCode::NO_CONTENT)
}
