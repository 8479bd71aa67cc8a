//! Confident learning's passes over the rows (Northcutt, Jiang and Chuang, JAIR 2021): per-class
//! thresholds, the confident joint, and "prune by noise rate". Pure Rust over a row-major (n, k)
//! probability matrix, parallel over chunks of rows; `label_errors.py` does the rest (calibration
//! and the frames).

use rayon::prelude::*;

/// A probability as stored: f32 or f64.
pub trait Prob: Copy + Default + Send + Sync {
    fn get(self) -> f64;
}

impl Prob for f32 {
    fn get(self) -> f64 {
        self as f64
    }
}

impl Prob for f64 {
    fn get(self) -> f64 {
        self
    }
}

const CHUNK: usize = 16_384;

/// What is wrong with the rows as probabilities: the row whose sum is furthest from 1, that sum,
/// any NaN or infinite value, any negative value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RowCheck {
    pub worst: usize,
    pub worst_sum: f64,
    pub nonfinite: bool,
    pub negative: bool,
}

impl RowCheck {
    const CLEAN: RowCheck = RowCheck {
        worst: 0,
        worst_sum: 1.0,
        nonfinite: false,
        negative: false,
    };

    fn row(&mut self, r: usize, row: &[impl Prob]) {
        let mut sum = 0f64;
        for &p in row {
            let p = p.get();
            self.nonfinite |= !p.is_finite();
            self.negative |= p < 0.0;
            sum += p;
        }
        if (sum - 1.0).abs() > (self.worst_sum - 1.0).abs() || !sum.is_finite() {
            (self.worst, self.worst_sum) = (r, sum);
        }
    }

    /// The worse of two parts' findings (the first part's row on a tie).
    fn merge(self, other: RowCheck) -> RowCheck {
        let take_other = (other.worst_sum - 1.0).abs() > (self.worst_sum - 1.0).abs()
            || !other.worst_sum.is_finite();
        let (worst, worst_sum) = if take_other {
            (other.worst, other.worst_sum)
        } else {
            (self.worst, self.worst_sum)
        };
        RowCheck {
            worst,
            worst_sum,
            nonfinite: self.nonfinite | other.nonfinite,
            negative: self.negative | other.negative,
        }
    }
}

/// The rows checked as probabilities, in one pass.
pub fn check_rows<T: Prob>(probs: &[T], k: usize) -> RowCheck {
    probs
        .par_chunks(k * CHUNK)
        .enumerate()
        .map(|(chunk, rows)| {
            let mut check = RowCheck::CLEAN;
            for (r, row) in rows.chunks_exact(k).enumerate() {
                check.row(chunk * CHUNK + r, row);
            }
            check
        })
        .reduce(|| RowCheck::CLEAN, RowCheck::merge)
}

/// Confident learning's first pass, fused with the row check: the check, each class's threshold
/// (the mean probability of the class over the rows labelled with it), each row's probability
/// of its own label (its self-confidence, the label quality) and the rows per label.
pub fn check_and_thresholds<T: Prob>(
    probs: &[T],
    k: usize,
    codes: &[u32],
) -> (RowCheck, Vec<f64>, Vec<T>, Vec<u64>) {
    let mut own = vec![T::default(); codes.len()];
    let (check, sums, counts) = probs
        .par_chunks(k * CHUNK)
        .zip(codes.par_chunks(CHUNK))
        .zip(own.par_chunks_mut(CHUNK))
        .enumerate()
        .map(|(chunk, ((rows, labels), own))| {
            let (mut check, mut sums, mut counts) = (RowCheck::CLEAN, vec![0f64; k], vec![0u64; k]);
            for (r, (row, &c)) in rows.chunks_exact(k).zip(labels).enumerate() {
                check.row(chunk * CHUNK + r, row);
                own[r] = row[c as usize];
                sums[c as usize] += row[c as usize].get();
                counts[c as usize] += 1;
            }
            (check, sums, counts)
        })
        .reduce(
            || (RowCheck::CLEAN, vec![0f64; k], vec![0u64; k]),
            |(a, mut s, mut c), (b, s2, c2)| {
                s.iter_mut().zip(s2).for_each(|(x, y)| *x += y);
                c.iter_mut().zip(c2).for_each(|(x, y)| *x += y);
                (a.merge(b), s, c)
            },
        );
    let thresholds = sums
        .iter()
        .zip(&counts)
        .map(|(&s, &c)| s / c as f64)
        .collect();
    (check, thresholds, own, counts)
}

/// Per class, the mean probability of the class over the rows labelled with it.
pub fn thresholds<T: Prob>(probs: &[T], k: usize, codes: &[u32]) -> Vec<f64> {
    check_and_thresholds(probs, k, codes).1
}

/// The confident joint C (k x k, row = given label, column = the most probable class among those
/// at or above their threshold; rows where no class reaches it count nowhere), and each row's most
/// probable class.
pub fn confident_joint<T: Prob>(
    probs: &[T],
    k: usize,
    codes: &[u32],
    thresholds: &[f64],
) -> (Vec<u64>, Vec<u32>) {
    // Float noise must not drop a class sitting exactly at its mean.
    let limits: Vec<f64> = thresholds.iter().map(|t| t - 1e-12).collect();
    let mut argmax = vec![0u32; codes.len()];
    // One joint per rayon job, not per chunk: at k = 1000 a joint is 8 MB.
    let joint = probs
        .par_chunks(k * CHUNK)
        .zip(codes.par_chunks(CHUNK))
        .zip(argmax.par_chunks_mut(CHUNK))
        .fold(
            || vec![0u64; k * k],
            |mut joint, ((rows, labels), argmax)| {
                for ((row, &c), best_of_row) in rows.chunks_exact(k).zip(labels).zip(argmax) {
                    let (mut best, mut best_p) = (0usize, f64::NEG_INFINITY);
                    let (mut confident, mut confident_p) = (usize::MAX, f64::NEG_INFINITY);
                    for (j, &p) in row.iter().enumerate() {
                        let p = p.get();
                        if p > best_p {
                            (best, best_p) = (j, p);
                        }
                        if p >= limits[j] && p > confident_p {
                            (confident, confident_p) = (j, p);
                        }
                    }
                    if confident != usize::MAX {
                        joint[c as usize * k + confident] += 1;
                    }
                    *best_of_row = best as u32;
                }
                joint
            },
        )
        .reduce(
            || vec![0u64; k * k],
            |mut a, b| {
                a.iter_mut().zip(b).for_each(|(x, y)| *x += y);
                a
            },
        );
    (joint, argmax)
}

/// The bin of a margin in [-1, 1] among `bins` (a margin off the range lands in the end bin).
fn margin_bin(margin: f64, bins: usize) -> usize {
    (((margin + 1.0) * (bins / 2) as f64) as usize).min(bins - 1)
}

/// "Prune by noise rate": for every given class i and other class j, the `wanted[i * k + j]` rows
/// labelled i with the largest margin `p[j] - p[i]`, ties to the earlier row (each class keeps at
/// least one row). Each class pair's cut is found from a histogram of its margins, then only the
/// rows at or above the cut's bin are ranked. With few classes the rows are swept in order, in
/// parallel chunks (memory read once, sequentially); with many, class by class. One flag per row.
pub fn prune_by_noise_rate<T: Prob>(
    probs: &[T],
    k: usize,
    codes: &[u32],
    wanted: &[u64],
) -> Vec<bool> {
    prune_with_budget(probs, k, codes, wanted, SWEEP_COUNTERS)
}

/// Rows of a class up to which each class pair's margins are ranked directly, without a histogram.
const DIRECT_ROWS: usize = 4096;

/// Histogram counters (all class pairs together) up to which the rows are swept in order.
const SWEEP_COUNTERS: usize = 1 << 21;

/// Per class: the other classes with rows to pick and how many (at most all rows but one), its bins.
struct ClassPlan {
    active: Vec<(usize, usize)>,
    bins: usize,
    /// Where this class's histograms start in the flat counters (slot-major).
    offset: usize,
}

fn plan_classes(k: usize, codes: &[u32], wanted: &[u64]) -> Vec<ClassPlan> {
    let mut sizes = vec![0usize; k];
    for &c in codes {
        sizes[c as usize] += 1;
    }
    let mut offset = 0;
    (0..k)
        .map(|i| {
            let budget = sizes[i].saturating_sub(1);
            let active: Vec<(usize, usize)> = (0..k)
                .filter(|&j| j != i)
                .map(|j| (j, (wanted[i * k + j] as usize).min(budget)))
                .filter(|&(_, take)| take > 0)
                .collect();
            // About 16 rows a bin: the bin holding a cut keeps few rows beyond the ones wanted.
            let bins = (sizes[i] / 16).clamp(16, 4096);
            let plan = ClassPlan {
                bins,
                offset,
                active,
            };
            offset += plan.active.len() * plan.bins;
            plan
        })
        .collect()
}

fn prune_with_budget<T: Prob>(
    probs: &[T],
    k: usize,
    codes: &[u32],
    wanted: &[u64],
    sweep_counters: usize,
) -> Vec<bool> {
    let plans = plan_classes(k, codes, wanted);
    let counters = plans
        .last()
        .map_or(0, |p| p.offset + p.active.len() * p.bins);
    let picked: Vec<u32> = if counters <= sweep_counters {
        // The cuts from a sample of the rows; where a sampled cut keeps too few rows, exactly.
        prune_sweep(probs, k, codes, &plans, counters, SAMPLE_STRIDE).unwrap_or_else(|| {
            prune_sweep(probs, k, codes, &plans, counters, 1).expect("exact cuts keep enough rows")
        })
    } else {
        let mut members: Vec<Vec<u32>> = vec![Vec::new(); k];
        for (row, &c) in codes.iter().enumerate() {
            members[c as usize].push(row as u32);
        }
        members
            .par_iter()
            .enumerate()
            .map(|(i, rows)| prune_class(probs, k, codes, rows, &plans[i]))
            .flatten()
            .collect()
    };
    let mut flagged = vec![false; codes.len()];
    for row in picked {
        flagged[row as usize] = true;
    }
    flagged
}

/// Largest margin first, then the earlier row: one answer whatever the ties.
fn by_margin(a: &(f64, u32), b: &(f64, u32)) -> std::cmp::Ordering {
    b.0.total_cmp(&a.0).then(a.1.cmp(&b.1))
}

/// The lowest bin whose rows are needed so that, counted from the top bin down, `take` are kept.
fn cut_bin(counts: &[u32], take: usize) -> usize {
    let mut seen = 0usize;
    (0..counts.len())
        .rev()
        .find(|&bin| {
            seen += counts[bin] as usize;
            seen >= take
        })
        .unwrap_or(0)
}

/// The rows of the `take` largest margins among `found` (see [`by_margin`]).
fn top_rows(found: &mut [(f64, u32)], take: usize) -> impl Iterator<Item = u32> + '_ {
    if take < found.len() {
        found.select_nth_unstable_by(take - 1, by_margin);
    }
    found[..take].iter().map(|&(_, r)| r)
}

/// `visit(slot, p[j] - p[i])` for every class pair of `plan` with rows to pick, on row `r` (label i).
#[inline]
fn for_each_margin<T: Prob>(
    probs: &[T],
    k: usize,
    codes: &[u32],
    plan: &ClassPlan,
    r: usize,
    mut visit: impl FnMut(usize, f64),
) {
    let row = &probs[r * k..(r + 1) * k];
    let own = row[codes[r] as usize].get();
    for (slot, &(j, _)) in plan.active.iter().enumerate() {
        visit(slot, row[j].get() - own);
    }
}

/// Every `SAMPLE_STRIDE`-th row feeds the histograms that place the cuts (when the rows are many).
const SAMPLE_STRIDE: usize = 16;

/// The lowest bin to keep so that, from the top down, a sample of one row in `stride` reaches
/// `take` rows with a safety margin of about four standard deviations (a Poisson count).
fn sampled_cut_bin(counts: &[u32], take: usize, stride: usize) -> usize {
    if stride == 1 {
        return cut_bin(counts, take);
    }
    let expected = take as f64 / stride as f64;
    let needed = (expected + 4.0 * expected.sqrt() + 8.0).ceil() as usize;
    cut_bin(counts, needed)
}

/// The picked rows of every class pair, by two sweeps over the rows in order: the first (over
/// every `stride`-th row) places each pair's cut, the second collects the rows at or above it.
/// None when a cut placed from a sample keeps fewer rows than the pair wants (then rerun with
/// stride 1, which always keeps enough: the answer never depends on the sample).
fn prune_sweep<T: Prob>(
    probs: &[T],
    k: usize,
    codes: &[u32],
    plans: &[ClassPlan],
    counters: usize,
    stride: usize,
) -> Option<Vec<u32>> {
    let n = codes.len();
    let parts = rayon::current_num_threads().max(1);
    let ranges: Vec<(usize, usize)> = (0..parts)
        .map(|t| (t * n / parts, (t + 1) * n / parts))
        .collect();
    // Sweep 1: every pair's histogram of margins.
    let histogram: Vec<u32> = ranges
        .par_iter()
        .map(|&(start, end)| {
            let mut counts = vec![0u32; counters];
            for r in (start.next_multiple_of(stride)..end).step_by(stride) {
                let plan = &plans[codes[r] as usize];
                for_each_margin(probs, k, codes, plan, r, |slot, margin| {
                    counts[plan.offset + slot * plan.bins + margin_bin(margin, plan.bins)] += 1;
                });
            }
            counts
        })
        .reduce(
            || vec![0u32; counters],
            |mut a, b| {
                a.iter_mut().zip(b).for_each(|(x, y)| *x += y);
                a
            },
        );
    // Per pair (flat: class, then slot), the lowest bin needed: counted from the top, it reaches take.
    let mut cuts = Vec::new();
    let mut pair_of = Vec::new(); // (class, slot) in flat pair order
    for (i, plan) in plans.iter().enumerate() {
        for (slot, &(_, take)) in plan.active.iter().enumerate() {
            let counts =
                &histogram[plan.offset + slot * plan.bins..plan.offset + (slot + 1) * plan.bins];
            cuts.push(sampled_cut_bin(counts, take, stride));
            pair_of.push((i, slot));
        }
    }
    let first_pair: Vec<usize> = plans
        .iter()
        .scan(0, |next, plan| {
            let first = *next;
            *next += plan.active.len();
            Some(first)
        })
        .collect();
    // Sweep 2: the rows at or above each pair's cut, per range, in row order.
    let per_range: Vec<Vec<Vec<(f64, u32)>>> = ranges
        .par_iter()
        .map(|&(start, end)| {
            let mut found: Vec<Vec<(f64, u32)>> = vec![Vec::new(); pair_of.len()];
            for r in start..end {
                let i = codes[r] as usize;
                let plan = &plans[i];
                for_each_margin(probs, k, codes, plan, r, |slot, margin| {
                    let pair = first_pair[i] + slot;
                    if margin_bin(margin, plan.bins) >= cuts[pair] {
                        found[pair].push((margin, r as u32));
                    }
                });
            }
            found
        })
        .collect();
    let picked: Option<Vec<Vec<u32>>> = (0..pair_of.len())
        .into_par_iter()
        .map(|pair| {
            let (i, slot) = pair_of[pair];
            let take = plans[i].active[slot].1;
            let mut found: Vec<(f64, u32)> = per_range
                .iter()
                .flat_map(|part| part[pair].iter().copied())
                .collect();
            // Rows below the cut have smaller margins than every row above it: enough found
            // means the top `take` are among them.
            (found.len() >= take).then(|| top_rows(&mut found, take).collect())
        })
        .collect();
    Some(picked?.concat())
}

/// Takes up to which a pair keeps only its best rows so far, instead of every margin.
const KEPT_TAKE: usize = 32;

/// The `take` largest margins of rows offered in ascending row order (see [`by_margin`]). A small
/// `take` (the usual case with many classes: a pair wants one or two rows) keeps only the best so
/// far, sorted, so most rows cost one comparison; a large one keeps every margin and selects.
struct TopMargins {
    take: usize,
    kept: Vec<(f64, u32)>,
}

impl TopMargins {
    fn new(take: usize) -> Self {
        TopMargins {
            take,
            kept: Vec::with_capacity(take.min(KEPT_TAKE) + 1),
        }
    }

    #[inline]
    fn offer(&mut self, margin: f64, row: u32) {
        if self.take > KEPT_TAKE {
            self.kept.push((margin, row));
        } else if self.kept.len() < self.take
            || margin.total_cmp(&self.kept[self.take - 1].0).is_gt()
        {
            // After every equal margin: those rows came first. Compared as `by_margin` does
            // (total order: 0.0 above -0.0), so both paths pick the same rows.
            let at = self
                .kept
                .partition_point(|&(m, _)| m.total_cmp(&margin).is_ge());
            self.kept.insert(at, (margin, row));
            self.kept.truncate(self.take);
        }
    }

    fn rows(mut self) -> Vec<u32> {
        let take = self.take.min(self.kept.len());
        top_rows(&mut self.kept, take).collect()
    }
}

/// The rows of class `i` picked for any other class j (see [`prune_by_noise_rate`]), from the
/// class's own rows: ranked directly when few, else through the class's histograms.
fn prune_class<T: Prob>(
    probs: &[T],
    k: usize,
    codes: &[u32],
    rows: &[u32],
    plan: &ClassPlan,
) -> Vec<u32> {
    let mut picked = Vec::new();
    if rows.len() <= DIRECT_ROWS {
        // A small class (many classes): each pair's margins ranked directly, every row read once.
        let mut best: Vec<TopMargins> = plan
            .active
            .iter()
            .map(|&(_, take)| TopMargins::new(take))
            .collect();
        for &r in rows {
            for_each_margin(probs, k, codes, plan, r as usize, |slot, margin| {
                best[slot].offer(margin, r);
            });
        }
        for top in best {
            picked.extend(top.rows());
        }
        return picked;
    }
    let bins = plan.bins;
    let mut histogram = vec![0u32; plan.active.len() * bins];
    for &r in rows {
        for_each_margin(probs, k, codes, plan, r as usize, |slot, margin| {
            histogram[slot * bins + margin_bin(margin, bins)] += 1;
        });
    }
    let cuts: Vec<usize> = plan
        .active
        .iter()
        .enumerate()
        .map(|(slot, &(_, take))| cut_bin(&histogram[slot * bins..(slot + 1) * bins], take))
        .collect();
    let mut candidates: Vec<Vec<(f64, u32)>> = vec![Vec::new(); plan.active.len()];
    for &r in rows {
        for_each_margin(probs, k, codes, plan, r as usize, |slot, margin| {
            if margin_bin(margin, bins) >= cuts[slot] {
                candidates[slot].push((margin, r));
            }
        });
    }
    for (found, &(_, take)) in candidates.iter_mut().zip(&plan.active) {
        picked.extend(top_rows(found, take));
    }
    picked
}

#[cfg(test)]
mod tests {
    use super::*;

    fn example() -> (Vec<f64>, Vec<u32>) {
        // 6 rows, 2 classes; rows 2 and 5 are labelled against a confident prediction.
        let probs = vec![0.9, 0.1, 0.8, 0.2, 0.1, 0.9, 0.2, 0.8, 0.3, 0.7, 0.95, 0.05];
        (probs, vec![0, 0, 0, 1, 1, 1])
    }

    #[test]
    fn rows_are_checked() {
        let (probs, _) = example();
        assert_eq!(check_rows(&probs, 2), RowCheck::CLEAN);
        let bad = vec![0.5, 0.5, 2.0, 1.0, -0.1, 1.1, f64::NAN, 1.0];
        let check = check_rows(&bad, 2);
        assert!(check.nonfinite && check.negative && check.worst == 3 && check.worst_sum.is_nan());
        assert_eq!(check_rows(&bad[..4], 2).worst, 1);
        // Fused with the first counting pass: the same check, the thresholds, each row's own p.
        let (probs, codes) = example();
        let (check, t, own, counts) = check_and_thresholds(&probs, 2, &codes);
        assert_eq!(check, RowCheck::CLEAN);
        assert_eq!(counts, vec![3, 3]);
        assert_eq!(t, thresholds(&probs, 2, &codes));
        assert_eq!(own, vec![0.9, 0.8, 0.1, 0.8, 0.7, 0.05]);
    }

    #[test]
    fn thresholds_are_mean_self_confidence() {
        let (probs, codes) = example();
        let t = thresholds(&probs, 2, &codes);
        assert!((t[0] - (0.9 + 0.8 + 0.1) / 3.0).abs() < 1e-12);
        assert!((t[1] - (0.8 + 0.7 + 0.05) / 3.0).abs() < 1e-12);
    }

    #[test]
    fn joint_counts_confident_classes_and_argmax() {
        let (probs, codes) = example();
        let (joint, argmax) = confident_joint(&probs, 2, &codes, &thresholds(&probs, 2, &codes));
        assert_eq!(argmax, vec![0, 0, 1, 1, 1, 0]);
        // Row 2 (label 0) is confident of 1; row 5 (label 1) of 0.
        assert_eq!(joint, vec![2, 1, 1, 2]);
    }

    #[test]
    fn prune_takes_the_largest_margins_and_keeps_one_per_class() {
        let (probs, codes) = example();
        assert_eq!(
            prune_by_noise_rate(&probs, 2, &codes, &[0, 1, 1, 0]),
            vec![false, false, true, false, false, true]
        );
        let all = prune_by_noise_rate(&probs, 2, &codes, &[0, 9, 9, 0]);
        assert_eq!(all.iter().filter(|&&f| f).count(), 4); // 2 of 3 per class at most
        let f32s: Vec<f32> = probs.iter().map(|&p| p as f32).collect();
        assert_eq!(
            prune_by_noise_rate(&f32s, 2, &codes, &[0, 1, 1, 0]),
            vec![false, false, true, false, false, true]
        );
    }

    /// A small deterministic generator for the tests (xorshift).
    fn random_probs(n: usize, k: usize, levels: f64, seed: u64) -> (Vec<f64>, Vec<u32>) {
        let mut state = seed;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 11) as f64 / (1u64 << 53) as f64
        };
        let mut probs = Vec::with_capacity(n * k);
        let mut codes = Vec::with_capacity(n);
        for _ in 0..n {
            // Quantized to `levels` steps: many exact ties between margins.
            let raw: Vec<f64> = (0..k).map(|_| (next() * levels).floor() + 1.0).collect();
            let sum: f64 = raw.iter().sum();
            probs.extend(raw.iter().map(|r| r / sum));
            codes.push((next() * k as f64) as u32 % k as u32);
        }
        (probs, codes)
    }

    /// Every class pair ranked in full: largest margin first, then the earlier row.
    fn prune_brute_force(probs: &[f64], k: usize, codes: &[u32], wanted: &[u64]) -> Vec<bool> {
        let mut flagged = vec![false; codes.len()];
        for i in 0..k {
            let rows: Vec<usize> = (0..codes.len())
                .filter(|&r| codes[r] as usize == i)
                .collect();
            for j in (0..k).filter(|&j| j != i) {
                let take = (wanted[i * k + j] as usize).min(rows.len().saturating_sub(1));
                let mut ranked: Vec<(f64, usize)> = rows
                    .iter()
                    .map(|&r| (probs[r * k + j] - probs[r * k + i], r))
                    .collect();
                ranked.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
                ranked[..take].iter().for_each(|&(_, r)| flagged[r] = true);
            }
        }
        flagged
    }

    #[test]
    fn a_misleading_sample_falls_back_to_exact_cuts() {
        // Two classes; the sampled rows (every SAMPLE_STRIDE-th) are all confident of the other
        // class, the rest barely: the sampled cut keeps too few rows for a large `take`.
        let n = 64 * SAMPLE_STRIDE;
        let mut probs = Vec::with_capacity(2 * n);
        for r in 0..n {
            let other = if r % SAMPLE_STRIDE == 0 {
                0.99
            } else {
                0.4 + (r % 7) as f64 * 0.01
            };
            probs.extend([1.0 - other, other]);
        }
        let codes = vec![0u32; n - 1].into_iter().chain([1]).collect::<Vec<_>>();
        let wanted = [0, 500, 0, 0];
        let plans = plan_classes(2, &codes, &wanted);
        let counters = plans.iter().map(|p| p.active.len() * p.bins).sum();
        assert!(prune_sweep(&probs, 2, &codes, &plans, counters, SAMPLE_STRIDE).is_none());
        assert_eq!(
            prune_by_noise_rate(&probs, 2, &codes, &wanted),
            prune_brute_force(&probs, 2, &codes, &wanted)
        );
    }

    #[test]
    fn negative_zero_margins_rank_alike_on_every_path() {
        // Each row confident of a third class; row 0's p[1] is -0.0, row 1's 0.0: margins to
        // class 1 of -0.0 and 0.0, which the total order ranks apart.
        let k = 3;
        let codes: Vec<u32> = (0..2 * k as u32).map(|r| r / 2).collect();
        let mut probs = vec![0.0f64; 2 * k * k];
        for (r, &c) in codes.iter().enumerate() {
            probs[r * k + (c as usize + 2) % k] = 1.0;
        }
        probs[1] = -0.0;
        let wanted: Vec<u64> = (0..k * k).map(|c| (c % (k + 1) != 0) as u64).collect();
        let expected = prune_brute_force(&probs, k, &codes, &wanted);
        assert_eq!(prune_by_noise_rate(&probs, k, &codes, &wanted), expected);
        assert_eq!(prune_with_budget(&probs, k, &codes, &wanted, 0), expected);
    }

    #[test]
    fn prune_equals_the_full_ranking_with_ties() {
        // Classes under and over DIRECT_ROWS rows: ranked directly, or through the histogram.
        for (n, k, levels, seed) in [
            (3000, 5, 4.0, 1),
            (5000, 3, 1000.0, 2),
            (400, 12, 2.0, 3),
            (30_000, 3, 50.0, 4),
        ] {
            let (probs, codes) = random_probs(n, k, levels, seed);
            let wanted: Vec<u64> = (0..k * k).map(|c| ((c * 37) % 90) as u64).collect();
            let expected = prune_brute_force(&probs, k, &codes, &wanted);
            // Swept in order (few classes) and class by class (a budget of no counters).
            assert_eq!(
                prune_by_noise_rate(&probs, k, &codes, &wanted),
                expected,
                "n={n} k={k} levels={levels}"
            );
            assert_eq!(
                prune_with_budget(&probs, k, &codes, &wanted, 0),
                expected,
                "by class: n={n} k={k}"
            );
        }
    }
}
