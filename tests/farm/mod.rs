//! A farm for the end-to-end tests: a real RabbitMQ (started when it is not running), a
//! coordinator and workers as `tessera` processes, each farm in its own namespace, port and data
//! directory, all killed and its queues deleted when the farm is dropped.

#![allow(dead_code)] // Each test binary uses its own subset.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use serde_json::Value;

pub const AMQP_URL: &str = "amqp://guest:guest@127.0.0.1:5672/%2f";

/// The longest any one `tessera` client command of a test may run (`submit --wait` included).
pub const CLIENT_LIMIT: Duration = Duration::from_secs(300);

/// Runs `command` to its end, collecting its output, unless it runs longer than `limit`: then it
/// is killed, and the error says so with what it had written to stderr.
pub fn output_within(command: &mut Command, limit: Duration) -> Result<Output, String> {
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the command starts");
    // Both pipes drained as the command writes, so it never blocks on a full one.
    fn drain(mut pipe: impl std::io::Read + Send + 'static) -> std::thread::JoinHandle<Vec<u8>> {
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            let _ = pipe.read_to_end(&mut bytes);
            bytes
        })
    }
    let stdout = drain(child.stdout.take().expect("piped"));
    let stderr = drain(child.stderr.take().expect("piped"));
    let deadline = Instant::now() + limit;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            let stderr = stderr.join().unwrap_or_default();
            return Err(format!(
                "did not finish within {limit:?} and was killed; its error output: {}",
                String::from_utf8_lossy(&stderr)
            ));
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Ok(Output {
        status,
        stdout: stdout.join().unwrap(),
        stderr: stderr.join().unwrap(),
    })
}

fn broker_listening() -> bool {
    std::net::TcpStream::connect_timeout(&"127.0.0.1:5672".parse().unwrap(), Duration::from_secs(1))
        .is_ok()
}

/// Makes sure RabbitMQ listens on 127.0.0.1:5672, starting it if it is installed but stopped,
/// and that it takes messages.
pub fn ensure_rabbitmq() {
    start_rabbitmq();
    // A broker that does not answer, or short of disk or memory (it then blocks every publisher
    // without a word), is said plainly once a test binary, rather than found as jobs that never
    // finish.
    static BROKER_CHECKED: std::sync::Once = std::sync::Once::new();
    BROKER_CHECKED.call_once(|| {
        // Listening is not answering: a broker seen wedged (400 quorum queues on this 2-core
        // machine) accepts connections and never completes a handshake.
        if let Err(e) = delete_queues("test-probe") {
            panic!(
                "RabbitMQ listens on 127.0.0.1:5672 but does not answer over AMQP ({e}); \
                 restart it, and delete the queues tests left behind if it stays so"
            );
        }
        delete_abandoned_queues();
        if let Ok(out) = Command::new("rabbitmq-diagnostics")
            .args(["-q", "check_local_alarms"])
            .output()
        {
            assert!(
                out.status.success(),
                "RabbitMQ has a resource alarm, so it takes no messages: free disk or memory, or \
                 restore its memory limit if a test left it at 0 \
                 (rabbitmqctl set_vm_memory_high_watermark 0.4): {}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
    });
}

fn start_rabbitmq() {
    if broker_listening() {
        return;
    }
    if let Err(e) = Command::new("rabbitmq-server").arg("-detached").status() {
        panic!(
            "RabbitMQ is not running on 127.0.0.1:5672 and `rabbitmq-server -detached` failed ({e}); install it with `apt-get install -y rabbitmq-server`"
        );
    }
    let deadline = Instant::now() + Duration::from_secs(90);
    while Instant::now() < deadline {
        if broker_listening() {
            return;
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    panic!("RabbitMQ was started but does not listen on 127.0.0.1:5672 after 90 s");
}

/// Runs `rabbitmqctl` with `args`, which must succeed; returns what it printed.
pub fn rabbitmqctl(args: &[&str]) -> String {
    let out = Command::new("rabbitmqctl")
        .args(args)
        .output()
        .expect("rabbitmqctl runs");
    assert!(
        out.status.success(),
        "rabbitmqctl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// `--amqp` for the test broker, unless `args` name another.
fn default_broker<S: AsRef<str>>(args: &[S]) -> Vec<&'static str> {
    if args.iter().any(|a| a.as_ref() == "--amqp") {
        Vec::new()
    } else {
        vec!["--amqp", AMQP_URL]
    }
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub fn scene(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("scenes")
        .join(name)
}

pub struct Farm {
    pub dir: tempfile::TempDir,
    pub namespace: String,
    pub url: String,
    port: u16,
    /// The operator's token, which `tessera` commands use unless told otherwise.
    pub admin: String,
    /// Extra options of the coordinator (`--lease-timeout 3`).
    coordinator_args: Vec<String>,
    coordinator: Option<Child>,
    /// The store's PostgreSQL URL, when it is not the data directory's SQLite file.
    database: Option<String>,
    /// A second coordinator on the same store, standing by.
    standby: Option<Child>,
    /// Each worker's name (its log's too) and process.
    workers: Vec<(String, Child)>,
}

impl Farm {
    /// A coordinator, not yet any worker.
    pub fn start(test: &str) -> Farm {
        Self::start_with(test, &[])
    }

    /// A coordinator with extra options, not yet any worker.
    pub fn start_with(test: &str, coordinator_args: &[&str]) -> Farm {
        Self::start_on(None, test, coordinator_args)
    }

    /// A coordinator whose store is in PostgreSQL at `database` when given, not yet any worker.
    pub fn start_on(database: Option<String>, test: &str, coordinator_args: &[&str]) -> Farm {
        ensure_rabbitmq();
        static N: AtomicU32 = AtomicU32::new(0);
        let namespace = format!(
            "test-{}-{}-{test}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        );
        let port = free_port();
        let mut farm = Farm {
            dir: tempfile::tempdir().unwrap(),
            namespace,
            url: format!("http://127.0.0.1:{port}"),
            port,
            admin: String::new(),
            coordinator_args: coordinator_args.iter().map(|a| a.to_string()).collect(),
            coordinator: None,
            database,
            standby: None,
            workers: Vec::new(),
        };
        farm.admin = farm.token(&["--role", "admin", "--name", "ops"]);
        farm.start_coordinator();
        farm
    }

    /// Issues a token with `tessera token create` on the data directory.
    pub fn token(&self, args: &[&str]) -> String {
        self.token_command("create", args)
    }

    /// Revokes token `id` with `tessera token revoke` on the data directory.
    pub fn revoke_token(&self, id: i64) {
        self.token_command("revoke", &[&id.to_string()]);
    }

    /// `tessera token SUBCOMMAND` on the data directory, which must succeed: what it printed.
    fn token_command(&self, subcommand: &str, args: &[&str]) -> String {
        let out = Command::new(env!("CARGO_BIN_EXE_tessera"))
            .args(["token", subcommand, "--data"])
            .arg(self.data_dir())
            .args(self.database_args())
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "token {subcommand} {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap().trim().to_owned()
    }

    fn database_args(&self) -> Vec<&str> {
        match &self.database {
            Some(url) => vec!["--database", url],
            None => Vec::new(),
        }
    }

    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn log(&self, name: &str) -> std::fs::File {
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.path().join(format!("{name}.log")))
            .unwrap()
    }

    fn spawn_coordinator(&self, log: &str) -> Child {
        Command::new(env!("CARGO_BIN_EXE_tessera"))
            .args(["coordinator", "--namespace", &self.namespace])
            .args(default_broker(&self.coordinator_args))
            .args(["--listen", &format!("127.0.0.1:{}", self.port)])
            .arg("--data")
            .arg(self.data_dir())
            .args(self.database_args())
            .args(&self.coordinator_args)
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(self.log(log))
            .spawn()
            .expect("tessera coordinator starts")
    }

    pub fn start_coordinator(&mut self) {
        self.coordinator = Some(self.spawn_coordinator("coordinator"));
        assert!(
            self.wait_listening(Duration::from_secs(30)),
            "coordinator did not listen within 30 s{}",
            self.logs()
        );
    }

    /// Whether the farm's API port accepts connections within `limit`.
    pub fn wait_listening(&self, limit: Duration) -> bool {
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            if std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        false
    }

    /// Starts a second coordinator on the same store, data directory and port (logging to
    /// `standby.log`); it waits until it is told it stands by.
    pub fn start_standby(&mut self) {
        let mut child = self.spawn_coordinator("standby");
        let deadline = Instant::now() + Duration::from_secs(30);
        while !self.read_log("standby").contains("standing by") {
            if let Some(status) = child.try_wait().unwrap() {
                panic!(
                    "the standby exited ({status}); log: {}",
                    self.read_log("standby")
                );
            }
            assert!(
                Instant::now() < deadline,
                "the standby did not stand by within 30 s; log: {}",
                self.read_log("standby")
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        self.standby = Some(child);
    }

    /// CPU time (user and system) the running coordinator has used, from `/proc`.
    pub fn coordinator_cpu_seconds(&self) -> f64 {
        let pid = self.coordinator.as_ref().expect("a coordinator runs").id();
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
        // The fields after the command's name, which is in parentheses and may hold spaces.
        let fields: Vec<&str> = stat[stat.rfind(')').unwrap() + 2..]
            .split_whitespace()
            .collect();
        let ticks: f64 = fields[11].parse::<f64>().unwrap() + fields[12].parse::<f64>().unwrap();
        let out = Command::new("getconf").arg("CLK_TCK").output().unwrap();
        let per_second: f64 = String::from_utf8_lossy(&out.stdout).trim().parse().unwrap();
        ticks / per_second
    }

    /// The coordinator's exit status, if it exits within `limit`.
    pub fn wait_coordinator_exit(&mut self, limit: Duration) -> Option<std::process::ExitStatus> {
        let child = self.coordinator.as_mut().expect("a coordinator runs");
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            if let Some(status) = child.try_wait().unwrap() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        None
    }

    pub fn kill_coordinator(&mut self) {
        if let Some(mut c) = self.coordinator.take() {
            c.kill().unwrap();
            c.wait().unwrap();
        }
    }

    /// The command line of a worker named `name` (one thread, CPU class) and its token, for a
    /// test that starts it itself.
    pub fn worker_command(&self, name: &str) -> (Vec<String>, String) {
        let token = self.token(&["--role", "worker", "--name", name, "--threads", "1"]);
        let mut command = vec![
            env!("CARGO_BIN_EXE_tessera").to_owned(),
            "worker".into(),
            "--namespace".into(),
            self.namespace.clone(),
            "--amqp".into(),
            AMQP_URL.into(),
            "--coordinator".into(),
            self.url.clone(),
            "--threads".into(),
            "1".into(),
            "--cache".into(),
        ];
        command.push(
            self.dir
                .path()
                .join(format!("cache-{name}"))
                .display()
                .to_string(),
        );
        (command, token)
    }

    /// Starts a worker with one thread; returns its index.
    pub fn start_worker(&mut self, env: &[(&str, &str)]) -> usize {
        self.start_worker_with(&[], env)
    }

    /// Starts a worker with one thread and extra arguments (`--backend wgpu`); returns its
    /// index. Workers are named `w1`, `w2`, ... in the order they start, by their tokens (CPU
    /// class, one thread).
    pub fn start_worker_with(&mut self, args: &[&str], env: &[(&str, &str)]) -> usize {
        self.spawn_worker(&[], args, env)
    }

    /// Starts a worker with one thread whose token the operator issued as verified; returns its
    /// index.
    pub fn start_verified_worker(&mut self) -> usize {
        self.spawn_worker(&["--verified"], &[], &[])
    }

    fn spawn_worker(&mut self, token_args: &[&str], args: &[&str], env: &[(&str, &str)]) -> usize {
        let name = format!("w{}", self.workers.len() + 1);
        let mut all = vec!["--role", "worker", "--name", &name, "--threads", "1"];
        all.extend_from_slice(token_args);
        let token = self.token(&all);
        let child = Command::new(env!("CARGO_BIN_EXE_tessera"))
            .args(["worker", "--namespace", &self.namespace])
            .args(default_broker(args))
            .args(["--coordinator", &self.url, "--threads", "1"])
            .env("TESSERA_TOKEN", token)
            .arg("--cache")
            .arg(self.dir.path().join(format!("cache-{name}")))
            .args(args)
            .envs(env.iter().copied())
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(self.log(&name))
            .spawn()
            .expect("tessera worker starts");
        self.workers.push((name, child));
        self.workers.len() - 1
    }

    /// Sends a signal (`STOP`, `CONT`) to worker `index`.
    pub fn signal_worker(&self, index: usize, signal: &str) {
        let pid = self.workers[index].1.id().to_string();
        let status = Command::new("kill")
            .args([&format!("-{signal}"), &pid])
            .status()
            .unwrap();
        assert!(status.success(), "kill -{signal} {pid}");
    }

    /// The scheduling priority (`nice`) of each thread of worker `index`.
    pub fn worker_priorities(&self, index: usize) -> Vec<i32> {
        let pid = self.workers[index].1.id();
        std::fs::read_dir(format!("/proc/{pid}/task"))
            .unwrap()
            .map(|thread| {
                let stat = std::fs::read_to_string(thread.unwrap().path().join("stat")).unwrap();
                // Field 19, counted after the command's name, which is in parentheses.
                stat[stat.rfind(')').unwrap() + 2..]
                    .split_whitespace()
                    .nth(16)
                    .unwrap()
                    .parse()
                    .unwrap()
            })
            .collect()
    }

    pub fn worker(&mut self, index: usize) -> &mut Child {
        &mut self.workers[index].1
    }

    /// Waits until worker `index` logs that it is ready: its backend up, taking tasks.
    pub fn wait_worker_ready(&mut self, index: usize, limit: Duration) {
        let deadline = Instant::now() + limit;
        let (name, child) = &mut self.workers[index];
        let log = self.dir.path().join(format!("{name}.log"));
        let read = || std::fs::read_to_string(&log).unwrap_or_default();
        while !read().contains("worker ready") {
            if let Some(status) = child.try_wait().unwrap() {
                panic!(
                    "worker {name} exited ({status}) before it was ready; log: {}",
                    read()
                );
            }
            assert!(
                Instant::now() < deadline,
                "worker {name} not ready within {limit:?}; log: {}",
                read()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    pub fn read_log(&self, name: &str) -> String {
        std::fs::read_to_string(self.dir.path().join(format!("{name}.log"))).unwrap_or_default()
    }

    /// Runs a `tessera` client command against this farm, as its operator.
    pub fn tessera(&self, args: &[&str]) -> Output {
        self.tessera_as(&self.admin, args)
    }

    /// Runs a `tessera` client command against this farm with `token`. A command still running
    /// after `CLIENT_LIMIT` fails the test with the farm's logs, instead of hanging CI.
    pub fn tessera_as(&self, token: &str, args: &[&str]) -> Output {
        let mut command = Command::new(env!("CARGO_BIN_EXE_tessera"));
        command
            .args(args)
            .current_dir(self.dir.path())
            .env("TESSERA_COORDINATOR", &self.url)
            .env("TESSERA_TOKEN", token)
            .env_remove("RUST_LOG");
        output_within(&mut command, CLIENT_LIMIT)
            .unwrap_or_else(|e| panic!("`tessera {args:?}` {e}{}", self.logs()))
    }

    /// The names of this farm's logs: its coordinators' and its workers'.
    fn log_names(&self) -> Vec<&str> {
        let mut names = vec!["coordinator", "standby"];
        names.extend(self.workers.iter().map(|(name, _)| name.as_str()));
        names
    }

    /// Every log of this farm, one after another.
    pub fn read_logs(&self) -> String {
        self.log_names()
            .into_iter()
            .map(|name| self.read_log(name))
            .collect()
    }

    /// The end of every log of this farm, for a failure's message.
    pub fn logs(&self) -> String {
        let mut text = String::new();
        for name in self.log_names() {
            let log = self.read_log(name);
            let tail: Vec<&str> = log.lines().rev().take(40).collect();
            if !tail.is_empty() {
                text.push_str(&format!("\n--- {name}.log (end) ---\n"));
                for line in tail.iter().rev() {
                    text.push_str(line);
                    text.push('\n');
                }
            }
        }
        text
    }

    pub fn json(&self, args: &[&str]) -> Value {
        let out = self.tessera(args);
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    }

    /// Submits without waiting; returns the job id.
    pub fn submit(&self, args: &[&str]) -> String {
        let mut all = vec!["submit"];
        all.extend_from_slice(args);
        let out = self.tessera(&all);
        assert!(
            out.status.success(),
            "submit: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap().trim().to_owned()
    }

    pub fn status(&self, job: &str) -> Value {
        self.json(&["status", job, "--json"])
    }

    /// Waits until `check` holds for the job's status.
    pub fn wait_for(
        &self,
        job: &str,
        limit: Duration,
        what: &str,
        check: impl Fn(&Value) -> bool,
    ) -> Value {
        let deadline = Instant::now() + limit;
        loop {
            let out = self.tessera(&["status", job, "--json"]);
            if out.status.success() {
                let status: Value = serde_json::from_slice(&out.stdout).unwrap();
                if check(&status) {
                    return status;
                }
                if Instant::now() > deadline {
                    panic!(
                        "{what}: not within {limit:?}; last status {status}{}",
                        self.logs()
                    );
                }
            } else if Instant::now() > deadline {
                panic!(
                    "{what}: no status within {limit:?}: {}{}",
                    String::from_utf8_lossy(&out.stderr),
                    self.logs()
                );
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    pub fn wait_done(&self, job: &str, limit: Duration) -> Value {
        let status = self.wait_for(job, limit, "job finished", |s| s["state"] != "running");
        assert_eq!(status["state"], "done", "{status}");
        status
    }

    /// Downloads the job's frames through `tessera` into `dir`.
    pub fn frame(&self, job: &str, frame: u32) -> PathBuf {
        self.data_dir()
            .join("frames")
            .join(job)
            .join(format!("frame_{frame:04}.exr"))
    }

    /// Messages ready in one of this farm's queues (`tasks`, `results`, `tasks.dead`).
    pub fn queue_depth(&self, queue: &str) -> u64 {
        self.queue_figure(queue, "messages_ready")
    }

    /// `rabbitmqctl list_queues`' column `figure` (`consumers`, say) for one of this farm's
    /// queues; 0 for a queue the broker lacks.
    pub fn queue_figure(&self, queue: &str, figure: &str) -> u64 {
        let name = format!("{}.{queue}", self.namespace);
        let out = Command::new("rabbitmqctl")
            .args(["list_queues", "-q", "--no-table-headers", "name", figure])
            .output()
            .expect("rabbitmqctl runs");
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| {
                let mut parts = l.split_whitespace();
                (parts.next()? == name).then(|| parts.next()?.parse().ok())?
            })
            .next()
            .unwrap_or(0)
    }
}

impl Drop for Farm {
    fn drop(&mut self) {
        for (_, w) in &mut self.workers {
            let _ = w.kill();
            let _ = w.wait();
        }
        self.kill_coordinator();
        if let Some(mut standby) = self.standby.take() {
            let _ = standby.kill();
            let _ = standby.wait();
        }
        // On a thread of its own: a farm may be dropped inside an async test.
        let namespace = self.namespace.clone();
        let deleted = std::thread::spawn(move || delete_queues(&namespace)).join();
        if let Ok(Err(e)) = deleted {
            eprintln!("{e}");
        }
    }
}

/// Deletes the queues of farms whose test process is gone (killed before dropping its farms):
/// their namespaces are `test-<pid>-...`. Called before this process starts any farm, so a
/// namespace of its own pid is another's, long gone (pids are reused).
fn delete_abandoned_queues() {
    let proc = Path::new("/proc");
    if !proc.join("self").exists() {
        // No way to tell a live process from a gone one here.
        return;
    }
    let Ok(out) = Command::new("rabbitmqctl")
        .args(["list_queues", "-q", "--no-table-headers", "name"])
        .output()
    else {
        return;
    };
    let namespaces: HashSet<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|queue| {
            let namespace = queue.trim().split('.').next()?;
            let pid: u32 = namespace
                .strip_prefix("test-")?
                .split('-')
                .next()?
                .parse()
                .ok()?;
            let gone = pid == std::process::id() || !proc.join(pid.to_string()).exists();
            gone.then(|| namespace.to_owned())
        })
        .collect();
    for namespace in namespaces {
        if let Err(e) = delete_queues(&namespace) {
            eprintln!("{e}");
        }
    }
}

/// Deletes every queue of a farm's namespace, as its transport names them: left behind, each
/// is a quorum queue the broker keeps running, and a few hundred slow it down for every test.
fn delete_queues(namespace: &str) -> Result<(), String> {
    use tessera_transport::{AmqpTransport, Broker, amqp::QueueNames};
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let deleted = runtime.block_on(async {
        let (broker, names) = (Broker::new(AMQP_URL), QueueNames::new(namespace));
        let delete = AmqpTransport::delete_namespace(&broker, &names);
        tokio::time::timeout(Duration::from_secs(30), delete).await
    });
    match deleted {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(format!("cannot delete the queues of {namespace}: {e}")),
        Err(_) => Err(format!(
            "cannot delete the queues of {namespace}: no answer within 30 s"
        )),
    }
}

/// Every channel of an EXR, by name.
pub fn exr_channels(path: &Path) -> Vec<(String, Vec<u32>)> {
    let image = exr::prelude::read_all_flat_layers_from_file(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut out = Vec::new();
    for layer in &image.layer_data {
        let layer_name = layer
            .attributes
            .layer_name
            .as_ref()
            .map(|n| n.to_string())
            .unwrap_or_default();
        for ch in &layer.channel_data.list {
            let bits = ch.sample_data.values_as_f32().map(f32::to_bits).collect();
            out.push((format!("{layer_name}.{}", ch.name), bits));
        }
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

/// Asserts two EXRs hold the same channels with bit-identical values.
pub fn assert_same_exr(a: &Path, b: &Path) {
    let (ca, cb) = (exr_channels(a), exr_channels(b));
    assert!(!ca.is_empty());
    assert_eq!(
        ca.iter().map(|c| &c.0).collect::<Vec<_>>(),
        cb.iter().map(|c| &c.0).collect::<Vec<_>>(),
        "channel names"
    );
    for ((name, va), (_, vb)) in ca.iter().zip(&cb) {
        assert!(
            va == vb,
            "channel {name} differs between {} and {}",
            a.display(),
            b.display()
        );
    }
}

/// Renders the job locally with `tessera render` into `dir`; returns the frame paths.
pub fn render_locally(dir: &Path, scene: &Path, options: &[&str], frames: &[u32]) -> Vec<PathBuf> {
    std::fs::create_dir_all(dir).unwrap();
    let mut command = Command::new(env!("CARGO_BIN_EXE_tessera"));
    command
        .arg("render")
        .arg(scene)
        .args(options)
        .arg("-o")
        .arg(dir.join("frame_####.exr"));
    let out = output_within(&mut command, CLIENT_LIMIT)
        .unwrap_or_else(|e| panic!("`tessera render {options:?}` {e}"));
    assert!(
        out.status.success(),
        "render: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    frames
        .iter()
        .map(|f| dir.join(format!("frame_{f:04}.exr")))
        .collect()
}

/// Checks the ledger invariants: one row per task, every field present, rows adding up to the
/// invoice total, and each charge recomputed from its work at the job's quoted CPU price.
pub fn check_bill(farm: &Farm, job: &str, tasks: u64) {
    let bill = farm.json(&["bill", job, "--format", "json"]);
    let quote = &farm.status(job)["quote"];
    let hourly = u128::from(quote["work_hour_prices"]["cpu"].as_u64().unwrap());
    let per_sample = quote["probe_seconds_per_sample"].as_f64().unwrap();
    let rows = bill["rows"].as_array().unwrap();
    assert_eq!(rows.len() as u64, tasks, "one ledger row per task");
    let unique: HashSet<i64> = rows.iter().map(|r| r["task"].as_i64().unwrap()).collect();
    assert_eq!(unique.len(), rows.len(), "no task has two ledger rows");
    let mut sum = 0i64;
    // The exact cost, in micro-dollars x 3.6e9: the rows carry what each falls short of a whole
    // micro-dollar to the next, so they add up to it rounded down.
    let mut exact: u128 = 0;
    for row in rows {
        assert!(
            row["worker"].as_str().is_some_and(|w| !w.is_empty()),
            "{row}"
        );
        assert_eq!(row["device_class"], "cpu", "{row}");
        assert!(row["seconds"].as_f64().is_some_and(|s| s > 0.0), "{row}");
        assert!(row["samples"].as_u64().is_some_and(|s| s > 0), "{row}");
        let samples = row["samples"].as_u64().unwrap();
        let micros = u128::from(row["work_micros"].as_u64().unwrap());
        assert_eq!(
            micros,
            (samples as f64 * per_sample * 1e6).round() as u128,
            "{row}"
        );
        assert_eq!(
            row["hourly_micros"].as_u64().unwrap() as u128,
            hourly,
            "{row}"
        );
        exact += hourly * micros;
        sum += row["charge_micros"].as_i64().unwrap();
    }
    assert_eq!(
        sum as u128,
        exact / 3_600_000_000,
        "charges add up to the exact cost"
    );
    assert_eq!(
        bill["total_micros"].as_i64().unwrap(),
        sum,
        "rows add up to the total"
    );
}

/// A schema of its own in the test PostgreSQL (`TESSERA_TEST_POSTGRES`, else 127.0.0.1:5432 as
/// user postgres), dropped with this.
pub struct PostgresScratch {
    server: String,
    schema: String,
}

impl PostgresScratch {
    pub fn new(test: &str) -> Self {
        let server = std::env::var("TESSERA_TEST_POSTGRES")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
        let schema = format!("tessera_{test}_{}", std::process::id());
        let mut admin = postgres::Client::connect(&server, postgres::NoTls).unwrap_or_else(|e| {
            panic!(
                "this test needs PostgreSQL ({e}); .ci/run starts it, and \
                 TESSERA_TEST_POSTGRES names another server"
            )
        });
        admin
            .batch_execute(&format!(
                "DROP SCHEMA IF EXISTS {schema} CASCADE; CREATE SCHEMA {schema}"
            ))
            .unwrap();
        PostgresScratch { server, schema }
    }

    /// The server's URL, without the schema.
    pub fn server(&self) -> &str {
        &self.server
    }

    /// Ends the session holding this schema's active-coordinator lock, as the server does when
    /// keepalives find that session's host gone; returns how many it ended.
    pub fn end_active_session(&self) -> i64 {
        let mut admin = postgres::Client::connect(&self.server, postgres::NoTls).unwrap();
        admin
            .query_one(
                "SELECT COUNT(pg_terminate_backend(l.pid)) FROM pg_locks l,
                     (SELECT hashtextextended('tessera active coordinator ' || $1, 0) AS k) key
                 WHERE l.locktype = 'advisory' AND l.granted
                   AND l.classid::bigint = (key.k >> 32) & 4294967295
                   AND l.objid::bigint = key.k & 4294967295",
                &[&self.schema],
            )
            .unwrap()
            .get(0)
    }

    /// The URL a coordinator is given: the server, with the schema first on the search path.
    pub fn url(&self) -> String {
        let joint = if self.server.contains('?') { '&' } else { '?' };
        format!(
            "{}{joint}options=-c%20search_path%3D{}",
            self.server, self.schema
        )
    }
}

impl Drop for PostgresScratch {
    fn drop(&mut self) {
        if let Ok(mut admin) = postgres::Client::connect(&self.server, postgres::NoTls) {
            let _ = admin.batch_execute(&format!("DROP SCHEMA IF EXISTS {} CASCADE", self.schema));
        }
    }
}

/// The median of `v` (the upper one of an even count), for the benchmarks' rounds.
pub fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}
