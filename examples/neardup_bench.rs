//! Benchmark for `neardup`.
//!
//! ```text
//! cargo run --release --example neardup_bench -- [--sizes 10000,100000,1000000] [--radii 4,8,10]
//!     [--data uniform,planted,realistic] [--ops groups,pairs] [--brute-max 100000]
//!     [--across]
//! ```
//!
//! Data sets (deterministic, splitmix64):
//! * `uniform`   — independent uniform 64-bit hashes.
//! * `planted`   — 80% uniform background + 20% near-copies of N/40 centres
//!   (heavy-tailed cluster sizes; 0..=8 bit flips, 15% exact copies).
//! * `realistic` — correlated background (sign of 64 random projections of a
//!   16-dimensional Gaussian, like the low-frequency DCT signs of pHash:
//!   random pairs sit at ~32 ± 6 bits instead of 32 ± 4), 20% near-copy
//!   clusters around centres from that distribution, and 1% near-blank frames
//!   (hashes with <= 6 bits set: a hot block value shared by many distinct
//!   hashes).
//! * `photos`    — real pHashes read from the file named by `RA_PHOTO_HASHES`
//!   (u64 little-endian; `RA_HASHES_OUT=f python benches/dup_quality.py` writes one): the first N.
//! * `hot`       — `planted`, with every 4th hash's low 24 bits cleared: one
//!   block value shared by 25% of all (distinct) hashes.
//!
//! Peak RSS per operation: `/proc/self/clear_refs` is written with `5` (reset
//! the high-water mark) before each operation and `VmHWM` read after it.

use _core::neardup::*;
use std::time::Instant;

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
    fn gauss(&mut self) -> f64 {
        let u1 = self.unit().max(1e-300);
        let u2 = self.unit();
        (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
    }
    fn flip(&mut self, h: u64, k: u32) -> u64 {
        let mut mask = 0u64;
        while mask.count_ones() < k {
            mask |= 1u64 << self.below(64);
        }
        h ^ mask
    }
    /// near-copy flip count: 15% exact, then tapering to 8 bits
    fn flips(&mut self) -> u32 {
        const CDF: [u64; 9] = [15, 35, 55, 70, 80, 88, 94, 98, 100];
        let u = self.below(100);
        CDF.iter().position(|&c| u < c).unwrap() as u32
    }
}

/// Correlated hash source: signs of 64 projections of a d-dim Gaussian.
struct Projector {
    w: Vec<f64>,
    d: usize,
}
impl Projector {
    fn new(d: usize, rng: &mut Rng) -> Projector {
        Projector {
            w: (0..64 * d).map(|_| rng.gauss()).collect(),
            d,
        }
    }
    fn sample(&self, rng: &mut Rng) -> u64 {
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

fn shuffle(v: &mut [u64], rng: &mut Rng) {
    for i in (1..v.len()).rev() {
        let j = rng.below(i as u64 + 1) as usize;
        v.swap(i, j);
    }
}

fn make_data(kind: &str, n: usize, seed: u64) -> Vec<u64> {
    let mut rng = Rng(seed ^ 0xA5A5_5A5A);
    let proj = Projector::new(16, &mut rng);
    let realistic = kind == "realistic";
    let background = |rng: &mut Rng| if realistic { proj.sample(rng) } else { rng.next() };
    let mut v: Vec<u64> = Vec::with_capacity(n);
    match kind {
        "uniform" => v.extend((0..n).map(|_| rng.next())),
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
            v = make_data("planted", n, seed);
            for x in v.iter_mut().step_by(4) {
                *x &= !0xFF_FFFF;
            }
        }
        "photos" => {
            // Real pHashes of photos, written by `benches/dup_quality.py` (RA_HASHES_OUT): the first n.
            let file = std::env::var("RA_PHOTO_HASHES").expect("set RA_PHOTO_HASHES to a file of u64 LE hashes");
            let bytes = std::fs::read(&file).expect("read RA_PHOTO_HASHES");
            v.extend(bytes.chunks_exact(8).take(n).map(|c| u64::from_le_bytes(c.try_into().unwrap())));
        }
        _ => panic!("unknown data set {kind}"),
    }
    v
}

fn reset_peak() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

fn status_kb(key: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(key))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|x| x.parse().ok()))
        })
        .unwrap_or(0)
}

fn measure<T>(f: impl FnOnce() -> T) -> (T, f64, f64) {
    reset_peak();
    let t = Instant::now();
    let out = f();
    let secs = t.elapsed().as_secs_f64();
    let peak = status_kb("VmHWM:") as f64 / 1024.0;
    (out, secs, peak)
}

fn arg_list(args: &[String], key: &str, default: &str) -> Vec<String> {
    let v = args
        .iter()
        .position(|a| a == key)
        .and_then(|i| args.get(i + 1))
        .map(|s| s.as_str())
        .unwrap_or(default);
    v.split(',').map(|s| s.trim().to_string()).filter(|s| !s.is_empty()).collect()
}

fn dist_stats(h: &[u64]) -> (f64, f64) {
    let mut rng = Rng(99);
    let k = 20_000.min(h.len() * 4);
    let ds: Vec<f64> = (0..k)
        .map(|_| {
            let a = h[rng.below(h.len() as u64) as usize];
            let b = h[rng.below(h.len() as u64) as usize];
            (a ^ b).count_ones() as f64
        })
        .collect();
    let m = ds.iter().sum::<f64>() / k as f64;
    let var = ds.iter().map(|d| (d - m) * (d - m)).sum::<f64>() / k as f64;
    (m, var.sqrt())
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let sizes: Vec<usize> = arg_list(&args, "--sizes", "10000,100000,1000000")
        .iter()
        .map(|s| s.parse().expect("size"))
        .collect();
    let radii: Vec<u32> = arg_list(&args, "--radii", "4,8,10")
        .iter()
        .map(|s| s.parse().expect("radius"))
        .collect();
    let datas = arg_list(&args, "--data", "uniform,planted,realistic");
    let ops = arg_list(&args, "--ops", "groups,pairs");
    let brute_max: usize = arg_list(&args, "--brute-max", "100000")[0].parse().unwrap();
    let across = args.iter().any(|a| a == "--across");

    println!(
        "threads={} (rayon), clear_refs peak reset: {}",
        rayon::current_num_threads(),
        std::fs::write("/proc/self/clear_refs", "5").is_ok()
    );
    println!(
        "{:<9} {:>8} {:>2} {:<7} {:>8} {:>11} {:>9} {:>8} {:>9} {:>8} {:>8}  layout",
        "data", "N", "r", "op", "time_s", "result", "cmp/hash", "distinct", "peakMB", "brute_s", "speedup"
    );
    for &n in &sizes {
        for data in &datas {
            let h = make_data(data, n, n as u64);
            if h.len() < n {
                println!("# {data}: only {} hashes, skipping N={n}", h.len());
                continue;
            }
            let (m, sd) = dist_stats(&h);
            println!("# {data} N={n}: random-pair distance {m:.1} ± {sd:.1} bits");
            for &r in &radii {
                let mut bf: Option<(Vec<Pair>, f64)> = None;
                if n <= brute_max && ops.iter().any(|o| o == "pairs" || o == "groups") {
                    let (p, s, _) = measure(|| brute_force_pairs(&h, r));
                    bf = Some((p, s));
                }
                for op in &ops {
                    match op.as_str() {
                        "groups" => {
                            let ((g, st), secs, peak) = measure(|| groups_within_with_stats(&h, r));
                            let mut ng = 0usize;
                            let mut multi = vec![0u32; n];
                            for (i, &x) in g.iter().enumerate() {
                                if x as usize == i {
                                    ng += 1;
                                }
                                multi[x as usize] += 1;
                            }
                            let largest = multi.iter().max().copied().unwrap_or(0);
                            let (bs, sp) = match &bf {
                                Some((p, bs)) => {
                                    let (bg, ufs, _) = measure(|| groups_from_pairs(n, p));
                                    assert_eq!(bg, g, "groups mismatch {data} {n} {r}");
                                    let total = bs + ufs;
                                    (format!("{total:.3}"), format!("{:.1}x", total / secs))
                                }
                                None => ("-".into(), "-".into()),
                            };
                            println!(
                                "{:<9} {:>8} {:>2} {:<7} {:>8.3} {:>11} {:>9.1} {:>8} {:>9.0} {:>8} {:>8}  {}",
                                data,
                                n,
                                r,
                                "groups",
                                secs,
                                format!("{ng}g/max{largest}"),
                                st.compares as f64 / n as f64,
                                st.distinct,
                                peak,
                                bs,
                                sp,
                                st.layout
                            );
                        }
                        "pairs" => {
                            let ((p, st), secs, peak) = measure(|| pairs_within_with_stats(&h, r));
                            let (bs, sp) = match &bf {
                                Some((bp, bs)) => {
                                    assert_eq!(bp, &p, "pairs mismatch {data} {n} {r}");
                                    (format!("{bs:.3}"), format!("{:.1}x", bs / secs))
                                }
                                None => ("-".into(), "-".into()),
                            };
                            println!(
                                "{:<9} {:>8} {:>2} {:<7} {:>8.3} {:>11} {:>9.1} {:>8} {:>9.0} {:>8} {:>8}  {}",
                                data,
                                n,
                                r,
                                "pairs",
                                secs,
                                p.len(),
                                st.compares as f64 / n as f64,
                                st.distinct,
                                peak,
                                bs,
                                sp,
                                st.layout
                            );
                        }
                        _ => panic!("unknown op {op}"),
                    }
                }
                if across {
                    // new batch of 1% against the rest
                    let split = n - n / 100;
                    let (idx, q) = h.split_at(split);
                    let ((p, st), secs, peak) = measure(|| pairs_across_with_stats(q, idx, r));
                    let (ix, build, _) = measure(|| HammingIndex::new(idx, r));
                    let (pi, qsecs, _) = measure(|| ix.query_batch(q, r));
                    assert_eq!(pi, p);
                    let bs = if n <= brute_max {
                        let (bp, bs, _) = measure(|| brute_force_across(q, idx, r));
                        assert_eq!(bp, p);
                        format!("{bs:.3}")
                    } else {
                        "-".into()
                    };
                    println!(
                        "{:<9} {:>8} {:>2} {:<7} {:>8.3} {:>11} {:>9.1} {:>8} {:>9.0} {:>8} {:>8}  {} | HammingIndex build {:.3}s + query {:.3}s ({})",
                        data,
                        n,
                        r,
                        "across",
                        secs,
                        p.len(),
                        st.compares as f64 / q.len() as f64,
                        st.distinct,
                        peak,
                        bs,
                        "",
                        st.layout,
                        build,
                        qsecs,
                        ix.layout()
                    );
                }
            }
        }
    }
}
