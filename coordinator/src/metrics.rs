//! `GET /metrics`: the farm in Prometheus' text format. Names follow Prometheus' conventions:
//! `tessera_` first, `_total` for counters, base units (micro-dollars are the farm's unit of
//! money, named in the metric).

use std::collections::BTreeMap;
use std::fmt::Write;

use tessera_transport::Transport;

use crate::error::FarmError;
use crate::farm::Farm;

/// One metric family: its help, its type, and its samples by one label.
fn family<V: std::fmt::Display>(
    out: &mut String,
    name: &str,
    kind: &str,
    help: &str,
    label: &str,
    samples: &BTreeMap<String, V>,
) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
    for (value, sample) in samples {
        let _ = writeln!(out, "{name}{{{label}=\"{}\"}} {sample}", escape(value));
    }
}

/// Label values as the text format wants them.
fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

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
        let mut out = String::new();
        family(
            &mut out,
            "tessera_jobs",
            "gauge",
            "Jobs by state.",
            "state",
            &counts.jobs,
        );
        family(
            &mut out,
            "tessera_tasks",
            "gauge",
            "Tasks by state.",
            "state",
            &counts.tasks,
        );
        family(
            &mut out,
            "tessera_tasks_accepted_total",
            "counter",
            "Results accepted and billed, by device class.",
            "class",
            &counts.accepted,
        );
        family(
            &mut out,
            "tessera_billed_micro_usd_total",
            "counter",
            "Micro-dollars charged, by device class.",
            "class",
            &counts.billed,
        );
        family(
            &mut out,
            "tessera_reversed_micro_usd_total",
            "counter",
            "Micro-dollars of charges reversed after failed spot checks, by device class.",
            "class",
            &counts.reversed,
        );
        family(
            &mut out,
            "tessera_results_refused_total",
            "counter",
            "Results refused for good since the coordinator started, by reason.",
            "reason",
            &refused,
        );
        family(
            &mut out,
            "tessera_workers_alive",
            "gauge",
            "Workers heard from within the lease timeout and not blocked, by device class.",
            "class",
            &alive,
        );
        let _ = writeln!(
            out,
            "# HELP tessera_leases_active Tasks held by a worker now."
        );
        let _ = writeln!(out, "# TYPE tessera_leases_active gauge");
        let _ = writeln!(out, "tessera_leases_active {}", counts.active_leases);
        Ok(out)
    }
}
