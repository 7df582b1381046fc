//! `idle`: open many sessions, answer pings, hold them; how many stay open, and what each costs
//! the service in resident memory (a slope over several checkpoints, not one difference).

use super::extension::{Extension, Service};
use super::net::source_address;
use super::procstat::{self, CpuWindow, Watched};
use super::stats::{Errors, slope};
use serde::Serialize;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::Semaphore;

pub struct IdleArgs {
    pub service: Service,
    pub label: String,
    pub target: SocketAddr,
    pub sessions: usize,
    pub server: Watched,
    pub others: Vec<Watched>,
    pub per_address: usize,
    pub parallel: usize,
    pub checkpoints: usize,
    pub settle: Duration,
    pub hold: Duration,
}

#[derive(Serialize)]
pub struct IdleReport {
    pub scenario: &'static str,
    pub service: Service,
    pub label: String,
    pub requested: usize,
    pub opened: usize,
    pub open_after_hold: usize,
    pub hold_s: f64,
    pub open_seconds: f64,
    pub failures: Errors,
    pub closes: Errors,
    pub rss_before_kib: u64,
    pub rss_after_open_kib: u64,
    pub rss_after_hold_kib: u64,
    /// (sessions open, RSS KiB) at each checkpoint.
    pub checkpoints: Vec<(usize, u64)>,
    /// Least-squares slope of RSS over open sessions, KiB per session.
    pub slope_kib_per_session: f64,
    /// (RSS after opening - before) / opened.
    pub mean_kib_per_session: f64,
    /// CPU while holding (heartbeats only).
    pub hold_cpu: procstat::CpuReport,
    pub loadgen_rss_kib: u64,
}

struct Shared {
    opened: AtomicUsize,
    done: AtomicUsize,
    closed: AtomicUsize,
    failures: Mutex<Errors>,
    closes: Mutex<Errors>,
}

pub async fn run(args: IdleArgs) -> IdleReport {
    let rss = |w: &Watched| procstat::rss_kib(&w.pid).unwrap_or(0);
    let shared = Arc::new(Shared {
        opened: AtomicUsize::new(0),
        done: AtomicUsize::new(0),
        closed: AtomicUsize::new(0),
        failures: Mutex::default(),
        closes: Mutex::default(),
    });
    let permits = Arc::new(Semaphore::new(args.parallel.max(1)));
    let rss_before = rss(&args.server);
    let mut checkpoints = vec![(0usize, rss_before)];
    let started = Instant::now();
    let batches = args.checkpoints.max(1);
    let mut launched = 0;
    for batch in 1..=batches {
        let until = args.sessions * batch / batches;
        for i in launched..until {
            let shared = shared.clone();
            let permits = permits.clone();
            let source = source_address(i, args.per_address);
            let (service, target) = (args.service, args.target);
            tokio::spawn(async move {
                let permit = permits.acquire_owned().await.expect("never closed");
                let ext = tokio::time::timeout(
                    Duration::from_secs(10),
                    Extension::open(service, source, target),
                )
                .await
                .unwrap_or_else(|_| Err("open_timeout".into()));
                drop(permit);
                match ext {
                    Ok(ext) => {
                        shared.opened.fetch_add(1, Ordering::SeqCst);
                        shared.done.fetch_add(1, Ordering::SeqCst);
                        let why = ext.hold().await;
                        shared.closed.fetch_add(1, Ordering::SeqCst);
                        shared.closes.lock().unwrap().count(why);
                    }
                    Err(kind) => {
                        shared.failures.lock().unwrap().count(kind);
                        shared.done.fetch_add(1, Ordering::SeqCst);
                    }
                }
            });
        }
        launched = until;
        while shared.done.load(Ordering::SeqCst) < launched {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        tokio::time::sleep(args.settle).await;
        let open = shared.opened.load(Ordering::SeqCst) - shared.closed.load(Ordering::SeqCst);
        let now = rss(&args.server);
        eprintln!(
            "  {}: {open} open after {:.1} s, RSS {now} KiB",
            args.label,
            started.elapsed().as_secs_f64()
        );
        checkpoints.push((open, now));
    }
    let open_seconds = started.elapsed().as_secs_f64();
    let rss_after_open = checkpoints.last().map_or(0, |c| c.1);

    let mut watched = vec![args.server.clone(), Watched::this_process()];
    watched.extend(args.others.iter().cloned());
    let cpu = CpuWindow::start(&watched);
    tokio::time::sleep(args.hold).await;
    let hold_cpu = cpu.finish();
    let opened = shared.opened.load(Ordering::SeqCst);
    let open_after_hold = opened - shared.closed.load(Ordering::SeqCst);
    let points: Vec<(f64, f64)> = checkpoints
        .iter()
        .map(|&(n, kib)| (n as f64, kib as f64))
        .collect();
    let failures = shared.failures.lock().unwrap().clone();
    let closes = shared.closes.lock().unwrap().clone();
    IdleReport {
        scenario: "idle",
        service: args.service,
        label: args.label,
        requested: args.sessions,
        opened,
        open_after_hold,
        hold_s: args.hold.as_secs_f64(),
        open_seconds,
        failures,
        closes,
        rss_before_kib: rss_before,
        rss_after_open_kib: rss_after_open,
        rss_after_hold_kib: rss(&args.server),
        slope_kib_per_session: slope(&points),
        mean_kib_per_session: (rss_after_open as f64 - rss_before as f64) / opened.max(1) as f64,
        checkpoints,
        hold_cpu,
        loadgen_rss_kib: procstat::rss_kib("self").unwrap_or(0),
    }
}

impl std::fmt::Display for IdleReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "idle  {}", self.label)?;
        writeln!(
            f,
            "  sessions: {} requested, {} opened in {:.1} s, {} still open after holding {:.0} s",
            self.requested, self.opened, self.open_seconds, self.open_after_hold, self.hold_s
        )?;
        writeln!(
            f,
            "  failures to open: {}; closes: {}",
            self.failures, self.closes
        )?;
        writeln!(
            f,
            "  RSS: {} KiB before, {} KiB open, {} KiB after hold; {:.2} KiB/session mean, slope {:.2} KiB/session",
            self.rss_before_kib,
            self.rss_after_open_kib,
            self.rss_after_hold_kib,
            self.mean_kib_per_session,
            self.slope_kib_per_session
        )?;
        let points: Vec<String> = self
            .checkpoints
            .iter()
            .map(|(n, k)| format!("{n}:{k}"))
            .collect();
        writeln!(f, "  checkpoints (sessions:KiB): {}", points.join(" "))?;
        for p in &self.hold_cpu.processes {
            writeln!(
                f,
                "  CPU while holding: {} {:.2} s ({:.3} cores)",
                p.label, p.seconds, p.cores
            )?;
        }
        write!(f, "  loadgen RSS {} KiB", self.loadgen_rss_kib)
    }
}
