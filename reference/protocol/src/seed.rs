//! One seed for every random choice.
//!
//! Each node derives its own stream from the run's seed and a stable label (`"control-plane"`,
//! `"gateway:Default"`), so adding a node never shifts another node's ids or tokens, and the
//! same seed always gives the same ids, consumer keys and `jti`s.

use rand::{Rng, RngCore, SeedableRng};
use rand_chacha::ChaCha20Rng;
use sha2::{Digest, Sha256};
use std::sync::Mutex;

/// A seeded, shareable random source. Lock-protected: ids are minted on control-plane calls,
/// never on the gateway's hot path.
#[derive(Debug)]
pub struct SeededRng {
    inner: Mutex<ChaCha20Rng>,
}

impl SeededRng {
    /// A stream derived from `seed` and `label`.
    pub fn derive(seed: u64, label: &str) -> Self {
        let mut hasher = Sha256::new();
        hasher.update(seed.to_be_bytes());
        hasher.update(label.as_bytes());
        let digest: [u8; 32] = hasher.finalize().into();
        Self {
            inner: Mutex::new(ChaCha20Rng::from_seed(digest)),
        }
    }

    fn with<T>(&self, f: impl FnOnce(&mut ChaCha20Rng) -> T) -> T {
        // A poisoned lock only means another thread panicked mid-draw; the stream is still valid.
        let mut rng = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        f(&mut rng)
    }

    /// A version-4 UUID from the stream, as WSO2 uses for API, application and revision ids.
    pub fn uuid(&self) -> uuid::Uuid {
        let bytes: [u8; 16] = self.with(|r| r.random());
        uuid::Builder::from_random_bytes(bytes).into_uuid()
    }

    /// `len` characters of `[A-Za-z0-9_]`, the alphabet of WSO2 consumer keys and secrets.
    pub fn token(&self, len: usize) -> String {
        const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_";
        self.with(|r| {
            (0..len)
                .map(|_| ALPHABET[r.random_range(0..ALPHABET.len())] as char)
                .collect()
        })
    }

    pub fn next_u64(&self) -> u64 {
        self.with(|r| r.next_u64())
    }

    /// How far the stream has been drawn (in 32-bit words): with [`Self::seek`], a restarted
    /// node goes on where it stopped instead of minting the ids it minted before.
    pub fn position(&self) -> u128 {
        self.with(|r| r.get_word_pos())
    }

    /// Moves the stream to `position` (from [`Self::position`]).
    pub fn seek(&self, position: u128) {
        self.with(|r| r.set_word_pos(position));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stream_resumed_at_its_position_goes_on_where_it_stopped() {
        let first = SeededRng::derive(7, "control-plane");
        first.uuid();
        first.token(28);
        let resumed = SeededRng::derive(7, "control-plane");
        resumed.seek(first.position());
        assert_eq!(first.uuid(), resumed.uuid());
        assert_ne!(SeededRng::derive(7, "control-plane").uuid(), resumed.uuid());
    }

    #[test]
    fn same_seed_and_label_give_the_same_stream() {
        let a = SeededRng::derive(7, "control-plane");
        let b = SeededRng::derive(7, "control-plane");
        assert_eq!(a.uuid(), b.uuid());
        assert_eq!(a.token(28), b.token(28));
    }

    #[test]
    fn labels_separate_streams() {
        let a = SeededRng::derive(7, "control-plane");
        let b = SeededRng::derive(7, "gateway:Default");
        assert_ne!(a.uuid(), b.uuid());
    }
}
