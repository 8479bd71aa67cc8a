//! Content hash of the bytes, and aHash / dHash / pHash as the `imagehash` package defines them.
//! Bits are packed row-major, first bit most significant, so `int(str(imagehash_value), 16)`
//! equals the u64 here.

use super::gray::Gray;
use super::resample::{Columns, resize_area, resize_lanczos, resize_lanczos_columns};

/// Hex of the 128-bit xxh3 hash of the bytes: same bytes, same value (not cryptographic).
pub fn content_hash(bytes: &[u8]) -> String {
    format!("{:032x}", xxhash_rust::xxh3::xxh3_128(bytes))
}

fn pack(bits: impl Iterator<Item = bool>) -> u64 {
    bits.fold(0u64, |acc, b| (acc << 1) | b as u64)
}

/// aHash: 8x8 Lanczos thumbnail, each pixel against the mean.
pub fn ahash(picture: &Gray) -> u64 {
    ahash_of(&resize_lanczos(picture, 8, 8))
}

fn ahash_of(small: &Gray) -> u64 {
    let mean = small.pixels.iter().map(|&p| p as f64).sum::<f64>() / 64.0;
    pack(small.pixels.iter().map(|&p| p as f64 > mean))
}

/// dHash: 9x8 Lanczos thumbnail, each pixel against its left neighbour.
pub fn dhash(picture: &Gray) -> u64 {
    dhash_of(&resize_lanczos(picture, 9, 8))
}

fn dhash_of(small: &Gray) -> u64 {
    pack((0..8).flat_map(|y| {
        let row = &small.pixels[y * 9..(y + 1) * 9];
        (0..8).map(move |x| row[x + 1] > row[x])
    }))
}

/// The first `output.len()` frequencies of the unnormalised DCT-II of one line
/// (scipy.fftpack.dct's default; the scale cancels in the median test).
fn dct_line(input: &[f64], output: &mut [f64], cos_table: &[f64]) {
    let n = input.len();
    for (k, out) in output.iter_mut().enumerate() {
        *out = 2.0
            * input
                .iter()
                .enumerate()
                .map(|(i, &x)| x * cos_table[k * n + i])
                .sum::<f64>();
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
/// Mirroring a line negates its odd DCT-II frequencies (`X'[k] = (-1)^k X[k]`), so the mirror's
/// coefficients are the picture's with odd horizontal frequencies negated: no second resize.
pub fn phash_and_mirror(picture: &Gray) -> (u64, u64) {
    with_mirror(&phash_low_frequencies(picture))
}

/// `[aHash, dHash, pHash, pHash of the mirror image]` of a picture whose `Columns` are made, as
/// the scan stores them.
///
/// Each from its own Lanczos resize of the picture, as imagehash defines them. (Taking aHash and
/// dHash from pHash's 32x32 thumbnail instead saves ~6% of the scan's instructions, but dHash then
/// falls to 94% within 4 bits of imagehash on the test photographs, under the 95% owed.)
pub fn image_hashes(picture: &Gray, columns: &Columns) -> [u64; 4] {
    let resized = |w, h| resize_lanczos_columns(picture, columns, w, h);
    let low = dct_low(&resized(PHASH_SIZE, PHASH_SIZE), 8);
    let (phash, mirror) = with_mirror(&std::array::from_fn(|i| low[i]));
    [
        ahash_of(&resized(8, 8)),
        dhash_of(&resized(9, 8)),
        phash,
        mirror,
    ]
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

/// The low `low` x `low` DCT frequencies of a 32x32 thumbnail, row-major, as pHash takes them:
/// along axis 0 (columns) first, then axis 1 (rows), as imagehash does. Only the low frequencies
/// of each pass are computed: each is the same sum, in the same order, as in the full transform.
fn dct_low(small: &Gray, low: usize) -> Vec<f64> {
    const N: usize = PHASH_SIZE;
    let cos_table = dct_table();
    let mut by_column = vec![0f64; low * N];
    let mut transformed = vec![0f64; low];
    for x in 0..N {
        let column: [f64; N] = std::array::from_fn(|y| small.pixels[y * N + x] as f64);
        dct_line(&column, &mut transformed, cos_table);
        for (y, &c) in transformed.iter().enumerate() {
            by_column[y * N + x] = c;
        }
    }
    let mut out = vec![0f64; low * low];
    for y in 0..low {
        dct_line(
            &by_column[y * N..(y + 1) * N],
            &mut out[y * low..(y + 1) * low],
            cos_table,
        );
    }
    out
}

/// Side of the gray thumbnail the scan stores for near-duplicate matching (`thumbnail`).
pub const THUMB_SIDE: usize = 16;

/// The area-averaged THUMB_SIDE x THUMB_SIDE gray thumbnail, row-major: the picture the matching
/// rule (`recipe_audit.duplicates`) resamples into windows, mirror images and rotations. 16x16
/// keeps frequencies up to 8 cycles, twice what a window's 8x8 pHash frequencies need.
pub fn thumbnail(picture: &Gray) -> [u8; THUMB_SIDE * THUMB_SIDE] {
    let small = resize_area(picture, THUMB_SIDE, THUMB_SIDE);
    std::array::from_fn(|i| small.pixels[i])
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
        let px = (0..h)
            .flat_map(|y| (0..w).map(move |x| (y, w - 1 - x)))
            .map(|(y, x)| picture.pixels[y * w + x]);
        Gray::new(w, h, px.collect())
    }

    #[test]
    fn thumbnail_is_the_area_average() {
        let picture = gradient(64, 32);
        let thumb = thumbnail(&picture);
        // Each thumbnail pixel averages a 4x2 block of the gradient.
        let block = |x: usize, y: usize| {
            let sum: u32 = (0..2)
                .flat_map(|dy| (0..4).map(move |dx| (dx, dy)))
                .map(|(dx, dy)| picture.at(4 * x + dx, 2 * y + dy) as u32)
                .sum();
            (sum as f64 / 8.0).round() as i32
        };
        for (x, y) in [(0, 0), (7, 3), (15, 15)] {
            assert!((thumb[y * THUMB_SIDE + x] as i32 - block(x, y)).abs() <= 1);
        }
        // A picture smaller than the thumbnail is repeated, not refused.
        assert_eq!(
            thumbnail(&Gray::new(3, 2, vec![9; 6])),
            [9u8; THUMB_SIDE * THUMB_SIDE]
        );
    }

    #[test]
    fn mirror_phash_from_coefficients_equals_phash_of_mirrored_picture() {
        for (w, h) in [(32, 32), (64, 48), (400, 300)] {
            let picture = gradient(w, h);
            let (direct, mirrored) = phash_and_mirror(&picture);
            assert_eq!(direct, phash(&picture));
            let of_mirror = phash(&mirror(&picture));
            assert!(
                (mirrored ^ of_mirror).count_ones() <= 2,
                "{w}x{h}: {mirrored:016x} vs {of_mirror:016x}"
            );
            assert!(
                (direct ^ mirrored).count_ones() > 10,
                "the gradient is not symmetric"
            );
        }
    }
}
