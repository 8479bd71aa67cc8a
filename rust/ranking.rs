//! Worst first: a stable parallel radix sort of float scores, and the label-error frame's columns
//! gathered in that order in one pass (`find_label_errors` returns them as they come).

use rayon::prelude::*;

/// Records per parallel chunk of a radix pass: below this, one chunk.
const MIN_CHUNK: usize = 1 << 16;

/// Each value's 32-bit key (of the value rounded to f32) and position packed in one u64 (key
/// high), sorted by an LSD radix sort: the records move as plain integers, four 8-bit passes (256
/// buckets keep the scatter within cache and TLB reach; 65,536 do not), passes where every key
/// agrees skipped. Rounding to f32 keeps the order but can merge neighbours: for f64 values, each
/// run of equal keys is then sorted by the full value (long runs on every core). Also returns
/// the sort's scratch buffer, already paged in, for the caller to reuse.
fn sorted_records<T: SortKey>(values: &[T]) -> (Vec<u64>, Vec<u64>) {
    let mut records: Vec<u64> = values
        .par_iter()
        .enumerate()
        .map(|(i, v)| (v.narrow().key() << 32) | i as u64)
        .collect();
    let scratch = radix_passes(&mut records, &[32, 40, 48, 56], 8, |r| *r);
    if T::BITS > 32 {
        records
            .par_chunk_by_mut(|a, b| a >> 32 == b >> 32)
            .filter(|run| run.len() > 1)
            .for_each(|run| {
                // Long runs (scores packed near 1.0, where f32 steps are 6e-8) on every core.
                let by_full_key = |r: &u64| (values[*r as u32 as usize].key(), *r as u32);
                if run.len() > 1 << 16 {
                    run.par_sort_unstable_by_key(by_full_key);
                } else {
                    run.sort_unstable_by_key(by_full_key);
                }
            });
    }
    (records, scratch)
}

/// Stable counting-sort passes of `records` by the `bits`-wide digits of `key` at `shifts`, lowest
/// first. Each pass counts per chunk in parallel, then every chunk scatters into its own disjoint
/// parts of the output (chunk order within a digit keeps the sort stable). Returns the scratch
/// buffer (same length, contents unspecified).
fn radix_passes<R: Copy + Default + Send + Sync>(
    records: &mut Vec<R>,
    shifts: &[u32],
    bits: u32,
    key: impl Fn(&R) -> u64 + Sync,
) -> Vec<R> {
    let buckets = 1usize << bits;
    let mask = (buckets - 1) as u64;
    let chunk = records
        .len()
        .div_ceil(rayon::current_num_threads().max(1))
        .max(MIN_CHUNK);
    let mut scratch = vec![R::default(); records.len()];
    for &shift in shifts {
        let digit = |r: &R| ((key(r) >> shift) & mask) as usize;
        let counts: Vec<Vec<usize>> = records
            .par_chunks(chunk)
            .map(|part| {
                let mut c = vec![0usize; buckets];
                part.iter().for_each(|r| c[digit(r)] += 1);
                c
            })
            .collect();
        let everyone_agrees =
            (0..buckets).any(|d| counts.iter().map(|c| c[d]).sum::<usize>() == records.len());
        if everyone_agrees {
            continue; // the pass would not move anything
        }
        // Output slots: digit-major, chunk-minor.
        let mut slots: Vec<Vec<&mut [R]>> = (0..counts.len())
            .map(|_| Vec::with_capacity(buckets))
            .collect();
        let mut rest: &mut [R] = &mut scratch;
        for d in 0..buckets {
            for (c, chunk_counts) in counts.iter().enumerate() {
                let (slot, tail) = std::mem::take(&mut rest).split_at_mut(chunk_counts[d]);
                slots[c].push(slot);
                rest = tail;
            }
        }
        records
            .par_chunks(chunk)
            .zip(slots.into_par_iter())
            .for_each(|(part, mut slots)| {
                for r in part {
                    let d = digit(r);
                    let (first, tail) = std::mem::take(&mut slots[d])
                        .split_first_mut()
                        .expect("slots are sized by the counts");
                    *first = *r;
                    slots[d] = tail;
                }
            });
        std::mem::swap(records, &mut scratch);
    }
    scratch
}

/// A float as an unsigned key with the same order (IEEE 754 bits, sign folded).
pub trait SortKey: Copy + Send + Sync {
    const BITS: u32;
    fn key(self) -> u64;
    /// The value rounded to f32 (an order-keeping map: equal values stay equal, smaller ones never
    /// pass larger ones).
    fn narrow(self) -> f32;
    /// The float back from its key (-0.0 comes back as 0.0, any NaN as one NaN).
    fn from_key(key: u64) -> Self;
}

impl SortKey for f32 {
    const BITS: u32 = 32;
    fn narrow(self) -> f32 {
        self
    }
    fn key(self) -> u64 {
        let bits = (self + 0.0).to_bits(); // -0.0 + 0.0 is 0.0
        let bits = if self.is_nan() {
            u32::MAX
        } else if bits >> 31 == 1 {
            !bits
        } else {
            bits | (1 << 31)
        };
        bits as u64
    }
    fn from_key(key: u64) -> Self {
        let bits = key as u32;
        f32::from_bits(if bits >> 31 == 1 {
            bits & !(1 << 31)
        } else {
            !bits
        })
    }
}

impl SortKey for f64 {
    const BITS: u32 = 64;
    fn narrow(self) -> f32 {
        self as f32
    }
    fn key(self) -> u64 {
        let bits = (self + 0.0).to_bits();
        if self.is_nan() {
            u64::MAX
        } else if bits >> 63 == 1 {
            !bits
        } else {
            bits | (1 << 63)
        }
    }
    fn from_key(key: u64) -> Self {
        f64::from_bits(if key >> 63 == 1 {
            key & !(1 << 63)
        } else {
            !key
        })
    }
}

/// The label-error frame's columns, worst first.
#[derive(Debug, PartialEq)]
pub struct Ranked<T> {
    pub index: Vec<u32>,
    pub label: Vec<u32>,
    pub suggested: Vec<u32>,
    pub quality: Vec<T>,
    pub flagged: Vec<bool>,
}

/// Every row's columns in ascending `quality` (ties in input order). The label, suggestion and
/// flag are packed into one u64 per row first, so the gather reads one random word per row.
///
/// Panics if the columns differ in length. Suggested class ids must stay below 2^31 (the top bit
/// carries the flag): the caller refuses larger ones; debug builds assert it.
pub fn ranked_rows<T: SortKey>(
    quality: &[T],
    label: &[u32],
    suggested: &[u32],
    flagged: &[bool],
) -> Ranked<T> {
    let n = quality.len();
    assert!(label.len() == n && suggested.len() == n && flagged.len() == n);
    let mut out = Ranked {
        index: Vec::with_capacity(n),
        label: vec![0; n],
        suggested: vec![0; n],
        quality: Vec::with_capacity(n),
        flagged: vec![false; n],
    };
    let (records, mut packed) = sorted_records(quality);
    records
        .par_iter()
        .map(|&r| r as u32)
        .collect_into_vec(&mut out.index);
    if T::BITS == 32 {
        // The sorted records hold each f32's key: the quality comes back from it, no gather.
        records
            .par_iter()
            .map(|&r| T::from_key(r >> 32))
            .collect_into_vec(&mut out.quality);
    } else {
        out.index
            .par_iter()
            .map(|&i| quality[i as usize])
            .collect_into_vec(&mut out.quality);
    }
    drop(records);
    packed
        .par_iter_mut()
        .zip((label, suggested, flagged))
        .for_each(|(p, (&l, &s, &f))| {
            debug_assert!(s < 1 << 31, "class ids must stay below 2^31");
            *p = l as u64 | (s as u64) << 32 | (f as u64) << 63;
        });
    out.index
        .par_iter()
        .zip(out.label.par_iter_mut())
        .zip(out.suggested.par_iter_mut())
        .zip(out.flagged.par_iter_mut())
        .for_each(|(((&i, l), s), f)| {
            let p = packed[i as usize];
            (*l, *s, *f) = (p as u32, (p >> 32) as u32 & 0x7FFF_FFFF, p >> 63 == 1);
        });
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The positions of `values` in ascending order, equal values in input order.
    fn stable_order<T: SortKey>(values: &[T]) -> Vec<u32> {
        sorted_records(values)
            .0
            .into_iter()
            .map(|r| r as u32)
            .collect()
    }

    /// Floats with many exact ties (xorshift, quantized to `levels` steps).
    fn tied_values(n: usize, levels: f64, seed: u64) -> Vec<f64> {
        let mut state = seed;
        (0..n)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                ((state >> 11) as f64 / (1u64 << 53) as f64 * levels).floor() / levels
            })
            .collect()
    }

    #[test]
    fn stable_order_sorts_ascending_and_keeps_ties_in_input_order() {
        let values = [0.5f64, -0.0, 0.25, 0.5, f64::NAN, -1.5, 0.0, 0.25, 1e-300];
        let order = stable_order(&values);
        assert_eq!(order, vec![5, 1, 6, 8, 2, 7, 0, 3, 4]);
        let f32s: Vec<f32> = values.iter().map(|&v| v as f32).collect();
        // 1e-300 is 0.0 as f32: it ties with the zeros and keeps its place after them.
        assert_eq!(stable_order(&f32s), vec![5, 1, 6, 8, 2, 7, 0, 3, 4]);
        // f64 values that round to one f32, given in descending order: the runs are refined.
        let close: Vec<f64> = (0..1000)
            .map(|i| 0.75 - i as f64 * 1e-12 + (i % 3) as f64)
            .collect();
        let mut expected: Vec<u32> = (0..close.len() as u32).collect();
        expected.sort_by(|&a, &b| close[a as usize].total_cmp(&close[b as usize]));
        assert_eq!(stable_order(&close), expected);
        // One long run: 70,000 f64 values within one f32 step of 1.0, in scrambled order.
        let packed: Vec<f64> = (0..70_000u64)
            .map(|i| 1.0 - ((i * 7919) % 70_000) as f64 * 1e-13)
            .collect();
        let mut expected: Vec<u32> = (0..packed.len() as u32).collect();
        expected.sort_by(|&a, &b| packed[a as usize].total_cmp(&packed[b as usize]));
        assert_eq!(stable_order(&packed), expected);
        // Past one chunk, so the parallel passes split the records.
        for (n, levels) in [(80_000, 50.0), (300_000, 1e6)] {
            let values = tied_values(n, levels, 7);
            let mut expected: Vec<u32> = (0..n as u32).collect();
            expected.sort_by(|&a, &b| values[a as usize].total_cmp(&values[b as usize]));
            assert_eq!(stable_order(&values), expected); // sort_by is stable: ties in input order
            let f32s: Vec<f32> = values.iter().map(|&v| v as f32).collect();
            expected.sort_by(|&a, &b| f32s[a as usize].total_cmp(&f32s[b as usize]));
            assert_eq!(stable_order(&f32s), expected);
        }
    }

    #[test]
    fn keys_turn_back_into_their_floats() {
        for v in [
            0.0f32,
            1.0,
            0.5,
            -2.5,
            f32::MIN_POSITIVE,
            f32::MAX,
            f32::INFINITY,
            -1e-30,
        ] {
            assert_eq!(f32::from_key(v.key()).to_bits(), v.to_bits());
            assert_eq!(
                f64::from_key((v as f64).key()).to_bits(),
                (v as f64).to_bits()
            );
        }
        assert_eq!(f32::from_key((-0.0f32).key()).to_bits(), 0.0f32.to_bits());
    }

    #[test]
    fn ranked_rows_gather_every_column_in_order() {
        let quality = [0.5f32, 0.1, 0.9, 0.1];
        let ranked = ranked_rows(
            &quality,
            &[0, 1, 2, 3],
            &[3, 2, 1, 0],
            &[false, true, false, true],
        );
        assert_eq!(
            ranked,
            Ranked {
                index: vec![1, 3, 0, 2],
                label: vec![1, 3, 0, 2],
                suggested: vec![2, 0, 3, 1],
                quality: vec![0.1, 0.1, 0.5, 0.9],
                flagged: vec![true, true, false, false],
            }
        );
        let values = tied_values(100_000, 30.0, 3);
        let labels: Vec<u32> = (0..values.len() as u32).map(|i| i % 7).collect();
        let suggested: Vec<u32> = (0..values.len() as u32).map(|i| (i * 31) % 1000).collect();
        let flagged: Vec<bool> = (0..values.len()).map(|i| i % 3 == 0).collect();
        let ranked = ranked_rows(&values, &labels, &suggested, &flagged);
        let order = stable_order(&values);
        for (pos, &i) in order.iter().enumerate() {
            let i = i as usize;
            assert_eq!(
                (
                    ranked.label[pos],
                    ranked.suggested[pos],
                    ranked.quality[pos],
                    ranked.flagged[pos]
                ),
                (labels[i], suggested[i], values[i], flagged[i])
            );
        }
    }
}
