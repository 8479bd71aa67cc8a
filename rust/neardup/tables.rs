//! The data layout of a search: one side of a join, blocks of bits and their keys, the
//! counting-sorted bucket tables, and exact duplicates collapsed to distinct values.

use rayon::prelude::*;

#[derive(Clone, Copy)]
pub(super) struct Side<'a> {
    pub(super) h: &'a [u64],
    pub(super) id: &'a [u32],
}

impl<'a> Side<'a> {
    #[inline]
    pub(super) fn len(&self) -> usize {
        self.h.len()
    }
}

#[derive(Clone, Copy, Debug)]
struct Run {
    shift: u32,
    mask: u64,
    out: u32,
}

/// A block: a set of (original) bit positions, its width and threshold.
#[derive(Clone, Debug)]
pub(super) struct Block {
    pub(super) mask: u64,
    pub(super) width: u32,
    pub(super) t: u32,
    runs: Vec<Run>,
}

impl Block {
    pub(super) fn new(mask: u64, t: u32) -> Block {
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
    pub(super) fn key(&self, h: u64) -> usize {
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
pub(super) fn layout(free: u64, spec: &[(u32, u32)]) -> Vec<Block> {
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
pub(super) fn layout_ordered(order: &[u32], spec: &[(u32, u32)]) -> Vec<Block> {
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
    masks
        .iter()
        .zip(spec)
        .map(|(&m, s)| Block::new(m, s.1))
        .collect()
}

/// All `w`-bit values with at most `t` bits set, by popcount then value.
pub(super) fn patterns(w: u32, t: u32) -> Vec<u32> {
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
pub(super) struct Table {
    pub(super) h: Vec<u64>,
    pub(super) id: Vec<u32>,
    /// `off[v]..off[v + 1]` is bucket `v`; length `2^w + 1`.
    off: Vec<u32>,
}

impl Table {
    pub(super) fn build(s: Side, blk: &Block) -> Table {
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
    pub(super) fn bucket(&self, v: usize) -> (usize, usize) {
        (self.off[v] as usize, self.off[v + 1] as usize)
    }

    #[inline]
    pub(super) fn side(&self, lo: usize, hi: usize) -> Side<'_> {
        Side {
            h: &self.h[lo..hi],
            id: &self.id[lo..hi],
        }
    }

    pub(super) fn nonempty(&self) -> Vec<u32> {
        let size = self.off.len() - 1;
        (0..size)
            .filter(|&v| self.off[v + 1] > self.off[v])
            .map(|v| v as u32)
            .collect()
    }
}

pub(super) fn describe(blocks: &[Block]) -> String {
    if blocks.is_empty() {
        return "nested loop".to_string();
    }
    let parts: Vec<String> = blocks
        .iter()
        .map(|b| format!("{}b/t{}", b.width, b.t))
        .collect();
    format!("{} blocks [{}]", blocks.len(), parts.join(" "))
}

/// Distinct values (ascending) and, for each, its original indices (ascending).
pub(super) struct Distinct {
    pub(super) values: Vec<u64>,
    start: Vec<u32>,
    pub(super) members: Vec<u32>,
}

impl Distinct {
    pub(super) fn new(hashes: &[u64]) -> Distinct {
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

    pub(super) fn len(&self) -> usize {
        self.values.len()
    }

    #[inline]
    pub(super) fn members(&self, d: u32) -> &[u32] {
        &self.members[self.start[d as usize] as usize..self.start[d as usize + 1] as usize]
    }

    pub(super) fn ids(&self) -> Vec<u32> {
        (0..self.len() as u32).collect()
    }
}
