//! The worker's loop: takes task messages (one at a time unless told to hold more; a message
//! holds one task, or a few tiny ones), claims their tasks from the coordinator in one request,
//! renders them on a blocking thread (so the connection's heartbeats never wait on rendering),
//! sends each result signed with its lease's key, and only then acknowledges the message. A
//! failure is reported like a result; retrying is the coordinator's call.

use std::num::NonZeroU16;
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;
use tessera_protocol::lease::Claim;
use tessera_protocol::pixels::EncodedPixels;
use tessera_protocol::result::{Outcome, ResultMessage, WorkerInfo};
use tessera_protocol::task::{TaskBundle, TaskMessage};
use tessera_transport::{Delivery, Inbox, Transport, TransportError};
use tokio::sync::watch;

use crate::lease::Leases;
use crate::link::Link;
use crate::metrics::{TaskOutcome, WorkerMetrics};
use crate::tile_renderer::{Rendered, TileRenderer};

/// How often a worker says it is alive: well inside the coordinator's lease timeout.
pub const DEFAULT_HEARTBEAT: Duration = Duration::from_secs(5);

/// How a worker paces itself.
#[derive(Clone, Copy, Debug)]
pub struct Pace {
    /// How often it says it is alive.
    pub heartbeat: Duration,
    /// Task messages it holds at once from each queue. With more than one it claims one
    /// message's tasks and sends another's results while it renders a third's, which pays when
    /// tasks take milliseconds; one leaves every other task to idle workers, which pays when
    /// they take minutes.
    pub tasks_in_hand: NonZeroU16,
}

impl Default for Pace {
    fn default() -> Self {
        Pace {
            heartbeat: DEFAULT_HEARTBEAT,
            tasks_in_hand: NonZeroU16::MIN,
        }
    }
}

/// Why a worker stopped before it was told to.
#[derive(Debug, thiserror::Error)]
pub enum WorkerError {
    #[error(transparent)]
    Transport(#[from] TransportError),
    /// The coordinator refuses this worker's claims.
    #[error(
        "the coordinator stopped this worker: {0} (an operator may readmit it with `tessera workers readmit NAME`)"
    )]
    Stopped(String),
}

/// Takes and renders tasks until `shutdown` turns true, or until the coordinator says this
/// worker may claim no more ([`WorkerError::Stopped`]); the tasks in hand are finished and
/// acknowledged first.
pub async fn run_worker<T: Transport>(
    transport: &T,
    name: &str,
    renderer: Arc<TileRenderer>,
    link: Arc<dyn Link>,
    pace: Pace,
    metrics: Arc<WorkerMetrics>,
    mut shutdown: watch::Receiver<bool>,
) -> Result<(), WorkerError> {
    let info = renderer.worker_info(name);
    {
        let (link, info) = (link.clone(), info.clone());
        let _ = tokio::task::spawn_blocking(move || link.announce(&info)).await;
    }
    let leases = Arc::new(Leases::default());
    let beating = tokio::spawn(beat(
        link.clone(),
        leases.clone(),
        pace.heartbeat,
        metrics.clone(),
    ));
    // `tasks_in_hand` per rendering device; a verified worker may hold that many of each queue.
    let in_hand = pace.tasks_in_hand.get();
    let mut inbox = transport.consume_tasks(in_hand).await?;
    let verified = {
        let link = link.clone();
        tokio::task::spawn_blocking(move || link.verified())
            .await
            .unwrap_or(false)
    };
    let mut verified_inbox = match verified {
        true => Some(transport.consume_verified_tasks(in_hand).await?),
        false => None,
    };
    tracing::info!(worker = %info.name, device = %info.device, verified, "worker ready");
    let worker = Worker {
        info: &info,
        renderer: &renderer,
        link: &link,
        metrics: &metrics,
        leases: &leases,
    };
    let mut handling = FuturesUnordered::new();
    let mut stopped = None;
    loop {
        if *shutdown.borrow() {
            break;
        }
        let (room, busy) = (handling.len() < usize::from(in_hand), !handling.is_empty());
        let delivery = tokio::select! {
            _ = shutdown.changed() => break,
            Some(handled) = handling.next(), if busy => match handled {
                Handled::Done => continue,
                Handled::Stop(reason) => {
                    stopped = Some(reason);
                    break;
                }
            },
            delivery = inbox.next(), if room => delivery,
            delivery = next_of(&mut verified_inbox), if room => delivery,
        };
        let Some(delivery) = delivery else { break };
        handling.push(handle_task(transport, worker, delivery, shutdown.clone()));
    }
    while let Some(handled) = handling.next().await {
        if let Handled::Stop(reason) = handled {
            stopped.get_or_insert(reason);
        }
    }
    beating.abort();
    if let Some(reason) = stopped {
        tracing::warn!(worker = %info.name, %reason, "the coordinator stopped this worker");
        return Err(WorkerError::Stopped(reason));
    }
    tracing::info!(worker = %info.name, "worker stopped");
    Ok(())
}

/// How a task message was handled.
enum Handled {
    /// Rendered and acknowledged, or given back to the queue.
    Done,
    /// Given back to the queue for another worker: this one may claim nothing more, for the
    /// reason.
    Stop(String),
}

/// The next delivery of `inbox`, or never without one.
async fn next_of<I: Inbox<TaskBundle>>(inbox: &mut Option<I>) -> Option<Delivery<TaskBundle>> {
    match inbox {
        Some(inbox) => inbox.next().await,
        None => std::future::pending().await,
    }
}

/// Heartbeats, naming the leases held, until aborted: after shutdown too, while the tasks in
/// hand finish. A missed one is only logged (the next may get through).
async fn beat(
    link: Arc<dyn Link>,
    leases: Arc<Leases>,
    every: Duration,
    metrics: Arc<WorkerMetrics>,
) {
    let mut ticks = tokio::time::interval(every);
    loop {
        ticks.tick().await;
        let (link, named) = (link.clone(), leases.named());
        if let Ok(Err(e)) = tokio::task::spawn_blocking(move || link.heartbeat(&named)).await {
            metrics.heartbeat_missed();
            tracing::warn!(error = %e, "heartbeat not delivered");
        }
    }
}

/// Claims the tasks of a message, retrying while the coordinator cannot be reached: a claim
/// for each, in their order; `None` on shutdown.
async fn claim(
    link: &Arc<dyn Link>,
    tasks: &[TaskMessage],
    metrics: &WorkerMetrics,
    shutdown: &mut watch::Receiver<bool>,
) -> Option<Vec<Claim>> {
    let mut wait = Duration::from_millis(200);
    loop {
        let answer = {
            let (link, asked) = (link.clone(), tasks.to_vec());
            tokio::task::spawn_blocking(move || link.claim(&asked))
                .await
                .unwrap_or_else(|e| Err(e.to_string()))
                .and_then(|claims| match claims.len() == tasks.len() {
                    true => Ok(claims),
                    false => Err(format!(
                        "{} claims answered for {} tasks",
                        claims.len(),
                        tasks.len()
                    )),
                })
        };
        match answer {
            Ok(claims) => return Some(claims),
            Err(e) => {
                metrics.claim_retried();
                tracing::warn!(task = %tasks[0].task, tasks = tasks.len(), error = %e, retry_in = ?wait, "cannot claim the tasks; retrying");
                tokio::select! {
                    _ = shutdown.changed() => return None,
                    _ = tokio::time::sleep(wait) => {}
                }
                wait = (wait * 2).min(Duration::from_secs(10));
            }
        }
    }
}

/// The task's scene, fetched again with backoff for about a minute while the coordinator
/// cannot deliver it: an outage must not spend the task's attempts.
fn fetch_scene(link: &dyn Link, task: &TaskMessage) -> Result<std::path::PathBuf, String> {
    let mut wait = Duration::from_millis(250);
    let mut waited = Duration::ZERO;
    loop {
        match link.scene_path(task.scene) {
            Ok(path) => return Ok(path),
            Err(e) if waited >= Duration::from_secs(60) => return Err(e),
            Err(e) => {
                tracing::warn!(task = %task.task, error = %e, retry_in = ?wait, "cannot fetch the scene; retrying");
                std::thread::sleep(wait);
                waited += wait;
                wait = (wait * 2).min(Duration::from_secs(8));
            }
        }
    }
}

/// What a task is handled with.
#[derive(Clone, Copy)]
struct Worker<'a> {
    info: &'a WorkerInfo,
    renderer: &'a Arc<TileRenderer>,
    link: &'a Arc<dyn Link>,
    metrics: &'a Arc<WorkerMetrics>,
    leases: &'a Arc<Leases>,
}

/// Claims, renders and reports the tasks of one message, then acknowledges it; or leaves it
/// unacknowledged when this worker may claim nothing more.
async fn handle_task<T: Transport>(
    transport: &T,
    worker: Worker<'_>,
    delivery: Delivery<TaskBundle>,
    mut shutdown: watch::Receiver<bool>,
) -> Handled {
    let Worker {
        info,
        renderer,
        link,
        metrics,
        leases,
    } = worker;
    let tasks = delivery.message.tasks().to_vec();
    // Not acknowledged on shutdown: the broker hands the tasks to another worker.
    let Some(claims) = claim(link, &tasks, metrics, &mut shutdown).await else {
        return Handled::Done;
    };
    if let Some(Claim::Stop { reason }) = claims.iter().find(|c| matches!(c, Claim::Stop { .. })) {
        requeue(delivery).await;
        return Handled::Stop(reason.clone());
    }
    let mut granted = Vec::with_capacity(tasks.len());
    for (task, claim) in tasks.into_iter().zip(claims) {
        match claim {
            Claim::Render {
                lease,
                key,
                task: canonical,
            } => {
                if *canonical != task {
                    tracing::warn!(task = %task.task, attempt = task.attempt, "the queue's message for a task differs from the coordinator's; rendering the coordinator's");
                }
                granted.push((*canonical, lease, key));
            }
            Claim::Skip { reason } | Claim::Stop { reason } => {
                tracing::debug!(task = %task.task, attempt = task.attempt, %reason, "not rendering a task");
                metrics.task_ended(TaskOutcome::Skipped, None);
            }
        }
    }
    // Named by the heartbeats until the message is settled, and for a while once its results
    // are sent.
    let holding = leases.hold(granted.iter().map(|(_, lease, _)| lease.clone()).collect());
    // One hand-off to a blocking thread for the whole message: its tasks are rendered in turn.
    let rendered = {
        let (renderer, link, metrics) = (renderer.clone(), link.clone(), metrics.clone());
        let tasks: Vec<TaskMessage> = granted.iter().map(|(task, ..)| task.clone()).collect();
        let count = tasks.len();
        tokio::task::spawn_blocking(move || render_all(&renderer, link.as_ref(), &metrics, &tasks))
            .await
            .unwrap_or_else(|e| vec![Err(format!("renderer crashed: {e}")); count])
    };
    let results: Vec<ResultMessage> = granted
        .iter()
        .zip(&rendered)
        .map(|((task, lease, key), rendered)| {
            let outcome = match rendered {
                Ok((image, render_micros)) => Outcome::Rendered {
                    render_micros: *render_micros,
                    samples: task.samples(),
                    pixels: EncodedPixels::encode(&image.pixels),
                },
                Err(reason) => Outcome::Failed {
                    reason: reason.clone(),
                },
            };
            ResultMessage::signed(task, info.clone(), outcome, lease.clone(), key)
        })
        .collect();
    if !results.is_empty()
        && let Err(e) = transport.publish_results(&results).await
    {
        metrics.result_unsent();
        tracing::warn!(task = %results[0].task, tasks = results.len(), error = %e, "cannot send results");
        requeue(delivery).await;
        return Handled::Done;
    }
    holding.sent();
    for ((task, ..), rendered) in granted.iter().zip(&rendered) {
        match rendered {
            Ok((_, micros)) => {
                metrics.task_ended(TaskOutcome::Rendered, Some(*micros as f64 / 1e6))
            }
            Err(reason) => {
                metrics.task_ended(TaskOutcome::Failed, None);
                // The coordinator decides whether the task is tried again.
                tracing::warn!(task = %task.task, attempt = task.attempt, %reason, "task failed; reported to the coordinator");
            }
        }
    }
    if let Err(e) = delivery.ack().await {
        tracing::warn!(error = %e, "cannot settle a task message; it will be delivered again");
    }
    Handled::Done
}

/// Gives a message back to the queue for any worker. When that fails too the connection is
/// gone, and the broker gives it back itself.
async fn requeue(delivery: Delivery<TaskBundle>) {
    if let Err(e) = delivery.requeue().await {
        tracing::warn!(error = %e, "cannot give a task message back; it will be delivered again");
    }
}

/// Renders `tasks` in turn, each scene fetched once. The coordinator grants a message's tasks
/// of one job only, so of one scene; a worker that took a forged message's mix on trust would
/// render one job's tiles with another's scene, fail its checks and be blocked.
fn render_all(
    renderer: &TileRenderer,
    link: &dyn Link,
    metrics: &WorkerMetrics,
    tasks: &[TaskMessage],
) -> Vec<Rendered> {
    let mut rendered = Vec::with_capacity(tasks.len());
    for run in tasks.chunk_by(|a, b| a.scene == b.scene) {
        match fetch_scene(link, &run[0]) {
            Ok(path) => {
                metrics.render_started();
                rendered.extend(renderer.render(&path, run));
                metrics.render_ended();
            }
            Err(reason) => rendered.extend(vec![Err(reason); run.len()]),
        }
    }
    rendered
}
