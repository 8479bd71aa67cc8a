//! Synthetic hash sets, deterministic (splitmix64), shared by the unit tests and
//! `examples/neardup_bench.rs` (which links the crate as `_core`). Not part of the API.

/// splitmix64
pub struct Rng(pub u64);

impl Rng {
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }

    /// Uniform in `[0, 1)`.
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Standard normal (Box-Muller).
    pub fn gauss(&mut self) -> f64 {
        let u1 = self.unit().max(1e-300);
        let u2 = self.unit();
        (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
    }

    /// `h` with exactly `k` distinct random bits flipped.
    pub fn flip(&mut self, h: u64, k: u32) -> u64 {
        let mut mask = 0u64;
        while mask.count_ones() < k {
            mask |= 1u64 << self.below(64);
        }
        h ^ mask
    }

    /// Near-copy flip count: 15% exact, then tapering to 8 bits.
    pub fn flips(&mut self) -> u32 {
        const CDF: [u64; 9] = [15, 35, 55, 70, 80, 88, 94, 98, 100];
        let u = self.below(100);
        CDF.iter().position(|&c| u < c).unwrap() as u32
    }
}

/// `n` independent uniform hashes.
pub fn uniform(n: usize, seed: u64) -> Vec<u64> {
    let mut r = Rng(seed);
    (0..n).map(|_| r.next_u64()).collect()
}

/// Centres with members at 0..=max_flip bit flips, shuffled with noise.
pub fn planted(n: usize, centres: usize, max_flip: u32, seed: u64) -> Vec<u64> {
    let mut r = Rng(seed);
    let cs: Vec<u64> = (0..centres).map(|_| r.next_u64()).collect();
    (0..n)
        .map(|i| {
            if i % 5 == 4 {
                r.next_u64() // 20% uniform noise
            } else {
                let c = cs[r.below(centres as u64) as usize];
                let k = r.below(max_flip as u64 + 1) as u32;
                r.flip(c, k)
            }
        })
        .collect()
}

/// Skewed: many distinct hashes share block values.
pub fn skewed(n: usize, kind: u32, seed: u64) -> Vec<u64> {
    let mut r = Rng(seed);
    (0..n)
        .map(|i| match kind {
            // 60% with the low 32 bits zero, the rest random
            0 => {
                if i % 5 < 3 {
                    r.next_u64() & 0xFFFF_FFFF_0000_0000
                } else {
                    r.next_u64()
                }
            }
            // biased bits: P(bit = 1) = 1/8 -> dark frames
            1 => r.next_u64() & r.next_u64() & r.next_u64(),
            // 50% sparse hashes (<= 6 bits set), 50% random
            2 => {
                if i % 2 == 0 {
                    let k = r.below(7) as u32;
                    r.flip(0, k)
                } else {
                    r.next_u64()
                }
            }
            // only 20 free random bits over a fixed pattern
            _ => 0xDEAD_BEEF_0000_0000 | (r.next_u64() & 0x000F_0F0F_0F00_0F0F),
        })
        .collect()
}

/// Correlated hash source: signs of 64 projections of a d-dim Gaussian.
pub struct Projector {
    w: Vec<f64>,
    d: usize,
}

impl Projector {
    pub fn new(d: usize, rng: &mut Rng) -> Projector {
        Projector {
            w: (0..64 * d).map(|_| rng.gauss()).collect(),
            d,
        }
    }

    pub fn sample(&self, rng: &mut Rng) -> u64 {
        let z: Vec<f64> = (0..self.d).map(|_| rng.gauss()).collect();
        let mut h = 0u64;
        for b in 0..64 {
            let row = &self.w[b * self.d..(b + 1) * self.d];
            let s: f64 = row.iter().zip(&z).map(|(a, b)| a * b).sum();
            if s > 0.0 {
                h |= 1 << b;
            }
        }
        h
    }
}

/// Fisher-Yates.
pub fn shuffle(v: &mut [u64], rng: &mut Rng) {
    for i in (1..v.len()).rev() {
        let j = rng.below(i as u64 + 1) as usize;
        v.swap(i, j);
    }
}

/// The benchmark's synthetic sets (see `examples/neardup_bench.rs`): `uniform`, `planted`
/// (80% background, 20% near copies of N/40 centres with heavy-tailed cluster sizes),
/// `realistic` (`planted` over a correlated background, plus 1% near-blank frames) and `hot`
/// (`planted` with every 4th hash's low 24 bits cleared).
pub fn bench_set(kind: &str, n: usize, seed: u64) -> Vec<u64> {
    let mut rng = Rng(seed ^ 0xA5A5_5A5A);
    let proj = Projector::new(16, &mut rng);
    let realistic = kind == "realistic";
    let background = |rng: &mut Rng| {
        if realistic {
            proj.sample(rng)
        } else {
            rng.next_u64()
        }
    };
    let mut v: Vec<u64> = Vec::with_capacity(n);
    match kind {
        "uniform" => v.extend((0..n).map(|_| rng.next_u64())),
        "planted" | "realistic" => {
            let n_cl = n / 5;
            let n_blank = if realistic { n / 100 } else { 0 };
            let n_c = (n_cl / 40).max(1);
            let centres: Vec<u64> = (0..n_c).map(|_| background(&mut rng)).collect();
            for _ in 0..n_cl {
                // heavy-tailed cluster sizes: P(centre c) ~ 1/sqrt(c)
                let u = rng.unit();
                let c = ((u * u) * n_c as f64) as usize;
                let k = rng.flips();
                v.push(rng.flip(centres[c.min(n_c - 1)], k));
            }
            for _ in 0..n_blank {
                let k = rng.below(7) as u32;
                v.push(rng.flip(0, k));
            }
            while v.len() < n {
                v.push(background(&mut rng));
            }
            shuffle(&mut v, &mut rng);
        }
        "hot" => {
            // planted mix, but 25% of all hashes have their low 24 bits zero
            // (e.g. a dark/flat image region): one block value shared by
            // hundreds of thousands of distinct hashes.
            v = bench_set("planted", n, seed);
            for x in v.iter_mut().step_by(4) {
                *x &= !0xFF_FFFF;
            }
        }
        _ => panic!("unknown data set {kind}"),
    }
    v
}
