//! Every route of the coordinator, who may call it, and what it takes and answers: the router
//! ([`crate::server`]) and the OpenAPI document ([`crate::openapi`]) are both built from
//! [`ROUTES`], so neither can have a route the other lacks.

use axum::http::Method;
use tessera_protocol::auth::Role;

use crate::dashboard;
use crate::store::{JobPage, RowPage};

/// One route and who may call it, with what the OpenAPI document says of it.
#[derive(Clone, Debug)]
pub struct Route {
    pub method: Method,
    /// axum's path syntax: `{id}` is a parameter.
    pub path: &'static str,
    pub access: Access,
    pub doc: Doc,
    pub(crate) endpoint: Endpoint,
}

/// Who may call a route.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// Anyone: the dashboard's own files and the API's description, nothing of the farm.
    Public,
    /// A bearer token of one of these roles.
    Roles(&'static [Role]),
}

#[derive(Clone, Copy, Debug)]
pub(crate) enum Endpoint {
    Dashboard(dashboard::Asset),
    OpenApi,
    Me,
    Submit,
    ListJobs,
    ShowJob,
    Quote,
    Cancel,
    Invoice,
    Tasks,
    Events,
    Frame,
    Scene,
    ListWorkers,
    Announce,
    Heartbeat,
    Drain,
    Readmit,
    Claim,
    CreateToken,
    ListTokens,
    RevokeToken,
    Metrics,
}

const ADMIN: Access = Access::Roles(&[Role::Admin]);
const USERS: Access = Access::Roles(&[Role::Admin, Role::Submitter]);
const WORKERS: Access = Access::Roles(&[Role::Worker]);
const WORKERS_AND_ADMIN: Access = Access::Roles(&[Role::Admin, Role::Worker]);
const ANY_TOKEN: Access = Access::Roles(&Role::ALL);

const fn route(
    method: Method,
    path: &'static str,
    access: Access,
    endpoint: Endpoint,
    doc: Doc,
) -> Route {
    Route {
        method,
        path,
        access,
        doc,
        endpoint,
    }
}

/// A page of a job's rows (tasks, or charges).
const ROW_PAGE: [Param; 2] = [
    Param::new("limit", "The most rows listed.")
        .between(1, RowPage::MAX as i64)
        .default(RowPage::FIRST.limit() as i64),
    Param::new(
        "after",
        "Only rows after this one (as the Link header names it).",
    )
    .between(0, i64::MAX),
];

const STATE_FILTER: Param = Param::new("state", "Only jobs in this state.").one_of(&[
    "running",
    "done",
    "failed",
    "cancelled",
]);

/// Every route: the router and the OpenAPI document are both built from this table.
pub const ROUTES: [Route; 25] = [
    route(
        Method::GET,
        "/",
        Access::Public,
        Endpoint::Dashboard(dashboard::Asset::Page),
        Doc::new("The dashboard (it asks for a token).").answers(Body::Text("text/html")),
    ),
    route(
        Method::GET,
        "/app.js",
        Access::Public,
        Endpoint::Dashboard(dashboard::Asset::Script),
        Doc::new("The dashboard's script.").answers(Body::Text("text/javascript")),
    ),
    route(
        Method::GET,
        "/style.css",
        Access::Public,
        Endpoint::Dashboard(dashboard::Asset::Style),
        Doc::new("The dashboard's style sheet.").answers(Body::Text("text/css")),
    ),
    route(
        Method::GET,
        "/api/openapi.json",
        Access::Public,
        Endpoint::OpenApi,
        Doc::new("This API, described in OpenAPI 3.1.").answers(Body::Text("application/json")),
    ),
    route(
        Method::GET,
        "/api/me",
        ANY_TOKEN,
        Endpoint::Me,
        Doc::new("Whose token this is.").answers(Body::Json("Me")),
    ),
    route(
        Method::POST,
        "/api/jobs",
        USERS,
        Endpoint::Submit,
        Doc::new("Submits a job: the scene (a .glb or a scene archive) is the body, the options the query.")
            .query(&SUBMIT_PARAMETERS)
            .takes(Body::Binary("application/octet-stream"))
            .answers_with(201, Body::Json("Submitted")),
    ),
    route(
        Method::POST,
        "/api/quotes",
        USERS,
        Endpoint::Quote,
        Doc::new(
            "What a job would cost and take on the farm as it is now, from a pre-pass over a \
             sparse sample of its pixels; takes what POST /api/jobs takes, and stores or queues \
             nothing.",
        )
        .query(&SUBMIT_PARAMETERS)
        .takes(Body::Binary("application/octet-stream"))
        .answers(Body::Json("Quote")),
    ),
    route(
        Method::GET,
        "/api/jobs",
        USERS,
        Endpoint::ListJobs,
        Doc::new(
            "Jobs: a submitter's tenant's, or every tenant's for an admin; newest first, a page \
             at a time (`frame_progress` left empty: GET /api/jobs/{id} gives it). Where \
             older jobs follow, the Link header's rel=\"next\" names their page.",
        )
        .query(&[
            STATE_FILTER,
            Param::new(
                "tenant",
                "Only this tenant's jobs (an admin's filter): 1 to 64 letters, digits or -_.@.",
            ),
            Param::new("limit", "The most jobs listed.")
                .between(1, JobPage::MAX as i64)
                .default(JobPage::LATEST.limit() as i64),
            Param::new("before", "Only jobs older than this one (its id).").between(1, i64::MAX),
        ])
        .answers(Body::JsonList("JobView")),
    ),
    route(
        Method::GET,
        "/api/jobs/{id}",
        USERS,
        Endpoint::ShowJob,
        Doc::new("One job.").answers(Body::Json("JobView")),
    ),
    route(
        Method::POST,
        "/api/jobs/{id}/cancel",
        USERS,
        Endpoint::Cancel,
        Doc::new("Cancels a running job.").answers(Body::Json("JobStateView")),
    ),
    route(
        Method::GET,
        "/api/jobs/{id}/invoice",
        USERS,
        Endpoint::Invoice,
        Doc::new(
            "A job's charges a page at a time, oldest first, with the reversals of the page's \
             charges and the whole job's total. Where more charges follow, the Link header's \
             rel=\"next\" names their page.",
        )
        .query(&ROW_PAGE)
        .answers(Body::Json("InvoiceView")),
    ),
    route(
        Method::GET,
        "/api/jobs/{id}/tasks",
        USERS,
        Endpoint::Tasks,
        Doc::new(
            "A job's tasks, with why the failed ones failed, a page at a time in the order they \
             render. Where more follow, the Link header's rel=\"next\" names their page.",
        )
        .query(&[
            Param::new("state", "Only tasks in this state.")
                .one_of(&["pending", "queued", "done", "failed"]),
            ROW_PAGE[0],
            ROW_PAGE[1],
        ])
        .answers(Body::JsonList("TaskView")),
    ),
    route(
        Method::GET,
        "/api/jobs/{id}/events",
        USERS,
        Endpoint::Events,
        Doc::new(
            "Server-sent events while the job runs: `job` (a JobView), `tile` (a TileEvent), \
             `frame` (a FrameEvent); tiles already accepted come first.",
        )
        .answers(Body::Text("text/event-stream")),
    ),
    route(
        Method::GET,
        "/api/jobs/{id}/frames/{frame}",
        USERS,
        Endpoint::Frame,
        Doc::new("A written frame: `N` or `N.exr` for the EXR, `N.png` for a PNG preview.")
            .answers(Body::Binary("image/x-exr")),
    ),
    route(
        Method::GET,
        "/api/scenes/{hash}",
        WORKERS_AND_ADMIN,
        Endpoint::Scene,
        Doc::new("A scene by its SHA-256; a worker gets only the scenes of tasks it holds.")
            .answers(Body::Binary("application/octet-stream")),
    ),
    route(
        Method::GET,
        "/api/workers",
        ADMIN,
        Endpoint::ListWorkers,
        Doc::new("Every worker heard from, with its record.").answers(Body::JsonList("WorkerView")),
    ),
    route(
        Method::POST,
        "/api/workers",
        WORKERS,
        Endpoint::Announce,
        Doc::new("A worker says hello.").takes(Body::Json("WorkerInfo")).answers_with(204, Body::None),
    ),
    route(
        Method::POST,
        "/api/workers/heartbeat",
        WORKERS,
        Endpoint::Heartbeat,
        Doc::new("A worker is alive, and so are the leases it names.")
            .takes(Body::Json("Heartbeat"))
            .answers_with(204, Body::None),
    ),
    route(
        Method::POST,
        "/api/workers/{name}/drain",
        ADMIN,
        Endpoint::Drain,
        Doc::new("The worker claims no more tasks; the one it holds may finish.")
            .answers_with(204, Body::None),
    ),
    route(
        Method::POST,
        "/api/workers/{name}/readmit",
        ADMIN,
        Endpoint::Readmit,
        Doc::new(
            "The worker may claim tasks again, whatever stopped it; its results are all checked \
             again until it has passed enough checks in a row.",
        )
        .answers_with(204, Body::None),
    ),
    route(
        Method::POST,
        "/api/claims",
        WORKERS,
        Endpoint::Claim,
        Doc::new("A worker claims the tasks of a message it took from the queue (at most 16): a claim for each, in their order.")
            .takes(Body::Json("ClaimRequest"))
            .answers(Body::JsonList("Claim")),
    ),
    route(
        Method::POST,
        "/api/tokens",
        ADMIN,
        Endpoint::CreateToken,
        Doc::new("Issues a token; its secret is shown once.")
            .takes(Body::Json("NewToken"))
            .answers_with(201, Body::Json("IssuedToken")),
    ),
    route(
        Method::GET,
        "/api/tokens",
        ADMIN,
        Endpoint::ListTokens,
        Doc::new("Every token, without secrets.").answers(Body::JsonList("TokenView")),
    ),
    route(
        Method::POST,
        "/api/tokens/{id}/revoke",
        ADMIN,
        Endpoint::RevokeToken,
        Doc::new("Revokes a token.").answers_with(204, Body::None),
    ),
    route(
        Method::GET,
        "/metrics",
        ADMIN,
        Endpoint::Metrics,
        Doc::new("The farm in Prometheus' text format.")
            .answers(Body::Text(tessera_protocol::metrics::CONTENT_TYPE)),
    ),
];

/// The query of a submission: the job's options, and the job's own.
const SUBMIT_PARAMETERS: [Param; 20] = [
    Param::new("scene_name", "The scene's file name, as shown in listings.").required(),
    Param::new("frames", "Frames to render: `1`, `1-24`, `1,5,9`."),
    Param::new(
        "width",
        "Image width in pixels; the camera's aspect gives the height.",
    )
    .integer(),
    Param::new("height", "Image height in pixels.").integer(),
    Param::new("spp", "Samples per pixel.").integer(),
    Param::new("max_depth", "Longest path, in bounces.").integer(),
    Param::new("tile", "Tile side in pixels.").integer(),
    Param::new("seed", "The random sequence's seed.").integer(),
    Param::new("fps", "Frames per second of the animation."),
    Param::new("camera", "The scene's camera to render through, by name."),
    Param::new(
        "look_from",
        "Look from this point (`x,y,z`) instead of the camera's.",
    ),
    Param::new("look_at", "Look at this point (`x,y,z`); +Y stays up."),
    Param::new(
        "fov",
        "Vertical field of view in degrees, above 0 and below 180.",
    ),
    Param::new(
        "environment",
        "An equirectangular HDR map (`.hdr`, `.exr`) in the scene's archive lighting the scene.",
    ),
    Param::new(
        "environment_strength",
        "Multiplies the environment map's radiance (default 1).",
    ),
    Param::new(
        "environment_rotation",
        "Turns the environment map about +Y, in degrees (default 0).",
    ),
    Param::new("priority", "Higher runs first within a tenant.").integer(),
    Param::new("max_cost", "The most the job may cost, in USD (`1.50`)."),
    Param::new(
        "trust",
        "`verified`: only workers whose tokens the operator verified render it (default `any`).",
    ),
    Param::new(
        "tenant",
        "The tenant an admin submits for: 1 to 64 letters, digits or -_.@.",
    ),
];

/// What a route takes or answers.
#[derive(Clone, Copy, Debug)]
pub enum Body {
    None,
    /// JSON of the named schema.
    Json(&'static str),
    /// A JSON array of the named schema.
    JsonList(&'static str),
    /// Bytes of this content type.
    Binary(&'static str),
    /// Text of this content type.
    Text(&'static str),
}

/// A query parameter.
#[derive(Clone, Copy, Debug)]
pub struct Param {
    pub(crate) name: &'static str,
    pub(crate) description: &'static str,
    pub(crate) required: bool,
    pub(crate) integer: bool,
    /// An integer's least and greatest values.
    pub(crate) range: Option<(i64, i64)>,
    /// An integer's value when the query does not give one.
    pub(crate) default: Option<i64>,
    pub(crate) values: &'static [&'static str],
}

impl Param {
    pub const fn new(name: &'static str, description: &'static str) -> Self {
        Self {
            name,
            description,
            required: false,
            integer: false,
            range: None,
            default: None,
            values: &[],
        }
    }

    pub const fn required(self) -> Self {
        Self {
            required: true,
            ..self
        }
    }

    pub const fn integer(self) -> Self {
        Self {
            integer: true,
            ..self
        }
    }

    /// An integer from `least` to `greatest`.
    pub const fn between(self, least: i64, greatest: i64) -> Self {
        Self {
            integer: true,
            range: Some((least, greatest)),
            ..self
        }
    }

    pub const fn default(self, value: i64) -> Self {
        Self {
            default: Some(value),
            ..self
        }
    }

    pub const fn one_of(self, values: &'static [&'static str]) -> Self {
        Self { values, ..self }
    }
}

/// What the document says of one route.
#[derive(Clone, Copy, Debug)]
pub struct Doc {
    pub(crate) summary: &'static str,
    pub(crate) query: &'static [Param],
    pub(crate) request: Body,
    pub(crate) status: u16,
    pub(crate) response: Body,
}

impl Doc {
    pub const fn new(summary: &'static str) -> Self {
        Self {
            summary,
            query: &[],
            request: Body::None,
            status: 200,
            response: Body::None,
        }
    }

    pub const fn query(self, query: &'static [Param]) -> Self {
        Self { query, ..self }
    }

    pub const fn takes(self, request: Body) -> Self {
        Self { request, ..self }
    }

    pub const fn answers(self, response: Body) -> Self {
        self.answers_with(200, response)
    }

    pub const fn answers_with(self, status: u16, response: Body) -> Self {
        Self {
            status,
            response,
            ..self
        }
    }
}
