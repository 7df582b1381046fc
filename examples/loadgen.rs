//! The load generator of the benchmark kit: drives a running oauth-broker (or the Tableau
//! sample it is compared with) over real sockets, as many dashboard extensions would.
//!
//!     cargo run --release --example loadgen -- idle   --service broker --target 127.0.0.1:18080 --server-pid PID
//!     cargo run --release --example loadgen -- flows  --service broker --ws 127.0.0.1:18080 --pid broker=PID --pid mock=PID
//!     cargo run --release --example loadgen -- startup --target 127.0.0.1:18080 -- target/release/oauth-broker
//!     cargo run --release --example loadgen -- report results.jsonl
//!
//! `scripts/bench.sh` runs them all against both services; BENCHMARKS.md explains the figures.

#[path = "loadgen/extension.rs"]
mod extension;
#[path = "loadgen/flows.rs"]
mod flows;
#[path = "loadgen/idle.rs"]
mod idle;
#[path = "loadgen/net.rs"]
mod net;
#[path = "loadgen/procstat.rs"]
mod procstat;
#[path = "loadgen/report.rs"]
mod report;
#[path = "loadgen/startup.rs"]
mod startup;
#[path = "loadgen/stats.rs"]
mod stats;

use clap::{Parser, Subcommand};
use extension::Service;
use procstat::Watched;
use std::io::Write;
use std::net::SocketAddr;
use std::time::Duration;

#[derive(Parser)]
#[command(about = "Load generator for oauth-broker and the Tableau Socket.IO sample")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Open many sessions, answer pings, hold them; RSS per session.
    Idle {
        #[arg(long, value_enum)]
        service: Service,
        /// Where the service listens.
        #[arg(long)]
        target: SocketAddr,
        /// Sessions to open; default: this process's open-file limit less 100.
        #[arg(long)]
        sessions: Option<usize>,
        /// The service's process id (its RSS is read from /proc).
        #[arg(long)]
        server_pid: u32,
        /// More processes to report CPU for, as label=PID.
        #[arg(long = "pid", value_parser = Watched::parse)]
        pids: Vec<Watched>,
        /// Connections per source address (127.0.0.2 and up).
        #[arg(long, default_value_t = 1000)]
        per_address: usize,
        /// Handshakes in flight at once.
        #[arg(long, default_value_t = 128)]
        parallel: usize,
        /// RSS checkpoints while opening (the slope is fitted through them).
        #[arg(long, default_value_t = 5)]
        checkpoints: usize,
        #[arg(long, default_value_t = 1000)]
        settle_ms: u64,
        /// How long to hold every session once open (crosses heartbeats and ping intervals).
        #[arg(long, default_value_t = 30)]
        hold_secs: u64,
        #[arg(long)]
        label: Option<String>,
        #[arg(long)]
        json: Option<String>,
    },
    /// C users signing in again and again for a fixed time.
    Flows {
        #[arg(long, value_enum)]
        service: Service,
        /// Where the WebSockets go: one address, or several (comma-separated) replicas; user
        /// `u` connects to the `u mod n`-th.
        #[arg(long, required = true, value_delimiter = ',')]
        ws: Vec<SocketAddr>,
        /// Where /signin and /complete go; default: the same as --ws. User `u` sends them to
        /// the `(u + 1) mod n`-th, so with one list of several replicas every flow crosses from
        /// one replica to the next.
        #[arg(long, value_delimiter = ',')]
        http: Vec<SocketAddr>,
        /// Provider name in `begin` and /complete/{provider} (oauth-broker only).
        #[arg(long, default_value = "mock")]
        provider: String,
        #[arg(long, default_value_t = 64)]
        concurrency: usize,
        #[arg(long, default_value_t = 15)]
        duration_secs: u64,
        #[arg(long, default_value_t = 2)]
        warmup_secs: u64,
        #[arg(long, default_value_t = 5000)]
        step_timeout_ms: u64,
        #[arg(long, default_value_t = 1000)]
        per_address: usize,
        /// Processes to report CPU for, as label=PID (the service's, the mock provider's).
        #[arg(long = "pid", value_parser = Watched::parse)]
        pids: Vec<Watched>,
        /// Runtime threads of this generator.
        #[arg(long, default_value_t = 1)]
        threads: usize,
        #[arg(long)]
        label: Option<String>,
        #[arg(long)]
        json: Option<String>,
    },
    /// Spawn a command, time until a URL answers 200; repeat.
    Startup {
        #[arg(long)]
        target: SocketAddr,
        #[arg(long, default_value = "/readyz")]
        path: String,
        #[arg(long, default_value_t = 10)]
        runs: usize,
        #[arg(long, default_value = "oauth-broker")]
        label: String,
        #[arg(long)]
        json: Option<String>,
        /// The command (inherits the environment).
        #[arg(last = true, required = true)]
        command: Vec<String>,
    },
    /// Print a results file as Markdown tables with ratios and goals.
    Report { file: String },
}

fn runtime(threads: usize) -> tokio::runtime::Runtime {
    let mut builder = if threads <= 1 {
        tokio::runtime::Builder::new_current_thread()
    } else {
        let mut b = tokio::runtime::Builder::new_multi_thread();
        b.worker_threads(threads);
        b
    };
    builder.enable_all().build().expect("tokio runtime")
}

fn save(json: &Option<String>, value: &impl serde::Serialize) {
    if let Some(path) = json {
        let line = serde_json::to_string(value).expect("report serialises");
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .unwrap_or_else(|e| panic!("cannot write {path}: {e}"));
        writeln!(file, "{line}").expect("write results");
    }
}

fn main() {
    match Cli::parse().command {
        Command::Idle {
            service,
            target,
            sessions,
            server_pid,
            pids,
            per_address,
            parallel,
            checkpoints,
            settle_ms,
            hold_secs,
            label,
            json,
        } => {
            let (soft, hard) = procstat::open_file_limit();
            let sessions = sessions.unwrap_or(soft.saturating_sub(100) as usize);
            eprintln!(
                "idle: open-file limit of this process {soft} (hard {hard}); opening {sessions} sessions"
            );
            let args = idle::IdleArgs {
                service,
                label: label.unwrap_or_else(|| format!("{service:?}").to_lowercase()),
                target,
                sessions,
                server: Watched {
                    label: "server".into(),
                    pid: server_pid.to_string(),
                },
                others: pids,
                per_address,
                parallel,
                checkpoints,
                settle: Duration::from_millis(settle_ms),
                hold: Duration::from_secs(hold_secs),
            };
            let report = runtime(1).block_on(idle::run(args));
            println!("{report}");
            save(&json, &report);
        }
        Command::Flows {
            service,
            ws,
            http,
            provider,
            concurrency,
            duration_secs,
            warmup_secs,
            step_timeout_ms,
            per_address,
            pids,
            threads,
            label,
            json,
        } => {
            let args = flows::FlowArgs {
                service,
                label: label.unwrap_or_else(|| format!("{service:?}").to_lowercase()),
                http_targets: if http.is_empty() { ws.clone() } else { http },
                ws_targets: ws,
                provider,
                concurrency,
                warmup: Duration::from_secs(warmup_secs),
                duration: Duration::from_secs(duration_secs),
                step_timeout: Duration::from_millis(step_timeout_ms),
                per_address,
                watched: pids,
                threads,
            };
            let report = runtime(threads).block_on(flows::run(args));
            println!("{report}");
            save(&json, &report);
        }
        Command::Startup {
            target,
            path,
            runs,
            label,
            json,
            command,
        } => {
            let report = startup::run(startup::StartupArgs {
                label,
                target,
                path,
                runs,
                command,
            });
            println!("{report}");
            save(&json, &report);
        }
        Command::Report { file } => match report::run(&file) {
            Ok(text) => print!("{text}"),
            Err(e) => {
                eprintln!("{e}");
                std::process::exit(1);
            }
        },
    }
}
