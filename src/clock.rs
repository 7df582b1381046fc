//! The one seam for wall-clock time, so tests can expire tickets, states and held grants
//! without sleeping.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

pub trait Clock: Send + Sync + 'static {
    /// Milliseconds since the Unix epoch.
    fn now_millis(&self) -> u64;

    fn now_secs(&self) -> u64 {
        self.now_millis() / 1000
    }
}

pub type SharedClock = Arc<dyn Clock>;

#[derive(Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_millis(&self) -> u64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0)
    }
}

/// Real time plus an offset that tests move forward.
#[derive(Debug, Default)]
pub struct AdjustableClock {
    offset_millis: AtomicU64,
}

impl AdjustableClock {
    pub fn advance_secs(&self, secs: u64) {
        self.offset_millis.fetch_add(secs * 1000, Ordering::SeqCst);
    }
}

impl Clock for AdjustableClock {
    fn now_millis(&self) -> u64 {
        SystemClock.now_millis() + self.offset_millis.load(Ordering::SeqCst)
    }
}

pub fn system() -> SharedClock {
    Arc::new(SystemClock)
}
