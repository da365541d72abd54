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

    /// Moves a test clock forward to `millis` (never back) and says so; the system clock
    /// cannot be moved and answers `false`.
    fn move_to(&self, _millis: i64) -> bool {
        false
    }

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

    fn move_to(&self, millis: i64) -> bool {
        self.millis.fetch_max(millis, Ordering::SeqCst);
        true
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

    #[test]
    fn a_test_clock_moves_forward_only_and_the_system_clock_not_at_all() {
        let clock = ManualClock::new(5_000);
        assert!(clock.move_to(9_000));
        assert!(clock.move_to(1_000));
        assert_eq!(clock.now_millis(), 9_000);
        assert!(!SystemClock.move_to(0));
    }
}
