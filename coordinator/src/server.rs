//! The coordinator's HTTP server: the API's routes over the farm (JSON; errors as
//! `{"error": "..."}`). The only place where the farm's errors become HTTP status codes. The
//! routes are listed in the README; their request and answer types are the protocol's.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use tessera_protocol::api::{InvoiceView, JobState, JobStateView, JobView, Submitted, WorkerView};
use tessera_protocol::id::JobId;
use tessera_protocol::job::JobOptions;
use tessera_protocol::result::WorkerInfo;
use tessera_protocol::scene::{BadSceneHash, SceneHash, SceneStoreError};
use tessera_transport::Transport;

use crate::error::FarmError;
use crate::farm::{Farm, Submission};
use crate::store::JobRecord;

/// Largest scene accepted.
const MAX_SCENE_BYTES: usize = 1 << 30;

/// A submission from `POST /api/jobs`: the job's options and the scene's name and priority
/// from the query, the scene from the body.
fn submission(query: &HashMap<String, String>, scene: Vec<u8>) -> Result<Submission, FarmError> {
    let invalid = |e: &dyn std::fmt::Display| FarmError::InvalidJob(e.to_string());
    let options = JobOptions::from_query(query).map_err(|e| invalid(&e))?;
    let scene_name = query.get("scene_name").map_or("", |s| s.trim());
    if scene_name.is_empty() {
        return Err(FarmError::InvalidJob("scene_name is missing".into()));
    }
    let priority = match query.get("priority") {
        Some(p) => p
            .parse()
            .map_err(|_| FarmError::InvalidJob(format!("invalid value '{p}' for 'priority'")))?,
        None => 0,
    };
    if scene.is_empty() {
        return Err(FarmError::InvalidJob("the scene is empty".into()));
    }
    Ok(Submission {
        scene_name: scene_name.to_owned(),
        scene,
        options,
        priority,
    })
}

struct ApiError(StatusCode, String);

impl From<FarmError> for ApiError {
    fn from(e: FarmError) -> Self {
        let status = match &e {
            FarmError::InvalidJob(_) => StatusCode::BAD_REQUEST,
            FarmError::SceneRejected(_) => StatusCode::UNPROCESSABLE_ENTITY,
            FarmError::UnknownJob(_) | FarmError::UnknownFrame { .. } => StatusCode::NOT_FOUND,
            FarmError::Scenes(SceneStoreError::Missing(_)) => StatusCode::NOT_FOUND,
            FarmError::JobNotRunning { .. } | FarmError::FrameNotFinished { .. } => {
                StatusCode::CONFLICT
            }
            FarmError::Transport(_) => StatusCode::SERVICE_UNAVAILABLE,
            FarmError::CorruptTile { .. }
            | FarmError::IncompleteFrame { .. }
            | FarmError::Store(_)
            | FarmError::Scenes(_)
            | FarmError::Io { .. }
            | FarmError::Output(_) => StatusCode::INTERNAL_SERVER_ERROR,
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
    query: Result<Query<HashMap<String, String>>, axum::extract::rejection::QueryRejection>,
    body: Bytes,
) -> ApiResult<(StatusCode, Json<Submitted>)> {
    let Query(query) = query.map_err(|e| ApiError(StatusCode::BAD_REQUEST, e.body_text()))?;
    let submission = submission(&query, body.to_vec())?;
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
) -> ApiResult<Json<JobStateView>> {
    let id = job_id(&id)?;
    let state = farm
        .store()
        .job_state(id)
        .map_err(|_| FarmError::UnknownJob(id))?;
    Ok(Json(JobStateView { id, state }))
}

async fn cancel<T: Transport>(
    State(farm): State<Arc<Farm<T>>>,
    Path(id): Path<String>,
) -> ApiResult<Json<JobStateView>> {
    let id = job_id(&id)?;
    farm.cancel(id)?;
    Ok(Json(JobStateView {
        id,
        state: JobState::Cancelled,
    }))
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
    let hash: SceneHash = hash
        .parse()
        .map_err(|e: BadSceneHash| ApiError(StatusCode::BAD_REQUEST, e.to_string()))?;
    let bytes = farm.scenes().read(hash).map_err(FarmError::from)?;
    Ok(([(header::CONTENT_TYPE, "application/octet-stream")], bytes).into_response())
}

async fn list_workers<T: Transport>(
    State(farm): State<Arc<Farm<T>>>,
) -> ApiResult<Json<Vec<WorkerView>>> {
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
