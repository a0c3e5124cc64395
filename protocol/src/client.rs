//! The coordinator's HTTP API from the outside: what the CLI and workers call.

use std::io::Read;
use std::time::Duration;

use serde::de::DeserializeOwned;

use crate::api::{
    InvoiceView, JobView, Me, Quote, ROWS_PAGE_MAX, Submitted, TaskState, TaskView, Terms,
    WorkerView,
};
use crate::auth::{IssuedToken, NewToken, TokenView};
use crate::credentials::redact;
use crate::id::JobId;
use crate::job::JobOptions;
use crate::lease::{Claim, ClaimRequest, Heartbeat};
use crate::result::WorkerInfo;
use crate::scene::SceneHash;

pub const DEFAULT_COORDINATOR: &str = "http://127.0.0.1:8741";

/// The longest a heartbeat may take: a third of the coordinator's default lease timeout (30 s),
/// so that the next one, five seconds on, still arrives in time.
pub const HEARTBEAT_TIMEOUT: Duration = Duration::from_secs(10);

/// Largest body accepted from the coordinator (a frame's EXR or a scene).
const MAX_BODY: u64 = 4 << 30;
/// The most pages one listing is read in: at the largest page, ten million rows, a hundred times
/// the charges of a job of the most tasks a farm takes by default.
const MAX_PAGES: usize = 1000;

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error(
        "cannot reach the coordinator at {url}: {message} (is `tessera coordinator` running there?)"
    )]
    Unreachable { url: String, message: String },
    /// The coordinator answered with an error; `message` is its explanation.
    #[error("{message}")]
    Api { status: u16, message: String },
    #[error("unexpected answer from the coordinator at {url}: {message}")]
    Protocol { url: String, message: String },
    /// Said without the token: an error naming the header it makes would show it.
    #[error(
        "the token is empty or holds a space, a line ending or a character outside ASCII, which no header \
         may carry (a token file saved with Windows line endings?)"
    )]
    MalformedToken,
}

/// A page of jobs, newest first, and whether older ones follow.
#[derive(Debug)]
pub struct JobsPage {
    pub jobs: Vec<JobView>,
    pub more: bool,
}

/// `s` as one segment of a URL's path: a name with `/` or `..` in it cannot reach another route.
fn path_segment(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// A body read as it arrives, failing once it runs past `limit` bytes: cut short instead, a
/// frame would be saved as a broken file.
struct Capped<R> {
    body: R,
    left: u64,
    limit: u64,
}

impl<R: Read> Capped<R> {
    fn new(body: R, limit: u64) -> Self {
        Self {
            body,
            left: limit,
            limit,
        }
    }
}

impl<R: Read> Read for Capped<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        // One byte more than is left tells a body of exactly `limit` bytes from a longer one.
        let room = buf
            .len()
            .min(usize::try_from(self.left.saturating_add(1)).unwrap_or(usize::MAX));
        let n = self.body.read(&mut buf[..room])?;
        if n as u64 > self.left {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("the answer is larger than {} bytes", self.limit),
            ));
        }
        self.left -= n as u64;
        Ok(n)
    }
}

/// Where the page a `Link` header names as next starts (its `after`): `None` when it names no
/// next page, an error when it names one this client cannot follow.
fn next_after(header: &str) -> Result<Option<i64>, String> {
    let Some(target) = header.split(',').find_map(|link| {
        let (target, rel) = link.split_once(';')?;
        (rel.trim() == "rel=\"next\"").then_some(target.trim())
    }) else {
        return Ok(None);
    };
    target
        .strip_prefix('<')
        .and_then(|t| t.strip_suffix('>'))
        .and_then(|t| t.split_once('?'))
        .and_then(|(_, query)| query.split('&').find_map(|p| p.strip_prefix("after=")))
        .and_then(|after| after.parse().ok())
        .map(Some)
        .ok_or_else(|| "its Link header names a next page without a row to start after".into())
}

/// Reads a body to its end, refusing one of more than `limit` bytes.
fn read_body(body: impl Read, limit: u64) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    Capped::new(body, limit)
        .read_to_end(&mut out)
        .map_err(|e| e.to_string())?;
    Ok(out)
}

#[derive(Clone)]
pub struct Client {
    base: String,
    /// Sent as `Authorization: Bearer ...` with every request.
    token: Option<String>,
    agent: ureq::Agent,
}

impl Client {
    pub fn new(base: &str, token: Option<&str>) -> Self {
        Self {
            base: base.trim_end_matches('/').to_owned(),
            token: token.map(str::to_owned),
            agent: ureq::AgentBuilder::new()
                .timeout_connect(Duration::from_secs(5))
                .timeout_read(Duration::from_secs(300))
                .build(),
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    fn call(
        &self,
        request: ureq::Request,
        body: Option<&[u8]>,
    ) -> Result<ureq::Response, ClientError> {
        let request = match &self.token {
            Some(token) if token.is_empty() || !token.bytes().all(|b| b.is_ascii_graphic()) => {
                return Err(ClientError::MalformedToken);
            }
            Some(token) => request.set("authorization", &format!("Bearer {token}")),
            None => request,
        };
        let result = match body {
            Some(bytes) => request.send_bytes(bytes),
            None => request.call(),
        };
        match result {
            Ok(response) => Ok(response),
            Err(ureq::Error::Status(status, response)) => {
                let text = response.into_string().unwrap_or_default();
                let message = serde_json::from_str::<serde_json::Value>(&text)
                    .ok()
                    .and_then(|v| v.get("error")?.as_str().map(str::to_owned))
                    .unwrap_or_else(|| format!("HTTP {status}: {}", text.trim()));
                Err(ClientError::Api { status, message })
            }
            Err(ureq::Error::Transport(t)) => {
                let message = t
                    .message()
                    .map(str::to_owned)
                    .unwrap_or_else(|| t.kind().to_string());
                // A transport error may quote the request's headers.
                let message = match &self.token {
                    // A token of a few characters is no secret, and would mask every match.
                    Some(token) if token.len() >= 8 => message.replace(token.as_str(), "***"),
                    _ => message,
                };
                Err(ClientError::Unreachable {
                    url: redact(&self.base),
                    message,
                })
            }
        }
    }

    fn json<T: DeserializeOwned>(&self, response: ureq::Response) -> Result<T, ClientError> {
        let bytes = self.bytes(response)?;
        serde_json::from_slice(&bytes).map_err(|e| ClientError::Protocol {
            url: redact(&self.base),
            message: e.to_string(),
        })
    }

    fn bytes(&self, response: ureq::Response) -> Result<Vec<u8>, ClientError> {
        read_body(response.into_reader(), MAX_BODY).map_err(|message| ClientError::Protocol {
            url: redact(&self.base),
            message,
        })
    }

    /// Submits `scene` (named `scene_name` in listings) to be rendered with `options`, on
    /// `terms`.
    pub fn submit(
        &self,
        scene_name: &str,
        options: &JobOptions,
        terms: &Terms,
        scene: &[u8],
    ) -> Result<JobId, ClientError> {
        let request = self.job_request("/api/jobs", scene_name, options, terms);
        let response = self.call(request, Some(scene))?;
        Ok(self.json::<Submitted>(response)?.id)
    }

    /// A POST of a job's options to `path`, its scene to follow as the body.
    fn job_request(
        &self,
        path: &str,
        scene_name: &str,
        options: &JobOptions,
        terms: &Terms,
    ) -> ureq::Request {
        let mut request = self
            .agent
            .post(&self.url(path))
            .query("scene_name", scene_name)
            .query("priority", &terms.priority.to_string());
        if let Some(max) = terms.max_cost {
            request = request.query("max_cost", &max.usd_decimal());
        }
        if !terms.trust.is_any() {
            request = request.query("trust", terms.trust.as_str());
        }
        for (key, value) in options.to_query() {
            request = request.query(key, &value);
        }
        request
    }

    /// What a job would cost and take on the farm now; nothing is queued.
    pub fn quote(
        &self,
        scene_name: &str,
        options: &JobOptions,
        terms: &Terms,
        scene: &[u8],
    ) -> Result<Quote, ClientError> {
        let response = self.call(
            self.job_request("/api/quotes", scene_name, options, terms),
            Some(scene),
        )?;
        self.json(response)
    }

    /// The newest `limit` jobs (1 to 1000), of those older than `before` where given.
    pub fn jobs(&self, limit: u32, before: Option<JobId>) -> Result<JobsPage, ClientError> {
        let mut path = format!("/api/jobs?limit={limit}");
        if let Some(before) = before {
            path.push_str(&format!("&before={before}"));
        }
        let response = self.call(self.agent.get(&self.url(&path)), None)?;
        let more = response
            .header("link")
            .is_some_and(|l| l.contains("rel=\"next\""));
        Ok(JobsPage {
            jobs: self.json(response)?,
            more,
        })
    }

    pub fn job(&self, job: JobId) -> Result<JobView, ClientError> {
        let response = self.call(self.agent.get(&self.url(&format!("/api/jobs/{job}"))), None)?;
        self.json(response)
    }

    pub fn cancel(&self, job: JobId) -> Result<(), ClientError> {
        self.call(
            self.agent
                .post(&self.url(&format!("/api/jobs/{job}/cancel"))),
            Some(b""),
        )?;
        Ok(())
    }

    /// A job's whole invoice, read a page at a time.
    pub fn invoice(&self, job: JobId) -> Result<InvoiceView, ClientError> {
        self.invoice_in_pages_of(job, ROWS_PAGE_MAX)
    }

    /// As [`invoice`](Self::invoice), `rows` charges a page (1 to [`ROWS_PAGE_MAX`]). A charge
    /// reversed on a page already read leaves the pages short of their total: they are read
    /// again, a few times at most.
    pub fn invoice_in_pages_of(&self, job: JobId, rows: u32) -> Result<InvoiceView, ClientError> {
        const TRIES: usize = 3;
        for _ in 0..TRIES {
            let invoice = self.invoice_pages(job, rows)?;
            let charged: i64 = invoice.rows.iter().map(|r| r.charge.micros()).sum();
            let reversed: i64 = invoice.reversals.iter().map(|r| r.amount.micros()).sum();
            if charged - reversed == invoice.total.micros() {
                return Ok(invoice);
            }
        }
        Err(ClientError::Protocol {
            url: redact(&self.base),
            message: format!(
                "job {job}'s invoice changed while it was read, {TRIES} times: try again"
            ),
        })
    }

    /// Every page of a job's invoice, the total taken from the last.
    fn invoice_pages(&self, job: JobId, rows: u32) -> Result<InvoiceView, ClientError> {
        let mut whole: Option<InvoiceView> = None;
        let path = format!("/api/jobs/{job}/invoice?limit={rows}");
        self.pages(&path, rows, |page: InvoiceView| {
            let len = page.rows.len();
            match &mut whole {
                None => whole = Some(page),
                Some(whole) => {
                    whole.rows.extend(page.rows);
                    whole.reversals.extend(page.reversals);
                    whole.total = page.total;
                }
            }
            len
        })?;
        Ok(whole.expect("a page was read"))
    }

    /// Every task of a job, in one state where given, read a page at a time.
    pub fn tasks(
        &self,
        job: JobId,
        state: Option<TaskState>,
    ) -> Result<Vec<TaskView>, ClientError> {
        self.tasks_in_pages_of(job, state, ROWS_PAGE_MAX)
    }

    /// As [`tasks`](Self::tasks), `rows` tasks a page (1 to [`ROWS_PAGE_MAX`]).
    pub fn tasks_in_pages_of(
        &self,
        job: JobId,
        state: Option<TaskState>,
        rows: u32,
    ) -> Result<Vec<TaskView>, ClientError> {
        let mut path = format!("/api/jobs/{job}/tasks?limit={rows}");
        if let Some(state) = state {
            path.push_str(&format!("&state={}", state.as_str()));
        }
        let mut tasks = Vec::new();
        self.pages(&path, rows, |page: Vec<TaskView>| {
            let len = page.len();
            tasks.extend(page);
            len
        })?;
        Ok(tasks)
    }

    /// Reads the listing at `path` (with a query asking for `limit` rows a page) page by page,
    /// as its `Link` headers lead, handing each page to `each`, which says how many rows it
    /// held. A coordinator that answered pages without end is stopped: each page must hold
    /// rows, no more than asked, and move on, and there are at most [`MAX_PAGES`].
    fn pages<T: DeserializeOwned>(
        &self,
        path: &str,
        limit: u32,
        mut each: impl FnMut(T) -> usize,
    ) -> Result<(), ClientError> {
        let refuse = |message: String| ClientError::Protocol {
            url: redact(&self.base),
            message,
        };
        let mut after = 0;
        for _ in 0..MAX_PAGES {
            let response = self.call(
                self.agent.get(&self.url(&format!("{path}&after={after}"))),
                None,
            )?;
            let next = response.header("link").map(next_after).transpose();
            let next = next.map_err(refuse)?.flatten();
            let rows = each(self.json(response)?);
            if rows > limit as usize {
                return Err(refuse(format!(
                    "a page held {rows} rows, asked for {limit}"
                )));
            }
            match next {
                Some(next) if next > after && rows > 0 => after = next,
                Some(_) => return Err(refuse("a listing's next page does not move on".into())),
                None => return Ok(()),
            }
        }
        Err(refuse(format!("a listing ran past {MAX_PAGES} pages")))
    }

    pub fn frame_exr(&self, job: JobId, frame: u32) -> Result<Vec<u8>, ClientError> {
        let path = format!("/api/jobs/{job}/frames/{frame}");
        let response = self.call(self.agent.get(&self.url(&path)), None)?;
        self.bytes(response)
    }

    /// The blob of scene `hash`, to be read as it arrives (a scene may be larger than a worker
    /// would hold in memory), at most the largest body a client accepts.
    pub fn scene(&self, hash: SceneHash) -> Result<impl Read + Send, ClientError> {
        let response = self.call(
            self.agent.get(&self.url(&format!("/api/scenes/{hash}"))),
            None,
        )?;
        Ok(Capped::new(response.into_reader(), MAX_BODY))
    }

    /// Whose token this client holds.
    pub fn me(&self) -> Result<Me, ClientError> {
        let response = self.call(self.agent.get(&self.url("/api/me")), None)?;
        self.json(response)
    }

    pub fn workers(&self) -> Result<Vec<WorkerView>, ClientError> {
        let response = self.call(self.agent.get(&self.url("/api/workers")), None)?;
        self.json(response)
    }

    /// Stops `worker`'s claims; the task it holds may finish.
    pub fn drain(&self, worker: &str) -> Result<(), ClientError> {
        self.worker_action(worker, "drain")
    }

    /// Lets a blocked or drained `worker` claim tasks again.
    pub fn readmit(&self, worker: &str) -> Result<(), ClientError> {
        self.worker_action(worker, "readmit")
    }

    fn worker_action(&self, worker: &str, action: &str) -> Result<(), ClientError> {
        let path = format!("/api/workers/{}/{action}", path_segment(worker));
        self.call(self.agent.post(&self.url(&path)), Some(b""))?;
        Ok(())
    }

    pub fn announce(&self, worker: &WorkerInfo) -> Result<(), ClientError> {
        let body = serde_json::to_vec(worker).expect("worker info serializes");
        let request = self
            .agent
            .post(&self.url("/api/workers"))
            .set("content-type", "application/json");
        self.call(request, Some(&body))?;
        Ok(())
    }

    /// Claims the tasks of a message taken from the queue, before rendering them: a claim for
    /// each, in their order.
    pub fn claim(&self, request: &ClaimRequest) -> Result<Vec<Claim>, ClientError> {
        let body = serde_json::to_vec(request).expect("claims serialize");
        let request = self
            .agent
            .post(&self.url("/api/claims"))
            .set("content-type", "application/json");
        let response = self.call(request, Some(&body))?;
        self.json(response)
    }

    /// Says this worker is alive, which keeps the leases it names ([`Heartbeat`]); gives up
    /// after [`HEARTBEAT_TIMEOUT`]: a beat held for the usual read timeout (a stale connection
    /// to a coordinator that failed over) would hold back the next ones until the worker's
    /// leases expired.
    pub fn heartbeat(&self, leases: &[String]) -> Result<(), ClientError> {
        let body = serde_json::to_vec(&Heartbeat {
            leases: leases.to_vec(),
        })
        .expect("heartbeats serialize");
        self.call(
            self.agent
                .post(&self.url("/api/workers/heartbeat"))
                .set("content-type", "application/json")
                .timeout(HEARTBEAT_TIMEOUT),
            Some(&body),
        )?;
        Ok(())
    }

    pub fn create_token(&self, token: &NewToken) -> Result<IssuedToken, ClientError> {
        let body = serde_json::to_vec(token).expect("tokens serialize");
        let request = self
            .agent
            .post(&self.url("/api/tokens"))
            .set("content-type", "application/json");
        let response = self.call(request, Some(&body))?;
        self.json(response)
    }

    pub fn tokens(&self) -> Result<Vec<TokenView>, ClientError> {
        let response = self.call(self.agent.get(&self.url("/api/tokens")), None)?;
        self.json(response)
    }

    pub fn revoke_token(&self, id: i64) -> Result<(), ClientError> {
        self.call(
            self.agent
                .post(&self.url(&format!("/api/tokens/{id}/revoke"))),
            Some(b""),
        )?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_next_page_is_read_from_the_link_header() {
        let link = "</api/jobs/3/invoice?limit=10000&after=42>; rel=\"next\"";
        assert_eq!(next_after(link), Ok(Some(42)));
        let two = "</x?after=1>; rel=\"prev\", </api/jobs/3/tasks?after=7&limit=2>; rel=\"next\"";
        assert_eq!(next_after(two), Ok(Some(7)));
        for no_next in ["</x?after=42>; rel=\"prev\"", "garbage", ""] {
            assert_eq!(next_after(no_next), Ok(None), "{no_next}");
        }
        for unfollowable in [
            "</api/jobs/3/invoice?limit=10000>; rel=\"next\"",
            "</api/jobs/3/invoice?after=x>; rel=\"next\"",
            "/api/jobs/3/invoice?after=42; rel=\"next\"",
        ] {
            assert!(next_after(unfollowable).is_err(), "{unfollowable}");
        }
    }

    #[test]
    fn an_unreachable_coordinator_is_named_without_its_password() {
        // Port 1 on this machine: nothing listens there, so the connection is refused at once.
        let client = Client::new("http://admin:s3cret@127.0.0.1:1/", None);
        let e = client.me().unwrap_err();
        assert!(matches!(e, ClientError::Unreachable { .. }), "{e:?}");
        let shown = e.to_string();
        assert!(
            shown.contains("http://admin:***@127.0.0.1:1") && !shown.contains("s3cret"),
            "{shown}"
        );
    }

    /// A token read from a file with a Windows line ending, or pasted with a stray character:
    /// the error says what is wrong without the token (ureq's own names the whole header).
    #[test]
    fn a_token_no_header_may_carry_is_refused_unshown() {
        for token in ["tsr_SECRET123\r", "tsr_SECRET123 ", "tsr_SECRÉT123", ""] {
            let client = Client::new("http://127.0.0.1:1/", Some(token));
            let e = client.me().unwrap_err();
            assert!(matches!(e, ClientError::MalformedToken), "{e:?}");
            assert!(!e.to_string().contains("SECR"), "{e}");
        }
    }

    #[test]
    fn a_body_past_the_limit_is_refused_not_cut_short() {
        assert_eq!(read_body(&[7u8; 16][..], 16).unwrap(), [7; 16]);
        assert_eq!(read_body(&[][..], 16).unwrap(), Vec::<u8>::new());
        let err = read_body(&[7u8; 17][..], 16).unwrap_err();
        assert_eq!(err, "the answer is larger than 16 bytes");
    }

    #[test]
    fn a_worker_name_stays_one_segment_of_the_path() {
        assert_eq!(path_segment("gpu-7_a"), "gpu-7_a");
        assert_eq!(path_segment("../jobs/1"), "%2E%2E%2Fjobs%2F1");
        assert_eq!(path_segment("w@x é?"), "w%40x%20%C3%A9%3F");
    }

    #[test]
    fn a_heartbeat_nobody_answers_gives_up_in_time() {
        // Accepts the connection and never answers, as a dead peer behind a proxy would.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let _held = std::thread::spawn(move || {
            let (stream, _) = listener.accept().unwrap();
            std::thread::sleep(HEARTBEAT_TIMEOUT * 3);
            drop(stream);
        });
        let started = std::time::Instant::now();
        let e = Client::new(&url, Some("t")).heartbeat(&[]).unwrap_err();
        let took = started.elapsed();
        assert!(matches!(e, ClientError::Unreachable { .. }), "{e:?}");
        assert!(
            took >= HEARTBEAT_TIMEOUT && took < HEARTBEAT_TIMEOUT * 2,
            "{took:?}"
        );
    }
}
