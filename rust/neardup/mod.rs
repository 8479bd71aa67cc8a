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
//! ## Block layout rule
//! See `planner.rs`: a cost model over block counts and widths, re-priced on
//! sampled pairs of the actual data; a nested loop when nothing is cheaper.
//!
//! ## Grouping
//! [`groups_within`] runs the same search with a union-find sink instead of a
//! pair list: one union-find (union by size + path halving) per rayon worker,
//! merged at the end; bucket pairs / sub-problems whose members are already in
//! one component are skipped, so huge clusters of near-copies do not cost
//! O(k²) unions.
//!
//! ## Files
//! * `mod.rs` — this API, the search settings (`Env`), expansion of exact duplicates.
//! * `kernels.rs` — the verification loops; the only file with `unsafe`.
//! * `tables.rs` — blocks of bits and their keys, bucket tables, distinct values.
//! * `planner.rs` — which blocks to index (the layout rule above).
//! * `join.rs` — the recursive bucket join and its parallel top level.
//! * `sinks.rs` — where verified pairs go: a pair list, or union-find groups.
//! * `index.rs` — [`HammingIndex`].
//! * `matching.rs`, `blockjoin.rs` — built on the search: mirror groups, nearest, forests.
//! * `testdata.rs` — synthetic hash sets for the tests and `examples/neardup_bench.rs`.
//! * `tests.rs` — the search against brute force.

// SIMD kernels need `unsafe`; `kernels.rs` is the one file that allows it.
#![deny(unsafe_code)]

pub mod blockjoin;
mod index;
mod join;
mod kernels;
pub mod matching;
mod planner;
mod sinks;
mod tables;
#[doc(hidden)]
pub mod testdata;
#[cfg(test)]
mod tests;

pub use index::HammingIndex;

use join::run_top;
use kernels::{Kernel, best_kernel, brute_row};
use rayon::prelude::*;
use sinks::{Counters, PairSink, UfSlots, UnionFind};
use tables::{Distinct, Side};

/// `(i, j, distance)`.
pub type Pair = (u32, u32, u8);

/// Bucket pairs whose nested-loop work is at most this go straight to a leaf.
const LEAF_MAX: usize = 1 << 17;

/// How one search runs (tests tune `leaf_max`, `force_plan` and `kernel`).
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
        return (
            Vec::new(),
            stats_from(n, n, &Counters::default(), String::new()),
        );
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
pub fn pairs_across_with_stats(
    queries: &[u64],
    index: &[u64],
    radius: u32,
) -> (Vec<Pair>, SearchStats) {
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
            mu.iter()
                .flat_map(move |&x| mv.iter().map(move |&y| (x, y, d)))
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

/// A spanning forest of the within-`radius` graph of one set: `(v, root)` for every hash that is
/// not the smallest of its group (at most one edge per hash, the groups' components).
pub fn forest_within(hashes: &[u64], radius: u32) -> Vec<(u32, u32)> {
    edges_to_roots(&groups_within(hashes, radius), |v| v)
}

/// The forest of a grouping: `(id(v), id(roots[v]))` for every node `v` that is not its group's
/// root, as `roots` come from [`groups_from_pairs`] or [`groups_within`]. At most one edge per
/// node, with the same components as the groups.
fn edges_to_roots(roots: &[u32], id: impl Fn(u32) -> u32) -> Vec<(u32, u32)> {
    roots
        .iter()
        .enumerate()
        .filter(|&(v, &r)| v as u32 != r)
        .map(|(v, &r)| (id(v as u32), id(r)))
        .collect()
}

#[inline]
fn pair_key(p: &Pair) -> u64 {
    ((p.0 as u64) << 32) | p.1 as u64
}
