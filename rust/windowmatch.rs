//! # windowmatch — the per-window work of the near-duplicate rule
//!
//! `recipe_audit.dedup.thumbmatch` looks at each 16x16 thumbnail through 55 windows (the whole
//! picture, crops, small turns). Here:
//! * [`hashes`]: every window's 64-bit hash (its 8x8 lowest DCT frequencies, rounded to a grid of
//!   1/16, each against their median), and the whole picture's mirror-image hash;
//! * [`score`]: the two scores that confirm a candidate pair found by those hashes:
//! * the **correlation** of the two pictures' 16x16 DCT coefficients, each weighed by its
//!   frequency (`1 + u + v`, the DC left out): the query's whole picture (or its mirror image)
//!   against the other picture's window;
//! * the **sign agreement**: the share of the query's 256 band-pass signs (mirrored with the
//!   match) equal to the other's at the window's points, and the share two maps with as many
//!   positive signs agree on by chance.
//!
//! A window is a *variant*: its bilinear taps into the thumbnail (4 cells and weights per sample
//! point, 16x16 points) and its nearest sign cells, built once in Python for every window and
//! aspect band. Per candidate the work is the 1,024 taps, a separable DCT (2 x 16 x 16 x 16
//! multiply-adds) and two dot products: the dense map the Python side used before costs 256 x
//! 256 multiply-adds a candidate, plus a copy of each window's thumbnail.

use rayon::prelude::*;

/// Side of the thumbnail and of a window's sample grid.
pub const SIDE: usize = 16;
/// Cells of a thumbnail, points of a window, coefficients of a DCT.
pub const CELLS: usize = SIDE * SIDE;
/// Bilinear taps per sample point.
pub const TAPS: usize = 4;
/// A row's signs hold this value throughout when they are unknown (a scan by an earlier release).
pub const UNKNOWN_SIGN: u8 = 255;

/// Every window variant: `tap_cells` and `tap_weights` are (variants, CELLS, TAPS), `sign_cells`
/// is (variants, CELLS), all row-major.
pub struct Windows<'a> {
    pub tap_cells: &'a [u16],
    pub tap_weights: &'a [f32],
    pub sign_cells: &'a [u16],
}

impl Windows<'_> {
    /// How many variants the taps hold, after checking their lengths and cells.
    fn count(&self) -> Result<usize, String> {
        let per_variant = CELLS * TAPS;
        if self.tap_cells.len() != self.tap_weights.len()
            || !self.tap_cells.len().is_multiple_of(per_variant)
        {
            return Err("window taps must be (variants, 256, 4) cells and weights".into());
        }
        if self.tap_cells.iter().any(|&c| usize::from(c) >= CELLS) {
            return Err(format!("a window cell is {CELLS} or more"));
        }
        Ok(self.tap_cells.len() / per_variant)
    }
}

/// One side of the candidates: per picture, CELLS values, row-major.
pub struct Side<'a> {
    /// Each picture's thumbnail (gray levels).
    pub values: &'a [f32],
    /// Band-pass signs (0 or 1, `UNKNOWN_SIGN` throughout when unknown), or None.
    pub signs: Option<&'a [u8]>,
}

/// The candidates, one entry each: the query's row, whether its mirror image matched, the
/// other's row, the window variant.
pub struct Candidates<'a> {
    pub query: &'a [u32],
    pub mirrored: &'a [bool],
    pub other: &'a [u32],
    pub variant: &'a [u16],
}

/// Per candidate: the correlation, and the sign agreement and its chance (NaN where either
/// side's signs are unknown, or no signs were given).
pub struct Scores {
    pub correlation: Vec<f32>,
    pub agreement: Vec<f32>,
    pub chance: Vec<f32>,
}

/// Checks that every array has the length the others imply and every index is in range, so the
/// scoring itself cannot index out of bounds.
pub fn check(
    mine: &Side,
    theirs: &Side,
    windows: &Windows,
    candidates: &Candidates,
) -> Result<(), String> {
    for (name, side) in [("query", mine), ("other", theirs)] {
        if side.values.len() % CELLS != 0 {
            return Err(format!(
                "{name} values hold {} numbers, not a multiple of {CELLS}",
                side.values.len()
            ));
        }
        if let Some(signs) = side.signs
            && signs.len() != side.values.len()
        {
            return Err(format!(
                "{name} signs hold {} cells for {} values",
                signs.len(),
                side.values.len()
            ));
        }
    }
    let variants = windows.count()?;
    if windows.sign_cells.len() != variants * CELLS {
        return Err(format!(
            "{} sign cells for {variants} window variants",
            windows.sign_cells.len()
        ));
    }
    if windows.sign_cells.iter().any(|&c| usize::from(c) >= CELLS) {
        return Err(format!("a sign cell is {CELLS} or more"));
    }
    let k = candidates.query.len();
    if u32::try_from(k).is_err() {
        return Err(format!(
            "{k} candidates in one call, over the {} it takes",
            u32::MAX
        ));
    }
    if [
        candidates.mirrored.len(),
        candidates.other.len(),
        candidates.variant.len(),
    ] != [k; 3]
    {
        return Err("query, mirrored, other and variant must have one entry per candidate".into());
    }
    let limits = [
        (
            "query",
            candidates.query.iter().map(|&q| q as usize).max(),
            mine.values.len() / CELLS,
        ),
        (
            "other",
            candidates.other.iter().map(|&o| o as usize).max(),
            theirs.values.len() / CELLS,
        ),
        (
            "variant",
            candidates.variant.iter().map(|&v| v as usize).max(),
            variants,
        ),
    ];
    for (name, largest, bound) in limits {
        if let Some(largest) = largest
            && largest >= bound
        {
            return Err(format!(
                "{name} {largest} is out of range (there are {bound})"
            ));
        }
    }
    Ok(())
}

/// The unnormalised DCT-II basis, `basis[k][x] = cos(pi k (2x + 1) / 32)`, as the Python maps use.
fn dct_basis() -> [[f32; SIDE]; SIDE] {
    let mut basis = [[0.0f32; SIDE]; SIDE];
    for (k, row) in basis.iter_mut().enumerate() {
        for (x, value) in row.iter_mut().enumerate() {
            *value = (std::f64::consts::PI * k as f64 * (2 * x + 1) as f64 / (2 * SIDE) as f64)
                .cos() as f32;
        }
    }
    basis
}

/// Frequency weights `1 + u + v`, the DC's set to 0 (brightness does not count).
fn weights() -> [f32; CELLS] {
    let mut out = [0.0f32; CELLS];
    for (i, w) in out.iter_mut().enumerate().skip(1) {
        *w = (1 + i / SIDE + i % SIDE) as f32;
    }
    out
}

/// A mirror image negates the odd horizontal frequencies.
fn mirror_sign(coefficient: usize) -> f32 {
    if coefficient % 2 == 1 { -1.0 } else { 1.0 }
}

/// The cell a mirror image moves `cell` to (each row reversed).
fn mirror_cell(cell: usize) -> usize {
    cell - cell % SIDE + (SIDE - 1 - cell % SIDE)
}

/// `basis * x * basis^T` for a row-major 16x16 `x`, written as rows of 16 multiply-adds so the
/// compiler keeps them in vector registers.
fn dct2(
    x: &[f32; CELLS],
    basis: &[[f32; SIDE]; SIDE],
    basis_t: &[[f32; SIDE]; SIDE],
) -> [f32; CELLS] {
    // z[r][k2] = sum_x x[r][x] basis[k2][x]
    let mut z = [0.0f32; CELLS];
    for r in 0..SIDE {
        let row = &mut z[r * SIDE..(r + 1) * SIDE];
        for (c, column) in basis_t.iter().enumerate() {
            let value = x[r * SIDE + c];
            for (out, b) in row.iter_mut().zip(column) {
                *out += value * b;
            }
        }
    }
    // y[k1][k2] = sum_r basis[k1][r] z[r][k2]
    let mut y = [0.0f32; CELLS];
    for k1 in 0..SIDE {
        let out_row = &mut y[k1 * SIDE..(k1 + 1) * SIDE];
        for r in 0..SIDE {
            let b = basis[k1][r];
            for (out, zv) in out_row.iter_mut().zip(&z[r * SIDE..(r + 1) * SIDE]) {
                *out += b * zv;
            }
        }
    }
    y
}

/// One window of one picture, as every candidate that matched it sees it: its weighed DCT
/// coefficients and their norm, and its signs at the window's points.
struct SeenWindow {
    coefficients: [f32; CELLS],
    norm: f32,
    signs: Option<([u8; CELLS], u32)>,
}

impl SeenWindow {
    fn of(theirs: &Side, other: usize, variant: usize, windows: &Windows, dct: &Dct) -> SeenWindow {
        let thumb = &theirs.values[other * CELLS..(other + 1) * CELLS];
        let mut coefficients = dct2(&sample(thumb, windows, variant), &dct.basis, &dct.basis_t);
        for (value, w) in coefficients.iter_mut().zip(&dct.weight) {
            *value *= w;
        }
        let norm = coefficients
            .iter()
            .map(|v| v * v)
            .sum::<f32>()
            .sqrt()
            .max(1e-9);
        let signs = theirs.signs.and_then(|signs| {
            let their = &signs[other * CELLS..(other + 1) * CELLS];
            (their[0] != UNKNOWN_SIGN).then(|| {
                let points = &windows.sign_cells[variant * CELLS..(variant + 1) * CELLS];
                let seen: [u8; CELLS] = std::array::from_fn(|p| their[usize::from(points[p])]);
                let positive = seen.iter().map(|&s| u32::from(s)).sum();
                (seen, positive)
            })
        });
        SeenWindow {
            coefficients,
            norm,
            signs,
        }
    }

    /// (correlation, agreement, chance) of the query's whole picture (or mirror image) with it;
    /// `wholes` holds the query side's whole-picture coefficients, row by row.
    fn score(
        &self,
        mine: &Side,
        wholes: &[f32],
        query: usize,
        mirrored: bool,
        dct: &Dct,
    ) -> (f32, f32, f32) {
        let whole = &wholes[query * CELLS..(query + 1) * CELLS];
        let weight = if mirrored {
            &dct.mirror_weight
        } else {
            &dct.weight
        };
        let (mut dot, mut norm) = (0.0f32, 0.0f32);
        for ((&value, &w), &theirs) in whole.iter().zip(weight).zip(&self.coefficients) {
            let a = value * w;
            dot += a * theirs;
            norm += a * a;
        }
        let correlation = dot / (norm.sqrt().max(1e-9) * self.norm);
        let (Some(my_signs), Some((their, their_positive))) = (mine.signs, &self.signs) else {
            return (correlation, f32::NAN, f32::NAN);
        };
        let my = &my_signs[query * CELLS..(query + 1) * CELLS];
        if my[0] == UNKNOWN_SIGN {
            return (correlation, f32::NAN, f32::NAN);
        }
        let (mut same, mut my_positive) = (0u32, 0u32);
        for (p, &their_sign) in their.iter().enumerate() {
            let mine_sign = my[if mirrored { mirror_cell(p) } else { p }];
            same += u32::from(mine_sign == their_sign);
            my_positive += u32::from(mine_sign);
        }
        let (pm, pt) = (
            my_positive as f32 / CELLS as f32,
            *their_positive as f32 / CELLS as f32,
        );
        (
            correlation,
            same as f32 / CELLS as f32,
            pm * pt + (1.0 - pm) * (1.0 - pt),
        )
    }
}

/// The DCT basis and the frequency weights, plain and for a mirror image.
struct Dct {
    basis: [[f32; SIDE]; SIDE],
    basis_t: [[f32; SIDE]; SIDE],
    weight: [f32; CELLS],
    mirror_weight: [f32; CELLS],
}

impl Dct {
    fn new() -> Dct {
        let basis = dct_basis();
        let weight = weights();
        Dct {
            basis,
            basis_t: transposed(&basis),
            weight,
            mirror_weight: std::array::from_fn(|c| weight[c] * mirror_sign(c)),
        }
    }
}

/// Both scores of every candidate, on all cores. Call `check` first: indices out of range panic.
/// Candidates are taken by the window they matched: a window of one picture is often matched by
/// several queries (copies of one photograph, look-alikes of a plain one), and its sampling and
/// DCT, most of the work, are done once for all of them.
pub fn score(mine: &Side, theirs: &Side, windows: &Windows, candidates: &Candidates) -> Scores {
    let dct = &Dct::new();
    // Each query's whole picture once, row by row: a row's scores never depend on which other
    // rows share its batch (a float32 matrix product rounds by batch size).
    let mut wholes = vec![0.0f32; mine.values.len()];
    wholes
        .par_chunks_mut(CELLS)
        .zip(mine.values.par_chunks(CELLS))
        .for_each(|(out, thumb)| {
            let thumb: &[f32; CELLS] = thumb.try_into().expect("rows of CELLS values");
            out.copy_from_slice(&dct2(thumb, &dct.basis, &dct.basis_t));
        });
    let wholes = &wholes;
    let k = candidates.query.len();
    let key = |i: u32| {
        (u64::from(candidates.other[i as usize]) << 16) | u64::from(candidates.variant[i as usize])
    };
    let mut order: Vec<u32> = (0..k as u32).collect();
    order.par_sort_unstable_by_key(|&i| key(i));
    let mut starts: Vec<usize> = (0..k)
        .filter(|&j| j == 0 || key(order[j]) != key(order[j - 1]))
        .collect();
    starts.push(k);
    let sorted: Vec<(f32, f32, f32)> = starts
        .par_windows(2)
        .flat_map_iter(|range| {
            let group = &order[range[0]..range[1]];
            let first = group[0] as usize;
            let seen = SeenWindow::of(
                theirs,
                candidates.other[first] as usize,
                usize::from(candidates.variant[first]),
                windows,
                dct,
            );
            group.iter().map(move |&i| {
                let i = i as usize;
                seen.score(
                    mine,
                    wholes,
                    candidates.query[i] as usize,
                    candidates.mirrored[i],
                    dct,
                )
            })
        })
        .collect();
    let mut scores = Scores {
        correlation: vec![0.0; k],
        agreement: vec![f32::NAN; k],
        chance: vec![f32::NAN; k],
    };
    for (&i, &(correlation, agreement, chance)) in order.iter().zip(&sorted) {
        let i = i as usize;
        (scores.correlation[i], scores.agreement[i], scores.chance[i]) =
            (correlation, agreement, chance);
    }
    scores
}

/// Hashed frequencies per side.
pub const LOW: usize = 8;

/// The 8x8 lowest frequencies of `basis * x * basis^T` (row-major, `LOW * LOW`).
fn low_dct(
    x: &[f32; CELLS],
    basis: &[[f32; SIDE]; SIDE],
    basis_t: &[[f32; SIDE]; SIDE],
) -> [f32; LOW * LOW] {
    // z[r][k2] = sum_c x[r][c] basis[k2][c], k2 < LOW
    let mut z = [0.0f32; SIDE * LOW];
    for r in 0..SIDE {
        let row = &mut z[r * LOW..(r + 1) * LOW];
        for (c, column) in basis_t.iter().enumerate() {
            let value = x[r * SIDE + c];
            for (out, b) in row.iter_mut().zip(&column[..LOW]) {
                *out += value * b;
            }
        }
    }
    let mut y = [0.0f32; LOW * LOW];
    for k1 in 0..LOW {
        let out_row = &mut y[k1 * LOW..(k1 + 1) * LOW];
        for r in 0..SIDE {
            let b = basis[k1][r];
            for (out, zv) in out_row.iter_mut().zip(&z[r * LOW..(r + 1) * LOW]) {
                *out += b * zv;
            }
        }
    }
    y
}

/// Coefficients are compared on a grid of 1/16: a coefficient that is exactly 0 or equal to its
/// median (a gradient, stripes, a mirror-symmetric picture) must not fall on either side of it
/// by the order a sum was taken in.
const HASH_GRID: f32 = 16.0;

/// 64 bits, first coefficient highest: each (rounded to the grid) above the median of all.
fn hash_low(low: &[f32; LOW * LOW]) -> u64 {
    let rounded = low.map(|v| (v * HASH_GRID).round_ties_even());
    let mut sorted = rounded;
    sorted.sort_by(f32::total_cmp);
    let median = (sorted[LOW * LOW / 2 - 1] + sorted[LOW * LOW / 2]) / 2.0;
    rounded
        .iter()
        .fold(0u64, |bits, &v| (bits << 1) | u64::from(v > median))
}

/// Samples a window of `thumb` through its taps.
fn sample(thumb: &[f32], windows: &Windows, variant: usize) -> [f32; CELLS] {
    let mut sampled = [0.0f32; CELLS];
    let taps = variant * CELLS * TAPS;
    for (p, value) in sampled.iter_mut().enumerate() {
        let at = taps + p * TAPS;
        let cells = &windows.tap_cells[at..at + TAPS];
        let w = &windows.tap_weights[at..at + TAPS];
        *value = (0..TAPS).map(|t| w[t] * thumb[usize::from(cells[t])]).sum();
    }
    sampled
}

/// Per picture: the whole picture's hash, its mirror image's, and every window's (row-major,
/// pictures by windows).
#[derive(Debug)]
pub struct Hashes {
    pub whole: Vec<u64>,
    pub mirror: Vec<u64>,
    pub index: Vec<u64>,
}

/// Per picture of `thumbs` (CELLS values a row): its whole picture's hash and its mirror image's,
/// and the hash of every window, where picture `i` sees window `w` as variant
/// `variants[bands[i] * per_band + w]` (`per_band` windows a band). Checks lengths and
/// ranges first.
pub fn hashes(
    thumbs: &[f32],
    bands: &[u16],
    variants: &[u16],
    per_band: usize,
    windows: &Windows,
) -> Result<Hashes, String> {
    if !thumbs.len().is_multiple_of(CELLS) {
        return Err(format!(
            "thumbnails must hold {CELLS} values a row, not {} in all",
            thumbs.len()
        ));
    }
    if thumbs.len() / CELLS != bands.len() {
        return Err(format!(
            "{} thumbnails but {} bands",
            thumbs.len() / CELLS,
            bands.len()
        ));
    }
    let count = windows.count()?;
    if per_band == 0
        || !variants.len().is_multiple_of(per_band)
        || variants.iter().any(|&v| usize::from(v) >= count)
    {
        return Err(format!(
            "the variant table must hold {per_band} variants under {count} a band"
        ));
    }
    if bands
        .iter()
        .any(|&b| (usize::from(b) + 1) * per_band > variants.len())
    {
        return Err(format!(
            "a band is over the {} the variant table has",
            variants.len() / per_band
        ));
    }
    let basis = dct_basis();
    let basis_t = transposed(&basis);
    let n = bands.len();
    let mut index = vec![0u64; n * per_band];
    let mut mirror = vec![0u64; n];
    index
        .par_chunks_mut(per_band)
        .zip(mirror.par_iter_mut())
        .enumerate()
        .for_each(|(i, (out, mirror_hash))| {
            let thumb = &thumbs[i * CELLS..(i + 1) * CELLS];
            let row =
                &variants[usize::from(bands[i]) * per_band..(usize::from(bands[i]) + 1) * per_band];
            for (w, (hash, &variant)) in out.iter_mut().zip(row).enumerate() {
                let low = low_dct(
                    &sample(thumb, windows, usize::from(variant)),
                    &basis,
                    &basis_t,
                );
                *hash = hash_low(&low);
                if w == 0 {
                    let mut flipped = low;
                    for (c, value) in flipped.iter_mut().enumerate() {
                        *value *= mirror_sign(c % LOW);
                    }
                    *mirror_hash = hash_low(&flipped);
                }
            }
        });
    let whole = index.iter().step_by(per_band).copied().collect();
    Ok(Hashes {
        whole,
        mirror,
        index,
    })
}

fn transposed(basis: &[[f32; SIDE]; SIDE]) -> [[f32; SIDE]; SIDE] {
    let mut out = [[0.0f32; SIDE]; SIDE];
    for (k, row) in basis.iter().enumerate() {
        for (x, &value) in row.iter().enumerate() {
            out[x][k] = value;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A small deterministic generator (no dependency for tests).
    fn values(seed: u64, n: usize) -> Vec<f32> {
        let mut state = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (0..n)
            .map(|_| {
                state = state
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                ((state >> 40) % 256) as f32
            })
            .collect()
    }

    /// The identity window: each point reads its own cell.
    fn identity() -> (Vec<u16>, Vec<f32>, Vec<u16>) {
        let mut cells = Vec::new();
        let mut weights = Vec::new();
        for p in 0..CELLS {
            cells.extend([p as u16, p as u16, 0, 0]);
            weights.extend([0.75f32, 0.25, 0.0, 0.0]);
        }
        (cells, weights, (0..CELLS as u16).collect())
    }

    fn windows_of(tables: &(Vec<u16>, Vec<f32>, Vec<u16>)) -> Windows<'_> {
        Windows {
            tap_cells: &tables.0,
            tap_weights: &tables.1,
            sign_cells: &tables.2,
        }
    }

    /// The dense DCT, term by term in f64: the reference for `dct2`.
    fn dense_dct(x: &[f32]) -> Vec<f64> {
        let c = |k: usize, x: usize| {
            (std::f64::consts::PI * k as f64 * (2 * x + 1) as f64 / 32.0).cos()
        };
        let mut out = vec![0.0; CELLS];
        for k1 in 0..SIDE {
            for k2 in 0..SIDE {
                out[k1 * SIDE + k2] = (0..SIDE)
                    .flat_map(|r| (0..SIDE).map(move |s| (r, s)))
                    .map(|(r, s)| c(k1, r) * c(k2, s) * f64::from(x[r * SIDE + s]))
                    .sum();
            }
        }
        out
    }

    #[test]
    fn a_picture_correlates_with_itself_and_its_mirror_image() {
        let thumb = values(1, CELLS);
        let mirrored_thumb: Vec<f32> = (0..CELLS).map(|c| thumb[mirror_cell(c)]).collect();
        let tables = identity();
        let windows = windows_of(&tables);
        let both: Vec<f32> = thumb.iter().chain(&mirrored_thumb).copied().collect();
        let sign_of = |v: &[f32]| v.iter().map(|&x| u8::from(x > 127.0)).collect::<Vec<_>>();
        let mine_signs = sign_of(&thumb);
        let theirs_signs = sign_of(&both);
        let mine = Side {
            values: &thumb,
            signs: Some(&mine_signs),
        };
        let theirs = Side {
            values: &both,
            signs: Some(&theirs_signs),
        };
        let candidates = Candidates {
            query: &[0, 0, 0],
            mirrored: &[false, true, false],
            other: &[0, 1, 1],
            variant: &[0, 0, 0],
        };
        check(&mine, &theirs, &windows, &candidates).unwrap();
        let scores = score(&mine, &theirs, &windows, &candidates);
        assert!(
            (scores.correlation[0] - 1.0).abs() < 1e-5,
            "{:?}",
            scores.correlation
        );
        assert!(
            (scores.correlation[1] - 1.0).abs() < 1e-5,
            "{:?}",
            scores.correlation
        );
        assert!(
            scores.correlation[2] < 0.5,
            "random cells do not match their own mirror image"
        );
        assert_eq!(scores.agreement[0..2], [1.0, 1.0]);
        assert!(scores.agreement[2] < 0.75);
    }

    #[test]
    fn the_separable_dct_is_the_dense_one() {
        let x: [f32; CELLS] = values(7, CELLS).try_into().unwrap();
        let basis = dct_basis();
        let mut basis_t = [[0.0f32; SIDE]; SIDE];
        for k in 0..SIDE {
            for s in 0..SIDE {
                basis_t[s][k] = basis[k][s];
            }
        }
        let fast = dct2(&x, &basis, &basis_t);
        for (a, b) in fast.iter().zip(dense_dct(&x)) {
            assert!(
                (f64::from(*a) - b).abs() < 1e-2 * b.abs().max(1.0),
                "{a} against {b}"
            );
        }
    }

    #[test]
    fn hashes_are_the_low_frequencies_against_their_median() {
        let thumb = values(11, CELLS);
        let tables = identity();
        let windows = windows_of(&tables);
        let Hashes {
            whole,
            mirror,
            index,
        } = hashes(&thumb, &[0], &[0, 0], 2, &windows).unwrap();
        let dense = dense_dct(&thumb);
        let low: Vec<f64> = (0..LOW * LOW)
            .map(|i| (dense[(i / LOW) * SIDE + i % LOW] * 16.0).round())
            .collect();
        let mut sorted = low.clone();
        sorted.sort_by(f64::total_cmp);
        let median = (sorted[31] + sorted[32]) / 2.0;
        let expected = low
            .iter()
            .fold(0u64, |bits, &v| (bits << 1) | u64::from(v > median));
        assert_eq!(
            (whole[0], index.clone()),
            (expected, vec![expected, expected])
        );
        let flipped: Vec<f32> = (0..CELLS).map(|c| thumb[mirror_cell(c)]).collect();
        let of_flipped = hashes(&flipped, &[0], &[0, 0], 2, &windows).unwrap().whole;
        assert_eq!(mirror[0], of_flipped[0]);
        assert!(
            hashes(&thumb, &[1], &[0, 0], 2, &windows)
                .unwrap_err()
                .contains("band")
        );
    }

    #[test]
    fn unknown_signs_give_nan_and_bad_indices_an_error() {
        let thumb = values(3, CELLS);
        let tables = identity();
        let windows = windows_of(&tables);
        let unknown = vec![UNKNOWN_SIGN; CELLS];
        let known = vec![1u8; CELLS];
        let mine = Side {
            values: &thumb,
            signs: Some(&unknown),
        };
        let theirs = Side {
            values: &thumb,
            signs: Some(&known),
        };
        let ok = Candidates {
            query: &[0],
            mirrored: &[false],
            other: &[0],
            variant: &[0],
        };
        let scores = score(&mine, &theirs, &windows, &ok);
        assert!(scores.agreement[0].is_nan() && scores.chance[0].is_nan());
        let bad = Candidates {
            query: &[0],
            mirrored: &[false],
            other: &[1],
            variant: &[0],
        };
        assert!(
            check(&mine, &theirs, &windows, &bad)
                .unwrap_err()
                .contains("other 1")
        );
        let bad = Candidates {
            query: &[0],
            mirrored: &[false],
            other: &[0],
            variant: &[1],
        };
        assert!(
            check(&mine, &theirs, &windows, &bad)
                .unwrap_err()
                .contains("variant 1")
        );
        let short = Candidates {
            query: &[0],
            mirrored: &[],
            other: &[0],
            variant: &[0],
        };
        assert!(check(&mine, &theirs, &windows, &short).is_err());
    }
}
