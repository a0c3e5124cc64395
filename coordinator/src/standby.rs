//! Two or more coordinators on one PostgreSQL store: one is active, the others wait. The active
//! one holds a PostgreSQL advisory lock on a connection of its own; the server releases it when
//! that connection ends, as it does when the process dies, and a waiting coordinator takes it
//! within a poll.

use std::time::Duration;

use crate::store::database::{Db, DbError, params};

/// The lock's key: any number the coordinators agree on ("tessera" in ASCII).
const ACTIVE_KEY: i64 = 0x0074_6573_7365_7261;

/// How often a standby asks for the lock.
pub const POLL: Duration = Duration::from_secs(1);

/// The active role, held while this lives.
pub struct ActiveRole {
    lock: Db,
}

impl ActiveRole {
    /// Takes the role if nobody holds it; `None` while another coordinator does.
    pub fn try_take(url: &str) -> Result<Option<Self>, DbError> {
        let lock = Db::postgres(url)?;
        let taken: bool = lock.query_row(
            "SELECT pg_try_advisory_lock(?1)",
            params![ACTIVE_KEY],
            |r| r.get(0),
        )?;
        Ok(taken.then_some(ActiveRole { lock }))
    }

    /// Waits for the role, asking every [`POLL`]; `waiting` is called once if it must wait.
    pub fn take(url: &str, waiting: impl FnOnce()) -> Result<Self, DbError> {
        let mut waiting = Some(waiting);
        loop {
            if let Some(role) = Self::try_take(url)? {
                return Ok(role);
            }
            if let Some(say) = waiting.take() {
                say();
            }
            std::thread::sleep(POLL);
        }
    }

    /// Whether the role is still held: its connection still answers. A coordinator whose
    /// connection ended has lost the lock, and another may be active already.
    pub fn held(&self) -> bool {
        self.lock
            .query_row("SELECT 1", params![], |r| r.get::<i64>(0))
            .is_ok()
    }
}
