//! `startup`: from spawning the service to its first `200` on a URL (`/readyz`), several times.
//! The command inherits this process's environment; it is killed (SIGKILL) after each run.

use super::stats::{Percentiles, Samples};
use serde::Serialize;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

pub struct StartupArgs {
    pub label: String,
    pub target: SocketAddr,
    pub path: String,
    pub runs: usize,
    pub command: Vec<String>,
}

#[derive(Serialize)]
pub struct StartupReport {
    pub scenario: &'static str,
    pub label: String,
    pub path: String,
    pub runs: usize,
    pub failed: usize,
    pub ready: Percentiles,
}

pub fn run(args: StartupArgs) -> StartupReport {
    let mut samples = Samples::default();
    let mut failed = 0;
    for _ in 0..args.runs {
        // The previous run's listener must be gone before timing the next one.
        let free_by = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect_timeout(&args.target, Duration::from_millis(50)).is_ok() {
            if Instant::now() > free_by {
                eprintln!("{} is taken by another process; stop it first", args.target);
                std::process::exit(1);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let started = Instant::now();
        let mut child = match Command::new(&args.command[0])
            .args(&args.command[1..])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
        {
            Ok(c) => c,
            Err(e) => {
                eprintln!("cannot start {:?}: {e}", args.command);
                failed += 1;
                continue;
            }
        };
        let deadline = started + Duration::from_secs(10);
        let mut ready = false;
        while Instant::now() < deadline {
            if status(args.target, &args.path) == Some(200) {
                ready = true;
                break;
            }
            if let Ok(Some(_)) = child.try_wait() {
                break;
            }
            std::thread::sleep(Duration::from_micros(200));
        }
        if ready {
            samples.record(started.elapsed());
        } else {
            failed += 1;
        }
        let _ = child.kill();
        let _ = child.wait();
        std::thread::sleep(Duration::from_millis(100));
    }
    StartupReport {
        scenario: "startup",
        label: args.label,
        path: args.path,
        runs: args.runs,
        failed,
        ready: samples.summary(),
    }
}

fn status(target: SocketAddr, path: &str) -> Option<u16> {
    let mut stream = TcpStream::connect_timeout(&target, Duration::from_millis(100)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(1))).ok()?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {target}\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut head = [0u8; 64];
    let n = stream.read(&mut head).ok()?;
    let line = std::str::from_utf8(&head[..n]).ok()?;
    line.split_whitespace().nth(1)?.parse().ok()
}

impl std::fmt::Display for StartupReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "startup {}: spawn → {} 200: {} ({} of {} runs failed)",
            self.label, self.path, self.ready, self.failed, self.runs
        )
    }
}
