//! Fault injection: start-up delay, seeded HTTP 500s and stalls, the API-key check, and the
//! countdown to dying after N requests.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio::sync::Notify;

/// What to do with one valid inference request, decided when it arrives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fate {
    /// Serve it normally.
    Serve,
    /// Answer HTTP 500.
    Fail,
    /// Send this many tokens, then nothing more while keeping the connection open.
    Stall(u32),
}

/// The fault state of one server.
#[derive(Debug)]
pub struct Faults {
    ready_at: Instant,
    error_rate: f64,
    stall_rate: f64,
    stall_after_tokens: u32,
    seed: u64,
    api_key: Option<String>,
    exit_after_requests: u64,
    /// Valid inference requests seen so far; the n-th one's fate is a function of (seed, n).
    valid_seen: AtomicU64,
    /// Inference requests answered so far (any status).
    answered: AtomicU64,
    /// Signalled once `exit_after_requests` requests have been answered.
    pub die: Notify,
}

/// Settings of [`Faults`].
#[derive(Debug, Clone)]
pub struct FaultConfig {
    /// Delay after start before `/health` answers 200.
    pub startup_delay: Duration,
    /// Fraction of valid inference requests answered HTTP 500.
    pub error_rate: f64,
    /// Fraction of valid inference requests that stall.
    pub stall_rate: f64,
    /// Tokens sent by a stalling request before it stalls.
    pub stall_after_tokens: u32,
    /// Seed of the error and stall decisions.
    pub seed: u64,
    /// The bearer token every `/v1/` request must carry, if any.
    pub api_key: Option<String>,
    /// Die after this many answered inference requests (0: never).
    pub exit_after_requests: u64,
}

impl Faults {
    /// Starts the clock of the start-up delay now.
    pub fn new(c: FaultConfig) -> Self {
        Self {
            // Validated to at most a day; never panic on overflow anyway.
            ready_at: Instant::now().checked_add(c.startup_delay).unwrap_or_else(Instant::now),
            error_rate: c.error_rate,
            stall_rate: c.stall_rate,
            stall_after_tokens: c.stall_after_tokens,
            seed: c.seed,
            api_key: c.api_key,
            exit_after_requests: c.exit_after_requests,
            valid_seen: AtomicU64::new(0),
            answered: AtomicU64::new(0),
            die: Notify::new(),
        }
    }

    /// Whether the start-up delay has passed.
    pub fn ready(&self) -> bool {
        Instant::now() >= self.ready_at
    }

    /// Whether an `Authorization` header value is acceptable.
    pub fn authorized(&self, authorization: Option<&[u8]>) -> bool {
        let Some(key) = &self.api_key else { return true };
        let Some(value) = authorization else { return false };
        let Some(token) = value.strip_prefix(b"Bearer ") else { return false };
        constant_time_eq(token, key.as_bytes())
    }

    /// Decides the fate of the next valid inference request.
    pub fn next_fate(&self) -> Fate {
        let n = self.valid_seen.fetch_add(1, Ordering::Relaxed);
        if self.error_rate > 0.0 && unit(self.seed, n, 0x4552_524f_5253) < self.error_rate {
            Fate::Fail
        } else if self.stall_rate > 0.0 && unit(self.seed, n, 0x5354_414c_4c53) < self.stall_rate {
            Fate::Stall(self.stall_after_tokens)
        } else {
            Fate::Serve
        }
    }

    /// Records that an inference request has been answered completely; signals `die` when the
    /// countdown reaches zero.
    pub fn answered(&self) {
        let n = self.answered.fetch_add(1, Ordering::Relaxed) + 1;
        if self.exit_after_requests > 0 && n == self.exit_after_requests {
            self.die.notify_one();
        }
    }

    /// Whether the server is about to die (no new requests are served).
    pub fn dying(&self) -> bool {
        self.exit_after_requests > 0
            && self.answered.load(Ordering::Relaxed) >= self.exit_after_requests
    }
}

/// A uniform number in [0, 1) from (seed, n, salt): splitmix64 of their mix.
fn unit(seed: u64, n: u64, salt: u64) -> f64 {
    let mut z = seed ^ salt.rotate_left(17) ^ n.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    #[expect(clippy::cast_precision_loss, reason = "53 random bits fit an f64 exactly")]
    let v = (z >> 11) as f64 / (1u64 << 53) as f64;
    v
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn faults(error_rate: f64, seed: u64) -> Faults {
        Faults::new(FaultConfig {
            startup_delay: Duration::ZERO,
            error_rate,
            stall_rate: 0.0,
            stall_after_tokens: 0,
            seed,
            api_key: Some("k".into()),
            exit_after_requests: 0,
        })
    }

    #[test]
    fn error_rate_is_seeded_and_close_to_the_fraction() {
        let a = faults(0.25, 7);
        let b = faults(0.25, 7);
        let va: Vec<_> = (0..2000).map(|_| a.next_fate()).collect();
        let vb: Vec<_> = (0..2000).map(|_| b.next_fate()).collect();
        assert_eq!(va, vb);
        let failed = va.iter().filter(|f| **f == Fate::Fail).count();
        assert!((400..600).contains(&failed), "{failed} of 2000 failed at rate 0.25");
        let c = faults(0.25, 8);
        let vc: Vec<_> = (0..2000).map(|_| c.next_fate()).collect();
        assert_ne!(va, vc, "another seed gives another pattern");
    }

    #[test]
    fn bearer_token_must_match() {
        let f = faults(0.0, 0);
        assert!(f.authorized(Some(b"Bearer k")));
        assert!(!f.authorized(Some(b"Bearer kk")));
        assert!(!f.authorized(Some(b"k")));
        assert!(!f.authorized(None));
    }
}
