//! Per-image measures on the gray picture: brightness, contrast, clipping, blur, sharpness,
//! information.

use super::gray::Gray;
use super::resample::{Columns, resize_area};

/// Luma at or below this counts as near-black.
pub const DARK_LEVEL: u8 = 15;
/// Luma at or above this counts as near-white.
pub const BRIGHT_LEVEL: u8 = 240;
/// Blur is measured on a square picture of this side, so values compare across image sizes.
pub const BLUR_SIDE: usize = 64;

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Stats {
    pub mean: f64,
    pub std: f64,
    pub dark_frac: f64,
    pub bright_frac: f64,
    /// Luma below which 1% of the pixels lie, and below which 99% lie: the darkest and brightest
    /// parts of the picture (an underexposed photo has nothing bright, a night scene has lights).
    pub luma_p01: u8,
    pub luma_p99: u8,
    pub blur: f64,
    /// Share of the strong edges that are crisp (`sharpness`); None with too few strong edges.
    pub sharpness: Option<f64>,
    /// The same share one decode scale finer, for pictures whose `sharpness` is at most
    /// FINE_LOOK_BELOW (None otherwise): the scan fills it in (`scan::analyze`), `measure` cannot.
    pub sharpness_fine: Option<f64>,
    pub entropy: f64,
}

/// The measures of `picture`; `square` is its BLUR_SIDE x BLUR_SIDE area-averaged version
/// (`blur_square`), made once by the caller, who also takes the thumbnail from it, and `columns`
/// its `Columns`, which the hashes read too.
pub fn measure(picture: &Gray, square: &Gray, columns: &Columns) -> Stats {
    let mut histogram = [0u64; 256];
    for &p in &picture.pixels {
        histogram[p as usize] += 1;
    }
    let n = picture.pixels.len().max(1) as f64;
    let mean = histogram
        .iter()
        .enumerate()
        .map(|(v, &c)| v as f64 * c as f64)
        .sum::<f64>()
        / n;
    let variance = histogram
        .iter()
        .enumerate()
        .map(|(v, &c)| (v as f64 - mean).powi(2) * c as f64)
        .sum::<f64>()
        / n;
    let dark = histogram[..=DARK_LEVEL as usize].iter().sum::<u64>() as f64 / n;
    let bright = histogram[BRIGHT_LEVEL as usize..].iter().sum::<u64>() as f64 / n;
    let entropy = -histogram
        .iter()
        .filter(|&&c| c > 0)
        .map(|&c| {
            let p = c as f64 / n;
            p * p.log2()
        })
        .sum::<f64>();
    Stats {
        mean,
        std: variance.sqrt(),
        dark_frac: dark,
        bright_frac: bright,
        luma_p01: percentile(&histogram, 0.01),
        luma_p99: percentile(&histogram, 0.99),
        blur: laplacian_variance(square),
        sharpness: sharpness_with(picture, columns),
        sharpness_fine: None,
        entropy,
    }
}

/// The smallest level at or below which at least `share` of the pixels lie.
fn percentile(histogram: &[u64; 256], share: f64) -> u8 {
    let total: u64 = histogram.iter().sum();
    let needed = (share * total as f64).ceil().max(1.0) as u64;
    let mut seen = 0;
    for (level, &count) in histogram.iter().enumerate() {
        seen += count;
        if seen >= needed {
            return level as u8;
        }
    }
    255
}

/// A step between neighbours of at least this many levels continues an edge (smaller ones are
/// flat: JPEG noise, film grain).
const EDGE_STEP: i32 = 2;
/// An edge is strong when its luma rises or falls by at least this much across it.
pub const STRONG_EDGE: i32 = 16;
/// A strong edge is crisp when its width, rise / steepest step, is at most this many pixels (a
/// step inside one decoded pixel is 1-2 px wide; a Gaussian blur of sigma s makes it ~2.5 s).
pub const CRISP_WIDTH: i32 = 2;
/// Fewer strong edges than this: nothing to judge sharpness on (flat, or smooth gradients).
pub const MIN_EDGES: u32 = 20;
/// Pictures whose `sharpness` is at most this are looked at again one decode scale finer
/// (`sharpness_fine`): at most half their strong edges are crisp. At the scan's scale a blur of 1%
/// of the long side spans 0.6-1.3 decoded pixels, which a crisp edge can also span; twice as fine,
/// it spans 1.3-2.6. The finer view comes with the decode (JPEG) or the full-size picture (other
/// formats), so a look costs only its edge pass; about 20% of ordinary photographs get one. On the
/// tuning halves, a gate of 0.15 missed 1% blurs whose coarse value reached 0.4 (BENCHMARKS.md).
pub const FINE_LOOK_BELOW: f64 = 0.5;

/// Counts strong and crisp edges down the columns of a `width`-wide picture, all columns at once:
/// each column carries its current run (direction, rise, steepest step) and the update is
/// branch-free, so the compiler runs it on 16 columns per vector instruction.
fn column_edges(pixels: &[u8], width: usize) -> (u32, u32) {
    let mut counts = (0, 0);
    run_column_edges(pixels, width, &mut counts);
    counts
}

dispatched!(run_column_edges => column_edges_pass(pixels: &[u8], width: usize, counts: &mut (u32, u32)));

#[inline(always)]
fn column_edges_pass(pixels: &[u8], width: usize, counts: &mut (u32, u32)) {
    let mut direction = vec![0i16; width];
    let mut rise = vec![0i16; width];
    let mut steepest = vec![0i16; width];
    let (mut strong, mut crisp) = (vec![0u16; width], vec![0u16; width]);
    let (mut strong_total, mut crisp_total) = (0u32, 0u32);
    let rows: Vec<&[u8]> = pixels.chunks_exact(width.max(1)).collect();
    for (step, pair) in rows.windows(2).enumerate() {
        let (above, here) = (pair[0], pair[1]);
        for x in 0..width {
            let d = here[x] as i16 - above[x] as i16;
            let dir = (d >= EDGE_STEP as i16) as i16 - (d <= -(EDGE_STEP as i16)) as i16;
            let ends = (dir != direction[x]) & (direction[x] != 0);
            let is_strong = ends & (rise[x] >= STRONG_EDGE as i16);
            strong[x] += is_strong as u16;
            crisp[x] += (is_strong & (rise[x] <= CRISP_WIDTH as i16 * steepest[x])) as u16;
            let keep = (dir == direction[x]) as i16; // 1 continues the run, 0 starts afresh
            let a = d.abs() * (dir != 0) as i16;
            rise[x] = (rise[x] * keep + a).min(i16::MAX / 4);
            steepest[x] = (steepest[x] * keep).max(a);
            direction[x] = dir;
        }
        // u16 counters cannot overflow within 32,768 rows (at most one edge per two rows).
        if step % 32_768 == 32_767 {
            strong_total += strong.iter().map(|&c| c as u32).sum::<u32>();
            crisp_total += crisp.iter().map(|&c| c as u32).sum::<u32>();
            strong.fill(0);
            crisp.fill(0);
        }
    }
    for x in 0..width {
        // Runs still open at the last row end there.
        let is_strong = direction[x] != 0 && rise[x] >= STRONG_EDGE as i16;
        strong_total += strong[x] as u32 + is_strong as u32;
        crisp_total +=
            crisp[x] as u32 + (is_strong && rise[x] <= CRISP_WIDTH as i16 * steepest[x]) as u32;
    }
    *counts = (strong_total, crisp_total);
}

/// Share of the strong edges (a rise of >= STRONG_EDGE levels) that are crisp (<= 2 px wide),
/// along rows and columns of the decoded picture. It asks whether the edges that exist are soft,
/// not how many there are: a clear sky or a foggy field keeps its few edges crisp, a defocused
/// photo has none. None when fewer than MIN_EDGES strong edges exist (nothing to judge).
///
/// An edge is a monotone run of steps of at least EDGE_STEP levels; its width is its rise over its
/// steepest step. Rows are measured as the columns of the transposed picture.
pub fn sharpness(picture: &Gray) -> Option<f64> {
    sharpness_with(picture, &Columns::unpadded(picture))
}

/// `sharpness` of a picture whose `Columns` are made: its rows are read as those columns.
pub fn sharpness_with(picture: &Gray, columns: &Columns) -> Option<f64> {
    let (w, h) = (picture.width, picture.height);
    if w < 2 || h < 2 {
        return None;
    }
    let (strong_down, crisp_down) = column_edges(&picture.pixels, w);
    // The columns without their padding: the edge pass over padded rows measured 50% more
    // instructions than a copy and a pass over `h` lanes (callgrind, 100 JPEGs).
    let mut unpadded: Vec<u8>;
    let transposed = if columns.stride == h {
        &columns.data
    } else {
        unpadded = vec![0u8; w * h];
        for (dst, src) in unpadded
            .chunks_exact_mut(h)
            .zip(columns.data.chunks_exact(columns.stride))
        {
            dst.copy_from_slice(&src[..h]);
        }
        &unpadded
    };
    let (strong_across, crisp_across) = column_edges(transposed, h);
    let (strong, crisp) = (strong_down + strong_across, crisp_down + crisp_across);
    (strong >= MIN_EDGES).then(|| crisp as f64 / strong as f64)
}

/// A picture's BLUR_SIDE x BLUR_SIDE area average, the input of `laplacian_variance`. Area
/// averaging, not Lanczos: the column owes no parity with another tool, and it costs a tenth.
pub fn blur_square(picture: &Gray) -> Gray {
    resize_area(picture, BLUR_SIDE, BLUR_SIDE)
}

/// Variance of the 4-neighbour Laplacian on a picture's `blur_square`: low means little fine
/// structure (blurred *or* merely flat: the `blur` column is deprecated in favour of `sharpness`,
/// which tells the two apart).
pub fn laplacian_variance(small: &Gray) -> f64 {
    assert_eq!((small.width, small.height), (BLUR_SIDE, BLUR_SIDE));
    let s = BLUR_SIDE;
    let rows: Vec<&[u8]> = small.pixels.chunks_exact(s).collect();
    let (mut sum, mut sum_sq) = (0i64, 0i64);
    for window in rows.windows(3) {
        let (up, row, down) = (window[0], window[1], window[2]);
        for x in 1..s - 1 {
            let l = row[x - 1] as i32 + row[x + 1] as i32 + up[x] as i32 + down[x] as i32
                - 4 * row[x] as i32;
            sum += l as i64;
            sum_sq += (l * l) as i64;
        }
    }
    let n = ((s - 2) * (s - 2)) as f64;
    let mean = sum as f64 / n;
    (sum_sq as f64 / n - mean * mean).max(0.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn measured(picture: &Gray) -> Stats {
        measure(picture, &blur_square(picture), &Columns::of(picture))
    }

    #[test]
    fn flat_gray() {
        let s = measured(&Gray::new(10, 10, vec![100; 100]));
        assert_eq!(s.mean, 100.0);
        assert_eq!(s.std, 0.0);
        assert_eq!(s.entropy, 0.0);
        assert_eq!(s.blur, 0.0);
        assert_eq!(s.sharpness, None);
        assert_eq!((s.luma_p01, s.luma_p99), (100, 100));
        assert_eq!((s.dark_frac, s.bright_frac), (0.0, 0.0));
    }

    #[test]
    fn half_black_half_white() {
        let mut px = vec![0u8; 50];
        px.extend(vec![255u8; 50]);
        let s = measured(&Gray::new(10, 10, px));
        assert_eq!(s.mean, 127.5);
        assert_eq!(s.std, 127.5);
        assert_eq!(s.entropy, 1.0);
        assert_eq!((s.dark_frac, s.bright_frac), (0.5, 0.5));
        assert_eq!((s.luma_p01, s.luma_p99), (0, 255));
    }

    #[test]
    fn checkerboard_is_sharper_than_ramp() {
        let ramp: Vec<u8> = (0..128 * 128).map(|i| (i % 128) as u8 * 2).collect();
        // 4 px squares survive the 64x64 picture the measure is taken on.
        let squares: Vec<u8> = (0..128 * 128)
            .map(|i| {
                if ((i / 128) / 4 + (i % 128) / 4) % 2 == 0 {
                    0
                } else {
                    255
                }
            })
            .collect();
        assert!(
            laplacian_variance(&blur_square(&Gray::new(128, 128, squares)))
                > 10.0 * laplacian_variance(&blur_square(&Gray::new(128, 128, ramp)))
        );
    }

    /// Vertical bars `period` px apart whose edges ramp over `ramp` px.
    fn bars(ramp: usize) -> Gray {
        let (w, h, period) = (96, 64, 12);
        let level = |x: usize| {
            let t = x % period;
            let rise = |t: usize| ((t + 1) * 200 / (ramp + 1)).min(200);
            (20 + if t < period / 2 {
                rise(t)
            } else {
                200 - rise(t - period / 2)
            }) as u8
        };
        Gray::new(w, h, (0..w * h).map(|i| level(i % w)).collect())
    }

    #[test]
    fn crisp_edges_are_sharp_and_ramps_are_not() {
        assert_eq!(sharpness(&bars(0)), Some(1.0));
        assert_eq!(sharpness(&bars(5)), Some(0.0));
        // Flat or smooth: no strong edges, no verdict.
        assert_eq!(
            sharpness(&Gray::new(
                64,
                64,
                (0..64 * 64).map(|i| (i % 64) as u8).collect()
            )),
            None
        );
    }

    #[test]
    fn vector_build_counts_the_same_edges() {
        // Smoothed noise: runs of every length and direction, widths that are not whole vectors.
        let (w, h) = (133, 77);
        let mut px = super::super::gray::test_noise(w * h, 0x2545_f491);
        for i in w..w * h {
            px[i] = ((px[i] as u16 + px[i - w] as u16 * 3) / 4) as u8;
        }
        let (mut fast, mut plain) = ((0, 0), (0, 0));
        run_column_edges(&px, w, &mut fast);
        column_edges_pass(&px, w, &mut plain);
        assert_eq!(fast, plain);
        assert!(plain.0 > 100, "the picture has strong edges: {plain:?}");
    }

    #[test]
    fn contrast_does_not_matter() {
        // The same crisp bars at a quarter of the contrast (fog) stay crisp.
        let faint = bars(0);
        let faint = Gray::new(
            faint.width,
            faint.height,
            faint.pixels.iter().map(|&p| 100 + p / 4).collect(),
        );
        assert_eq!(sharpness(&faint), Some(1.0));
    }
}
