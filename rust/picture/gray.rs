//! A single-channel 8-bit picture, and the conversions into it.

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Gray {
    pub width: usize,
    pub height: usize,
    pub pixels: Vec<u8>,
}

impl Gray {
    pub fn new(width: usize, height: usize, pixels: Vec<u8>) -> Self {
        debug_assert_eq!(pixels.len(), width * height);
        Gray {
            width,
            height,
            pixels,
        }
    }

    pub fn at(&self, x: usize, y: usize) -> u8 {
        self.pixels[y * self.width + x]
    }

    /// Applies an EXIF orientation (1-8) so the picture stands as a viewer shows it.
    pub fn oriented(self, orientation: u16) -> Gray {
        if !(2..=8).contains(&orientation) {
            return self;
        }
        let (w, h) = (self.width, self.height);
        let swaps = orientation >= 5;
        let (ow, oh) = if swaps { (h, w) } else { (w, h) };
        let mut out = vec![0u8; w * h];
        for oy in 0..oh {
            for ox in 0..ow {
                // Source coordinates for each output pixel, per the EXIF definition.
                let (sx, sy) = match orientation {
                    2 => (w - 1 - ox, oy),
                    3 => (w - 1 - ox, h - 1 - oy),
                    4 => (ox, h - 1 - oy),
                    5 => (oy, ox),
                    6 => (oy, h - 1 - ox),
                    7 => (w - 1 - oy, h - 1 - ox),
                    _ => (w - 1 - oy, ox),
                };
                out[oy * ow + ox] = self.pixels[sy * w + sx];
            }
        }
        Gray::new(ow, oh, out)
    }

    /// Averages `factor` x `factor` blocks (partial blocks at the edges average what they hold):
    /// the same reduction a JPEG gets from DCT scaling, for pictures decoded at full size.
    pub fn box_reduce(&self, factor: usize) -> Gray {
        if factor <= 1 {
            return self.clone();
        }
        let (ow, oh) = (self.width.div_ceil(factor), self.height.div_ceil(factor));
        let mut sums = vec![0u32; ow];
        let mut out = Vec::with_capacity(ow * oh);
        for oy in 0..oh {
            sums.fill(0);
            let rows = oy * factor..((oy + 1) * factor).min(self.height);
            let row_count = rows.len();
            for y in rows {
                let line = &self.pixels[y * self.width..(y + 1) * self.width];
                for (x, &p) in line.iter().enumerate() {
                    sums[x / factor] += p as u32;
                }
            }
            for (ox, &sum) in sums.iter().enumerate() {
                let cols = (self.width - ox * factor).min(factor);
                let count = (cols * row_count) as u32;
                out.push(((sum + count / 2) / count) as u8);
            }
        }
        Gray::new(ow, oh, out)
    }

    /// `box_reduce(2)`, the same pixels, in a pass the compiler vectorises: each pair of rows
    /// halved at once (`halve_rows`), an odd last row paired with itself (the same means: twice
    /// each sum over twice the count).
    pub fn halved(&self) -> Gray {
        let (w, h) = (self.width, self.height);
        let (ow, oh) = (w.div_ceil(2), h.div_ceil(2));
        let mut out = Vec::with_capacity(ow * oh);
        for y in (0..h).step_by(2) {
            let above = &self.pixels[y * w..][..w];
            let below = if y + 1 < h {
                &self.pixels[(y + 1) * w..][..w]
            } else {
                above
            };
            let start = out.len();
            out.resize(start + ow, 0);
            halve_rows(above, below, &mut out[start..]);
        }
        Gray::new(ow, oh, out)
    }

    /// The largest reduction (8, 4, 2 or none) that keeps the shorter side at least `min_side`.
    pub fn reduced_to(self, min_side: usize) -> Gray {
        match reduction_factor(self.width, self.height, min_side) {
            1 => self,
            factor => self.box_reduce(factor),
        }
    }
}

/// Input pixels per block of `halve_rows`: 16 outputs, a whole AVX2 vector of u16 sums.
const HALVING: usize = 32;

dispatched!(halve_rows => halve_rows_pass(above: &[u8], below: &[u8], out: &mut [u8]));

/// The rounded means of the 2x2 blocks of two rows (an odd last column: of its two pixels), in
/// whole blocks of HALVING pixels, the last zero-padded: no scalar tail.
#[inline(always)]
fn halve_rows_pass(above: &[u8], below: &[u8], out: &mut [u8]) {
    let w = above.len();
    let whole = w / HALVING;
    let blocks = out
        .chunks_exact_mut(HALVING / 2)
        .zip(above.chunks_exact(HALVING).zip(below.chunks_exact(HALVING)));
    for (out, (above, below)) in blocks {
        let means = block_means(above.try_into().unwrap(), below.try_into().unwrap());
        out.copy_from_slice(&means);
    }
    let (start, pairs) = (whole * HALVING, w / 2);
    if start / 2 < pairs {
        let padded = |row: &[u8]| {
            let mut block = [0u8; HALVING];
            block[..w - start].copy_from_slice(&row[start..]);
            block
        };
        let means = block_means(&padded(above), &padded(below));
        out[start / 2..pairs].copy_from_slice(&means[..pairs - start / 2]);
    }
    if w % 2 == 1 {
        out[pairs] = ((above[w - 1] as u16 + below[w - 1] as u16 + 1) >> 1) as u8;
    }
}

/// (A plain loop: `array::from_fn` is not inlined into the AVX2 build.)
#[inline(always)]
fn block_means(above: &[u8; HALVING], below: &[u8; HALVING]) -> [u8; HALVING / 2] {
    let mut means = [0u8; HALVING / 2];
    for (i, mean) in means.iter_mut().enumerate() {
        let sum = above[2 * i] as u16 + above[2 * i + 1] as u16;
        *mean = ((sum + below[2 * i] as u16 + below[2 * i + 1] as u16 + 2) >> 2) as u8;
    }
    means
}

/// The largest of 8, 4, 2 that keeps the shorter side at least `min_side` when dividing by it, or 1:
/// the reduction a JPEG gets from DCT scaling, for pictures decoded at full size.
pub fn reduction_factor(width: usize, height: usize, min_side: usize) -> usize {
    let short = width.min(height);
    [8, 4, 2]
        .into_iter()
        .find(|&f| short.div_ceil(f) >= min_side)
        .unwrap_or(1)
}

/// Pillow's RGB -> L conversion (ITU-R 601-2 luma in 16-bit fixed point), so hashes match imagehash.
#[inline]
pub fn luma(r: u8, g: u8, b: u8) -> u8 {
    ((r as u32 * 19595 + g as u32 * 38470 + b as u32 * 7471 + 0x8000) >> 16) as u8
}

/// Gray picture from interleaved 8-bit samples with `channels` per pixel (1 gray, 2 gray+alpha,
/// 3 RGB, 4 RGBA); alpha is ignored, as Pillow's convert("L") does.
pub fn from_interleaved(width: usize, height: usize, channels: usize, data: &[u8]) -> Gray {
    let n = width * height;
    let pixels = match channels {
        1 => data[..n].to_vec(),
        2 => data.chunks_exact(2).take(n).map(|p| p[0]).collect(),
        _ => data
            .chunks_exact(channels)
            .take(n)
            .map(|p| luma(p[0], p[1], p[2]))
            .collect(),
    };
    Gray::new(width, height, pixels)
}

/// Noise-like bytes from a fixed seed (xorshift32), for tests that need busy pictures and no crate.
#[cfg(test)]
pub(crate) fn test_noise(len: usize, mut state: u32) -> Vec<u8> {
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            (state >> 24) as u8
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Gray {
        // 3 wide, 2 tall:  1 2 3 / 4 5 6
        Gray::new(3, 2, vec![1, 2, 3, 4, 5, 6])
    }

    #[test]
    fn orientations_match_exif_definition() {
        assert_eq!(sample().oriented(1).pixels, vec![1, 2, 3, 4, 5, 6]);
        assert_eq!(sample().oriented(2).pixels, vec![3, 2, 1, 6, 5, 4]);
        assert_eq!(sample().oriented(3).pixels, vec![6, 5, 4, 3, 2, 1]);
        assert_eq!(sample().oriented(4).pixels, vec![4, 5, 6, 1, 2, 3]);
        // 6 = rotate 90 degrees clockwise to display.
        let r = sample().oriented(6);
        assert_eq!((r.width, r.height), (2, 3));
        assert_eq!(r.pixels, vec![4, 1, 5, 2, 6, 3]);
        let r = sample().oriented(8);
        assert_eq!(r.pixels, vec![3, 6, 2, 5, 1, 4]);
        assert_eq!(sample().oriented(5).pixels, vec![1, 4, 2, 5, 3, 6]);
        assert_eq!(sample().oriented(7).pixels, vec![6, 3, 5, 2, 4, 1]);
    }

    #[test]
    fn box_reduce_averages_blocks() {
        let g = Gray::new(5, 2, vec![0, 2, 4, 6, 8, 10, 12, 14, 16, 18]);
        let r = g.box_reduce(2);
        assert_eq!((r.width, r.height), (3, 1));
        assert_eq!(r.pixels, vec![6, 10, 13]);
        let big = Gray::new(640, 480, vec![7; 640 * 480]);
        let small = big.reduced_to(64);
        // 480 / 8 = 60 is under 64, so the factor is 4.
        assert_eq!((small.width, small.height), (160, 120));
        assert!(small.pixels.iter().all(|&p| p == 7));
    }

    #[test]
    fn halved_is_box_reduce_by_two() {
        let mut seed = 7u32;
        for (w, h) in [
            (1, 1),
            (1, 5),
            (5, 1),
            (2, 2),
            (3, 3),
            (7, 4),
            (64, 33),
            (101, 77),
            (32, 2),
            (33, 3),
            (95, 6),
            (200, 31),
        ] {
            let pixels = (0..w * h)
                .map(|_| {
                    seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12_345);
                    (seed >> 24) as u8
                })
                .collect();
            let g = Gray::new(w, h, pixels);
            assert_eq!(g.halved(), g.box_reduce(2), "{w}x{h}");
        }
    }

    #[test]
    fn luma_matches_pillow() {
        assert_eq!(luma(255, 255, 255), 255);
        assert_eq!(luma(0, 0, 0), 0);
        // Pillow: Image.new("RGB", (1, 1), (200, 100, 50)).convert("L").getpixel((0, 0)) == 124
        assert_eq!(luma(200, 100, 50), 124);
    }
}
