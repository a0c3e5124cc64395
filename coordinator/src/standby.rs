//! Two or more coordinators on one PostgreSQL store: one is active, the others wait. The active
//! one holds a PostgreSQL advisory lock on a connection of its own; the server releases it when
//! that connection ends, as it does when the process dies or, through TCP keepalives
//! ([`Postgres::parse`]), when its host or network does, and a waiting coordinator takes it
//! within a poll.

use std::sync::Mutex;
use std::time::Duration;

use crate::store::Postgres;
use crate::store::database::{Db, DbError, params};

/// The lock's key, one per schema: two farms in two schemas of one database do not block each
/// other.
const TRY_LOCK: &str = "SELECT pg_try_advisory_lock(hashtextextended(
    'tessera active coordinator ' || COALESCE(current_schema(), ''), 0))";

/// Whether this session still holds an advisory lock: the lock connection holds no other.
const HOLDS_LOCK: &str = "SELECT EXISTS (SELECT 1 FROM pg_locks
    WHERE locktype = 'advisory' AND pid = pg_backend_pid() AND granted)";

/// How often a standby asks for the lock.
pub const POLL: Duration = Duration::from_secs(1);

/// How often the active coordinator checks that it still holds the lock.
pub const CHECK: Duration = Duration::from_secs(2);

/// How long a coordinator that took the lock from another waits before it acts: long enough
/// for the other, if it still runs and reaches the database, to see at its next check that it
/// lost the role and stop.
pub const HANDOVER: Duration = Duration::from_secs(3);

/// The longest wait between two attempts to reach an unreachable server.
const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// The active role, held while this lives.
pub struct ActiveRole {
    /// In a mutex so that the role can be shared with the task that checks it.
    lock: Mutex<Db>,
}

/// Why a coordinator is not active yet.
pub enum Waiting<'a> {
    /// Another coordinator holds the role.
    StandingBy,
    /// The server cannot be reached; asking again after the delay.
    Unreachable(&'a DbError, Duration),
    /// The role is taken from another coordinator, which is given this long to stop.
    HandingOver(Duration),
}

impl ActiveRole {
    /// Waits for the role, asking every [`POLL`]; `waiting` hears why whenever that changes.
    /// Gives up only when the server refuses (a wrong password, no such database). A role
    /// taken after waiting (another held it, or the server was out of reach) is returned
    /// after [`HANDOVER`].
    pub fn take(server: &Postgres, mut waiting: impl FnMut(Waiting<'_>)) -> Result<Self, DbError> {
        let mut lock: Option<Db> = None;
        let mut backoff = POLL;
        let mut standing_by = false;
        // Whether it had to wait: whoever was active before may still be stopping.
        let mut waited = false;
        loop {
            let asked = match lock.take() {
                Some(db) => Ok(db),
                None => server.connect(),
            }
            .and_then(|db| {
                let taken: bool = db.query_row(TRY_LOCK, params![], |r| r.get(0))?;
                Ok((db, taken))
            });
            match asked {
                Ok((db, true)) => {
                    if waited {
                        waiting(Waiting::HandingOver(HANDOVER));
                        std::thread::sleep(HANDOVER);
                    }
                    return Ok(ActiveRole {
                        lock: Mutex::new(db),
                    });
                }
                Ok((db, false)) => {
                    lock = Some(db);
                    backoff = POLL;
                    if !standing_by {
                        (standing_by, waited) = (true, true);
                        waiting(Waiting::StandingBy);
                    }
                    std::thread::sleep(POLL);
                }
                Err(e) if e.is_refusal() => return Err(e),
                Err(e) => {
                    // Whoever was active may have lost its session in the same outage.
                    (standing_by, waited) = (false, true);
                    waiting(Waiting::Unreachable(&e, backoff));
                    std::thread::sleep(backoff);
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                }
            }
        }
    }

    /// Whether the role is still held: the lock connection answers and its session still
    /// holds the lock (a connection made again after a cut is a new session, without it).
    pub fn held(&self) -> bool {
        self.lock
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .query_row(HOLDS_LOCK, params![], |r| r.get::<bool>(0))
            .unwrap_or(false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::tests::Scratch;

    fn server(scratch: &Scratch) -> Postgres {
        scratch.postgres_server().clone()
    }

    #[test]
    fn one_coordinator_is_active_per_schema_and_a_lost_session_loses_the_role() {
        let (farm, other_farm) = (Scratch::postgres(), Scratch::postgres());
        let active = ActiveRole::take(&server(&farm), |_| panic!("nobody else is active")).unwrap();
        assert!(active.held());
        // The same schema: a second coordinator stands by.
        let (tx, rx) = std::sync::mpsc::channel();
        let standby_server = server(&farm);
        let standby = std::thread::spawn(move || {
            ActiveRole::take(&standby_server, |why| {
                if let Waiting::StandingBy = why {
                    let _ = tx.send(());
                }
            })
        });
        rx.recv_timeout(Duration::from_secs(10))
            .expect("the second coordinator stands by");
        // Another schema in the same database: another farm, active at once.
        let elsewhere = ActiveRole::take(&server(&other_farm), |_| {
            panic!("a farm in another schema is not blocked")
        })
        .unwrap();
        assert!(elsewhere.held());
        // The server ends the active session (as it does once keepalives find its host dead):
        // the role is lost there, even though its connection is made again, and the standby
        // takes it.
        let admin = server(&farm).connect().unwrap();
        let pid: i32 = active
            .lock
            .lock()
            .unwrap()
            .query_row("SELECT pg_backend_pid()", params![], |r| r.get(0))
            .unwrap();
        admin
            .query_row("SELECT pg_terminate_backend(?1)", params![pid], |r| {
                r.get::<bool>(0)
            })
            .unwrap();
        let taken = standby.join().unwrap().unwrap();
        assert!(taken.held());
        assert!(
            !active.held(),
            "a terminated session no longer holds the role"
        );
        assert!(
            !active.held(),
            "nor does the session made again in its place"
        );
    }
}
