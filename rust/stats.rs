//! Per-image measures on the gray picture: brightness, contrast, clipping, blur, information.

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
    pub blur: f64,
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
    Stats { mean, std: variance.sqrt(), dark_frac: dark, bright_frac: bright, blur: laplacian_variance(picture), entropy }
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
    }

    #[test]
    fn checkerboard_is_sharper_than_ramp() {
        let ramp: Vec<u8> = (0..128 * 128).map(|i| (i % 128) as u8 * 2).collect();
        // 4 px squares survive the 64x64 picture the measure is taken on.
        let squares: Vec<u8> = (0..128 * 128).map(|i| if ((i / 128) / 4 + (i % 128) / 4) % 2 == 0 { 0 } else { 255 }).collect();
        assert!(laplacian_variance(&Gray::new(128, 128, squares)) > 10.0 * laplacian_variance(&Gray::new(128, 128, ramp)));
    }
}
