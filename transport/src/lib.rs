//! How tasks reach workers and results come back: one trait, with RabbitMQ for a farm and
//! in-process channels for a single machine, so both run the same coordinator and worker code.
//!
//! The contract both implementations keep:
//! - `publish_*` returns only once the message is safely held (for RabbitMQ: the broker confirmed
//!   a persistent message on a durable queue).
//! - A delivery not acknowledged is delivered again (possibly to someone else), so handlers must
//!   be idempotent; acknowledging twice or after a reconnection is harmless.
//! - [`Transport::dead_letter`] keeps a task given up on where an operator can inspect it.
//!
//! Who retries or gives up is not the transport's business: the coordinator decides.

pub mod amqp;
pub mod in_process;

use std::future::Future;
use std::pin::Pin;

use serde::Serialize;
use serde::de::DeserializeOwned;

use tessera_protocol::auth::Trust;
use tessera_protocol::result::ResultMessage;
use tessera_protocol::task::{TaskBundle, TaskMessage};

pub use amqp::{AmqpTransport, Broker};
pub use in_process::InProcessTransport;

#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    #[error("cannot connect to RabbitMQ at {url}: {message}")]
    Connect { url: String, message: String },
    #[error("RabbitMQ: {0}")]
    Broker(String),
    #[error("the broker refused message on {queue} (no confirm)")]
    Nacked { queue: String },
    #[error("the transport is closed")]
    Closed,
}

pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Settles one delivery with whoever delivered it.
pub trait Settle: Send + Sync {
    fn ack(self: Box<Self>) -> BoxFuture<'static, Result<(), TransportError>>;
    /// Gives the message back to its queue, for any consumer.
    fn requeue(self: Box<Self>) -> BoxFuture<'static, Result<(), TransportError>>;
}

/// A message handed to a consumer, to be settled once handled.
pub struct Delivery<M> {
    pub message: M,
    /// True when the transport delivered this message before (to a consumer that vanished).
    pub redelivered: bool,
    settle: Box<dyn Settle>,
}

impl<M> Delivery<M> {
    pub fn new(message: M, redelivered: bool, settle: Box<dyn Settle>) -> Self {
        Self {
            message,
            redelivered,
            settle,
        }
    }

    pub async fn ack(self) -> Result<(), TransportError> {
        self.settle.ack().await
    }

    /// Gives the message back to its queue at once. One merely dropped goes back only when its
    /// consumer's channel closes (RabbitMQ), so a consumer that holds as many as it may take
    /// would wait for ever for the next.
    pub async fn requeue(self) -> Result<(), TransportError> {
        self.settle.requeue().await
    }
}

/// A stream of deliveries. `next` waits for the next one, reconnecting as needed; `None` when
/// the transport was shut down.
pub trait Inbox<M>: Send {
    fn next(&mut self) -> impl Future<Output = Option<Delivery<M>>> + Send;

    /// A delivery already at hand, if any: never waits for one and never connects, so that a
    /// caller can take what has arrived without abandoning a `next` half-way through a
    /// reconnection (whose consumer would keep its prefetched messages unacknowledged).
    fn ready(&mut self) -> impl Future<Output = Option<Delivery<M>>> + Send;
}

pub trait Transport: Send + Sync + 'static {
    type Tasks: Inbox<TaskBundle>;
    type Results: Inbox<ResultMessage>;

    /// Queues bundles of tasks, a message each, those of verified jobs apart from the rest;
    /// returns once every one of them is safely held.
    fn publish_tasks(
        &self,
        tasks: &[TaskBundle],
    ) -> impl Future<Output = Result<(), TransportError>> + Send;

    /// Puts a task given up on into the dead-letter queue; returns once it is safely held.
    fn dead_letter(
        &self,
        task: &TaskMessage,
    ) -> impl Future<Output = Result<(), TransportError>> + Send;

    /// Sends results, a message each; returns once every one of them is safely held.
    fn publish_results(
        &self,
        results: &[ResultMessage],
    ) -> impl Future<Output = Result<(), TransportError>> + Send;

    /// Starts taking tasks any worker may render, at most `prefetch` unacknowledged at a time.
    fn consume_tasks(
        &self,
        prefetch: u16,
    ) -> impl Future<Output = Result<Self::Tasks, TransportError>> + Send;

    /// Starts taking the tasks of jobs that take verified workers only.
    fn consume_verified_tasks(
        &self,
        prefetch: u16,
    ) -> impl Future<Output = Result<Self::Tasks, TransportError>> + Send;

    fn consume_results(&self)
    -> impl Future<Output = Result<Self::Results, TransportError>> + Send;

    /// How many consumers take from the task queue of `trust`'s jobs now.
    fn task_consumers(
        &self,
        trust: Trust,
    ) -> impl Future<Output = Result<u32, TransportError>> + Send;
}

/// Messages are JSON on every transport, so a farm's traffic can be read with any AMQP tool.
fn encode<M: Serialize>(message: &M) -> Vec<u8> {
    serde_json::to_vec(message).expect("messages serialize")
}

/// The largest message body taken: RabbitMQ 4's default `max_message_size`. Ours are far
/// smaller (the result of the largest tile a farm job may have stays under 4 MiB); a larger
/// body, which only a forger sends, is refused before parsing would copy it again.
pub const MAX_MESSAGE_BYTES: usize = 16 << 20;

fn decode<M: DeserializeOwned>(bytes: &[u8]) -> Result<M, String> {
    if bytes.len() > MAX_MESSAGE_BYTES {
        return Err(format!(
            "{} bytes; a message may have at most {MAX_MESSAGE_BYTES}",
            bytes.len()
        ));
    }
    serde_json::from_slice(bytes).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_body_over_the_largest_message_is_refused_before_it_is_parsed() {
        // Valid JSON of the message's type, one byte too long.
        let mut body = b"[".to_vec();
        body.resize(MAX_MESSAGE_BYTES, b' ');
        body.push(b']');
        let refused = decode::<Vec<u8>>(&body).unwrap_err();
        assert!(refused.contains("at most"), "{refused}");
        body.remove(1);
        assert_eq!(decode::<Vec<u8>>(&body).unwrap(), Vec::<u8>::new());
    }
}
