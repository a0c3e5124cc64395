//! The RabbitMQ transport against a real broker.

mod broker;

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
