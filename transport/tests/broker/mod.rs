//! A real RabbitMQ for the tests: started when it is not running, and a clear failure when it
//! cannot be had. Each test gets its own namespace, so tests share the broker without meeting.

use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

pub const URL: &str = "amqp://guest:guest@127.0.0.1:5672/%2f";

fn port_open() -> bool {
    std::net::TcpStream::connect_timeout(&"127.0.0.1:5672".parse().unwrap(), Duration::from_secs(1))
        .is_ok()
}

/// Makes sure a broker listens on 127.0.0.1:5672, starting `rabbitmq-server -detached` if not.
pub fn ensure_rabbitmq() {
    if port_open() {
        return;
    }
    let started = Command::new("rabbitmq-server").arg("-detached").status();
    if let Err(e) = &started {
        panic!(
            "RabbitMQ is not running on 127.0.0.1:5672 and `rabbitmq-server -detached` could not be run ({e}); install it with `apt-get install -y rabbitmq-server`"
        );
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        if port_open() {
            return;
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    panic!("RabbitMQ did not start listening on 127.0.0.1:5672 within 60 s");
}

/// A namespace no other test run uses.
pub fn namespace(test: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    format!(
        "test-{}-{}-{test}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    )
}

/// Messages ready in `queue`, from `rabbitmqctl`.
pub fn queue_depth(queue: &str) -> u64 {
    let out = Command::new("rabbitmqctl")
        .args([
            "list_queues",
            "-q",
            "--no-table-headers",
            "name",
            "messages_ready",
        ])
        .output()
        .expect("rabbitmqctl runs");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| {
            let mut parts = l.split_whitespace();
            (parts.next()? == queue).then(|| parts.next()?.parse().ok())?
        })
        .next()
        .unwrap_or(0)
}

/// A TLS front for the broker, as a TLS-terminating load balancer would be: it accepts TLS on
/// a port of its own with a certificate for `localhost` from a certificate authority made up
/// here, and forwards the plain AMQP bytes to 127.0.0.1:5672. Returns the port and the
/// authority's certificate (PEM); the front serves until the test's runtime ends.
pub async fn tls_front() -> (u16, String) {
    use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair};
    use std::sync::Arc;
    use tokio_rustls::rustls::{self, pki_types::PrivateKeyDer};

    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let key = KeyPair::generate().unwrap();
    let cert = CertificateParams::new(vec!["localhost".to_owned()])
        .unwrap()
        .signed_by(&key, &ca, &ca_key)
        .unwrap();
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(
        vec![cert.der().clone()],
        PrivateKeyDer::Pkcs8(key.serialize_der().into()),
    )
    .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                // A client that refuses our certificate ends its handshake here.
                let Ok(mut tls) = acceptor.accept(client).await else {
                    return;
                };
                let mut plain = tokio::net::TcpStream::connect("127.0.0.1:5672")
                    .await
                    .unwrap();
                let _ = tokio::io::copy_bidirectional(&mut tls, &mut plain).await;
            });
        }
    });
    (port, ca.pem())
}
