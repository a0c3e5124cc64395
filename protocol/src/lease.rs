//! Leases: a worker that takes a task from the queue claims it from the coordinator over the
//! authenticated API before rendering. The claim answers with a lease: a public id, which the
//! result carries, and a secret key, which never travels through the broker and signs the result
//! (HMAC-SHA256). So only the worker that claimed a task can file its result, whoever else reads
//! the queues, and the coordinator knows whose work it is paying for.

use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use crate::id::TaskId;
use crate::task::TaskMessage;

/// `POST /api/claims`: the tasks of one message a worker took from the queue, claimed at once
/// (at most [`MAX_BUNDLE`](crate::task::MAX_BUNDLE)); answered with a [`Claim`] for each, in the same order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ClaimRequest {
    pub tasks: Vec<TaskAttempt>,
}

impl ClaimRequest {
    /// The attempts of `tasks`, as they arrived.
    pub fn of(tasks: &[TaskMessage]) -> Self {
        Self {
            tasks: tasks
                .iter()
                .map(|t| TaskAttempt {
                    task: t.task,
                    attempt: t.attempt,
                })
                .collect(),
        }
    }
}

/// `POST /api/workers/heartbeat`: the worker is alive, and so are the leases it names, those of
/// the tasks it is rendering or reporting. A lease it no longer names (its process restarted, or
/// its result never left) expires after the lease timeout and its task goes out again, rather
/// than waiting for the task timeout. An empty body, from a worker of an earlier version, keeps
/// all of the worker's leases.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Heartbeat {
    /// At most [`MAX_HEARTBEAT_LEASES`].
    pub leases: Vec<String>,
}

/// The most leases a heartbeat names: a worker holds those of the messages in its hands, at
/// most 64 from each of two queues, of [`MAX_BUNDLE`](crate::task::MAX_BUNDLE) tasks each.
pub const MAX_HEARTBEAT_LEASES: usize = 4096;

/// One attempt at one task, as its message numbered it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TaskAttempt {
    pub task: TaskId,
    pub attempt: u32,
}

/// The answer to a claim of one task.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum Claim {
    /// Render `task`, and sign the result with `key`. `task` is the coordinator's own message
    /// for the attempt claimed, to be rendered in place of the one from the queue: anyone who
    /// can publish there can put a task's number on other settings, and the worker that
    /// rendered those would be the one found wrong.
    Render {
        lease: String,
        key: String,
        #[cfg_attr(feature = "openapi", schema(value_type = Object))]
        task: Box<TaskMessage>,
    },
    /// Do not: the job ended, the task is done or held, or the attempt is stale.
    Skip { reason: String },
    /// Claim nothing more: this worker is blocked or drained, for `reason`. It gives the
    /// message back to the queue, for the other workers, and stops; had it acknowledged every
    /// message it may not render, it would take the farm's tasks off the queue as fast as they
    /// came, until the coordinator published them again.
    Stop { reason: String },
}

/// The HMAC-SHA256 of `message` under `key`, in hex.
pub fn sign(key: &str, message: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(key.as_bytes()).expect("HMAC takes any key");
    mac.update(message);
    hex(&mac.finalize().into_bytes())
}

/// Whether `signature` is `message`'s under `key`, compared in constant time.
pub fn verify(key: &str, message: &[u8], signature: &str) -> bool {
    let Some(bytes) = unhex(signature) else {
        return false;
    };
    let mut mac = Hmac::<Sha256>::new_from_slice(key.as_bytes()).expect("HMAC takes any key");
    mac.update(message);
    mac.verify_slice(&bytes).is_ok()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) || s.len() > 128 {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_verify_only_with_their_key_and_message() {
        let sig = sign("key", b"result");
        assert_eq!(sig.len(), 64);
        assert!(verify("key", b"result", &sig));
        assert!(!verify("other", b"result", &sig));
        assert!(!verify("key", b"result!", &sig));
        assert!(!verify("key", b"result", "zz"));
        assert!(!verify("key", b"result", ""));
    }
}
