//! Flat borders around a picture's content: letterbox bars, a plain canvas a picture was pasted
//! on, a scanner's margin. The near-duplicate thumbnail is made from the content inside them, so
//! a copy padded to 1:1 or 16:9, or pasted on a larger canvas, shows the same picture as its
//! original (`scan::analyze`).

use super::gray::Gray;
use super::resample::resize_area;

/// Most a border line's luma may vary (standard deviation, in levels): a plain bar, or a canvas of
/// noise that the scan's reduced decode has averaged.
const FLAT_LINE_STD: f32 = 4.0;
/// Most a border line's mean may differ from the outermost line's: one band of one level.
const BAND_LEVEL: f32 = 6.0;
/// A border ends where the content begins across the whole line: at least STEP_SHARE of the
/// first content line's pixels differ from the band's level by STEP_LEVEL or more. A sky that
/// ends where a building or a head rises into it is content (only a few pixels of that line
/// change), and so is a sky that darkens slowly.
const STEP_LEVEL: f32 = 12.0;
const STEP_SHARE: f32 = 0.6;
/// Least band trimmed, as a share of the side (and at least 2 lines): a thin dark edge or a frame
/// line is left alone.
const MIN_BAND: f32 = 0.02;
/// Content whose 16x16 area average varies less than this (standard deviation, in levels: the
/// matching rule's flat pictures, `recipe_audit.thumbcode.FLAT_STD`) is itself flat: a picture of
/// two flat tones (a dark bar over a white page) keeps its frame, or its thumbnail would be a
/// blank frame that matches every other blank frame.
const FLAT_CONTENT_STD: f32 = 2.0;
/// Least content kept, as a share of each side: a picture that is mostly flat is not cut down to
/// a sliver.
const MIN_CONTENT: f32 = 0.15;

/// The content box in the picture's pixels: columns `left..right`, rows `top..bottom`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ContentBox {
    pub left: usize,
    pub top: usize,
    pub right: usize,
    pub bottom: usize,
}

/// One line of pixels from one side inward.
#[derive(Clone, Copy)]
struct Line {
    mean: f32,
    std: f32,
}

/// Mean and standard deviation of `count` pixels read by `at(i)`.
fn line_stats(count: usize, at: impl Fn(usize) -> u8) -> Line {
    let (mut sum, mut sum_sq) = (0u64, 0u64);
    for i in 0..count {
        let p = at(i) as u64;
        sum += p;
        sum_sq += p * p;
    }
    let n = count.max(1) as f64;
    let mean = sum as f64 / n;
    let variance = (sum_sq as f64 / n - mean * mean).max(0.0);
    Line {
        mean: mean as f32,
        std: variance.sqrt() as f32,
    }
}

/// Share of `count` pixels read by `at(i)` at least STEP_LEVEL from `level`.
fn share_away(count: usize, level: f32, at: impl Fn(usize) -> u8) -> f32 {
    let away = (0..count)
        .filter(|&i| (at(i) as f32 - level).abs() >= STEP_LEVEL)
        .count();
    away as f32 / count.max(1) as f32
}

/// How many lines from one side form a flat band that ends where the content begins: 0 when
/// none. `line(k)` gives the k-th line from that side (of `lines`), `away(k, level)` the share of
/// its pixels STEP_LEVEL or more from `level`.
fn band(lines: usize, line: impl Fn(usize) -> Line, away: impl Fn(usize, f32) -> f32) -> usize {
    let first = line(0);
    if first.std > FLAT_LINE_STD {
        return 0;
    }
    let level = first.mean;
    let mut k = 1;
    while k < lines {
        let here = line(k);
        if here.std > FLAT_LINE_STD || (here.mean - level).abs() > BAND_LEVEL {
            let wide = k >= 2 && k as f32 >= MIN_BAND * lines as f32;
            if !wide || away(k, level) < STEP_SHARE {
                return 0;
            }
            // A reduced decode averages the bar's last pixels into the first content line: a
            // line whose mean lies between the band's and the next line's, still a step from
            // the next, is that blend.
            let blend = k + 1 < lines && {
                let next = line(k + 1).mean;
                (here.mean - level) * (next - here.mean) > 0.0
                    && (next - here.mean).abs() >= STEP_LEVEL / 2.0
            };
            return k + blend as usize;
        }
        k += 1;
    }
    0 // flat to the other side: a blank picture, not a border
}

/// The box inside the picture's flat borders, or None when it has none (almost every photograph).
/// Top and bottom are found over the whole width, then left and right over the rows between.
pub fn content_box(picture: &Gray) -> Option<ContentBox> {
    let (w, h) = (picture.width, picture.height);
    if w < 8 || h < 8 {
        return None;
    }
    let px = &picture.pixels;
    let row = |y: usize| line_stats(w, |x| px[y * w + x]);
    let row_away = |y: usize, level: f32| share_away(w, level, |x| px[y * w + x]);
    let top = band(h, row, row_away);
    let bottom = band(
        h - top,
        |k| row(h - 1 - k),
        |k, level| row_away(h - 1 - k, level),
    );
    let (top, bottom) = kept(h, top, bottom);
    let (y0, y1) = (top, h - bottom);
    let column = |x: usize| line_stats(y1 - y0, |i| px[(y0 + i) * w + x]);
    let column_away = |x: usize, level: f32| share_away(y1 - y0, level, |i| px[(y0 + i) * w + x]);
    let left = band(w, column, column_away);
    let right = band(
        w - left,
        |k| column(w - 1 - k),
        |k, level| column_away(w - 1 - k, level),
    );
    let (left, right) = kept(w, left, right);
    let inner = ContentBox {
        left,
        top,
        right: w - right,
        bottom: h - bottom,
    };
    let whole = ContentBox {
        left: 0,
        top: 0,
        right: w,
        bottom: h,
    };
    if inner == whole || flat(picture, inner) {
        return None;
    }
    Some(inner)
}

/// Whether the content inside `inner`, seen as the 16x16 area average the thumbnail is, varies by
/// less than FLAT_CONTENT_STD (the matching rule's flat pictures).
fn flat(picture: &Gray, inner: ContentBox) -> bool {
    let small = resize_area(&crop(picture, inner), 16, 16);
    let n = small.pixels.len() as f64;
    let mean = small.pixels.iter().map(|&p| p as f64).sum::<f64>() / n;
    let variance = small
        .pixels
        .iter()
        .map(|&p| (p as f64 - mean).powi(2))
        .sum::<f64>()
        / n;
    (variance.sqrt() as f32) < FLAT_CONTENT_STD
}

/// The bands of one axis, or none when they would leave less than MIN_CONTENT of its `lines`.
fn kept(lines: usize, start: usize, end: usize) -> (usize, usize) {
    let content = lines - start - end;
    if (content as f32) < MIN_CONTENT * lines as f32 {
        (0, 0)
    } else {
        (start, end)
    }
}

/// The pixels of `picture` inside `inner`.
pub fn crop(picture: &Gray, inner: ContentBox) -> Gray {
    let width = inner.right - inner.left;
    let mut pixels = Vec::with_capacity(width * (inner.bottom - inner.top));
    for y in inner.top..inner.bottom {
        pixels.extend_from_slice(&picture.pixels[y * picture.width + inner.left..][..width]);
    }
    Gray::new(width, inner.bottom - inner.top, pixels)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A textured picture (a diagonal ramp with a checker) of w x h.
    fn textured(w: usize, h: usize) -> Gray {
        let pixels = (0..w * h)
            .map(|i| {
                let (x, y) = (i % w, i / w);
                (40 + (x * 3 + y * 2) % 150 + 30 * ((x / 3 + y / 3) % 2)) as u8
            })
            .collect();
        Gray::new(w, h, pixels)
    }

    /// `inner` pasted at (x, y) on a canvas of `level`.
    fn pasted(inner: &Gray, w: usize, h: usize, x: usize, y: usize, level: u8) -> Gray {
        let mut pixels = vec![level; w * h];
        for row in 0..inner.height {
            pixels[(y + row) * w + x..][..inner.width]
                .copy_from_slice(&inner.pixels[row * inner.width..][..inner.width]);
        }
        Gray::new(w, h, pixels)
    }

    #[test]
    fn letterbox_bars_are_trimmed_to_the_content() {
        let content = textured(96, 64);
        let boxed = pasted(&content, 96, 96, 0, 16, 0);
        let inner = content_box(&boxed).unwrap();
        assert_eq!(
            inner,
            ContentBox {
                left: 0,
                top: 16,
                right: 96,
                bottom: 80
            }
        );
        assert_eq!(crop(&boxed, inner), content);
        // A decode that averages the bar into the first content line: that line goes too.
        let mut blended = boxed.clone();
        for x in 0..96 {
            blended.pixels[16 * 96 + x] = content.pixels[x] / 4;
        }
        assert_eq!(content_box(&blended).unwrap().top, 17);
    }

    #[test]
    fn a_canvas_is_trimmed_on_every_side() {
        let content = textured(70, 60);
        let canvas = pasted(&content, 84, 72, 9, 4, 230);
        assert_eq!(
            content_box(&canvas),
            Some(ContentBox {
                left: 9,
                top: 4,
                right: 79,
                bottom: 64
            })
        );
    }

    #[test]
    fn photographs_blank_frames_and_gradients_keep_their_frame() {
        assert_eq!(content_box(&textured(80, 64)), None);
        assert_eq!(content_box(&Gray::new(64, 64, vec![128; 64 * 64])), None);
        // A sky that darkens slowly down to the picture's edge has no step: content.
        let sky = Gray::new(64, 64, (0..64 * 64).map(|i| (200 - i / 64) as u8).collect());
        assert_eq!(content_box(&sky), None);
        // A flat sky that ends where a tower rises into it: only a few pixels of the line change.
        let mut towered = textured(80, 64);
        towered.pixels[..20 * 80].fill(200);
        for y in 12..20 {
            towered.pixels[y * 80 + 30..y * 80 + 36].fill(90);
        }
        assert_eq!(content_box(&towered), None);
        // A thin dark line along one edge is not a border.
        let mut lined = textured(80, 64);
        lined.pixels[..80].fill(0);
        assert_eq!(content_box(&lined), None);
    }

    #[test]
    fn two_flat_tones_keep_their_frame() {
        let mut two_tone = vec![0u8; 80 * 60];
        two_tone[20 * 80..].fill(255);
        assert_eq!(content_box(&Gray::new(80, 60, two_tone)), None);
    }

    #[test]
    fn mostly_flat_pictures_are_not_cut_to_a_sliver() {
        let content = textured(80, 10);
        let strip = pasted(&content, 80, 80, 0, 35, 255);
        assert_eq!(content_box(&strip), None);
    }
}
