//! A tiny deterministic random number generator keyed by integers.
//!
//! Every random decision in this crate (synth-digits rendering, augmentations, shuffling, mixup)
//! comes from an [`Rng`] built from a key such as `(seed, epoch, sample index)`. The generator is
//! SplitMix64, written here so that results never change with the version of an external crate,
//! and so that a sample's augmentation does not depend on which worker thread produced it.

/// SplitMix64 finaliser: a bijective 64-bit mixing function.
#[inline]
fn mix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Deterministic SplitMix64 generator.
///
/// ```
/// use zoo_data::Rng;
/// let mut a = Rng::from_key(&[42, 0, 7]);
/// let mut b = Rng::from_key(&[42, 0, 7]);
/// assert_eq!(a.next_u64(), b.next_u64());
/// let x = a.uniform(-1.0, 1.0);
/// assert!((-1.0..1.0).contains(&x));
/// ```
#[derive(Debug, Clone)]
pub struct Rng {
    state: u64,
}

const GOLDEN: u64 = 0x9E37_79B9_7F4A_7C15;

impl Rng {
    /// A generator seeded with a single 64-bit value.
    pub fn new(seed: u64) -> Self {
        Self { state: mix64(seed ^ 0x5_EED0_FB01_2200) }
    }

    /// A generator seeded from a sequence of integers (for example `[seed, epoch, index]`).
    ///
    /// Different keys (including keys of different lengths) give unrelated streams.
    pub fn from_key(key: &[u64]) -> Self {
        let mut h = mix64(key.len() as u64 ^ 0xA076_1D64_78BD_642F);
        for &k in key {
            h = mix64(h.wrapping_add(GOLDEN) ^ mix64(k.wrapping_add(GOLDEN)));
        }
        Self { state: h }
    }

    /// The next 64 random bits.
    #[inline]
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(GOLDEN);
        mix64(self.state)
    }

    /// A uniform `f64` in `[0, 1)` (53 random bits).
    #[inline]
    pub fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// A uniform `f32` in `[lo, hi)`; returns `lo` when `hi <= lo`.
    #[inline]
    pub fn uniform(&mut self, lo: f32, hi: f32) -> f32 {
        if hi <= lo {
            // Still consume one value so the stream position does not depend on the range.
            self.next_u64();
            return lo;
        }
        let v = lo + (hi - lo) * self.next_f64() as f32;
        if v >= hi { lo } else { v }
    }

    /// A uniform integer in `[0, n)`; `n` must be non-zero (returns 0 for `n == 0`).
    #[inline]
    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            self.next_u64();
            return 0;
        }
        // Lemire's multiply-shift; the bias for the small n used here is below 2^-40.
        ((self.next_u64() as u128 * n as u128) >> 64) as u64
    }

    /// `true` with probability `p`.
    #[inline]
    pub fn chance(&mut self, p: f32) -> bool {
        self.next_f64() < p as f64
    }

    /// A standard normal sample (Box–Muller).
    pub fn normal(&mut self) -> f32 {
        let u1 = 1.0 - self.next_f64(); // (0, 1]
        let u2 = self.next_f64();
        ((-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()) as f32
    }

    /// A Gamma(shape, 1) sample (Marsaglia–Tsang), `shape > 0`.
    pub fn gamma(&mut self, shape: f64) -> f64 {
        if shape < 1.0 {
            let u = 1.0 - self.next_f64();
            return self.gamma(shape + 1.0) * u.powf(1.0 / shape);
        }
        let d = shape - 1.0 / 3.0;
        let c = 1.0 / (9.0 * d).sqrt();
        loop {
            let x = self.normal() as f64;
            let v = 1.0 + c * x;
            if v <= 0.0 {
                continue;
            }
            let v = v * v * v;
            let u = 1.0 - self.next_f64();
            if u.ln() < 0.5 * x * x + d - d * v + d * v.ln() {
                return d * v;
            }
        }
    }

    /// A Beta(a, b) sample, used by mixup and cutmix for the mixing coefficient.
    pub fn beta(&mut self, a: f64, b: f64) -> f64 {
        let x = self.gamma(a);
        let y = self.gamma(b);
        if x + y == 0.0 { 0.5 } else { x / (x + y) }
    }

    /// Shuffles a slice in place (Fisher–Yates).
    pub fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = self.below(i as u64 + 1) as usize;
            items.swap(i, j);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_give_distinct_streams() {
        let a = Rng::from_key(&[1, 2]).next_u64();
        let b = Rng::from_key(&[2, 1]).next_u64();
        let c = Rng::from_key(&[1, 2, 0]).next_u64();
        assert_ne!(a, b);
        assert_ne!(a, c);
    }

    #[test]
    fn beta_mean_is_plausible() {
        let mut r = Rng::new(3);
        let n = 20_000;
        let mean: f64 = (0..n).map(|_| r.beta(2.0, 2.0)).sum::<f64>() / n as f64;
        assert!((mean - 0.5).abs() < 0.01, "mean {mean}");
        let mut r = Rng::new(4);
        let mean: f64 = (0..n).map(|_| r.beta(0.4, 0.4)).sum::<f64>() / n as f64;
        assert!((mean - 0.5).abs() < 0.02, "mean {mean}");
    }

    #[test]
    fn below_is_in_range_and_covers() {
        let mut r = Rng::new(9);
        let mut seen = [0usize; 7];
        for _ in 0..7000 {
            seen[r.below(7) as usize] += 1;
        }
        assert!(seen.iter().all(|&c| c > 800), "{seen:?}");
    }
}
