//! Real processes: a `redis-server` on a free port, broker replicas started from the built
//! binary, and what tests need to run, signal and poll any child process. Each server is killed
//! when its guard drops, so a failing test leaves nothing running.

use super::WAIT;
use std::collections::HashMap;
use std::net::{SocketAddr, TcpListener};
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// An address on 127.0.0.1 that was free a moment ago (another process may take it first).
pub fn free_addr() -> SocketAddr {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
}

pub fn free_port() -> u16 {
    free_addr().port()
}

pub struct RedisServer {
    child: Child,
    url: String,
    _dir: tempfile::TempDir,
}

impl RedisServer {
    pub fn start() -> RedisServer {
        let port = free_port();
        Self::start_with(port, format!("redis://127.0.0.1:{port}/"), |_| {
            vec!["--port".into(), port.to_string()]
        })
    }

    /// A `redis-server` on `port` with `args(dir)` besides the common ones; `url` is how the
    /// broker is to reach it.
    pub fn start_with(
        port: u16,
        url: String,
        args: impl FnOnce(&std::path::Path) -> Vec<String>,
    ) -> RedisServer {
        Self::start_raw(port, url, |dir| {
            let mut all: Vec<String> = ["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
                .map(String::from)
                .into();
            all.extend(["--dir".into(), dir.to_str().unwrap().into()]);
            all.extend(args(dir));
            all
        })
    }

    /// A `redis-server` with exactly `args(dir)` (a Sentinel takes its config file first).
    pub fn start_raw(
        port: u16,
        url: String,
        args: impl FnOnce(&std::path::Path) -> Vec<String>,
    ) -> RedisServer {
        let dir = tempfile::tempdir().unwrap();
        let all = args(dir.path());
        let child = Command::new("redis-server")
            .args(&all)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server is installed (scripts/install-test-deps.sh)");
        let server = RedisServer {
            child,
            url,
            _dir: dir,
        };
        wait_until("redis-server accepts connections", || {
            std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
        });
        server
    }

    pub fn url(&self) -> String {
        self.url.clone()
    }

    pub fn pause(&self) {
        signal(self.child.id(), "-STOP");
    }

    pub fn resume(&self) {
        signal(self.child.id(), "-CONT");
    }

    /// SIGKILL: gone without a word, as a crashed server is.
    pub fn crash(&self) {
        signal(self.child.id(), "-KILL");
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        signal(self.child.id(), "-CONT");
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `kill SIG PID`; whether the signal was sent.
pub fn signal(pid: u32, sig: &str) -> bool {
    Command::new("kill")
        .args([sig, &pid.to_string()])
        .status()
        .is_ok_and(|status| status.success())
}

/// Waits (bounded) for `child` to exit: its status, or `None` if it still runs after `within`.
pub fn wait_for_exit(child: &mut Child, within: Duration) -> Option<ExitStatus> {
    let deadline = Instant::now() + within;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return Some(status);
        }
        if Instant::now() >= deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// How a command run to completion ended: its status and what it printed.
pub struct Outcome {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

impl Outcome {
    pub fn code(&self) -> Option<i32> {
        self.status.code()
    }

    pub fn both(&self) -> String {
        format!("{}\n{}", self.stdout, self.stderr)
    }

    pub fn describe(&self) -> String {
        format!(
            "status {:?}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.status, self.stdout, self.stderr
        )
    }
}

/// Runs `command` to completion, bounded by `within` (killed, and the test failed, beyond it),
/// its output captured in files so a chatty child cannot block on a full pipe.
pub fn run(mut command: Command, within: Duration) -> Outcome {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("stdout");
    let err = dir.path().join("stderr");
    let mut child = command
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out).unwrap())
        .stderr(std::fs::File::create(&err).unwrap())
        .spawn()
        .expect("the command starts");
    let status = match wait_for_exit(&mut child, within) {
        Some(status) => status,
        None => {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "the command did not finish within {within:?}; stderr:\n{}",
                std::fs::read_to_string(&err).unwrap_or_default()
            );
        }
    };
    Outcome {
        status,
        stdout: std::fs::read_to_string(&out).unwrap(),
        stderr: std::fs::read_to_string(&err).unwrap(),
    }
}

/// The broker binary with an empty environment but `PATH` (so the machine's own variables cannot
/// change what a test sees), run from the repository root (so it finds `config/`).
pub fn broker_command(args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_oauth-broker"));
    command
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default());
    command
}

/// A broker replica: the real binary, configured through the environment only.
pub struct Replica {
    child: Option<Child>,
    pub base: String,
    pub port: u16,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

impl Replica {
    /// Starts a replica and waits for `/readyz`.
    pub fn start(env: &HashMap<String, String>) -> Replica {
        let replica = Self::spawn(env);
        let url = format!("{}/readyz", replica.base);
        wait_until("the replica is ready", || http_status(&url) == Some(200));
        replica
    }

    /// Starts a replica without waiting for it.
    pub fn spawn(env: &HashMap<String, String>) -> Replica {
        Self::spawn_on(free_port(), env)
    }

    /// Starts `command`, a broker set to listen on `port`, with its stderr in a log file.
    pub fn run(mut command: Command, port: u16) -> Replica {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("broker.log");
        let log_file = std::fs::File::create(&log).unwrap();
        let child = command
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log_file)
            .spawn()
            .expect("the broker binary starts");
        Replica {
            child: Some(child),
            base: format!("http://127.0.0.1:{port}"),
            port,
            log,
            _dir: dir,
        }
    }

    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    pub fn ws_url(&self) -> String {
        format!("ws://127.0.0.1:{}/ws", self.port)
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().unwrap().id()
    }

    /// SIGKILL: no goodbye, no close frames, no cleanup.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// SIGTERM, then waits (bounded) for the exit status; killed if it has none by then.
    pub fn terminate(&mut self, within: Duration) -> Option<ExitStatus> {
        let mut child = self.child.take()?;
        assert!(
            signal(child.id(), "-TERM"),
            "kill -TERM {} failed",
            child.id()
        );
        let status = wait_for_exit(&mut child, within);
        if status.is_none() {
            let _ = child.kill();
            let _ = child.wait();
        }
        status
    }

    /// Waits (bounded) for the process to exit by itself, after a signal sent elsewhere.
    pub fn wait_exit(&mut self, within: Duration) -> Option<ExitStatus> {
        let status = wait_for_exit(self.child.as_mut()?, within)?;
        self.child = None;
        Some(status)
    }

    /// Its exit status if it has exited by now (without waiting).
    pub fn exited(&mut self) -> Option<ExitStatus> {
        self.child.as_mut()?.try_wait().unwrap()
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Replica {
    fn drop(&mut self) {
        self.kill();
        // For a failure that shows only now and then: KEEP_BROKER_LOGS=DIR keeps every
        // replica's log there, as broker-PORT.log.
        if let Ok(dir) = std::env::var("KEEP_BROKER_LOGS") {
            let _ = std::fs::copy(&self.log, format!("{dir}/broker-{}.log", self.port));
        }
    }
}

/// A URL the broker built under its public address, sent to this replica's real address instead
/// (as a load balancer in front of the replicas would).
pub fn on(replica: &Replica, url: &str) -> String {
    let parsed = url::Url::parse(url).unwrap();
    let query = parsed.query().map(|q| format!("?{q}")).unwrap_or_default();
    format!("{}{}{query}", replica.base, parsed.path())
}

/// A bare HTTP GET status, without an async runtime (for polling from set-up code).
pub fn http_status(url: &str) -> Option<u16> {
    http_status_within(url, Duration::from_secs(2))
}

/// `http_status`, connecting and reading each bounded by `within`.
pub fn http_status_within(url: &str, within: Duration) -> Option<u16> {
    use std::io::{Read, Write};
    use std::net::ToSocketAddrs;
    let rest = url.strip_prefix("http://")?;
    let (host, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let addr = host.to_socket_addrs().ok()?.next()?;
    let mut stream = std::net::TcpStream::connect_timeout(&addr, within).ok()?;
    stream.set_read_timeout(Some(within)).ok()?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut head = [0u8; 32];
    let n = stream.read(&mut head).ok()?;
    String::from_utf8_lossy(&head[..n])
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

pub fn wait_until(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + WAIT;
    while Instant::now() < deadline {
        if check() {
            return;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    panic!("timed out waiting until {what}");
}

impl Replica {
    /// Like `start`, on a port the caller chose, so a restarted replica comes back at the same
    /// address (the extension page reconnects to it by itself).
    pub fn start_on(port: u16, env: &HashMap<String, String>) -> Replica {
        let replica = Self::spawn_on(port, env);
        let url = format!("{}/readyz", replica.base);
        wait_until("the replica is ready", || http_status(&url) == Some(200));
        replica
    }

    /// Like `start_on`, without waiting for `/readyz`.
    pub fn spawn_on(port: u16, env: &HashMap<String, String>) -> Replica {
        let mut command = broker_command(&[]);
        command
            .env("RUST_LOG", "info")
            .env("BROKER__SERVER__METRICS_BIND", "")
            .envs(env)
            .env("BROKER__SERVER__BIND", format!("127.0.0.1:{port}"));
        Self::run(command, port)
    }
}
