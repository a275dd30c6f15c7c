//! SplitMix64 (Steele, Lea & Flood 2014): the one tiny, seedable, platform-independent generator
//! used wherever gaitlens needs reproducible randomness (body-model population, synthetic cohort,
//! training shuffles). Hand-written: ten lines, and bit-for-bit stable output matters more than
//! statistical quality for these uses.

/// SplitMix64 state.
#[derive(Debug, Clone)]
pub struct SplitMix64(pub u64);

impl SplitMix64 {
    /// A generator for stream `(seed, subject, purpose)`, so independent draws stay stable when
    /// others are added.
    pub fn stream(seed: u64, subject: u64, purpose: u64) -> Self {
        let mut g = SplitMix64(seed);
        let a = g.next_u64() ^ subject.wrapping_mul(0xd1b5_4a32_d192_ed03);
        let mut g = SplitMix64(a);
        let b = g.next_u64() ^ purpose.wrapping_mul(0x8cb9_2ba7_2f3d_8dd7);
        SplitMix64(b)
    }

    /// Next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `[0, 1)` with 53 random bits.
    pub fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Standard normal (Box–Muller, one value per call).
    pub fn normal(&mut self) -> f64 {
        let u1 = 1.0 - self.uniform();
        let u2 = self.uniform();
        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    }

    /// Fisher–Yates shuffle.
    pub fn shuffle(&mut self, v: &mut [usize]) {
        for i in (1..v.len()).rev() {
            let j = (self.next_u64() % (i as u64 + 1)) as usize;
            v.swap(i, j);
        }
    }
}
