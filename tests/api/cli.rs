//! The command line as the contract describes it, through the real binary: `check-config`,
//! `manifest`, `healthcheck`, `serve` start-up failures and shutdown, usage errors, and what
//! reaches the log.
//!
//! Every run starts from an empty environment (`PATH` only) plus what the test sets, so the
//! machine's own variables cannot change the outcome.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};
use tempfile::TempDir;

/// 32 bytes, base64, as `openssl rand -base64 32` prints them.
const SEAL_KEY: &str = "A12iiBF9pMoWv7hekO25xBFTN8N5lYvap7bf8IYAKsg=";

/// Bound on any one run of the binary, and on waiting for a server to answer. Generous because
/// the machine is shared with other builds and tests.
const WAIT: Duration = Duration::from_secs(15);

fn repo_root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The binary with an empty environment but `PATH`, run from the repository root (so it finds
/// `config/default.toml`, the demo provider on).
fn broker(args: &[&str], env: &[(&str, &str)]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_oauth-broker"));
    command
        .args(args)
        .current_dir(repo_root())
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .envs(env.iter().copied());
    command
}

struct Outcome {
    status: ExitStatus,
    stdout: String,
    stderr: String,
}

impl Outcome {
    fn code(&self) -> Option<i32> {
        self.status.code()
    }

    fn both(&self) -> String {
        format!("{}\n{}", self.stdout, self.stderr)
    }

    fn describe(&self) -> String {
        format!(
            "status {:?}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.status, self.stdout, self.stderr
        )
    }
}

/// Runs to completion (bounded by `WAIT`; killed and failed beyond it), output captured in
/// files so a chatty child cannot block on a full pipe.
fn run(mut command: Command) -> Outcome {
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

fn free_addr() -> SocketAddr {
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
fn lines(text: &str) -> Vec<&str> {
    text.lines().filter(|l| !l.trim().is_empty()).collect()
}

fn demo_client_secret() -> String {
    let text = std::fs::read_to_string(repo_root().join("config/default.toml")).unwrap();
    let table: toml::Table = toml::from_str(&text).unwrap();
    table["providers"]["demo"]["client_secret"]
        .as_str()
        .expect("config/default.toml has the demo client secret")
        .to_owned()
}

/// `serve` running in the background; killed (SIGKILL) on drop, so a failing test leaves
/// nothing behind. Its stderr goes to a file to read afterwards.
struct RunningBroker {
    child: Option<Child>,
    addr: SocketAddr,
    env: Vec<(String, String)>,
    log: PathBuf,
    _dir: TempDir,
}

impl RunningBroker {
    /// Starts `serve` on a free port with metrics off, plus `env`.
    fn spawn(env: &[(&str, &str)]) -> Self {
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
    fn healthcheck(&self) -> Outcome {
        let pairs: Vec<(&str, &str)> = self
            .env
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        run(broker(&["healthcheck"], &pairs))
    }

    /// Polls `healthcheck` until it passes (bounded by `WAIT`).
    fn wait_until_healthy(&mut self) {
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
    fn terminate(&mut self, within: Duration) -> (Option<ExitStatus>, Duration) {
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

    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for RunningBroker {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A plain HTTP/1.1 GET; the status code.
fn http_get_status(addr: SocketAddr, path: &str) -> u16 {
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

// ---------------------------------------------------------------------------------------------
// check-config
// ---------------------------------------------------------------------------------------------

#[test]
fn check_config_prints_effective_settings_as_toml_and_exits_0() {
    let outcome = run(broker(
        &["check-config"],
        &[("BROKER__SESSIONS__HEARTBEAT_SECS", "7")],
    ));
    assert_eq!(outcome.code(), Some(0), "{}", outcome.describe());
    let printed: toml::Table = toml::from_str(&outcome.stdout)
        .unwrap_or_else(|e| panic!("stdout is not TOML ({e}):\n{}", outcome.stdout));
    assert_eq!(printed["sessions"]["heartbeat_secs"].as_integer(), Some(7));
    assert_eq!(
        printed["server"]["bind"].as_str(),
        Some("127.0.0.1:8080"),
        "from config/default.toml"
    );
    assert_eq!(
        printed["providers"]["demo"]["preset"].as_str(),
        Some("demo")
    );
}

#[test]
fn check_config_redacts_every_secret() {
    let spotify_secret = "spotify-secret-4f9a1c";
    let redis_password = "redis-password-77b2e0";
    let redis_url = format!("redis://:{redis_password}@127.0.0.1:6379/0");
    let outcome = run(broker(
        &["check-config"],
        &[
            ("SPOTIFY_CLIENT_ID", "spotify-id"),
            ("SPOTIFY_CLIENT_SECRET", spotify_secret),
            ("REDIS_URL", &redis_url),
            ("BROKER__SECRETS__SEAL_KEY", SEAL_KEY),
        ],
    ));
    assert_eq!(outcome.code(), Some(0), "{}", outcome.describe());
    let printed: toml::Table = toml::from_str(&outcome.stdout).unwrap();
    assert_eq!(
        printed["providers"]["spotify"]["client_secret"].as_str(),
        Some("[redacted]")
    );
    assert_eq!(
        printed["providers"]["demo"]["client_secret"].as_str(),
        Some("[redacted]")
    );
    assert_eq!(printed["secrets"]["seal_key"].as_str(), Some("[redacted]"));
    let shown_redis = printed["store"]["redis_url"].as_str().unwrap();
    assert!(shown_redis.contains("127.0.0.1:6379"), "{shown_redis}");
    let both = outcome.both();
    for secret in [
        spotify_secret,
        redis_password,
        SEAL_KEY,
        &demo_client_secret(),
    ] {
        assert!(!both.contains(secret), "{secret:?} printed:\n{both}");
    }
}

#[test]
fn check_config_lists_every_problem_one_per_line_and_exits_1() {
    let outcome = run(broker(
        &["check-config"],
        &[
            ("BROKER__SERVER__BIND", "not-an-address"),
            ("BROKER__SERVER__TRUSTED_PROXIES", "10.0.0.0/33"),
            ("BROKER__SESSIONS__IDLE_TIMEOUT_SECS", "5"),
        ],
    ));
    assert_eq!(outcome.code(), Some(1), "{}", outcome.describe());
    let problems = lines(&outcome.stderr);
    assert_eq!(problems.len(), 3, "{}", outcome.describe());
    for line in &problems {
        assert!(line.starts_with("configuration: "), "{line:?}");
    }
    assert!(problems.iter().any(|l| l.contains("server.bind")));
    assert!(
        problems
            .iter()
            .any(|l| l.contains("server.trusted_proxies"))
    );
    assert!(
        problems
            .iter()
            .any(|l| l.contains("sessions.idle_timeout_secs"))
    );
    assert!(outcome.stdout.trim().is_empty(), "{}", outcome.describe());
}

#[test]
fn check_config_refuses_an_unknown_key_naming_it() {
    let outcome = run(broker(
        &["check-config"],
        &[("BROKER__SERVER__BND", "0.0.0.0:8080")],
    ));
    assert_eq!(outcome.code(), Some(1), "{}", outcome.describe());
    let problems = lines(&outcome.stderr);
    assert_eq!(problems.len(), 1, "{}", outcome.describe());
    assert!(
        problems[0].starts_with("configuration: "),
        "{}",
        problems[0]
    );
    assert!(problems[0].contains("bnd"), "{}", problems[0]);
}

#[test]
fn check_config_in_production_refuses_the_demo_and_a_missing_seal_key() {
    let outcome = run(broker(
        &["check-config"],
        &[
            ("BROKER_ENV", "production"),
            ("BROKER__PROVIDERS__DEMO__ENABLED", "true"),
        ],
    ));
    assert_eq!(outcome.code(), Some(1), "{}", outcome.describe());
    let problems = lines(&outcome.stderr);
    assert_eq!(problems.len(), 2, "{}", outcome.describe());
    assert!(
        problems
            .iter()
            .any(|l| l.contains("providers.demo") && l.contains("BROKER_ENV=production")),
        "{}",
        outcome.describe()
    );
    assert!(
        problems.iter().any(|l| l.contains("secrets.seal_key")),
        "{}",
        outcome.describe()
    );
}

#[test]
fn config_flag_adds_a_file_over_the_defaults() {
    let dir = tempfile::tempdir().unwrap();
    let extra = dir.path().join("extra.toml");
    std::fs::write(&extra, "[sessions]\nheartbeat_secs = 3\n").unwrap();
    let outcome = run(broker(
        &["check-config", "--config", extra.to_str().unwrap()],
        &[],
    ));
    assert_eq!(outcome.code(), Some(0), "{}", outcome.describe());
    let printed: toml::Table = toml::from_str(&outcome.stdout).unwrap();
    assert_eq!(printed["sessions"]["heartbeat_secs"].as_integer(), Some(3));
}

#[test]
fn config_flag_naming_a_missing_file_exits_1_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let mut command = broker(&["check-config", "--config", "missing.toml"], &[]);
    command.current_dir(dir.path());
    let outcome = run(command);
    assert_eq!(outcome.code(), Some(1), "{}", outcome.describe());
    assert!(
        outcome.stderr.contains("missing.toml"),
        "{}",
        outcome.describe()
    );
}

#[test]
fn runs_from_a_directory_holding_a_copy_of_config() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("config")).unwrap();
    std::fs::write(
        dir.path().join("config/default.toml"),
        "[server]\nbind = \"127.0.0.1:7777\"\n[providers.demo]\npreset = \"demo\"\nclient_id = \"id\"\nclient_secret = \"s\"\n",
    )
    .unwrap();
    let mut command = broker(&["check-config"], &[]);
    command.current_dir(dir.path());
    let outcome = run(command);
    assert_eq!(outcome.code(), Some(0), "{}", outcome.describe());
    let printed: toml::Table = toml::from_str(&outcome.stdout).unwrap();
    assert_eq!(printed["server"]["bind"].as_str(), Some("127.0.0.1:7777"));
}

// ---------------------------------------------------------------------------------------------
// manifest, --version, --help, usage errors
// ---------------------------------------------------------------------------------------------

#[test]
fn manifest_prints_the_trex_with_the_public_url() {
    let outcome = run(broker(
        &["manifest"],
        &[("BROKER__SERVER__PUBLIC_URL", "https://broker.example.com")],
    ));
    assert_eq!(outcome.code(), Some(0), "{}", outcome.describe());
    assert!(
        outcome.stdout.trim_start().starts_with("<?xml"),
        "{}",
        outcome.stdout
    );
    assert!(
        outcome
            .stdout
            .contains("<url>https://broker.example.com/</url>"),
        "{}",
        outcome.stdout
    );
    assert!(!outcome.stdout.contains("{{PUBLIC_URL}}"));
}

#[test]
fn manifest_keeps_a_path_prefix_without_doubling_the_slash() {
    let outcome = run(broker(
        &["manifest"],
        &[("BROKER__SERVER__PUBLIC_URL", "https://example.com/broker/")],
    ));
    assert_eq!(outcome.code(), Some(0), "{}", outcome.describe());
    assert!(
        outcome
            .stdout
            .contains("<url>https://example.com/broker/</url>"),
        "{}",
        outcome.stdout
    );
}

#[test]
fn version_flag_prints_the_version_and_exits_0() {
    let outcome = run(broker(&["--version"], &[]));
    assert_eq!(outcome.code(), Some(0), "{}", outcome.describe());
    assert!(
        outcome.stdout.contains(env!("CARGO_PKG_VERSION")),
        "{}",
        outcome.describe()
    );
}

#[test]
fn help_flag_lists_the_commands_and_exits_0() {
    let outcome = run(broker(&["--help"], &[]));
    assert_eq!(outcome.code(), Some(0), "{}", outcome.describe());
    for word in [
        "serve",
        "check-config",
        "manifest",
        "healthcheck",
        "--config",
    ] {
        assert!(outcome.stdout.contains(word), "{word}: {}", outcome.stdout);
    }
}

#[test]
fn unknown_subcommand_is_a_usage_error() {
    let outcome = run(broker(&["frobnicate"], &[]));
    assert_eq!(outcome.code(), Some(2), "{}", outcome.describe());
}

#[test]
fn unknown_flag_is_a_usage_error() {
    let outcome = run(broker(&["check-config", "--frobnicate"], &[]));
    assert_eq!(outcome.code(), Some(2), "{}", outcome.describe());
}

// ---------------------------------------------------------------------------------------------
// serve: start-up failures
// ---------------------------------------------------------------------------------------------

fn assert_one_plain_line(outcome: &Outcome) -> String {
    let lines = lines(&outcome.stderr);
    assert_eq!(lines.len(), 1, "{}", outcome.describe());
    for word in ["panicked", "backtrace", "RUST_BACKTRACE"] {
        assert!(!outcome.stderr.contains(word), "{}", outcome.describe());
    }
    lines[0].to_owned()
}

#[test]
fn serve_on_a_taken_port_prints_one_line_naming_server_bind_and_exits_1() {
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let outcome = run(broker(
        &["serve"],
        &[
            ("BROKER__SERVER__BIND", &addr),
            ("BROKER__SERVER__METRICS_BIND", ""),
        ],
    ));
    drop(taken);
    assert_eq!(outcome.code(), Some(1), "{}", outcome.describe());
    let line = assert_one_plain_line(&outcome);
    assert!(line.contains("server.bind"), "{line}");
    assert!(line.contains(&addr), "{line}");
}

#[test]
fn serve_on_a_taken_metrics_port_names_server_metrics_bind() {
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let outcome = run(broker(
        &["serve"],
        &[
            ("BROKER__SERVER__BIND", &free_addr().to_string()),
            ("BROKER__SERVER__METRICS_BIND", &addr),
        ],
    ));
    drop(taken);
    assert_eq!(outcome.code(), Some(1), "{}", outcome.describe());
    let failure = lines(&outcome.stderr)
        .into_iter()
        .find(|l| l.contains("cannot listen"))
        .unwrap_or_else(|| panic!("{}", outcome.describe()))
        .to_owned();
    assert!(failure.contains("server.metrics_bind"), "{failure}");
    assert!(
        !outcome.stderr.contains("panicked"),
        "{}",
        outcome.describe()
    );
}

#[test]
fn serve_with_a_bad_configuration_prints_one_configuration_line_and_exits_1() {
    let outcome = run(broker(
        &["serve"],
        &[
            ("BROKER__SERVER__BIND", &free_addr().to_string()),
            ("BROKER__SERVER__METRICS_BIND", ""),
            ("BROKER__SESSIONS__IDLE_TIMEOUT_SECS", "5"),
        ],
    ));
    assert_eq!(outcome.code(), Some(1), "{}", outcome.describe());
    let line = assert_one_plain_line(&outcome);
    assert!(line.contains("configuration: "), "{line}");
    assert!(line.contains("sessions.idle_timeout_secs"), "{line}");
}

#[test]
fn serve_with_an_unknown_key_prints_one_configuration_line_and_exits_1() {
    let outcome = run(broker(
        &["serve"],
        &[("BROKER__SERVER__BND", "127.0.0.1:0")],
    ));
    assert_eq!(outcome.code(), Some(1), "{}", outcome.describe());
    let line = assert_one_plain_line(&outcome);
    assert!(line.starts_with("configuration: "), "{line}");
    assert!(line.contains("bnd"), "{line}");
}

#[test]
fn serve_in_production_without_a_seal_key_refuses_to_start() {
    let outcome = run(broker(
        &["serve"],
        &[
            ("BROKER_ENV", "production"),
            ("BROKER__SERVER__BIND", &free_addr().to_string()),
            ("BROKER__SERVER__METRICS_BIND", ""),
            ("SPOTIFY_CLIENT_ID", "spotify-id"),
            ("SPOTIFY_CLIENT_SECRET", "spotify-secret"),
        ],
    ));
    assert_eq!(outcome.code(), Some(1), "{}", outcome.describe());
    let line = assert_one_plain_line(&outcome);
    assert!(line.contains("configuration: "), "{line}");
    assert!(line.contains("secrets.seal_key"), "{line}");
}

// ---------------------------------------------------------------------------------------------
// healthcheck and shutdown
// ---------------------------------------------------------------------------------------------

#[test]
fn healthcheck_passes_while_serving_and_fails_once_stopped() {
    let mut server = RunningBroker::spawn(&[]);
    server.wait_until_healthy();
    assert_eq!(http_get_status(server.addr, "/healthz"), 200);
    server.kill();
    let outcome = server.healthcheck();
    assert_eq!(outcome.code(), Some(1), "{}", outcome.describe());
    assert!(outcome.stderr.contains("healthz"), "{}", outcome.describe());
}

#[test]
fn healthcheck_without_a_server_exits_1() {
    let outcome = run(broker(
        &["healthcheck"],
        &[("BROKER__SERVER__BIND", &free_addr().to_string())],
    ));
    assert_eq!(outcome.code(), Some(1), "{}", outcome.describe());
    assert_eq!(lines(&outcome.stderr).len(), 1, "{}", outcome.describe());
}

#[test]
fn sigterm_stops_serve_with_exit_0_within_the_grace_period() {
    let grace = 4;
    let mut server =
        RunningBroker::spawn(&[("BROKER__SERVER__SHUTDOWN_GRACE_SECS", &grace.to_string())]);
    server.wait_until_healthy();
    let (status, took) = server.terminate(Duration::from_secs(grace));
    let status = status.unwrap_or_else(|| {
        panic!(
            "serve still running {grace} s after SIGTERM:\n{}",
            server.log()
        )
    });
    assert!(
        status.success(),
        "serve exited with {status:?} after {took:?}:\n{}",
        server.log()
    );
}

// ---------------------------------------------------------------------------------------------
// Logs
// ---------------------------------------------------------------------------------------------

#[test]
fn debug_logs_never_show_client_secrets_or_the_seal_key() {
    let spotify_secret = "spotify-secret-0c3d55";
    let mut server = RunningBroker::spawn(&[
        ("RUST_LOG", "debug"),
        ("BROKER__SECRETS__SEAL_KEY", SEAL_KEY),
        ("SPOTIFY_CLIENT_ID", "spotify-id"),
        ("SPOTIFY_CLIENT_SECRET", spotify_secret),
        ("BROKER__SERVER__SHUTDOWN_GRACE_SECS", "2"),
    ]);
    server.wait_until_healthy();
    assert_eq!(http_get_status(server.addr, "/signin/whatever"), 400);
    let (status, _) = server.terminate(WAIT);
    assert!(status.is_some_and(|s| s.success()), "{}", server.log());

    let log = server.log();
    assert!(
        log.contains("GET /signin/") && log.contains(" 400 "),
        "the request reached the log:\n{log}"
    );
    assert!(
        log.contains(" DEBUG "),
        "RUST_LOG=debug took effect:\n{log}"
    );
    // The ticket is a one-use credential too: the access log shows the route, not its value.
    for secret in [
        demo_client_secret().as_str(),
        SEAL_KEY,
        spotify_secret,
        "whatever",
    ] {
        assert!(!log.contains(secret), "{secret:?} in the log:\n{log}");
    }
}
