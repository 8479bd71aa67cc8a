//! Confident learning's passes over the rows (Northcutt, Jiang and Chuang, JAIR 2021): per-class
//! thresholds, the confident joint, and "prune by noise rate". Pure Rust over a row-major (n, k)
//! probability matrix, parallel over chunks of rows; `label_errors.py` does the rest (calibration
//! and the frames).

use rayon::prelude::*;

/// A probability as stored: f32 or f64.
pub trait Prob: Copy + Send + Sync {
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

/// What is wrong with the rows as probabilities, in one pass: (the row whose sum is furthest from 1,
/// that sum, any NaN or infinite value, any negative value).
pub fn check_rows<T: Prob>(probs: &[T], k: usize) -> (usize, f64, bool, bool) {
    probs
        .par_chunks(k * CHUNK)
        .enumerate()
        .map(|(chunk, rows)| {
            let (mut worst, mut worst_sum, mut nonfinite, mut negative) =
                (0usize, 1f64, false, false);
            for (r, row) in rows.chunks_exact(k).enumerate() {
                let mut sum = 0f64;
                for &p in row {
                    let p = p.get();
                    nonfinite |= !p.is_finite();
                    negative |= p < 0.0;
                    sum += p;
                }
                if (sum - 1.0).abs() > (worst_sum - 1.0).abs() || !sum.is_finite() {
                    (worst, worst_sum) = (chunk * CHUNK + r, sum);
                }
            }
            (worst, worst_sum, nonfinite, negative)
        })
        .reduce(
            || (0, 1.0, false, false),
            |a, b| {
                let (w, s) = if (b.1 - 1.0).abs() > (a.1 - 1.0).abs() || !b.1.is_finite() {
                    (b.0, b.1)
                } else {
                    (a.0, a.1)
                };
                (w, s, a.2 | b.2, a.3 | b.3)
            },
        )
}

/// Per class j: the mean of `p[j]` over the rows labelled j (NaN for a class with no row).
pub fn thresholds<T: Prob>(probs: &[T], k: usize, codes: &[u32]) -> Vec<f64> {
    let (sums, counts) = probs
        .par_chunks(k * CHUNK)
        .zip(codes.par_chunks(CHUNK))
        .map(|(rows, labels)| {
            let (mut sums, mut counts) = (vec![0f64; k], vec![0u64; k]);
            for (row, &c) in rows.chunks_exact(k).zip(labels) {
                sums[c as usize] += row[c as usize].get();
                counts[c as usize] += 1;
            }
            (sums, counts)
        })
        .reduce(
            || (vec![0f64; k], vec![0u64; k]),
            |(mut s, mut c), (s2, c2)| {
                s.iter_mut().zip(s2).for_each(|(a, b)| *a += b);
                c.iter_mut().zip(c2).for_each(|(a, b)| *a += b);
                (s, c)
            },
        );
    sums.iter()
        .zip(counts)
        .map(|(&s, c)| s / c as f64)
        .collect()
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
    let parts: Vec<(Vec<u64>, Vec<u32>)> = probs
        .par_chunks(k * CHUNK)
        .zip(codes.par_chunks(CHUNK))
        .map(|(rows, labels)| {
            let mut joint = vec![0u64; k * k];
            let mut argmax = Vec::with_capacity(labels.len());
            for (row, &c) in rows.chunks_exact(k).zip(labels) {
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
                argmax.push(best as u32);
            }
            (joint, argmax)
        })
        .collect();
    let mut joint = vec![0u64; k * k];
    let mut argmax = Vec::with_capacity(codes.len());
    for (part, best) in parts {
        joint.iter_mut().zip(part).for_each(|(a, b)| *a += b);
        argmax.extend(best);
    }
    (joint, argmax)
}

/// "Prune by noise rate": for every given class i and other class j, the `wanted[i * k + j]` rows
/// labelled i with the largest margin `p[j] - p[i]` (each class keeps at least one row). Classes are
/// handled in parallel; returns one flag per row.
pub fn prune_by_noise_rate<T: Prob>(
    probs: &[T],
    k: usize,
    codes: &[u32],
    wanted: &[u64],
) -> Vec<bool> {
    let mut members: Vec<Vec<u32>> = vec![Vec::new(); k];
    for (row, &c) in codes.iter().enumerate() {
        members[c as usize].push(row as u32);
    }
    let chosen: Vec<Vec<u32>> = members
        .par_iter()
        .enumerate()
        .map(|(i, rows)| {
            let budget = rows.len().saturating_sub(1);
            let mut picked = Vec::new();
            let mut margins: Vec<(f64, u32)> = Vec::with_capacity(rows.len());
            for j in (0..k).filter(|&j| j != i) {
                let take = (wanted[i * k + j] as usize).min(budget);
                if take == 0 {
                    continue;
                }
                margins.clear();
                margins.extend(rows.iter().map(|&r| {
                    let row = &probs[r as usize * k..(r as usize + 1) * k];
                    (row[j].get() - row[i].get(), r)
                }));
                if take < margins.len() {
                    margins.select_nth_unstable_by(take - 1, |a, b| b.0.total_cmp(&a.0));
                }
                picked.extend(margins[..take].iter().map(|&(_, r)| r));
            }
            picked
        })
        .collect();
    let mut flagged = vec![false; codes.len()];
    for row in chosen.into_iter().flatten() {
        flagged[row as usize] = true;
    }
    flagged
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
        assert_eq!(check_rows(&probs, 2), (0, 1.0, false, false));
        let bad = vec![0.5, 0.5, 2.0, 1.0, -0.1, 1.1, f64::NAN, 1.0];
        let (worst, sum, nonfinite, negative) = check_rows(&bad, 2);
        assert!(nonfinite && negative && worst == 3 && sum.is_nan());
        assert_eq!(check_rows(&bad[..4], 2).0, 1);
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
}
