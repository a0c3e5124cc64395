//! Handing tasks to the transport: at most a window of each tenant's messages at a time (so no
//! tenant's backlog holds back another's), one window for the jobs any worker may render and one
//! for those only verified workers may ([`Window`](store::Window)), highest priority first
//! within a window, tiny tasks several to a message, each counted as queued only once the
//! transport confirmed it.

use std::collections::{HashMap, HashSet};

use tessera_protocol::auth::Trust;
use tessera_protocol::id::JobId;
use tessera_protocol::task::{MAX_BUNDLE, TaskBundle, TaskMessage};
use tessera_transport::Transport;

use crate::error::FarmError;
use crate::farm::Farm;
use crate::job::JobSpec;
use crate::store::{self, JobRecord, Published, TaskRecord};

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

    /// Publishes pending tasks of every window that has room for at least `least`
    /// messages, until they are full. A window counts messages: each job's queued tasks count
    /// as the messages they fill ([`tasks_a_message`]), and a job's tasks fill as many
    /// messages of the room as they need, highest priority first.
    async fn top_up_by(&self, least: usize) -> Result<(), FarmError> {
        let _one_at_a_time = self.publishing.lock().await;
        // Published once a call: one a worker gave back before its confirm stays pending
        // (`Store::mark_queued`), and goes out at the next top-up, not at once again.
        let mut published = HashSet::new();
        loop {
            let mut per_message = HashMap::new();
            let mut per_message_of = |job: JobId| -> Result<usize, FarmError> {
                if let Some(&n) = per_message.get(&job) {
                    return Ok(n);
                }
                let n = tasks_a_message(&self.store.job(job)?.spec, self.samples_a_message);
                per_message.insert(job, n);
                Ok(n)
            };
            let mut batch = Vec::new();
            for (window, queued) in self.store.waiting_windows()? {
                let mut in_broker = 0;
                for (job, tasks) in queued {
                    in_broker += tasks.div_ceil(per_message_of(job)?);
                }
                let room = self.window.saturating_sub(in_broker);
                if room < least {
                    continue;
                }
                // The longest run of the next pending tasks that fits the room.
                let (mut left, mut taken, mut at) = (room, 0, 0);
                let pending = self.store.pending(&window, room * MAX_BUNDLE)?;
                while left > 0 && at < pending.len() {
                    let job = pending[at].1;
                    let of_job = pending[at..].iter().take_while(|t| t.1 == job).count();
                    let per = per_message_of(job)?;
                    let take = of_job.min(left * per);
                    left -= take.div_ceil(per);
                    taken += take;
                    at += of_job;
                }
                batch.extend(self.store.pending_records(&pending[..taken])?);
            }
            batch.retain(|(task, _)| published.insert(task.id));
            if batch.is_empty() {
                return Ok(());
            }
            self.publish(&batch).await?;
        }
    }

    /// Publishes again the tasks queued for longer than the queue timeout that nobody claimed:
    /// their message may be gone (a purged queue, a consumer that took it without claiming).
    /// A copy of a message still queued is harmless: its attempt can be claimed once. Not into
    /// a queue nobody takes from (no worker online, or no verified one), as far as the broker
    /// can tell: nothing there can have been taken, and copies would pile up there every queue
    /// timeout for as long as nobody came.
    pub(crate) async fn republish_unclaimed(&self) -> Result<(), FarmError> {
        let before = store::now() - self.queue_timeout.as_secs_f64();
        let mut stale = self.store.unclaimed_queued(before)?;
        if stale.is_empty() {
            return Ok(());
        }
        let mut trust_of = HashMap::new();
        for (_, job) in &stale {
            if !trust_of.contains_key(job) {
                trust_of.insert(*job, self.store.job(*job)?.trust);
            }
        }
        for trust in [Trust::Any, Trust::Verified] {
            if !trust_of.values().any(|&t| t == trust) {
                continue;
            }
            match self.transport.task_consumers(trust).await {
                Ok(0) => stale.retain(|(_, job)| trust_of[job] != trust),
                Ok(_) => {}
                // Published again, as before the queue was counted: a lost message would
                // otherwise wait for as long as counting fails.
                Err(e) => tracing::warn!(error = %e, "cannot count a task queue's consumers"),
            }
        }
        if stale.is_empty() {
            return Ok(());
        }
        tracing::warn!(tasks = stale.len(), "publishing again tasks nobody claimed");
        self.publish(&stale).await
    }

    /// Publishes the current attempt of each task, tiny tasks of a job several to a message,
    /// and marks them queued once the transport confirmed them.
    async fn publish(&self, tasks: &[(TaskRecord, JobId)]) -> Result<(), FarmError> {
        let mut jobs: Vec<(JobRecord, Vec<TaskMessage>)> = Vec::new();
        for (task, job) in tasks {
            let at = match jobs.iter().position(|(record, _)| record.id == *job) {
                Some(at) => at,
                None => {
                    jobs.push((self.store.job(*job)?, Vec::new()));
                    jobs.len() - 1
                }
            };
            let (record, messages) = &mut jobs[at];
            messages.push(task_message(record, task, task.attempts + 1));
        }
        let mut bundles = Vec::new();
        for (record, messages) in jobs {
            for chunk in messages.chunks(tasks_a_message(&record.spec, self.samples_a_message)) {
                bundles.push(TaskBundle::new(chunk.to_vec()).expect("one job's tasks, a few"));
            }
        }
        // Taken before publishing: a worker may start before the broker confirms.
        let published_at = store::now();
        self.transport.publish_tasks(&bundles).await?;
        let published: Vec<Published> = tasks.iter().map(|(t, _)| Published::of(t)).collect();
        self.store.mark_queued(&published, published_at)?;
        Ok(())
    }
}

/// How many of a job's tasks travel in one message: enough for `samples` camera samples, at
/// most [`MAX_BUNDLE`].
fn tasks_a_message(spec: &JobSpec, samples: u64) -> usize {
    let side = u64::from(spec.tile_size.get());
    let per_task = side * side * u64::from(spec.settings.spp.get());
    (samples / per_task).clamp(1, MAX_BUNDLE as u64) as usize
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
