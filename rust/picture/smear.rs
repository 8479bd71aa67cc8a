//! A smear (camera shake, a moving subject): edges soft along one direction and crisp across it.
//! `sharpness` pools the edges of every direction, so a smear keeps about half of them crisp (those
//! along it) and reads as sharp; here the crisp share is taken along four directions apart.

use super::gray::Gray;
use super::resample::Columns;
use super::stats::{
    ALL_LANES, EDGE_LANES, MIN_EDGES, column_edges, open_run_edge, padded_group, step_lanes,
};

/// The softest of four directions of a picture, against the one perpendicular to it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Smear {
    /// Share of the strong edges that are crisp along the direction where it is lowest (of the
    /// directions with at least MIN_EDGES strong edges).
    pub least: f64,
    /// The crisp share across that direction less `least`; None when the perpendicular has fewer
    /// than MIN_EDGES strong edges.
    pub gap: Option<f64>,
    /// Strong edges along that direction per strong edge across it (a picture that simply has
    /// few edges one way, blinds or a horizon, is lopsided here); None with `gap`.
    pub balance: Option<f64>,
}

/// (strong, crisp) edges down the columns, across the rows, down the diagonals to the right and
/// down the diagonals to the left: perpendicular pairs are 0-1 and 2-3. A diagonal step counts
/// as one step, like a row's.
pub fn directional_edges(picture: &Gray) -> [(u32, u32); 4] {
    let columns = Columns::of(picture);
    let mut diagonal = [(0, 0); 2];
    run_diagonal_edges(&picture.pixels, picture.width, &mut diagonal);
    [
        column_edges(&picture.pixels, picture.width),
        column_edges(&columns.data, columns.stride),
        diagonal[0],
        diagonal[1],
    ]
}

/// The softest direction of `edges` (`directional_edges`) against its perpendicular.
pub fn smear(edges: &[(u32, u32); 4]) -> Option<Smear> {
    let share =
        |(strong, crisp): (u32, u32)| (strong >= MIN_EDGES).then(|| crisp as f64 / strong as f64);
    let (along, least) = (0..4)
        .filter_map(|d| share(edges[d]).map(|s| (d, s)))
        .min_by(|a, b| a.1.total_cmp(&b.1))?;
    let across = along ^ 1;
    let other = share(edges[across]);
    Some(Smear {
        least,
        gap: other.map(|s| s - least),
        balance: other.map(|_| edges[along].0 as f64 / edges[across].0 as f64),
    })
}

dispatched!(run_diagonal_edges => diagonal_edges_pass(pixels: &[u8], width: usize, counts: &mut [(u32, u32); 2]));

/// Lanes per group of the diagonal pass, as of the column pass.
const LANES: usize = EDGE_LANES;

/// The open runs of every diagonal of one direction, by line: the `column_edges` state of a
/// column, one entry per line (`width` + `height` - 1 of them, and a group's worth of lines that
/// never step, so that a row's last group reads whole).
struct Lines {
    direction: Vec<i16>,
    rise: Vec<i16>,
    steepest: Vec<i16>,
    /// Lines stepping into each row below the first: `width` - 1.
    lanes: usize,
    /// The lanes of a row's last group that step: the first `lanes` % LANES.
    tail: [i16; LANES],
}

/// Edges ended by the lanes of one group (a lane is a position along the row, not a line), in a
/// span of groups of one row: a lane ends at most one run a group.
#[derive(Clone, Copy, Default)]
struct Ended {
    strong: [u16; LANES],
    crisp: [u16; LANES],
}

/// `Ended` added up over the rows.
#[derive(Clone, Copy, Default)]
struct Totals {
    strong: [u32; LANES],
    crisp: [u32; LANES],
}

impl Totals {
    fn add(&mut self, ended: &Ended) {
        for x in 0..LANES {
            self.strong[x] += ended.strong[x] as u32;
            self.crisp[x] += ended.crisp[x] as u32;
        }
    }

    fn sum(&self) -> (u32, u32) {
        (self.strong.iter().sum(), self.crisp.iter().sum())
    }
}

/// Groups of a row counted in one u16 `Ended` before it is added to the `Totals`.
const SPAN: usize = 32_768;

impl Lines {
    /// The lines of a `width` x `height` picture, none begun.
    fn new(width: usize, height: usize) -> Self {
        let zeros = vec![0; width + height - 1 + LANES];
        let lanes = width - 1;
        Lines {
            direction: zeros.clone(),
            rise: zeros.clone(),
            steepest: zeros,
            lanes,
            tail: std::array::from_fn(|x| -((x < lanes % LANES) as i16)),
        }
    }

    /// One row step of the `lanes` lines crossing a row: lane i is line `first` + i, and steps
    /// from `pixels[above + i]` to `pixels[here + i]`. The lanes of the last group past `lanes`
    /// step 0 (`tail`): that ends the open run of a line that has left the picture, as its padding
    /// did in a sheared picture, and leaves a line not begun as it is.
    #[inline(always)]
    fn step_row(
        &mut self,
        totals: &mut Totals,
        first: usize,
        pixels: &[u8],
        above: usize,
        here: usize,
    ) {
        let (whole, groups) = (self.lanes / LANES, self.lanes.div_ceil(LANES));
        let lines = first..first + groups * LANES;
        let (direction, _) = self.direction[lines.clone()].as_chunks_mut::<LANES>();
        let (rise, _) = self.rise[lines.clone()].as_chunks_mut::<LANES>();
        let (steepest, _) = self.steepest[lines].as_chunks_mut::<LANES>();
        let (above_whole, _) = pixels[above..above + whole * LANES].as_chunks::<LANES>();
        let (here_whole, _) = pixels[here..here + whole * LANES].as_chunks::<LANES>();
        let mut ended = Ended::default();
        let spans = (above_whole.chunks(SPAN).zip(here_whole.chunks(SPAN))).zip(
            (direction.chunks_mut(SPAN).zip(rise.chunks_mut(SPAN))).zip(steepest.chunks_mut(SPAN)),
        );
        for ((above, here), ((direction, rise), steepest)) in spans {
            let state = direction.iter_mut().zip(rise.iter_mut()).zip(steepest);
            for ((above, here), ((d, r), s)) in above.iter().zip(here).zip(state) {
                step_lanes(
                    d,
                    r,
                    s,
                    &mut ended.strong,
                    &mut ended.crisp,
                    above,
                    here,
                    &ALL_LANES,
                );
            }
            if above.len() == SPAN {
                totals.add(&ended);
                ended = Ended::default();
            }
        }
        if groups > whole {
            let (above, here) = (above + whole * LANES, here + whole * LANES);
            let (d, r, s) = (
                &mut direction[whole],
                &mut rise[whole],
                &mut steepest[whole],
            );
            let (above, here) = (padded_group(pixels, above), padded_group(pixels, here));
            step_lanes(
                d,
                r,
                s,
                &mut ended.strong,
                &mut ended.crisp,
                &above,
                &here,
                &self.tail,
            );
        }
        totals.add(&ended);
    }

    /// Runs still open after the last row end there.
    fn close(&self, totals: &mut (u32, u32)) {
        for ((&direction, &rise), &steepest) in
            self.direction.iter().zip(&self.rise).zip(&self.steepest)
        {
            let (strong, crisp) = open_run_edge(direction, rise, steepest);
            totals.0 += strong as u32;
            totals.1 += crisp as u32;
        }
    }
}

/// (strong, crisp) edges down the diagonals to the right (x - y constant) and to the left (x + y
/// constant) of a `width`-wide picture, each diagonal read from the top row down as a column is
/// by `column_edges`, without making the sheared picture of its diagonals: each line keeps its
/// run by itself, and the lines crossing row y are a window of them that moves by one line a row.
/// Line x - y + height - 1 to the right, x + y to the left. The step into row y from row y - 1
/// reads (x - 1, y - 1) -> (x, y) to the right, (x + 1, y - 1) -> (x, y) to the left; the line
/// of x = 0 (x = width - 1) begins at row y and has no step into it. A line that has left the
/// window keeps its open run until the end, where it ends as at a zero step. Any shape is read
/// so (a line read upwards has the same runs, so a tall picture's transpose counts alike).
#[inline(always)]
fn diagonal_edges_pass(pixels: &[u8], width: usize, counts: &mut [(u32, u32); 2]) {
    *counts = [(0, 0); 2];
    if width < 2 || pixels.len() < 2 * width {
        return; // every line is a single pixel
    }
    let height = pixels.len() / width;
    let mut right = Lines::new(width, height);
    let mut left = Lines::new(width, height);
    let (mut right_ended, mut left_ended) = (Totals::default(), Totals::default());
    for y in 1..height {
        let (above, here) = ((y - 1) * width, y * width);
        right.step_row(&mut right_ended, height - y, pixels, above, here + 1);
        left.step_row(&mut left_ended, y, pixels, above + 1, here);
    }
    *counts = [right_ended.sum(), left_ended.sum()];
    right.close(&mut counts[0]);
    left.close(&mut counts[1]);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The diagonals as they were counted before `diagonal_edges_pass`: on the sheared pictures
    /// `diagonals` makes, those of a tall picture on its transpose.
    fn sheared_diagonal_edges(picture: &Gray) -> [(u32, u32); 2] {
        let wide = if picture.height > picture.width {
            transposed(picture)
        } else {
            picture.clone()
        };
        let right = diagonals(&wide, true);
        let left = diagonals(&wide, false);
        [
            column_edges(&right.pixels, right.width),
            column_edges(&left.pixels, left.width),
        ]
    }

    fn transposed(picture: &Gray) -> Gray {
        let (w, h) = (picture.width, picture.height);
        let mut pixels = Vec::with_capacity(w * h);
        for x in 0..w {
            pixels.extend((0..h).map(|y| picture.pixels[y * w + x]));
        }
        Gray::new(h, w, pixels)
    }

    /// The picture's diagonals as the columns of a `height` x (`width` + `height` - 1) picture:
    /// column c holds the line x - y = c - (height - 1) (`down_right`) or x + y = c, from the top
    /// row down. Above and below its own pixels each column repeats its first and last pixel, so
    /// it steps only where the picture does (zeros would make an edge at every border).
    fn diagonals(picture: &Gray, down_right: bool) -> Gray {
        let (w, h) = (picture.width, picture.height);
        let width = w + h - 1;
        let mut pixels = Vec::with_capacity(width * h);
        let at = |x: usize, y: usize| picture.pixels[y * w + x];
        for y in 0..h {
            let row = &picture.pixels[y * w..(y + 1) * w];
            if down_right {
                // Lines not begun yet (they begin on the left edge, lower down), the row, lines
                // ended (on the right edge, higher up).
                pixels.extend((0..h - 1 - y).map(|c| at(0, h - 1 - c)));
                pixels.extend_from_slice(row);
                pixels.extend((h - 1 - y + w..width).map(|c| at(w - 1, w + h - 2 - c)));
            } else {
                // Lines ended (on the left edge, higher up), the row, lines not begun yet (on the
                // right edge, lower down).
                pixels.extend((0..y).map(|c| at(0, c)));
                pixels.extend_from_slice(row);
                pixels.extend((y + w..width).map(|c| at(w - 1, c + 1 - w)));
            }
        }
        Gray::new(width, h, pixels)
    }

    /// Every column of `diagonals` reads the picture's pixels along one line, in order, padded by
    /// its own end pixels.
    #[test]
    fn diagonals_are_the_lines_of_the_picture() {
        let (w, h) = (5usize, 3usize);
        let picture = Gray::new(w, h, (0..(w * h) as u8).collect());
        for down_right in [true, false] {
            let sheared = diagonals(&picture, down_right);
            assert_eq!((sheared.width, sheared.height), (w + h - 1, h));
            for c in 0..sheared.width {
                let column: Vec<u8> = (0..h).map(|y| sheared.at(c, y)).collect();
                let line: Vec<u8> = (0..h)
                    .filter_map(|y| {
                        let x = if down_right {
                            c as i64 + y as i64 - (h as i64 - 1)
                        } else {
                            c as i64 - y as i64
                        };
                        (0..w as i64)
                            .contains(&x)
                            .then(|| picture.at(x as usize, y))
                    })
                    .collect();
                let mut unpadded = column.clone();
                unpadded.dedup();
                let mut expected = line.clone();
                expected.dedup();
                assert_eq!(unpadded, expected, "column {c}, down_right {down_right}");
                assert!(column.first() == line.first() && column.last() == line.last());
            }
        }
    }

    /// Stripes blurred along x only: soft across the rows, crisp down the columns and its
    /// diagonals' share in between; a picture of crisp squares is crisp every way.
    #[test]
    fn a_horizontal_smear_is_soft_along_rows_only() {
        let (w, h) = (96usize, 96usize);
        let mut crisp = vec![0u8; w * h];
        for y in 0..h {
            for x in 0..w {
                crisp[y * w + x] = if (x / 8 + y / 8) % 2 == 0 { 30 } else { 220 };
            }
        }
        let blocks = Gray::new(w, h, crisp.clone());
        let sharp = smear(&directional_edges(&blocks)).unwrap();
        assert!(sharp.least > 0.9, "{sharp:?}");
        // A 7-pixel box smear along the rows.
        let smeared: Vec<u8> = (0..h)
            .flat_map(|y| {
                let row = &crisp[y * w..(y + 1) * w];
                (0..w)
                    .map(|x| {
                        let span = x.saturating_sub(3)..(x + 4).min(w);
                        let n = span.len() as u32;
                        (row[span].iter().map(|&p| p as u32).sum::<u32>() / n) as u8
                    })
                    .collect::<Vec<_>>()
            })
            .collect();
        let found = smear(&directional_edges(&Gray::new(w, h, smeared))).unwrap();
        assert!(found.least < 0.05, "{found:?}");
        assert!(
            found.gap.unwrap() > 0.5 && found.balance.unwrap() > 0.4,
            "{found:?}"
        );
        let edges = directional_edges(&Gray::new(w, h, crisp));
        assert_eq!(
            edges[0], edges[1],
            "a symmetric picture measures alike down and across"
        );
        assert_eq!(edges[2].0, edges[3].0);
    }

    /// A tall picture's diagonals are read on its transpose: the same counts as the wide one's.
    #[test]
    fn a_tall_picture_reads_like_its_transpose() {
        let (w, h) = (40usize, 70usize);
        let pixels: Vec<u8> = (0..w * h)
            .map(|i| (((i % w) * 37 + (i / w) * 11) % 251) as u8)
            .collect();
        let tall = Gray::new(w, h, pixels);
        let wide = transposed(&tall);
        let (a, b) = (directional_edges(&tall), directional_edges(&wide));
        assert_eq!((a[0], a[1]), (b[1], b[0]));
        assert_eq!((a[2], a[3]), (b[2], b[3]));
    }

    /// Pictures of every kind the pass must count as the sheared pictures do: noise, smoothed
    /// noise (long runs), blocks, stripes at several angles, ramps, flat, and a single step.
    fn test_picture(w: usize, h: usize, kind: u32, seed: u32) -> Gray {
        let noise = super::super::gray::test_noise(w * h, seed | 1);
        let at = |i: usize| -> u8 {
            let (x, y) = (i % w, i / w);
            match kind {
                0 => noise[i],
                1 => ((x * 7 + y * 3 + seed as usize) % 256) as u8,
                2 => {
                    if ((x + seed as usize % 5) / 3 + y / 4).is_multiple_of(2) {
                        40
                    } else {
                        200
                    }
                }
                3 => (((x + y) * 60 + (seed as usize % 9) * x) % 256) as u8,
                4 => {
                    if x * 3 > y * 2 + seed as usize % 7 {
                        230
                    } else {
                        10
                    }
                }
                5 => 128,
                6 => ((x as i64 - y as i64).rem_euclid(17) * 15) as u8,
                _ => noise[i] / 64 * 60 + noise[i] % 3,
            }
        };
        let mut pixels: Vec<u8> = (0..w * h).map(at).collect();
        if kind == 0 && seed.is_multiple_of(2) {
            // Smoothed down and across: runs of every length and direction.
            for i in 1..w * h {
                pixels[i] = ((pixels[i] as u16 + pixels[i - 1] as u16 * 3) / 4) as u8;
            }
            for i in w..w * h {
                pixels[i] = ((pixels[i] as u16 + pixels[i - w] as u16 * 3) / 4) as u8;
            }
        }
        Gray::new(w, h, pixels)
    }

    /// The pass over the lines equals the edge pass over the sheared pictures (and their
    /// transposes for tall pictures), on pictures of 2-200 px each way.
    #[test]
    fn diagonal_pass_counts_as_the_sheared_pictures() {
        let mut state = 0x9e37_79b9u32;
        let mut next = |n: u32| {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            state % n
        };
        let mut sizes: Vec<(usize, usize)> = vec![(2, 2), (2, 200), (200, 2), (200, 200)];
        for side in [2, 3, 15, 16, 17, 18, 31, 32, 33, 34, 64, 65] {
            sizes.extend([(side, 2), (2, side), (side, side), (side, 17), (17, side)]);
        }
        for _ in 0..160 {
            sizes.push((2 + next(199) as usize, 2 + next(199) as usize));
        }
        let mut total = (0, 0);
        for (i, &(w, h)) in sizes.iter().enumerate() {
            let kind = i as u32 % 8;
            let picture = test_picture(w, h, kind, next(1 << 20));
            let want = sheared_diagonal_edges(&picture);
            let mut fast = [(0, 0); 2];
            let mut plain = [(0, 0); 2];
            run_diagonal_edges(&picture.pixels, w, &mut fast);
            diagonal_edges_pass(&picture.pixels, w, &mut plain);
            assert_eq!(fast, want, "{w}x{h}, kind {kind}");
            assert_eq!(plain, want, "{w}x{h}, kind {kind}");
            let edges = directional_edges(&picture);
            assert_eq!([edges[2], edges[3]], want, "{w}x{h}, kind {kind}");
            total.0 += want[0].0 + want[1].0;
            total.1 += want[0].1 + want[1].1;
        }
        assert!(
            total.0 > 10_000 && total.1 > 1_000,
            "edges to compare: {total:?}"
        );
        // A line of one pixel has no step: pictures one pixel wide or high have no diagonal edges.
        for (w, h) in [(1, 50), (50, 1), (1, 1)] {
            let picture = test_picture(w, h, 0, 7);
            let mut counts = [(9, 9); 2];
            diagonal_edges_pass(&picture.pixels, w, &mut counts);
            assert_eq!(counts, [(0, 0); 2]);
        }
    }

    /// A row of more than 65,535 groups whose every lane ends a strong crisp edge (0, 200, 0 down
    /// each line): the u16 counts of a row are added up before they overflow.
    #[test]
    fn a_very_wide_row_counts_every_edge() {
        let w = 2 * SPAN * LANES + 40;
        let mut pixels = vec![0u8; 3 * w];
        pixels[w..2 * w].fill(200);
        let picture = Gray::new(w, 3, pixels);
        let want = sheared_diagonal_edges(&picture);
        // Every line of three pixels rises and falls; a line of two at each end does one of them.
        let every = 2 * (w - 1) as u32;
        assert_eq!(want, [(every, every); 2]);
        let mut counts = [(0, 0); 2];
        run_diagonal_edges(&picture.pixels, w, &mut counts);
        assert_eq!(counts, want);
    }
}
