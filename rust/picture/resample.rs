//! Pillow's Lanczos resize for 8-bit gray pictures, reproduced step for step (coefficients, 22-bit
//! fixed point, horizontal pass then vertical, rounding and clipping between passes) so the hashes
//! computed on it agree with the `imagehash` package.

use super::gray::Gray;
use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

const PRECISION_BITS: u32 = 32 - 8 - 2;
const LANCZOS_SUPPORT: f64 = 3.0;

/// `lanczos` at the evenly spaced points `start + k * step`, k = 0, 1, ...: the two sines turn by
/// a fixed angle per tap, so they come from one rotation each (a few multiplies) instead of two
/// `sin` calls per tap, which cost more than the resize itself on wide filters. The rotation drifts
/// by ~1e-15 over a filter's taps, far below the 22-bit fixed point the weights are rounded to.
struct LanczosWaves {
    /// (sin, cos) of pi * x and of pi * x / 3 at the current point, and their turns per step.
    near: (f64, f64),
    far: (f64, f64),
    near_turn: (f64, f64),
    far_turn: (f64, f64),
}

impl LanczosWaves {
    fn new(start: f64, step: f64) -> Self {
        use std::f64::consts::PI;
        let pair = |angle: f64| angle.sin_cos();
        LanczosWaves {
            near: pair(PI * start),
            far: pair(PI * start / LANCZOS_SUPPORT),
            near_turn: pair(PI * step),
            far_turn: pair(PI * step / LANCZOS_SUPPORT),
        }
    }

    /// `lanczos(x)` for the current point `x` (passed in, as computed by the caller, for the zero
    /// and support tests, and the one tap within half a sample of the centre, which takes `sin`),
    /// then a step forward.
    fn next(&mut self, x: f64) -> f64 {
        use std::f64::consts::PI;
        let (near, far) = (PI * x, PI * x / LANCZOS_SUPPORT);
        let value = if !(-LANCZOS_SUPPORT..LANCZOS_SUPPORT).contains(&x) {
            0.0
        } else if x == 0.0 {
            1.0
        } else if x.abs() < 0.5 {
            // The rotation's sine is off by ~1e-16 absolute; divided by a tiny x (a centre that
            // lands a rounding away from a tap) that is no longer small. sin() itself, as Pillow.
            (near.sin() / near) * (far.sin() / far)
        } else {
            (self.near.0 / near) * (self.far.0 / far)
        };
        let turn = |(s, c): (f64, f64), (ts, tc): (f64, f64)| (s * tc + c * ts, c * tc - s * ts);
        self.near = turn(self.near, self.near_turn);
        self.far = turn(self.far, self.far_turn);
        value
    }
}

/// Per output pixel: first input index, and fixed-point weights over the following inputs.
struct Coefficients {
    ksize: usize,
    bounds: Vec<(usize, usize)>,
    weights: Vec<i32>,
}

/// Pillow's precompute_coeffs: `out_size` samples of a whole input line of `in_size`.
fn compute_coefficients(in_size: usize, out_size: usize) -> Coefficients {
    let scale = in_size as f64 / out_size as f64;
    let filterscale = scale.max(1.0);
    let support = LANCZOS_SUPPORT * filterscale;
    let ksize = support.ceil() as usize * 2 + 1;
    let mut bounds = Vec::with_capacity(out_size);
    let mut weights = vec![0i32; out_size * ksize];
    let mut k = vec![0f64; ksize];
    for xx in 0..out_size {
        let center = (xx as f64 + 0.5) * scale;
        let ss = 1.0 / filterscale;
        // Truncation toward zero, as C's (int) cast does.
        let xmin = ((center - support + 0.5) as i64).max(0) as usize;
        let xmax = ((center + support + 0.5) as i64).min(in_size as i64) as usize;
        let count = xmax.saturating_sub(xmin).min(ksize);
        let mut total = 0.0;
        let start = (xmin as f64 - center + 0.5) * ss;
        let mut waves = LanczosWaves::new(start, ss);
        for (x, kx) in k.iter_mut().enumerate().take(count) {
            let w = waves.next((x as f64 + xmin as f64 - center + 0.5) * ss);
            *kx = w;
            total += w;
        }
        let row = &mut weights[xx * ksize..(xx + 1) * ksize];
        for x in 0..count {
            let w = if total != 0.0 { k[x] / total } else { k[x] };
            let fixed = w * (1u32 << PRECISION_BITS) as f64;
            row[x] = if w < 0.0 {
                (-0.5 + fixed) as i32
            } else {
                (0.5 + fixed) as i32
            };
        }
        bounds.push((xmin, count));
    }
    Coefficients {
        ksize,
        bounds,
        weights,
    }
}

/// `(input size, output size)`.
type CoefficientsKey = (usize, usize);

thread_local! {
    // Weights cost more than the resize itself on small pictures, and the same (input, output)
    // sizes recur constantly (every hash, every photo of a camera).
    static COEFFICIENTS: RefCell<HashMap<CoefficientsKey, Rc<Coefficients>>> = RefCell::new(HashMap::new());
}
const CACHE_ENTRIES: usize = 4096;
/// Tables with more weights than this (4 MB) are not cached.
const CACHED_WEIGHTS_MAX: usize = 1 << 20;

fn coefficients(in_size: usize, out_size: usize) -> Rc<Coefficients> {
    COEFFICIENTS.with(|cache| {
        let mut cache = cache.borrow_mut();
        let key = (in_size, out_size);
        if let Some(found) = cache.get(&key) {
            return found.clone();
        }
        if cache.len() >= CACHE_ENTRIES {
            cache.clear();
        }
        let computed = Rc::new(compute_coefficients(in_size, out_size));
        // A very long line (a 1e7 px strip) makes tables of hundreds of MB: used once, not kept.
        if computed.weights.len() <= CACHED_WEIGHTS_MAX {
            cache.insert(key, computed.clone());
        }
        computed
    })
}

#[inline]
fn clip8(acc: i32) -> u8 {
    // Pillow accumulates in a C int too; these bounds are its clip8.
    if acc >= (1i32 << PRECISION_BITS << 8) {
        255
    } else if acc <= 0 {
        0
    } else {
        (acc >> PRECISION_BITS) as u8
    }
}

const ROUNDING: i32 = 1 << (PRECISION_BITS - 1);

/// A picture stored column by column (its transpose), each column padded with zeros to a whole
/// number of 32-byte vectors where that adds at most a quarter: the layout the horizontal Lanczos
/// pass and the sharpness edges read down contiguous memory. Made once per picture and shared
/// (`scan::analyze`).
pub struct Columns {
    pub width: usize,
    pub height: usize,
    /// Bytes from one column to the next: `height`, rounded up to a multiple of 32 when that
    /// costs at most 25% more (a 1 px tall strip of 1e8 pixels must not take 3.2 GB).
    pub stride: usize,
    /// `width` columns of `stride` bytes; the bytes past `height` in each are 0.
    pub data: Vec<u8>,
}

impl Columns {
    pub fn of(picture: &Gray) -> Columns {
        let height = picture.height;
        let padded = height.next_multiple_of(32);
        let stride = if padded * 4 <= height * 5 {
            padded
        } else {
            height.max(1)
        };
        Columns::with_stride(picture, stride)
    }

    /// Transposed in strips of STRIP columns (`transpose_strip`), each strip's columns then
    /// appended: no zeroed picture-sized buffer, and whole words per load and store.
    fn with_stride(picture: &Gray, stride: usize) -> Columns {
        let (width, height) = (picture.width, picture.height);
        let mut data = Vec::with_capacity(width * stride);
        // The strip's columns, `stride` bytes each; the padding past `height` stays 0.
        let mut strip = vec![0u8; STRIP * stride];
        for x0 in (0..width).step_by(STRIP) {
            run_transpose_strip(&picture.pixels, width, x0, stride, &mut strip);
            let columns = (width - x0).min(STRIP);
            // Column by column: copies this short stay vector moves.
            for column in strip.chunks_exact(stride.max(1)).take(columns) {
                data.extend_from_slice(column);
            }
        }
        Columns {
            width,
            height,
            stride,
            data,
        }
    }
}

/// Columns per strip of the transpose: four 8 x 8 blocks side by side, their rows one AVX2 vector
/// of four u64 words.
const STRIP: usize = 32;

/// Four side-by-side 8 x 8 byte blocks, each row as four little-endian words (word `b` holds
/// columns 8b..8b+8).
type Blocks = [[u64; 4]; 8];

dispatched!(run_transpose_strip => transpose_strip(pixels: &[u8], width: usize, x0: usize, stride: usize, strip: &mut [u8]));

/// Columns `x0..x0 + STRIP` (fewer at the right edge) of a `width`-wide picture into `strip`,
/// column `c` at `c * stride`, 8 rows at a time.
#[inline(always)]
fn transpose_strip(pixels: &[u8], width: usize, x0: usize, stride: usize, strip: &mut [u8]) {
    let height = pixels.len() / width.max(1);
    let columns = (width - x0).min(STRIP);
    let words = |bytes: &[u8]| -> [u64; 4] {
        std::array::from_fn(|b| u64::from_le_bytes(bytes[8 * b..8 * b + 8].try_into().unwrap()))
    };
    let row_words = |y: usize| -> [u64; 4] {
        let at = y * width + x0;
        match pixels.get(at..at + STRIP) {
            // At the right edge these bytes run on into the next row: a block's output column
            // is its input column, and those columns are never written out.
            Some(bytes) if y < height => words(bytes),
            _ if y < height => {
                let mut bytes = [0u8; STRIP];
                for (b, &p) in bytes.iter_mut().zip(&pixels[at..at + columns]) {
                    *b = p;
                }
                words(&bytes)
            }
            // Below the picture: zeros, the columns' padding.
            _ => [0; 4],
        }
    };
    let mut out: Vec<&mut [u8]> = strip.chunks_exact_mut(stride).take(columns).collect();
    for y0 in (0..height).step_by(8) {
        let turned = transpose_blocks(std::array::from_fn(|i| row_words(y0 + i)));
        if columns == STRIP && y0 + 8 <= stride {
            // Unrolled: each store a fixed word of `turned`.
            for b in 0..4 {
                for (j, words) in turned.iter().enumerate() {
                    out[8 * b + j][y0..y0 + 8].copy_from_slice(&words[b].to_le_bytes());
                }
            }
            continue;
        }
        for (c, column) in out.iter_mut().enumerate() {
            let bytes = turned[c % 8][c / 8].to_le_bytes();
            match column.get_mut(y0..y0 + 8) {
                Some(rows) => rows.copy_from_slice(&bytes),
                // The last rows of a column without padding.
                None => column[y0..].iter_mut().zip(bytes).for_each(|(d, b)| *d = b),
            }
        }
    }
}

/// Transposes each of the four 8 x 8 byte blocks: byte `j` of row `i` becomes byte `i` of row
/// `j`. Three rounds swap ever larger sub-blocks across the diagonal (single bytes, pairs,
/// quads), the four blocks in the lanes of one vector.
#[inline(always)]
fn transpose_blocks(mut rows: Blocks) -> Blocks {
    for (shift, mask) in [
        (8, 0x00FF_00FF_00FF_00FFu64),
        (16, 0x0000_FFFF_0000_FFFF),
        (32, 0x0000_0000_FFFF_FFFF),
    ] {
        let span = shift / 8;
        for i in (0..8).filter(|i| i & span == 0) {
            let (a, b) = (rows[i], rows[i + span]);
            let swapped: [u64; 4] = std::array::from_fn(|k| ((a[k] >> shift) ^ b[k]) & mask);
            rows[i + span] = std::array::from_fn(|k| b[k] ^ swapped[k]);
            rows[i] = std::array::from_fn(|k| a[k] ^ (swapped[k] << shift));
        }
    }
    rows
}

/// Resize to `out_w` x `out_h` exactly as Pillow's `Image.resize(size, Image.LANCZOS)` on mode "L".
pub fn resize_lanczos(src: &Gray, out_w: usize, out_h: usize) -> Gray {
    resize_lanczos_columns(src, &Columns::of(src), out_w, out_h)
}

/// `resize_lanczos` of `src` whose `Columns` are already made.
pub fn resize_lanczos_columns(src: &Gray, columns: &Columns, out_w: usize, out_h: usize) -> Gray {
    assert!(src.width > 0 && src.height > 0 && out_w > 0 && out_h > 0);
    debug_assert_eq!((columns.width, columns.height), (src.width, src.height));
    let rows: Gray = if out_w != src.width {
        let horizontal = coefficients(src.width, out_w);
        let mut out = vec![0u8; out_w * src.height];
        run_horizontal(columns, &horizontal, &mut out);
        Gray::new(out_w, src.height, out)
    } else {
        src.clone()
    };
    if out_h == src.height {
        return rows;
    }
    let vertical = coefficients(src.height, out_h);
    let mut out = vec![0u8; out_w * out_h];
    run_vertical(&rows.pixels, out_w, &vertical, &mut out);
    Gray::new(out_w, out_h, out)
}

dispatched!(run_horizontal => horizontal_pass(columns: &Columns, horizontal: &Coefficients, out: &mut [u8]));
dispatched!(run_vertical => vertical_pass(rows: &[u8], out_w: usize, vertical: &Coefficients, out: &mut [u8]));

/// Pillow's horizontal pass: each output sample of each line, from its taps, clipped to 8 bits.
///
/// Run down the picture's columns: one tap then adds a weight times a contiguous column into all
/// lines' sums at once (vectorised, no scalar tail thanks to the padding), where a tap loop per
/// output sample would be a short dot product of ~20 values, mostly loop overhead.
#[inline(always)]
fn horizontal_pass(columns: &Columns, horizontal: &Coefficients, out: &mut [u8]) {
    let out_w = horizontal.bounds.len();
    let stride = columns.stride;
    let mut acc = vec![0i32; stride];
    for (xx, &(xmin, count)) in horizontal.bounds.iter().enumerate() {
        acc.fill(ROUNDING);
        let weights = &horizontal.weights[xx * horizontal.ksize..][..count];
        for (k, &w) in weights.iter().enumerate() {
            let column = &columns.data[(xmin + k) * stride..][..stride];
            for (a, &p) in acc.iter_mut().zip(column) {
                *a = a.wrapping_add(p as i32 * w);
            }
        }
        for (y, &a) in acc[..columns.height].iter().enumerate() {
            out[y * out_w + xx] = clip8(a);
        }
    }
}

/// Pillow's vertical pass over the rows the horizontal pass made, whole rows at a time so the
/// inner loop runs over contiguous memory.
#[inline(always)]
fn vertical_pass(rows: &[u8], out_w: usize, vertical: &Coefficients, out: &mut [u8]) {
    let mut acc = vec![0i32; out_w];
    for ((yy, &(ymin, count)), dest) in vertical
        .bounds
        .iter()
        .enumerate()
        .zip(out.chunks_exact_mut(out_w))
    {
        acc.fill(ROUNDING);
        let weights = &vertical.weights[yy * vertical.ksize..][..count];
        for (dy, &w) in weights.iter().enumerate() {
            let row = &rows[(ymin + dy) * out_w..][..out_w];
            for (a, &p) in acc.iter_mut().zip(row) {
                *a = a.wrapping_add(p as i32 * w);
            }
        }
        for (d, &a) in dest.iter_mut().zip(&acc) {
            *d = clip8(a);
        }
    }
}

/// Area (box) weights along one axis: per output sample its first input and tap count, and all
/// taps' weights (each sample's summing to 1), flat. f32: SSE2 multiplies f32 lanes, not u32.
struct AreaWeights {
    first: Vec<usize>,
    count: Vec<usize>,
    offset: Vec<usize>,
    weights: Vec<f32>,
}

fn area_weights(in_size: usize, out_size: usize) -> AreaWeights {
    let scale = in_size as f64 / out_size as f64;
    let mut table = AreaWeights {
        first: vec![],
        count: vec![],
        offset: vec![],
        weights: vec![],
    };
    for o in 0..out_size {
        let (start, end) = (
            o as f64 * scale,
            ((o + 1) as f64 * scale).min(in_size as f64),
        );
        let first = (start.floor() as usize).min(in_size - 1);
        let last = (end.ceil() as usize).clamp(first + 1, in_size);
        let span = end - start;
        let at = table.weights.len();
        for i in first..last {
            let covered = ((i + 1) as f64).min(end) - (i as f64).max(start);
            table.weights.push((covered.max(0.0) / span) as f32);
        }
        table.first.push(first);
        table.count.push(last - first);
        table.offset.push(at);
    }
    table
}

/// Area-average (box filter) resize of a gray picture: each output pixel is the mean of the input
/// area it covers (upscaling repeats pixels). Cheap, and enough where no parity with Pillow is owed.
pub fn resize_area(src: &Gray, out_w: usize, out_h: usize) -> Gray {
    let (xs, ys) = (
        area_weights(src.width, out_w),
        area_weights(src.height, out_h),
    );
    let mut pixels = vec![0u8; out_w * out_h];
    run_area(src, &xs, &ys, &mut pixels);
    Gray::new(out_w, out_h, pixels)
}

dispatched!(run_area => area_passes(src: &Gray, xs: &AreaWeights, ys: &AreaWeights, pixels: &mut [u8]));

#[inline(always)]
fn area_passes(src: &Gray, xs: &AreaWeights, ys: &AreaWeights, pixels: &mut [u8]) {
    let out_w = xs.first.len();
    let w = src.width;
    // Vertical pass first, whole input rows at a time (contiguous: vectorised), then the
    // horizontal pass on the few output rows.
    let mut down = vec![0f32; w];
    let mut acc = vec![0f32; out_w];
    let most = xs.count.iter().copied().max().unwrap_or(0);
    let taps: Vec<(Vec<usize>, Vec<f32>)> = (0..most)
        .map(|k| {
            (0..out_w)
                .map(|x| {
                    let used = k < xs.count[x];
                    (
                        (xs.first[x] + k).min(w - 1),
                        if used {
                            xs.weights[xs.offset[x] + k]
                        } else {
                            0.0
                        },
                    )
                })
                .unzip()
        })
        .collect();
    for (y, out) in pixels.chunks_exact_mut(out_w).enumerate() {
        down.fill(0.0);
        let (first, count, at) = (ys.first[y], ys.count[y], ys.offset[y]);
        for (k, &weight) in ys.weights[at..at + count].iter().enumerate() {
            let line = &src.pixels[(first + k) * w..(first + k + 1) * w];
            for (d, &p) in down.iter_mut().zip(line) {
                *d += weight * p as f32;
            }
        }
        // Tap-major: one simple loop per tap over all outputs (unused taps weigh 0).
        acc.fill(0.5);
        for (indices, weights) in taps.iter() {
            for ((a, &i), &weight) in acc.iter_mut().zip(indices).zip(weights) {
                *a += weight * down[i];
            }
        }
        for (o, &a) in out.iter_mut().zip(&acc) {
            *o = a.clamp(0.0, 255.0) as u8;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn area_average_of_blocks() {
        // 4x2 -> 2x1: each output is the mean of a 2x2 block.
        let src = Gray::new(4, 2, vec![0, 100, 200, 255, 100, 200, 255, 255]);
        assert_eq!(resize_area(&src, 2, 1).pixels, vec![100, 241]);
        // Non-integer ratio keeps a flat picture flat.
        let flat = Gray::new(100, 75, vec![77; 7500]);
        assert!(resize_area(&flat, 64, 64).pixels.iter().all(|&p| p == 77));
    }

    fn sinc(x: f64) -> f64 {
        if x == 0.0 {
            1.0
        } else {
            let x = x * std::f64::consts::PI;
            x.sin() / x
        }
    }

    /// Pillow's lanczos_filter, two `sin` calls per tap: the reference for `LanczosWaves`.
    fn lanczos(x: f64) -> f64 {
        if (-LANCZOS_SUPPORT..LANCZOS_SUPPORT).contains(&x) {
            sinc(x) * sinc(x / LANCZOS_SUPPORT)
        } else {
            0.0
        }
    }

    #[test]
    fn rotated_waves_are_pillows_lanczos() {
        for (start, step) in [(-2.7, 0.31), (-3.0, 1.0), (-11.2, 0.0107), (0.5, -0.25)] {
            let mut waves = LanczosWaves::new(start, step);
            for k in 0..800 {
                let x = start + k as f64 * step;
                let (got, want) = (waves.next(x), lanczos(x));
                assert!((got - want).abs() < 1e-12, "x = {x}: {got} vs {want}");
            }
        }
    }

    #[test]
    fn fixed_point_weights_are_pillows() {
        // The weights as Pillow computes them (two sin() per tap) for many size pairs: the same
        // 22-bit integers, so the resize stays bit-exact.
        // Every input size up to 1,200 for the hashes' outputs (a centre that falls a rounding
        // away from a tap, e.g. 75 -> 9, once broke this), and a few other pairs.
        let hashes = (1..=1200).flat_map(|n| [(n, 8), (n, 9), (n, 32)]);
        let others = [7, 33, 64, 100, 133, 301, 1000]
            .into_iter()
            .flat_map(|n| [(n, 1), (n, 16), (n, 300)]);
        for (in_size, out_size) in hashes.chain(others) {
            let fast = compute_coefficients(in_size, out_size);
            let scale = in_size as f64 / out_size as f64;
            let ss = 1.0 / scale.max(1.0);
            for (xx, &(xmin, count)) in fast.bounds.iter().enumerate() {
                let center = (xx as f64 + 0.5) * scale;
                let k: Vec<f64> = (0..count)
                    .map(|x| lanczos((x as f64 + xmin as f64 - center + 0.5) * ss))
                    .collect();
                let total: f64 = k.iter().sum();
                for (x, &w) in k.iter().enumerate() {
                    let w = if total != 0.0 { w / total } else { w };
                    let fixed = w * (1u32 << PRECISION_BITS) as f64;
                    let want = if w < 0.0 {
                        (-0.5 + fixed) as i32
                    } else {
                        (0.5 + fixed) as i32
                    };
                    assert_eq!(
                        fast.weights[xx * fast.ksize + x],
                        want,
                        "{in_size} -> {out_size}, {xx}/{x}"
                    );
                }
            }
        }
    }

    fn noise(w: usize, h: usize, state: u32) -> Gray {
        Gray::new(w, h, super::super::gray::test_noise(w * h, state))
    }

    #[test]
    fn vector_builds_give_the_baseline_bytes() {
        // Odd sizes: tails that do not fill a vector, up- and downscaling.
        for (i, (w, h, ow, oh)) in [(133, 110, 32, 32), (7, 45, 9, 8), (301, 5, 300, 17)]
            .into_iter()
            .enumerate()
        {
            let src = noise(w, h, 0x9e37_79b9 + i as u32);
            let (horizontal, vertical) = (compute_coefficients(w, ow), compute_coefficients(h, oh));
            let (mut fast, mut plain) = (vec![0u8; ow * h], vec![0u8; ow * h]);
            let columns = Columns::of(&src);
            run_horizontal(&columns, &horizontal, &mut fast);
            horizontal_pass(&columns, &horizontal, &mut plain);
            assert_eq!(fast, plain, "horizontal {w}x{h} -> {ow}");
            let (mut fast_v, mut plain_v) = (vec![0u8; ow * oh], vec![0u8; ow * oh]);
            run_vertical(&plain, ow, &vertical, &mut fast_v);
            vertical_pass(&plain, ow, &vertical, &mut plain_v);
            assert_eq!(fast_v, plain_v, "vertical {w}x{h} -> {ow}x{oh}");
            let (xs, ys) = (area_weights(w, ow), area_weights(h, oh));
            let (mut fast_a, mut plain_a) = (vec![0u8; ow * oh], vec![0u8; ow * oh]);
            run_area(&src, &xs, &ys, &mut fast_a);
            area_passes(&src, &xs, &ys, &mut plain_a);
            assert_eq!(fast_a, plain_a, "area {w}x{h} -> {ow}x{oh}");
        }
    }

    #[test]
    fn huge_weight_tables_are_not_kept() {
        // A 2,000,000 px line to 8: 12M weights (48 MB), made for one resize and dropped.
        assert!(!Rc::ptr_eq(
            &coefficients(2_000_000, 8),
            &coefficients(2_000_000, 8)
        ));
        assert!(Rc::ptr_eq(&coefficients(133, 32), &coefficients(133, 32)));
    }

    #[test]
    fn columns_pad_only_where_cheap() {
        let strip = Columns::of(&noise(5000, 1, 7));
        assert_eq!((strip.stride, strip.data.len()), (1, 5000));
        assert_eq!(Columns::of(&noise(10, 110, 7)).stride, 128);
        assert_eq!(Columns::of(&noise(10, 70, 7)).stride, 70);
        // Unpadded columns resize the same as padded ones would: the hashes of a strip.
        let strip = noise(900, 3, 11);
        let padded = Columns {
            width: 900,
            height: 3,
            stride: 32,
            data: (0..900)
                .flat_map(|x| (0..32).map(move |y| (x, y)))
                .map(|(x, y)| if y < 3 { strip.pixels[y * 900 + x] } else { 0 })
                .collect(),
        };
        assert_eq!(
            resize_lanczos_columns(&strip, &padded, 9, 8),
            resize_lanczos(&strip, 9, 8)
        );
    }

    #[test]
    fn columns_are_the_transpose() {
        // Sizes on both sides of whole 8 x 8 blocks, padded strides and not.
        for (i, (w, h)) in [
            (1, 1),
            (8, 8),
            (9, 7),
            (7, 9),
            (16, 70),
            (133, 110),
            (40, 3),
        ]
        .into_iter()
        .enumerate()
        {
            let picture = noise(w, h, 0x51 + i as u32);
            let columns = Columns::of(&picture);
            assert_eq!(columns.data.len(), w * columns.stride, "{w}x{h}");
            for (x, column) in columns.data.chunks_exact(columns.stride).enumerate() {
                for (y, &p) in column.iter().enumerate() {
                    let want = if y < h { picture.at(x, y) } else { 0 };
                    assert_eq!(p, want, "{w}x{h} at {x},{y}");
                }
            }
        }
    }

    #[test]
    fn flat_picture_stays_flat() {
        let src = Gray::new(50, 40, vec![77; 2000]);
        let out = resize_lanczos(&src, 8, 8);
        assert!(out.pixels.iter().all(|&p| p == 77));
    }

    #[test]
    fn matches_pillow_on_a_gradient() {
        // Pillow 10+: Image.fromarray(np.add.outer(np.arange(12)*20, np.arange(10)*3).astype(np.uint8))
        //   .resize((4, 3), Image.LANCZOS) -> rows below.
        let mut px = Vec::new();
        for y in 0..12u32 {
            for x in 0..10u32 {
                px.push((y * 20 + x * 3) as u8);
            }
        }
        let out = resize_lanczos(&Gray::new(10, 12, px), 4, 3);
        assert_eq!(
            out.pixels,
            vec![31, 39, 46, 54, 112, 120, 127, 135, 193, 201, 208, 216]
        );
    }

    #[test]
    fn upscaling_works() {
        let src = Gray::new(2, 2, vec![0, 255, 255, 0]);
        let out = resize_lanczos(&src, 9, 8);
        assert_eq!((out.width, out.height), (9, 8));
    }
}
