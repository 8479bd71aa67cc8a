//! [`HammingIndex`]: the blocks and tables of one set, built once and queried many times.

use super::Pair;
use super::kernels::{Kernel, best_kernel, index_query};
use super::planner::{index_block_cost, search_layout};
use super::tables::{Block, Distinct, Side, Table, describe, layout, patterns};
use rayon::prelude::*;

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
        let spec = search_layout(64, radius_max, nd, |w, t| {
            index_block_cost(c_cmp, nd as f64, w, t)
        });
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
        index_query(self, self.kernel, q, r, &mut hits);
        let mut out: Vec<(u32, u8)> = Vec::with_capacity(hits.len());
        for (d, dist) in hits {
            out.extend(self.dd.members(d).iter().map(|&m| (m, dist)));
        }
        out.sort_unstable_by_key(|x| x.0);
        out
    }

    /// The query over distinct values, `(distinct id, distance)`; run by [`index_query`].
    #[inline(always)]
    pub(super) fn query_body(&self, q: u64, r: u32, hits: &mut Vec<(u32, u8)>) {
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
                        && (0..k).all(|i| {
                            ts[i] < 0 || (x & self.blocks[i].mask).count_ones() as i32 > ts[i]
                        })
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
