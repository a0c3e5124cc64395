//! The API's doors: every route in the router's own table refuses a missing, malformed, revoked
//! or wrong-role token, and a tenant's jobs do not exist for another tenant.

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use serde_json::Value;
use tessera_coordinator::billing::PriceTable;
use tessera_coordinator::routes::{Access, ROUTES};
use tessera_coordinator::server;
use tessera_coordinator::{Farm, FarmConfig};
use tessera_protocol::auth::{NewToken, Role};
use tessera_transport::InProcessTransport;
use tower::ServiceExt;

struct Api {
    _dir: tempfile::TempDir,
    router: Router,
    farm: Arc<Farm<InProcessTransport>>,
}

impl Api {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let farm = Farm::open(
            FarmConfig::new(dir.path().join("data"), PriceTable::default()),
            InProcessTransport::new(),
        )
        .unwrap();
        Self {
            _dir: dir,
            router: server::router(farm.clone()),
            farm,
        }
    }

    fn token(&self, role: Role, tenant: Option<&str>) -> String {
        let name = format!("{}-{}", role.as_str(), tenant.unwrap_or("x"));
        self.named_token(role, tenant, &name).1
    }

    /// A token named `name`: its id and its secret.
    fn named_token(&self, role: Role, tenant: Option<&str>, name: &str) -> (i64, String) {
        let new = NewToken {
            role,
            tenant: tenant.map(str::to_owned),
            name: name.into(),
            device_class: None,
            threads: None,
            verified: false,
        };
        self.farm.store().issue_token(&new).unwrap()
    }

    /// The answer to opening the event stream at `path` with `token`, its body still to come.
    async fn open_events(&self, path: &str, token: &str) -> axum::response::Response {
        let request = Request::builder()
            .uri(path)
            .header("authorization", format!("Bearer {token}"))
            .body(Body::empty())
            .unwrap();
        self.router.clone().oneshot(request).await.unwrap()
    }

    /// Submits an 8x8 Cornell box at 1 spp with `token`; returns the job's id.
    async fn submit_small_job(&self, token: &str) -> i64 {
        let (status, body) = self.submit(token, "", cornell_box()).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        body["id"].as_i64().unwrap()
    }

    /// The answer to submitting `scene` (glTF) at 8x8 and 1 spp with `token`, `more` added to
    /// the query.
    async fn submit(&self, token: &str, more: &str, scene: Vec<u8>) -> (StatusCode, Value) {
        let path = format!("/api/jobs?scene_name=cornell.gltf&width=8&height=8&spp=1{more}");
        self.call("POST", &path, Some(&format!("Bearer {token}")), scene)
            .await
    }

    /// The status and JSON body of a request with `authorization` as its header.
    async fn call(
        &self,
        method: &str,
        path: &str,
        authorization: Option<&str>,
        body: Vec<u8>,
    ) -> (StatusCode, Value) {
        let (status, body, _) = self.call_linked(method, path, authorization, body).await;
        (status, body)
    }

    /// As [`call`](Self::call), with the page its `Link` header names as next, if it does.
    async fn call_linked(
        &self,
        method: &str,
        path: &str,
        authorization: Option<&str>,
        body: Vec<u8>,
    ) -> (StatusCode, Value, Option<String>) {
        // The JSON routes want it; the others ignore it.
        let mut request = Request::builder()
            .method(method)
            .uri(path)
            .header("content-type", "application/json");
        if let Some(value) = authorization {
            request = request.header("authorization", value);
        }
        let response = self
            .router
            .clone()
            .oneshot(request.body(Body::from(body)).unwrap())
            .await
            .unwrap();
        let status = response.status();
        let next = response.headers().get("link").map(|link| {
            let link = link.to_str().unwrap();
            let (target, rel) = link.split_once("; ").unwrap();
            assert_eq!(rel, "rel=\"next\"");
            target.trim_matches(['<', '>']).to_owned()
        });
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
            .await
            .unwrap();
        (
            status,
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
            next,
        )
    }

    async fn as_(&self, token: &str, method: &str, path: &str) -> StatusCode {
        let bearer = format!("Bearer {token}");
        self.call(method, path, Some(&bearer), Vec::new()).await.0
    }
}

/// The repository's Cornell box, as a client would upload it.
fn cornell_box() -> Vec<u8> {
    std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../scenes/cornell-box.gltf"
    ))
    .unwrap()
}

/// A concrete path for a route's template, naming nothing that exists (so that, say, revoking
/// token `{id}` does not revoke the tokens the test uses).
fn concrete(template: &str) -> String {
    template
        .replace("{id}", "999999")
        .replace("{frame}", "1")
        .replace("{hash}", &"0".repeat(64))
        .replace("{name}", "nobody")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_refuses_missing_malformed_revoked_and_wrong_role_tokens() {
    let api = Api::new();
    let tokens = [
        (Role::Admin, api.token(Role::Admin, None)),
        (Role::Submitter, api.token(Role::Submitter, Some("a"))),
        (Role::Worker, api.token(Role::Worker, None)),
    ];
    let revoked = api.token(Role::Admin, None);
    let id = api.farm.store().tokens().unwrap().last().unwrap().id;
    assert!(api.farm.store().revoke_token(id).unwrap());
    let mut public = Vec::new();
    for route in &ROUTES {
        let (method, path) = (route.method.as_str(), concrete(route.path));
        let what = format!("{method} {}", route.path);
        let Access::Roles(roles) = route.access else {
            // Only the dashboard's files and the API's description are open to anyone.
            let (status, _) = api.call(method, &path, None, Vec::new()).await;
            assert_eq!(status, StatusCode::OK, "{what}");
            public.push(route.path);
            continue;
        };
        for header in [
            None,
            Some("Basic dXNlcjpwYXNz".to_owned()),
            Some("Bearer".to_owned()),
            Some("Bearer tsr_0000".to_owned()),
            Some(format!("Bearer {revoked}")),
        ] {
            let (status, body) = api.call(method, &path, header.as_deref(), Vec::new()).await;
            assert_eq!(status, StatusCode::UNAUTHORIZED, "{what} with {header:?}");
            assert!(body["error"].as_str().is_some(), "{what}: {body}");
        }
        for (role, token) in &tokens {
            let status = api.as_(token, method, &path).await;
            if roles.contains(role) {
                assert!(
                    status != StatusCode::UNAUTHORIZED && status != StatusCode::FORBIDDEN,
                    "{what} refused a {} token: {status}",
                    role.as_str()
                );
            } else {
                assert_eq!(status, StatusCode::FORBIDDEN, "{what} as {}", role.as_str());
            }
        }
    }
    assert_eq!(
        public,
        ["/", "/app.js", "/style.css", "/api/openapi.json"],
        "routes open without a token"
    );
}

/// The dashboard runs only its own script and is never framed; nothing is sniffed; what a token
/// showed is not kept in a browser's cache.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_response_carries_the_browser_protections() {
    let api = Api::new();
    let admin = format!("Bearer {}", api.token(Role::Admin, None));
    for (path, authorization) in [
        ("/", None),
        ("/app.js", None),
        ("/api/jobs", Some(admin.as_str())),
        ("/api/no-such-route", None),
    ] {
        let mut request = Request::builder().uri(path);
        if let Some(value) = authorization {
            request = request.header("authorization", value);
        }
        let response = api
            .router
            .clone()
            .oneshot(request.body(Body::empty()).unwrap())
            .await
            .unwrap();
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .map(|v| v.to_str().unwrap().to_owned())
                .unwrap_or_default()
        };
        let policy = header("content-security-policy");
        assert!(
            policy.contains("default-src 'self'") && policy.contains("frame-ancestors 'none'"),
            "{path}: {policy:?}"
        );
        assert_eq!(header("x-content-type-options"), "nosniff", "{path}");
        assert_eq!(header("referrer-policy"), "no-referrer", "{path}");
        assert_eq!(header("cache-control"), "no-store", "{path}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tenant_cannot_see_cancel_download_or_be_invoiced_for_another_tenants_job() {
    let api = Api::new();
    let (a, b) = (
        api.token(Role::Submitter, Some("a")),
        api.token(Role::Submitter, Some("b")),
    );
    let admin = api.token(Role::Admin, None);
    let job = api.submit_small_job(&a).await;

    for path in [
        format!("/api/jobs/{job}"),
        format!("/api/jobs/{job}/invoice"),
        format!("/api/jobs/{job}/frames/1"),
    ] {
        assert_eq!(
            api.as_(&b, "GET", &path).await,
            StatusCode::NOT_FOUND,
            "{path}"
        );
    }
    let cancel = format!("/api/jobs/{job}/cancel");
    assert_eq!(api.as_(&b, "POST", &cancel).await, StatusCode::NOT_FOUND);
    let (_, listed) = api
        .call("GET", "/api/jobs", Some(&format!("Bearer {b}")), Vec::new())
        .await;
    assert_eq!(listed, serde_json::json!([]));

    assert_eq!(
        api.as_(&a, "GET", &format!("/api/jobs/{job}")).await,
        StatusCode::OK
    );
    let (_, all) = api
        .call(
            "GET",
            "/api/jobs",
            Some(&format!("Bearer {admin}")),
            Vec::new(),
        )
        .await;
    assert_eq!(all[0]["tenant"], "a");
    // The job is still running: B's cancellation did nothing.
    assert_eq!(all[0]["state"], "running");
    assert_eq!(api.as_(&a, "POST", &cancel).await, StatusCode::OK);
}

/// A job listing comes a page at a time, newest first, each page naming the next in its Link
/// header until the oldest; its jobs come without each frame's progress, which one job's view
/// gives. A page of no jobs or of more than 1000, or below what is not a job id, is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn job_listings_come_a_page_at_a_time_newest_first() {
    let api = Api::new();
    let a = format!("Bearer {}", api.token(Role::Submitter, Some("a")));
    let mut submitted = Vec::new();
    for _ in 0..3 {
        submitted.push(api.submit_small_job(&a["Bearer ".len()..]).await);
    }
    let (mut listed, mut pages) = (Vec::new(), 0);
    let mut path = Some("/api/jobs?limit=2".to_owned());
    while let Some(page) = path {
        let (status, body, next) = api.call_linked("GET", &page, Some(&a), Vec::new()).await;
        assert_eq!(status, StatusCode::OK, "{page}: {body}");
        for job in body.as_array().unwrap() {
            assert_eq!(job["frame_progress"], serde_json::json!([]), "{job}");
            listed.push(job["id"].as_i64().unwrap());
        }
        pages += 1;
        path = next;
    }
    submitted.reverse();
    assert_eq!((listed, pages), (submitted.clone(), 2));
    let (_, one) = api
        .call(
            "GET",
            &format!("/api/jobs/{}", submitted[0]),
            Some(&a),
            Vec::new(),
        )
        .await;
    assert_eq!(
        one["frame_progress"].as_array().map(Vec::len),
        Some(1),
        "{one}"
    );
    for bad in [
        "limit=0",
        "limit=1001",
        "limit=x",
        "before=0",
        "before=%1B%5B31m",
    ] {
        let (status, body) = api
            .call("GET", &format!("/api/jobs?{bad}"), Some(&a), Vec::new())
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}: {body}");
        let error = body["error"].as_str().unwrap();
        assert!(
            (error.contains("limit must be 1 to 1000") || error.contains("not a job id"))
                && !error.contains('\u{1b}'),
            "{bad}: {error}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_jobs_tasks_and_invoice_come_a_page_at_a_time() {
    let api = Api::new();
    let a = format!("Bearer {}", api.token(Role::Submitter, Some("a")));
    // 8x8 in tiles of 3: nine tasks.
    let (status, body) = api
        .submit(&a["Bearer ".len()..], "&tile=3", cornell_box())
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let job = body["id"].as_i64().unwrap();
    let (mut listed, mut pages) = (Vec::new(), 0);
    let mut path = Some(format!("/api/jobs/{job}/tasks?limit=4"));
    while let Some(page) = path {
        let (status, body, next) = api.call_linked("GET", &page, Some(&a), Vec::new()).await;
        assert_eq!(status, StatusCode::OK, "{page}: {body}");
        for task in body.as_array().unwrap() {
            listed.push((
                task["frame"].as_u64(),
                task["tile"].as_str().unwrap().to_owned(),
            ));
        }
        pages += 1;
        path = next;
    }
    assert_eq!(pages, 3);
    let tile = |x: u32, y: u32| {
        let (w, h) = (3.min(8 - x), 3.min(8 - y));
        (Some(1), format!("{w}x{h}+{x}+{y}"))
    };
    let rows: Vec<_> = [0, 3, 6]
        .into_iter()
        .flat_map(|y| [0, 3, 6].map(|x| tile(x, y)))
        .collect();
    assert_eq!(listed, rows, "every task once, in the order they render");
    // Nothing billed yet: one page, no link.
    let invoice = format!("/api/jobs/{job}/invoice?limit=1");
    let (status, body, next) = api.call_linked("GET", &invoice, Some(&a), Vec::new()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        (body["rows"].as_array().map(Vec::len), next),
        (Some(0), None)
    );
    for route in ["tasks", "invoice"] {
        for bad in [
            "limit=0",
            "limit=10001",
            "limit=x",
            "after=-1",
            "after=%1B%5B31m",
        ] {
            let path = format!("/api/jobs/{job}/{route}?{bad}");
            let (status, body) = api.call("GET", &path, Some(&a), Vec::new()).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{path}: {body}");
            let error = body["error"].as_str().unwrap();
            assert!(
                (error.contains("limit must be 1 to 10000") || error.contains("not a row id"))
                    && !error.contains('\u{1b}'),
                "{path}: {error}"
            );
        }
    }
}

/// An error quoting what a request held (a parameter's value) quotes no control character:
/// escape sequences typed into a query never reach the terminal or page that shows the error.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_quote_no_control_characters() {
    let api = Api::new();
    let a = api.token(Role::Submitter, Some("a"));
    for bad in [
        "&priority=%1B%5B2J",
        "&max_cost=%1B%5B2J",
        "&frames=%1B%5B2J",
    ] {
        let (status, body) = api.submit(&a, bad, cornell_box()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}: {body}");
        let error = body["error"].as_str().unwrap();
        assert!(
            error.contains("[2J") && !error.contains('\u{1b}'),
            "{bad}: {error:?}"
        );
    }
}

/// A path segment that is not UTF-8 once decoded is refused as every other error is, in JSON,
/// not in axum's plain text (which a client reads as a protocol error).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_path_that_is_not_utf8_is_refused_in_json() {
    let api = Api::new();
    let admin = format!("Bearer {}", api.token(Role::Admin, None));
    for path in [
        "/api/jobs/%FF",
        "/api/jobs/1/frames/%C3%28",
        "/api/workers/%FF/drain",
    ] {
        let method = if path.ends_with("drain") {
            "POST"
        } else {
            "GET"
        };
        let (status, body) = api.call(method, path, Some(&admin), Vec::new()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{path}: {body}");
        assert!(body["error"].is_string(), "{path}: {body}");
    }
}

/// An operator names a tenant in the query to submit for it or to list its jobs; a name no
/// token could belong to (empty, too long, a space, a NUL, which PostgreSQL refuses) gets 400.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_names_only_tenants_a_token_could_belong_to() {
    let api = Api::new();
    let admin = api.token(Role::Admin, None);
    let bearer = format!("Bearer {admin}");
    let (status, body) = api.submit(&admin, "&tenant=studio-a", cornell_box()).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (status, listed) = api
        .call(
            "GET",
            "/api/jobs?tenant=studio-a",
            Some(&bearer),
            Vec::new(),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(listed[0]["tenant"], "studio-a");
    for bad in ["", &"a".repeat(65), "a%20b", "a%00"] {
        let (status, body) = api
            .submit(&admin, &format!("&tenant={bad}"), cornell_box())
            .await;
        assert_eq!(
            status,
            StatusCode::BAD_REQUEST,
            "submit for {bad:?}: {body}"
        );
        assert!(body.to_string().contains("tenant must be"), "{body}");
        let list = format!("/api/jobs?tenant={bad}");
        let status = api.as_(&admin, "GET", &list).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "list for {bad:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_gets_only_the_scenes_of_tasks_it_holds() {
    let api = Api::new();
    let submitter = api.token(Role::Submitter, Some("a"));
    let worker = api.token(Role::Worker, None);
    let admin = api.token(Role::Admin, None);
    let scene = cornell_box();
    let hash = tessera_protocol::scene::SceneHash::of(&scene);
    let (status, body) = api.submit(&submitter, "", scene).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let path = format!("/api/scenes/{hash}");
    assert_eq!(api.as_(&worker, "GET", &path).await, StatusCode::NOT_FOUND);
    assert_eq!(api.as_(&admin, "GET", &path).await, StatusCode::OK);
    // Once it holds a task of the job, it may fetch the scene.
    let (status, body) = api
        .call(
            "POST",
            "/api/claims",
            Some(&format!("Bearer {worker}")),
            br#"{"tasks":[{"task":1,"attempt":1}]}"#.to_vec(),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body[0]["render"]["lease"].is_string(), "{body}");
    assert_eq!(api.as_(&worker, "GET", &path).await, StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upload_over_the_limit_is_refused_before_it_is_stored() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = FarmConfig::new(dir.path().join("data"), PriceTable::default());
    config.limits.max_scene_bytes = 1 << 10;
    let farm = Farm::open(config, InProcessTransport::new()).unwrap();
    let api = Api {
        _dir: dir,
        router: server::router(farm.clone()),
        farm,
    };
    let token = api.token(Role::Submitter, Some("a"));
    let (status, body) = api
        .call(
            "POST",
            "/api/jobs?scene_name=big.glb",
            Some(&format!("Bearer {token}")),
            vec![0u8; 4 << 10],
        )
        .await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{body}");
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("larger than the limit"),
        "{body}"
    );
    let uploads = api.farm.upload_dir().unwrap();
    assert_eq!(
        std::fs::read_dir(uploads).unwrap().count(),
        0,
        "nothing kept"
    );
}

/// A JSON request is read whole before it is checked, so its size is bounded; a scene, streamed
/// to disk under the farm's own limit, may be far larger.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oversized_json_request_is_refused_and_a_large_scene_is_not() {
    let api = Api::new();
    let worker = api.token(Role::Worker, None);
    let submitter = api.token(Role::Submitter, Some("a"));
    let claim = br#"{"task":1,"attempt":1}"#;
    let mut body = br#"{"tasks":["#.to_vec();
    for _ in 0..40_000 {
        body.extend_from_slice(claim);
        body.push(b',');
    }
    body.extend_from_slice(claim);
    body.extend_from_slice(b"]}");
    let (status, body) = api
        .call(
            "POST",
            "/api/claims",
            Some(&format!("Bearer {worker}")),
            body,
        )
        .await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{body}");
    // The Cornell box, padded with whitespace to 200 KiB: still the same glTF.
    let mut scene = cornell_box();
    scene.resize(200 << 10, b' ');
    let (status, body) = api.submit(&submitter, "", scene).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
}

/// One token holder may keep a few event streams open, not thousands: the next one is refused
/// with 429 and a reason, another holder is not affected, and closing a stream frees its place.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn event_streams_are_limited_per_token_holder() {
    use tessera_coordinator::live::WATCHERS_PER_HOLDER;
    let api = Api::new();
    let (a, admin) = (
        api.token(Role::Submitter, Some("a")),
        api.token(Role::Admin, None),
    );
    let events = format!("/api/jobs/{}/events", api.submit_small_job(&a).await);
    let mut streams = Vec::new();
    for _ in 0..WATCHERS_PER_HOLDER {
        let response = api.open_events(&events, &a).await;
        assert_eq!(response.status(), StatusCode::OK);
        streams.push(response);
    }
    let refused = api.open_events(&events, &a).await;
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    let body = axum::body::to_bytes(refused.into_body(), 1 << 16)
        .await
        .unwrap();
    let error: Value = serde_json::from_slice(&body).unwrap();
    assert!(
        error["error"].as_str().unwrap().contains("event streams"),
        "{error}"
    );
    assert_eq!(
        api.open_events(&events, &admin).await.status(),
        StatusCode::OK
    );
    // Another tenant's token of the same name is another holder.
    let (_, namesake) = api.named_token(Role::Submitter, Some("b"), "submitter-a");
    let (status, body) = api
        .call(
            "GET",
            &events,
            Some(&format!("Bearer {namesake}")),
            Vec::new(),
        )
        .await;
    assert_eq!(
        status,
        StatusCode::NOT_FOUND,
        "another tenant's job: {body}"
    );
    let theirs = format!("/api/jobs/{}/events", api.submit_small_job(&namesake).await);
    let response = api.open_events(&theirs, &namesake).await;
    assert_eq!(
        response.status(),
        StatusCode::OK,
        "a namesake in another tenant"
    );

    drop(streams.pop());
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        let response = api.open_events(&events, &a).await;
        if response.status() == StatusCode::OK {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "a closed stream's place was not freed"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

/// An event stream lasts no longer than its token: revoking the token ends the streams open
/// with it (at their next tick, within a second), as it refuses the token's next requests.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revoking_a_token_ends_its_event_streams() {
    use futures_util::StreamExt;
    let api = Api::new();
    let (id, secret) = api.named_token(Role::Submitter, Some("a"), "watcher");
    // No worker here: the job runs on, and only the revocation can end its stream.
    let job = api.submit_small_job(&secret).await;
    let response = api
        .open_events(&format!("/api/jobs/{job}/events"), &secret)
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let mut stream = response.into_body().into_data_stream();
    let first = stream.next().await.unwrap().unwrap();
    assert!(
        String::from_utf8_lossy(&first).contains("event: job"),
        "{first:?}"
    );
    assert!(api.farm.store().revoke_token(id).unwrap());
    let ended = tokio::time::timeout(std::time::Duration::from_secs(5), async {
        while let Some(chunk) = stream.next().await {
            chunk.unwrap();
        }
    })
    .await;
    assert!(ended.is_ok(), "the stream outlived its token by 5 s");
}
