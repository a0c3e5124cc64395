//! The worker's loop: takes tasks one at a time, renders them on a blocking thread (so the
//! connection's heartbeats never wait on rendering), sends the result, and only then
//! acknowledges the task. A failure is reported like a result; retrying is the coordinator's call.

use std::sync::Arc;

use tessera_protocol::pixels::EncodedPixels;
use tessera_protocol::result::{Outcome, ResultMessage, WorkerInfo};
use tessera_protocol::task::TaskMessage;
use tessera_transport::{Delivery, Inbox, Transport, TransportError};
use tokio::sync::watch;

use crate::scene_source::SceneSource;
use crate::tile_renderer::TileRenderer;

/// Takes and renders tasks until `shutdown` turns true; the task in hand is finished and
/// acknowledged first.
pub async fn run_worker<T: Transport>(
    transport: &T,
    name: &str,
    renderer: Arc<TileRenderer>,
    source: Arc<dyn SceneSource>,
    mut shutdown: watch::Receiver<bool>,
) -> Result<(), TransportError> {
    let info = renderer.worker_info(name);
    {
        let (source, info) = (source.clone(), info.clone());
        let _ = tokio::task::spawn_blocking(move || source.announce(&info)).await;
    }
    // One task in hand per rendering device.
    let mut inbox = transport.consume_tasks(1).await?;
    tracing::info!(worker = %info.name, device = %info.device, "worker ready");
    loop {
        if *shutdown.borrow() {
            break;
        }
        let delivery = tokio::select! {
            _ = shutdown.changed() => break,
            delivery = inbox.next() => match delivery {
                Some(d) => d,
                None => break,
            },
        };
        handle_task(transport, &info, &renderer, &source, delivery).await;
    }
    tracing::info!(worker = %info.name, "worker stopped");
    Ok(())
}

async fn handle_task<T: Transport>(
    transport: &T,
    info: &WorkerInfo,
    renderer: &Arc<TileRenderer>,
    source: &Arc<dyn SceneSource>,
    delivery: Delivery<TaskMessage>,
) {
    let task = delivery.message.clone();
    let running = {
        let source = source.clone();
        tokio::task::spawn_blocking(move || source.job_is_running(task.job))
            .await
            .unwrap_or(true)
    };
    if !running {
        tracing::debug!(task = %task.task, job = %task.job, "skipping a task of a finished job");
        let _ = delivery.ack().await;
        return;
    }
    let rendered = {
        let (renderer, source, task) = (renderer.clone(), source.clone(), task.clone());
        tokio::task::spawn_blocking(move || {
            let path = source.scene_path(task.scene)?;
            renderer.render(&path, &task)
        })
        .await
        .unwrap_or_else(|e| Err(format!("renderer crashed: {e}")))
    };
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
    let result = ResultMessage {
        task: task.task,
        job: task.job,
        frame: task.frame,
        tile: task.tile,
        attempt: task.attempt,
        worker: info.clone(),
        outcome,
    };
    if let Err(e) = transport.publish_result(&result).await {
        // Not acknowledged: the task is delivered again once the connection is back.
        tracing::warn!(task = %task.task, error = %e, "cannot send result");
        return;
    }
    if let Err(reason) = &rendered {
        // The coordinator decides whether the task is tried again.
        tracing::warn!(task = %task.task, attempt = task.attempt, %reason, "task failed; reported to the coordinator");
    }
    if let Err(e) = delivery.ack().await {
        tracing::warn!(task = %task.task, error = %e, "cannot settle task; it will be delivered again");
    }
}
