//! Progress display: a live bar on a terminal, plain periodic lines in logs and CI.

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};

use crate::local::Progress;
use crate::stderr::errln;

/// How often plain lines are printed at most, unless a 10% step is crossed.
const PLAIN_INTERVAL: Duration = Duration::from_secs(2);

pub enum ProgressReport {
    Bar {
        bar: Option<ProgressBar>,
        started: Instant,
    },
    Plain {
        started: Instant,
        last_line: Instant,
        last_tenth: u64,
    },
}

impl ProgressReport {
    pub fn new() -> Self {
        let started = Instant::now();
        if std::io::stderr().is_terminal() {
            ProgressReport::Bar { bar: None, started }
        } else {
            ProgressReport::Plain {
                started,
                last_line: started,
                last_tenth: 0,
            }
        }
    }

    pub fn update(&mut self, p: &Progress) {
        match self {
            ProgressReport::Bar { bar, started } => {
                // Created on the first tile so that nothing is drawn when the job fails early.
                let bar = bar.get_or_insert_with(|| new_bar(p.tiles_total));
                bar.set_position(p.tiles_done);
                bar.set_message(format!("frame {}, {}", p.frame, rate(p, *started)));
            }
            ProgressReport::Plain {
                started,
                last_line,
                last_tenth,
            } => {
                let tenth = p.tiles_done * 10 / p.tiles_total.max(1);
                let now = Instant::now();
                if tenth > *last_tenth || now - *last_line >= PLAIN_INTERVAL {
                    *last_tenth = tenth;
                    *last_line = now;
                    errln!(
                        "rendering: {}/{} tiles ({}%), frame {}, {}, ETA {}",
                        p.tiles_done,
                        p.tiles_total,
                        p.tiles_done * 100 / p.tiles_total.max(1),
                        p.frame,
                        rate(p, *started),
                        eta(p, *started),
                    );
                }
            }
        }
    }

    pub fn finish(&self) {
        if let ProgressReport::Bar { bar: Some(bar), .. } = self {
            bar.finish_and_clear();
        }
    }
}

fn new_bar(tiles: u64) -> ProgressBar {
    let style = ProgressStyle::with_template(
        "{spinner} [{elapsed_precise}] {wide_bar} {pos}/{len} tiles  {msg}  ETA {eta}",
    )
    .unwrap_or_else(|_| ProgressStyle::default_bar());
    ProgressBar::new(tiles).with_style(style)
}

fn rate(p: &Progress, started: Instant) -> String {
    let seconds = started.elapsed().as_secs_f64();
    samples_rate(if seconds > 0.0 {
        p.samples_done as f64 / seconds
    } else {
        0.0
    })
}

/// Remaining time, extrapolated from the samples done so far.
fn eta(p: &Progress, started: Instant) -> String {
    if p.samples_done == 0 {
        return "unknown".into();
    }
    let left = p.samples_total.saturating_sub(p.samples_done) as f64;
    let seconds = started.elapsed().as_secs_f64() * left / p.samples_done as f64;
    format!("{seconds:.0} s")
}

/// A rate in samples per second with a readable unit.
pub fn samples_rate(per_second: f64) -> String {
    if per_second >= 1e9 {
        format!("{:.2} Gsamples/s", per_second / 1e9)
    } else if per_second >= 1e6 {
        format!("{:.2} Msamples/s", per_second / 1e6)
    } else if per_second >= 1e3 {
        format!("{:.2} ksamples/s", per_second / 1e3)
    } else {
        format!("{per_second:.0} samples/s")
    }
}
