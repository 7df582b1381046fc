//! What the kernel says about a process: CPU time and resident memory from `/proc`, the
//! machine's busy time from `/proc/stat`, and this process's open-file limit.

use std::fs;
use std::io;

/// Clock ticks per second for `/proc/*/stat` (`getconf CLK_TCK`; 100 on every Linux we run).
pub const TICKS_PER_SEC: f64 = 100.0;

/// A process to watch: `self` or a pid, with a label for reports.
#[derive(Debug, Clone)]
pub struct Watched {
    pub label: String,
    pub pid: String,
}

impl Watched {
    /// Parses `label=pid`.
    pub fn parse(text: &str) -> Result<Self, String> {
        let (label, pid) = text
            .split_once('=')
            .ok_or_else(|| format!("--pid wants label=PID, got {text:?}"))?;
        pid.parse::<u32>()
            .map_err(|_| format!("--pid {text:?}: {pid:?} is not a process id"))?;
        Ok(Self {
            label: label.to_owned(),
            pid: pid.to_owned(),
        })
    }

    pub fn this_process() -> Self {
        Self {
            label: "loadgen".into(),
            pid: "self".into(),
        }
    }
}

/// User plus system CPU seconds the process has used so far.
pub fn cpu_seconds(pid: &str) -> io::Result<f64> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // The command name (field 2) may hold spaces and parentheses: fields are counted after the
    // last ')'. There, index 0 is field 3 (state), so utime (14) and stime (15) are 11 and 12.
    let after = &stat[stat.rfind(')').map_or(0, |i| i + 1)..];
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| -> io::Result<u64> {
        fields
            .get(i)
            .and_then(|f| f.parse().ok())
            .ok_or_else(|| io::Error::other("unexpected /proc/PID/stat"))
    };
    Ok((ticks(11)? + ticks(12)?) as f64 / TICKS_PER_SEC)
}

/// Resident set size in KiB (`VmRSS`).
pub fn rss_kib(pid: &str) -> io::Result<u64> {
    status_field(pid, "VmRSS:")
}

pub fn threads(pid: &str) -> io::Result<u64> {
    status_field(pid, "Threads:")
}

fn status_field(pid: &str, name: &str) -> io::Result<u64> {
    let status = fs::read_to_string(format!("/proc/{pid}/status"))?;
    status
        .lines()
        .find_map(|l| l.strip_prefix(name))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| io::Error::other(format!("no {name} in /proc/{pid}/status")))
}

/// Busy and total ticks of the whole machine (all cores), from the first line of `/proc/stat`.
pub fn machine_ticks() -> io::Result<(u64, u64)> {
    let stat = fs::read_to_string("/proc/stat")?;
    let line = stat.lines().next().unwrap_or_default();
    let values: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .filter_map(|v| v.parse().ok())
        .collect();
    let total: u64 = values.iter().take(8).sum();
    // idle and iowait
    let idle = values.get(3).copied().unwrap_or(0) + values.get(4).copied().unwrap_or(0);
    Ok((total - idle, total))
}

pub fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// The soft and hard limits on open files of this process (`ulimit -n` and `ulimit -Hn`).
pub fn open_file_limit() -> (u64, u64) {
    let limits = fs::read_to_string("/proc/self/limits").unwrap_or_default();
    let line = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .unwrap_or_default();
    let mut numbers = line
        .split_whitespace()
        .filter_map(|v| v.parse::<u64>().ok());
    let soft = numbers.next().unwrap_or(1024);
    let hard = numbers.next().unwrap_or(soft);
    (soft, hard)
}

/// CPU use of several processes and of the machine between two moments.
pub struct CpuWindow {
    watched: Vec<Watched>,
    start: Vec<f64>,
    machine_start: (u64, u64),
    started: std::time::Instant,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct CpuUse {
    pub label: String,
    pub seconds: f64,
    /// Seconds of CPU per second of wall time (1.0 = one core busy).
    pub cores: f64,
    pub threads: u64,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct CpuReport {
    pub wall_s: f64,
    pub processes: Vec<CpuUse>,
    /// Share of all cores busy (any process), 0 to 1.
    pub machine_busy: f64,
    pub machine_cores: usize,
}

impl CpuWindow {
    pub fn start(watched: &[Watched]) -> Self {
        let start = watched
            .iter()
            .map(|w| cpu_seconds(&w.pid).unwrap_or(f64::NAN))
            .collect();
        Self {
            watched: watched.to_vec(),
            start,
            machine_start: machine_ticks().unwrap_or((0, 1)),
            started: std::time::Instant::now(),
        }
    }

    pub fn finish(&self) -> CpuReport {
        let wall_s = self.started.elapsed().as_secs_f64();
        let processes = self
            .watched
            .iter()
            .zip(&self.start)
            .map(|(w, start)| {
                let seconds = cpu_seconds(&w.pid).unwrap_or(f64::NAN) - start;
                CpuUse {
                    label: w.label.clone(),
                    seconds,
                    cores: seconds / wall_s,
                    threads: threads(&w.pid).unwrap_or(0),
                }
            })
            .collect();
        let (busy, total) = machine_ticks().unwrap_or(self.machine_start);
        let machine_busy =
            (busy - self.machine_start.0) as f64 / ((total - self.machine_start.1).max(1)) as f64;
        CpuReport {
            wall_s,
            processes,
            machine_busy,
            machine_cores: cores(),
        }
    }
}
