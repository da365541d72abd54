//! Wall-clock time as an input.
//!
//! Token `iat`/`exp`, throttle windows aligned to the minute and `Retry-After` dates all read
//! wall time; they read it through [`Clock`] so a test or the simulator can set it. Monotonic
//! time (timeouts, intervals) goes through `tokio::time`, which tests can pause.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

/// A source of wall-clock time, in milliseconds since the Unix epoch.
pub trait Clock: Send + Sync + std::fmt::Debug + 'static {
    fn now_millis(&self) -> i64;

    fn now_secs(&self) -> i64 {
        self.now_millis().div_euclid(1000)
    }
}

/// The clock handed to every node.
pub type SharedClock = Arc<dyn Clock>;

/// The operating system's clock: the only place Tollgate reads it.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    #[allow(clippy::disallowed_methods)] // the one sanctioned read of the system clock
    fn now_millis(&self) -> i64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0)
    }
}

/// A clock that moves only when told to: deterministic tests and the simulator.
#[derive(Debug, Clone)]
pub struct ManualClock {
    millis: Arc<AtomicI64>,
}

impl ManualClock {
    pub fn new(start_millis: i64) -> Self {
        Self {
            millis: Arc::new(AtomicI64::new(start_millis)),
        }
    }

    pub fn advance_millis(&self, by: i64) {
        self.millis.fetch_add(by, Ordering::SeqCst);
    }

    pub fn set_millis(&self, to: i64) {
        self.millis.store(to, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now_millis(&self) -> i64 {
        self.millis.load(Ordering::SeqCst)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manual_clock_moves_only_when_advanced() {
        let clock = ManualClock::new(1_000);
        assert_eq!(clock.now_millis(), 1_000);
        clock.advance_millis(60_000);
        assert_eq!(clock.now_secs(), 61);
    }
}
