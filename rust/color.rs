//! How colourful a picture is: the Hasler-Süsstrunk measure (2003), the one colour number a person
//! reads as "gray", "muted" or "vivid". On opponent axes rg = R - G and yb = (R + G) / 2 - B,
//! M = sqrt(var rg + var yb) + 0.3 sqrt(mean rg² + mean yb²): 0 for any gray picture (R = G = B),
//! about 15 for muted photographs, 40-110 for vivid ones.

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

    fn measure(&self) -> f64 {
        if self.n == 0.0 {
            return 0.0;
        }
        let (mrg, myb) = (self.rg / self.n, self.yb / self.n);
        let var = (self.rg2 / self.n - mrg * mrg).max(0.0) + (self.yb2 / self.n - myb * myb).max(0.0);
        var.sqrt() + 0.3 * (mrg * mrg + myb * myb).sqrt()
    }
}

/// From interleaved 8-bit samples with 3 or 4 channels (RGB, RGBA); alpha is ignored.
pub fn colorfulness_rgb(data: &[u8], channels: usize) -> f64 {
    let mut sums = Opponent::default();
    for p in data.chunks_exact(channels.max(3)) {
        let (r, g, b) = (p[0] as f64, p[1] as f64, p[2] as f64);
        sums.add(r - g, 0.5 * (r + g) - b);
    }
    sums.measure()
}

/// From JPEG's chroma planes (Cb, Cr, centred on 128) as stored, without converting to RGB: with
/// JFIF's conversion, rg = 0.344136 Cb + 2.116136 Cr and yb = 0.343932 Cr - 1.944068 Cb (luma
/// cancels), so the measure equals the RGB one up to the chroma subsampling and rounding. Both axes
/// are linear in (Cb, Cr), so their means and variances follow from five integer moments of the
/// planes: one cheap pass the compiler vectorises.
pub fn colorfulness_ycc(cb: &[u8], cr: &[u8]) -> f64 {
    let n = cb.len().min(cr.len());
    if n == 0 {
        return 0.0;
    }
    let (mut su, mut sv, mut suu, mut svv, mut suv) = (0i64, 0i64, 0i64, 0i64, 0i64);
    // 32-bit sums over chunks of 4,096 samples (at most 4,096 x 128² < 2³¹), widened after each.
    for (cb, cr) in cb[..n].chunks(4096).zip(cr[..n].chunks(4096)) {
        let (mut u1, mut v1, mut uu, mut vv, mut uv) = (0i32, 0i32, 0i32, 0i32, 0i32);
        for (&u, &v) in cb.iter().zip(cr) {
            let (u, v) = (u as i32 - 128, v as i32 - 128);
            u1 += u;
            v1 += v;
            uu += u * u;
            vv += v * v;
            uv += u * v;
        }
        su += u1 as i64;
        sv += v1 as i64;
        suu += uu as i64;
        svv += vv as i64;
        suv += uv as i64;
    }
    let n = n as f64;
    let (mu, mv) = (su as f64 / n, sv as f64 / n);
    let (var_u, var_v, cov) = (suu as f64 / n - mu * mu, svv as f64 / n - mv * mv, suv as f64 / n - mu * mv);
    let (a, b) = (0.344136, 2.116136); // rg = a u + b v
    let (c, d) = (-1.944068, 0.343932); // yb = c u + d v
    let var_rg = a * a * var_u + b * b * var_v + 2.0 * a * b * cov;
    let var_yb = c * c * var_u + d * d * var_v + 2.0 * c * d * cov;
    let (mean_rg, mean_yb) = (a * mu + b * mv, c * mu + d * mv);
    (var_rg.max(0.0) + var_yb.max(0.0)).sqrt() + 0.3 * (mean_rg * mean_rg + mean_yb * mean_yb).sqrt()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gray_is_zero_and_colour_is_not() {
        let gray: Vec<u8> = (0..300).flat_map(|i| [(i % 256) as u8; 3]).collect();
        assert_eq!(colorfulness_rgb(&gray, 3), 0.0);
        assert_eq!(colorfulness_ycc(&[128; 50], &[128; 50]), 0.0);
        let red_and_blue: Vec<u8> = (0..300).flat_map(|i| if i % 2 == 0 { [255, 0, 0, 255] } else { [0, 0, 255, 255] }).collect();
        assert!(colorfulness_rgb(&red_and_blue, 4) > 100.0);
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
        assert!((sums.measure() - colorfulness_ycc(&cb, &cr)).abs() < 1e-6);
    }

    #[test]
    fn chroma_planes_agree_with_rgb() {
        // Saturated orange and a teal: RGB (230, 120, 20) is YCbCr (141.5, 59.4, 191.1) and
        // (20, 140, 150) is (105.6, 152.7, 68.7) by JFIF's matrix (rounded to whole levels here).
        let rgb = colorfulness_rgb(&[230, 120, 20, 20, 140, 150], 3);
        let ycc = colorfulness_ycc(&[59, 153], &[191, 69]);
        assert!((rgb - ycc).abs() < 0.02 * rgb, "{rgb} vs {ycc}");
    }
}
