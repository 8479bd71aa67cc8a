//! How colourful a picture is: the Hasler-Süsstrunk measure (2003), the one colour number a person
//! reads as "gray", "muted" or "vivid". On opponent axes rg = R - G and yb = (R + G) / 2 - B,
//! M = sqrt(var rg + var yb) + 0.3 sqrt(mean rg² + mean yb²): 0 for any gray picture (R = G = B),
//! about 15 for muted photographs, 40-110 for vivid ones.

/// A picture's colour in three numbers: the colourfulness, and the mean of each opponent axis (its
/// overall hue and strength; 0 and 0 for gray). Brightness and contrast scale all three alike.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Colour {
    pub colorfulness: f64,
    pub mean_rg: f64,
    pub mean_yb: f64,
}

/// Running sums of the two opponent axes.
#[derive(Default)]
struct Opponent {
    n: f64,
    rg: f64,
    yb: f64,
    rg2: f64,
    yb2: f64,
}

impl Opponent {
    fn add(&mut self, rg: f64, yb: f64) {
        self.n += 1.0;
        self.rg += rg;
        self.yb += yb;
        self.rg2 += rg * rg;
        self.yb2 += yb * yb;
    }

    fn measure(&self) -> Colour {
        if self.n == 0.0 {
            return Colour::default();
        }
        let (mrg, myb) = (self.rg / self.n, self.yb / self.n);
        let var =
            (self.rg2 / self.n - mrg * mrg).max(0.0) + (self.yb2 / self.n - myb * myb).max(0.0);
        Colour {
            colorfulness: var.sqrt() + 0.3 * (mrg * mrg + myb * myb).sqrt(),
            mean_rg: mrg,
            mean_yb: myb,
        }
    }
}

/// From interleaved 8-bit samples with 3 or 4 channels (RGB, RGBA); alpha is ignored.
pub fn colorfulness_rgb(data: &[u8], channels: usize) -> Colour {
    let mut sums = Opponent::default();
    for p in data.chunks_exact(channels.max(3)) {
        let (r, g, b) = (p[0] as f64, p[1] as f64, p[2] as f64);
        sums.add(r - g, 0.5 * (r + g) - b);
    }
    sums.measure()
}

/// `colorfulness_rgb` of the picture averaged over `factor` x `factor` blocks: the grid a JPEG's
/// chroma is measured on after DCT scaling, so one picture measures alike as PNG and as JPEG (fine
/// colour texture averages away in both).
pub fn colorfulness_rgb_reduced(
    data: &[u8],
    channels: usize,
    width: usize,
    height: usize,
    factor: usize,
) -> Colour {
    let channels = channels.max(3);
    if factor <= 1 || width == 0 {
        return colorfulness_rgb(
            &data[..(width * height * channels).min(data.len())],
            channels,
        );
    }
    let columns = width.div_ceil(factor);
    let mut block = vec![[0u32; 4]; columns];
    let mut sums = Opponent::default();
    for (y, row) in data.chunks_exact(width * channels).take(height).enumerate() {
        for (x, p) in row.chunks_exact(channels).enumerate() {
            let b = &mut block[x / factor];
            b[0] += p[0] as u32;
            b[1] += p[1] as u32;
            b[2] += p[2] as u32;
            b[3] += 1;
        }
        if (y + 1) % factor == 0 || y + 1 == height {
            for b in block.iter_mut().filter(|b| b[3] > 0) {
                let n = b[3] as f64;
                let (r, g, bl) = (b[0] as f64 / n, b[1] as f64 / n, b[2] as f64 / n);
                sums.add(r - g, 0.5 * (r + g) - bl);
                *b = [0; 4];
            }
        }
    }
    sums.measure()
}

/// From JPEG's chroma planes (Cb, Cr, centred on 128) as stored, without converting to RGB: with
/// JFIF's conversion, rg = 0.344136 Cb + 2.116136 Cr and yb = 0.343932 Cr - 1.944068 Cb (luma
/// cancels), so the measure equals the RGB one up to the chroma subsampling and rounding. Both axes
/// are linear in (Cb, Cr), so their means and variances follow from five integer moments of the
/// planes: one cheap pass the compiler vectorises.
pub fn colorfulness_ycc(cb: &[u8], cr: &[u8]) -> Colour {
    let n = cb.len().min(cr.len());
    colorfulness_ycc_rows(&cb[..n], &cr[..n], n.max(1), 1)
}

/// `colorfulness_ycc` over every `step`-th row of planes `width` samples wide: a plane decoded
/// finer than needed is measured on a sample of its rows.
pub fn colorfulness_ycc_rows(cb: &[u8], cr: &[u8], width: usize, step: usize) -> Colour {
    let mut sums = [0i64; 5];
    let n = run_chroma_moments(cb, cr, width, step, &mut sums);
    let [su, sv, suu, svv, suv] = sums;
    if n == 0 {
        return Colour::default();
    }
    let n = n as f64;
    let (mu, mv) = (su as f64 / n, sv as f64 / n);
    let (var_u, var_v, cov) = (
        suu as f64 / n - mu * mu,
        svv as f64 / n - mv * mv,
        suv as f64 / n - mu * mv,
    );
    let (a, b) = (0.344136, 2.116136); // rg = a u + b v
    let (c, d) = (-1.944068, 0.343932); // yb = c u + d v
    let var_rg = a * a * var_u + b * b * var_v + 2.0 * a * b * cov;
    let var_yb = c * c * var_u + d * d * var_v + 2.0 * c * d * cov;
    let (mean_rg, mean_yb) = (a * mu + b * mv, c * mu + d * mv);
    let colorfulness = (var_rg.max(0.0) + var_yb.max(0.0)).sqrt()
        + 0.3 * (mean_rg * mean_rg + mean_yb * mean_yb).sqrt();
    Colour {
        colorfulness,
        mean_rg,
        mean_yb,
    }
}

/// Samples per group of the moment sums: 16 i32 lanes, two AVX2 vectors per sum.
const MOMENT_LANES: usize = 16;
/// Groups a lane sums before its i32 sums are widened: 4,096 x 128² < 2³¹.
const MOMENT_GROUPS: usize = 4096;

/// Per lane, the sums of u, v, u², v² and uv of the chroma samples (centred on 128) it was given.
#[derive(Default)]
struct ChromaMoments {
    sums: [[i32; MOMENT_LANES]; 5],
}

impl ChromaMoments {
    #[inline(always)]
    fn add(&mut self, cb: &[u8; MOMENT_LANES], cr: &[u8; MOMENT_LANES]) {
        let [u1, v1, uu, vv, uv] = &mut self.sums;
        for i in 0..MOMENT_LANES {
            let (u, v) = (cb[i] as i32 - 128, cr[i] as i32 - 128);
            u1[i] += u;
            v1[i] += v;
            uu[i] += u * u;
            vv[i] += v * v;
            uv[i] += u * v;
        }
    }

    /// Adds the lanes' sums into `totals` and starts afresh.
    fn drain(&mut self, totals: &mut [i64; 5]) {
        for (total, lanes) in totals.iter_mut().zip(&self.sums) {
            *total += lanes.iter().map(|&s| s as i64).sum::<i64>();
        }
        *self = ChromaMoments::default();
    }
}

/// `samples` padded to a whole group with 128, which is 0 on both axes and adds nothing.
fn neutral_padded(samples: &[u8]) -> [u8; MOMENT_LANES] {
    let mut group = [128u8; MOMENT_LANES];
    group[..samples.len()].copy_from_slice(samples);
    group
}

/// Number of samples of every `step`-th row, with their five moments added to `sums`.
fn run_chroma_moments(
    cb: &[u8],
    cr: &[u8],
    width: usize,
    step: usize,
    sums: &mut [i64; 5],
) -> usize {
    let mut n = 0;
    chroma_moments_dispatched(cb, cr, width, step, sums, &mut n);
    n
}

dispatched!(chroma_moments_dispatched => chroma_moments(cb: &[u8], cr: &[u8], width: usize, step: usize, sums: &mut [i64; 5], n: &mut usize));

/// Whole groups of 16 samples, the last of a row padded with neutral samples: no scalar tail,
/// which cost more than the vector loop on rows of 50-100 samples (and SSE2 has no i32
/// multiply: the AVX2 build runs where the CPU has it).
#[inline(always)]
fn chroma_moments(
    cb: &[u8],
    cr: &[u8],
    width: usize,
    step: usize,
    sums: &mut [i64; 5],
    n: &mut usize,
) {
    let mut lanes = ChromaMoments::default();
    let mut groups = 0;
    let rows = cb.chunks(width.max(1)).zip(cr.chunks(width.max(1)));
    for (cb, cr) in rows.step_by(step.max(1)) {
        let len = cb.len().min(cr.len());
        *n += len;
        let (cb, cr) = (&cb[..len], &cr[..len]);
        let whole = cb
            .chunks_exact(MOMENT_LANES)
            .zip(cr.chunks_exact(MOMENT_LANES));
        for (cb, cr) in whole {
            lanes.add(cb.try_into().unwrap(), cr.try_into().unwrap());
            groups += 1;
            if groups == MOMENT_GROUPS {
                lanes.drain(sums);
                groups = 0;
            }
        }
        let start = len - len % MOMENT_LANES;
        if start < len {
            lanes.add(&neutral_padded(&cb[start..]), &neutral_padded(&cr[start..]));
            groups += 1;
            if groups == MOMENT_GROUPS {
                lanes.drain(sums);
                groups = 0;
            }
        }
    }
    lanes.drain(sums);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gray_is_zero_and_colour_is_not() {
        let gray: Vec<u8> = (0..300).flat_map(|i| [(i % 256) as u8; 3]).collect();
        assert_eq!(colorfulness_rgb(&gray, 3), Colour::default());
        assert_eq!(colorfulness_ycc(&[128; 50], &[128; 50]), Colour::default());
        let red_and_blue: Vec<u8> = (0..300)
            .flat_map(|i| {
                if i % 2 == 0 {
                    [255, 0, 0, 255]
                } else {
                    [0, 0, 255, 255]
                }
            })
            .collect();
        assert!(colorfulness_rgb(&red_and_blue, 4).colorfulness > 100.0);
        // Red is R - G > 0; blue is (R + G) / 2 - B < 0.
        let red = colorfulness_rgb(&[200, 0, 0], 3);
        assert!(red.mean_rg == 200.0 && red.mean_yb == 100.0);
        let blue = colorfulness_rgb(&[0, 0, 200], 3);
        assert!(blue.mean_rg == 0.0 && blue.mean_yb == -200.0);
    }

    #[test]
    fn reduced_measure_averages_blocks() {
        // 4x2 RGB: two 2x2 blocks, one pure red and blue pixels mixed (purple), one gray.
        let px: Vec<u8> = [
            [255, 0, 0],
            [0, 0, 255],
            [9, 9, 9],
            [9, 9, 9],
            [0, 0, 255],
            [255, 0, 0],
            [9, 9, 9],
            [9, 9, 9],
        ]
        .into_iter()
        .flatten()
        .collect();
        let purple_and_gray: Vec<u8> = [[127.5f64, 0.0, 127.5], [9.0, 9.0, 9.0]]
            .iter()
            .flatten()
            .map(|&v| v as u8)
            .collect();
        let reduced = colorfulness_rgb_reduced(&px, 3, 4, 2, 2).colorfulness;
        assert!(
            (reduced - colorfulness_rgb(&purple_and_gray, 3).colorfulness).abs() < 1.0,
            "{reduced}"
        );
        assert_eq!(
            colorfulness_rgb_reduced(&px, 3, 4, 2, 1),
            colorfulness_rgb(&px, 3)
        );
    }

    #[test]
    fn moments_equal_the_direct_sum() {
        let cb: Vec<u8> = (0..500).map(|i| (i * 37 % 256) as u8).collect();
        let cr: Vec<u8> = (0..500).map(|i| (i * 91 % 200) as u8).collect();
        let mut sums = Opponent::default();
        for (&u, &v) in cb.iter().zip(&cr) {
            let (u, v) = (u as f64 - 128.0, v as f64 - 128.0);
            sums.add(0.344136 * u + 2.116136 * v, 0.343932 * v - 1.944068 * u);
        }
        let (direct, moments) = (sums.measure(), colorfulness_ycc(&cb, &cr));
        assert!((direct.colorfulness - moments.colorfulness).abs() < 1e-6);
        assert!(
            (direct.mean_rg - moments.mean_rg).abs() < 1e-6
                && (direct.mean_yb - moments.mean_yb).abs() < 1e-6
        );
    }

    #[test]
    fn moments_in_groups_are_the_samplewise_sums() {
        // Row widths on both sides of whole groups, every row and every other row.
        for width in [1, 15, 16, 17, 40, 70, 100] {
            for step in [1, 2] {
                let rows = 9;
                let cb: Vec<u8> = (0..width * rows).map(|i| (i * 37 % 256) as u8).collect();
                let cr: Vec<u8> = (0..width * rows).map(|i| (i * 91 % 251) as u8).collect();
                let mut want = [0i64; 5];
                let mut count = 0;
                for y in (0..rows).step_by(step) {
                    for x in 0..width {
                        let (u, v) = (
                            cb[y * width + x] as i64 - 128,
                            cr[y * width + x] as i64 - 128,
                        );
                        want = [
                            want[0] + u,
                            want[1] + v,
                            want[2] + u * u,
                            want[3] + v * v,
                            want[4] + u * v,
                        ];
                        count += 1;
                    }
                }
                let (mut fast, mut plain) = ([0i64; 5], [0i64; 5]);
                let (mut n_fast, mut n_plain) = (0, 0);
                chroma_moments_dispatched(&cb, &cr, width, step, &mut fast, &mut n_fast);
                chroma_moments(&cb, &cr, width, step, &mut plain, &mut n_plain);
                assert_eq!((fast, n_fast), (want, count), "{width} wide, step {step}");
                assert_eq!((plain, n_plain), (want, count), "{width} wide, step {step}");
            }
        }
    }

    #[test]
    fn chroma_planes_agree_with_rgb() {
        // Saturated orange and a teal: RGB (230, 120, 20) is YCbCr (141.5, 59.4, 191.1) and
        // (20, 140, 150) is (105.6, 152.7, 68.7) by JFIF's matrix (rounded to whole levels here).
        let rgb = colorfulness_rgb(&[230, 120, 20, 20, 140, 150], 3);
        let ycc = colorfulness_ycc(&[59, 153], &[191, 69]);
        assert!(
            (rgb.colorfulness - ycc.colorfulness).abs() < 0.02 * rgb.colorfulness,
            "{rgb:?} vs {ycc:?}"
        );
        assert!(
            (rgb.mean_rg - ycc.mean_rg).abs() < 2.0 && (rgb.mean_yb - ycc.mean_yb).abs() < 2.0,
            "{rgb:?} vs {ycc:?}"
        );
    }
}
