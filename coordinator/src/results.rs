//! Recording a worker's result. Workers are not trusted: a result counts only under the active
//! lease it names and with that lease's signature, and it is checked against its task before
//! the tile is kept, the task marked done and billed (in one transaction), and the frame
//! written once its last tile is in. What is charged is the task's work at the job's price for
//! the device class of the worker's token ([`billing::work`]), never the time the worker
//! reports; a worker that fails a check is blocked, its unverified charges reversed and their
//! tiles rendered again. A result that can
//! never be recorded is refused once, counted and logged, and acknowledged; only failures of the
//! coordinator's own disk or database are retried. The coordinator alone decides whether a
//! failed task is tried again; one worker alone fails a job only after three times its attempts,
//! and only where no other worker is alive to take the task instead (`claim_one`).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use futures_util::future::join_all;
use tessera_protocol::api::{JobState, LedgerRow, TaskState};
use tessera_protocol::device::Device;
use tessera_protocol::id::{JobId, TaskId};
use tessera_protocol::money::Money;
use tessera_protocol::pixels::EncodedPixels;
use tessera_protocol::result::{Outcome, ResultMessage, WorkerInfo};
use tessera_renderer::film::Pixels;
use tessera_transport::Transport;

use crate::billing;
use crate::billing::work::{self, Throughput};
use crate::dispatch::task_message;
use crate::error::FarmError;
use crate::farm::Farm;
use crate::live::LiveEvent;
use crate::store::{self, Acceptance, Accepting, JobRecord, Lease, LeaseEnd, Priced, TaskRecord};
use crate::untrusted;
use crate::verify::{Comparison, Verdict, random_fraction};

/// Passed checks in a row after which a worker is checked less than every time.
const TRUSTED_AFTER: u64 = 10;
/// The share of a trusted worker's results that is checked: a cheater escapes its first 20
/// cheating results with odds (2/3)^20 = 3e-4, and its first 40 with 9e-8.
const TRUSTED_CHECK_RATE: f64 = 1.0 / 3.0;

/// The share of a worker's results that is checked once it has passed `streak` checks in a
/// row.
pub(crate) fn check_rate(streak: u64) -> f64 {
    if streak >= TRUSTED_AFTER {
        TRUSTED_CHECK_RATE
    } else {
        1.0
    }
}

/// Where workers are not trusted, a task whose attempts all failed on one worker fails its job
/// only after this many times its attempts: one saboteur cannot fail somebody's job by failing
/// its task thrice, yet a task that fails everywhere, on a farm of one worker too, still ends
/// its job.
const LONE_FAILURES: u32 = 3;

/// Time a worker may report beyond how long it held the task, for the two clocks' rounding.
const CLOCK_SLACK_MICROS: u64 = 1_000_000;

/// A worker renders only while it holds its lease: a render time reported beyond `held` is
/// made up, and fails the result as a wrong pixel would. (Reported time is never charged for;
/// this catches the worker that inflates it.)
fn claimed_beyond_lease(held: u64, reported_micros: u64) -> Option<Verdict> {
    (reported_micros > held + CLOCK_SLACK_MICROS).then(|| {
        Verdict::Failed(format!(
            "it reported {:.1} s of rendering for a task it held for {:.1} s",
            reported_micros as f64 / 1e6,
            held as f64 / 1e6
        ))
    })
}

/// The camera samples a task renders.
fn task_samples(job: &JobRecord, task: &TaskRecord) -> u64 {
    task.task.tile.pixel_count() as u64 * u64::from(job.spec.settings.spp.get())
}

/// A result's pixels that passed [`Farm::check_pixels`]: compressed as the tile is stored, and
/// decoded.
struct CheckedPixels {
    compressed: Vec<u8>,
    decoded: Pixels,
    /// A spot check rendered some of them again, and they matched.
    spot_checked: bool,
}

/// A result that passed every check, accepted with the rest of its batch in one transaction.
struct Passed {
    job: Arc<JobRecord>,
    task: TaskRecord,
    attempt: u32,
    lease: Lease,
    /// The render time the worker reported.
    reported_micros: u64,
    pixels: CheckedPixels,
    /// What the worker says of its device is kept for the workers list, never for billing:
    /// its class and threads are its token's.
    worker: WorkerInfo,
}

/// What the checks of one batch of results share.
struct Batch {
    /// Each job read once a batch: most of a batch's results are of one job.
    jobs: Mutex<HashMap<JobId, Arc<JobRecord>>>,
    /// Which result (its place in the batch) counts for each lease: the first signed with the
    /// lease's key. A copy later in the batch (sent twice, or redelivered) is a duplicate; a
    /// forged copy ahead of the true one is refused without taking its place.
    leases: Mutex<HashMap<String, usize>>,
}

/// What the batch's transaction did with one result that passed: its outcome, its ledger row
/// as charged, and whether it stopped its job at the cost limit.
struct Recorded {
    outcome: Acceptance,
    row: LedgerRow,
    stopped_job: bool,
}

impl<T: Transport> Farm<T> {
    /// Records one result. `Ok` means it may be acknowledged: accepted, a duplicate, or refused
    /// for good (with the task sent again where the worker's output was unusable).
    pub async fn handle_result(&self, r: &ResultMessage) -> Result<(), FarmError> {
        self.handle_results(&[r]).await
    }

    /// Records a batch of results: each is checked on its own, and those that pass are
    /// accepted in one transaction. `Ok` means every one may be acknowledged. Transient
    /// failures (disk, database) are retried step by step (a result's checks, recording a
    /// failure, the batch's transaction), so that a failed step does not repeat those before
    /// it. A check that runs out of retries fails the batch once the other checks are done;
    /// the batch then comes back whole, and is checked again. On a coordinator, a result the
    /// store refuses for good ([`Farm::unrecordable`]) is refused once, as one that fails its
    /// checks is, rather than stall every result behind it for ever; its lease then expires, and
    /// its task goes out again.
    pub async fn handle_results(&self, results: &[&ResultMessage]) -> Result<(), FarmError> {
        let batch = Batch {
            jobs: Mutex::new(HashMap::new()),
            leases: Mutex::new(HashMap::new()),
        };
        // Side by side: while one result waits for the verifier's thread to re-render some of
        // its pixels, the next is read and decoded. (A worker one of them blocks is paid for
        // none of the batch: `Store::accept` looks at its record.)
        let batch = &batch;
        let checks = results
            .iter()
            .enumerate()
            .map(|(i, r)| self.retrying("check a result", move || self.check_result(r, i, batch)));
        let mut passed = Vec::new();
        for (checked, r) in join_all(checks).await.into_iter().zip(results) {
            match checked {
                Ok(p) => passed.extend(p),
                Err(e) => self.refuse_unrecordable(e, r.task, r.attempt)?,
            }
        }
        if passed.is_empty() {
            return Ok(());
        }
        let recorded = match self
            .retrying("accept results", || async { self.accept(&passed) })
            .await
        {
            // Which result the store refused is not known: each on its own then.
            Err(e) if self.unrecordable(&e) => {
                let (kept, recorded) = self.accept_each(passed).await?;
                passed = kept;
                recorded
            }
            recorded => recorded?,
        };
        self.follow(&passed, recorded).await
    }

    /// Accepts each result in a transaction of its own, refusing those the store refuses for
    /// good: those it recorded, and what became of each.
    async fn accept_each(
        &self,
        passed: Vec<Passed>,
    ) -> Result<(Vec<Passed>, Vec<Recorded>), FarmError> {
        let (mut kept, mut recorded) = (Vec::new(), Vec::new());
        for p in passed {
            let alone = std::slice::from_ref(&p);
            match self
                .retrying("accept a result", || async { self.accept(alone) })
                .await
            {
                Ok(r) => {
                    recorded.extend(r);
                    kept.push(p);
                }
                Err(e) => self.refuse_unrecordable(e, p.task.id, p.attempt)?,
            }
        }
        Ok((kept, recorded))
    }

    /// `e`, unless the store refuses the result for good ([`Farm::unrecordable`]): the result
    /// is then refused once, and this is `Ok`.
    fn refuse_unrecordable(
        &self,
        e: FarmError,
        task: TaskId,
        attempt: u32,
    ) -> Result<(), FarmError> {
        if !self.unrecordable(&e) {
            return Err(e);
        }
        self.refuse("cannot be recorded", task, attempt);
        Ok(())
    }

    /// Checks one result; `Some` when it is to be accepted. Results that fail or are refused
    /// are recorded here.
    async fn check_result(
        &self,
        r: &ResultMessage,
        index: usize,
        batch: &Batch,
    ) -> Result<Option<Passed>, FarmError> {
        let Some(lease) = self.store.lease(&r.lease)? else {
            return Ok(self.refuse("unknown lease", r.task, r.attempt));
        };
        if !r.is_signed_by(&lease.key) {
            return Ok(self.refuse("bad signature", r.task, r.attempt));
        }
        if *batch
            .leases
            .lock()
            .unwrap()
            .entry(lease.id.clone())
            .or_insert(index)
            != index
        {
            tracing::debug!(task = %r.task, "duplicate result ignored");
            return Ok(None);
        }
        if lease.task != r.task || lease.attempt != r.attempt {
            return Ok(self.refuse("not the leased task", r.task, r.attempt));
        }
        if !lease.active {
            return Ok(self.refuse("lease no longer active", r.task, r.attempt));
        }
        let job = lease.job;
        let cached = batch.jobs.lock().unwrap().get(&job).cloned();
        let record = match cached {
            Some(record) => record,
            None => {
                let record = Arc::new(self.store.job(job)?);
                batch.jobs.lock().unwrap().insert(job, record.clone());
                record
            }
        };
        if record.state != JobState::Running {
            // The lease ends with the result: left active, it would expire as this worker's
            // failure, and past the task timeout block it as a hoarder.
            self.store.end_lease(&lease.id, LeaseEnd::Done)?;
            tracing::debug!(%job, "result for a job that is no longer running ignored");
            return Ok(None);
        }
        let Some(task) = self.store.task(r.task, record.spec.resolution)? else {
            return Ok(self.refuse("unknown task", r.task, r.attempt));
        };
        if r.job != job || r.frame != task.task.frame || r.tile != task.task.tile {
            return Ok(self.refuse("does not match its task", r.task, r.attempt));
        }
        if task.state == TaskState::Done {
            tracing::debug!(task = %r.task, "duplicate result ignored");
            return Ok(None);
        }
        let lease_done = Some((lease.id.as_str(), LeaseEnd::Done));
        let (render_micros, samples, pixels) = match &r.outcome {
            Outcome::Failed { reason } => {
                let reason = &untrusted::printable(reason, untrusted::REASON_CHARS);
                tracing::warn!(task = %r.task, attempt = r.attempt, worker = %lease.worker, %reason, "task failed");
                self.retry_or_give_up(&record, &task, r.attempt, reason, lease_done)
                    .await?;
                return Ok(None);
            }
            Outcome::Rendered {
                render_micros,
                samples,
                pixels,
            } => (*render_micros, *samples, pixels),
        };
        let checked = match self.check_pixels(&record, &task, samples, pixels) {
            Ok(checked) => checked,
            Err(reason) => {
                let reason = format!("unusable result from worker '{}': {reason}", lease.worker);
                tracing::warn!(task = %task.id, attempt = r.attempt, %reason, "result refused");
                self.retry_or_give_up(&record, &task, r.attempt, &reason, lease_done)
                    .await?;
                return Ok(None);
            }
        };
        // Only a lease this process timed from its grant can be overrun for certain: two
        // coordinators' wall clocks (a standby taking over, a restart with the clock stepped
        // back) may disagree by seconds, and blocking an honest worker on that reverses all it
        // earned. Elsewhere the time is only bounded when accepted.
        let (held, timed_here) = self.held_micros(&lease);
        let overrun = timed_here
            .then(|| claimed_beyond_lease(held, render_micros))
            .flatten();
        let verdict = match overrun {
            Some(failed) => Some(failed),
            None => {
                self.spot_check(&record, &task, r, &lease, &checked.decoded)
                    .await?
            }
        };
        if let Some(Verdict::Failed(why)) = verdict {
            let (reversed, again) = self.store.block_worker(&lease.worker, &why)?;
            let reason = format!(
                "result of worker '{}' failed a spot check: {why}",
                lease.worker
            );
            tracing::error!(task = %task.id, reversed, rendered_again = again, %reason, "worker blocked; its unverified charges reversed and their tiles rendered again");
            self.retry_or_give_up(&record, &task, r.attempt, &reason, lease_done)
                .await?;
            return Ok(None);
        }
        if let Some(Verdict::Inconclusive(why)) = &verdict {
            tracing::debug!(task = %task.id, worker = %lease.worker, %why, "spot check inconclusive; result accepted unverified");
        }
        let worker = WorkerInfo {
            name: lease.worker.clone(),
            device: Device {
                class: lease.device_class.clone(),
                threads: lease.threads,
                ..untrusted::device(r.worker.device.clone())
            },
        };
        Ok(Some(Passed {
            job: record,
            task,
            attempt: r.attempt,
            lease,
            reported_micros: render_micros,
            pixels: CheckedPixels {
                spot_checked: verdict == Some(Verdict::Passed),
                ..checked
            },
            worker,
        }))
    }

    /// A result that can never be recorded: counted, logged once, and acknowledged. Nothing of
    /// it is accepted.
    fn refuse(&self, why: &'static str, task: TaskId, attempt: u32) -> Option<Passed> {
        let count = self.count_refusal(why);
        tracing::warn!(%task, attempt, reason = why, refused = count, "result refused");
        None
    }

    /// Checks a result's pixels.
    fn check_pixels(
        &self,
        job: &JobRecord,
        task: &TaskRecord,
        samples: u64,
        pixels: &EncodedPixels,
    ) -> Result<CheckedPixels, String> {
        let expected = task_samples(job, task);
        if samples != expected {
            return Err(format!(
                "{samples} samples reported, the task has {expected}"
            ));
        }
        let compressed = pixels.compressed().map_err(|e| e.to_string())?;
        let decoded = EncodedPixels::decode_compressed(&compressed, task.task.tile.pixel_count())
            .map_err(|e| e.to_string())?;
        decoded.check_plausible().map_err(|e| e.to_string())?;
        Ok(CheckedPixels {
            compressed,
            decoded,
            spot_checked: false,
        })
    }

    /// Renders a few pixels of the result again, when this worker's record calls for a check:
    /// every result of a new worker, then, once it has passed 10 in a row, one in three. `None`
    /// when not checked. How the pixels are compared
    /// follows the backend the worker names ([`Comparison`]).
    async fn spot_check(
        &self,
        job: &JobRecord,
        task: &TaskRecord,
        r: &ResultMessage,
        lease: &Lease,
        pixels: &Pixels,
    ) -> Result<Option<Verdict>, FarmError> {
        if !self.spot_checks {
            return Ok(None);
        }
        let record = self.store.reputation(&lease.worker)?;
        if random_fraction() >= check_rate(record.consecutive_valid) {
            return Ok(None);
        }
        let comparison = Comparison::for_backend(&r.worker.device.backend);
        if !comparison.can_tell(task.task.tile.pixel_count(), job.spec.settings.spp.get()) {
            // Rendering it again would vouch for nothing: the result stays unverified.
            tracing::debug!(task = %task.id, "not spot-checked: at this many samples a check within noise could not tell a made-up tile");
            return Ok(None);
        }
        // The verifier's own trouble says nothing of the worker: unchecked, not refused, and not
        // retried either (a scene that cannot be found now will not be found on a retry, and
        // every result behind this one would wait).
        let scene = match self.scene_file(job.scene) {
            Ok(scene) => scene,
            Err(e) => {
                tracing::warn!(task = %task.id, error = %e, "cannot spot-check a result");
                return Ok(None);
            }
        };
        let message = task_message(job, task, r.attempt);
        let verifier = self.verifier.clone();
        let reported = pixels.clone();
        let verdict = tokio::task::spawn_blocking(move || {
            verifier.check(scene, &message, &reported, comparison)
        })
        .await
        .unwrap_or_else(|e| Err(e.to_string()));
        match verdict {
            Ok((verdict, seconds)) => {
                self.measured
                    .spot_checks
                    .observe_for(comparison.as_str(), seconds);
                Ok(Some(verdict))
            }
            // As above.
            Err(e) => {
                tracing::warn!(task = %task.id, error = %e, "cannot spot-check a result");
                Ok(None)
            }
        }
    }

    /// Attempt `attempt` of a task came to nothing: the task waits to be published again, or on
    /// its last attempt is dead-lettered and its job failed. Where workers are not trusted
    /// (results are spot-checked), the last attempt is the job's `max_attempts` only once two
    /// workers have failed the task, else [`LONE_FAILURES`] times that. A failure reported twice
    /// counts once. Each step is retried on its own, so that what came before (a worker blocked) is
    /// not done twice.
    pub(crate) async fn retry_or_give_up(
        &self,
        job: &JobRecord,
        task: &TaskRecord,
        attempt: u32,
        reason: &str,
        lease: Option<(&str, LeaseEnd)>,
    ) -> Result<(), FarmError> {
        if attempt <= task.attempts {
            tracing::debug!(task = %task.id, attempt, "failure already recorded");
            return Ok(());
        }
        let last = attempt >= job.spec.max_attempts
            && (!self.spot_checks
                || attempt >= LONE_FAILURES.saturating_mul(job.spec.max_attempts)
                || self.store.task_failers(task.id, lease.map(|(id, _)| id))? >= 2);
        let job_failure = if last {
            // Kept for the operator before the failure is recorded; should recording fail, the
            // result comes back and a second copy is harmless.
            let message = task_message(job, task, attempt);
            self.retrying("dead-letter a task", || async {
                Ok(self.transport.dead_letter(&message).await?)
            })
            .await?;
            let why = format!(
                "task {} (frame {}, tile {}) failed {attempt} time(s): {reason}",
                task.id, task.task.frame, task.task.tile
            );
            tracing::error!(job = %job.id, %why, "job failed");
            Some(why)
        } else {
            None
        };
        // The task is pending again: the next top-up publishes its next attempt, once its old
        // lease has ended, so no claim of the new attempt can meet the old lease.
        self.retrying("record a failure", || async {
            Ok(self.store.record_failure(
                task.id,
                attempt,
                reason,
                lease,
                job_failure.as_deref(),
            )?)
        })
        .await?;
        if !last {
            // Not published here: a broker holding back its confirms would stall the results
            // (or the lease checks) behind this one.
            self.ask_top_up();
        }
        Ok(())
    }

    /// What a task's result is charged for, in microseconds, and the price of an hour of it:
    /// the task's samples at the job's measured seconds per sample, at the job's price for the
    /// worker's class ([`billing::work`]); for a job nobody measured (a local render, its only
    /// worker this process), the render time at the class's hourly price.
    fn work_and_price(
        &self,
        job: &JobRecord,
        lease: &Lease,
        samples: u64,
        render_micros: u64,
    ) -> Result<(u64, Money), FarmError> {
        let Some(quote) = job
            .quote
            .as_ref()
            .filter(|q| !q.work_hour_prices.is_empty())
        else {
            return Ok((
                render_micros,
                self.prices.hourly(&lease.device_class, lease.threads),
            ));
        };
        let work = work::work_micros(samples, quote.probe_seconds_per_sample);
        let class = lease.device_class.to_lowercase();
        let price = match quote.work_hour_prices.get(&class) {
            Some(&price) => price,
            // A class the job's prices did not foresee: neither the CPU nor in the price table,
            // so priced as a GPU, at what its class is measured to render now (never above its
            // unmeasured price, so no more than the price table vouches for).
            None => {
                let verified: Vec<_> = self
                    .store
                    .work_done()?
                    .into_iter()
                    .map(|(_, _, v)| v)
                    .collect();
                work::hour_price(&self.prices, &Throughput::measure(&verified), &class, 1)
            }
        };
        Ok((work, price))
    }

    /// Microseconds since `lease` was granted: the longer of the wall clock's measure and, for
    /// a lease this process granted, the monotonic clock's; and whether this process timed it
    /// so (not for a lease granted before it started, or by another coordinator, whose start
    /// another clock wrote). A wall clock stepped back shortens the first; one stepped forward
    /// lengthens it, which only errs towards the worker.
    fn held_micros(&self, lease: &Lease) -> (u64, bool) {
        let wall = ((store::now() - lease.started_at).max(0.0) * 1e6) as u64;
        let here = self
            .granted
            .lock()
            .expect("lease clock")
            .get(&lease.id)
            .map(|at| at.elapsed().as_micros() as u64);
        (wall.max(here.unwrap_or(0)), here.is_some())
    }

    /// Accepts the results that passed their checks, in one transaction: what became of each,
    /// and whether it stopped its job at the cost limit.
    fn accept(&self, passed: &[Passed]) -> Result<Vec<Recorded>, FarmError> {
        // The reported time is kept for measuring the worker, bounded by the lease; what is
        // charged is the task's work.
        let mut accepting = Vec::with_capacity(passed.len());
        for p in passed {
            let render_micros = p.reported_micros.min(self.held_micros(&p.lease).0);
            let samples = task_samples(&p.job, &p.task);
            let (work_micros, hourly) =
                self.work_and_price(&p.job, &p.lease, samples, render_micros)?;
            accepting.push(Accepting {
                row: LedgerRow {
                    task: p.task.id,
                    job: p.job.id,
                    frame: p.task.task.frame,
                    tile: p.task.task.tile.to_string(),
                    worker: p.lease.worker.clone(),
                    device_class: p.lease.device_class.clone(),
                    threads: p.lease.threads,
                    render_micros,
                    samples,
                    work_micros,
                    hourly,
                    charge: Money::ZERO,
                },
                tile: &p.pixels.compressed,
                worker: &p.worker,
                lease: &p.lease.id,
                checked: p.pixels.spot_checked,
            });
        }
        let mut over_budget = vec![false; passed.len()];
        let outcomes = self
            .store
            .accept(&mut accepting, |i, row, carry, invoiced| {
                let (charge, carry) = billing::charge_carried(row.hourly, row.work_micros, carry);
                let Some(max) = passed[i].job.max_cost else {
                    return Ok(Priced::new(charge, carry));
                };
                let left = max.micros() - invoiced.total()?.micros();
                over_budget[i] = charge.micros() >= left;
                Ok(Priced {
                    charge: Money::from_micros(charge.micros().min(left.max(0))),
                    carry,
                    ends_job: over_budget[i].then(|| format!("stopped at its cost limit of {max}")),
                })
            })?;
        Ok(outcomes
            .into_iter()
            .zip(accepting)
            .zip(over_budget)
            .map(|((outcome, a), stopped_job)| Recorded {
                outcome,
                row: a.row,
                stopped_job,
            })
            .collect())
    }

    /// What follows a batch's transaction: the results it did not record are refused or their
    /// tasks sent again; those it did are announced, then their frames written.
    async fn follow(&self, passed: &[Passed], recorded: Vec<Recorded>) -> Result<(), FarmError> {
        let (mut accepted, mut blocked) = (Vec::new(), Vec::new());
        for (p, r) in passed.iter().zip(recorded) {
            match r.outcome {
                Acceptance::Duplicate => {}
                Acceptance::LeaseEnded => {
                    self.refuse("lease no longer active", p.task.id, p.attempt);
                }
                Acceptance::WorkerBlocked => blocked.push(p),
                Acceptance::Accepted => {
                    self.announce(p, &r.row);
                    accepted.push((p, r.stopped_job));
                }
            }
        }
        // Each task of a blocked worker goes out again, one failing not keeping the next (nor
        // the frames below) from following.
        let mut failed = None;
        for p in blocked {
            let reason = format!("worker '{}' was blocked", p.lease.worker);
            let lease = Some((p.lease.id.as_str(), LeaseEnd::Done));
            let retried = self
                .retry_or_give_up(&p.job, &p.task, p.attempt, &reason, lease)
                .await;
            if let Err(e) = retried.or_else(|e| self.refuse_unrecordable(e, p.task.id, p.attempt)) {
                failed.get_or_insert(e);
            }
        }
        // Only once every tile of the batch is announced: a frame the batch completed is
        // written after its tiles are heard of. The results are recorded whatever follows: a
        // frame left unwritten (a full disk) is written by a later tick.
        for (p, stopped_job) in accepted {
            if let Err(e) = self.complete(p, stopped_job) {
                tracing::warn!(task = %p.task.id, error = %e, "accepted; its frame is written later");
            }
        }
        failed.map_or(Ok(()), Err)
    }

    /// An accepted result is heard of: by the events' listener, the metrics and the dashboard.
    fn announce(&self, p: &Passed, row: &LedgerRow) {
        let (job, task) = (&p.job, &p.task);
        if let Some(events) = &self.events {
            events.tile_accepted(row);
        }
        let now = store::now();
        self.measured.tile_accepted(
            now,
            task.queued_at.map(|q| now - q),
            &p.lease.device_class,
            row.render_micros as f64 / 1e6,
        );
        if self.live.receiver_count() > 0 {
            let _ = self.live.send(LiveEvent::Tile {
                job: job.id,
                frame: task.task.frame,
                task: task.clone(),
            });
        }
    }

    /// What follows an accepted result: its frame is written once its last tile is in, unless
    /// its job stopped with it at its cost limit.
    fn complete(&self, p: &Passed, stopped_job: bool) -> Result<(), FarmError> {
        let (job, task) = (&p.job, &p.task);
        if stopped_job {
            tracing::warn!(job = %job.id, max_cost = %job.max_cost.unwrap_or_default(), "job stopped at its cost limit");
            return Ok(());
        }
        let frame = task.task.frame;
        if self.store.frame_ready(job.id, frame)? {
            self.write_frame(job, frame)?;
            self.finish_if_complete(job.id)?;
        }
        Ok(())
    }
}
