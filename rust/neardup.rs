//! # neardup — exact Hamming-radius search over 64-bit perceptual hashes
//!
//! Finds every pair of 64-bit hashes (pHash / dHash of photos) whose Hamming
//! distance `popcount(a ^ b)` is at most `radius`, returning *exactly* what
//! brute force returns, using all cores (rayon).
//!
//! ## Public API
//! * [`pairs_within`] — all `(i, j, d)`, `i < j`, `d <= radius`, sorted by `(i, j)`.
//! * [`pairs_across`] — all `(query_i, index_j, d)` between two sets, sorted.
//! * [`groups_within`] — connected components of the "within radius" graph; the
//!   group id of each input is the smallest input index in its component.
//!   Never materialises the pair list.
//! * [`HammingIndex`] — build once over a set, query many times.
//! * [`brute_force_pairs`] / [`brute_force_across`] — the O(n²) references.
//! * `*_with_stats` variants return [`SearchStats`] (work counters, layout).
//!
//! ## Algorithm
//! 1. **Collapse exact duplicates** (sort + dedup, keep member lists). All
//!    searching runs over the distinct values; results are expanded at the end.
//!    100 000 identical hashes therefore cost one sort.
//! 2. **Multi-index hashing (Norouzi et al.) with the generalised pigeonhole
//!    principle.** The free bits are cut into `m` disjoint blocks `B_k` with
//!    per-block thresholds `t_k`, `sum_k (t_k + 1) = r + 1`. If
//!    `popcount(a ^ b) <= r`, some block has `popcount((a ^ b) & B_k) <= t_k`
//!    (otherwise the blocks alone would contribute `>= r + 1` bits). For each
//!    block the values are counting-sorted by block key into a dense table
//!    (`2^w + 1` offsets); every non-empty bucket `v` is joined with bucket
//!    `v ^ p` for every probe pattern `p` of at most `t_k` bits.
//!    With `m = r + 1` this is classic MIH (exact block matches, `t = 0`);
//!    with fewer blocks the thresholds are spread evenly (`t` and `t + 1`).
//! 3. **Dedup without a global set**: a candidate pair found in block `k` is
//!    reported only if `k` is the *first* block where it satisfies its
//!    threshold, i.e. `popcount(x & B_j) > t_j` for all `j < k` (`x = a ^ b`).
//!    A pair lands in exactly one bucket pair per block, so it is reported
//!    exactly once.
//! 4. **Hot buckets** (one block value shared by very many *distinct* hashes,
//!    e.g. dark/flat frames) are not brute-forced: a bucket pair whose
//!    nested-loop work exceeds `LEAF_MAX` (2^17 checks) and that the planner
//!    can index more cheaply becomes a sub-problem, planned and indexed the
//!    same way (recursively). A pair reported from block `k` differs in at
//!    least `t_j + 1` bits of every earlier block `j`, so the sub-problem
//!    searches only the bits outside blocks `0..=k`, with radius
//!    `r - popcount(p) - sum_{j<k} (t_j + 1)`. The outer "first block"
//!    conditions travel down and are checked at the leaves, so exactness is
//!    preserved.
//! 5. **Verification** is `popcount(a ^ b) <= r` in leaf loops compiled three
//!    ways, chosen at run time: AVX-512 VPOPCNTQ (8 hashes of one bucket held
//!    in a register while the other bucket streams past), scalar POPCNT, or
//!    portable.
//! 6. **Parallelism**: each top-level block's non-empty buckets are cut into
//!    chunks processed by rayon tasks; outputs are sorted at the end, so
//!    results are identical for any thread count. Sub-problems run inside
//!    the task that found them.
//!
//! ## Block layout rule (the planner)
//! For a (sub-)problem with `n_a` (and `n_b`) items, `F` free bits and radius
//! `r`, the planner evaluates every `m` in `1..=min(r + 1, F, 16)` with
//! `T = r + 1 - m` threshold units spread as `rem = T % m` blocks of
//! `t = T / m + 1` ("hi" blocks) and `m - rem` blocks of `t = T / m` ("lo"),
//! and every pair of widths `(w_hi, w_lo)` in `log2(n) - 8 ..= log2(n) + 3`
//! (at most 22 bits, total at most `F`; unused bits are simply not indexed).
//! Per block with `M = sum_{j<=t} C(w, j)` probe patterns it estimates, in
//! units of one scalar POPCNT check (`C_CMP` = 0.35 with AVX-512):
//!
//! ```text
//! build      n * C_SORT + 2^w * C_TAB                       (counting sort + table)
//! probes     nonempty(n, 2^w) * M * (C_PROBE(table size) + P(partner non-empty) * C_PAIR)   (/2 self-join)
//! candidates pairs * M / 2^w * C_CMP                         (pairs = n²/2 self, n_a n_b cross)
//! ```
//! The best layout for each `m` (cheapest six overall) is then re-priced
//! with the candidate rate *measured* on 256 sampled pairs of the actual
//! data (`max(uniform, sampled)`): dense or correlated inputs, where most
//! pairs are candidates in several blocks, fall back to fewer blocks or to a
//! nested loop. If some free bits are clearly unbalanced (share of ones off
//! 1/2 by more than 25% on a sample), each layout is also tried with the
//! bits ordered by balance and dealt round-robin to the blocks, least
//! informative bits left unindexed. A plain nested loop is used whenever it
//! is cheaper than the best layout.
//!
//! Resulting choices for uniform data (self-join): 1M at r = 10 → 4 blocks
//! 17/17/17/13 bits with t = 2/2/2/1 (~2 600 checks per hash); 1M at r = 8
//! → 16/16/16/16, t = 2/1/1/1; 1M at r = 4 → 17/15/15/15, t = 1/0/0/0;
//! 100k at r = 10 → 14/12/12/12/12, t = 2/1/1/1/1; 10k at r = 10 → seven
//! blocks 10/10/10/10/8/8/8, t = 1/1/1/1/0/0/0.
//!
//! ## Grouping
//! [`groups_within`] runs the same search with a union-find sink instead of a
//! pair list: one union-find (union by size + path halving) per rayon worker,
//! merged at the end; bucket pairs / sub-problems whose members are already in
//! one component are skipped, so huge clusters of near-copies do not cost
//! O(k²) unions.

use rayon::prelude::*;
use std::ops::Range;
use std::sync::Mutex;

/// `(i, j, distance)`.
pub type Pair = (u32, u32, u8);

// ---------------------------------------------------------------------------
// Tuning constants
// ---------------------------------------------------------------------------

/// Bucket pairs whose nested-loop work is at most this go straight to a leaf.
const LEAF_MAX: usize = 1 << 17;
/// Groups: check "already all connected" before work of at least this size.
const SKIP_MIN: usize = 256;
/// Widest block (dense table of `2^WMAX + 1` u32 offsets = 16 MiB).
const WMAX: u32 = 22;
/// Most blocks considered.
const MMAX: u32 = 16;
/// Pairs sampled to measure the real candidate rate of a layout.
const SAMPLES: usize = 256;
// Planner cost units (1.0 ~ one scalar POPCNT verification).
const C_SORT: f64 = 8.0;
const C_TAB: f64 = 1.5;
const C_PAIR: f64 = 10.0;

// ---------------------------------------------------------------------------
// Verification kernels
// ---------------------------------------------------------------------------

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kernel {
    Portable,
    Popcnt,
    Avx512,
}

/// Fastest kernel this CPU supports. `NEARDUP_KERNEL=portable|popcnt` in the
/// environment forces a slower one (benchmarking / debugging).
fn best_kernel() -> Kernel {
    match std::env::var("NEARDUP_KERNEL").as_deref() {
        Ok("portable") => return Kernel::Portable,
        #[cfg(target_arch = "x86_64")]
        Ok("popcnt") if std::arch::is_x86_feature_detected!("popcnt") => return Kernel::Popcnt,
        _ => {}
    }
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx512f")
            && std::arch::is_x86_feature_detected!("avx512vpopcntdq")
            && std::arch::is_x86_feature_detected!("popcnt")
        {
            return Kernel::Avx512;
        }
        if std::arch::is_x86_feature_detected!("popcnt") {
            return Kernel::Popcnt;
        }
    }
    Kernel::Portable
}

impl Kernel {
    /// Relative cost of one candidate verification.
    fn c_cmp(self) -> f64 {
        match self {
            Kernel::Portable => 3.0,
            Kernel::Popcnt => 1.0,
            Kernel::Avx512 => 0.35,
        }
    }
}

#[derive(Clone, Copy, Debug)]
struct Env {
    /// Global radius (full 64-bit distance), already clamped to 64.
    radius: u32,
    kernel: Kernel,
    /// Bucket pairs up to this much work are verified directly.
    leaf_max: usize,
    /// Tests: always index (never prefer a nested loop) when possible.
    force_plan: bool,
}

impl Env {
    fn new(radius: u32) -> Env {
        Env {
            radius: radius.min(64),
            kernel: best_kernel(),
            leaf_max: LEAF_MAX,
            force_plan: false,
        }
    }
}

/// "Pair must NOT satisfy an earlier block": `popcount(x & mask) > t`.
#[derive(Clone, Copy, Debug)]
struct Cond {
    mask: u64,
    t: u32,
}

#[derive(Clone, Copy)]
struct Side<'a> {
    h: &'a [u64],
    id: &'a [u32],
}

impl<'a> Side<'a> {
    #[inline]
    fn len(&self) -> usize {
        self.h.len()
    }
}

/// Work counters (diagnostics).
#[derive(Clone, Copy, Debug, Default)]
struct Counters {
    compares: u64,
    leaves: u64,
    nodes: u64,
}

impl Counters {
    fn add(&mut self, o: &Counters) {
        self.compares += o.compares;
        self.leaves += o.leaves;
        self.nodes += o.nodes;
    }
}

trait Sink {
    const GROUPS: bool;
    fn emit(&mut self, a: u32, b: u32, d: u32);
    /// Groups only: are all ids (of `a` and `b`) already in one component?
    fn all_connected(&mut self, _a: &[u32], _b: Option<&[u32]>) -> bool {
        false
    }
    fn counters(&mut self) -> &mut Counters;
}

#[inline(always)]
fn hit<S: Sink>(x: u64, d: u32, ai: u32, bi: u32, conds: &[Cond], sink: &mut S) {
    if conds.iter().all(|c| (x & c.mask).count_ones() > c.t) {
        sink.emit(ai, bi, d);
    }
}

#[inline(always)]
fn leaf_body<S: Sink>(
    radius: u32,
    a: Side,
    b: Option<Side>,
    rows: Range<usize>,
    conds: &[Cond],
    sink: &mut S,
) {
    match b {
        None => {
            for i in rows {
                let x = a.h[i];
                let xi = a.id[i];
                let rest = &a.h[i + 1..];
                let rest_id = &a.id[i + 1..];
                for (j, &y) in rest.iter().enumerate() {
                    let z = x ^ y;
                    let d = z.count_ones();
                    if d <= radius {
                        hit(z, d, xi, rest_id[j], conds, sink);
                    }
                }
            }
        }
        Some(b) => {
            for i in rows {
                let x = a.h[i];
                let xi = a.id[i];
                for (j, &y) in b.h.iter().enumerate() {
                    let z = x ^ y;
                    let d = z.count_ones();
                    if d <= radius {
                        hit(z, d, xi, b.id[j], conds, sink);
                    }
                }
            }
        }
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "popcnt")]
unsafe fn leaf_popcnt<S: Sink>(
    radius: u32,
    a: Side,
    b: Option<Side>,
    rows: Range<usize>,
    conds: &[Cond],
    sink: &mut S,
) {
    leaf_body(radius, a, b, rows, conds, sink)
}

/// AVX-512 leaf: 8 hashes of the B side (or of A itself, for a self-join)
/// stay in a register while a tile of A rows is streamed past them.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512vpopcntdq,popcnt")]
unsafe fn leaf_avx512<S: Sink>(
    radius: u32,
    a: Side,
    b: Option<Side>,
    rows: Range<usize>,
    conds: &[Cond],
    sink: &mut S,
) {
    use std::arch::x86_64::*;
    const ROW_TILE: usize = 2048;
    let rv = _mm512_set1_epi64(radius as i64);
    let self_join = b.is_none();
    let bs = b.unwrap_or(a);
    let nb = bs.len();
    let bp = bs.h.as_ptr() as *const i64;
    let mut r0 = rows.start;
    while r0 < rows.end {
        let r1 = (r0 + ROW_TILE).min(rows.end);
        let mut jb = if self_join { r0 + 1 } else { 0 };
        while jb < nb {
            let cnt = (nb - jb).min(8);
            let lm: __mmask8 = if cnt == 8 { 0xFF } else { ((1u32 << cnt) - 1) as u8 };
            // SAFETY: masked load of lanes jb..jb+cnt, all in bounds.
            let vb = unsafe { _mm512_maskz_loadu_epi64(lm, bp.add(jb)) };
            // self-join: rows i < j only, so i < jb + cnt - 1
            let iend = if self_join { r1.min(jb + cnt - 1) } else { r1 };
            for i in r0..iend {
                let x = a.h[i];
                let mut lmi = lm;
                if self_join && i >= jb {
                    lmi &= (0xFFu32 << (i - jb + 1)) as u8;
                }
                let xv = _mm512_set1_epi64(x as i64);
                let c = _mm512_popcnt_epi64(_mm512_xor_si512(vb, xv));
                let mut m = _mm512_mask_cmple_epu64_mask(lmi, c, rv);
                while m != 0 {
                    let k = jb + m.trailing_zeros() as usize;
                    m &= m - 1;
                    let z = x ^ bs.h[k];
                    hit(z, z.count_ones(), a.id[i], bs.id[k], conds, sink);
                }
            }
            jb += 8;
        }
        r0 = r1;
    }
}

/// Number of candidate pairs a leaf over `rows` verifies.
#[inline]
fn leaf_work(n_a: usize, n_b: Option<usize>, rows: &Range<usize>) -> u64 {
    let k = rows.len() as u64;
    match n_b {
        Some(nb) => k * nb as u64,
        None => {
            // sum_{i in rows} (n - 1 - i)
            let (r0, r1) = (rows.start as u64, rows.end as u64);
            if k == 0 {
                return 0;
            }
            k * (n_a as u64 - 1) - (r0 + r1 - 1) * k / 2
        }
    }
}

/// Verify every candidate pair of `rows` of `a` against the rest of `a`
/// (self) or all of `b` (cross).
fn leaf<S: Sink>(
    env: &Env,
    a: Side,
    b: Option<Side>,
    rows: Range<usize>,
    conds: &[Cond],
    sink: &mut S,
) {
    {
        let c = sink.counters();
        c.compares += leaf_work(a.len(), b.map(|b| b.len()), &rows);
        c.leaves += 1;
    }
    match env.kernel {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: Kernel::Avx512 is only selected after run-time detection.
        Kernel::Avx512 => unsafe { leaf_avx512(env.radius, a, b, rows, conds, sink) },
        #[cfg(target_arch = "x86_64")]
        // SAFETY: Kernel::Popcnt is only selected after run-time detection.
        Kernel::Popcnt => unsafe { leaf_popcnt(env.radius, a, b, rows, conds, sink) },
        _ => leaf_body(env.radius, a, b, rows, conds, sink),
    }
}

// ---------------------------------------------------------------------------
// Blocks, layout planner, tables
// ---------------------------------------------------------------------------

#[derive(Clone, Copy, Debug)]
struct Run {
    shift: u32,
    mask: u64,
    out: u32,
}

/// A block: a set of (original) bit positions, its width and threshold.
#[derive(Clone, Debug)]
struct Block {
    mask: u64,
    width: u32,
    t: u32,
    runs: Vec<Run>,
}

impl Block {
    fn new(mask: u64, t: u32) -> Block {
        let mut runs = Vec::new();
        let mut m = mask;
        let mut out = 0;
        while m != 0 {
            let shift = m.trailing_zeros();
            let len = (m >> shift).trailing_ones();
            let lowmask = if len == 64 { !0 } else { (1u64 << len) - 1 };
            runs.push(Run {
                shift,
                mask: lowmask,
                out,
            });
            out += len;
            m &= !(lowmask << shift);
        }
        Block {
            mask,
            width: mask.count_ones(),
            t,
            runs,
        }
    }

    /// Block value of `h` (its block bits packed into the low `width` bits).
    #[inline]
    fn key(&self, h: u64) -> usize {
        if self.runs.len() == 1 {
            let r = self.runs[0];
            ((h >> r.shift) & r.mask) as usize
        } else {
            let mut k = 0u64;
            for r in &self.runs {
                k |= ((h >> r.shift) & r.mask) << r.out;
            }
            k as usize
        }
    }
}

/// Cut `free` (ascending bit order) into consecutive blocks of the given
/// `(width, threshold)`; left-over high free bits are not indexed.
fn layout(free: u64, spec: &[(u32, u32)]) -> Vec<Block> {
    let mut bits = free;
    spec.iter()
        .map(|&(w, t)| {
            let mut mask = 0u64;
            for _ in 0..w {
                let b = bits & bits.wrapping_neg();
                mask |= b;
                bits ^= b;
            }
            Block::new(mask, t)
        })
        .collect()
}

/// Like [`layout`], but with the free bits given best-first (`order`): bits
/// are dealt round-robin to the blocks, so every block gets its share of the
/// informative bits, and the least informative bits are left unindexed.
fn layout_ordered(order: &[u32], spec: &[(u32, u32)]) -> Vec<Block> {
    let mut quota: Vec<u32> = spec.iter().map(|s| s.0).collect();
    let mut masks = vec![0u64; spec.len()];
    let mut k = 0usize;
    for &bit in order {
        if quota.iter().all(|&q| q == 0) {
            break;
        }
        while quota[k] == 0 {
            k = (k + 1) % spec.len();
        }
        masks[k] |= 1u64 << bit;
        quota[k] -= 1;
        k = (k + 1) % spec.len();
    }
    masks.iter().zip(spec).map(|(&m, s)| Block::new(m, s.1)).collect()
}

/// Free bits ordered by balance (fraction of ones closest to 1/2 first),
/// measured on a sample of the items; `None` when all free bits look
/// balanced (then plain contiguous blocks are used: faster key extraction).
fn bit_order(a: Side, b: Option<Side>, free: u64) -> Option<Vec<u32>> {
    let mut ones = [0u32; 64];
    let mut s = 0u32;
    for side in std::iter::once(a).chain(b) {
        let step = (side.len() / 512).max(1);
        for &h in side.h.iter().step_by(step) {
            let mut x = h & free;
            while x != 0 {
                ones[x.trailing_zeros() as usize] += 1;
                x &= x - 1;
            }
            s += 1;
        }
    }
    if s < 16 {
        return None;
    }
    // imbalance in [0, 1]: 0 = half ones, 1 = constant
    let imb = |bit: u32| (2.0 * ones[bit as usize] as f64 - s as f64).abs() / s as f64;
    let mut bits: Vec<u32> = (0..64).filter(|&b| free >> b & 1 == 1).collect();
    if bits.iter().all(|&b| imb(b) <= 0.25) {
        return None;
    }
    bits.sort_by(|&x, &y| imb(x).total_cmp(&imb(y)).then(x.cmp(&y)));
    Some(bits)
}

/// `sum_{j <= t} C(w, j)` — number of probe patterns.
fn binom_sum(w: u32, t: u32) -> f64 {
    let mut c = 1.0f64;
    let mut s = 1.0f64;
    for j in 1..=t.min(w) {
        c = c * (w - j + 1) as f64 / j as f64;
        s += c;
    }
    s
}

fn c_probe(w: u32) -> f64 {
    let bytes = 4u64 << w;
    if bytes <= 1 << 20 {
        3.0
    } else if bytes <= 16 << 20 {
        10.0
    } else {
        30.0
    }
}

/// Cost of one block excluding candidate verification, and its candidate
/// rate under the uniform model (expected times a random pair is a candidate).
fn block_cost(na: f64, nb: Option<f64>, w: u32, t: u32) -> (f64, f64) {
    let size = (1u64 << w) as f64;
    let m = binom_sum(w, t);
    let nz_a = size * (1.0 - (-na / size).exp());
    let rate = m / size;
    match nb {
        None => {
            let fa = nz_a / size;
            (na * C_SORT + size * C_TAB + nz_a * m * 0.5 * (c_probe(w) + fa * C_PAIR), rate)
        }
        Some(nb) => {
            let fb = 1.0 - (-nb / size).exp();
            ((na + nb) * C_SORT + 2.0 * size * C_TAB + nz_a * m * (c_probe(w) + fb * C_PAIR), rate)
        }
    }
}

/// Per-query cost of a prebuilt index block (for [`HammingIndex`]).
fn index_block_cost(c_cmp: f64, n: f64, w: u32, t: u32) -> f64 {
    let size = (1u64 << w) as f64;
    let m = binom_sum(w, t);
    m * c_probe(w) + n * m / size * c_cmp + n * C_SORT * 1e-6
}

/// Search the layout space; `cost(w, t)` prices one block. Returns, for each
/// number of blocks, the best `(width, threshold)` list (hi-threshold blocks
/// first) and its cost, cheapest first.
fn search_layout(
    f: u32,
    r: u32,
    n_max: usize,
    mut cost: impl FnMut(u32, u32) -> f64,
) -> Vec<(Vec<(u32, u32)>, f64)> {
    let mut per_m = Vec::new();
    if r >= f {
        return per_m;
    }
    let lg = (n_max.max(2) as f64).log2().ceil() as i64;
    let wlo = (lg - 8).max(1) as u32;
    let whi = ((lg + 3).max(1) as u32).min(WMAX).min(f);
    for m in 1..=(r + 1).min(f).min(MMAX) {
        let mut best: Option<(Vec<(u32, u32)>, f64)> = None;
        let tsum = r + 1 - m;
        let q = tsum / m;
        let rem = tsum % m;
        let hi_range = if rem > 0 { wlo..=whi } else { 0..=0 };
        for wh in hi_range {
            if rem > 0 && wh <= q + 1 {
                continue; // threshold >= width: the block filters nothing
            }
            let lo_range = if rem < m { wlo..=whi } else { 0..=0 };
            for wl in lo_range {
                if rem < m && wl <= q {
                    continue;
                }
                if rem * wh + (m - rem) * wl > f {
                    continue;
                }
                let mut c = 0.0;
                if rem > 0 {
                    c += rem as f64 * cost(wh, q + 1);
                }
                if rem < m {
                    c += (m - rem) as f64 * cost(wl, q);
                }
                if best.as_ref().is_none_or(|b| c < b.1) {
                    let mut spec = vec![(wh, q + 1); rem as usize];
                    spec.extend(std::iter::repeat_n((wl, q), (m - rem) as usize));
                    best = Some((spec, c));
                }
            }
        }
        per_m.extend(best);
    }
    per_m.sort_by(|x, y| x.1.total_cmp(&y.1));
    per_m
}

/// Deterministic sample of candidate pairs (for skew-aware planning).
fn sample_pairs(a: Side, b: Option<Side>) -> Vec<(u64, u64)> {
    let na = a.len() as u64;
    let mut st = na.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ b.map_or(0, |b| b.len() as u64);
    let mut next = move || {
        st = st.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = st;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    };
    (0..SAMPLES)
        .filter_map(|_| {
            let i = (next() % na) as usize;
            match b {
                Some(b) => Some((a.h[i], b.h[(next() % b.len() as u64) as usize])),
                None => {
                    let j = (next() % na) as usize;
                    (i != j).then(|| (a.h[i], a.h[j]))
                }
            }
        })
        .collect()
}

/// Estimated number of candidate verifications per pair for a layout,
/// measured on sampled pairs.
fn sampled_rate(blocks: &[Block], pairs: &[(u64, u64)]) -> f64 {
    if pairs.is_empty() {
        return 0.0;
    }
    let hits: usize = pairs
        .iter()
        .map(|&(x, y)| blocks.iter().filter(|bk| ((x ^ y) & bk.mask).count_ones() <= bk.t).count())
        .sum();
    hits as f64 / pairs.len() as f64
}

/// Plan a (sub-)problem; `None` means "verify with a nested loop".
///
/// Layouts are ranked by the uniform cost model; the best few are then
/// re-priced with the candidate rate measured on a sample of actual pairs
/// (`max(uniform, sampled)`), which catches skewed / dense inputs where most
/// pairs are candidates in several blocks and indexing would cost more than a
/// nested loop. When some free bits are clearly unbalanced, each layout is
/// also tried with the bits ordered by balance (see [`layout_ordered`]).
fn plan(env: &Env, a: Side, b: Option<Side>, free: u64, r: u32) -> Option<Vec<Block>> {
    let f = free.count_ones();
    let c_cmp = env.kernel.c_cmp();
    let naf = a.len() as f64;
    let nbf = b.map(|x| x.len() as f64);
    let n_max = a.len().max(b.map_or(0, |b| b.len()));
    let pairs = match nbf {
        None => naf * (naf - 1.0) * 0.5,
        Some(nbf) => naf * nbf,
    };
    // Lower bound on any index: sorting the items into one block table.
    // If even that costs more than verifying every pair, skip planning.
    let leaf_cost = pairs * c_cmp;
    let min_build = (naf + nbf.unwrap_or(0.0)) * C_SORT;
    if !env.force_plan && leaf_cost <= min_build {
        return None;
    }
    let cands = search_layout(f, r, n_max, |w, t| {
        let (o, rate) = block_cost(naf, nbf, w, t);
        o + pairs * rate * c_cmp
    });
    if cands.is_empty() {
        return None;
    }
    let sp = sample_pairs(a, b);
    let order = bit_order(a, b, free);
    let mut best: Option<(Vec<Block>, f64)> = None;
    for (spec, _) in cands.iter().take(6) {
        let mut over = 0.0;
        let mut urate = 0.0;
        for &(w, t) in spec.iter() {
            let (o, rate) = block_cost(naf, nbf, w, t);
            over += o;
            urate += rate;
        }
        let mut options = vec![layout(free, spec)];
        if let Some(o) = &order {
            options.push(layout_ordered(o, spec));
        }
        for blocks in options {
            let srate = sampled_rate(&blocks, &sp);
            let cost = over + pairs * urate.max(srate) * c_cmp;
            if best.as_ref().is_none_or(|bb| cost < bb.1) {
                best = Some((blocks, cost));
            }
        }
    }
    let (blocks, cost) = best?;
    let slack = if env.force_plan { 2.0 } else { 1.0 };
    (cost < leaf_cost * slack).then_some(blocks)
}

fn describe(blocks: &[Block]) -> String {
    if blocks.is_empty() {
        return "nested loop".to_string();
    }
    let parts: Vec<String> = blocks
        .iter()
        .map(|b| format!("{}b/t{}", b.width, b.t))
        .collect();
    format!("{} blocks [{}]", blocks.len(), parts.join(" "))
}

/// All `w`-bit values with at most `t` bits set, by popcount then value.
fn patterns(w: u32, t: u32) -> Vec<u32> {
    let mut out = vec![0u32];
    for k in 1..=t.min(w) {
        // Gosper's hack over w-bit words with k bits set.
        let mut x: u64 = (1u64 << k) - 1;
        let limit = 1u64 << w;
        while x < limit {
            out.push(x as u32);
            let c = x & x.wrapping_neg();
            let r = x + c;
            x = (((r ^ x) >> 2) / c) | r;
        }
    }
    out
}

/// Items counting-sorted by block key, with bucket offsets.
struct Table {
    h: Vec<u64>,
    id: Vec<u32>,
    /// `off[v]..off[v + 1]` is bucket `v`; length `2^w + 1`.
    off: Vec<u32>,
}

impl Table {
    fn build(s: Side, blk: &Block) -> Table {
        let size = 1usize << blk.width;
        let n = s.len();
        let keys: Vec<u32> = s.h.iter().map(|&h| blk.key(h) as u32).collect();
        let mut off = vec![0u32; size + 1];
        for &k in &keys {
            off[k as usize + 1] += 1;
        }
        for v in 0..size {
            off[v + 1] += off[v];
        }
        let mut h = vec![0u64; n];
        let mut id = vec![0u32; n];
        // scatter using off[k] as a cursor; afterwards off[k] = end of bucket k
        for (i, &k) in keys.iter().enumerate() {
            let p = off[k as usize] as usize;
            h[p] = s.h[i];
            id[p] = s.id[i];
            off[k as usize] += 1;
        }
        off.copy_within(0..size, 1);
        off[0] = 0;
        Table { h, id, off }
    }

    #[inline]
    fn bucket(&self, v: usize) -> (usize, usize) {
        (self.off[v] as usize, self.off[v + 1] as usize)
    }

    #[inline]
    fn side(&self, lo: usize, hi: usize) -> Side<'_> {
        Side {
            h: &self.h[lo..hi],
            id: &self.id[lo..hi],
        }
    }

    fn nonempty(&self) -> Vec<u32> {
        let size = self.off.len() - 1;
        (0..size)
            .filter(|&v| self.off[v + 1] > self.off[v])
            .map(|v| v as u32)
            .collect()
    }
}

// ---------------------------------------------------------------------------
// The join engine
// ---------------------------------------------------------------------------

/// One bucket pair: verify directly, or recurse on the remaining free bits.
#[allow(clippy::too_many_arguments)]
#[inline]
fn child<S: Sink>(
    env: &Env,
    a: Side,
    b: Option<Side>,
    free: u64,
    r: u32,
    conds: &[Cond],
    sink: &mut S,
) {
    let work = leaf_work(a.len(), b.map(|b| b.len()), &(0..a.len())) as usize;
    if work == 0 {
        return;
    }
    if work <= env.leaf_max {
        if S::GROUPS && work >= SKIP_MIN && sink.all_connected(a.id, b.map(|b| b.id)) {
            return;
        }
        leaf(env, a, b, 0..a.len(), conds, sink);
    } else {
        join_node(env, a, b, free, r, conds, sink);
    }
}

/// Join the non-empty A buckets `nz` against their probe partners.
#[allow(clippy::too_many_arguments)]
fn process_range<S: Sink>(
    env: &Env,
    pats: &[u32],
    ta: &Table,
    tb: Option<&Table>,
    nz: &[u32],
    free_next: u64,
    r: u32,
    conds: &[Cond],
    sink: &mut S,
) {
    for &p in pats {
        let rc = r - p.count_ones();
        for &v in nz {
            let v = v as usize;
            let (a0, a1) = ta.bucket(v);
            let u = v ^ p as usize;
            match tb {
                None => {
                    if p == 0 {
                        child(env, ta.side(a0, a1), None, free_next, rc, conds, sink);
                    } else if v < u {
                        let (b0, b1) = ta.bucket(u);
                        if b1 > b0 {
                            let bs = ta.side(b0, b1);
                            child(env, ta.side(a0, a1), Some(bs), free_next, rc, conds, sink);
                        }
                    }
                }
                Some(tb) => {
                    let (b0, b1) = tb.bucket(u);
                    if b1 > b0 {
                        let bs = tb.side(b0, b1);
                        child(env, ta.side(a0, a1), Some(bs), free_next, rc, conds, sink);
                    }
                }
            }
        }
    }
}

/// Sequential (sub-)problem: all pairs of `a` (or `a` x `b`) within radius
/// `r` on the `free` bits (the global radius is checked at the leaves).
fn join_node<S: Sink>(
    env: &Env,
    a: Side,
    b: Option<Side>,
    free: u64,
    r: u32,
    conds: &[Cond],
    sink: &mut S,
) {
    if S::GROUPS && sink.all_connected(a.id, b.map(|b| b.id)) {
        return;
    }
    let Some(blocks) = plan(env, a, b, free, r) else {
        leaf(env, a, b, 0..a.len(), conds, sink);
        return;
    };
    sink.counters().nodes += 1;
    let mut conds_k: Vec<Cond> = conds.to_vec();
    // Pairs reported from block k differ in >= t_j + 1 bits of every earlier
    // block j, so the child searches the bits outside blocks 0..=k with the
    // radius reduced by sum_{j<k} (t_j + 1) (always >= t_k, never negative).
    let mut done_mask = 0u64;
    let mut used = 0u32;
    for blk in &blocks {
        let ta = Table::build(a, blk);
        let tb = b.map(|b| Table::build(b, blk));
        let nz = ta.nonempty();
        let pats = patterns(blk.width, blk.t);
        done_mask |= blk.mask;
        let free_next = free & !done_mask;
        process_range(env, &pats, &ta, tb.as_ref(), &nz, free_next, r - used, &conds_k, sink);
        used += blk.t + 1;
        conds_k.push(Cond {
            mask: blk.mask,
            t: blk.t,
        });
    }
}

/// Split triangular (self) or rectangular rows into ~`parts` equal-work ranges.
fn row_ranges(n: usize, tri: bool, parts: usize) -> Vec<Range<usize>> {
    let parts = parts.max(1);
    if n == 0 {
        return Vec::new();
    }
    let mut out = Vec::new();
    if !tri {
        let step = n.div_ceil(parts);
        let mut s = 0;
        while s < n {
            out.push(s..(s + step).min(n));
            s += step;
        }
        return out;
    }
    let total = n as f64 * (n as f64 - 1.0) / 2.0;
    let target = (total / parts as f64).max(1.0);
    let mut s = 0;
    let mut acc = 0.0;
    for i in 0..n {
        acc += (n - 1 - i) as f64;
        if acc >= target {
            out.push(s..i + 1);
            s = i + 1;
            acc = 0.0;
        }
    }
    if s < n {
        out.push(s..n);
    }
    out
}

/// Chunks of the non-empty bucket list with roughly `target` A-items each.
fn chunk_nz(ta: &Table, nz: &[u32], target: usize) -> Vec<Range<usize>> {
    let mut out = Vec::new();
    let mut s = 0;
    let mut acc = 0usize;
    for (i, &v) in nz.iter().enumerate() {
        let (lo, hi) = ta.bucket(v as usize);
        acc += hi - lo;
        if acc >= target {
            out.push(s..i + 1);
            s = i + 1;
            acc = 0;
        }
    }
    if s < nz.len() {
        out.push(s..nz.len());
    }
    out
}

/// Parallel top level. `make` creates a sink inside each rayon task and
/// `finish` turns it into that task's output.
fn run_top<S, O, M, F>(env: &Env, a: Side, b: Option<Side>, make: M, finish: F) -> (Vec<O>, String)
where
    S: Sink,
    O: Send,
    M: Fn() -> S + Sync,
    F: Fn(S) -> O + Sync,
{
    let threads = rayon::current_num_threads().max(1);
    let r = env.radius;
    let Some(blocks) = plan(env, a, b, !0u64, r) else {
        let ranges = row_ranges(a.len(), b.is_none(), threads * 16);
        let outs = ranges
            .into_par_iter()
            .map(|rows| {
                let mut s = make();
                leaf(env, a, b, rows, &[], &mut s);
                finish(s)
            })
            .collect();
        return (outs, describe(&[]));
    };
    let mut outs = Vec::new();
    let mut conds: Vec<Cond> = Vec::new();
    let mut done_mask = 0u64;
    let mut used = 0u32;
    for blk in &blocks {
        let (ta, tb) = rayon::join(|| Table::build(a, blk), || b.map(|b| Table::build(b, blk)));
        let nz = ta.nonempty();
        let pats = patterns(blk.width, blk.t);
        let target = (a.len() / (threads * 16)).max(512);
        let chunks = chunk_nz(&ta, &nz, target);
        done_mask |= blk.mask;
        let free_next = !done_mask;
        let r_base = r - used;
        let (ta, tb, nz, pats, conds_ref) = (&ta, tb.as_ref(), &nz, &pats, &conds);
        let part: Vec<O> = chunks
            .into_par_iter()
            .map(|ch| {
                let mut s = make();
                s.counters().nodes += 1;
                process_range(env, pats, ta, tb, &nz[ch], free_next, r_base, conds_ref, &mut s);
                finish(s)
            })
            .collect();
        outs.extend(part);
        used += blk.t + 1;
        conds.push(Cond {
            mask: blk.mask,
            t: blk.t,
        });
    }
    (outs, describe(&blocks))
}

// ---------------------------------------------------------------------------
// Sinks
// ---------------------------------------------------------------------------

struct PairSink {
    out: Vec<Pair>,
    normalize: bool,
    c: Counters,
}

impl Sink for PairSink {
    const GROUPS: bool = false;
    #[inline]
    fn emit(&mut self, a: u32, b: u32, d: u32) {
        if self.normalize && a > b {
            self.out.push((b, a, d as u8));
        } else {
            self.out.push((a, b, d as u8));
        }
    }
    fn counters(&mut self) -> &mut Counters {
        &mut self.c
    }
}

/// Union-find with union by size and path halving.
struct UnionFind {
    parent: Vec<u32>,
    size: Vec<u32>,
}

impl UnionFind {
    fn new(n: usize) -> UnionFind {
        UnionFind {
            parent: (0..n as u32).collect(),
            size: vec![1; n],
        }
    }

    #[inline]
    fn find(&mut self, mut x: u32) -> u32 {
        loop {
            let p = self.parent[x as usize];
            if p == x {
                return x;
            }
            let gp = self.parent[p as usize];
            self.parent[x as usize] = gp;
            x = gp;
        }
    }

    #[inline]
    fn union(&mut self, a: u32, b: u32) -> bool {
        let (mut ra, mut rb) = (self.find(a), self.find(b));
        if ra == rb {
            return false;
        }
        if self.size[ra as usize] < self.size[rb as usize] {
            std::mem::swap(&mut ra, &mut rb);
        }
        self.parent[rb as usize] = ra;
        self.size[ra as usize] += self.size[rb as usize];
        true
    }
}

/// Per-worker union-find slots (locked per task, never across rayon calls,
/// so the lock is uncontended unless there are more threads than slots).
struct UfSlots {
    slots: Vec<Mutex<Option<UnionFind>>>,
    n: usize,
}

impl UfSlots {
    fn new(n: usize) -> UfSlots {
        let k = rayon::current_num_threads().clamp(1, 64);
        UfSlots {
            slots: (0..k).map(|_| Mutex::new(None)).collect(),
            n,
        }
    }

    fn sink(&self) -> GroupSink<'_> {
        let i = rayon::current_thread_index().unwrap_or(0) % self.slots.len();
        let mut g = self.slots[i].lock().unwrap_or_else(|e| e.into_inner());
        if g.is_none() {
            *g = Some(UnionFind::new(self.n));
        }
        GroupSink {
            g,
            c: Counters::default(),
        }
    }

    /// Merge all slots into one union-find.
    fn merge(self) -> UnionFind {
        let mut ufs: Vec<UnionFind> = self
            .slots
            .into_iter()
            .filter_map(|m| m.into_inner().unwrap_or_else(|e| e.into_inner()))
            .collect();
        let Some(mut base) = ufs.pop() else {
            return UnionFind::new(self.n);
        };
        for mut uf in ufs {
            for i in 0..self.n as u32 {
                let p = uf.find(i);
                if p != i {
                    base.union(i, p);
                }
            }
        }
        base
    }
}

struct GroupSink<'a> {
    g: std::sync::MutexGuard<'a, Option<UnionFind>>,
    c: Counters,
}

impl GroupSink<'_> {
    #[inline]
    fn uf(&mut self) -> &mut UnionFind {
        self.g.as_mut().expect("slot initialised")
    }
}

impl Sink for GroupSink<'_> {
    const GROUPS: bool = true;
    #[inline]
    fn emit(&mut self, a: u32, b: u32, _d: u32) {
        self.uf().union(a, b);
    }
    fn all_connected(&mut self, a: &[u32], b: Option<&[u32]>) -> bool {
        let uf = self.uf();
        let Some(&first) = a.first() else {
            return true;
        };
        let r0 = uf.find(first);
        a.iter().all(|&x| uf.find(x) == r0) && b.is_none_or(|b| b.iter().all(|&x| uf.find(x) == r0))
    }
    fn counters(&mut self) -> &mut Counters {
        &mut self.c
    }
}

// ---------------------------------------------------------------------------
// Exact-duplicate collapsing
// ---------------------------------------------------------------------------

/// Distinct values (ascending) and, for each, its original indices (ascending).
struct Distinct {
    values: Vec<u64>,
    start: Vec<u32>,
    members: Vec<u32>,
}

impl Distinct {
    fn new(hashes: &[u64]) -> Distinct {
        assert!(
            hashes.len() < u32::MAX as usize,
            "neardup: at most 2^32 - 2 hashes"
        );
        let mut v: Vec<u128> = hashes
            .par_iter()
            .enumerate()
            .map(|(i, &h)| ((h as u128) << 32) | i as u128)
            .collect();
        v.par_sort_unstable();
        let mut values = Vec::new();
        let mut start = Vec::new();
        let mut members = Vec::with_capacity(v.len());
        for (k, &x) in v.iter().enumerate() {
            let h = (x >> 32) as u64;
            if values.last() != Some(&h) || k == 0 {
                values.push(h);
                start.push(k as u32);
            }
            members.push(x as u32);
        }
        start.push(v.len() as u32);
        Distinct {
            values,
            start,
            members,
        }
    }

    fn len(&self) -> usize {
        self.values.len()
    }

    #[inline]
    fn members(&self, d: u32) -> &[u32] {
        &self.members[self.start[d as usize] as usize..self.start[d as usize + 1] as usize]
    }

    fn ids(&self) -> Vec<u32> {
        (0..self.len() as u32).collect()
    }
}

#[inline]
fn pair_key(p: &Pair) -> u64 {
    ((p.0 as u64) << 32) | p.1 as u64
}

// ---------------------------------------------------------------------------
// Public API
// ---------------------------------------------------------------------------

/// Diagnostics returned by the `*_with_stats` functions.
#[derive(Clone, Debug, Default)]
pub struct SearchStats {
    /// Number of inputs.
    pub n: usize,
    /// Number of distinct hash values searched.
    pub distinct: usize,
    /// Candidate pairs verified with popcount (over distinct values).
    pub compares: u64,
    /// Leaf (nested-loop) calls.
    pub leaves: u64,
    /// Indexed (sub-)problems, counting each top-level task once.
    pub nodes: u64,
    /// Top-level block layout, e.g. `4 blocks [17b/t2 17b/t2 17b/t2 13b/t1]`.
    pub layout: String,
}

fn stats_from(n: usize, distinct: usize, c: &Counters, layout: String) -> SearchStats {
    SearchStats {
        n,
        distinct,
        compares: c.compares,
        leaves: c.leaves,
        nodes: c.nodes,
        layout,
    }
}

/// All pairs `(i, j, d)` with `i < j` and `d = popcount(h_i ^ h_j) <= radius`,
/// sorted by `(i, j)`. Deterministic regardless of thread count.
pub fn pairs_within(hashes: &[u64], radius: u32) -> Vec<Pair> {
    pairs_within_env(hashes, Env::new(radius)).0
}

/// [`pairs_within`] plus work counters.
pub fn pairs_within_with_stats(hashes: &[u64], radius: u32) -> (Vec<Pair>, SearchStats) {
    pairs_within_env(hashes, Env::new(radius))
}

fn pairs_within_env(hashes: &[u64], env: Env) -> (Vec<Pair>, SearchStats) {
    let n = hashes.len();
    if n < 2 {
        return (Vec::new(), stats_from(n, n, &Counters::default(), String::new()));
    }
    let dd = Distinct::new(hashes);
    let nd = dd.len();
    let ids = dd.ids();
    let mut c = Counters::default();
    let mut layout = String::from("none (radius 0)");
    let mut dpairs: Vec<Pair> = Vec::new();
    if env.radius > 0 && nd >= 2 {
        let a = Side {
            h: &dd.values,
            id: &ids,
        };
        let (outs, lay) = run_top(
            &env,
            a,
            None,
            || PairSink {
                out: Vec::new(),
                normalize: true,
                c: Counters::default(),
            },
            |s| (s.out, s.c),
        );
        layout = lay;
        let total: usize = outs.iter().map(|o| o.0.len()).sum();
        dpairs.reserve_exact(total);
        for (o, oc) in outs {
            dpairs.extend_from_slice(&o);
            c.add(&oc);
        }
    }
    let mut out: Vec<Pair> = if nd == n {
        // no duplicates: distinct id d has the single member members[d]
        dpairs
            .par_iter()
            .map(|&(u, v, d)| {
                let (x, y) = (dd.members[u as usize], dd.members[v as usize]);
                if x < y { (x, y, d) } else { (y, x, d) }
            })
            .collect()
    } else {
        let mut out: Vec<Pair> = (0..nd as u32)
            .into_par_iter()
            .flat_map_iter(|g| {
                let m = dd.members(g);
                (0..m.len()).flat_map(move |i| (i + 1..m.len()).map(move |j| (m[i], m[j], 0u8)))
            })
            .collect();
        out.par_extend(dpairs.par_iter().flat_map_iter(|&(u, v, d)| {
            let mu = dd.members(u);
            let mv = dd.members(v);
            mu.iter().flat_map(move |&x| {
                mv.iter()
                    .map(move |&y| if x < y { (x, y, d) } else { (y, x, d) })
            })
        }));
        out
    };
    out.par_sort_unstable_by_key(pair_key);
    (out, stats_from(n, nd, &c, layout))
}

/// All pairs `(q, j, d)` with `d = popcount(queries[q] ^ index[j]) <= radius`,
/// sorted by `(q, j)`.
pub fn pairs_across(queries: &[u64], index: &[u64], radius: u32) -> Vec<Pair> {
    pairs_across_env(queries, index, Env::new(radius)).0
}

/// [`pairs_across`] plus work counters.
pub fn pairs_across_with_stats(queries: &[u64], index: &[u64], radius: u32) -> (Vec<Pair>, SearchStats) {
    pairs_across_env(queries, index, Env::new(radius))
}

fn pairs_across_env(queries: &[u64], index: &[u64], env: Env) -> (Vec<Pair>, SearchStats) {
    if queries.is_empty() || index.is_empty() {
        return (Vec::new(), SearchStats::default());
    }
    let (dq, di) = rayon::join(|| Distinct::new(queries), || Distinct::new(index));
    let (idq, idi) = (dq.ids(), di.ids());
    let a = Side {
        h: &dq.values,
        id: &idq,
    };
    let b = Side {
        h: &di.values,
        id: &idi,
    };
    let (outs, layout) = run_top(
        &env,
        a,
        Some(b),
        || PairSink {
            out: Vec::new(),
            normalize: false,
            c: Counters::default(),
        },
        |s| (s.out, s.c),
    );
    let mut c = Counters::default();
    let mut dpairs = Vec::new();
    for (o, oc) in outs {
        dpairs.extend_from_slice(&o);
        c.add(&oc);
    }
    let mut out: Vec<Pair> = dpairs
        .par_iter()
        .flat_map_iter(|&(u, v, d)| {
            let mu = dq.members(u);
            let mv = di.members(v);
            mu.iter().flat_map(move |&x| mv.iter().map(move |&y| (x, y, d)))
        })
        .collect();
    out.par_sort_unstable_by_key(pair_key);
    let st = stats_from(queries.len() + index.len(), dq.len() + di.len(), &c, layout);
    (out, st)
}

/// Connected components of the graph "popcount(h_i ^ h_j) <= radius".
/// Returns one group id per input: the smallest input index in its component.
/// Never materialises the pairs.
pub fn groups_within(hashes: &[u64], radius: u32) -> Vec<u32> {
    groups_within_env(hashes, Env::new(radius)).0
}

/// [`groups_within`] plus work counters.
pub fn groups_within_with_stats(hashes: &[u64], radius: u32) -> (Vec<u32>, SearchStats) {
    groups_within_env(hashes, Env::new(radius))
}

fn groups_within_env(hashes: &[u64], env: Env) -> (Vec<u32>, SearchStats) {
    let n = hashes.len();
    if n == 0 {
        return (Vec::new(), SearchStats::default());
    }
    let dd = Distinct::new(hashes);
    let nd = dd.len();
    let ids = dd.ids();
    let slots = UfSlots::new(nd);
    let mut c = Counters::default();
    let mut layout = String::from("none (radius 0)");
    if env.radius > 0 && nd >= 2 {
        let a = Side {
            h: &dd.values,
            id: &ids,
        };
        let (outs, lay) = run_top(&env, a, None, || slots.sink(), |s| s.c);
        layout = lay;
        for oc in outs {
            c.add(&oc);
        }
    }
    let mut uf = slots.merge();
    // smallest original index per component
    let mut comp_min = vec![u32::MAX; nd];
    let mut root = vec![0u32; nd];
    for d in 0..nd as u32 {
        let r = uf.find(d);
        root[d as usize] = r;
        let first = dd.members(d)[0];
        if first < comp_min[r as usize] {
            comp_min[r as usize] = first;
        }
    }
    let mut out = vec![0u32; n];
    for d in 0..nd as u32 {
        let g = comp_min[root[d as usize] as usize];
        for &m in dd.members(d) {
            out[m as usize] = g;
        }
    }
    (out, stats_from(n, nd, &c, layout))
}

/// Reference: O(n²) brute force, same output contract as [`pairs_within`].
pub fn brute_force_pairs(hashes: &[u64], radius: u32) -> Vec<Pair> {
    let n = hashes.len();
    let mut rows: Vec<Vec<Pair>> = (0..n)
        .into_par_iter()
        .map(|i| brute_row(hashes[i], i as u32, &hashes[i + 1..], i as u32 + 1, radius))
        .collect();
    let mut out = Vec::with_capacity(rows.iter().map(|r| r.len()).sum());
    for r in rows.iter_mut() {
        out.append(r);
    }
    out
}

/// Reference: O(|Q| |I|) brute force, same output contract as [`pairs_across`].
pub fn brute_force_across(queries: &[u64], index: &[u64], radius: u32) -> Vec<Pair> {
    let mut rows: Vec<Vec<Pair>> = (0..queries.len())
        .into_par_iter()
        .map(|i| brute_row(queries[i], i as u32, index, 0, radius))
        .collect();
    let mut out = Vec::with_capacity(rows.iter().map(|r| r.len()).sum());
    for r in rows.iter_mut() {
        out.append(r);
    }
    out
}

/// `(i, j0 + k, d)` for every `ys[k]` within `radius` of `x`.
fn brute_row(x: u64, i: u32, ys: &[u64], j0: u32, radius: u32) -> Vec<Pair> {
    #[inline(always)]
    fn body(x: u64, i: u32, ys: &[u64], j0: u32, radius: u32) -> Vec<Pair> {
        let mut out = Vec::new();
        for (k, &y) in ys.iter().enumerate() {
            let d = (x ^ y).count_ones();
            if d <= radius {
                out.push((i, j0 + k as u32, d as u8));
            }
        }
        out
    }
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "popcnt")]
    unsafe fn body_popcnt(x: u64, i: u32, ys: &[u64], j0: u32, radius: u32) -> Vec<Pair> {
        body(x, i, ys, j0, radius)
    }
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("popcnt") {
        // SAFETY: POPCNT detected at run time.
        return unsafe { body_popcnt(x, i, ys, j0, radius) };
    }
    body(x, i, ys, j0, radius)
}

/// Reference grouping: union-find over [`brute_force_pairs`]; same contract
/// as [`groups_within`].
pub fn brute_force_groups(hashes: &[u64], radius: u32) -> Vec<u32> {
    groups_from_pairs(hashes.len(), &brute_force_pairs(hashes, radius))
}

/// Group ids (smallest member index) from an explicit pair list.
pub fn groups_from_pairs(n: usize, pairs: &[Pair]) -> Vec<u32> {
    let mut uf = UnionFind::new(n);
    for &(i, j, _) in pairs {
        uf.union(i, j);
    }
    let mut min = vec![u32::MAX; n];
    for i in 0..n as u32 {
        let r = uf.find(i) as usize;
        min[r] = min[r].min(i);
    }
    (0..n as u32).map(|i| min[uf.find(i) as usize]).collect()
}

// ---------------------------------------------------------------------------
// HammingIndex: build once, query many times
// ---------------------------------------------------------------------------

/// A multi-index over a fixed set of hashes, for repeated radius queries with
/// `radius <= radius_max` (larger radii fall back to a linear scan).
pub struct HammingIndex {
    n: usize,
    dd: Distinct,
    radius_max: u32,
    blocks: Vec<Block>,
    tables: Vec<Table>,
    /// Probe patterns per block, by popcount; `upto[k][t]` = how many have <= t bits.
    pats: Vec<Vec<u32>>,
    upto: Vec<Vec<usize>>,
    kernel: Kernel,
}

impl HammingIndex {
    /// Index `hashes` for queries up to `radius_max` bits.
    pub fn new(hashes: &[u64], radius_max: u32) -> HammingIndex {
        let radius_max = radius_max.min(64);
        let dd = Distinct::new(hashes);
        let nd = dd.len();
        let kernel = best_kernel();
        let c_cmp = kernel.c_cmp();
        let spec = search_layout(64, radius_max, nd, |w, t| index_block_cost(c_cmp, nd as f64, w, t));
        let blocks = match spec.first() {
            Some((spec, cost)) if *cost < nd as f64 * c_cmp => layout(!0, spec),
            _ => Vec::new(),
        };
        let ids = dd.ids();
        let side = Side {
            h: &dd.values,
            id: &ids,
        };
        let tables: Vec<Table> = blocks.par_iter().map(|b| Table::build(side, b)).collect();
        let pats: Vec<Vec<u32>> = blocks.iter().map(|b| patterns(b.width, b.t)).collect();
        let upto = pats
            .iter()
            .zip(&blocks)
            .map(|(p, b)| {
                (0..=b.t)
                    .map(|t| p.iter().filter(|x| x.count_ones() <= t).count())
                    .collect()
            })
            .collect();
        HammingIndex {
            n: hashes.len(),
            dd,
            radius_max,
            blocks,
            tables,
            pats,
            upto,
            kernel,
        }
    }

    /// Number of indexed hashes.
    pub fn len(&self) -> usize {
        self.n
    }

    /// True if the index holds no hashes.
    pub fn is_empty(&self) -> bool {
        self.n == 0
    }

    /// The radius the index was built for.
    pub fn radius_max(&self) -> u32 {
        self.radius_max
    }

    /// Human-readable block layout.
    pub fn layout(&self) -> String {
        describe(&self.blocks)
    }

    /// Per-block thresholds for `r <= radius_max` (`-1`: block unused).
    fn thresholds(&self, r: u32) -> Vec<i32> {
        let mut ts: Vec<i32> = self.blocks.iter().map(|b| b.t as i32).collect();
        let mut sum: i32 = ts.iter().map(|t| t + 1).sum();
        while sum > r as i32 + 1 {
            let (k, _) = ts
                .iter()
                .enumerate()
                .max_by_key(|&(k, &t)| (t, k))
                .expect("non-empty");
            ts[k] -= 1;
            sum -= 1;
        }
        ts
    }

    /// All indexed positions `j` with `popcount(q ^ h_j) <= radius`, as
    /// `(j, d)` sorted by `j`.
    pub fn query(&self, q: u64, radius: u32) -> Vec<(u32, u8)> {
        let r = radius.min(64);
        let mut hits: Vec<(u32, u8)> = Vec::new();
        match self.kernel {
            #[cfg(target_arch = "x86_64")]
            // SAFETY: only selected after run-time detection of POPCNT.
            Kernel::Avx512 | Kernel::Popcnt => unsafe { self.query_popcnt(q, r, &mut hits) },
            _ => self.query_body(q, r, &mut hits),
        }
        let mut out: Vec<(u32, u8)> = Vec::with_capacity(hits.len());
        for (d, dist) in hits {
            out.extend(self.dd.members(d).iter().map(|&m| (m, dist)));
        }
        out.sort_unstable_by_key(|x| x.0);
        out
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "popcnt")]
    unsafe fn query_popcnt(&self, q: u64, r: u32, hits: &mut Vec<(u32, u8)>) {
        self.query_body(q, r, hits)
    }

    #[inline(always)]
    fn query_body(&self, q: u64, r: u32, hits: &mut Vec<(u32, u8)>) {
        if self.blocks.is_empty() || r > self.radius_max || r >= 64 {
            for (d, &y) in self.dd.values.iter().enumerate() {
                let dist = (q ^ y).count_ones();
                if dist <= r {
                    hits.push((d as u32, dist as u8));
                }
            }
            return;
        }
        let ts = self.thresholds(r);
        for (k, blk) in self.blocks.iter().enumerate() {
            if ts[k] < 0 {
                continue;
            }
            let tab = &self.tables[k];
            let v = blk.key(q);
            for &p in &self.pats[k][..self.upto[k][ts[k] as usize]] {
                let (lo, hi) = tab.bucket(v ^ p as usize);
                for j in lo..hi {
                    let x = q ^ tab.h[j];
                    let dist = x.count_ones();
                    if dist <= r
                        && (0..k).all(|i| ts[i] < 0 || (x & self.blocks[i].mask).count_ones() as i32 > ts[i])
                    {
                        hits.push((tab.id[j], dist as u8));
                    }
                }
            }
        }
    }

    /// Same result as `pairs_across(queries, indexed_hashes, radius)`.
    pub fn query_batch(&self, queries: &[u64], radius: u32) -> Vec<Pair> {
        queries
            .par_iter()
            .enumerate()
            .flat_map_iter(|(qi, &q)| {
                self.query(q, radius)
                    .into_iter()
                    .map(move |(j, d)| (qi as u32, j, d))
            })
            .collect()
    }
}

// ---------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------

#[cfg(test)]
mod tests {
    use super::*;

    /// splitmix64
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
        /// flip exactly `k` distinct random bits
        fn flip(&mut self, mut h: u64, k: u32) -> u64 {
            let mut mask = 0u64;
            while mask.count_ones() < k {
                mask |= 1u64 << self.below(64);
            }
            h ^= mask;
            h
        }
    }

    fn uniform(n: usize, seed: u64) -> Vec<u64> {
        let mut r = Rng(seed);
        (0..n).map(|_| r.next()).collect()
    }

    /// Centres with members at 0..=max_flip bit flips, shuffled with noise.
    fn planted(n: usize, centres: usize, max_flip: u32, seed: u64) -> Vec<u64> {
        let mut r = Rng(seed);
        let cs: Vec<u64> = (0..centres).map(|_| r.next()).collect();
        (0..n)
            .map(|i| {
                if i % 5 == 4 {
                    r.next() // 20% uniform noise
                } else {
                    let c = cs[r.below(centres as u64) as usize];
                    let k = r.below(max_flip as u64 + 1) as u32;
                    r.flip(c, k)
                }
            })
            .collect()
    }

    /// Skewed: many distinct hashes share block values.
    fn skewed(n: usize, kind: u32, seed: u64) -> Vec<u64> {
        let mut r = Rng(seed);
        (0..n)
            .map(|i| match kind {
                // 60% with the low 32 bits zero, the rest random
                0 => {
                    if i % 5 < 3 {
                        r.next() & 0xFFFF_FFFF_0000_0000
                    } else {
                        r.next()
                    }
                }
                // biased bits: P(bit = 1) = 1/8 -> dark frames
                1 => r.next() & r.next() & r.next(),
                // 50% sparse hashes (<= 6 bits set), 50% random
                2 => {
                    if i % 2 == 0 {
                        let k = r.below(7) as u32;
                        r.flip(0, k)
                    } else {
                        r.next()
                    }
                }
                // only 20 free random bits over a fixed pattern
                _ => 0xDEAD_BEEF_0000_0000 | (r.next() & 0x000F_0F0F_0F00_0F0F),
            })
            .collect()
    }

    fn tuned(radius: u32) -> Env {
        let mut e = Env::new(radius);
        e.leaf_max = 48;
        e.force_plan = true;
        e
    }

    /// Engine configurations checked against brute force: the default, a
    /// "forced" one that indexes (and recurses into sub-problems) far more
    /// eagerly than the planner would, and the other verification kernels
    /// (on a subset of radii, to keep debug-mode test time reasonable).
    fn envs(radius: u32) -> Vec<(&'static str, Env)> {
        let mut v = vec![("default", Env::new(radius)), ("forced", tuned(radius))];
        if radius.is_multiple_of(3) {
            let mut q = Env::new(radius);
            q.kernel = Kernel::Portable;
            v.push(("portable", q));
        }
        if radius % 4 == 1 {
            let mut p = tuned(radius);
            p.kernel = Kernel::Portable;
            v.push(("forced-portable", p));
        }
        if radius % 4 == 2 && best_kernel() == Kernel::Avx512 {
            let mut e = tuned(radius);
            e.kernel = Kernel::Popcnt;
            v.push(("forced-popcnt", e));
        }
        v
    }

    fn check_pairs(h: &[u64], radii: impl IntoIterator<Item = u32>, what: &str) {
        for r in radii {
            let bf = brute_force_pairs(h, r);
            for (name, env) in envs(r) {
                let got = pairs_within_env(h, env).0;
                assert_eq!(got.len(), bf.len(), "{what} r={r} env={name}: count");
                assert_eq!(got, bf, "{what} r={r} env={name}");
            }
            assert_eq!(pairs_within(h, r), bf);
        }
    }

    fn check_groups(h: &[u64], radii: impl IntoIterator<Item = u32>, what: &str) {
        for r in radii {
            let bf = brute_force_groups(h, r);
            for (name, env) in envs(r) {
                let got = groups_within_env(h, env).0;
                assert_eq!(got, bf, "{what} r={r} env={name}");
            }
        }
    }

    #[test]
    fn uniform_pairs_match_brute_force() {
        check_pairs(&uniform(3000, 1), 0..=12, "uniform");
        check_pairs(&uniform(257, 2), 0..=12, "uniform small");
    }

    #[test]
    fn planted_pairs_match_brute_force() {
        for r in 0..=12u32 {
            // members at 0..=r+2 flips: pairs just inside and just outside r
            let h = planted(2500, 40, r + 2, 100 + r as u64);
            check_pairs(&h, [r], "planted");
        }
        check_pairs(&planted(3000, 10, 3, 7), [0, 1, 4, 8, 12], "planted tight");
    }

    #[test]
    fn skewed_pairs_match_brute_force() {
        for kind in 0..4 {
            let h = skewed(1500, kind, 50 + kind as u64);
            check_pairs(&h, 0..=12, &format!("skewed{kind}"));
        }
    }

    #[test]
    fn hot_bucket_recursion_matches_brute_force() {
        // 50% of 20k distinct hashes share one 32-bit half: the default
        // planner must recurse into the hot buckets instead of brute-forcing
        // them, and still return exactly the brute-force pairs.
        let h = skewed(20_000, 0, 91);
        for r in [3u32, 6, 12] {
            let bf = brute_force_pairs(&h, r);
            let (got, st) = pairs_within_with_stats(&h, r);
            assert_eq!(got, bf, "hot r={r}");
            let all = (h.len() * (h.len() - 1) / 2) as u64;
            // (at r = 12 the 32 random bits of the hot half make a nested
            // loop over it nearly optimal)
            if r < 12 {
                assert!(st.compares < all / 4, "r={r}: {st:?}");
            }
            assert!(st.nodes > 0, "r={r}: {st:?}");
            assert_eq!(groups_within(&h, r), groups_from_pairs(h.len(), &bf));
        }
    }

    #[test]
    fn groups_match_brute_force() {
        check_groups(&uniform(2000, 3), [0, 4, 10, 12], "uniform");
        for r in [1u32, 3, 6, 8, 10, 12] {
            check_groups(&planted(2500, 60, r + 2, 200 + r as u64), [r], "planted");
        }
        for kind in 0..4 {
            check_groups(&skewed(2000, kind, 60 + kind as u64), [2, 6, 10], "skewed");
        }
    }

    #[test]
    fn across_matches_brute_force() {
        let idx = planted(3000, 50, 8, 11);
        let mut q = planted(700, 50, 8, 12);
        q.extend(skewed(300, 2, 13));
        q.extend_from_slice(&idx[..50]); // exact duplicates across sets
        for r in 0..=12u32 {
            let bf = brute_force_across(&q, &idx, r);
            for (name, env) in envs(r) {
                assert_eq!(pairs_across_env(&q, &idx, env).0, bf, "across r={r} env={name}");
            }
            assert_eq!(pairs_across(&q, &idx, r), bf);
        }
        // very unbalanced sizes
        let few = &q[..5];
        for r in [0u32, 3, 10] {
            assert_eq!(pairs_across(few, &idx, r), brute_force_across(few, &idx, r));
            assert_eq!(pairs_across(&idx, few, r), brute_force_across(&idx, few, r));
        }
    }

    #[test]
    fn index_matches_brute_force() {
        let mut h = planted(4000, 50, 8, 21);
        h.extend(skewed(1000, 0, 22));
        let q = planted(300, 50, 8, 23);
        let ix = HammingIndex::new(&h, 10);
        assert_eq!(ix.len(), h.len());
        for r in 0..=12u32 {
            assert_eq!(ix.query_batch(&q, r), brute_force_across(&q, &h, r), "index r={r}");
        }
        let ix0 = HammingIndex::new(&h, 0);
        assert_eq!(ix0.query_batch(&q, 0), brute_force_across(&q, &h, 0));
        assert!(HammingIndex::new(&[], 5).query(1, 5).is_empty());
    }

    #[test]
    fn edge_cases() {
        let none: Vec<u64> = vec![];
        assert!(pairs_within(&none, 5).is_empty());
        assert!(groups_within(&none, 5).is_empty());
        assert!(pairs_across(&none, &[1, 2], 5).is_empty());
        assert!(pairs_across(&[1, 2], &none, 5).is_empty());
        assert!(pairs_within(&[42], 64).is_empty());
        assert_eq!(groups_within(&[42], 3), vec![0]);
        // all identical
        let same = vec![0xABCD_u64; 300];
        let p = pairs_within(&same, 0);
        assert_eq!(p.len(), 300 * 299 / 2);
        assert_eq!(p, brute_force_pairs(&same, 0));
        assert_eq!(groups_within(&same, 0), vec![0u32; 300]);
        // radius 0 with duplicates scattered
        let mut h = uniform(500, 5);
        for i in 0..100 {
            h[i * 5] = h[i];
        }
        check_pairs(&h, [0, 1], "dups");
        check_groups(&h, [0, 1], "dups");
        // radius 64 (and above): everything
        let h = uniform(150, 6);
        for r in [63u32, 64, 100] {
            let p = pairs_within(&h, r);
            assert_eq!(p, brute_force_pairs(&h, r));
            assert_eq!(pairs_within(&h, r).len(), if r >= 64 { 150 * 149 / 2 } else { p.len() });
            assert_eq!(groups_within(&h, r), vec![0u32; 150]);
        }
        // complementary hashes are at distance 64
        assert_eq!(pairs_within(&[0, !0], 64), vec![(0, 1, 64)]);
        assert!(pairs_within(&[0, !0], 63).is_empty());
        check_pairs(&[0, !0, 0, 1, !1], 0..=64, "tiny");
    }

    #[test]
    fn deterministic_across_thread_counts() {
        let h = planted(5000, 30, 10, 31);
        let run = |t: usize| {
            rayon::ThreadPoolBuilder::new()
                .num_threads(t)
                .build()
                .unwrap()
                .install(|| (pairs_within(&h, 9), groups_within(&h, 9)))
        };
        let a = run(1);
        let b = run(3);
        let c = run(8);
        assert_eq!(a, b);
        assert_eq!(a, c);
        assert_eq!(a.0, brute_force_pairs(&h, 9));
    }

    #[test]
    fn hundred_thousand_identical_group_fast() {
        let mut h = vec![0x1234_5678_9ABC_DEF0u64; 100_000];
        h.push(0x1234_5678_9ABC_DEF1); // one near-copy
        h.push(!0x1234_5678_9ABC_DEF0); // one far away
        let t = std::time::Instant::now();
        let g = groups_within(&h, 10);
        let el = t.elapsed();
        assert!(g[..100_001].iter().all(|&x| x == 0));
        assert_eq!(g[100_001], 100_001);
        // well under a second in release; generous for debug builds
        assert!(el.as_secs_f64() < 5.0, "took {el:?}");
    }

    #[test]
    fn huge_near_copy_cluster_groups() {
        // 20k distinct hashes within 3 bits of one centre: all pairwise
        // distances <= 6, ~2e8 true pairs; grouping must not enumerate them.
        let mut r = Rng(77);
        let c = r.next();
        let mut h: Vec<u64> = (0..20_000).map(|_| {
            let k = r.below(4) as u32;
            r.flip(c, k)
        }).collect();
        h.extend(uniform(5000, 78));
        let t = std::time::Instant::now();
        let (g, st) = groups_within_with_stats(&h, 8);
        let el = t.elapsed();
        assert!(g[..20_000].iter().all(|&x| x == 0));
        // random hashes are (with overwhelming probability) singletons
        let singles = (20_000..h.len()).filter(|&i| g[i] == i as u32).count();
        assert!(singles > 4900);
        assert!(st.compares < 200_000_000, "{st:?}");
        assert!(el.as_secs_f64() < 20.0, "took {el:?}");
    }

    #[test]
    fn patterns_and_blocks() {
        assert_eq!(patterns(4, 1), vec![0, 1, 2, 4, 8]);
        assert_eq!(patterns(5, 2).len() as f64, binom_sum(5, 2));
        assert_eq!(patterns(3, 5).len(), 8);
        let b = Block::new(0b1011_0110, 0);
        assert_eq!(b.width, 5);
        // bits 1,2,4,5,7 -> packed
        assert_eq!(b.key(0b1000_0010), 0b10001);
        let bl = layout(!0, &[(17, 2), (17, 2), (17, 2), (13, 1)]);
        assert_eq!(bl.iter().map(|b| b.mask).fold(0, |a, m| a | m), !0);
        assert_eq!(bl[3].mask, 0xFFF8_0000_0000_0000);
    }

    #[test]
    fn planner_choices() {
        let env = Env::new(10);
        let h = uniform(1_000_000, 9);
        let ids: Vec<u32> = (0..h.len() as u32).collect();
        let side = Side { h: &h, id: &ids };
        let p = plan(&env, side, None, !0, 10).unwrap();
        let s: u32 = p.iter().map(|b| b.t + 1).sum();
        assert_eq!(s, 11, "{}", describe(&p));
        // tiny inputs are verified directly
        let small = Side { h: &h[..10], id: &ids[..10] };
        assert!(plan(&env, small, None, !0, 10).is_none());
        // radius >= free bits: nothing to index
        assert!(plan(&env, side, None, 0xFF, 8).is_none());
        // dense data (only 12 random bits): indexing cannot beat a nested loop
        let dense: Vec<u64> = h[..20_000].iter().map(|x| x & 0xFFF).collect();
        let ds = Side { h: &dense, id: &ids[..20_000] };
        assert!(plan(&env, ds, None, !0, 8).is_none());
    }
}
