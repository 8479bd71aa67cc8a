//! The join engine: per block, the items are sorted into bucket tables and every non-empty
//! bucket is joined with its probe partners; a bucket pair is verified by a kernel or, when it
//! is hot, searched again on the bits not yet indexed. `run_top` is the parallel top level.

use super::Env;
use super::kernels::{Cond, leaf, leaf_work};
use super::planner::plan;
use super::sinks::Sink;
use super::tables::{Side, Table, describe, patterns};
use rayon::prelude::*;
use std::ops::Range;

/// Groups: check "already all connected" before work of at least this size.
const SKIP_MIN: usize = 256;

/// One bucket pair: verify directly, or recurse on the remaining free bits.
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
#[allow(clippy::too_many_arguments)] // one block's tables and bounds; a struct would be unpacked here at once
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
        process_range(
            env,
            &pats,
            &ta,
            tb.as_ref(),
            &nz,
            free_next,
            r - used,
            &conds_k,
            sink,
        );
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
pub(super) fn run_top<S, O, M, F>(
    env: &Env,
    a: Side,
    b: Option<Side>,
    make: M,
    finish: F,
) -> (Vec<O>, String)
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
                process_range(
                    env, pats, ta, tb, &nz[ch], free_next, r_base, conds_ref, &mut s,
                );
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
