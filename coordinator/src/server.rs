//! The coordinator's HTTP server: the API's routes over the farm (JSON; errors as
//! `{"error": "..."}`). The only place where the farm's errors become HTTP status codes.
//!
//! Every route is in [`ROUTES`] with the roles that may call it, and the router is built from
//! that table: a request without a valid bearer token gets 401, one with a token of another role
//! 403, before any handler runs. A tenant's jobs are invisible (404) to other tenants.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use axum::body::{Body, Bytes};
use axum::extract::{DefaultBodyLimit, FromRequestParts, MatchedPath, Path, Query, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, get, post};
use axum::{Extension, Json, Router};
use futures_lite::StreamExt;
use tessera_protocol::api::{
    ErrorView, FrameEvent, JobState, JobStateView, JobView, Me, Quote, Submitted, TaskState,
    TileEvent, WorkerView,
};
use tessera_protocol::auth::{IssuedToken, NewToken, Role, TokenView, Trust};
use tessera_protocol::id::JobId;
use tessera_protocol::job::JobOptions;
use tessera_protocol::lease::{Claim, ClaimRequest, Heartbeat, MAX_HEARTBEAT_LEASES};
use tessera_protocol::metrics;
use tessera_protocol::money::Money;
use tessera_protocol::printable::is_printable;
use tessera_protocol::result::WorkerInfo;
use tessera_protocol::scene::{BadSceneHash, SceneHash, SceneStoreError};
use tessera_transport::Transport;

use crate::error::FarmError;
use crate::farm::{Farm, Submission};
use crate::listings::{Listed, Listing, Listings};
use crate::live::{self, LiveEvent};
use crate::openapi;
use crate::routes::{Access, Endpoint, ROUTES};
use crate::store::{JobPage, JobRecord, Principal, RowPage, TaskRecord, TokenError};
use crate::untrusted::{self, LABEL_RULE, is_label, printable};

type FarmState<T> = Arc<Farm<T>>;

/// The largest JSON request body read: a worker's or client's claims are read whole before
/// they are checked.
const JSON_BODY_BYTES: usize = 64 * 1024;
/// A heartbeat's body: as many lease ids as it may name, quoted and separated, with room to spare.
const HEARTBEAT_BODY_BYTES: usize = 48 * MAX_HEARTBEAT_LEASES;

fn handler<T: Transport>(endpoint: Endpoint) -> MethodRouter<FarmState<T>> {
    match endpoint {
        Endpoint::Dashboard(asset) => get(move || async move {
            let (kind, text) = asset.file();
            ([(header::CONTENT_TYPE, kind)], text)
        }),
        Endpoint::OpenApi => get(|| async { Json(openapi::document()) }),
        Endpoint::Me => get(me),
        Endpoint::Submit => post(submit::<T>),
        Endpoint::Quote => post(quote::<T>),
        Endpoint::ListJobs => get(list_jobs::<T>),
        Endpoint::ShowJob => get(show_job::<T>),
        Endpoint::Cancel => post(cancel::<T>),
        Endpoint::Invoice => get(invoice::<T>),
        Endpoint::Tasks => get(tasks::<T>),
        Endpoint::Events => get(events::<T>),
        Endpoint::Frame => get(frame::<T>),
        Endpoint::Scene => get(scene::<T>),
        Endpoint::ListWorkers => get(list_workers::<T>),
        Endpoint::Announce => post(announce::<T>),
        Endpoint::Heartbeat => {
            post(heartbeat::<T>).layer(DefaultBodyLimit::max(HEARTBEAT_BODY_BYTES))
        }
        Endpoint::Drain => post(drain::<T>),
        Endpoint::Readmit => post(readmit::<T>),
        Endpoint::Claim => post(claim::<T>),
        Endpoint::CreateToken => post(create_token::<T>),
        Endpoint::ListTokens => get(list_tokens::<T>),
        Endpoint::RevokeToken => post(revoke_token::<T>),
        Endpoint::Metrics => get(metrics::<T>),
    }
}

pub fn router<T: Transport>(farm: Arc<Farm<T>>) -> Router {
    let mut router = Router::new();
    for r in &ROUTES {
        let mut method_router = handler::<T>(r.endpoint);
        if let Access::Roles(roles) = r.access {
            method_router = method_router.route_layer(middleware::from_fn_with_state(
                farm.clone(),
                move |state, request, next| authorize::<T>(roles, state, request, next),
            ));
        }
        router = router.route(r.path, method_router);
    }
    router
        .fallback(|| async { ApiError(StatusCode::NOT_FOUND, "no such API route".into()) })
        .layer(Extension(Arc::new(Listings::default())))
        .layer(middleware::from_fn_with_state(farm.clone(), timed::<T>))
        // JSON requests are small: a claim names at most 16 tasks (a heartbeat, which may name
        // thousands of leases, has its own limit). Scenes are streamed to disk under the farm's
        // own limit, which this one does not touch.
        .layer(DefaultBodyLimit::max(JSON_BODY_BYTES))
        .layer(middleware::from_fn(hardened))
        .with_state(farm)
}

/// What the dashboard's page may load and connect to: its own files and this server, images
/// also from `data:` and `blob:` URLs (tile previews, downloads), inline styles (its progress
/// bars); never framed. A slip in its escaping then still cannot send a token elsewhere, nor a
/// framing page steal a click on Drain.
const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; img-src 'self' data: blob:; \
     style-src 'self' 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'; \
     form-action 'none'";

/// Headers on every response: the policy above, no content sniffing, no referrer, and no
/// copy in a browser's cache of what a token showed (frames, invoices) unless the route says
/// how to cache it.
async fn hardened(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    for (name, value) in [
        (header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::REFERRER_POLICY, "no-referrer"),
    ] {
        headers.insert(name, HeaderValue::from_static(value));
    }
    headers
        .entry(header::CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-store"));
    response
}

/// Measures each request, by its route, for `/metrics`.
async fn timed<T: Transport>(
    State(farm): State<FarmState<T>>,
    request: Request,
    next: Next,
) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", MatchedPath::as_str)
        .to_owned();
    let started = std::time::Instant::now();
    let response = next.run(request).await;
    farm.measured
        .api
        .observe_for(&route, started.elapsed().as_secs_f64());
    response
}

/// Lets the request through with its [`Principal`] when its bearer token is valid and of one of
/// `roles`.
async fn authorize<T: Transport>(
    roles: &'static [Role],
    State(farm): State<FarmState<T>>,
    mut request: Request,
    next: Next,
) -> Response {
    let secret = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim);
    let Some(secret) = secret else {
        return ApiError(
            StatusCode::UNAUTHORIZED,
            "this request needs a token: Authorization: Bearer TOKEN (tessera ... --token)".into(),
        )
        .into_response();
    };
    let principal = match farm.store().authenticate(secret) {
        Ok(p) => p,
        Err(TokenError::Invalid) => {
            return ApiError(StatusCode::UNAUTHORIZED, "unknown or revoked token".into())
                .into_response();
        }
        Err(e) => {
            return ApiError(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response();
        }
    };
    if !roles.contains(&principal.role()) {
        return ApiError(
            StatusCode::FORBIDDEN,
            format!("a {} token may not do this", principal.role().as_str()),
        )
        .into_response();
    }
    let credential = Credential(secret.to_owned());
    request.extensions_mut().insert(principal);
    request.extensions_mut().insert(credential);
    next.run(request).await
}

/// The token a request came with, for what outlives the request (an event stream) to ask
/// whether it is still valid. Never shown: no `Debug`.
#[derive(Clone)]
struct Credential(String);

struct ApiError(StatusCode, String);

impl From<FarmError> for ApiError {
    fn from(e: FarmError) -> Self {
        let status = match &e {
            FarmError::InvalidJob(_) => StatusCode::BAD_REQUEST,
            FarmError::SceneRejected(_) => StatusCode::UNPROCESSABLE_ENTITY,
            FarmError::QuotaExceeded(_) => StatusCode::PAYLOAD_TOO_LARGE,
            FarmError::UnknownJob(_) | FarmError::UnknownFrame { .. } => StatusCode::NOT_FOUND,
            FarmError::Scenes(SceneStoreError::Missing(_)) => StatusCode::NOT_FOUND,
            FarmError::JobNotRunning { .. } | FarmError::FrameNotFinished { .. } => {
                StatusCode::CONFLICT
            }
            FarmError::TooManyWatchers { .. } => StatusCode::TOO_MANY_REQUESTS,
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

impl From<TokenError> for ApiError {
    fn from(e: TokenError) -> Self {
        match e {
            TokenError::BadRequest(m) => ApiError(StatusCode::BAD_REQUEST, m),
            TokenError::Invalid => ApiError(StatusCode::NOT_FOUND, e.to_string()),
            TokenError::Store(e) => ApiError(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        // Messages quote what requests held (a parameter's value, a scene's names): whatever
        // shows them, a dashboard or a script's terminal, gets no control character.
        let error = self
            .1
            .chars()
            .map(|c| if is_printable(c) { c } else { ' ' })
            .collect();
        (self.0, Json(ErrorView { error })).into_response()
    }
}

type ApiResult<T> = Result<T, ApiError>;

/// A JSON body whose refusal (malformed, wrong content type) is answered as every other error.
struct JsonBody<T>(T);

impl<T, S> axum::extract::FromRequest<S> for JsonBody<T>
where
    Json<T>: axum::extract::FromRequest<S, Rejection = axum::extract::rejection::JsonRejection>,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        match Json::<T>::from_request(request, state).await {
            Ok(Json(value)) => Ok(JsonBody(value)),
            Err(e) => Err(ApiError(e.status(), e.body_text())),
        }
    }
}

/// A route's path parameters, whose refusal (a segment that is not UTF-8 once decoded, as
/// `%FF`) is answered as every other error, not in axum's plain text.
struct Segments<T>(T);

impl<T, S> FromRequestParts<S> for Segments<T>
where
    T: serde::de::DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &S,
    ) -> Result<Self, ApiError> {
        match Path::<T>::from_request_parts(parts, state).await {
            Ok(Path(value)) => Ok(Segments(value)),
            Err(e) => Err(ApiError(e.status(), printable(&e.body_text(), 200))),
        }
    }
}

fn job_id(raw: &str) -> Result<JobId, ApiError> {
    raw.parse()
        .map_err(|e: String| ApiError(StatusCode::NOT_FOUND, e))
}

/// The job, if `who` may see it: another tenant's job does not exist for them.
fn visible_job<T: Transport>(
    farm: &Farm<T>,
    who: &Principal,
    raw: &str,
) -> Result<JobRecord, ApiError> {
    let id = job_id(raw)?;
    let job = farm.job(id)?;
    if !who.sees_tenant(&job.tenant) {
        return Err(FarmError::UnknownJob(id).into());
    }
    Ok(job)
}

async fn submit<T: Transport>(
    State(farm): State<FarmState<T>>,
    Extension(who): Extension<Principal>,
    query: Result<Query<HashMap<String, String>>, axum::extract::rejection::QueryRejection>,
    body: Body,
) -> ApiResult<(StatusCode, Json<Submitted>)> {
    let (submission, _upload) = submission(&farm, &who, query, body).await?;
    let id = farm.submit(submission).await?;
    Ok((StatusCode::CREATED, Json(Submitted { id })))
}

async fn quote<T: Transport>(
    State(farm): State<FarmState<T>>,
    Extension(who): Extension<Principal>,
    query: Result<Query<HashMap<String, String>>, axum::extract::rejection::QueryRejection>,
    body: Body,
) -> ApiResult<Json<Quote>> {
    let (submission, _upload) = submission(&farm, &who, query, body).await?;
    Ok(Json(farm.quote(&submission).await?))
}

/// A submission from a request: the scene its body (received into the returned temporary
/// file, removed when that is dropped), the options its query.
async fn submission<T: Transport>(
    farm: &Farm<T>,
    who: &Principal,
    query: Result<Query<HashMap<String, String>>, axum::extract::rejection::QueryRejection>,
    body: Body,
) -> ApiResult<(Submission, tempfile::TempPath)> {
    let Query(query) = query.map_err(|e| ApiError(StatusCode::BAD_REQUEST, e.body_text()))?;
    // The body is taken in before any refusal: a client still sending would otherwise see a
    // broken connection instead of the reason.
    let scene = receive_scene(farm, body).await?;
    let tenant = match who {
        Principal::Submitter { tenant, .. } => tenant.clone(),
        _ => operator_tenant(query.get("tenant").cloned())?.unwrap_or_else(|| "operator".into()),
    };
    let invalid = |m: String| ApiError(StatusCode::BAD_REQUEST, m);
    let options = JobOptions::from_query(&query).map_err(|e| invalid(e.to_string()))?;
    let scene_name = printable(query.get("scene_name").map_or("", String::as_str), 200);
    if scene_name.is_empty() {
        return Err(invalid("scene_name is missing".into()));
    }
    let priority = match query.get("priority") {
        Some(p) => p
            .parse()
            .map_err(|_| invalid(format!("invalid value '{p}' for 'priority'")))?,
        None => 0,
    };
    let max_cost = query
        .get("max_cost")
        .map(|m| m.parse::<Money>())
        .transpose()
        .map_err(invalid)?;
    let trust = match query.get("trust") {
        Some(t) => Trust::from_name(t).ok_or_else(|| {
            invalid(format!(
                "invalid value '{}' for 'trust': expected 'any' or 'verified'",
                printable(t, 40)
            ))
        })?,
        None => Trust::Any,
    };
    let submission = Submission {
        scene_name,
        scene: scene.to_path_buf(),
        options,
        priority,
        tenant,
        max_cost,
        trust,
    };
    Ok((submission, scene))
}

/// Streams a request body to a temporary file in the data directory, up to the farm's limit.
async fn receive_scene<T: Transport>(
    farm: &Farm<T>,
    body: Body,
) -> Result<tempfile::TempPath, ApiError> {
    let internal = |e: std::io::Error| ApiError(StatusCode::INTERNAL_SERVER_ERROR, e.to_string());
    let dir = farm.upload_dir().map_err(internal)?;
    let file = tempfile::NamedTempFile::new_in(dir).map_err(internal)?;
    let (file, path) = file.into_parts();
    let mut file = tokio::fs::File::from_std(file);
    let mut stream = body.into_data_stream();
    let limit = farm.limits.max_scene_bytes;
    let mut received: u64 = 0;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| ApiError(StatusCode::BAD_REQUEST, e.to_string()))?;
        received += chunk.len() as u64;
        if received > limit {
            // Read on (and drop) a while, so a client still sending gets the reason rather than
            // a broken connection; not forever.
            while received <= limit.saturating_mul(4) {
                match stream.next().await {
                    Some(Ok(more)) => received += more.len() as u64,
                    _ => break,
                }
            }
            return Err(ApiError(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("the scene is larger than the limit of {} MiB", limit >> 20),
            ));
        }
        tokio::io::AsyncWriteExt::write_all(&mut file, &chunk)
            .await
            .map_err(internal)?;
    }
    tokio::io::AsyncWriteExt::flush(&mut file)
        .await
        .map_err(internal)?;
    if received == 0 {
        return Err(ApiError(
            StatusCode::BAD_REQUEST,
            "the scene is empty".into(),
        ));
    }
    Ok(path)
}

/// `job` as the API shows it; with each frame's progress where `frames`, as one job's view.
fn view<T: Transport>(farm: &Farm<T>, job: JobRecord, frames: bool) -> Result<JobView, FarmError> {
    let store = farm.store();
    Ok(JobView {
        id: job.id,
        tenant: job.tenant,
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
        frame_progress: match frames {
            true => store.frame_progress(job.id)?,
            false => Vec::new(),
        },
        cost: job.cost,
        max_cost: job.max_cost,
        trust: job.trust,
        quote: job.quote,
        submitted_at: job.submitted_at,
        finished_at: job.finished_at,
    })
}

/// The state a listing is filtered by, if its query names one.
fn state_filter<S>(
    raw: Option<String>,
    parse: fn(&str) -> Option<S>,
    what: &str,
) -> Result<Option<S>, ApiError> {
    raw.map(|s| {
        parse(&s).ok_or_else(|| {
            ApiError(
                StatusCode::BAD_REQUEST,
                format!("'{}' is not a {what} state", printable(&s, 40)),
            )
        })
    })
    .transpose()
}

/// The tenant an operator names in a query, which must be one a token could belong to.
fn operator_tenant(tenant: Option<String>) -> ApiResult<Option<String>> {
    match tenant {
        Some(t) if !is_label(&t) => Err(ApiError(
            StatusCode::BAD_REQUEST,
            format!("tenant must be {LABEL_RULE}"),
        )),
        t => Ok(t),
    }
}

#[derive(serde::Deserialize)]
struct JobFilter {
    state: Option<String>,
    tenant: Option<String>,
    limit: Option<String>,
    before: Option<String>,
}

/// The page a job listing's query asks for.
fn job_page(limit: Option<String>, before: Option<String>) -> ApiResult<JobPage> {
    let bad = |what: String| ApiError(StatusCode::BAD_REQUEST, what);
    let before = before
        .map(|b| {
            b.parse::<JobId>()
                .map_err(|_| bad(format!("before: '{}' is not a job id", printable(&b, 40))))
        })
        .transpose()?;
    limit
        .map_or(Some(JobPage::LATEST.limit()), |l| l.parse().ok())
        .and_then(|limit| JobPage::new(before, limit))
        .ok_or_else(|| bad(format!("limit must be 1 to {}", JobPage::MAX)))
}

/// The `Link` header pointing at the page after `listed`, which starts below `next`.
fn next_page_link(listed: &Listed, next: JobId) -> String {
    let mut query = format!("limit={}&before={next}", listed.page.limit());
    if let Some(state) = listed.state {
        query.push_str(&format!("&state={}", state.as_str()));
    }
    // A tenant is a label: nothing in it needs escaping.
    if let Some(tenant) = &listed.tenant {
        query.push_str(&format!("&tenant={tenant}"));
    }
    format!("</api/jobs?{query}>; rel=\"next\"")
}

async fn list_jobs<T: Transport>(
    State(farm): State<FarmState<T>>,
    Extension(who): Extension<Principal>,
    Extension(listings): Extension<Arc<Listings>>,
    filter: Result<Query<JobFilter>, axum::extract::rejection::QueryRejection>,
) -> ApiResult<Response> {
    let Query(filter) = filter.map_err(|e| ApiError(StatusCode::BAD_REQUEST, e.body_text()))?;
    let state = state_filter(filter.state, JobState::from_name, "job")?;
    let tenant = match who {
        // A submitter sees its own tenant, whatever it asks for.
        Principal::Submitter { tenant, .. } => Some(tenant),
        _ => operator_tenant(filter.tenant)?,
    };
    let page = job_page(filter.limit, filter.before)?;
    let listed = Listed {
        tenant,
        state,
        page,
    };
    // Read before the jobs: a job changed meanwhile leaves the snapshot at the older version.
    let taken = Instant::now();
    let version = farm.store().jobs_version().map_err(FarmError::from)?;
    let listing = match listings.fresh(&listed, version) {
        Some(listing) => listing,
        None => {
            let listed_jobs = farm
                .store()
                .jobs(listed.tenant.as_deref(), state, page)
                .map_err(FarmError::from)?;
            let next = listed_jobs
                .more
                .then(|| listed_jobs.jobs.last().map(|j| j.id))
                .flatten();
            let views = listed_jobs
                .jobs
                .into_iter()
                .map(|j| view(&farm, j, false))
                .collect::<Result<Vec<_>, _>>()?;
            let json = Bytes::from(serde_json::to_vec(&views).expect("job views serialize"));
            let listing = Listing { json, next };
            listings.keep(listed.clone(), version, taken, listing.clone());
            listing
        }
    };
    let mut response = ([(header::CONTENT_TYPE, "application/json")], listing.json).into_response();
    if let Some(next) = listing.next {
        let link = HeaderValue::from_str(&next_page_link(&listed, next))
            .expect("a link of labels and numbers is a header value");
        response.headers_mut().insert(header::LINK, link);
    }
    Ok(response)
}

async fn show_job<T: Transport>(
    State(farm): State<FarmState<T>>,
    Extension(who): Extension<Principal>,
    Segments(id): Segments<String>,
) -> ApiResult<Json<JobView>> {
    let job = visible_job(&farm, &who, &id)?;
    Ok(Json(view(&farm, job, true)?))
}

async fn cancel<T: Transport>(
    State(farm): State<FarmState<T>>,
    Extension(who): Extension<Principal>,
    Segments(id): Segments<String>,
) -> ApiResult<Json<JobStateView>> {
    let job = visible_job(&farm, &who, &id)?;
    farm.cancel(job.id)?;
    Ok(Json(JobStateView {
        id: job.id,
        state: JobState::Cancelled,
    }))
}

#[derive(serde::Deserialize)]
struct RowsQuery {
    limit: Option<String>,
    after: Option<String>,
}

/// The page a query of a job's rows asks for.
fn row_page(query: RowsQuery) -> ApiResult<RowPage> {
    let bad = |what: String| ApiError(StatusCode::BAD_REQUEST, what);
    let after = query
        .after
        .map(|a| {
            a.parse::<i64>()
                .ok()
                .filter(|&a| a >= 0)
                .ok_or_else(|| bad(format!("after: '{}' is not a row id", printable(&a, 40))))
        })
        .transpose()?;
    query
        .limit
        .map_or(Some(RowPage::FIRST.limit()), |l| l.parse().ok())
        .and_then(|limit| RowPage::new(after, limit))
        .ok_or_else(|| bad(format!("limit must be 1 to {}", RowPage::MAX)))
}

/// `body` as JSON, with a `Link` header naming the page after it where one follows: `path`
/// with `query` and `after`.
fn paged(body: impl serde::Serialize, path: String, query: String, after: Option<i64>) -> Response {
    let mut response = Json(body).into_response();
    if let Some(after) = after {
        let link = format!("<{path}?{query}&after={after}>; rel=\"next\"");
        let link =
            HeaderValue::from_str(&link).expect("a link of numbers and names is a header value");
        response.headers_mut().insert(header::LINK, link);
    }
    response
}

async fn invoice<T: Transport>(
    State(farm): State<FarmState<T>>,
    Extension(who): Extension<Principal>,
    Segments(id): Segments<String>,
    query: Result<Query<RowsQuery>, axum::extract::rejection::QueryRejection>,
) -> ApiResult<Response> {
    let id = visible_job(&farm, &who, &id)?.id;
    let Query(query) = query.map_err(|e| ApiError(StatusCode::BAD_REQUEST, e.body_text()))?;
    let page = row_page(query)?;
    let listed = farm.store().invoice(id, page).map_err(FarmError::from)?;
    let path = format!("/api/jobs/{id}/invoice");
    let query = format!("limit={}", page.limit());
    Ok(paged(listed.invoice, path, query, listed.next))
}

async fn frame<T: Transport>(
    State(farm): State<FarmState<T>>,
    Extension(who): Extension<Principal>,
    Segments((id, frame)): Segments<(String, String)>,
) -> ApiResult<Response> {
    let id = visible_job(&farm, &who, &id)?.id;
    let (number, png) = match frame.strip_suffix(".png") {
        Some(number) => (number, true),
        None => (frame.strip_suffix(".exr").unwrap_or(&frame), false),
    };
    let number = number.parse::<u32>().map_err(|_| {
        ApiError(
            StatusCode::NOT_FOUND,
            format!("'{}' is not a frame number", printable(&frame, 40)),
        )
    })?;
    let (path, kind) = if png {
        (farm.frame_preview(id, number)?, "image/png")
    } else {
        (farm.frame_file(id, number)?, "image/x-exr")
    };
    let file = tokio::fs::File::open(&path)
        .await
        .map_err(|e| unreadable_frame(e, number, png))?;
    let body = Body::from_stream(tokio_util::io::ReaderStream::new(file));
    Ok(([(header::CONTENT_TYPE, kind)], body).into_response())
}

/// A written frame whose file cannot be opened. Its preview is written after the frame, and a
/// preview that could not be written (the coordinator's log says why) is missing, not broken.
fn unreadable_frame(e: std::io::Error, frame: u32, png: bool) -> ApiError {
    if png && e.kind() == std::io::ErrorKind::NotFound {
        ApiError(
            StatusCode::NOT_FOUND,
            format!("frame {frame} has no PNG preview; its EXR is served without .png"),
        )
    } else {
        ApiError(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("cannot read frame {frame}: {e}"),
        )
    }
}

async fn scene<T: Transport>(
    State(farm): State<FarmState<T>>,
    Extension(who): Extension<Principal>,
    Segments(hash): Segments<String>,
) -> ApiResult<Response> {
    let hash: SceneHash = hash
        .parse()
        .map_err(|e: BadSceneHash| ApiError(StatusCode::BAD_REQUEST, e.to_string()))?;
    if let Principal::Worker { name, .. } = &who {
        // A worker gets the scenes of the tasks it holds, nothing else.
        let holds = farm
            .store()
            .holds_scene(name, hash)
            .map_err(FarmError::from)?;
        if !holds {
            return Err(FarmError::Scenes(SceneStoreError::Missing(hash)).into());
        }
    }
    let path = farm.scenes().path(hash);
    let file = tokio::fs::File::open(&path)
        .await
        .map_err(|_| FarmError::Scenes(SceneStoreError::Missing(hash)))?;
    let body = Body::from_stream(tokio_util::io::ReaderStream::new(file));
    Ok(([(header::CONTENT_TYPE, "application/octet-stream")], body).into_response())
}

async fn list_workers<T: Transport>(
    State(farm): State<FarmState<T>>,
) -> ApiResult<Json<Vec<WorkerView>>> {
    Ok(Json(farm.workers()?))
}

/// A worker says hello: its name, class and threads are its token's; backend and device name are
/// what it says, for the workers list.
async fn announce<T: Transport>(
    State(farm): State<FarmState<T>>,
    Extension(who): Extension<Principal>,
    JsonBody(claimed): JsonBody<WorkerInfo>,
) -> ApiResult<StatusCode> {
    let Principal::Worker {
        name,
        device_class,
        threads,
        ..
    } = who
    else {
        return Err(ApiError(StatusCode::FORBIDDEN, "not a worker".into()));
    };
    let mut worker = claimed;
    worker.name = name;
    worker.device.class = device_class;
    worker.device.threads = threads;
    worker.device = untrusted::device(worker.device);
    tracing::info!(worker = %worker.name, device = %worker.device, "worker announced");
    farm.store()
        .announce_worker(&worker)
        .map_err(FarmError::from)?;
    Ok(StatusCode::NO_CONTENT)
}

async fn drain<T: Transport>(
    State(farm): State<FarmState<T>>,
    Segments(name): Segments<String>,
) -> ApiResult<StatusCode> {
    known_worker(&farm, &name)?;
    if farm.store().drain_worker(&name).map_err(FarmError::from)? {
        tracing::info!(worker = %name, "worker drained by an operator");
    }
    Ok(StatusCode::NO_CONTENT)
}

async fn readmit<T: Transport>(
    State(farm): State<FarmState<T>>,
    Segments(name): Segments<String>,
) -> ApiResult<StatusCode> {
    known_worker(&farm, &name)?;
    if farm
        .store()
        .readmit_worker(&name)
        .map_err(FarmError::from)?
    {
        tracing::info!(worker = %name, "worker readmitted by an operator");
    }
    Ok(StatusCode::NO_CONTENT)
}

/// Not found unless the farm has heard from a worker of this name.
fn known_worker<T: Transport>(farm: &Farm<T>, name: &str) -> ApiResult<()> {
    if farm.workers()?.iter().any(|w| w.name == name) {
        Ok(())
    } else {
        Err(ApiError(
            StatusCode::NOT_FOUND,
            format!("no worker '{}'", printable(name, 100)),
        ))
    }
}

/// Takes a [`Heartbeat`], or an empty body from a worker of an earlier version.
async fn heartbeat<T: Transport>(
    State(farm): State<FarmState<T>>,
    Extension(who): Extension<Principal>,
    body: Bytes,
) -> ApiResult<StatusCode> {
    let leases = if body.is_empty() {
        None
    } else {
        let beat: Heartbeat = serde_json::from_slice(&body).map_err(|e| {
            ApiError(
                StatusCode::BAD_REQUEST,
                format!("not a heartbeat: {}", printable(&e.to_string(), 200)),
            )
        })?;
        if beat.leases.len() > MAX_HEARTBEAT_LEASES {
            return Err(ApiError(
                StatusCode::BAD_REQUEST,
                format!(
                    "a heartbeat names at most {MAX_HEARTBEAT_LEASES} leases, not {}",
                    beat.leases.len()
                ),
            ));
        }
        Some(beat.leases)
    };
    if let Principal::Worker { name, .. } = &who {
        farm.store()
            .heartbeat(name, leases.as_deref())
            .map_err(FarmError::from)?;
    }
    Ok(StatusCode::NO_CONTENT)
}

async fn claim<T: Transport>(
    State(farm): State<FarmState<T>>,
    Extension(who): Extension<Principal>,
    JsonBody(request): JsonBody<ClaimRequest>,
) -> ApiResult<Json<Vec<Claim>>> {
    Ok(Json(farm.claim(&who, &request.tasks)?))
}

async fn create_token<T: Transport>(
    State(farm): State<FarmState<T>>,
    JsonBody(new): JsonBody<NewToken>,
) -> ApiResult<(StatusCode, Json<IssuedToken>)> {
    let (id, token) = farm.store().issue_token(&new)?;
    Ok((StatusCode::CREATED, Json(IssuedToken { id, token })))
}

async fn list_tokens<T: Transport>(
    State(farm): State<FarmState<T>>,
) -> ApiResult<Json<Vec<TokenView>>> {
    Ok(Json(farm.store().tokens().map_err(FarmError::from)?))
}

async fn revoke_token<T: Transport>(
    State(farm): State<FarmState<T>>,
    Segments(id): Segments<String>,
) -> ApiResult<StatusCode> {
    let id: i64 = id
        .parse()
        .map_err(|_| ApiError(StatusCode::NOT_FOUND, "not a token id".into()))?;
    if !farm.store().revoke_token(id).map_err(FarmError::from)? {
        return Err(ApiError(
            StatusCode::NOT_FOUND,
            format!("no active token {id}"),
        ));
    }
    Ok(StatusCode::NO_CONTENT)
}

async fn metrics<T: Transport>(State(farm): State<FarmState<T>>) -> ApiResult<Response> {
    let text = farm.metrics()?;
    Ok(([(header::CONTENT_TYPE, metrics::CONTENT_TYPE)], text).into_response())
}

async fn me(Extension(who): Extension<Principal>) -> Json<Me> {
    Json(Me {
        role: who.role(),
        name: who.name().to_owned(),
        tenant: match &who {
            Principal::Submitter { tenant, .. } => Some(tenant.clone()),
            _ => None,
        },
        verified: matches!(who, Principal::Worker { verified: true, .. }),
    })
}

#[derive(serde::Deserialize)]
struct TaskFilter {
    state: Option<String>,
    #[serde(flatten)]
    page: RowsQuery,
}

async fn tasks<T: Transport>(
    State(farm): State<FarmState<T>>,
    Extension(who): Extension<Principal>,
    Segments(id): Segments<String>,
    filter: Result<Query<TaskFilter>, axum::extract::rejection::QueryRejection>,
) -> ApiResult<Response> {
    let id = visible_job(&farm, &who, &id)?.id;
    let Query(filter) = filter.map_err(|e| ApiError(StatusCode::BAD_REQUEST, e.body_text()))?;
    let state = state_filter(filter.state, TaskState::from_name, "task")?;
    let page = row_page(filter.page)?;
    let listed = farm
        .store()
        .tasks(id, state, page)
        .map_err(FarmError::from)?;
    let mut query = format!("limit={}", page.limit());
    if let Some(state) = state {
        query.push_str(&format!("&state={}", state.as_str()));
    }
    let path = format!("/api/jobs/{id}/tasks");
    Ok(paged(listed.tasks, path, query, listed.next.map(|t| t.0)))
}

/// Server-sent events while a job runs: the job as it changes, each accepted tile's preview
/// (those accepted before the watcher came first), and each frame as it is written. The stream
/// ends with the job or when the client leaves; a token may hold a few open at once.
async fn events<T: Transport>(
    State(farm): State<FarmState<T>>,
    Extension(who): Extension<Principal>,
    Extension(credential): Extension<Credential>,
    Segments(id): Segments<String>,
) -> ApiResult<Response> {
    let job = visible_job(&farm, &who, &id)?;
    // Names are not unique across tenants: two tenants' tokens named alike keep apart budgets.
    let holder = match &who {
        Principal::Submitter { tenant, name } => format!("submitter:{tenant}:{name}"),
        other => format!("{}:{}", other.role().as_str(), other.name()),
    };
    // Subscribed before the tiles so far are read: a tile accepted between the two is sent
    // twice (harmless), never missed.
    let (live, watching) = farm.watch(&holder)?;
    let (sender, receiver) = tokio::sync::mpsc::channel(64);
    tokio::spawn(async move {
        watch_job(farm, job.id, &credential, live, sender).await;
        drop(watching);
    });
    let stream = tokio_stream::wrappers::ReceiverStream::new(receiver)
        .map(Ok::<_, std::convert::Infallible>);
    Ok(Sse::new(stream)
        .keep_alive(KeepAlive::default())
        .into_response())
}

/// The preview of accepted `task`'s tile, read from the store; `None` once its job ended and
/// took its tiles, or if it cannot be read: this is a preview.
async fn tile_preview<T: Transport>(
    farm: &Arc<Farm<T>>,
    frame: u32,
    task: TaskRecord,
) -> Option<TileEvent> {
    let farm = farm.clone();
    tokio::task::spawn_blocking(move || {
        let pixels = farm.read_tile(&task).ok()?;
        live::tile_preview(frame, task.task.tile, &pixels.color).ok()
    })
    .await
    .ok()
    .flatten()
}

/// Feeds one watcher of `job` until the job ends, the watcher leaves, or its token is revoked.
async fn watch_job<T: Transport>(
    farm: Arc<Farm<T>>,
    job: JobId,
    credential: &Credential,
    mut live: tokio::sync::broadcast::Receiver<LiveEvent>,
    out: tokio::sync::mpsc::Sender<Event>,
) {
    let job_event = |farm: &Farm<T>| -> Option<(Event, JobView)> {
        let record = farm.job(job).ok()?;
        let view = view(farm, record, true).ok()?;
        Some((sse_event("job", &view), view))
    };
    let Some((first, mut last)) = job_event(&farm) else {
        return;
    };
    if out.send(first).await.is_err() {
        return;
    }
    let earlier = {
        let farm = farm.clone();
        tokio::task::spawn_blocking(move || farm.accepted_tasks(job))
            .await
            .unwrap_or_default()
    };
    // One tile read at a time, as the watcher takes them: a large frame's tiles all decoded at
    // once took gigabytes per stream, for as long as a slow reader liked.
    for (frame, task) in earlier {
        if let Some(preview) = tile_preview(&farm, frame, task).await
            && out.send(sse_event("tile", &preview)).await.is_err()
        {
            return;
        }
    }
    let mut tick = tokio::time::interval(std::time::Duration::from_millis(500));
    loop {
        let event = tokio::select! {
            received = live.recv() => match received {
                Ok(e) if e.job() != job => continue,
                Ok(LiveEvent::Tile { frame, task, .. }) => {
                    match tile_preview(&farm, frame, task).await {
                        Some(preview) => sse_event("tile", &preview),
                        None => continue,
                    }
                }
                Ok(LiveEvent::Frame { frame, .. }) => sse_event("frame", &FrameEvent { frame }),
                Err(tokio::sync::broadcast::error::RecvError::Lagged(missed)) => {
                    Event::default().comment(format!("{missed} events missed"))
                }
                Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
            },
            () = out.closed() => return,
            _ = tick.tick() => {
                // A revoked token's requests are refused from then on; so are its streams.
                if let Err(TokenError::Invalid) = farm.store().authenticate(&credential.0) {
                    return;
                }
                let Some((event, view)) = job_event(&farm) else { return };
                let changed = view.tasks_done != last.tasks_done
                    || view.state != last.state
                    || view.cost != last.cost
                    || view.frame_progress != last.frame_progress;
                let ended = view.state != JobState::Running;
                last = view;
                if changed && out.send(event).await.is_err() {
                    return;
                }
                if ended {
                    return;
                }
                continue;
            }
        };
        if out.send(event).await.is_err() {
            return;
        }
    }
}

fn sse_event(name: &str, value: &impl serde::Serialize) -> Event {
    Event::default()
        .event(name)
        .data(serde_json::to_string(value).expect("API types serialize"))
}
