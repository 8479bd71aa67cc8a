//! Per-image measures on the gray picture: brightness, contrast, clipping, blur, sharpness,
//! information.

use super::gray::Gray;
use super::resample::{Columns, resize_area};
use super::smear::{Smear, directional_edges, smear};

/// Luma at or below this counts as near-black.
pub const DARK_LEVEL: u8 = 15;
/// Luma at or above this counts as near-white.
pub const BRIGHT_LEVEL: u8 = 240;
/// Blur is measured on a square picture of this side, so values compare across image sizes.
pub const BLUR_SIDE: usize = 64;
/// A pixel of the `blur_square` at or above this luma is clipped to white (`clip_edges`).
pub const CLIPPED_LEVEL: u8 = 252;

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
    /// Luma below which 99.9% of the pixels lie: the brightest speck (the stars of a night sky,
    /// the lamps of a street at night), which an underexposed photo has not either.
    pub luma_p999: u8,
    pub blur: f64,
    /// Share of the strong edges that are crisp (`sharpness`); None with too few strong edges.
    pub sharpness: Option<f64>,
    /// The same share one decode scale finer, for pictures whose `sharpness` is at most
    /// FINE_LOOK_BELOW (None otherwise): the scan fills it in (`scan::analyze`), `measure` cannot.
    pub sharpness_fine: Option<f64>,
    /// The finer look's crisp share along its softest of four directions, against the one across
    /// it (a smear); None without a finer look, as `sharpness_fine`.
    pub smear: Option<Smear>,
    pub entropy: f64,
    /// Length of the clipped white's outline in the `blur_square`: pairs of neighbours of which
    /// one is clipped, in square sides, along rows and down columns together, and the smaller of
    /// the two directions. A gain clips a photograph wherever it was light, in ragged patches; a
    /// blown sky or a white background is one smooth region.
    pub clip_edges: f64,
    pub clip_edges_min: f64,
    /// How far below the clipped level the unclipped pixels along that outline lie, on average
    /// (0 without an outline): a gain reaches white gradually (shallow), a subject cut out on a
    /// white background, or ink on paper, steps down at once (deep).
    pub clip_edge_depth: f64,
    /// Share of the `blur_square`'s change from row to row that whole rows share (0-1): near 1
    /// for lines of text, horizontal bands and a horizon; low for most photographs.
    pub row_coherence: f64,
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
    let (across, down, depth) = clip_edges(square);
    Stats {
        mean,
        std: variance.sqrt(),
        dark_frac: dark,
        bright_frac: bright,
        luma_p01: percentile(&histogram, 0.01),
        luma_p99: percentile(&histogram, 0.99),
        luma_p999: percentile(&histogram, 0.999),
        blur: laplacian_variance(square),
        sharpness: sharpness_with(picture, columns),
        sharpness_fine: None,
        smear: None,
        entropy,
        clip_edges: (across + down) as f64 / BLUR_SIDE as f64,
        clip_edges_min: across.min(down) as f64 / BLUR_SIDE as f64,
        clip_edge_depth: depth,
        row_coherence: row_coherence(square),
    }
}

/// Pairs of neighbours in `square` (BLUR_SIDE x BLUR_SIDE) of which exactly one is clipped, along
/// rows and down columns, and the mean depth below CLIPPED_LEVEL of the unclipped pixels with a
/// clipped 4-neighbour (0 when there are none).
fn clip_edges(square: &Gray) -> (u32, u32, f64) {
    let s = BLUR_SIDE;
    let p = &square.pixels;
    // Most photographs clip nothing: one pass (vectorised) says so.
    if p.iter().copied().max().unwrap_or(0) < CLIPPED_LEVEL {
        return (0, 0, 0.0);
    }
    let clipped = |i: usize| p[i] >= CLIPPED_LEVEL;
    let (mut across, mut down) = (0, 0);
    let (mut depth, mut bordering) = (0u64, 0u64);
    for y in 0..s {
        for x in 0..s {
            let i = y * s + x;
            if x + 1 < s && clipped(i) != clipped(i + 1) {
                across += 1;
            }
            if y + 1 < s && clipped(i) != clipped(i + s) {
                down += 1;
            }
            let touches = (x > 0 && clipped(i - 1))
                || (x + 1 < s && clipped(i + 1))
                || (y > 0 && clipped(i - s))
                || (y + 1 < s && clipped(i + s));
            if !clipped(i) && touches {
                depth += (CLIPPED_LEVEL - p[i]) as u64;
                bordering += 1;
            }
        }
    }
    let depth = if bordering == 0 {
        0.0
    } else {
        depth as f64 / bordering as f64
    };
    (across, down, depth)
}

/// (sum over y of (r[y+1] - r[y])²) / (BLUR_SIDE x sum over y, x of (p[y+1][x] - p[y][x])²),
/// r being row sums: by Cauchy-Schwarz at most 1, reached when every column steps alike. 0 for
/// a picture without change from row to row.
fn row_coherence(square: &Gray) -> f64 {
    let s = BLUR_SIDE;
    let rows: Vec<&[u8]> = square.pixels.chunks_exact(s).collect();
    let sums: Vec<i64> = rows
        .iter()
        .map(|row| row.iter().map(|&p| p as i64).sum())
        .collect();
    let (mut shared, mut total) = (0i64, 0i64);
    for y in 0..s - 1 {
        shared += (sums[y + 1] - sums[y]).pow(2);
        total += rows[y]
            .iter()
            .zip(rows[y + 1])
            .map(|(&a, &b)| (b as i64 - a as i64).pow(2))
            .sum::<i64>();
    }
    if total == 0 {
        0.0
    } else {
        shared as f64 / (s as i64 * total) as f64
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
pub(crate) fn column_edges(pixels: &[u8], width: usize) -> (u32, u32) {
    let mut counts = (0, 0);
    run_column_edges(pixels, width, &mut counts);
    counts
}

dispatched!(run_column_edges => column_edges_pass(pixels: &[u8], width: usize, counts: &mut (u32, u32)));

/// Columns per group of the edge pass: 16 lanes of i16 fill one AVX2 vector.
pub(crate) const EDGE_LANES: usize = 16;

/// A mask of `step_lanes` under which every lane steps.
pub(crate) const ALL_LANES: [i16; EDGE_LANES] = [-1; EDGE_LANES];

/// One step of EDGE_LANES edge runs (a column's or a line's each), from `above` to `here`, the
/// step of each lane off in `steps` made 0: a run that ends is counted in `strong` (and `crisp`).
/// Branch-free on fixed-size lanes, so it compiles to whole vectors with no bounds checks and no
/// scalar tail (which cost more than the vector loop itself on pictures 100-200 px wide).
#[allow(clippy::too_many_arguments)] // the run's three fields, its two counters, its two rows, the mask
#[inline(always)]
pub(crate) fn step_lanes(
    direction: &mut [i16; EDGE_LANES],
    rise: &mut [i16; EDGE_LANES],
    steepest: &mut [i16; EDGE_LANES],
    strong: &mut [u16; EDGE_LANES],
    crisp: &mut [u16; EDGE_LANES],
    above: &[u8; EDGE_LANES],
    here: &[u8; EDGE_LANES],
    steps: &[i16; EDGE_LANES],
) {
    for x in 0..EDGE_LANES {
        let d = (here[x] as i16 - above[x] as i16) & steps[x];
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
}

/// A run still open after the last row, ended there: (strong edge, crisp edge), as `step_lanes`
/// counts one that ends.
pub(crate) fn open_run_edge(direction: i16, rise: i16, steepest: i16) -> (bool, bool) {
    let is_strong = direction != 0 && rise >= STRONG_EDGE as i16;
    (
        is_strong,
        is_strong && rise <= CRISP_WIDTH as i16 * steepest,
    )
}

/// The open runs of one group of EDGE_LANES columns, and the edges they have ended.
#[derive(Clone, Copy, Default)]
struct EdgeRuns {
    direction: [i16; EDGE_LANES],
    rise: [i16; EDGE_LANES],
    steepest: [i16; EDGE_LANES],
    strong: [u16; EDGE_LANES],
    crisp: [u16; EDGE_LANES],
}

impl EdgeRuns {
    /// One row step of the group's columns.
    #[inline(always)]
    fn step(&mut self, above: &[u8; EDGE_LANES], here: &[u8; EDGE_LANES]) {
        step_lanes(
            &mut self.direction,
            &mut self.rise,
            &mut self.steepest,
            &mut self.strong,
            &mut self.crisp,
            above,
            here,
            &ALL_LANES,
        );
    }

    /// Moves the u16 counters into the totals.
    fn drain(&mut self, totals: &mut (u32, u32)) {
        totals.0 += self.strong.iter().map(|&c| c as u32).sum::<u32>();
        totals.1 += self.crisp.iter().map(|&c| c as u32).sum::<u32>();
        self.strong = [0; EDGE_LANES];
        self.crisp = [0; EDGE_LANES];
    }

    /// Runs still open at the last row end there.
    fn close(&self, totals: &mut (u32, u32)) {
        for x in 0..EDGE_LANES {
            let (strong, crisp) = open_run_edge(self.direction[x], self.rise[x], self.steepest[x]);
            totals.0 += strong as u32;
            totals.1 += crisp as u32;
        }
    }
}

/// Up to EDGE_LANES of `pixels` from `start` on, zero-padded past their end. Zero columns never
/// step, so they never make an edge (and a lane masked off in `step_lanes` does not step).
pub(crate) fn padded_group(pixels: &[u8], start: usize) -> [u8; EDGE_LANES] {
    let mut group = [0u8; EDGE_LANES];
    let rest = &pixels[start..pixels.len().min(start + EDGE_LANES)];
    group[..rest.len()].copy_from_slice(rest);
    group
}

#[inline(always)]
fn column_edges_pass(pixels: &[u8], width: usize, counts: &mut (u32, u32)) {
    let whole = width / EDGE_LANES;
    let mut groups = vec![EdgeRuns::default(); width.div_ceil(EDGE_LANES)];
    let mut totals = (0u32, 0u32);
    let rows: Vec<&[u8]> = pixels.chunks_exact(width.max(1)).collect();
    for (step, pair) in rows.windows(2).enumerate() {
        let (above, here) = (pair[0], pair[1]);
        let lanes = above
            .chunks_exact(EDGE_LANES)
            .zip(here.chunks_exact(EDGE_LANES));
        for (runs, (above, here)) in groups.iter_mut().zip(lanes) {
            let as_group = |lanes: &[u8]| -> [u8; EDGE_LANES] { lanes.try_into().unwrap() };
            runs.step(&as_group(above), &as_group(here));
        }
        if let Some(last) = groups.get_mut(whole) {
            let start = whole * EDGE_LANES;
            last.step(&padded_group(above, start), &padded_group(here, start));
        }
        // u16 counters cannot overflow within 32,768 rows (at most one edge per two rows).
        if step % 32_768 == 32_767 {
            groups.iter_mut().for_each(|g| g.drain(&mut totals));
        }
    }
    for group in &mut groups {
        group.drain(&mut totals);
        group.close(&mut totals);
    }
    *counts = totals;
}

/// Share of the strong edges (a rise of >= STRONG_EDGE levels) that are crisp (<= 2 px wide),
/// along rows and columns of the decoded picture. It asks whether the edges that exist are soft,
/// not how many there are: a clear sky or a foggy field keeps its few edges crisp, a defocused
/// photo has none. None when fewer than MIN_EDGES strong edges exist (nothing to judge).
///
/// An edge is a monotone run of steps of at least EDGE_STEP levels; its width is its rise over its
/// steepest step. Rows are measured as the columns of the transposed picture.
pub fn sharpness(picture: &Gray) -> Option<f64> {
    sharpness_with(picture, &Columns::of(picture))
}

/// `sharpness` of a picture whose `Columns` are made: its rows are read as those columns. Their
/// zero padding has no steps, so it adds no edges.
pub fn sharpness_with(picture: &Gray, columns: &Columns) -> Option<f64> {
    let (w, h) = (picture.width, picture.height);
    if w < 2 || h < 2 {
        return None;
    }
    let (strong_down, crisp_down) = column_edges(&picture.pixels, w);
    let (strong_across, crisp_across) = column_edges(&columns.data, columns.stride);
    let (strong, crisp) = (strong_down + strong_across, crisp_down + crisp_across);
    (strong >= MIN_EDGES).then(|| crisp as f64 / strong as f64)
}

/// The finer look at a picture whose `sharpness` is at most FINE_LOOK_BELOW: `sharpness` of the
/// finer view and its `Smear`, from one count of edges along four directions.
pub fn fine_look(picture: &Gray) -> (Option<f64>, Option<Smear>) {
    if picture.width < 2 || picture.height < 2 {
        return (None, None);
    }
    let edges = directional_edges(picture);
    let (strong, crisp) = (edges[0].0 + edges[1].0, edges[0].1 + edges[1].1);
    let sharpness = (strong >= MIN_EDGES).then(|| crisp as f64 / strong as f64);
    (sharpness, smear(&edges))
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
    let mut sums = (0, 0);
    run_laplacian_sums(&small.pixels, &mut sums);
    let (sum, sum_sq) = sums;
    let n = ((s - 2) * (s - 2)) as f64;
    let mean = sum as f64 / n;
    (sum_sq as f64 / n - mean * mean).max(0.0)
}

dispatched!(run_laplacian_sums => laplacian_sums(pixels: &[u8], sums: &mut (i64, i64)));

/// The sum and the sum of squares of the Laplacians of a BLUR_SIDE square's inner pixels. Each
/// row's in i32 (at most 62 x 1,020² < 2³¹) over fixed-size rows: the compiler runs it on i32
/// lanes, where i64 sums ran one pixel at a time.
#[inline(always)]
fn laplacian_sums(pixels: &[u8], sums: &mut (i64, i64)) {
    let rows: Vec<&[u8; BLUR_SIDE]> = pixels
        .chunks_exact(BLUR_SIDE)
        .map(|row| row.try_into().unwrap())
        .collect();
    for window in rows.windows(3) {
        let (up, row, down) = (window[0], window[1], window[2]);
        let (mut sum, mut sum_sq) = (0i32, 0i32);
        for x in 1..BLUR_SIDE - 1 {
            let l = row[x - 1] as i32 + row[x + 1] as i32 + up[x] as i32 + down[x] as i32
                - 4 * row[x] as i32;
            sum += l;
            sum_sq += l * l;
        }
        sums.0 += sum as i64;
        sums.1 += sum_sq as i64;
    }
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
    fn clipped_white_outline_and_row_coherence() {
        // Top half white, bottom half gray: one straight outline, one side long, across only;
        // every column steps alike from row to row, so the rows share all the change.
        let mut px = vec![255u8; 64 * 32];
        px.extend(vec![100u8; 64 * 32]);
        let s = measured(&Gray::new(64, 64, px));
        assert_eq!((s.clip_edges, s.clip_edges_min), (1.0, 0.0));
        assert_eq!(s.row_coherence, 1.0);
        assert_eq!(s.clip_edge_depth, 152.0); // gray 100 steps to white at once
        // A checkerboard of 8 px white and gray squares: clipped in patches, ragged both ways; the
        // columns step in opposite ways, so the rows share none of it.
        let board: Vec<u8> = (0..64 * 64)
            .map(|i| {
                if ((i / 64) / 8 + (i % 64) / 8) % 2 == 0 {
                    255
                } else {
                    100
                }
            })
            .collect();
        let s = measured(&Gray::new(64, 64, board));
        assert_eq!((s.clip_edges, s.clip_edges_min), (14.0, 7.0));
        assert_eq!(s.row_coherence, 0.0);
        let flat = measured(&Gray::new(64, 64, vec![255; 64 * 64]));
        assert_eq!(
            (flat.clip_edges, flat.row_coherence, flat.clip_edge_depth),
            (0.0, 0.0, 0.0)
        );
        // A ramp up to white: the pixels beside the clipped ones are just under it.
        let ramp: Vec<u8> = (0..64 * 64).map(|i| (190 + i % 64) as u8).collect();
        let s = measured(&Gray::new(64, 64, ramp));
        assert_eq!(s.clip_edge_depth, 1.0);
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

    /// The edge count one column at a time, one pixel at a time, with branches: the definition
    /// the vector pass must reproduce.
    fn column_edges_reference(pixels: &[u8], width: usize) -> (u32, u32) {
        let height = pixels.len() / width;
        let (mut strong, mut crisp) = (0, 0);
        let mut end_run = |rise: i16, steepest: i16| {
            if rise >= STRONG_EDGE as i16 {
                strong += 1;
                crisp += (rise <= CRISP_WIDTH as i16 * steepest) as u32;
            }
        };
        for x in 0..width {
            let (mut direction, mut rise, mut steepest) = (0i16, 0i16, 0i16);
            for y in 1..height {
                let d = pixels[y * width + x] as i16 - pixels[(y - 1) * width + x] as i16;
                let dir = if d >= EDGE_STEP as i16 {
                    1
                } else if d <= -(EDGE_STEP as i16) {
                    -1
                } else {
                    0
                };
                if dir != direction && direction != 0 {
                    end_run(rise, steepest);
                }
                let a = if dir != 0 { d.abs() } else { 0 };
                (rise, steepest) = if dir == direction {
                    ((rise + a).min(i16::MAX / 4), steepest.max(a))
                } else {
                    (a, a)
                };
                direction = dir;
            }
            if direction != 0 {
                end_run(rise, steepest);
            }
        }
        (strong, crisp)
    }

    fn smoothed_noise(w: usize, h: usize, seed: u32) -> Vec<u8> {
        let mut px = super::super::gray::test_noise(w * h, seed);
        for i in w..w * h {
            px[i] = ((px[i] as u16 + px[i - w] as u16 * 3) / 4) as u8;
        }
        px
    }

    #[test]
    fn edge_groups_count_as_the_definition() {
        // Widths on both sides of whole 16-column groups, and the padded columns' strides.
        for (i, w) in [1, 2, 15, 16, 17, 31, 32, 33, 100, 133]
            .into_iter()
            .enumerate()
        {
            for h in [1, 2, 3, 77] {
                let px = smoothed_noise(w, h, 0x5eed + i as u32);
                assert_eq!(
                    column_edges(&px, w),
                    column_edges_reference(&px, w),
                    "{w}x{h}"
                );
                let picture = Gray::new(w, h, px);
                let transposed: Vec<u8> = (0..w * h).map(|i| picture.at(i / h, i % h)).collect();
                let (down, across) = (
                    column_edges_reference(&picture.pixels, w),
                    column_edges_reference(&transposed, h),
                );
                let strong = down.0 + across.0;
                let want = (w >= 2 && h >= 2 && strong >= MIN_EDGES)
                    .then(|| (down.1 + across.1) as f64 / strong as f64);
                assert_eq!(sharpness(&picture), want, "{w}x{h}");
            }
        }
    }

    #[test]
    fn laplacian_sums_are_the_pixelwise_sums() {
        for seed in [1, 2, 3] {
            let px = smoothed_noise(BLUR_SIDE, BLUR_SIDE, seed);
            let at = |x: usize, y: usize| px[y * BLUR_SIDE + x] as i64;
            let (mut sum, mut sum_sq) = (0i64, 0i64);
            for y in 1..BLUR_SIDE - 1 {
                for x in 1..BLUR_SIDE - 1 {
                    let l =
                        at(x - 1, y) + at(x + 1, y) + at(x, y - 1) + at(x, y + 1) - 4 * at(x, y);
                    sum += l;
                    sum_sq += l * l;
                }
            }
            let (mut fast, mut plain) = ((0, 0), (0, 0));
            run_laplacian_sums(&px, &mut fast);
            laplacian_sums(&px, &mut plain);
            assert_eq!((fast, plain), ((sum, sum_sq), (sum, sum_sq)));
        }
        // The largest Laplacians: a checkerboard of 0 and 255.
        let board: Vec<u8> = (0..BLUR_SIDE * BLUR_SIDE)
            .map(|i| {
                if (i / BLUR_SIDE + i).is_multiple_of(2) {
                    0
                } else {
                    255
                }
            })
            .collect();
        let mut sums = (0, 0);
        run_laplacian_sums(&board, &mut sums);
        assert_eq!(sums.1, 62 * 62 * 1020 * 1020);
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
