//! The search against brute force, on every engine configuration.

use super::kernels::{Kernel, best_kernel};
use super::planner::{binom_sum, plan};
use super::tables::{Block, Side, describe, layout, patterns};
use super::testdata::{Rng, planted, skewed, uniform};
use super::*;

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
            assert_eq!(
                pairs_across_env(&q, &idx, env).0,
                bf,
                "across r={r} env={name}"
            );
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
        assert_eq!(
            ix.query_batch(&q, r),
            brute_force_across(&q, &h, r),
            "index r={r}"
        );
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
        assert_eq!(
            pairs_within(&h, r).len(),
            if r >= 64 { 150 * 149 / 2 } else { p.len() }
        );
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
    let c = r.next_u64();
    let mut h: Vec<u64> = (0..20_000)
        .map(|_| {
            let k = r.below(4) as u32;
            r.flip(c, k)
        })
        .collect();
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
    let small = Side {
        h: &h[..10],
        id: &ids[..10],
    };
    assert!(plan(&env, small, None, !0, 10).is_none());
    // radius >= free bits: nothing to index
    assert!(plan(&env, side, None, 0xFF, 8).is_none());
    // dense data (only 12 random bits): indexing cannot beat a nested loop
    let dense: Vec<u64> = h[..20_000].iter().map(|x| x & 0xFFF).collect();
    let ds = Side {
        h: &dense,
        id: &ids[..20_000],
    };
    assert!(plan(&env, ds, None, !0, 8).is_none());
}
