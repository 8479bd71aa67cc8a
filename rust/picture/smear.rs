//! A smear (camera shake, a moving subject): edges soft along one direction and crisp across it.
//! `sharpness` pools the edges of every direction, so a smear keeps about half of them crisp (those
//! along it) and reads as sharp; here the crisp share is taken along four directions apart.

use super::gray::Gray;
use super::resample::Columns;
use super::stats::{MIN_EDGES, column_edges};

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
    // Diagonals of a tall picture are those of its transpose (the same lines; an edge is the same
    // read either way): the sheared picture stays at most twice the pixels.
    let wide = if picture.height > picture.width {
        transposed(picture)
    } else {
        picture.clone()
    };
    let right = diagonals(&wide, true);
    let left = diagonals(&wide, false);
    [
        column_edges(&picture.pixels, picture.width),
        column_edges(&columns.data, columns.stride),
        column_edges(&right.pixels, right.width),
        column_edges(&left.pixels, left.width),
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

fn transposed(picture: &Gray) -> Gray {
    let (w, h) = (picture.width, picture.height);
    let mut pixels = Vec::with_capacity(w * h);
    for x in 0..w {
        pixels.extend((0..h).map(|y| picture.pixels[y * w + x]));
    }
    Gray::new(h, w, pixels)
}

/// The picture's diagonals as the columns of a `height` x (`width` + `height` - 1) picture: column
/// c holds the line x - y = c - (height - 1) (`down_right`) or x + y = c, from the top row down.
/// Above and below its own pixels each column repeats its first and last pixel, so it steps only
/// where the picture does (zeros would make an edge at every border).
fn diagonals(picture: &Gray, down_right: bool) -> Gray {
    let (w, h) = (picture.width, picture.height);
    let width = w + h - 1;
    let mut pixels = Vec::with_capacity(width * h);
    let at = |x: usize, y: usize| picture.pixels[y * w + x];
    for y in 0..h {
        let row = &picture.pixels[y * w..(y + 1) * w];
        if down_right {
            // Lines not begun yet (they begin on the left edge, lower down), the row, lines ended
            // (on the right edge, higher up).
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
