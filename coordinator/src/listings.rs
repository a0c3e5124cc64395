//! Job listings served from a snapshot. A dashboard polls the job list every second or two, and
//! a studio may leave hundreds open: each listing reads every job's frames and cost, and 200
//! clients reading them afresh cost a render of tiny tasks 5-10 % of its throughput. A snapshot
//! is served again while no job has been created, changed state or gone since it was taken
//! ([`crate::store::Store::jobs_version`]) and for at most [`FRESH_FOR`], so that only the
//! progress and costs of running jobs may lag, and by no more than that.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::body::Bytes;
use tessera_protocol::api::JobState;

/// How long a snapshot's progress and costs may be served.
pub const FRESH_FOR: Duration = Duration::from_millis(500);
/// Snapshots kept at once, one for each tenant and state asked for in the last [`FRESH_FOR`]:
/// memory stays bounded whatever an admin filters by.
const KEPT: usize = 64;

/// What a listing is of: one tenant's jobs or everyone's, in one state or all.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Listed {
    pub tenant: Option<String>,
    pub state: Option<JobState>,
}

struct Snapshot {
    version: i64,
    taken: Instant,
    json: Bytes,
}

/// The latest snapshot of each listing.
#[derive(Default)]
pub struct Listings(Mutex<HashMap<Listed, Snapshot>>);

impl Listings {
    /// The snapshot of `listed`, if it was taken at `version` less than [`FRESH_FOR`] ago.
    pub fn fresh(&self, listed: &Listed, version: i64) -> Option<Bytes> {
        let kept = self.0.lock().unwrap_or_else(|p| p.into_inner());
        kept.get(listed)
            .filter(|s| s.version == version && s.taken.elapsed() < FRESH_FOR)
            .map(|s| s.json.clone())
    }

    /// Keeps `json`, the listing of `listed` read after the store was at `version` at `taken`
    /// (before the read: the snapshot is as old as its oldest row).
    pub fn keep(&self, listed: Listed, version: i64, taken: Instant, json: Bytes) {
        let mut kept = self.0.lock().unwrap_or_else(|p| p.into_inner());
        kept.retain(|_, s| s.taken.elapsed() < FRESH_FOR);
        if kept.len() >= KEPT
            && let Some(oldest) = kept
                .iter()
                .min_by_key(|(_, s)| s.taken)
                .map(|(l, _)| l.clone())
        {
            kept.remove(&oldest);
        }
        kept.insert(
            listed,
            Snapshot {
                version,
                taken,
                json,
            },
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all() -> Listed {
        Listed {
            tenant: None,
            state: None,
        }
    }

    #[test]
    fn a_snapshot_is_served_only_at_its_version_and_while_fresh() {
        let listings = Listings::default();
        assert_eq!(listings.fresh(&all(), 1), None);
        listings.keep(all(), 1, Instant::now(), Bytes::from_static(b"[]"));
        assert_eq!(listings.fresh(&all(), 1), Some(Bytes::from_static(b"[]")));
        assert_eq!(listings.fresh(&all(), 2), None, "a job changed since");
        let running = Listed {
            state: Some(JobState::Running),
            ..all()
        };
        assert_eq!(listings.fresh(&running, 1), None, "another listing");
        std::thread::sleep(FRESH_FOR);
        assert_eq!(listings.fresh(&all(), 1), None, "too old");
    }

    #[test]
    fn snapshots_kept_are_bounded() {
        let listings = Listings::default();
        for i in 0..10 * KEPT {
            let listed = Listed {
                tenant: Some(format!("tenant-{i}")),
                state: None,
            };
            listings.keep(listed, 0, Instant::now(), Bytes::from_static(b"[]"));
        }
        assert_eq!(listings.0.lock().unwrap().len(), KEPT);
        let last = Listed {
            tenant: Some(format!("tenant-{}", 10 * KEPT - 1)),
            state: None,
        };
        assert!(listings.fresh(&last, 0).is_some(), "the newest is kept");
        std::thread::sleep(FRESH_FOR);
        listings.keep(all(), 0, Instant::now(), Bytes::from_static(b"[]"));
        assert_eq!(listings.0.lock().unwrap().len(), 1, "stale ones are let go");
    }
}
