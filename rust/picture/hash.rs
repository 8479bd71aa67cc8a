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

const PHASH_SIZE: usize = 32;
/// Frequencies per axis pHash keeps.
const PHASH_LOW: usize = 8;

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
    dct_low(&resize_lanczos(picture, PHASH_SIZE, PHASH_SIZE))
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
    let (phash, mirror) = with_mirror(&dct_low(&resized(PHASH_SIZE, PHASH_SIZE)));
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

/// The low 8x8 DCT-II frequencies (unnormalised, scipy.fftpack.dct's default; the scale cancels
/// in the median test) of a 32x32 thumbnail, row-major, as pHash takes them: along axis 0
/// (columns) first, then axis 1 (rows), as imagehash does. Only the low frequencies of each pass
/// are computed: each is the same sum, in the same order, as in the full transform.
fn dct_low(small: &Gray) -> [f64; PHASH_LOW * PHASH_LOW] {
    assert_eq!((small.width, small.height), (PHASH_SIZE, PHASH_SIZE));
    let mut low = [0.0; PHASH_LOW * PHASH_LOW];
    run_dct_low(&small.pixels, dct_table(), &mut low);
    low
}

dispatched!(run_dct_low => dct_low_pass(pixels: &[u8], cos_table: &[f64], low: &mut [f64; PHASH_LOW * PHASH_LOW]));

/// Each pass computes one frequency of every line at once, each lane summing its own line in the
/// order of the one-line transform (from -0.0, as f64's `Sum` starts): the same values as a
/// transform line by line, in vector lanes.
#[inline(always)]
fn dct_low_pass(pixels: &[u8], cos_table: &[f64], low: &mut [f64; PHASH_LOW * PHASH_LOW]) {
    const N: usize = PHASH_SIZE;
    let cos = |k: usize, i: usize| cos_table[k * N + i];
    // Along columns: frequency k of all 32 columns.
    let mut by_column = [[0f64; N]; PHASH_LOW];
    for (k, frequency) in by_column.iter_mut().enumerate() {
        let mut sums = [-0.0f64; N];
        for (i, row) in pixels.chunks_exact(N).enumerate() {
            let c = cos(k, i);
            for (sum, &x) in sums.iter_mut().zip(row) {
                *sum += x as f64 * c;
            }
        }
        for (f, sum) in frequency.iter_mut().zip(sums) {
            *f = 2.0 * sum;
        }
    }
    // Along rows: the 8 low frequencies of each of the 8 rows kept.
    for (line, out) in by_column.iter().zip(low.chunks_exact_mut(PHASH_LOW)) {
        let mut sums = [-0.0f64; PHASH_LOW];
        for (i, &x) in line.iter().enumerate() {
            for (k, sum) in sums.iter_mut().enumerate() {
                *sum += x * cos(k, i);
            }
        }
        for (o, sum) in out.iter_mut().zip(sums) {
            *o = 2.0 * sum;
        }
    }
}

/// Side of the gray thumbnail the scan stores for near-duplicate matching (`thumbnail`).
pub const THUMB_SIDE: usize = 16;

/// The area-averaged THUMB_SIDE x THUMB_SIDE gray thumbnail, row-major: the picture the matching
/// rule (`recipe_audit.duplicates`) resamples into windows, mirror images and rotations. 16x16
/// keeps frequencies up to 8 cycles, twice what a window's 8x8 pHash frequencies need.
pub fn thumbnail(picture: &Gray) -> [u8; THUMB_SIDE * THUMB_SIDE] {
    if (picture.width, picture.height) == (SIGN_SQUARE, SIGN_SQUARE) {
        return block_means(picture);
    }
    let small = resize_area(picture, THUMB_SIDE, THUMB_SIDE);
    std::array::from_fn(|i| small.pixels[i])
}

/// Pixels per side of a thumbnail cell of the 64x64 square.
const CELL: usize = SIGN_SQUARE / THUMB_SIDE;

/// The thumbnail of the scan's 64x64 square (`scan::analyze`) in integers: each cell the mean of
/// its 4x4 block, rounded half up. The same bytes as `resize_area`, whose weights here are exactly
/// 1/4 and whose partial sums are multiples of 1/16 below 2^12, all exact in f32: its
/// `0.5 + sum / 16`, truncated, is `(sum + 8) / 16`.
fn block_means(square: &Gray) -> [u8; THUMB_SIDE * THUMB_SIDE] {
    let mut sums = [0u16; THUMB_SIDE * THUMB_SIDE];
    for (y, row) in square.pixels.chunks_exact(SIGN_SQUARE).enumerate() {
        let cells = &mut sums[y / CELL * THUMB_SIDE..][..THUMB_SIDE];
        for (sum, block) in cells.iter_mut().zip(row.chunks_exact(CELL)) {
            *sum += block.iter().map(|&p| p as u16).sum::<u16>();
        }
    }
    sums.map(|sum| ((sum + 8) / 16) as u8)
}

/// Side of the area square `sign_map` reads (the scan's `blur_square`).
pub const SIGN_SQUARE: usize = 64;
/// Bytes of a `sign_map`: one bit per cell of a 16x16 grid.
pub const SIGN_BYTES: usize = THUMB_SIDE * THUMB_SIDE / 8;
/// Radii of the band-pass's boxes: 5x5 pixels of the 64x64 square against 13x13.
const SIGN_FINE: usize = 2;
const SIGN_COARSE: usize = 6;

/// Where the picture is brighter than its surroundings, finer than the 16x16 thumbnail sees: the
/// sign of a band-pass of the 64x64 area square (the mean of 5x5 pixels minus the mean of 13x13,
/// edge pixels repeated) at the centre of each 4x4 block, 256 bits row-major, first bit the
/// highest of the first byte. The matching rule compares two pictures' maps at the window where
/// their thumbnails matched: look-alikes whose thumbnails correlate (an orange disc and an orange
/// fundus, both on black) lay out their detail differently (`recipe_audit.dedup.thumbmatch`).
pub fn sign_map(square: &Gray) -> [u8; SIGN_BYTES] {
    assert_eq!((square.width, square.height), (SIGN_SQUARE, SIGN_SQUARE));
    let table = padded_summed_area(square);
    // Sum of the (2r+1)^2 box centred on square pixel (x, y).
    let boxed = |x: usize, y: usize, r: usize| -> i64 {
        let (x0, y0) = (x + SIGN_COARSE - r, y + SIGN_COARSE - r);
        let (x1, y1) = (x0 + 2 * r + 1, y0 + 2 * r + 1);
        let at = |x: usize, y: usize| table[y][x] as i64;
        at(x1, y1) - at(x0, y1) - at(x1, y0) + at(x0, y0)
    };
    let (fine_n, coarse_n) = (
        ((2 * SIGN_FINE + 1) * (2 * SIGN_FINE + 1)) as i64,
        ((2 * SIGN_COARSE + 1) * (2 * SIGN_COARSE + 1)) as i64,
    );
    let mut bits = [0u8; SIGN_BYTES];
    let cell = SIGN_SQUARE / THUMB_SIDE;
    for i in 0..THUMB_SIDE {
        for j in 0..THUMB_SIDE {
            // The block's centre falls between its two middle pixels each way: their mean, as
            // fine mean - coarse mean scaled by both box sizes (exact in integers).
            let mut band = 0i64;
            for y in [i * cell + 1, i * cell + 2] {
                for x in [j * cell + 1, j * cell + 2] {
                    band += coarse_n * boxed(x, y, SIGN_FINE) - fine_n * boxed(x, y, SIGN_COARSE);
                }
            }
            if band > 0 {
                let k = i * THUMB_SIDE + j;
                bits[k / 8] |= 0x80 >> (k % 8);
            }
        }
    }
    bits
}

/// Entries per row (and rows) of `padded_summed_area`: the padded square's side, plus the zero row
/// and column.
const SUMMED_STRIDE: usize = SIGN_SQUARE + 2 * SIGN_COARSE + 1;

/// The summed-area table of the 64x64 square padded by SIGN_COARSE repeated edge pixels on every
/// side: row 0 and column 0 zero, entry [y][x] the sum of the padded square's pixels left of x
/// and above y (at most 76 x 76 x 255 < 2^31: i32). Built row by row: the row above plus the
/// padded line's running sums, which change only where the line does (the edge rows repeat).
fn padded_summed_area(square: &Gray) -> Vec<[i32; SUMMED_STRIDE]> {
    let mut table = Vec::with_capacity(SUMMED_STRIDE);
    table.push([0; SUMMED_STRIDE]);
    let mut running = [0; SUMMED_STRIDE];
    let mut summed_line = None;
    for y in 0..SUMMED_STRIDE - 1 {
        let source = y.saturating_sub(SIGN_COARSE).min(SIGN_SQUARE - 1);
        if summed_line != Some(source) {
            running = padded_running_sums(&square.pixels[source * SIGN_SQUARE..][..SIGN_SQUARE]);
            summed_line = Some(source);
        }
        let above = table[y];
        table.push(std::array::from_fn(|x| above[x] + running[x]));
    }
    table
}

/// Entry x: the sum of the first x pixels of `line` padded by SIGN_COARSE copies of its end pixels.
fn padded_running_sums(line: &[u8]) -> [i32; SUMMED_STRIDE] {
    let mut padded = [line[0]; SUMMED_STRIDE - 1];
    padded[SIGN_COARSE..][..SIGN_SQUARE].copy_from_slice(line);
    padded[SIGN_COARSE + SIGN_SQUARE..].fill(line[SIGN_SQUARE - 1]);
    let mut sums = [0; SUMMED_STRIDE];
    let mut sum = 0;
    for (total, &p) in sums[1..].iter_mut().zip(&padded) {
        sum += p as i32;
        *total = sum;
    }
    sums
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
    fn sign_map_marks_bright_detail_where_it_is() {
        // A bright dot on a dark square: set near the dot, clear elsewhere.
        let mut px = vec![40u8; SIGN_SQUARE * SIGN_SQUARE];
        for y in 20..24 {
            for x in 40..44 {
                px[y * SIGN_SQUARE + x] = 220;
            }
        }
        let bits = sign_map(&Gray::new(SIGN_SQUARE, SIGN_SQUARE, px));
        let set = |i: usize, j: usize| bits[(i * 16 + j) / 8] & (0x80 >> ((i * 16 + j) % 8)) != 0;
        assert!(set(5, 10), "the block holding the dot");
        assert!(!set(0, 0) && !set(15, 15) && !set(5, 2), "flat far from it");
        let count: u32 = bits.iter().map(|b| b.count_ones()).sum();
        assert!((1..=9).contains(&count), "{count} bits set");
        // A flat square has no detail anywhere.
        assert_eq!(
            sign_map(&Gray::new(64, 64, vec![90; 64 * 64])),
            [0u8; SIGN_BYTES]
        );
    }

    #[test]
    fn sign_map_is_the_band_pass_as_defined() {
        // Straight from the definition, in floats: box means with edge pixels repeated, sampled
        // bilinearly at 4i + 1.5.
        let square = gradient(64, 64);
        let at =
            |x: i64, y: i64| square.at(x.clamp(0, 63) as usize, y.clamp(0, 63) as usize) as f64;
        let mean = |x: i64, y: i64, r: i64| {
            let mut sum = 0.0;
            for dy in -r..=r {
                for dx in -r..=r {
                    sum += at(x + dx, y + dy);
                }
            }
            sum / ((2 * r + 1) * (2 * r + 1)) as f64
        };
        let bits = sign_map(&square);
        let mut set = 0;
        for i in 0..16i64 {
            for j in 0..16i64 {
                let mut band = 0.0;
                for (y, x) in [(1, 1), (1, 2), (2, 1), (2, 2)] {
                    let (x, y) = (4 * j + x, 4 * i + y);
                    band += mean(x, y, 2) - mean(x, y, 6);
                }
                let k = (i * 16 + j) as usize;
                let bit = bits[k / 8] & (0x80 >> (k % 8)) != 0;
                assert_eq!(bit, band > 1e-9, "cell {i},{j}: band {band}");
                set += bit as u32;
            }
        }
        assert!((60..=196).contains(&set), "{set} of 256 set");
    }

    #[test]
    fn summed_area_is_the_padded_squares_sums() {
        let square = Gray::new(64, 64, super::super::gray::test_noise(64 * 64, 0x5a7));
        let padded = |x: usize, y: usize| {
            let at = |v: usize| v.saturating_sub(SIGN_COARSE).min(SIGN_SQUARE - 1);
            square.at(at(x), at(y)) as i32
        };
        let table = padded_summed_area(&square);
        assert_eq!(table.len(), SUMMED_STRIDE);
        for (y, row) in table.iter().enumerate() {
            for (x, &entry) in row.iter().enumerate() {
                let want: i32 = (0..y).flat_map(|v| (0..x).map(move |u| padded(u, v))).sum();
                assert_eq!(entry, want, "{x},{y}");
            }
        }
    }

    /// The low frequencies as first written: one line at a time, each an iterator's `sum`.
    fn dct_low_by_lines(small: &Gray) -> Vec<f64> {
        const N: usize = PHASH_SIZE;
        let cos_table = dct_table();
        let dct_line = |input: &[f64], output: &mut [f64]| {
            for (k, out) in output.iter_mut().enumerate() {
                *out = 2.0
                    * input
                        .iter()
                        .enumerate()
                        .map(|(i, &x)| x * cos_table[k * N + i])
                        .sum::<f64>();
            }
        };
        let mut by_column = vec![0f64; PHASH_LOW * N];
        let mut transformed = vec![0f64; PHASH_LOW];
        for x in 0..N {
            let column: [f64; N] = std::array::from_fn(|y| small.pixels[y * N + x] as f64);
            dct_line(&column, &mut transformed);
            for (y, &c) in transformed.iter().enumerate() {
                by_column[y * N + x] = c;
            }
        }
        let mut out = vec![0f64; PHASH_LOW * PHASH_LOW];
        for (line, low) in by_column
            .chunks_exact(N)
            .zip(out.chunks_exact_mut(PHASH_LOW))
        {
            dct_line(line, low);
        }
        out
    }

    #[test]
    fn dct_in_lanes_is_the_dct_line_by_line() {
        let mut thumbnails: Vec<Vec<u8>> = (0..20)
            .map(|seed| super::super::gray::test_noise(32 * 32, 0xdc7 + seed))
            .collect();
        // Zeros: every product and sum a signed zero.
        thumbnails.extend([vec![0; 32 * 32], vec![255; 32 * 32]]);
        for pixels in thumbnails {
            let small = Gray::new(32, 32, pixels);
            let bits = |v: &[f64]| v.iter().map(|c| c.to_bits()).collect::<Vec<_>>();
            let (mut fast, mut plain) = ([0.0; 64], [0.0; 64]);
            run_dct_low(&small.pixels, dct_table(), &mut fast);
            dct_low_pass(&small.pixels, dct_table(), &mut plain);
            assert_eq!(bits(&fast), bits(&dct_low_by_lines(&small)));
            assert_eq!(bits(&plain), bits(&dct_low_by_lines(&small)));
        }
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
    fn square_thumbnail_in_integers_is_the_area_resize() {
        // Noise reaches every rounding; flat extremes every bound.
        let mut squares: Vec<Vec<u8>> = (0..50)
            .map(|seed| super::super::gray::test_noise(64 * 64, 0x7a11 + seed))
            .collect();
        squares.extend([vec![0; 64 * 64], vec![255; 64 * 64]]);
        for pixels in squares {
            let square = Gray::new(64, 64, pixels);
            let area = resize_area(&square, THUMB_SIDE, THUMB_SIDE);
            assert_eq!(thumbnail(&square).as_slice(), area.pixels.as_slice());
        }
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
