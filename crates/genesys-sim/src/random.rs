//! Deterministic randomness: splitmix64, seeded from hashes (of the atom and the minute, of
//! a queue's index), so that the same query always gets the same answer.

use std::hash::Hasher;

const GOLDEN: u64 = 0x9E37_79B9_7F4A_7C15;

/// The splitmix64 finaliser: a good 64-bit mixer, so that neighbouring minutes and queues
/// get unrelated draws.
pub(super) fn mix(x: u64) -> u64 {
    let mut z = x.wrapping_add(GOLDEN);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// FNV-1a over several byte strings, with a separator so that ("ab", "c") ≠ ("a", "bc").
/// Hand-written rather than `DefaultHasher`, whose output may change between Rust releases.
pub(super) fn fnv1a(parts: &[&[u8]]) -> u64 {
    struct Fnv(u64);
    impl Hasher for Fnv {
        fn finish(&self) -> u64 {
            self.0
        }
        fn write(&mut self, bytes: &[u8]) {
            for &b in bytes {
                self.0 = (self.0 ^ u64::from(b)).wrapping_mul(0x0100_0000_01B3);
            }
        }
    }
    let mut hasher = Fnv(0xCBF2_9CE4_8422_2325);
    for part in parts {
        hasher.write(part);
        hasher.write(&[0xFF]);
    }
    hasher.finish()
}

/// A UUID-shaped string (version 4 layout) from a seed.
pub(super) fn uuid_from(seed: u64) -> String {
    let a = mix(seed);
    let b = mix(a);
    format!(
        "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
        a >> 32,
        (a >> 16) & 0xFFFF,
        a & 0x0FFF,
        ((b >> 48) & 0x3FFF) | 0x8000,
        b & 0xFFFF_FFFF_FFFF,
    )
}

/// A splitmix64 stream.
pub(super) struct Draws(u64);

impl Draws {
    pub(super) fn new(seed: u64) -> Draws {
        Draws(seed)
    }

    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(GOLDEN);
        mix(self.0)
    }

    /// A stream of its own, seeded from this one's next draw: what it draws does not
    /// shift this one's later draws.
    pub(super) fn fork(&mut self) -> Draws {
        Draws::new(self.next_u64())
    }

    /// Uniform in [0, 1).
    pub(super) fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    pub(super) fn chance(&mut self, probability: f64) -> bool {
        self.unit() < probability
    }

    /// Exponentially distributed, in whole milliseconds, at least `floor_ms`.
    pub(super) fn exponential_ms(&mut self, mean_s: f64, floor_ms: u64) -> u64 {
        let seconds = -mean_s * (1.0 - self.unit()).ln();
        ((seconds * 1000.0).round() as u64).max(floor_ms)
    }

    /// Poisson-distributed count (Knuth's method; the means here are small).
    pub(super) fn poisson(&mut self, mean: f64) -> u32 {
        let limit = (-mean.clamp(0.0, 500.0)).exp();
        let mut product = 1.0;
        let mut count = 0;
        loop {
            product *= self.unit();
            if product <= limit {
                return count;
            }
            count += 1;
        }
    }
}
