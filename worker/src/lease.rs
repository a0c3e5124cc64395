//! The leases a worker holds, which its heartbeats name. The coordinator keeps a lease alive
//! only while its worker names it, so one the worker forgot (its process restarted, its result
//! never left) expires within the lease timeout and its task goes out again.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use tessera_protocol::lease::MAX_HEARTBEAT_LEASES;

/// How long a lease stays named after its result is sent: the coordinator may be slow to record
/// results (a backlog of spot checks, a restart), and a lease it stopped hearing of would
/// expire under an honest result, which would then go unpaid. A result lost after it was sent
/// holds its task this long, not the task timeout's hours.
pub const SENT_GRACE: Duration = Duration::from_secs(600);

/// The leases in hand (how many messages in hand hold each: a task whose message came twice
/// is granted the same lease twice) and those whose result was sent, since when.
#[derive(Default)]
struct Held {
    in_hand: HashMap<String, usize>,
    sent: HashMap<String, Instant>,
}

pub struct Leases {
    held: Mutex<Held>,
    grace: Duration,
}

impl Default for Leases {
    fn default() -> Self {
        Self::with_grace(SENT_GRACE)
    }
}

impl Leases {
    /// Leases named for `grace` after their results are sent.
    pub fn with_grace(grace: Duration) -> Self {
        Self {
            held: Mutex::default(),
            grace,
        }
    }

    /// What the next heartbeat names: the leases in hand, and those sent within the grace,
    /// the latest first, as many as a heartbeat may name ([`MAX_HEARTBEAT_LEASES`]): a fast
    /// worker sends more results in the grace than that.
    pub fn named(&self) -> Vec<String> {
        let mut held = self.held();
        let grace = self.grace;
        held.sent.retain(|_, at| at.elapsed() < grace);
        let Held { in_hand, sent } = &*held;
        let mut named: Vec<String> = in_hand.keys().cloned().collect();
        let mut latest: Vec<(&String, &Instant)> = sent
            .iter()
            .filter(|(id, _)| !in_hand.contains_key(*id))
            .collect();
        latest.sort_unstable_by(|a, b| b.1.cmp(a.1));
        let room = MAX_HEARTBEAT_LEASES.saturating_sub(named.len());
        named.extend(latest.into_iter().take(room).map(|(id, _)| id.clone()));
        named.sort_unstable();
        named
    }

    /// Holds `ids` until the returned guard drops, or is [`sent`](Holding::sent).
    pub fn hold(self: &Arc<Self>, ids: Vec<String>) -> Holding {
        let mut held = self.held();
        for id in &ids {
            *held.in_hand.entry(id.clone()).or_default() += 1;
        }
        Holding {
            leases: self.clone(),
            ids,
            sent: false,
        }
    }

    fn held(&self) -> MutexGuard<'_, Held> {
        // The sets stay whole whatever panicked while holding them.
        self.held
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Leases of one message, held while it is worked on.
pub struct Holding {
    leases: Arc<Leases>,
    ids: Vec<String>,
    sent: bool,
}

impl Holding {
    /// The message's results are sent: its leases stay named for the grace, until the
    /// coordinator has surely recorded them.
    pub fn sent(mut self) {
        self.sent = true;
    }
}

impl Drop for Holding {
    fn drop(&mut self) {
        let mut held = self.leases.held();
        let now = Instant::now();
        for id in &self.ids {
            if let Some(count) = held.in_hand.get_mut(id) {
                *count -= 1;
                if *count == 0 {
                    held.in_hand.remove(id);
                }
            }
            if self.sent {
                held.sent.insert(id.clone(), now);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lease_is_named_while_any_message_holds_it_and_for_the_grace_once_sent() {
        let leases = Arc::new(Leases::with_grace(Duration::from_millis(200)));
        let first = leases.hold(vec!["a".into(), "b".into()]);
        // The same task's message twice: the same lease, held twice.
        let again = leases.hold(vec!["a".into()]);
        assert_eq!(leases.named(), ["a", "b"]);
        // Given back to the queue (its results not sent): no longer named, but for the copy.
        drop(first);
        assert_eq!(leases.named(), ["a"]);
        again.sent();
        assert_eq!(leases.named(), ["a"], "named for the grace once sent");
        std::thread::sleep(Duration::from_millis(250));
        assert!(leases.named().is_empty(), "named past the grace");
    }

    #[test]
    fn a_heartbeat_names_no_more_than_it_may_and_always_the_leases_in_hand() {
        let leases = Arc::new(Leases::default());
        for i in 0..MAX_HEARTBEAT_LEASES + 10 {
            leases.hold(vec![format!("sent-{i:05}")]).sent();
        }
        let in_hand = leases.hold(vec!["in-hand".into()]);
        let named = leases.named();
        assert_eq!(named.len(), MAX_HEARTBEAT_LEASES);
        assert!(named.iter().any(|id| id == "in-hand"));
        drop(in_hand);
    }
}
