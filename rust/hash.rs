//! Content hash of the bytes, and aHash / dHash / pHash as the `imagehash` package defines them.
//! Bits are packed row-major, first bit most significant, so `int(str(imagehash_value), 16)`
//! equals the u64 here.

use crate::gray::Gray;
use crate::resample::{resize_lanczos, resize_lanczos_box};

/// Hex of the 128-bit xxh3 hash of the bytes: same bytes, same value (not cryptographic).
pub fn content_hash(bytes: &[u8]) -> String {
    format!("{:032x}", xxhash_rust::xxh3::xxh3_128(bytes))
}

fn pack(bits: impl Iterator<Item = bool>) -> u64 {
    bits.fold(0u64, |acc, b| (acc << 1) | b as u64)
}

/// aHash: 8x8 Lanczos thumbnail, each pixel against the mean.
pub fn ahash(picture: &Gray) -> u64 {
    let small = resize_lanczos(picture, 8, 8);
    let mean = small.pixels.iter().map(|&p| p as f64).sum::<f64>() / 64.0;
    pack(small.pixels.iter().map(|&p| p as f64 > mean))
}

/// dHash: 9x8 Lanczos thumbnail, each pixel against its left neighbour.
pub fn dhash(picture: &Gray) -> u64 {
    let small = resize_lanczos(picture, 9, 8);
    pack((0..8).flat_map(|y| {
        let row = &small.pixels[y * 9..(y + 1) * 9];
        (0..8).map(move |x| row[x + 1] > row[x])
    }))
}

/// Unnormalised DCT-II of one line (scipy.fftpack.dct's default; the scale cancels in the median test).
fn dct_line(input: &[f64], output: &mut [f64], cos_table: &[f64]) {
    let n = input.len();
    for (k, out) in output.iter_mut().enumerate() {
        *out = 2.0 * input.iter().enumerate().map(|(i, &x)| x * cos_table[k * n + i]).sum::<f64>();
    }
}

const PHASH_SIZE: usize = 32;

/// cos(pi k (2i + 1) / 2N) for the 32-point DCT, computed once per process.
fn dct_table() -> &'static [f64] {
    static TABLE: std::sync::OnceLock<Vec<f64>> = std::sync::OnceLock::new();
    TABLE.get_or_init(|| {
        let n = PHASH_SIZE;
        (0..n * n)
            .map(|ki| {
                let (k, i) = (ki / n, ki % n);
                (std::f64::consts::PI * k as f64 * (2 * i + 1) as f64 / (2 * n) as f64).cos()
            })
            .collect()
    })
}

/// The low 8x8 DCT frequencies of the 32x32 Lanczos thumbnail, row-major (index y * 8 + x).
fn phash_low_frequencies(picture: &Gray) -> [f64; 64] {
    let low = dct_low(&resize_lanczos(picture, PHASH_SIZE, PHASH_SIZE), 8);
    std::array::from_fn(|i| low[i])
}

/// Each coefficient against the median of all 64.
fn above_median(low: &[f64; 64]) -> u64 {
    let mut sorted = *low;
    sorted.sort_by(|a, b| a.total_cmp(b));
    let median = (sorted[31] + sorted[32]) / 2.0;
    pack(low.iter().map(|&c| c > median))
}

/// pHash: 32x32 Lanczos thumbnail, 2-D DCT, low 8x8 frequencies against their median.
pub fn phash(picture: &Gray) -> u64 {
    above_median(&phash_low_frequencies(picture))
}

/// pHash of the picture and of its horizontal mirror image, from one DCT.
///
/// Mirroring a line negates its odd DCT-II frequencies (X'[k] = (-1)^k X[k]), so the mirror's
/// coefficients are the picture's with odd horizontal frequencies negated: no second resize.
pub fn phash_and_mirror(picture: &Gray) -> (u64, u64) {
    with_mirror(&phash_low_frequencies(picture))
}

fn with_mirror(low: &[f64; 64]) -> (u64, u64) {
    let mut mirrored = *low;
    for (i, c) in mirrored.iter_mut().enumerate() {
        if i % 8 % 2 == 1 {
            *c = -*c;
        }
    }
    (above_median(low), above_median(&mirrored))
}

/// Trims per side of the crop windows: a crop of an image resembles the original's window.
pub const WINDOW_TRIMS: [f64; 2] = [0.025, 0.05];

/// Hashes for crop-tolerant matching (BENCHMARKS.md, "Crops"): the 64-bit pHash of the centre
/// windows trimmed by `WINDOW_TRIMS` per side, and 256-bit pHashes (low 16x16 DCT frequencies of
/// the same 32x32 thumbnail against their median) of the whole picture and of both windows, to
/// confirm candidates that 64 bits alone cannot tell apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CropHashes {
    pub windows: [u64; 2],
    /// Whole picture, then the two windows; each 4 words, first bit most significant.
    pub long: [[u64; 4]; 3],
}

/// The low `low` x `low` DCT frequencies of a 32x32 thumbnail, row-major, as pHash takes them:
/// along axis 0 (columns) first, then axis 1 (rows), as imagehash does; only the low frequencies
/// of the second pass are computed.
fn dct_low(small: &Gray, low: usize) -> Vec<f64> {
    const N: usize = PHASH_SIZE;
    let cos_table = dct_table();
    let mut by_column = vec![0f64; N * N];
    let (mut column, mut transformed) = ([0f64; N], [0f64; N]);
    for x in 0..N {
        for y in 0..N {
            column[y] = small.pixels[y * N + x] as f64;
        }
        dct_line(&column, &mut transformed, cos_table);
        for y in 0..N {
            by_column[y * N + x] = transformed[y];
        }
    }
    let mut out = vec![0f64; low * low];
    for y in 0..low {
        dct_line(&by_column[y * N..(y + 1) * N], &mut transformed, cos_table);
        out[y * low..(y + 1) * low].copy_from_slice(&transformed[..low]);
    }
    out
}

fn median_bits(coefficients: &[f64]) -> Vec<bool> {
    let mut sorted = coefficients.to_vec();
    sorted.sort_by(|a, b| a.total_cmp(b));
    let half = sorted.len() / 2;
    let median = (sorted[half - 1] + sorted[half]) / 2.0;
    coefficients.iter().map(|&c| c > median).collect()
}

/// The top-left `low` x `low` block of a row-major `n` x `n` block of coefficients.
fn top_left(block: &[f64], n: usize, low: usize) -> Vec<f64> {
    (0..low).flat_map(|y| block[y * n..y * n + low].iter().copied()).collect()
}

fn long_hash(low16: &[f64]) -> [u64; 4] {
    let bits = median_bits(low16);
    std::array::from_fn(|w| pack(bits[w * 64..(w + 1) * 64].iter().copied()))
}

/// Every pHash the scan stores, from one thumbnail and one DCT per picture or window (the 8x8
/// pHash frequencies are the corner of the 16x16 ones): pHash, the mirror image's pHash, and the
/// crop hashes.
pub fn phash_family(picture: &Gray) -> (u64, u64, CropHashes) {
    let (w, h) = (picture.width as f64, picture.height as f64);
    let low16: Vec<Vec<f64>> = std::iter::once(resize_lanczos(picture, PHASH_SIZE, PHASH_SIZE))
        .chain(WINDOW_TRIMS.iter().map(|&t| {
            resize_lanczos_box(picture, (t * w, t * h, w - t * w, h - t * h), PHASH_SIZE, PHASH_SIZE)
        }))
        .map(|thumb| dct_low(&thumb, 16))
        .collect();
    let low8 = |k: usize| top_left(&low16[k], 16, 8);
    let whole: [f64; 64] = std::array::from_fn(|i| low8(0)[i]);
    let (phash, mirror) = with_mirror(&whole);
    let window = |k: usize| pack(median_bits(&low8(k)).into_iter());
    let crop = CropHashes { windows: [window(1), window(2)], long: std::array::from_fn(|k| long_hash(&low16[k])) };
    (phash, mirror, crop)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gradient(w: usize, h: usize) -> Gray {
        let mut px = Vec::with_capacity(w * h);
        for y in 0..h {
            for x in 0..w {
                let (fx, fy) = (x as f64 / w as f64, y as f64 / h as f64);
                let v = 128.0 + 60.0 * (fx * 9.0).sin() + 50.0 * (fy * 5.0 + fx * 2.0).cos();
                px.push(v as u8);
            }
        }
        Gray::new(w, h, px)
    }

    #[test]
    fn content_hash_is_stable_and_128_bit() {
        assert_eq!(content_hash(b"abc"), content_hash(b"abc"));
        assert_ne!(content_hash(b"abc"), content_hash(b"abd"));
        assert_eq!(content_hash(b"").len(), 32);
    }

    #[test]
    fn dhash_of_left_to_right_ramp_is_all_ones() {
        let mut px = Vec::new();
        for _ in 0..40 {
            for x in 0..90 {
                px.push((x * 2) as u8);
            }
        }
        assert_eq!(dhash(&Gray::new(90, 40, px)), u64::MAX);
    }

    #[test]
    fn flat_picture_hashes_to_zero() {
        let flat = Gray::new(64, 64, vec![128; 64 * 64]);
        assert_eq!(ahash(&flat), 0);
        assert_eq!(dhash(&flat), 0);
    }

    #[test]
    fn resized_copy_has_close_phash() {
        let big = gradient(400, 300);
        let small = resize_lanczos(&big, 200, 150);
        let d = (phash(&big) ^ phash(&small)).count_ones();
        assert!(d <= 4, "distance {d}");
    }

    fn mirror(picture: &Gray) -> Gray {
        let (w, h) = (picture.width, picture.height);
        let px = (0..h).flat_map(|y| (0..w).map(move |x| (y, w - 1 - x))).map(|(y, x)| picture.pixels[y * w + x]);
        Gray::new(w, h, px.collect())
    }

    #[test]
    fn a_centre_crop_matches_the_originals_window() {
        // A smooth random picture; its 5%-per-side centre crop, hashed whole, is close to the
        // original's 5% window and far from an unrelated picture, in 64 and 256 bits.
        let picture = textured(200, 160, 7);
        let (dx, dy) = (10, 8); // exactly 5% of each side
        let crop = Gray::new(
            200 - 2 * dx,
            160 - 2 * dy,
            (dy..160 - dy).flat_map(|y| picture.pixels[y * 200 + dx..y * 200 + 200 - dx].iter().copied()).collect(),
        );
        let crops = |p: &Gray| phash_family(p).2;
        let (original, cropped, other) = (crops(&picture), crops(&crop), crops(&textured(200, 160, 99)));
        let bits = |a: [u64; 4], b: [u64; 4]| a.iter().zip(&b).map(|(x, y)| (x ^ y).count_ones()).sum::<u32>();
        assert!((phash(&crop) ^ original.windows[1]).count_ones() <= 8);
        let (same, unrelated) = (bits(cropped.long[0], original.long[2]), bits(cropped.long[0], other.long[0]));
        // Lanczos near the window's edges reads pixels the crop no longer has, so the two differ a
        // little (26 of 256 bits on this smooth synthetic picture; 4-16 on real photos, see
        // tests/test_duplicates.py); an unrelated picture is around half the bits away.
        assert!(same <= 40 && unrelated >= 80, "crop vs its window {same} bits, vs another picture {unrelated}");
        // The whole-picture 64-bit pHash of the same DCT path equals `phash`.
        assert_eq!(pack(median_bits(&dct_low(&resize_lanczos(&picture, 32, 32), 8)).into_iter()), phash(&picture));
    }

    fn textured(w: usize, h: usize, seed: u64) -> Gray {
        let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state % 1000) as f64 / 1000.0
        };
        let waves: Vec<(f64, f64, f64)> = (0..6).map(|_| (next() * 0.08, next() * 0.08, next() * 6.0)).collect();
        let pixels = (0..h)
            .flat_map(|y| {
                let waves = waves.clone();
                (0..w).map(move |x| {
                    let v: f64 = waves.iter().map(|(fx, fy, p)| (fx * x as f64 + fy * y as f64 + p).sin()).sum();
                    (128.0 + 20.0 * v).clamp(0.0, 255.0) as u8
                })
            })
            .collect();
        Gray::new(w, h, pixels)
    }

    #[test]
    fn mirror_phash_from_coefficients_equals_phash_of_mirrored_picture() {
        for (w, h) in [(32, 32), (64, 48), (400, 300)] {
            let picture = gradient(w, h);
            let (direct, mirrored) = phash_and_mirror(&picture);
            // The scan's one-DCT path gives the same two hashes.
            assert_eq!((phash_family(&picture).0, phash_family(&picture).1), (direct, mirrored));
            assert_eq!(direct, phash(&picture));
            let of_mirror = phash(&mirror(&picture));
            assert!((mirrored ^ of_mirror).count_ones() <= 2, "{w}x{h}: {mirrored:016x} vs {of_mirror:016x}");
            assert!((direct ^ mirrored).count_ones() > 10, "the gradient is not symmetric");
        }
    }
}
