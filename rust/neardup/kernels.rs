//! The verification kernels: loops that check `popcount(a ^ b) <= r` for candidate pairs,
//! compiled three ways (AVX-512 VPOPCNTQ, scalar POPCNT, portable) and chosen at run time.
//!
//! Every `unsafe` of the near-duplicate search is in this file: the `#[target_feature]`
//! functions, and the calls to them, sound only after run-time CPU detection.
// The one file exempt from `neardup`'s `deny(unsafe_code)`.
#![allow(unsafe_code)]

use super::index::HammingIndex;
use super::sinks::Sink;
use super::tables::Side;
use super::{Env, Pair};
use std::ops::Range;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Kernel {
    Portable,
    Popcnt,
    Avx512,
}

/// Fastest kernel this CPU supports. `NEARDUP_KERNEL=portable|popcnt` in the
/// environment forces a slower one (benchmarking / debugging).
pub(super) fn best_kernel() -> Kernel {
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
    pub(super) fn c_cmp(self) -> f64 {
        match self {
            Kernel::Portable => 3.0,
            Kernel::Popcnt => 1.0,
            Kernel::Avx512 => 0.35,
        }
    }
}

/// "Pair must NOT satisfy an earlier block": `popcount(x & mask) > t`.
#[derive(Clone, Copy, Debug)]
pub(super) struct Cond {
    pub(super) mask: u64,
    pub(super) t: u32,
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
            let lm: __mmask8 = if cnt == 8 {
                0xFF
            } else {
                ((1u32 << cnt) - 1) as u8
            };
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
pub(super) fn leaf_work(n_a: usize, n_b: Option<usize>, rows: &Range<usize>) -> u64 {
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
pub(super) fn leaf<S: Sink>(
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

/// `(i, j0 + k, d)` for every `ys[k]` within `radius` of `x`.
pub(super) fn brute_row(x: u64, i: u32, ys: &[u64], j0: u32, radius: u32) -> Vec<Pair> {
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

/// [`HammingIndex::query_body`] compiled for `kernel`.
#[inline]
pub(super) fn index_query(
    ix: &HammingIndex,
    kernel: Kernel,
    q: u64,
    r: u32,
    hits: &mut Vec<(u32, u8)>,
) {
    match kernel {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: only selected after run-time detection of POPCNT.
        Kernel::Avx512 | Kernel::Popcnt => unsafe { index_query_popcnt(ix, q, r, hits) },
        _ => ix.query_body(q, r, hits),
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "popcnt")]
unsafe fn index_query_popcnt(ix: &HammingIndex, q: u64, r: u32, hits: &mut Vec<(u32, u8)>) {
    ix.query_body(q, r, hits)
}
