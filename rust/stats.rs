//! Per-image measures on the gray picture: brightness, contrast, clipping, blur, sharpness,
//! information.

use crate::gray::Gray;
use crate::resample::resize_lanczos;

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
    pub entropy: f64,
}

pub fn measure(picture: &Gray) -> Stats {
    let mut histogram = [0u64; 256];
    for &p in &picture.pixels {
        histogram[p as usize] += 1;
    }
    let n = picture.pixels.len().max(1) as f64;
    let mean = histogram.iter().enumerate().map(|(v, &c)| v as f64 * c as f64).sum::<f64>() / n;
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
        blur: laplacian_variance(picture),
        sharpness: sharpness(picture),
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

/// Edges found along lines: each monotone run of steps >= EDGE_STEP is one edge, measured by its
/// rise and its steepest step.
#[derive(Default)]
struct EdgeTally {
    strong: u32,
    crisp: u32,
}

impl EdgeTally {
    fn edge(&mut self, rise: i32, steepest: i32) {
        if rise >= STRONG_EDGE {
            self.strong += 1;
            self.crisp += (rise <= CRISP_WIDTH * steepest) as u32;
        }
    }
}

/// The state of one line's current run: direction (-1, 0, 1), rise so far, steepest step.
#[derive(Default, Clone, Copy)]
struct Run {
    direction: i8,
    rise: i32,
    steepest: i32,
}

impl Run {
    fn step(&mut self, d: i32, tally: &mut EdgeTally) {
        let direction = if d >= EDGE_STEP { 1 } else if d <= -EDGE_STEP { -1 } else { 0 };
        if direction != self.direction {
            if self.direction != 0 {
                tally.edge(self.rise, self.steepest);
            }
            *self = Run { direction, rise: 0, steepest: 0 };
        }
        if direction != 0 {
            let a = d.abs();
            self.rise += a;
            self.steepest = self.steepest.max(a);
        }
    }

    fn end(self, tally: &mut EdgeTally) {
        if self.direction != 0 {
            tally.edge(self.rise, self.steepest);
        }
    }
}

/// Share of the strong edges (a rise of >= STRONG_EDGE levels) that are crisp (<= 2 px wide),
/// along rows and columns of the decoded picture. It asks whether the edges that exist are soft,
/// not how many there are: a clear sky or a foggy field keeps its few edges crisp, a defocused
/// photo has none. None when fewer than MIN_EDGES strong edges exist (nothing to judge).
pub fn sharpness(picture: &Gray) -> Option<f64> {
    let (w, h) = (picture.width, picture.height);
    let p = &picture.pixels;
    let mut tally = EdgeTally::default();
    for row in p.chunks_exact(w.max(1)).take(h) {
        let mut run = Run::default();
        for pair in row.windows(2) {
            run.step(pair[1] as i32 - pair[0] as i32, &mut tally);
        }
        run.end(&mut tally);
    }
    // Columns, walked row by row with one run per column (cache-friendly).
    let mut runs = vec![Run::default(); w];
    for y in 1..h {
        let (above, here) = (&p[(y - 1) * w..y * w], &p[y * w..(y + 1) * w]);
        for ((run, &a), &b) in runs.iter_mut().zip(above).zip(here) {
            run.step(b as i32 - a as i32, &mut tally);
        }
    }
    for run in runs {
        run.end(&mut tally);
    }
    (tally.strong >= MIN_EDGES).then(|| tally.crisp as f64 / tally.strong as f64)
}

/// Variance of the 4-neighbour Laplacian on a BLUR_SIDE x BLUR_SIDE picture: low means little
/// fine structure (blurred or flat).
pub fn laplacian_variance(picture: &Gray) -> f64 {
    let small = resize_lanczos(picture, BLUR_SIDE, BLUR_SIDE);
    let s = BLUR_SIDE;
    let p = &small.pixels;
    let (mut sum, mut sum_sq) = (0i64, 0i64);
    for y in 1..s - 1 {
        for x in 1..s - 1 {
            let at = |x: usize, y: usize| p[y * s + x] as i64;
            let l = at(x - 1, y) + at(x + 1, y) + at(x, y - 1) + at(x, y + 1) - 4 * at(x, y);
            sum += l;
            sum_sq += l * l;
        }
    }
    let n = ((s - 2) * (s - 2)) as f64;
    let mean = sum as f64 / n;
    (sum_sq as f64 / n - mean * mean).max(0.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flat_gray() {
        let s = measure(&Gray::new(10, 10, vec![100; 100]));
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
        let s = measure(&Gray::new(10, 10, px));
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
        let squares: Vec<u8> = (0..128 * 128).map(|i| if ((i / 128) / 4 + (i % 128) / 4) % 2 == 0 { 0 } else { 255 }).collect();
        assert!(laplacian_variance(&Gray::new(128, 128, squares)) > 10.0 * laplacian_variance(&Gray::new(128, 128, ramp)));
    }

    /// Vertical bars `period` px apart whose edges ramp over `ramp` px.
    fn bars(ramp: usize) -> Gray {
        let (w, h, period) = (96, 64, 12);
        let level = |x: usize| {
            let t = x % period;
            let rise = |t: usize| ((t + 1) * 200 / (ramp + 1)).min(200);
            (20 + if t < period / 2 { rise(t) } else { 200 - rise(t - period / 2) }) as u8
        };
        Gray::new(w, h, (0..w * h).map(|i| level(i % w)).collect())
    }

    #[test]
    fn crisp_edges_are_sharp_and_ramps_are_not() {
        assert_eq!(sharpness(&bars(0)), Some(1.0));
        assert_eq!(sharpness(&bars(5)), Some(0.0));
        // Flat or smooth: no strong edges, no verdict.
        assert_eq!(sharpness(&Gray::new(64, 64, (0..64 * 64).map(|i| (i % 64) as u8).collect())), None);
    }

    #[test]
    fn contrast_does_not_matter() {
        // The same crisp bars at a quarter of the contrast (fog) stay crisp.
        let faint = bars(0);
        let faint = Gray::new(faint.width, faint.height, faint.pixels.iter().map(|&p| 100 + p / 4).collect());
        assert_eq!(sharpness(&faint), Some(1.0));
    }
}
