//! The reduce side of a distributed near-duplicate join (multi-index hashing): a task receives
//! buckets of hashes that share a block key, searches each bucket exactly and returns a spanning
//! forest of everything it found, in the callers' global ids. Pairs found in several buckets
//! (hashes that share several blocks) collapse into the same forest, so the union of all tasks'
//! forests has exactly the components of the pairs.

use super::{Pair, edges_to_roots, groups_from_pairs, groups_within};
use rayon::prelude::*;

/// Buckets up to this size are verified pair by pair (popcount); bigger ones use the indexed
/// search, whose planning costs more than a few thousand popcounts.
const BRUTE_FORCE_MAX: usize = 256;

/// A spanning forest `(id, smallest id of its component)` of the within-`radius` matches inside
/// each bucket. Bucket `b` is `hashes[offsets[b]..offsets[b + 1]]`, with `ids` the global id of
/// each hash (an id may appear in several buckets). At most one edge per id.
pub fn forest_in_buckets(
    hashes: &[u64],
    ids: &[u32],
    offsets: &[usize],
    radius: u32,
) -> Vec<(u32, u32)> {
    assert_eq!(hashes.len(), ids.len(), "one id per hash");
    assert!(
        offsets.windows(2).all(|w| w[0] <= w[1])
            && offsets.last().is_none_or(|&e| e <= hashes.len())
    );
    let edges: Vec<(u32, u32)> = offsets
        .par_windows(2)
        .flat_map_iter(|w| bucket_edges(&hashes[w[0]..w[1]], &ids[w[0]..w[1]], radius))
        .collect();
    forest(&edges)
}

/// Edges from each member of a bucket to the first member of its component inside the bucket.
fn bucket_edges(hashes: &[u64], ids: &[u32], radius: u32) -> Vec<(u32, u32)> {
    if hashes.len() < 2 {
        return Vec::new();
    }
    let roots = if hashes.len() <= BRUTE_FORCE_MAX {
        popcount_groups(hashes, radius)
    } else {
        groups_within(hashes, radius)
    };
    edges_to_roots(&roots, |v| ids[v as usize])
}

/// Every pair checked by popcount on this thread (the bucket is one of many in parallel).
fn popcount_groups(hashes: &[u64], radius: u32) -> Vec<u32> {
    let mut pairs: Vec<Pair> = Vec::new();
    for (i, &a) in hashes.iter().enumerate() {
        for (j, &b) in hashes.iter().enumerate().skip(i + 1) {
            let d = (a ^ b).count_ones();
            if d <= radius {
                pairs.push((i as u32, j as u32, d as u8));
            }
        }
    }
    groups_from_pairs(hashes.len(), &pairs)
}

/// The same components with at most one edge per node, over ids that are sparse and large.
fn forest(edges: &[(u32, u32)]) -> Vec<(u32, u32)> {
    let mut nodes: Vec<u32> = edges.iter().flat_map(|&(a, b)| [a, b]).collect();
    nodes.sort_unstable();
    nodes.dedup();
    let local = |v: u32| nodes.binary_search(&v).expect("every edge end is a node") as u32;
    let links: Vec<Pair> = edges
        .iter()
        .map(|&(a, b)| (local(a), local(b), 0))
        .collect();
    edges_to_roots(&groups_from_pairs(nodes.len(), &links), |v| {
        nodes[v as usize]
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::neardup::brute_force_groups;
    use crate::neardup::matching::components;
    use crate::neardup::testdata::uniform;

    /// Near copies (1-6 bits flipped) of a few hundred hashes, so there are real groups.
    fn with_near_copies(n: usize, seed: u64) -> Vec<u64> {
        let base = uniform(n, seed);
        let flips = uniform(n, seed + 1);
        let mut all = base.clone();
        for (i, (&h, &f)) in base
            .iter()
            .zip(&flips)
            .enumerate()
            .filter(|(i, _)| i % 3 == 0)
        {
            let bits = 1 + (f % 6) as u32;
            let mask = (0..bits).fold(0u64, |m, k| m | 1u64 << ((f >> (8 * k + 8)) % 64));
            all.push(h ^ mask);
            if i % 9 == 0 {
                all.push(h ^ mask ^ (1 << (f % 64)));
            }
        }
        all.sort_unstable();
        all.dedup();
        all
    }

    /// The driver's side in miniature: bucket by each of `radius + 1` blocks (pigeonhole), join
    /// the forests, and compare with brute force over the whole set.
    #[test]
    fn block_buckets_give_the_brute_force_components() {
        for radius in [1u32, 3, 6] {
            let hashes = with_near_copies(3_000, 7 + radius as u64);
            let blocks = radius + 1;
            let width = 64 / blocks;
            let mut keyed: Vec<(u64, u64, u32)> = Vec::new();
            for b in 0..blocks {
                let shift = b * width;
                let bits = if b == blocks - 1 { 64 - shift } else { width };
                let mask = if bits == 64 {
                    u64::MAX
                } else {
                    (1u64 << bits) - 1
                };
                keyed.extend(
                    hashes
                        .iter()
                        .enumerate()
                        .map(|(i, &h)| (((b as u64) << 32) | ((h >> shift) & mask), h, i as u32)),
                );
            }
            keyed.sort_unstable();
            let mut offsets = vec![0];
            offsets.extend((1..keyed.len()).filter(|&i| keyed[i].0 != keyed[i - 1].0));
            offsets.push(keyed.len());
            let (h, ids): (Vec<u64>, Vec<u32>) = keyed.iter().map(|&(_, h, i)| (h, i)).unzip();
            let edges = forest_in_buckets(&h, &ids, &offsets, radius);
            let mut seen = std::collections::HashSet::new();
            assert!(
                edges.iter().all(|&(a, _)| seen.insert(a)),
                "one edge per node"
            );
            assert_eq!(
                components(hashes.len(), &edges),
                brute_force_groups(&hashes, radius),
                "radius {radius}"
            );
        }
    }

    #[test]
    fn big_buckets_use_the_indexed_search_and_agree() {
        let hashes = with_near_copies(2_000, 99);
        let ids: Vec<u32> = (0..hashes.len() as u32).map(|i| i * 7 + 3).collect();
        let edges = forest_in_buckets(&hashes, &ids, &[0, hashes.len()], 5);
        let back: Vec<(u32, u32)> = edges
            .iter()
            .map(|&(a, b)| ((a - 3) / 7, (b - 3) / 7))
            .collect();
        assert_eq!(
            components(hashes.len(), &back),
            brute_force_groups(&hashes, 5)
        );
        assert!(!edges.is_empty());
    }

    #[test]
    fn empty_and_single_buckets_give_no_edges() {
        assert!(forest_in_buckets(&[], &[], &[0], 4).is_empty());
        assert!(forest_in_buckets(&[1, 1 << 40], &[5, 6], &[0, 1, 2], 4).is_empty());
    }
}
