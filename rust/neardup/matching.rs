//! Matching built on the exact search in `neardup`: groups that also join horizontal mirror
//! images, and the nearest indexed hashes per query with a bounded listing.

use super::{HammingIndex, Pair, edges_to_roots, groups_from_pairs, groups_within, pairs_across};
use rayon::prelude::*;

/// Connected components where a picture joins every picture within `radius` bits of it or of its
/// mirror image. `mirrors[i]` is the hash of picture i mirrored. Returns, per picture, the
/// smallest picture index in its component. Never lists pairs, so a group of 100,000 identical
/// (and symmetric) blank frames costs one sort.
pub fn groups_with_mirrors(hashes: &[u64], mirrors: &[u64], radius: u32) -> Vec<u32> {
    assert_eq!(hashes.len(), mirrors.len(), "one mirror hash per hash");
    let n = hashes.len();
    // Nodes 0..n are the pictures, n..2n their mirror images; h_i ~ m_j links i with the mirror of j.
    let nodes: Vec<u64> = hashes.iter().chain(mirrors).copied().collect();
    let roots = groups_within(&nodes, radius);
    // A picture and its mirror image are one picture: join node i with node n + i.
    let links: Vec<Pair> = (0..2 * n as u32)
        .map(|v| (v, roots[v as usize], 0))
        .chain((0..n as u32).map(|i| (i, i + n as u32, 0)))
        .collect();
    // Every component holds a picture node (< n), so its smallest node is a picture.
    let mut groups = groups_from_pairs(2 * n, &links);
    groups.truncate(n);
    groups
}

/// A spanning forest of the matches between two sets, for a search split into tiles (one
/// engine task per pair of chunks): nodes `0..queries.len()` are the queries and
/// `queries.len()..` the indexed hashes; each node of a component with two or more nodes gets one
/// edge `(node, smallest node of its component)`. At most one edge per node, however many pairs
/// a cluster of near-identical hashes makes, and the union of every tile's forest has the same
/// connected components as the pairs themselves.
pub fn forest_across(queries: &[u64], index: &[u64], radius: u32) -> Vec<(u32, u32)> {
    let nq = queries.len() as u32;
    let links: Vec<Pair> = pairs_across(queries, index, radius)
        .into_iter()
        .map(|(q, i, d)| (q, nq + i, d))
        .collect();
    let roots = groups_from_pairs(queries.len() + index.len(), &links);
    edges_to_roots(&roots, |v| v)
}

/// Connected components of `n` nodes joined by `edges`: per node, its component's smallest node.
pub fn components(n: usize, edges: &[(u32, u32)]) -> Vec<u32> {
    let links: Vec<Pair> = edges.iter().map(|&(a, b)| (a, b, 0)).collect();
    groups_from_pairs(n, &links)
}

/// Per query: how many indexed hashes match, and the `k` nearest of them.
pub struct Nearest {
    /// `(query, indexed position, distance)`, by query, then distance, then position.
    pub pairs: Vec<Pair>,
    /// Per listed pair: true when the match is to the query's mirror image (and not closer directly).
    pub mirrored: Vec<bool>,
    /// Distinct matching indexed hashes per query, all of them (not only the `k` listed).
    pub counts: Vec<u32>,
}

/// `(indexed position, distance, through the mirror image)`.
type Hit = (u32, u8, bool);

/// The `k` nearest indexed hashes within `radius` of each query, ties by position, and the full
/// match count: a query that matches 100,000 blank frames lists `k` of them. With `mirrors`
/// (the hash of each query's mirror image), an indexed hash within `radius` of either counts
/// once, at its smaller distance (the direct one on a tie).
pub fn nearest(
    index: &HammingIndex,
    queries: &[u64],
    mirrors: Option<&[u64]>,
    radius: u32,
    k: usize,
) -> Nearest {
    if let Some(m) = mirrors {
        assert_eq!(m.len(), queries.len(), "one mirror hash per query");
    }
    let per_query: Vec<(Vec<Hit>, u32)> = (0..queries.len())
        .into_par_iter()
        .map(|qi| {
            let mut hits: Vec<Hit> = index
                .query(queries[qi], radius)
                .into_iter()
                .map(|(j, d)| (j, d, false))
                .collect();
            if let Some(m) = mirrors {
                hits.extend(
                    index
                        .query(m[qi], radius)
                        .into_iter()
                        .map(|(j, d)| (j, d, true)),
                );
                // One entry per indexed position: the smaller distance, the direct match on a tie.
                hits.sort_unstable_by_key(|&(j, d, mirrored)| (j, d, mirrored));
                hits.dedup_by_key(|h| h.0);
            }
            let count = hits.len() as u32;
            let by_distance = |h: &Hit| (h.1, h.0);
            if hits.len() > k {
                hits.select_nth_unstable_by_key(k, by_distance);
                hits.truncate(k);
            }
            hits.sort_unstable_by_key(by_distance);
            (hits, count)
        })
        .collect();
    let counts = per_query.iter().map(|(_, c)| *c).collect();
    let mut pairs = Vec::new();
    let mut mirrored = Vec::new();
    for (qi, (hits, _)) in per_query.into_iter().enumerate() {
        for (j, d, m) in hits {
            pairs.push((qi as u32, j, d));
            mirrored.push(m);
        }
    }
    Nearest {
        pairs,
        mirrored,
        counts,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tiled_forests_give_the_groups_of_one_search() {
        use crate::neardup::brute_force_groups;
        // Clusters of near copies spread over four chunks, and unrelated background hashes.
        let mut state = 0x9E37_79B9_7F4A_7C15u64;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let mut hashes = Vec::new();
        for _ in 0..300 {
            let centre = next();
            for _ in 0..(next() % 6) {
                hashes.push(centre ^ (1u64 << (next() % 64)) ^ (1u64 << (next() % 64)));
            }
            hashes.push(next());
        }
        let radius = 4;
        let chunk = hashes.len().div_ceil(4);
        let starts: Vec<usize> = (0..hashes.len()).step_by(chunk).collect();
        let mut edges = Vec::new();
        for (a, &sa) in starts.iter().enumerate() {
            let part_a = &hashes[sa..(sa + chunk).min(hashes.len())];
            for &sb in &starts[a..] {
                let part_b = &hashes[sb..(sb + chunk).min(hashes.len())];
                let offset = |v: u32| {
                    if (v as usize) < part_a.len() {
                        sa as u32 + v
                    } else {
                        sb as u32 + v - part_a.len() as u32
                    }
                };
                edges.extend(
                    forest_across(part_a, part_b, radius)
                        .into_iter()
                        .map(|(v, r)| (offset(v), offset(r))),
                );
            }
        }
        assert_eq!(
            components(hashes.len(), &edges),
            brute_force_groups(&hashes, radius)
        );
    }
    use crate::neardup::brute_force_across;

    fn scrambled(n: usize, seed: u64) -> Vec<u64> {
        let mut x = seed;
        (0..n)
            .map(|_| {
                x = x
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                x ^ (x >> 29)
            })
            .collect()
    }

    #[test]
    fn mirror_links_join_groups_and_plain_near_copies_still_group() {
        let mut h = scrambled(6, 3);
        let m = scrambled(6, 4);
        h[1] = m[0] ^ 0b111; // picture 1 is near picture 0 mirrored
        h[3] = h[2] ^ 0b1; // picture 3 is a near copy of picture 2
        let groups = groups_with_mirrors(&h, &m, 4);
        assert_eq!(groups, vec![0, 0, 2, 2, 4, 5]);
        // Without the mirror link, 0 and 1 stay apart.
        let plain = groups_from_pairs(6, &crate::neardup::pairs_within(&h, 4));
        assert_eq!(plain, vec![0, 1, 2, 2, 4, 5]);
    }

    #[test]
    fn a_huge_group_of_symmetric_identical_pictures_is_one_group() {
        let h = vec![0xF0F0_F0F0_0F0F_0F0Fu64; 100_000];
        let groups = groups_with_mirrors(&h, &h, 10);
        assert!(groups.iter().all(|&g| g == 0));
    }

    #[test]
    fn nearest_lists_k_closest_and_counts_all_matches_like_brute_force() {
        let mut indexed = scrambled(5_000, 11);
        for i in 0..2_000 {
            indexed[i] = indexed[5_000 - 1 - i % 50] ^ (1 << (i % 64)); // many near copies
        }
        let queries: Vec<u64> = indexed.iter().step_by(37).map(|h| h ^ 0b101).collect();
        let index = HammingIndex::new(&indexed, 10);
        for (radius, k) in [(0, 3), (4, 1), (10, 5)] {
            let got = nearest(&index, &queries, None, radius, k);
            let all = brute_force_across(&queries, &indexed, radius);
            for (qi, _) in queries.iter().enumerate() {
                let mut want: Vec<(u8, u32)> = all
                    .iter()
                    .filter(|p| p.0 == qi as u32)
                    .map(|p| (p.2, p.1))
                    .collect();
                assert_eq!(
                    got.counts[qi] as usize,
                    want.len(),
                    "count, query {qi}, r {radius}"
                );
                want.sort_unstable();
                want.truncate(k);
                let listed: Vec<(u8, u32)> = got
                    .pairs
                    .iter()
                    .filter(|p| p.0 == qi as u32)
                    .map(|p| (p.2, p.1))
                    .collect();
                assert_eq!(listed, want, "query {qi}, r {radius}");
            }
        }
    }

    #[test]
    fn nearest_with_mirrors_counts_each_indexed_hash_once_at_its_smaller_distance() {
        let indexed = scrambled(3_000, 21);
        let queries: Vec<u64> = indexed.iter().step_by(101).map(|h| h ^ 0b11).collect();
        let mirrors: Vec<u64> = indexed
            .iter()
            .skip(7)
            .step_by(101)
            .map(|h| h ^ 0b1)
            .collect();
        let index = HammingIndex::new(&indexed, 6);
        let got = nearest(&index, &queries, Some(&mirrors), 6, 10);
        for qi in 0..queries.len() {
            let direct = brute_force_across(&queries[qi..qi + 1], &indexed, 6);
            let via_mirror = brute_force_across(&mirrors[qi..qi + 1], &indexed, 6);
            let mut best = std::collections::BTreeMap::new();
            for &(_, j, d) in &direct {
                best.insert(j, (d, false));
            }
            for &(_, j, d) in &via_mirror {
                let e = best.entry(j).or_insert((d, true));
                if d < e.0 {
                    *e = (d, true);
                }
            }
            assert_eq!(got.counts[qi] as usize, best.len());
            let listed: Vec<(u32, u8, bool)> = got
                .pairs
                .iter()
                .zip(&got.mirrored)
                .filter(|(p, _)| p.0 == qi as u32)
                .map(|(p, &m)| (p.1, p.2, m))
                .collect();
            let mut want: Vec<(u32, u8, bool)> =
                best.into_iter().map(|(j, (d, m))| (j, d, m)).collect();
            want.sort_unstable_by_key(|h| (h.1, h.0));
            want.truncate(10);
            assert_eq!(listed, want, "query {qi}");
        }
        assert!(got.mirrored.iter().any(|&m| m) && got.mirrored.iter().any(|&m| !m));
    }
}
