//! The RabbitMQ transport against a real broker.

mod broker;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tessera_protocol::auth::Trust;
use tessera_protocol::device::Device;
use tessera_protocol::id::{JobId, TaskId};
use tessera_protocol::pixels::EncodedPixels;
use tessera_protocol::result::{Outcome, ResultMessage, WorkerInfo};
use tessera_protocol::scene::SceneHash;
use tessera_protocol::task::{TaskBundle, TaskMessage};
use tessera_renderer::film::{Pixels, Resolution};
use tessera_renderer::settings::{MaxDepth, RenderSettings, Spp};
use tessera_transport::{AmqpTransport, Broker, Inbox, Transport, TransportError};

fn task(id: i64, attempt: u32) -> TaskMessage {
    let resolution = Resolution::new(8, 8).unwrap();
    TaskMessage {
        task: TaskId(id),
        job: JobId(1),
        scene: SceneHash::of(b"scene"),
        frame: 1,
        time: 0.0,
        camera: None,
        view: Default::default(),
        environment: None,
        resolution,
        tile: resolution.full_tile(),
        settings: RenderSettings {
            spp: Spp::new(1).unwrap(),
            max_depth: MaxDepth::new(2).unwrap(),
            seed: 0,
        },
        attempt,
        max_attempts: 2,
        trust: Default::default(),
    }
}

async fn within<T>(f: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(30), f)
        .await
        .expect("the broker answered within 30 s")
}

/// A transport on queues of their own for `test`, task 1's first attempt published.
async fn holding_one_task(test: &str) -> AmqpTransport {
    broker::ensure_rabbitmq();
    let ns = broker::namespace(test);
    let transport = AmqpTransport::connect(&Broker::new(broker::URL), &ns)
        .await
        .unwrap();
    transport
        .publish_tasks(&[TaskBundle::one(task(1, 1))])
        .await
        .unwrap();
    transport
}

/// A worker that cannot send its results (a publish the broker refused) gives the task back at
/// once, on a connection that stays up; merely dropped, it would be held until the connection
/// closed, and a worker that takes one message at a time would take no other.
#[tokio::test]
async fn a_requeued_task_comes_back_at_once_on_the_same_connection() {
    let transport = holding_one_task("requeue").await;
    let mut inbox = transport.consume_tasks(1).await.unwrap();
    let first = within(inbox.next()).await.unwrap();
    within(first.requeue()).await.unwrap();
    let again = within(inbox.next()).await.unwrap();
    assert_eq!(again.message.tasks(), [task(1, 1)]);
    assert!(again.redelivered);
    again.ack().await.unwrap();
    transport.delete_queues().await.unwrap();
}

/// A TCP front for the test broker that counts the connections asked of it and, while cut,
/// closes every connection, open or new, as a broker gone down does.
struct Front {
    port: u16,
    asked: Arc<AtomicUsize>,
    cut: Arc<AtomicBool>,
    links: Arc<Mutex<Vec<tokio::task::AbortHandle>>>,
    accepting: tokio::task::JoinHandle<()>,
}

impl Front {
    async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let (asked, cut, links) = (Arc::default(), Arc::<AtomicBool>::default(), Arc::default());
        let accepting = tokio::spawn({
            let (asked, cut, links): (Arc<AtomicUsize>, _, Arc<Mutex<Vec<_>>>) =
                (Arc::clone(&asked), Arc::clone(&cut), Arc::clone(&links));
            async move {
                loop {
                    let (mut client, _) = listener.accept().await.unwrap();
                    asked.fetch_add(1, Ordering::SeqCst);
                    if cut.load(Ordering::SeqCst) {
                        continue;
                    }
                    let link = tokio::spawn(async move {
                        let mut broker = tokio::net::TcpStream::connect("127.0.0.1:5672")
                            .await
                            .unwrap();
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut broker).await;
                    });
                    links.lock().unwrap().push(link.abort_handle());
                }
            }
        });
        Self {
            port,
            asked,
            cut,
            links,
            accepting,
        }
    }

    fn broker(&self) -> Broker {
        Broker::new(broker::URL.replace("5672", &self.port.to_string()))
    }

    fn asked(&self) -> usize {
        self.asked.load(Ordering::SeqCst)
    }

    fn cut(&self, cut: bool) {
        self.cut.store(cut, Ordering::SeqCst);
        for link in self.links.lock().unwrap().drain(..) {
            link.abort();
        }
    }
}

impl Drop for Front {
    fn drop(&mut self) {
        self.accepting.abort();
        self.cut(true);
    }
}

/// An inbox that cannot reach the broker waits longer between attempts however often it is
/// asked for its next message: a coordinator's loop asks each time another of its timers fires,
/// and used to try again at once each time, hammering the broker and the log.
#[tokio::test]
async fn an_inbox_that_cannot_reconnect_backs_off_however_often_it_is_asked() {
    let direct = holding_one_task("backoff").await;
    let front = Front::start().await;
    let ns = direct.names().namespace.clone();
    let through = AmqpTransport::connect(&front.broker(), &ns).await.unwrap();
    let mut inbox = through.consume_tasks(1).await.unwrap();
    within(inbox.next()).await.unwrap().ack().await.unwrap();
    front.cut(true);
    let before = front.asked();
    // Asked again every 50 ms for 3 s, as a select! loop with a busy timer asks.
    let start = std::time::Instant::now();
    while start.elapsed() < Duration::from_secs(3) {
        let _ = tokio::time::timeout(Duration::from_millis(50), inbox.next()).await;
    }
    // Waits of 50-100, 100-200, 200-400, 400-800 and 800-1600 ms, then 1.6-3.2 s: 4 or 5
    // attempts.
    let tried = front.asked() - before;
    assert!((2..=8).contains(&tried), "{tried} connections in 3 s");
    // Back, the broker is reached again, and what was published meanwhile arrives.
    front.cut(false);
    direct
        .publish_tasks(&[TaskBundle::one(task(2, 1))])
        .await
        .unwrap();
    let mut again = within(inbox.next()).await.unwrap();
    if again.message.tasks() == [task(1, 1)] {
        // The cut may have beaten the first acknowledgement to the broker, which then gives the
        // message back with the connection.
        assert!(again.redelivered);
        again.ack().await.unwrap();
        again = within(inbox.next()).await.unwrap();
    }
    assert_eq!(again.message.tasks(), [task(2, 1)]);
    again.ack().await.unwrap();
    drop(inbox);
    direct.delete_queues().await.unwrap();
}

async fn consumers(transport: &AmqpTransport, trust: Trust) -> u32 {
    within(transport.task_consumers(trust)).await.unwrap()
}

/// The consumers of each task queue are counted: the coordinator publishes unclaimed tasks again
/// only into a queue somebody takes from.
#[tokio::test]
async fn a_task_queues_consumers_are_counted() {
    let transport = holding_one_task("consumers").await;
    transport
        .publish_tasks(&[TaskBundle::one(task(2, 1))])
        .await
        .unwrap();
    assert_eq!(consumers(&transport, Trust::Any).await, 0);
    // Inboxes consume once they are first read; each message is acknowledged before the count,
    // which must not count unacknowledged messages instead (as RabbitMQ's quorum queues did
    // until a 2026 fix).
    let mut inboxes = [
        transport.consume_tasks(1).await.unwrap(),
        transport.consume_tasks(1).await.unwrap(),
    ];
    let mut deliveries = Vec::new();
    for inbox in &mut inboxes {
        deliveries.push(within(inbox.next()).await.unwrap());
    }
    for delivery in deliveries {
        delivery.ack().await.unwrap();
    }
    assert_eq!(consumers(&transport, Trust::Any).await, 2);
    assert_eq!(consumers(&transport, Trust::Verified).await, 0);
    drop(inboxes);
    transport.delete_queues().await.unwrap();
}

#[tokio::test]
async fn tasks_and_results_travel_and_unacked_tasks_come_back() {
    broker::ensure_rabbitmq();
    let ns = broker::namespace("travel");
    let transport = AmqpTransport::connect(&Broker::new(broker::URL), &ns)
        .await
        .unwrap();
    // Two tiny tasks in one message, then one alone.
    let pair = TaskBundle::new(vec![task(1, 1), task(2, 1)]).unwrap();
    transport
        .publish_tasks(&[pair.clone(), TaskBundle::one(task(3, 1))])
        .await
        .unwrap();

    let mut inbox = transport.consume_tasks(1).await.unwrap();
    let first = within(inbox.next()).await.unwrap();
    assert_eq!(first.message, pair);
    // Not acked: dropping the consumer's connection gives it back to the queue.
    drop(first);
    drop(inbox);
    let mut inbox = transport.consume_tasks(1).await.unwrap();
    let again = within(inbox.next()).await.unwrap();
    assert_eq!(again.message, pair);
    assert!(again.redelivered);
    again.ack().await.unwrap();
    let second = within(inbox.next()).await.unwrap();
    assert_eq!(second.message.tasks(), [task(3, 1)]);
    transport
        .dead_letter(&second.message.tasks()[0])
        .await
        .unwrap();
    second.ack().await.unwrap();

    let result = ResultMessage {
        task: TaskId(1),
        job: JobId(1),
        frame: 1,
        tile: task(1, 1).tile,
        attempt: 1,
        worker: WorkerInfo {
            name: "w".into(),
            device: Device {
                backend: "cpu".into(),
                name: "cpu".into(),
                class: "cpu".into(),
                threads: 1,
            },
        },
        outcome: Outcome::Rendered {
            render_micros: 5,
            samples: 64,
            pixels: EncodedPixels::encode(&Pixels::zeroed(64)),
        },
        lease: "lease".into(),
        signature: "signature".into(),
    };
    let other = ResultMessage {
        task: TaskId(2),
        ..result.clone()
    };
    transport
        .publish_results(&[result.clone(), other.clone()])
        .await
        .unwrap();
    let mut results = transport.consume_results().await.unwrap();
    for sent in [result, other] {
        let got = within(results.next()).await.unwrap();
        assert_eq!(got.message, sent);
        got.ack().await.unwrap();
    }

    // The task given up on is in the dead-letter queue.
    let dead = transport.names().dead_tasks.clone();
    let mut depth = 0;
    for _ in 0..50 {
        depth = broker::queue_depth(&dead);
        if depth == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(depth, 1, "one task in {dead}");
    transport.delete_queues().await.unwrap();
    transport.close().await;
}

/// The URL is named, its password never.
#[tokio::test]
async fn an_unreachable_broker_is_reported_with_its_url_but_not_its_password() {
    let url = "amqp://tessera:hunter2@127.0.0.1:1/%2f";
    let err = AmqpTransport::connect(&Broker::new(url), "unused")
        .await
        .err()
        .expect("no broker on port 1");
    assert!(matches!(err, TransportError::Connect { .. }), "{err}");
    let message = err.to_string();
    assert!(
        message.contains("amqp://tessera:***@127.0.0.1:1/%2f"),
        "{message}"
    );
    assert!(!message.contains("hunter2"), "{message}");
}

/// `amqps://` through a TLS front whose certificate a private authority signed: refused
/// without that authority, working with it (`--amqp-ca`).
#[tokio::test]
async fn amqps_works_with_the_brokers_certificate_authority_and_only_with_it() {
    broker::ensure_rabbitmq();
    let (port, ca_pem) = broker::tls_front().await;
    let url = format!("amqps://guest:guest@localhost:{port}/%2f");
    let ns = broker::namespace("tls");

    let err = AmqpTransport::connect(&Broker::new(&url), &ns)
        .await
        .err()
        .expect("a certificate from an unknown authority is refused");
    eprintln!("without the CA: {err}");
    let shown = format!("amqps://guest:***@localhost:{port}/%2f");
    assert!(err.to_string().contains(&shown), "{err}");
    assert!(
        err.to_string().to_lowercase().contains("certificate"),
        "{err}"
    );

    let dir = tempfile::tempdir().unwrap();
    let ca_file = dir.path().join("ca.pem");
    std::fs::write(&ca_file, ca_pem).unwrap();
    let broker = Broker::new(&url).with_ca_file(&ca_file).unwrap();
    let transport = within(AmqpTransport::connect(&broker, &ns)).await.unwrap();
    transport
        .publish_tasks(&[TaskBundle::one(task(7, 1))])
        .await
        .unwrap();
    let mut inbox = transport.consume_tasks(1).await.unwrap();
    let got = within(inbox.next()).await.unwrap();
    assert_eq!(got.message.tasks(), [task(7, 1)]);
    got.ack().await.unwrap();
    transport.delete_queues().await.unwrap();
    transport.close().await;

    let missing = Broker::new(&url).with_ca_file(&dir.path().join("nope.pem"));
    let err = missing.expect_err("a missing CA file is an error");
    assert!(err.to_string().contains("nope.pem"), "{err}");
}

/// Queues that already exist as classic ones (made by a broker without quorum queues, or by a
/// transport that fell back to them) are declared as they are and carry tasks.
#[tokio::test]
async fn classic_queues_that_already_exist_are_used() {
    use lapin::options::QueueDeclareOptions;
    use lapin::types::FieldTable;
    broker::ensure_rabbitmq();
    let ns = broker::namespace("kinds");
    let connection = lapin::Connection::connect(broker::URL, Default::default())
        .await
        .unwrap();
    let channel = connection.create_channel().await.unwrap();
    let durable = QueueDeclareOptions {
        durable: true,
        ..QueueDeclareOptions::default()
    };
    let dead = format!("{ns}.tasks.dead");
    channel
        .queue_declare(dead.as_str().into(), durable, FieldTable::default())
        .await
        .unwrap();
    let transport = within(AmqpTransport::connect(&Broker::new(broker::URL), &ns))
        .await
        .expect("classic queues are taken as they are");
    transport
        .publish_tasks(&[TaskBundle::one(task(1, 1))])
        .await
        .unwrap();
    let mut inbox = transport.consume_tasks(1).await.unwrap();
    let delivery = within(inbox.next()).await.expect("the task arrives");
    assert_eq!(delivery.message.tasks()[0].task, TaskId(1));
    delivery.ack().await.unwrap();
    transport.delete_queues().await.unwrap();
}
