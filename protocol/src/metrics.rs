//! Metrics as Prometheus reads them (its text format, version 0.0.4), for the `/metrics` of the
//! coordinator and of workers: families of counters and gauges by one label, and histograms.
//! Names follow Prometheus' conventions: `tessera_` first, `_total` for counters, base units.

use std::collections::BTreeMap;
use std::fmt::{Display, Write};
use std::sync::Mutex;

/// The content type of the text format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4";

/// Upper bounds, in seconds, for durations from a millisecond to ten minutes.
pub const SECONDS_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
    300.0, 600.0,
];

/// A page of metrics being written.
#[derive(Default)]
pub struct Exposition(String);

impl Exposition {
    fn header(&mut self, name: &str, kind: &str, help: &str) {
        let _ = writeln!(self.0, "# HELP {name} {help}");
        let _ = writeln!(self.0, "# TYPE {name} {kind}");
    }

    /// One metric without labels.
    pub fn single(&mut self, name: &str, kind: &str, help: &str, value: impl Display) {
        self.header(name, kind, help);
        let _ = writeln!(self.0, "{name} {value}");
    }

    /// One metric family, a sample per value of `label`.
    pub fn family<V: Display>(
        &mut self,
        name: &str,
        kind: &str,
        help: &str,
        label: &str,
        samples: &BTreeMap<String, V>,
    ) {
        self.header(name, kind, help);
        for (value, sample) in samples {
            let _ = writeln!(self.0, "{name}{{{label}=\"{}\"}} {sample}", escape(value));
        }
    }

    pub fn histogram(&mut self, name: &str, help: &str, histogram: &Histogram) {
        self.header(name, "histogram", help);
        let series = histogram.series.lock().unwrap_or_else(|e| e.into_inner());
        for (value, s) in series.iter() {
            let label = match histogram.label {
                Some(label) => format!("{label}=\"{}\",", escape(value)),
                None => String::new(),
            };
            let mut cumulative = 0;
            for (bound, count) in histogram.bounds.iter().zip(&s.counts) {
                cumulative += count;
                let _ = writeln!(
                    self.0,
                    "{name}_bucket{{{label}le=\"{bound}\"}} {cumulative}"
                );
            }
            let _ = writeln!(self.0, "{name}_bucket{{{label}le=\"+Inf\"}} {}", s.count);
            let plain = label.trim_end_matches(',');
            let braces = |l: &str| {
                if l.is_empty() {
                    String::new()
                } else {
                    format!("{{{l}}}")
                }
            };
            let _ = writeln!(self.0, "{name}_sum{} {}", braces(plain), s.sum);
            let _ = writeln!(self.0, "{name}_count{} {}", braces(plain), s.count);
        }
    }

    pub fn finish(self) -> String {
        self.0
    }
}

/// Label values as the text format wants them.
fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// Observations counted in buckets, by one label's value or unlabelled.
pub struct Histogram {
    label: Option<&'static str>,
    bounds: &'static [f64],
    series: Mutex<BTreeMap<String, Series>>,
}

#[derive(Clone, Debug, Default)]
struct Series {
    /// Observations per bucket (not cumulative), one per bound.
    counts: Vec<u64>,
    count: u64,
    sum: f64,
}

impl Histogram {
    pub fn new(bounds: &'static [f64]) -> Self {
        Self {
            label: None,
            bounds,
            series: Mutex::default(),
        }
    }

    /// A histogram per value of `label`.
    pub fn by(label: &'static str, bounds: &'static [f64]) -> Self {
        Self {
            label: Some(label),
            ..Self::new(bounds)
        }
    }

    pub fn observe(&self, value: f64) {
        self.observe_for("", value);
    }

    pub fn observe_for(&self, label_value: &str, value: f64) {
        let mut series = self.series.lock().unwrap_or_else(|e| e.into_inner());
        let s = series
            .entry(label_value.to_owned())
            .or_insert_with(|| Series {
                counts: vec![0; self.bounds.len()],
                ..Series::default()
            });
        if let Some(i) = self.bounds.iter().position(|b| value <= *b) {
            s.counts[i] += 1;
        }
        s.count += 1;
        if value.is_finite() {
            s.sum += value;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histograms_are_cumulative_with_sum_and_count() {
        let h = Histogram::by("route", &[0.1, 1.0]);
        h.observe_for("/a", 0.0625);
        h.observe_for("/a", 0.5);
        h.observe_for("/a", 4.0);
        let mut page = Exposition::default();
        page.histogram("x_seconds", "X.", &h);
        let text = page.finish();
        assert!(
            text.contains("x_seconds_bucket{route=\"/a\",le=\"0.1\"} 1\n"),
            "{text}"
        );
        assert!(
            text.contains("x_seconds_bucket{route=\"/a\",le=\"1\"} 2\n"),
            "{text}"
        );
        assert!(
            text.contains("x_seconds_bucket{route=\"/a\",le=\"+Inf\"} 3\n"),
            "{text}"
        );
        assert!(
            text.contains("x_seconds_sum{route=\"/a\"} 4.5625\n"),
            "{text}"
        );
        assert!(text.contains("x_seconds_count{route=\"/a\"} 3\n"), "{text}");
    }

    #[test]
    fn unlabelled_histograms_have_no_label_braces() {
        let h = Histogram::new(&[1.0]);
        h.observe(2.0);
        let mut page = Exposition::default();
        page.histogram("y_seconds", "Y.", &h);
        let text = page.finish();
        assert!(text.contains("y_seconds_bucket{le=\"+Inf\"} 1\n"), "{text}");
        assert!(text.contains("y_seconds_count 1\n"), "{text}");
    }
}
