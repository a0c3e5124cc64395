//! `GET /metrics`: the farm in Prometheus' text format. Counts come from the store, so they
//! survive restarts; durations and rates are this process's since it started
//! ([`Measured`](crate::measured::Measured)).

use std::collections::BTreeMap;

use tessera_protocol::metrics::Exposition;
use tessera_transport::Transport;

use crate::error::FarmError;
use crate::farm::Farm;

impl<T: Transport> Farm<T> {
    pub fn metrics(&self) -> Result<String, FarmError> {
        let counts = self.store.counts()?;
        let mut alive = BTreeMap::new();
        for w in self.workers()? {
            if w.alive && w.blocked.is_none() {
                *alive.entry(w.device_class).or_insert(0u64) += 1;
            }
        }
        let refused: BTreeMap<String, u64> = self
            .refusals()
            .into_iter()
            .map(|(why, n)| (why.to_owned(), n))
            .collect();
        let queued = counts.tasks.get("queued").copied().unwrap_or(0);
        let mut page = Exposition::default();
        page.family(
            "tessera_jobs",
            "gauge",
            "Jobs by state.",
            "state",
            &counts.jobs,
        );
        page.family(
            "tessera_tasks",
            "gauge",
            "Tasks by state.",
            "state",
            &counts.tasks,
        );
        page.single(
            "tessera_queue_depth",
            "gauge",
            "Tasks handed to the broker and not yet claimed by a worker.",
            queued.saturating_sub(counts.active_leases),
        );
        page.family(
            "tessera_tasks_accepted_total",
            "counter",
            "Results accepted and billed, by device class.",
            "class",
            &counts.accepted,
        );
        page.single(
            "tessera_tiles_per_second",
            "gauge",
            "Tiles accepted per second, averaged over the last minute.",
            self.measured.tiles_per_second(crate::store::now()),
        );
        page.histogram(
            "tessera_task_latency_seconds",
            "From a task's first queueing to its accepted result.",
            &self.measured.task_latency,
        );
        page.histogram(
            "tessera_task_render_seconds",
            "Render time of accepted tasks as billed, by device class.",
            &self.measured.render,
        );
        page.histogram(
            "tessera_spot_check_seconds",
            "The verifier's time per spot check, by comparison (exact or within noise).",
            &self.measured.spot_checks,
        );
        page.family(
            "tessera_billed_micro_usd_total",
            "counter",
            "Micro-dollars charged, by device class.",
            "class",
            &counts.billed,
        );
        page.family(
            "tessera_reversed_micro_usd_total",
            "counter",
            "Micro-dollars of charges reversed after failed spot checks, by device class.",
            "class",
            &counts.reversed,
        );
        page.family(
            "tessera_results_refused_total",
            "counter",
            "Results refused for good since the coordinator started, by reason.",
            "reason",
            &refused,
        );
        page.family(
            "tessera_workers_alive",
            "gauge",
            "Workers heard from within the lease timeout and not blocked, by device class.",
            "class",
            &alive,
        );
        page.single(
            "tessera_leases_active",
            "gauge",
            "Tasks held by a worker now.",
            counts.active_leases,
        );
        page.histogram(
            "tessera_api_request_duration_seconds",
            "API requests by route, from arrival to the answer's headers.",
            &self.measured.api,
        );
        Ok(page.finish())
    }
}
