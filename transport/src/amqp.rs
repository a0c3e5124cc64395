//! RabbitMQ over AMQP 0-9-1 (lapin). Durable queues (quorum where the broker has them),
//! persistent messages, publisher confirms, manual acknowledgements, and a dead-letter queue.
//!
//! Connections are re-established with backoff whenever the broker drops them: publishing
//! retries on a fresh connection, and an inbox starts a fresh consumer. Deliveries from a lost
//! connection cannot be settled any more; the broker delivers them again, which the handlers
//! tolerate (see the module documentation of [`super`]).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use futures_lite::StreamExt;
use lapin::options::{
    BasicAckOptions, BasicConsumeOptions, BasicNackOptions, BasicPublishOptions, BasicQosOptions,
    BasicRejectOptions, ConfirmSelectOptions, QueueDeclareOptions, QueueDeleteOptions,
};
use lapin::protocol::{AMQPErrorKind, AMQPSoftError};
use lapin::tcp::OwnedTLSConfig;
use lapin::types::{AMQPValue, FieldTable};
use lapin::{BasicProperties, Channel, Connect, Connection, ConnectionProperties};
use serde::de::DeserializeOwned;

use tessera_protocol::auth::Trust;
use tessera_protocol::credentials::redact;
use tessera_protocol::result::ResultMessage;
use tessera_protocol::task::{TaskBundle, TaskMessage};

use crate::{BoxFuture, Delivery, Inbox, Settle, Transport, TransportError, decode, encode};

pub const DEFAULT_AMQP_URL: &str = "amqp://guest:guest@127.0.0.1:5672/%2f";
pub const DEFAULT_NAMESPACE: &str = "tessera";

/// Redeliveries after which a quorum queue dead-letters a task on its own: the bound for tasks
/// that crash their worker outright, which never get to report a failure.
const DELIVERY_LIMIT: i64 = 20;

/// Where the broker is: an `amqp://` URL, or `amqps://` for TLS. A broker whose certificate a
/// private authority signed (the usual case for a studio's own broker) also needs that
/// authority's certificates, trusted besides the system's roots.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Broker {
    pub url: String,
    /// PEM certificates of the authorities to trust besides the system's.
    pub ca_pem: Option<String>,
    /// Whether queues this user may not declare are looked for instead: a worker's user needs
    /// no right to configure them, as the coordinator declares them; the coordinator's does.
    pub finds_queues: bool,
}

impl Broker {
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            ca_pem: None,
            finds_queues: false,
        }
    }

    /// As a worker connects: queues its user may not declare are looked for instead.
    pub fn finding_queues(mut self) -> Self {
        self.finds_queues = true;
        self
    }

    /// The URL as it may be shown: with its password, if any, as `***`.
    pub fn redacted_url(&self) -> String {
        redact(&self.url)
    }

    /// Also trusts the certificate authorities in the PEM file at `path`.
    pub fn with_ca_file(mut self, path: &std::path::Path) -> Result<Self, TransportError> {
        let pem = std::fs::read_to_string(path).map_err(|e| TransportError::Connect {
            url: self.redacted_url(),
            message: format!("cannot read the CA certificates '{}': {e}", path.display()),
        })?;
        self.ca_pem = Some(pem);
        Ok(self)
    }
}

/// The queues of one farm: every name starts with the namespace.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QueueNames {
    /// What every name starts with.
    pub namespace: String,
    pub tasks: String,
    /// The tasks of jobs that take verified workers only.
    pub verified_tasks: String,
    pub results: String,
    pub dead_tasks: String,
}

impl QueueNames {
    pub fn new(namespace: &str) -> Self {
        Self {
            namespace: namespace.to_owned(),
            tasks: format!("{namespace}.tasks"),
            verified_tasks: format!("{namespace}.tasks.verified"),
            results: format!("{namespace}.results"),
            dead_tasks: format!("{namespace}.tasks.dead"),
        }
    }
}

struct Shared {
    broker: Broker,
    names: QueueNames,
    /// Publishing connection and its confirm-mode channel; `None` until needed or after a loss.
    publisher: tokio::sync::Mutex<Option<(Connection, Channel)>>,
    /// Whether the queues were last declared as quorum queues: the kind tried first.
    quorum: AtomicBool,
    shut: AtomicBool,
}

/// Cheap to clone: clones share the publishing connection.
#[derive(Clone)]
pub struct AmqpTransport {
    shared: Arc<Shared>,
}

impl AmqpTransport {
    /// Connects once (failing with a clear message when the broker cannot be reached) and
    /// declares the farm's queues.
    pub async fn connect(broker: &Broker, namespace: &str) -> Result<Self, TransportError> {
        let transport = Self::unconnected(broker, namespace);
        let (connection, channel) = transport.open_publisher().await?;
        *transport.shared.publisher.lock().await = Some((connection, channel));
        Ok(transport)
    }

    fn unconnected(broker: &Broker, namespace: &str) -> Self {
        Self {
            shared: Arc::new(Shared {
                broker: broker.clone(),
                names: QueueNames::new(namespace),
                publisher: tokio::sync::Mutex::new(None),
                quorum: AtomicBool::new(true),
                shut: AtomicBool::new(false),
            }),
        }
    }

    /// Connects, waiting with backoff (and saying so) while the broker cannot be reached:
    /// services started together need not start in order.
    pub async fn connect_when_up(broker: &Broker, namespace: &str) -> Result<Self, TransportError> {
        let mut delay = Duration::from_millis(500);
        loop {
            match Self::connect(broker, namespace).await {
                Err(TransportError::Connect { url, message }) => {
                    tracing::warn!(%url, error = %message, retry_in = ?delay, "waiting for RabbitMQ");
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(Duration::from_secs(10));
                }
                other => return other,
            }
        }
    }

    pub fn names(&self) -> &QueueNames {
        &self.shared.names
    }

    /// Deletes the farm's queues (tests, and tearing a namespace down).
    pub async fn delete_queues(&self) -> Result<(), TransportError> {
        Self::delete_namespace(&self.shared.broker, &self.shared.names).await
    }

    /// Deletes the queues named for a namespace, without declaring them first (as connecting
    /// would): queues declared otherwise, by an older version, go too.
    pub async fn delete_namespace(to: &Broker, names: &QueueNames) -> Result<(), TransportError> {
        let (connection, channel) = open(to).await?;
        for queue in [
            &names.tasks,
            &names.verified_tasks,
            &names.results,
            &names.dead_tasks,
        ] {
            channel
                .queue_delete(queue.as_str().into(), QueueDeleteOptions::default())
                .await
                .map_err(broker)?;
        }
        let _ = connection.close(200, "bye".into()).await;
        Ok(())
    }

    /// Closes connections; inboxes end instead of reconnecting.
    pub async fn close(&self) {
        self.shared.shut.store(true, Ordering::SeqCst);
        if let Some((connection, _)) = self.shared.publisher.lock().await.take() {
            let _ = connection.close(200, "bye".into()).await;
        }
    }

    async fn open_publisher(&self) -> Result<(Connection, Channel), TransportError> {
        let (connection, channel) = open(&self.shared.broker).await?;
        self.set_up(&connection, &channel).await?;
        Ok((connection, channel))
    }

    /// Declares the queues on a new connection and readies its channel for confirms. Should
    /// the connection go meanwhile (the broker restarting, an operator closing connections),
    /// that is a failure to connect, as passing as the broker being down, so whoever waits for
    /// the broker waits on; a coordinator starting at that moment had exited.
    async fn set_up(
        &self,
        connection: &Connection,
        channel: &Channel,
    ) -> Result<(), TransportError> {
        let done = async {
            self.declare(connection).await?;
            channel
                .confirm_select(ConfirmSelectOptions::default())
                .await
                .map_err(broker)
        }
        .await;
        done.map_err(|e| {
            if connection.status().connected() {
                e
            } else {
                TransportError::Connect {
                    url: self.shared.broker.redacted_url(),
                    message: format!("the connection was lost while setting it up ({e})"),
                }
            }
        })
    }

    /// Declares the queues, as quorum queues when the broker supports them. Idempotent, so every
    /// new connection does it and a broker that lost its definitions gets them back.
    // The kind that last worked is tried first and the other next, every time: a declaration
    // can fail for a passing reason (a connection lost midway), and giving up quorum queues
    // for good on one such failure left a coordinator declaring classic queues against its own
    // quorum ones, refused and reconnecting forever.
    // A worker's broker user that may not configure the queues (as the README sets it up)
    // finds them instead: they must exist already, made by the coordinator.
    async fn declare(&self, connection: &Connection) -> Result<(), TransportError> {
        let first = self.shared.quorum.load(Ordering::SeqCst);
        match self.declare_all(connection, first).await {
            Ok(()) => return Ok(()),
            Err(Declared::NotAllowed(e)) => return self.find_instead(connection, e).await,
            // Lost, not refused: the queues' kind is not in question.
            Err(Declared::Failed(e)) if !connection.status().connected() => return Err(e),
            Err(Declared::Failed(e)) => {
                tracing::warn!(error = %e, quorum = first, "queues refused; trying the other kind")
            }
        }
        match self.declare_all(connection, !first).await {
            Ok(()) => {}
            Err(Declared::NotAllowed(e)) => return self.find_instead(connection, e).await,
            Err(Declared::Failed(e)) => return Err(e),
        }
        self.shared.quorum.store(!first, Ordering::SeqCst);
        Ok(())
    }

    /// The queues looked for where declaring them was `refused`, if this side may do so.
    async fn find_instead(
        &self,
        connection: &Connection,
        refused: TransportError,
    ) -> Result<(), TransportError> {
        if self.shared.broker.finds_queues {
            return self.find_all(connection).await;
        }
        let namespace = &self.shared.names.namespace;
        Err(TransportError::Broker(format!(
            "this broker user may not declare the farm's queues ({refused}); the coordinator's \
             needs configure, write and read on '^{}\\.'",
            namespace.replace('.', "\\.")
        )))
    }

    /// Checks that the farm's queues exist (a passive declaration, which needs no permission).
    /// Until the coordinator has made them, that is a failure to connect, so a worker started
    /// first waits for it.
    async fn find_all(&self, connection: &Connection) -> Result<(), TransportError> {
        let channel = connection.create_channel().await.map_err(broker)?;
        let names = &self.shared.names;
        let passive = QueueDeclareOptions {
            passive: true,
            ..QueueDeclareOptions::default()
        };
        for queue in [
            &names.dead_tasks,
            &names.tasks,
            &names.verified_tasks,
            &names.results,
        ] {
            match channel
                .queue_declare(queue.as_str().into(), passive, FieldTable::default())
                .await
            {
                Ok(_) => {}
                Err(e) if soft_error(&e) == Some(AMQPSoftError::NOTFOUND) => {
                    return Err(TransportError::Connect {
                        url: self.shared.broker.redacted_url(),
                        message: format!(
                            "queue {queue} does not exist yet, and this broker user may not \
                             declare it: the coordinator does, once started (or is the \
                             namespace or virtual host wrong?)"
                        ),
                    });
                }
                Err(e) => return Err(broker(e)),
            }
        }
        let _ = channel.close(200, "found".into()).await;
        Ok(())
    }

    async fn declare_all(&self, connection: &Connection, quorum: bool) -> Result<(), Declared> {
        // A failed declaration closes its channel, so each attempt gets a fresh one.
        let channel = connection.create_channel().await.map_err(broker)?;
        let names = &self.shared.names;
        let base = || {
            let mut args = FieldTable::default();
            if quorum {
                args.insert(
                    "x-queue-type".into(),
                    AMQPValue::LongString("quorum".into()),
                );
            }
            args
        };
        let mut task_args = base();
        task_args.insert(
            "x-dead-letter-exchange".into(),
            AMQPValue::LongString("".into()),
        );
        task_args.insert(
            "x-dead-letter-routing-key".into(),
            AMQPValue::LongString(names.dead_tasks.as_str().into()),
        );
        if quorum {
            task_args.insert(
                "x-delivery-limit".into(),
                AMQPValue::LongLongInt(DELIVERY_LIMIT),
            );
        }
        let durable = QueueDeclareOptions {
            durable: true,
            ..QueueDeclareOptions::default()
        };
        for (queue, args) in [
            (&names.dead_tasks, base()),
            (&names.tasks, task_args.clone()),
            (&names.verified_tasks, task_args),
            (&names.results, base()),
        ] {
            channel
                .queue_declare(queue.as_str().into(), durable, args)
                .await
                .map_err(|e| match soft_error(&e) {
                    Some(AMQPSoftError::ACCESSREFUSED) => Declared::NotAllowed(broker(e)),
                    _ => Declared::Failed(broker(e)),
                })?;
        }
        let _ = channel.close(200, "declared".into()).await;
        Ok(())
    }

    /// Publishes `bodies` to `queue` and waits for every confirm, reconnecting and starting over
    /// on a lost connection (duplicates are harmless; losses are not).
    async fn publish(&self, queue: &str, bodies: &[Vec<u8>]) -> Result<(), TransportError> {
        let mut backoff = Backoff::new();
        loop {
            let mut guard = self.shared.publisher.lock().await;
            if guard.is_none() {
                match self.open_publisher().await {
                    Ok(link) => *guard = Some(link),
                    Err(e) => {
                        drop(guard);
                        if self.shared.shut.load(Ordering::SeqCst) {
                            return Err(TransportError::Closed);
                        }
                        backoff.wait(&e).await;
                        continue;
                    }
                }
            }
            let (_, channel) = guard.as_ref().expect("just connected");
            match publish_confirmed(channel, queue, bodies).await {
                Ok(()) => return Ok(()),
                Err(e @ TransportError::Nacked { .. }) => return Err(e),
                Err(e) => {
                    *guard = None;
                    drop(guard);
                    backoff.wait(&e).await;
                }
            }
        }
    }

    async fn consume<M>(&self, queue: &str, prefetch: u16) -> AmqpInbox<M> {
        AmqpInbox {
            transport: self.clone(),
            queue: queue.to_owned(),
            prefetch,
            consumer: None,
            starting: None,
            backoff: Backoff::new(),
            _message: std::marker::PhantomData,
        }
    }
}

async fn open(to: &Broker) -> Result<(Connection, Channel), TransportError> {
    let failed = |message: String| TransportError::Connect {
        url: to.redacted_url(),
        message: message.replace(&to.url, &to.redacted_url()),
    };
    let tls = OwnedTLSConfig {
        identity: None,
        cert_chain: to.ca_pem.clone(),
    };
    let runtime = lapin::runtime::default_runtime().map_err(|e| failed(e.to_string()))?;
    let connection = to
        .url
        .as_str()
        .connect_with_config(ConnectionProperties::default(), tls, runtime)
        .await
        .map_err(|e| failed(e.to_string()))?;
    say_when_blocked(&connection);
    let channel = connection.create_channel().await.map_err(broker)?;
    Ok((connection, channel))
}

/// Logs the broker's blocking and unblocking of `connection`: short of disk or memory, RabbitMQ
/// stops reading from publishers without closing anything, and publishing just waits.
fn say_when_blocked(connection: &Connection) {
    let mut events = connection.events_listener();
    let status = connection.status().clone();
    tokio::spawn(async move {
        while let Some(event) = events.next().await {
            match event {
                lapin::Event::ConnectionBlocked(reason) => tracing::warn!(
                    reason = %reason.escape_debug(),
                    "RabbitMQ blocked publishing (a resource alarm: free disk or memory on the broker)"
                ),
                lapin::Event::ConnectionUnblocked => {
                    tracing::info!("RabbitMQ takes messages again")
                }
                // A dead connection is replaced by a fresh one, with a listener of its own.
                lapin::Event::Error(_) if status.errored() || status.closed() => break,
                _ => {}
            }
        }
    });
}

fn broker(e: lapin::Error) -> TransportError {
    TransportError::Broker(e.to_string())
}

/// Why the queues were not declared.
enum Declared {
    /// The broker user may not configure them.
    NotAllowed(TransportError),
    Failed(TransportError),
}

impl From<TransportError> for Declared {
    fn from(e: TransportError) -> Self {
        Declared::Failed(e)
    }
}

/// The broker's channel-level refusal in `e`, if it is one.
fn soft_error(e: &lapin::Error) -> Option<AMQPSoftError> {
    match e.kind() {
        lapin::ErrorKind::ProtocolError(amqp) => match amqp.kind() {
            AMQPErrorKind::Soft(soft) => Some(soft.clone()),
            AMQPErrorKind::Hard(_) => None,
        },
        _ => None,
    }
}

async fn publish_confirmed(
    channel: &Channel,
    queue: &str,
    bodies: &[Vec<u8>],
) -> Result<(), TransportError> {
    let persistent = BasicProperties::default()
        .with_delivery_mode(2)
        .with_content_type("application/json".into());
    let mut confirms = Vec::with_capacity(bodies.len());
    for body in bodies {
        let confirm = channel
            .basic_publish(
                "".into(),
                queue.into(),
                BasicPublishOptions::default(),
                body,
                persistent.clone(),
            )
            .await
            .map_err(broker)?;
        confirms.push(confirm);
    }
    for confirm in confirms {
        let confirmation = confirm.await.map_err(broker)?;
        if !confirmation.is_ack() {
            return Err(TransportError::Nacked {
                queue: queue.to_owned(),
            });
        }
    }
    Ok(())
}

/// How long counting a queue's consumers may take.
const COUNT_WAIT: Duration = Duration::from_secs(5);

/// Exponential backoff from 100 ms to 5 s, for reconnecting. When the next attempt is due is
/// kept, not only slept towards: an inbox's `next` given up half-way (a `select!` that took
/// another branch) resumes the same wait when called again, instead of trying again at once and
/// starting over from 100 ms.
struct Backoff {
    delay: Duration,
    due: Option<tokio::time::Instant>,
}

impl Backoff {
    fn new() -> Self {
        Self {
            delay: Duration::from_millis(100),
            due: None,
        }
    }

    /// Notes a failure: the next attempt is due after the delay, which then doubles.
    fn failed(&mut self, error: &TransportError) {
        // Between half the delay and all of it: after a broker restart the whole fleet would
        // otherwise reconnect, and declare its queues, in step.
        let delay = self.delay.mul_f64(0.5 + 0.5 * unit_random());
        tracing::warn!(%error, retry_in = ?delay, "RabbitMQ connection lost; reconnecting");
        self.due = Some(tokio::time::Instant::now() + delay);
        self.delay = (self.delay * 2).min(Duration::from_secs(5));
    }

    /// Waits until the next attempt is due: at once unless something failed.
    async fn due(&mut self) {
        if let Some(due) = self.due {
            tokio::time::sleep_until(due).await;
            self.due = None;
        }
    }

    async fn wait(&mut self, error: &TransportError) {
        self.failed(error);
        self.due().await;
    }
}

/// A number in [0, 1), different each call and in each process (std's hasher keys are random).
fn unit_random() -> f64 {
    use std::hash::BuildHasher;
    let bits = std::collections::hash_map::RandomState::new().hash_one(0u8);
    (bits >> 11) as f64 / (1u64 << 53) as f64
}

pub struct AmqpInbox<M> {
    transport: AmqpTransport,
    queue: String,
    prefetch: u16,
    /// The consuming connection (kept alive here) and its consumer.
    consumer: Option<(Connection, lapin::Consumer)>,
    /// A connection being started, on a task of its own: a `next` given up half-way (a
    /// `select!` that took another branch) must not leave a consumer behind that holds
    /// prefetched messages nobody acknowledges.
    starting: Option<tokio::task::JoinHandle<Result<Consuming, TransportError>>>,
    /// Kept across calls of `next`, and started over only by a delivery.
    backoff: Backoff,
    _message: std::marker::PhantomData<fn() -> M>,
}

type Consuming = (Connection, lapin::Consumer);

/// Opens a connection and starts consuming `queue`, at most `prefetch` unacknowledged.
async fn start(
    transport: AmqpTransport,
    queue: String,
    prefetch: u16,
) -> Result<Consuming, TransportError> {
    let (connection, channel) = open(&transport.shared.broker).await?;
    transport.declare(&connection).await?;
    channel
        .basic_qos(prefetch, BasicQosOptions::default())
        .await
        .map_err(broker)?;
    let consumer = channel
        .basic_consume(
            queue.as_str().into(),
            "".into(),
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await
        .map_err(broker)?;
    Ok((connection, consumer))
}

struct AmqpSettle(lapin::Acker);

impl Settle for AmqpSettle {
    fn ack(self: Box<Self>) -> BoxFuture<'static, Result<(), TransportError>> {
        Box::pin(async move {
            self.0
                .ack(BasicAckOptions::default())
                .await
                .map(drop)
                .map_err(broker)
        })
    }

    fn requeue(self: Box<Self>) -> BoxFuture<'static, Result<(), TransportError>> {
        Box::pin(async move {
            self.0
                .nack(BasicNackOptions {
                    requeue: true,
                    ..BasicNackOptions::default()
                })
                .await
                .map(drop)
                .map_err(broker)
        })
    }
}

impl<M: DeserializeOwned + Send> AmqpInbox<M> {
    /// A delivery's message; `None` for one that does not decode, which is rejected: no retry
    /// can fix it, so out of the way it goes. The rejection runs on a task of its own: awaited
    /// here, a `next` given up at that point left the message unacknowledged on a live
    /// connection, and a worker taking one message at a time then got nothing more.
    fn decoded(&self, delivery: lapin::message::Delivery) -> Option<Delivery<M>> {
        match decode::<M>(&delivery.data) {
            Ok(message) => {
                let settle = Box::new(AmqpSettle(delivery.acker));
                Some(Delivery::new(message, delivery.redelivered, settle))
            }
            Err(e) => {
                tracing::error!(queue = %self.queue, error = %e, "rejecting a message that does not decode");
                let acker = delivery.acker;
                tokio::spawn(async move {
                    let _ = acker.reject(BasicRejectOptions { requeue: false }).await;
                });
                None
            }
        }
    }
}

impl<M: DeserializeOwned + Send> Inbox<M> for AmqpInbox<M> {
    async fn ready(&mut self) -> Option<Delivery<M>> {
        loop {
            let (_, consumer) = self.consumer.as_mut()?;
            match futures_lite::future::poll_once(consumer.next()).await {
                None => return None,
                Some(Some(Ok(delivery))) => {
                    if let Some(delivery) = self.decoded(delivery) {
                        return Some(delivery);
                    }
                }
                // A lost consumer: `next` reconnects.
                Some(_) => {
                    self.consumer = None;
                    return None;
                }
            }
        }
    }

    async fn next(&mut self) -> Option<Delivery<M>> {
        loop {
            if self.transport.shared.shut.load(Ordering::SeqCst) {
                return None;
            }
            self.backoff.due().await;
            // Closed while waiting: no new consumer, to hold messages nobody would take.
            if self.transport.shared.shut.load(Ordering::SeqCst) {
                return None;
            }
            let Some((_, consumer)) = self.consumer.as_mut() else {
                let starting = self.starting.get_or_insert_with(|| {
                    let (transport, queue) = (self.transport.clone(), self.queue.clone());
                    tokio::spawn(start(transport, queue, self.prefetch))
                });
                let started = starting.await;
                self.starting = None;
                match started {
                    Ok(Ok(started)) => self.consumer = Some(started),
                    Ok(Err(e)) => self.backoff.failed(&e),
                    Err(e) => self.backoff.failed(&TransportError::Broker(e.to_string())),
                }
                continue;
            };
            match consumer.next().await {
                Some(Ok(delivery)) => {
                    self.backoff = Backoff::new();
                    if let Some(delivery) = self.decoded(delivery) {
                        return Some(delivery);
                    }
                }
                Some(Err(e)) => {
                    self.consumer = None;
                    self.backoff.failed(&broker(e));
                }
                None => {
                    self.consumer = None;
                    self.backoff.failed(&TransportError::Closed);
                }
            }
        }
    }
}

impl Transport for AmqpTransport {
    type Tasks = AmqpInbox<TaskBundle>;
    type Results = AmqpInbox<ResultMessage>;

    async fn publish_tasks(&self, tasks: &[TaskBundle]) -> Result<(), TransportError> {
        let names = &self.shared.names;
        for (trust, queue) in [
            (Trust::Any, &names.tasks),
            (Trust::Verified, &names.verified_tasks),
        ] {
            let bodies: Vec<Vec<u8>> = tasks
                .iter()
                .filter(|t| t.trust() == trust)
                .map(encode)
                .collect();
            if !bodies.is_empty() {
                self.publish(queue, &bodies).await?;
            }
        }
        Ok(())
    }

    async fn dead_letter(&self, task: &TaskMessage) -> Result<(), TransportError> {
        let queue = self.shared.names.dead_tasks.clone();
        self.publish(&queue, &[encode(task)]).await
    }

    async fn publish_results(&self, results: &[ResultMessage]) -> Result<(), TransportError> {
        let queue = self.shared.names.results.clone();
        let bodies: Vec<Vec<u8>> = results.iter().map(encode).collect();
        self.publish(&queue, &bodies).await
    }

    async fn consume_tasks(&self, prefetch: u16) -> Result<Self::Tasks, TransportError> {
        let queue = self.shared.names.tasks.clone();
        Ok(self.consume(&queue, prefetch.max(1)).await)
    }

    async fn consume_verified_tasks(&self, prefetch: u16) -> Result<Self::Tasks, TransportError> {
        let queue = self.shared.names.verified_tasks.clone();
        Ok(self.consume(&queue, prefetch.max(1)).await)
    }

    async fn consume_results(&self) -> Result<Self::Results, TransportError> {
        let queue = self.shared.names.results.clone();
        // The coordinator records what has arrived in batches, one sync each: a deep window keeps
        // a batch's worth arriving while the last one is recorded.
        Ok(self.consume(&queue, 256).await)
    }

    async fn task_consumers(&self, trust: Trust) -> Result<u32, TransportError> {
        let names = &self.shared.names;
        let queue = match trust {
            Trust::Any => &names.tasks,
            Trust::Verified => &names.verified_tasks,
        };
        let mut guard = self.shared.publisher.lock().await;
        if guard
            .as_ref()
            .is_some_and(|(connection, _)| !connection.status().connected())
        {
            *guard = None;
        }
        let late = || TransportError::Broker(format!("no answer within {COUNT_WAIT:?}"));
        if guard.is_none() {
            let opened = tokio::time::timeout(COUNT_WAIT, self.open_publisher()).await;
            *guard = Some(opened.map_err(|_| late())??);
        }
        let (connection, _) = guard.as_ref().expect("just connected");
        let counted = async {
            // A channel of its own: the publisher's waits for confirms.
            let channel = connection.create_channel().await.map_err(broker)?;
            let passive = QueueDeclareOptions {
                passive: true,
                ..QueueDeclareOptions::default()
            };
            let found = channel
                .queue_declare(queue.as_str().into(), passive, FieldTable::default())
                .await
                .map_err(broker)?;
            let _ = channel.close(200, "counted".into()).await;
            Ok(found.consumer_count())
        };
        // Bounded: the publisher's lock is held, and a broker under a resource alarm stops
        // reading a publishing connection.
        let counted = tokio::time::timeout(COUNT_WAIT, counted)
            .await
            .unwrap_or_else(|_| Err(late()));
        if counted.is_err() {
            // The next publication connects afresh.
            *guard = None;
        }
        counted
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reconnection_delays_are_spread() {
        let draws: Vec<f64> = (0..64).map(|_| unit_random()).collect();
        assert!(draws.iter().all(|u| (0.0..1.0).contains(u)), "{draws:?}");
        let (low, high) = draws
            .iter()
            .fold((1.0f64, 0.0f64), |(lo, hi), &u| (lo.min(u), hi.max(u)));
        assert!(low < 0.25 && high > 0.75, "{draws:?}");
    }

    /// A connection closed before its queues are declared, as when the broker closes every
    /// connection while a coordinator starts: a failure to connect (which
    /// `connect_when_up` waits out), and the kind of queue stays what it was.
    #[tokio::test]
    async fn a_connection_lost_while_setting_up_is_a_failure_to_connect() {
        let to = Broker::new("amqp://guest:guest@127.0.0.1:5672/%2f");
        let transport = AmqpTransport::unconnected(&to, "tessera-test-lost");
        let (connection, channel) = open(&to)
            .await
            .expect("this test needs RabbitMQ at 127.0.0.1:5672 (.ci/run starts it)");
        connection.close(200, "gone".into()).await.unwrap();
        let e = transport.set_up(&connection, &channel).await.unwrap_err();
        assert!(matches!(e, TransportError::Connect { .. }), "{e:?}");
        assert!(e.to_string().contains("lost"), "{e}");
        assert!(transport.shared.quorum.load(Ordering::SeqCst));
    }
}
