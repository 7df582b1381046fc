//! Real processes for the scale-out tests: a `redis-server` on a free port and broker replicas
//! started from the built binary. Each is killed when its guard drops, so a failing test leaves
//! nothing running.

use super::WAIT;
use std::collections::HashMap;
use std::net::{SocketAddr, TcpListener};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub struct RedisServer {
    child: Child,
    pub port: u16,
    _dir: tempfile::TempDir,
}

impl RedisServer {
    pub fn start() -> RedisServer {
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let child = Command::new("redis-server")
            .args([
                "--port",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                dir.path().to_str().unwrap(),
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server is installed (scripts/install-test-deps.sh)");
        let server = RedisServer {
            child,
            port,
            _dir: dir,
        };
        wait_until("redis-server accepts connections", || {
            std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
        });
        server
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    pub fn pause(&self) {
        signal(self.child.id(), "-STOP");
    }

    pub fn resume(&self) {
        signal(self.child.id(), "-CONT");
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        signal(self.child.id(), "-CONT");
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn signal(pid: u32, sig: &str) {
    let _ = Command::new("kill").args([sig, &pid.to_string()]).status();
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
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let log = dir.path().join("broker.log");
        let log_file = std::fs::File::create(&log).unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_oauth-broker"))
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("RUST_LOG", "info")
            .env("BROKER__SERVER__BIND", format!("127.0.0.1:{port}"))
            .env("BROKER__SERVER__METRICS_BIND", "")
            .envs(env)
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

    /// SIGTERM, then waits (bounded) for the exit status.
    pub fn terminate(&mut self, within: Duration) -> Option<std::process::ExitStatus> {
        let mut child = self.child.take()?;
        signal(child.id(), "-TERM");
        let deadline = Instant::now() + within;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = child.try_wait() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = child.kill();
        let _ = child.wait();
        None
    }

    /// Waits (bounded) for the process to exit by itself, after a signal sent elsewhere.
    pub fn wait_exit(&mut self, within: Duration) -> Option<std::process::ExitStatus> {
        let child = self.child.as_mut()?;
        let deadline = Instant::now() + within;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = child.try_wait() {
                self.child = None;
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Replica {
    fn drop(&mut self) {
        self.kill();
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
    use std::io::{Read, Write};
    let rest = url.strip_prefix("http://")?;
    let (host, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let mut stream = std::net::TcpStream::connect(host).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
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
        let mut env = env.clone();
        env.insert("BROKER__SERVER__BIND".into(), format!("127.0.0.1:{port}"));
        let mut replica = Self::spawn(&env);
        replica.port = port;
        replica.base = format!("http://127.0.0.1:{port}");
        replica
    }
}
