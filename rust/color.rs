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
/// cancels), so the measure equals the RGB one up to the chroma subsampling and rounding.
pub fn colorfulness_ycc(cb: &[u8], cr: &[u8]) -> f64 {
    let mut sums = Opponent::default();
    for (&u, &v) in cb.iter().zip(cr) {
        let (u, v) = (u as f64 - 128.0, v as f64 - 128.0);
        sums.add(0.344136 * u + 2.116136 * v, 0.343932 * v - 1.944068 * u);
    }
    sums.measure()
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
    fn chroma_planes_agree_with_rgb() {
        // Saturated orange and a teal: RGB (230, 120, 20) is YCbCr (141.5, 59.4, 191.1) and
        // (20, 140, 150) is (105.6, 152.7, 68.7) by JFIF's matrix (rounded to whole levels here).
        let rgb = colorfulness_rgb(&[230, 120, 20, 20, 140, 150], 3);
        let ycc = colorfulness_ycc(&[59, 153], &[191, 69]);
        assert!((rgb - ycc).abs() < 0.02 * rgb, "{rgb} vs {ycc}");
    }
}
