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

/// `ttl_secs` from `now_millis`, saturating: a deadline past the end of time is "never", not a
/// wrap-around into the past that would expire the record at once.
pub fn deadline_millis(now_millis: u64, ttl_secs: u64) -> u64 {
    now_millis.saturating_add(ttl_secs.saturating_mul(1000))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_deadline_past_the_end_of_time_saturates_instead_of_wrapping_into_the_past() {
        assert_eq!(deadline_millis(1_000, 2), 3_000);
        let now = SystemClock.now_millis();
        assert_eq!(deadline_millis(now, u64::MAX), u64::MAX);
        assert_eq!(deadline_millis(now, u64::MAX / 1000), u64::MAX);
        assert!(deadline_millis(now, i64::MAX as u64) > now);
    }
}
