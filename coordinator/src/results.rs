//! Recording a worker's result: checked against its task (workers are not trusted), the tile
//! written to disk, the task marked done and billed in one transaction, and the frame written
//! once its last tile is in. The coordinator alone decides whether a failed task is tried again.

use tessera_protocol::api::{JobState, LedgerRow};
use tessera_protocol::pixels::EncodedPixels;
use tessera_protocol::result::{Outcome, ResultMessage};
use tessera_transport::Transport;

use crate::billing;
use crate::dispatch::task_message;
use crate::error::FarmError;
use crate::farm::Farm;
use crate::store::{self, Acceptance, JobRecord, TaskRecord, TaskState};

impl<T: Transport> Farm<T> {
    /// Records one result. `Ok` means it may be acknowledged: accepted, a duplicate, or refused
    /// for good (with the task sent again where the worker's output was unusable).
    pub async fn handle_result(&self, r: &ResultMessage) -> Result<(), FarmError> {
        let Some(job) = self.store.task_job(r.task)? else {
            tracing::warn!(task = %r.task, worker = %r.worker.name, "result for an unknown task ignored");
            return Ok(());
        };
        let record = self.store.job(job)?;
        if record.state != JobState::Running {
            tracing::debug!(%job, "result for a job that is no longer running ignored");
            return Ok(());
        }
        let Some(task) = self.store.task(r.task, record.spec.resolution)? else {
            return Ok(());
        };
        if r.job != job || r.frame != task.task.frame || r.tile != task.task.tile {
            tracing::warn!(task = %r.task, worker = %r.worker.name, "result does not match its task; ignored");
            return Ok(());
        }
        if task.state == TaskState::Done {
            tracing::debug!(task = %r.task, "duplicate result ignored");
            return Ok(());
        }
        match &r.outcome {
            Outcome::Failed { reason } => {
                tracing::warn!(task = %r.task, attempt = r.attempt, worker = %r.worker.name, %reason, "task failed");
                self.retry_or_give_up(&record, &task, r.attempt, reason)
                    .await
            }
            Outcome::Rendered {
                render_micros,
                samples,
                pixels,
            } => match self.check_pixels(&record, &task, *samples, pixels) {
                Ok(compressed) => {
                    self.accept(&record, &task, r, *render_micros, *samples, &compressed)
                }
                Err(reason) => {
                    let reason =
                        format!("unusable result from worker '{}': {reason}", r.worker.name);
                    tracing::warn!(task = %task.id, attempt = r.attempt, %reason, "result refused");
                    self.retry_or_give_up(&record, &task, r.attempt, &reason)
                        .await
                }
            },
        }
    }

    /// Checks a result's pixels; returns their compressed form, as the tile is stored.
    fn check_pixels(
        &self,
        job: &JobRecord,
        task: &TaskRecord,
        samples: u64,
        pixels: &EncodedPixels,
    ) -> Result<Vec<u8>, String> {
        let expected = task.task.tile.pixel_count() as u64 * u64::from(job.spec.settings.spp.get());
        if samples != expected {
            return Err(format!(
                "{samples} samples reported, the task has {expected}"
            ));
        }
        let compressed = pixels.compressed().map_err(|e| e.to_string())?;
        EncodedPixels::decode_compressed(&compressed, task.task.tile.pixel_count())
            .map_err(|e| e.to_string())?
            .check_plausible()
            .map_err(|e| e.to_string())?;
        Ok(compressed)
    }

    /// Attempt `attempt` of a task came to nothing: the task is sent again, or on its last
    /// attempt dead-lettered and its job failed. A failure reported twice counts once.
    async fn retry_or_give_up(
        &self,
        job: &JobRecord,
        task: &TaskRecord,
        attempt: u32,
        reason: &str,
    ) -> Result<(), FarmError> {
        if attempt <= task.attempts {
            tracing::debug!(task = %task.id, attempt, "failure already recorded");
            return Ok(());
        }
        // Published before the failure is recorded: should recording fail, the result comes
        // back and the task is published again, which is harmless; the reverse would lose it.
        let last = attempt >= job.spec.max_attempts;
        let job_failure = if last {
            self.transport
                .dead_letter(&task_message(job, task, attempt))
                .await?;
            let why = format!(
                "task {} (frame {}, tile {}) failed {attempt} time(s): {reason}",
                task.id, task.task.frame, task.task.tile
            );
            tracing::error!(job = %job.id, %why, "job failed");
            Some(why)
        } else {
            self.transport
                .publish_tasks(&[task_message(job, task, attempt + 1)])
                .await?;
            None
        };
        self.store
            .record_failure(task.id, attempt, reason, job_failure.as_deref())?;
        Ok(())
    }

    fn accept(
        &self,
        job: &JobRecord,
        task: &TaskRecord,
        r: &ResultMessage,
        render_micros: u64,
        samples: u64,
        compressed: &[u8],
    ) -> Result<(), FarmError> {
        // The tile is on disk before the store says the task is done.
        self.write_tile(job.id, task.id, compressed)?;
        let render_micros = self.billable_micros(task, r, render_micros)?;
        let device = &r.worker.device;
        let hourly = self.prices.hourly(&device.class, device.threads);
        let row = LedgerRow {
            task: task.id,
            job: job.id,
            frame: task.task.frame,
            tile: task.task.tile.to_string(),
            worker: r.worker.name.clone(),
            device_class: device.class.clone(),
            threads: device.threads,
            render_micros,
            samples,
            hourly,
            charge: billing::charge(hourly, render_micros),
        };
        if self.store.accept(&row, &r.worker)? == Acceptance::Duplicate {
            return Ok(());
        }
        if let Some(events) = &self.events {
            events.tile_accepted(&row);
        }
        let frame = task.task.frame;
        let (done, total) = self.store.frame_tasks(job.id, frame, job.spec.resolution)?;
        if done.len() == total && !self.store.frame_written(job.id, frame)? {
            self.write_frame(job, frame)?;
            self.finish_if_complete(job.id)?;
        }
        Ok(())
    }

    /// The render time to bill: what the worker reports, but never more than has passed since
    /// the task was first published, the one bound the coordinator can check on a worker it
    /// does not control.
    fn billable_micros(
        &self,
        task: &TaskRecord,
        r: &ResultMessage,
        reported: u64,
    ) -> Result<u64, FarmError> {
        let Some(published_at) = self.store.queued_at(task.id)? else {
            return Ok(reported);
        };
        let elapsed = ((store::now() - published_at).max(0.0) * 1e6) as u64;
        if reported > elapsed {
            tracing::warn!(task = %task.id, worker = %r.worker.name, reported, elapsed, "render time reported beyond the time since publication; billing the latter");
            return Ok(elapsed);
        }
        Ok(reported)
    }
}
