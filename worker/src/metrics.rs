//! What a worker counts as it runs, for `tessera worker --metrics ADDR` (Prometheus' text
//! format): tasks by outcome, render times, whether it is busy, and what it could not deliver.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};

use tessera_protocol::metrics::{Exposition, Histogram, SECONDS_BUCKETS};

/// How a task taken from the queue ended here.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TaskOutcome {
    Rendered,
    /// Rendering failed; the coordinator was told.
    Failed,
    /// The coordinator said not to render it (the job ended, the task is held elsewhere).
    Skipped,
}

impl TaskOutcome {
    const ALL: [TaskOutcome; 3] = [
        TaskOutcome::Rendered,
        TaskOutcome::Failed,
        TaskOutcome::Skipped,
    ];

    fn as_str(self) -> &'static str {
        match self {
            TaskOutcome::Rendered => "rendered",
            TaskOutcome::Failed => "failed",
            TaskOutcome::Skipped => "skipped",
        }
    }
}

pub struct WorkerMetrics {
    tasks: [AtomicU64; 3],
    render: Histogram,
    busy: AtomicU64,
    results_unsent: AtomicU64,
    claim_retries: AtomicU64,
    heartbeats_missed: AtomicU64,
}

impl Default for WorkerMetrics {
    fn default() -> Self {
        Self {
            tasks: Default::default(),
            render: Histogram::new(SECONDS_BUCKETS),
            busy: AtomicU64::new(0),
            results_unsent: AtomicU64::new(0),
            claim_retries: AtomicU64::new(0),
            heartbeats_missed: AtomicU64::new(0),
        }
    }
}

impl WorkerMetrics {
    pub(crate) fn task_ended(&self, outcome: TaskOutcome, render_seconds: Option<f64>) {
        self.tasks[outcome as usize].fetch_add(1, Ordering::Relaxed);
        if let Some(seconds) = render_seconds {
            self.render.observe(seconds);
        }
    }

    pub(crate) fn render_started(&self) {
        self.busy.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn render_ended(&self) {
        self.busy.fetch_sub(1, Ordering::Relaxed);
    }

    pub(crate) fn result_unsent(&self) {
        self.results_unsent.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn claim_retried(&self) {
        self.claim_retries.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn heartbeat_missed(&self) {
        self.heartbeats_missed.fetch_add(1, Ordering::Relaxed);
    }

    /// The page served at `/metrics`.
    pub fn exposition(&self) -> String {
        let load = |a: &AtomicU64| a.load(Ordering::Relaxed);
        let tasks: BTreeMap<String, u64> = TaskOutcome::ALL
            .iter()
            .map(|o| (o.as_str().to_owned(), load(&self.tasks[*o as usize])))
            .collect();
        let mut page = Exposition::default();
        page.family(
            "tessera_worker_tasks_total",
            "counter",
            "Tasks taken from the queue, by how they ended.",
            "outcome",
            &tasks,
        );
        page.histogram(
            "tessera_worker_render_seconds",
            "Render time of the tiles this worker rendered.",
            &self.render,
        );
        page.single(
            "tessera_worker_busy",
            "gauge",
            "Tasks whose scene is being fetched or which are being rendered now (at most --tasks-in-hand).",
            load(&self.busy),
        );
        page.single(
            "tessera_worker_results_unsent_total",
            "counter",
            "Results that could not be sent (the task comes back from the broker).",
            load(&self.results_unsent),
        );
        page.single(
            "tessera_worker_claim_retries_total",
            "counter",
            "Claims tried again because the coordinator could not be reached.",
            load(&self.claim_retries),
        );
        page.single(
            "tessera_worker_heartbeats_missed_total",
            "counter",
            "Heartbeats the coordinator did not receive.",
            load(&self.heartbeats_missed),
        );
        page.finish()
    }
}
