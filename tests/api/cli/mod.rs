//! The command line as the contract describes it, through the real binary: `check-config`,
//! `manifest`, `healthcheck`, `serve` start-up failures and shutdown, usage errors, and what
//! reaches the log.
//!
//! Every run starts from an empty environment (`PATH` only) plus what the test sets, so the
//! machine's own variables cannot change the outcome.

mod check_config;
mod healthcheck_and_shutdown;
mod local_seal_key;
mod logs;
mod manifest_and_usage;
mod public_defaults;
mod serve_startup_failures;
mod tableau_library;

pub(super) use crate::helpers::SEAL_KEY;
pub(super) use crate::helpers::processes::{Outcome, free_addr};

use crate::helpers::processes::{self, Replica, broker_command, http_status_within};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Command, ExitStatus};
use std::time::{Duration, Instant};

/// Bound on any one run of the binary, and on waiting for a server to answer. Generous because
/// the machine is shared with other builds and tests.
pub(super) const WAIT: Duration = Duration::from_secs(15);

fn repo_root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The binary with an empty environment but `PATH`, run from the repository root (so it finds
/// `config/default.toml`, the demo provider on), plus `env`.
pub(super) fn broker(args: &[&str], env: &[(&str, &str)]) -> Command {
    let mut command = broker_command(args);
    command.envs(env.iter().copied());
    command
}

/// Runs to completion, bounded by `WAIT`.
pub(super) fn run(command: Command) -> Outcome {
    processes::run(command, WAIT)
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

/// `serve` running in the background, a `Replica` started with `serve` and this environment
/// only: killed (SIGKILL) on drop, so a failing test leaves nothing behind; its stderr goes to a
/// file to read afterwards.
pub(super) struct RunningBroker {
    process: Replica,
    pub(super) addr: SocketAddr,
    env: Vec<(String, String)>,
}

impl RunningBroker {
    /// Starts `serve` on a free port with metrics off, plus `env`.
    pub(super) fn spawn(env: &[(&str, &str)]) -> Self {
        let addr = free_addr();
        let mut all: Vec<(String, String)> = vec![
            ("BROKER__SERVER__BIND".into(), addr.to_string()),
            ("BROKER__SERVER__METRICS_BIND".into(), String::new()),
        ];
        all.extend(env.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())));
        let pairs: Vec<(&str, &str)> = all.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let process = Replica::run(broker(&["serve"], &pairs), addr.port());
        Self {
            process,
            addr,
            env: all,
        }
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
            if let Some(status) = self.process.exited() {
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
        let status = self.process.terminate(within);
        (status, start.elapsed())
    }

    pub(super) fn kill(&mut self) {
        self.process.kill();
    }

    pub(super) fn log(&self) -> String {
        self.process.log()
    }
}

/// A plain HTTP/1.1 GET; the status code.
pub(super) fn http_get_status(addr: SocketAddr, path: &str) -> u16 {
    http_status_within(&format!("http://{addr}{path}"), WAIT)
        .unwrap_or_else(|| panic!("no HTTP answer to GET {path} from {addr}"))
}
