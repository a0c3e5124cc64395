//! The worker's loop: takes tasks (one at a time unless told to hold more), claims each from the
//! coordinator, renders it on a blocking thread (so the connection's heartbeats never wait on
//! rendering), sends the result signed with its lease's key, and only then acknowledges the
//! task. A failure is reported like a result; retrying is the coordinator's call.

use std::num::NonZeroU16;
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;
use tessera_protocol::lease::Claim;
use tessera_protocol::pixels::EncodedPixels;
use tessera_protocol::result::{Outcome, ResultMessage, WorkerInfo};
use tessera_protocol::task::TaskMessage;
use tessera_transport::{Delivery, Inbox, Transport, TransportError};
use tokio::sync::watch;

use crate::link::Link;
use crate::metrics::{TaskOutcome, WorkerMetrics};
use crate::tile_renderer::TileRenderer;

/// How often a worker says it is alive: well inside the coordinator's lease timeout.
pub const DEFAULT_HEARTBEAT: Duration = Duration::from_secs(5);

/// How a worker paces itself.
#[derive(Clone, Copy, Debug)]
pub struct Pace {
    /// How often it says it is alive.
    pub heartbeat: Duration,
    /// Tasks it holds at once from each queue. With more than one it claims one task and
    /// sends another's result while it renders a third, which pays when tasks take
    /// milliseconds; one leaves every other task to idle workers, which pays when they take
    /// minutes.
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

/// Takes and renders tasks until `shutdown` turns true; the tasks in hand are finished and
/// acknowledged first.
pub async fn run_worker<T: Transport>(
    transport: &T,
    name: &str,
    renderer: Arc<TileRenderer>,
    link: Arc<dyn Link>,
    pace: Pace,
    metrics: Arc<WorkerMetrics>,
    mut shutdown: watch::Receiver<bool>,
) -> Result<(), TransportError> {
    let info = renderer.worker_info(name);
    {
        let (link, info) = (link.clone(), info.clone());
        let _ = tokio::task::spawn_blocking(move || link.announce(&info)).await;
    }
    let beating = tokio::spawn(beat(
        link.clone(),
        pace.heartbeat,
        metrics.clone(),
        shutdown.clone(),
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
    };
    let mut handling = FuturesUnordered::new();
    loop {
        if *shutdown.borrow() {
            break;
        }
        let (room, busy) = (handling.len() < usize::from(in_hand), !handling.is_empty());
        let delivery = tokio::select! {
            _ = shutdown.changed() => break,
            Some(()) = handling.next(), if busy => continue,
            delivery = inbox.next(), if room => delivery,
            delivery = next_of(&mut verified_inbox), if room => delivery,
        };
        let Some(delivery) = delivery else { break };
        handling.push(handle_task(transport, worker, delivery, shutdown.clone()));
    }
    while handling.next().await.is_some() {}
    beating.abort();
    tracing::info!(worker = %info.name, "worker stopped");
    Ok(())
}

/// The next delivery of `inbox`, or never without one.
async fn next_of<I: Inbox<TaskMessage>>(inbox: &mut Option<I>) -> Option<Delivery<TaskMessage>> {
    match inbox {
        Some(inbox) => inbox.next().await,
        None => std::future::pending().await,
    }
}

/// Heartbeats until shutdown; a missed one is only logged (the next may get through).
async fn beat(
    link: Arc<dyn Link>,
    every: Duration,
    metrics: Arc<WorkerMetrics>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut ticks = tokio::time::interval(every);
    loop {
        tokio::select! {
            _ = shutdown.changed() => return,
            _ = ticks.tick() => {
                let link = link.clone();
                if let Ok(Err(e)) = tokio::task::spawn_blocking(move || link.heartbeat()).await {
                    metrics.heartbeat_missed();
                    tracing::warn!(error = %e, "heartbeat not delivered");
                }
            }
        }
    }
}

/// Claims the task, retrying while the coordinator cannot be reached; `None` on shutdown.
async fn claim(
    link: &Arc<dyn Link>,
    task: &TaskMessage,
    metrics: &WorkerMetrics,
    shutdown: &mut watch::Receiver<bool>,
) -> Option<Claim> {
    let mut wait = Duration::from_millis(200);
    loop {
        let answer = {
            let (link, task) = (link.clone(), task.clone());
            tokio::task::spawn_blocking(move || link.claim(&task))
                .await
                .unwrap_or_else(|e| Err(e.to_string()))
        };
        match answer {
            Ok(claim) => return Some(claim),
            Err(e) => {
                metrics.claim_retried();
                tracing::warn!(task = %task.task, error = %e, retry_in = ?wait, "cannot claim the task; retrying");
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
}

async fn handle_task<T: Transport>(
    transport: &T,
    worker: Worker<'_>,
    delivery: Delivery<TaskMessage>,
    mut shutdown: watch::Receiver<bool>,
) {
    let Worker {
        info,
        renderer,
        link,
        metrics,
    } = worker;
    let task = delivery.message.clone();
    // Not acknowledged on shutdown: the broker hands the task to another worker.
    let Some(claim) = claim(link, &task, metrics, &mut shutdown).await else {
        return;
    };
    let (lease, key) = match claim {
        Claim::Render { lease, key } => (lease, key),
        Claim::Skip { reason } => {
            tracing::debug!(task = %task.task, attempt = task.attempt, %reason, "not rendering a task");
            metrics.task_ended(TaskOutcome::Skipped, None);
            let _ = delivery.ack().await;
            return;
        }
    };
    metrics.render_started();
    let rendered = {
        let (renderer, link, task) = (renderer.clone(), link.clone(), task.clone());
        tokio::task::spawn_blocking(move || {
            let path = fetch_scene(link.as_ref(), &task)?;
            renderer.render(&path, &task)
        })
        .await
        .unwrap_or_else(|e| Err(format!("renderer crashed: {e}")))
    };
    metrics.render_ended();
    let outcome = match &rendered {
        Ok((image, render_micros)) => Outcome::Rendered {
            render_micros: *render_micros,
            samples: task.samples(),
            pixels: EncodedPixels::encode(&image.pixels),
        },
        Err(reason) => Outcome::Failed {
            reason: reason.clone(),
        },
    };
    let mut result = ResultMessage {
        task: task.task,
        job: task.job,
        frame: task.frame,
        tile: task.tile,
        attempt: task.attempt,
        worker: info.clone(),
        outcome,
        lease,
        signature: String::new(),
    };
    result.sign(&key);
    if let Err(e) = transport.publish_result(&result).await {
        metrics.result_unsent();
        // Not acknowledged: the task is delivered again once the connection is back.
        tracing::warn!(task = %task.task, error = %e, "cannot send result");
        return;
    }
    match &rendered {
        Ok((_, micros)) => metrics.task_ended(TaskOutcome::Rendered, Some(*micros as f64 / 1e6)),
        Err(_) => metrics.task_ended(TaskOutcome::Failed, None),
    }
    if let Err(reason) = &rendered {
        // The coordinator decides whether the task is tried again.
        tracing::warn!(task = %task.task, attempt = task.attempt, %reason, "task failed; reported to the coordinator");
    }
    if let Err(e) = delivery.ack().await {
        tracing::warn!(task = %task.task, error = %e, "cannot settle task; it will be delivered again");
    }
}
