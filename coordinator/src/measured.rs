//! What the coordinator measures as it runs, for `/metrics`: task latency and render time,
//! API request durations, spot checks' time, and tiles per second. Kept in memory, since this process started.

use std::collections::VecDeque;
use std::sync::Mutex;

use tessera_protocol::metrics::{Histogram, SECONDS_BUCKETS};

/// The window over which tiles per second are averaged.
const RATE_WINDOW_SECONDS: f64 = 60.0;

/// What the coordinator measures as it runs.
pub struct Measured {
    /// From a task's first queueing to its accepted result.
    pub(crate) task_latency: Histogram,
    /// Render time of accepted tasks as billed, by device class.
    pub(crate) render: Histogram,
    /// API requests by route.
    pub(crate) api: Histogram,
    /// The verifier's time per spot check, by comparison (exact or within noise).
    pub(crate) spot_checks: Histogram,
    /// When tiles were accepted, over the last window.
    accepted_at: Mutex<VecDeque<f64>>,
}

impl Default for Measured {
    fn default() -> Self {
        Self {
            task_latency: Histogram::new(SECONDS_BUCKETS),
            render: Histogram::by("class", SECONDS_BUCKETS),
            api: Histogram::by("route", SECONDS_BUCKETS),
            spot_checks: Histogram::by("comparison", SECONDS_BUCKETS),
            accepted_at: Mutex::default(),
        }
    }
}

impl Measured {
    pub(crate) fn tile_accepted(
        &self,
        now: f64,
        latency: Option<f64>,
        class: &str,
        render_seconds: f64,
    ) {
        if let Some(latency) = latency {
            self.task_latency.observe(latency.max(0.0));
        }
        self.render.observe_for(class, render_seconds);
        let mut recent = self.accepted_at.lock().unwrap_or_else(|e| e.into_inner());
        recent.push_back(now);
        while recent
            .front()
            .is_some_and(|t| *t < now - RATE_WINDOW_SECONDS)
        {
            recent.pop_front();
        }
    }

    pub(crate) fn tiles_per_second(&self, now: f64) -> f64 {
        let recent = self.accepted_at.lock().unwrap_or_else(|e| e.into_inner());
        let n = recent
            .iter()
            .filter(|t| **t >= now - RATE_WINDOW_SECONDS)
            .count();
        n as f64 / RATE_WINDOW_SECONDS
    }
}
