//! Channels inside one process: what `tessera render` and tests use. Messages are encoded as on
//! the wire, so a message that would not survive RabbitMQ does not survive here either.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::mpsc;

use tessera_protocol::auth::Trust;
use tessera_protocol::result::ResultMessage;
use tessera_protocol::task::{TaskBundle, TaskMessage};

use crate::{BoxFuture, Delivery, Inbox, Settle, Transport, TransportError, decode, encode};

/// A queue: its sending end, its receiving end shared by its consumers, and how many
/// consumers it has.
#[derive(Clone)]
struct Queue {
    tx: mpsc::UnboundedSender<Vec<u8>>,
    rx: Arc<tokio::sync::Mutex<mpsc::UnboundedReceiver<Vec<u8>>>>,
    consumers: Arc<AtomicU32>,
}

fn queue() -> Queue {
    let (tx, rx) = mpsc::unbounded_channel();
    Queue {
        tx,
        rx: Arc::new(tokio::sync::Mutex::new(rx)),
        consumers: Arc::default(),
    }
}

/// Cheap to clone: clones share the queues.
#[derive(Clone)]
pub struct InProcessTransport {
    tasks: Queue,
    verified_tasks: Queue,
    results: Queue,
    dead: Arc<Mutex<Vec<TaskMessage>>>,
}

impl Default for InProcessTransport {
    fn default() -> Self {
        Self {
            tasks: queue(),
            verified_tasks: queue(),
            results: queue(),
            dead: Arc::default(),
        }
    }
}

impl InProcessTransport {
    pub fn new() -> Self {
        Self::default()
    }

    /// Tasks that were dead-lettered, oldest first.
    pub fn dead_letters(&self) -> Vec<TaskMessage> {
        self.dead.lock().expect("dead-letter list").clone()
    }
}

pub struct ChannelInbox<M> {
    queue: Queue,
    _message: std::marker::PhantomData<fn() -> M>,
}

impl<M> ChannelInbox<M> {
    /// A consumer of `queue`, counted among its consumers while it lives.
    fn on(queue: &Queue) -> Self {
        queue.consumers.fetch_add(1, Ordering::SeqCst);
        Self {
            queue: queue.clone(),
            _message: std::marker::PhantomData,
        }
    }
}

impl<M> Drop for ChannelInbox<M> {
    fn drop(&mut self) {
        self.queue.consumers.fetch_sub(1, Ordering::SeqCst);
    }
}

/// An unacknowledged in-process message goes back on its queue when dropped, as RabbitMQ
/// requeues the deliveries of a consumer that vanished.
struct ChannelSettle {
    body: Option<Vec<u8>>,
    requeue: mpsc::UnboundedSender<Vec<u8>>,
}

impl Settle for ChannelSettle {
    fn ack(mut self: Box<Self>) -> BoxFuture<'static, Result<(), TransportError>> {
        self.body = None;
        Box::pin(async { Ok(()) })
    }

    fn requeue(self: Box<Self>) -> BoxFuture<'static, Result<(), TransportError>> {
        // Dropping it puts it back.
        drop(self);
        Box::pin(async { Ok(()) })
    }
}

impl Drop for ChannelSettle {
    fn drop(&mut self) {
        if let Some(body) = self.body.take() {
            // Fails only when every receiver is gone, and then nobody wants the message.
            let _ = self.requeue.send(body);
        }
    }
}

impl<M: serde::de::DeserializeOwned + Send> ChannelInbox<M> {
    /// The delivery of a message taken from the queue; `None` when it does not decode.
    fn delivery(&self, body: Vec<u8>) -> Option<Delivery<M>> {
        match decode::<M>(&body) {
            Ok(message) => {
                let settle = ChannelSettle {
                    body: Some(body),
                    requeue: self.queue.tx.clone(),
                };
                Some(Delivery::new(message, false, Box::new(settle)))
            }
            Err(e) => {
                tracing::error!(error = %e, "dropping a message that does not decode");
                None
            }
        }
    }
}

impl<M: serde::de::DeserializeOwned + Send> Inbox<M> for ChannelInbox<M> {
    async fn next(&mut self) -> Option<Delivery<M>> {
        loop {
            let body = self.queue.rx.lock().await.recv().await?;
            if let Some(delivery) = self.delivery(body) {
                return Some(delivery);
            }
        }
    }

    async fn ready(&mut self) -> Option<Delivery<M>> {
        loop {
            let body = self.queue.rx.try_lock().ok()?.try_recv().ok()?;
            if let Some(delivery) = self.delivery(body) {
                return Some(delivery);
            }
        }
    }
}

impl Transport for InProcessTransport {
    type Tasks = ChannelInbox<TaskBundle>;
    type Results = ChannelInbox<ResultMessage>;

    async fn publish_tasks(&self, tasks: &[TaskBundle]) -> Result<(), TransportError> {
        for task in tasks {
            let queue = match task.trust() {
                Trust::Any => &self.tasks,
                Trust::Verified => &self.verified_tasks,
            };
            queue
                .tx
                .send(encode(task))
                .map_err(|_| TransportError::Closed)?;
        }
        Ok(())
    }

    async fn dead_letter(&self, task: &TaskMessage) -> Result<(), TransportError> {
        self.dead
            .lock()
            .expect("dead-letter list")
            .push(task.clone());
        Ok(())
    }

    async fn publish_results(&self, results: &[ResultMessage]) -> Result<(), TransportError> {
        for result in results {
            self.results
                .tx
                .send(encode(result))
                .map_err(|_| TransportError::Closed)?;
        }
        Ok(())
    }

    async fn consume_tasks(&self, _prefetch: u16) -> Result<Self::Tasks, TransportError> {
        Ok(ChannelInbox::on(&self.tasks))
    }

    async fn consume_verified_tasks(&self, _prefetch: u16) -> Result<Self::Tasks, TransportError> {
        Ok(ChannelInbox::on(&self.verified_tasks))
    }

    async fn consume_results(&self) -> Result<Self::Results, TransportError> {
        Ok(ChannelInbox::on(&self.results))
    }

    async fn task_consumers(&self, trust: Trust) -> Result<u32, TransportError> {
        let queue = match trust {
            Trust::Any => &self.tasks,
            Trust::Verified => &self.verified_tasks,
        };
        Ok(queue.consumers.load(Ordering::SeqCst))
    }
}
