//! The layout planner: which blocks of bits to index for a (sub-)problem, or a plain nested
//! loop.
//!
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

use super::Env;
use super::tables::{Block, Side, layout, layout_ordered};

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
pub(super) fn binom_sum(w: u32, t: u32) -> f64 {
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
            (
                na * C_SORT + size * C_TAB + nz_a * m * 0.5 * (c_probe(w) + fa * C_PAIR),
                rate,
            )
        }
        Some(nb) => {
            let fb = 1.0 - (-nb / size).exp();
            (
                (na + nb) * C_SORT + 2.0 * size * C_TAB + nz_a * m * (c_probe(w) + fb * C_PAIR),
                rate,
            )
        }
    }
}

/// Per-query cost of a prebuilt index block (for [`HammingIndex`]).
pub(super) fn index_block_cost(c_cmp: f64, n: f64, w: u32, t: u32) -> f64 {
    let size = (1u64 << w) as f64;
    let m = binom_sum(w, t);
    m * c_probe(w) + n * m / size * c_cmp + n * C_SORT * 1e-6
}

/// Search the layout space; `cost(w, t)` prices one block. Returns, for each
/// number of blocks, the best `(width, threshold)` list (hi-threshold blocks
/// first) and its cost, cheapest first.
pub(super) fn search_layout(
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
        .map(|&(x, y)| {
            blocks
                .iter()
                .filter(|bk| ((x ^ y) & bk.mask).count_ones() <= bk.t)
                .count()
        })
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
pub(super) fn plan(env: &Env, a: Side, b: Option<Side>, free: u64, r: u32) -> Option<Vec<Block>> {
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
