//! Deliberate defects for proving that the conformance checker checks.
//!
//! `tollgate conform` must fail a gateway that gets one thing wrong, in the profile that covers
//! it and nowhere else. The harness's tests build such gateways from the reference by switching
//! on one [`Defect`] in a running node. The switch exists only with this crate's `defects`
//! feature, which nothing but those tests enables: without it [`Defects`] is an empty type, every
//! [`Defects::has`] is a constant `false` the compiler removes, and no input, flag or variable can
//! make a release binary misbehave.

/// One way to be wrong, each seen by a different conformance profile.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Defect {
    /// A production gateway serves sandbox keys from the production endpoint (`key-types`).
    SandboxKeysOnProduction,
    /// A hybrid gateway sends sandbox keys to the production endpoint (`key-types`).
    HybridSandboxToProduction,
    /// An unsigned token (`alg: none`) is taken at its word (`token-auth`).
    AlgNoneAccepted,
    /// Token revocations reach the gateway and are never applied (`token-auth`).
    RevocationsIgnored,
    /// The subscription and application quota codes are swapped (`throttling`).
    ThrottleCodesSwapped,
    /// The Developer Portal lists deployments the Publisher hid (`control-plane`).
    DisplayOnDevportalIgnored,
    /// One in five API deploy events is dropped by the gateway (`propagation-lost`).
    DeployEventsDropped,
}

impl Defect {
    pub const ALL: [Defect; 7] = [
        Defect::SandboxKeysOnProduction,
        Defect::HybridSandboxToProduction,
        Defect::AlgNoneAccepted,
        Defect::RevocationsIgnored,
        Defect::ThrottleCodesSwapped,
        Defect::DisplayOnDevportalIgnored,
        Defect::DeployEventsDropped,
    ];

    #[cfg(feature = "defects")]
    fn bit(self) -> u32 {
        1 << self as u8
    }
}

/// The defects a node has, shared by its parts (cloning shares the set). Empty and constant
/// unless the `defects` feature is on.
#[derive(Clone, Debug, Default)]
pub struct Defects {
    #[cfg(feature = "defects")]
    set: std::sync::Arc<std::sync::atomic::AtomicU32>,
    /// Occurrences of intermittent defects so far, modulo five, for [`Defects::strikes`].
    #[cfg(feature = "defects")]
    seen: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

impl Defects {
    /// Whether `defect` is switched on.
    #[inline(always)]
    pub fn has(&self, defect: Defect) -> bool {
        #[cfg(feature = "defects")]
        {
            self.set.load(std::sync::atomic::Ordering::Relaxed) & defect.bit() != 0
        }
        #[cfg(not(feature = "defects"))]
        {
            let _ = defect;
            false
        }
    }

    /// For an intermittent defect: whether it strikes this occurrence. It strikes the first
    /// and then one in five, so even a short run meets it.
    #[inline(always)]
    pub fn strikes(&self, defect: Defect) -> bool {
        #[cfg(feature = "defects")]
        {
            use std::sync::atomic::Ordering::Relaxed;
            self.has(defect)
                && self
                    .seen
                    .fetch_update(Relaxed, Relaxed, |n| Some((n + 1) % 5))
                    .unwrap_or_default()
                    == 0
        }
        #[cfg(not(feature = "defects"))]
        {
            let _ = defect;
            false
        }
    }

    /// Switches `defect` on, for every part sharing this set.
    #[cfg(feature = "defects")]
    pub fn inject(&self, defect: Defect) {
        self.set
            .fetch_or(defect.bit(), std::sync::atomic::Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_set_has_no_defect() {
        let defects = Defects::default();
        assert!(Defect::ALL.iter().all(|d| !defects.has(*d)));
    }

    #[cfg(feature = "defects")]
    #[test]
    fn an_injected_defect_is_seen_by_every_clone_and_alone() {
        let defects = Defects::default();
        let shared = defects.clone();
        defects.inject(Defect::AlgNoneAccepted);
        for defect in Defect::ALL {
            assert_eq!(shared.has(defect), defect == Defect::AlgNoneAccepted);
        }
    }

    #[cfg(feature = "defects")]
    #[test]
    fn an_intermittent_defect_strikes_the_first_and_then_one_in_five() {
        let defects = Defects::default();
        assert!(!defects.strikes(Defect::DeployEventsDropped));
        defects.inject(Defect::DeployEventsDropped);
        let struck: Vec<bool> = (0..11)
            .map(|_| defects.strikes(Defect::DeployEventsDropped))
            .collect();
        let expected: Vec<bool> = (0..11).map(|i| i % 5 == 0).collect();
        assert_eq!(struck, expected);
    }

    #[cfg(not(feature = "defects"))]
    #[test]
    fn without_the_feature_the_set_is_empty_and_free() {
        assert_eq!(std::mem::size_of::<Defects>(), 0);
    }
}
