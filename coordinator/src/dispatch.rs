//! Handing tasks to the transport: at most a window of each tenant's at a time (so no tenant's
//! backlog holds back another's), highest priority first within a tenant, each counted as
//! queued only once the transport confirmed it.

use std::collections::HashMap;

use tessera_protocol::id::{JobId, TaskId};
use tessera_protocol::task::TaskMessage;
use tessera_transport::Transport;

use crate::error::FarmError;
use crate::farm::Farm;
use crate::store::{self, JobRecord, TaskRecord};

impl<T: Transport> Farm<T> {
    /// Publishes pending tasks until the window is full.
    pub async fn top_up(&self) -> Result<(), FarmError> {
        self.top_up_by(1).await
    }

    /// Tops up the windows that have room for a quarter of them: after each batch of results,
    /// so that tiny tasks are published (and marked queued) in chunks rather than one by one.
    /// What this leaves waiting goes out at the next full [`top_up`](Self::top_up), within
    /// two seconds.
    pub(crate) async fn top_up_in_chunks(&self) -> Result<(), FarmError> {
        self.top_up_by((self.window / 4).max(1)).await
    }

    /// Publishes pending tasks of every tenant whose window has room for at least `least`,
    /// until they are full.
    async fn top_up_by(&self, least: usize) -> Result<(), FarmError> {
        let _one_at_a_time = self.publishing.lock().await;
        loop {
            let mut batch = Vec::new();
            for (tenant, queued) in self.store.waiting_tenants()? {
                let room = self.window.saturating_sub(queued);
                if room >= least {
                    batch.extend(self.store.next_pending(&tenant, room)?);
                }
            }
            if batch.is_empty() {
                return Ok(());
            }
            self.publish(&batch).await?;
        }
    }

    /// Publishes again the tasks queued for longer than the queue timeout that nobody claimed:
    /// their message may be gone (a purged queue, a consumer that took it without claiming).
    /// A copy of a message still queued is harmless: its attempt can be claimed once.
    pub(crate) async fn republish_unclaimed(&self) -> Result<(), FarmError> {
        let before = store::now() - self.queue_timeout.as_secs_f64();
        let stale = self.store.unclaimed_queued(before)?;
        if stale.is_empty() {
            return Ok(());
        }
        tracing::warn!(tasks = stale.len(), "publishing again tasks nobody claimed");
        self.publish(&stale).await
    }

    /// Publishes the current attempt of each task and marks them queued once the transport
    /// confirmed them.
    async fn publish(&self, tasks: &[(TaskRecord, JobId)]) -> Result<(), FarmError> {
        let mut jobs = HashMap::new();
        let mut messages = Vec::with_capacity(tasks.len());
        for (task, job) in tasks {
            if !jobs.contains_key(job) {
                jobs.insert(*job, self.store.job(*job)?);
            }
            messages.push(task_message(&jobs[job], task, task.attempts + 1));
        }
        // Taken before publishing: a worker may start before the broker confirms.
        let published_at = store::now();
        self.transport.publish_tasks(&messages).await?;
        let ids: Vec<TaskId> = tasks.iter().map(|(t, _)| t.id).collect();
        self.store.mark_queued(&ids, published_at)?;
        Ok(())
    }
}

/// The message for attempt `attempt` of a stored task.
pub(crate) fn task_message(job: &JobRecord, task: &TaskRecord, attempt: u32) -> TaskMessage {
    let spec = &job.spec;
    TaskMessage {
        task: task.id,
        job: job.id,
        scene: job.scene,
        frame: task.task.frame,
        time: spec.fps.frame_time(task.task.frame) as f32,
        camera: spec.camera.clone(),
        view: spec.view,
        environment: spec.environment.clone(),
        resolution: spec.resolution,
        tile: task.task.tile,
        settings: spec.settings,
        attempt,
        max_attempts: spec.max_attempts,
        trust: job.trust,
    }
}
