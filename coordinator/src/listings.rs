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
use tessera_protocol::id::JobId;

use crate::store::JobPage;

/// How long a snapshot's progress and costs may be served.
pub const FRESH_FOR: Duration = Duration::from_millis(500);
/// Snapshots kept at once, one for each tenant, state and page asked for in the last
/// [`FRESH_FOR`]: memory stays bounded whatever an admin filters by.
const KEPT: usize = 64;

/// What a listing is of: one tenant's jobs or everyone's, in one state or all, one page.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Listed {
    pub tenant: Option<String>,
    pub state: Option<JobState>,
    pub page: JobPage,
}

/// A listing as served: its JSON, and the job the next page starts below, if one follows.
#[derive(Clone, Debug, PartialEq)]
pub struct Listing {
    pub json: Bytes,
    pub next: Option<JobId>,
}

struct Snapshot {
    version: i64,
    taken: Instant,
    listing: Listing,
}

/// The latest snapshot of each listing.
#[derive(Default)]
pub struct Listings(Mutex<HashMap<Listed, Snapshot>>);

impl Listings {
    /// The snapshot of `listed`, if it was taken at `version` less than [`FRESH_FOR`] ago.
    pub fn fresh(&self, listed: &Listed, version: i64) -> Option<Listing> {
        let kept = self.0.lock().unwrap_or_else(|p| p.into_inner());
        kept.get(listed)
            .filter(|s| s.version == version && s.taken.elapsed() < FRESH_FOR)
            .map(|s| s.listing.clone())
    }

    /// Keeps `listing`, of `listed`, read after the store was at `version` at `taken` (before
    /// the read: the snapshot is as old as its oldest row).
    pub fn keep(&self, listed: Listed, version: i64, taken: Instant, listing: Listing) {
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
                listing,
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
            page: JobPage::LATEST,
        }
    }

    fn empty() -> Listing {
        Listing {
            json: Bytes::from_static(b"[]"),
            next: None,
        }
    }

    #[test]
    fn a_snapshot_is_served_only_at_its_version_and_while_fresh() {
        let listings = Listings::default();
        assert_eq!(listings.fresh(&all(), 1), None);
        listings.keep(all(), 1, Instant::now(), empty());
        assert_eq!(listings.fresh(&all(), 1), Some(empty()));
        assert_eq!(listings.fresh(&all(), 2), None, "a job changed since");
        let running = Listed {
            state: Some(JobState::Running),
            ..all()
        };
        assert_eq!(listings.fresh(&running, 1), None, "another listing");
        let older = Listed {
            page: JobPage::new(Some(JobId(7)), 100).unwrap(),
            ..all()
        };
        assert_eq!(listings.fresh(&older, 1), None, "another page");
        std::thread::sleep(FRESH_FOR);
        assert_eq!(listings.fresh(&all(), 1), None, "too old");
    }

    #[test]
    fn snapshots_kept_are_bounded() {
        let listings = Listings::default();
        for i in 0..10 * KEPT {
            let listed = Listed {
                tenant: Some(format!("tenant-{i}")),
                ..all()
            };
            listings.keep(listed, 0, Instant::now(), empty());
        }
        assert_eq!(listings.0.lock().unwrap().len(), KEPT);
        let last = Listed {
            tenant: Some(format!("tenant-{}", 10 * KEPT - 1)),
            ..all()
        };
        assert!(listings.fresh(&last, 0).is_some(), "the newest is kept");
        std::thread::sleep(FRESH_FOR);
        listings.keep(all(), 0, Instant::now(), empty());
        assert_eq!(listings.0.lock().unwrap().len(), 1, "stale ones are let go");
    }
}
