//! The command line as the contract describes it, through the real binary: `check-config`,
//! `manifest`, `healthcheck`, `serve` start-up failures and shutdown, usage errors, and what
//! reaches the log.
//!
//! Every run starts from an empty environment (`PATH` only) plus what the test sets, so the
//! machine's own variables cannot change the outcome.

mod check_config;
mod healthcheck_and_shutdown;
mod logs;
mod manifest_and_usage;
mod serve_startup_failures;

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};
use tempfile::TempDir;

/// 32 bytes, base64, as `openssl rand -base64 32` prints them.
pub(super) const SEAL_KEY: &str = "A12iiBF9pMoWv7hekO25xBFTN8N5lYvap7bf8IYAKsg=";

/// Bound on any one run of the binary, and on waiting for a server to answer. Generous because
/// the machine is shared with other builds and tests.
pub(super) const WAIT: Duration = Duration::from_secs(15);

fn repo_root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The binary with an empty environment but `PATH`, run from the repository root (so it finds
/// `config/default.toml`, the demo provider on).
pub(super) fn broker(args: &[&str], env: &[(&str, &str)]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_oauth-broker"));
    command
        .args(args)
        .current_dir(repo_root())
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .envs(env.iter().copied());
    command
}

pub(super) struct Outcome {
    pub(super) status: ExitStatus,
    pub(super) stdout: String,
    pub(super) stderr: String,
}

impl Outcome {
    pub(super) fn code(&self) -> Option<i32> {
        self.status.code()
    }

    pub(super) fn both(&self) -> String {
        format!("{}\n{}", self.stdout, self.stderr)
    }

    pub(super) fn describe(&self) -> String {
        format!(
            "status {:?}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.status, self.stdout, self.stderr
        )
    }
}

/// Runs to completion (bounded by `WAIT`; killed and failed beyond it), output captured in
/// files so a chatty child cannot block on a full pipe.
pub(super) fn run(mut command: Command) -> Outcome {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("stdout");
    let err = dir.path().join("stderr");
    let mut child = command
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out).unwrap())
        .stderr(std::fs::File::create(&err).unwrap())
        .spawn()
        .expect("the broker binary starts");
    let status = match wait_for_exit(&mut child, WAIT) {
        Some(status) => status,
        None => {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "the command did not finish within {WAIT:?}; stderr:\n{}",
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

fn wait_for_exit(child: &mut Child, within: Duration) -> Option<ExitStatus> {
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

pub(super) fn free_addr() -> SocketAddr {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
}

fn signal(pid: u32, sig: &str) {
    let status = Command::new("kill")
        .args([sig, &pid.to_string()])
        .status()
        .expect("kill runs");
    assert!(status.success(), "kill {sig} {pid} failed");
}

/// The lines of a stream that carry text.
pub(super) fn lines(text: &str) -> Vec<&str> {
    text.lines().filter(|l| !l.trim().is_empty()).collect()
}

pub(super) fn demo_client_secret() -> String {
    let text = std::fs::read_to_string(repo_root().join("config/default.toml")).unwrap();
    let table: toml::Table = toml::from_str(&text).unwrap();
    table["providers"]["demo"]["client_secret"]
        .as_str()
        .expect("config/default.toml has the demo client secret")
        .to_owned()
}

/// `serve` running in the background; killed (SIGKILL) on drop, so a failing test leaves
/// nothing behind. Its stderr goes to a file to read afterwards.
pub(super) struct RunningBroker {
    child: Option<Child>,
    pub(super) addr: SocketAddr,
    env: Vec<(String, String)>,
    log: PathBuf,
    _dir: TempDir,
}

impl RunningBroker {
    /// Starts `serve` on a free port with metrics off, plus `env`.
    pub(super) fn spawn(env: &[(&str, &str)]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let addr = free_addr();
        let mut all: Vec<(String, String)> = vec![
            ("BROKER__SERVER__BIND".into(), addr.to_string()),
            ("BROKER__SERVER__METRICS_BIND".into(), String::new()),
        ];
        all.extend(env.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())));
        let log = dir.path().join("stderr");
        let pairs: Vec<(&str, &str)> = all.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let child = broker(&["serve"], &pairs)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .expect("the broker binary starts");
        Self {
            child: Some(child),
            addr,
            env: all,
            log,
            _dir: dir,
        }
    }

    fn pid(&self) -> u32 {
        self.child.as_ref().expect("still running").id()
    }

    /// `oauth-broker healthcheck` with the same settings as the server.
    pub(super) fn healthcheck(&self) -> Outcome {
        let pairs: Vec<(&str, &str)> = self
            .env
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        run(broker(&["healthcheck"], &pairs))
    }

    /// Polls `healthcheck` until it passes (bounded by `WAIT`).
    pub(super) fn wait_until_healthy(&mut self) {
        let deadline = Instant::now() + WAIT;
        loop {
            if self.healthcheck().code() == Some(0) {
                return;
            }
            if let Some(status) = self.child.as_mut().unwrap().try_wait().unwrap() {
                panic!(
                    "serve exited with {status:?} before it was healthy:\n{}",
                    self.log()
                );
            }
            assert!(
                Instant::now() < deadline,
                "serve not healthy within {WAIT:?}:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// SIGTERM, then the exit status and how long it took (`None` if not within `within`).
    pub(super) fn terminate(&mut self, within: Duration) -> (Option<ExitStatus>, Duration) {
        let start = Instant::now();
        signal(self.pid(), "-TERM");
        let mut child = self.child.take().unwrap();
        let status = wait_for_exit(&mut child, within);
        let took = start.elapsed();
        if status.is_none() {
            let _ = child.kill();
            let _ = child.wait();
        }
        (status, took)
    }

    pub(super) fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    pub(super) fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for RunningBroker {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A plain HTTP/1.1 GET; the status code.
pub(super) fn http_get_status(addr: SocketAddr, path: &str) -> u16 {
    use std::io::{Read, Write};
    let mut stream = TcpStream::connect_timeout(&addr, WAIT).unwrap();
    stream.set_read_timeout(Some(WAIT)).unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut answer = String::new();
    let _ = stream.read_to_string(&mut answer);
    answer
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("not an HTTP answer: {answer:?}"))
}
