//! Flat borders around a picture's content: letterbox bars, a plain canvas a picture was pasted
//! on, a scanner's margin, a caption band, a window's frame and title bar on a desktop. The
//! near-duplicate thumbnail is made from the content inside them, so a copy padded to 1:1 or 16:9,
//! pasted on a larger canvas, captioned or shown in a screenshot, shows the same picture as its
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
/// How far into a side a border may hold lettering or steps between flat levels (a caption band
/// of up to a fifth of the picture, a window's title bar and frame on a desktop margin).
const MAX_FRAMED: f32 = 0.3;
/// A line of lettering on a border: at least this share of its pixels is within BAND_LEVEL of the
/// border's level (the paper between the letters).
const LETTERED_NEAR: f32 = 0.5;
/// How far into a side bold lettering may reach (a line of a caption in a band of up to a fifth
/// of the picture), as a share of the side: lettering is read where the band's level comes back.
const LETTER_LINES: f32 = 0.2;
/// Most passes of the border search: a window's frame and title bar inside a desktop's margin
/// take two.
const FRAME_PASSES: usize = 3;
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

/// Share of `count` pixels `i` for which `holds(i)`.
fn share(count: usize, holds: impl Fn(usize) -> bool) -> f32 {
    (0..count).filter(|&i| holds(i)).count() as f32 / count.max(1) as f32
}

/// How many lines from one side form a border that ends where the content begins: 0 when none.
/// `at(k, i)` is pixel `i` (of `length`) of the k-th line from that side (of `lines`).
///
/// A border is flat lines of one level (a bar, a canvas). Within the outer MAX_FRAMED of a side
/// it may also hold lines of lettering on its level (a caption band, a window's title) and steps
/// of STEP_LEVEL or more to another flat level (a window's frame, its title bar on a desktop);
/// such a border must end on a flat line, so a head or a tower rising into a sky is never taken
/// for lettering. When it does not close, the plain border before its first step still counts: a
/// bar next to a flat sky is a bar.
fn band(lines: usize, length: usize, at: impl Fn(usize, usize) -> u8) -> usize {
    let line = |k: usize| line_stats(length, |i| at(k, i));
    // Shares of line k's pixels STEP_LEVEL or more from a level, and within BAND_LEVEL of it.
    let away =
        |k: usize, level: f32| share(length, |i| (at(k, i) as f32 - level).abs() >= STEP_LEVEL);
    let near =
        |k: usize, level: f32| share(length, |i| (at(k, i) as f32 - level).abs() <= BAND_LEVEL);
    let first = line(0);
    if first.std > FLAT_LINE_STD {
        return 0;
    }
    let framed_end = MAX_FRAMED * lines as f32;
    let (mut level, mut previous) = (first.mean, first.mean);
    let (mut last_flat, mut framed) = (0, false);
    // Where the plain (one-level) rule alone would end the border: kept when a framed border
    // fails to close, so a bar next to flat content is still trimmed.
    let mut fallback = 0;
    // A reduced decode averages the bar's last pixels into the first content line: a line whose
    // mean lies between the band's and the next line's, still a step from the next, is that blend.
    let step_end = |k: usize, level: f32, here: Line| -> usize {
        let blend = k + 1 < lines && {
            let next = line(k + 1).mean;
            (here.mean - level) * (next - here.mean) > 0.0
                && (next - here.mean).abs() >= STEP_LEVEL / 2.0
        };
        k + blend as usize
    };
    // Bold lettering covers most of its lines: it is lettering when the band's own level comes
    // back, flat, within LETTER_LINES and the framed part of the side.
    let letter_end = framed_end.min(LETTER_LINES * lines as f32);
    let returns = |k: usize, level: f32| {
        (k + 1..lines)
            .take_while(|&j| (j as f32) < letter_end)
            .any(|j| {
                let after = line(j);
                after.std <= FLAT_LINE_STD && (after.mean - level).abs() <= BAND_LEVEL
            })
    };
    let mut k = 1;
    while k < lines {
        let here = line(k);
        let flat = here.std <= FLAT_LINE_STD;
        let within = (k as f32) < framed_end;
        if flat && (here.mean - level).abs() <= BAND_LEVEL {
            (last_flat, previous) = (k, here.mean);
        } else if within && flat && (here.mean - previous).abs() >= STEP_LEVEL {
            if !framed
                && k >= 2
                && k as f32 >= MIN_BAND * lines as f32
                && away(k, level) >= STEP_SHARE
            {
                fallback = step_end(k, level, here);
            }
            (level, previous, last_flat, framed) = (here.mean, here.mean, k, true);
        } else if within && !flat && (near(k, level) >= LETTERED_NEAR || returns(k, level)) {
            framed = true;
        } else {
            let wide = k >= 2 && k as f32 >= MIN_BAND * lines as f32;
            if !wide || last_flat + 1 != k || (framed && !within) {
                return fallback;
            }
            if away(k, level) >= STEP_SHARE {
                return step_end(k, level, here);
            }
            // The blend can also hide the step: a bar next to content of nearly its level
            // (padding in the picture's own mean colour) makes a first line only partly away.
            // The next line then steps away across the line.
            let blended = k + 1 < lines && {
                let next = line(k + 1).mean;
                (here.mean - level) * (next - here.mean) >= 0.0
                    && away(k, level) >= STEP_SHARE / 2.0
                    && away(k + 1, level) >= STEP_SHARE
            };
            return if blended { k + 1 } else { fallback };
        }
        k += 1;
    }
    fallback // flat to the other side: a blank picture, not a border
}

/// The box inside the picture's flat borders, or None when it has none (almost every photograph).
/// Top and bottom are found over the whole width, then left and right over the rows between; a
/// frame inside a frame (a window on a desktop) is trimmed again inside what a pass leaves, up to
/// FRAME_PASSES passes.
pub fn content_box(picture: &Gray) -> Option<ContentBox> {
    let (w, h) = (picture.width, picture.height);
    if w < 8 || h < 8 {
        return None;
    }
    let whole = ContentBox {
        left: 0,
        top: 0,
        right: w,
        bottom: h,
    };
    let mut inner = whole;
    for _ in 0..FRAME_PASSES {
        let next = trimmed(picture, inner);
        if next == inner {
            break;
        }
        inner = next;
    }
    if inner == whole || flat(picture, inner) {
        return None;
    }
    Some(inner)
}

/// `outer` less the borders found on its four sides (see `content_box`).
fn trimmed(picture: &Gray, outer: ContentBox) -> ContentBox {
    let (w, px) = (picture.width, &picture.pixels);
    let (x0, width, height) = (
        outer.left,
        outer.right - outer.left,
        outer.bottom - outer.top,
    );
    let (first, last) = (outer.top, outer.bottom - 1);
    let top = band(height, width, |k, i| px[(first + k) * w + x0 + i]);
    let bottom = band(height - top, width, |k, i| px[(last - k) * w + x0 + i]);
    let (top, bottom) = kept(height, picture.height, top, bottom);
    let (y0, rows) = (outer.top + top, height - top - bottom);
    let (first, last) = (outer.left, outer.right - 1);
    let left = band(width, rows, |k, i| px[(y0 + i) * w + first + k]);
    let right = band(width - left, rows, |k, i| px[(y0 + i) * w + last - k]);
    let (left, right) = kept(width, picture.width, left, right);
    ContentBox {
        left: outer.left + left,
        top: outer.top + top,
        right: outer.right - right,
        bottom: outer.bottom - bottom,
    }
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

/// The bands at the two ends of `lines`, or none when they would leave less than MIN_CONTENT of
/// the picture's `whole` side.
fn kept(lines: usize, whole: usize, start: usize, end: usize) -> (usize, usize) {
    let content = lines - start - end;
    if (content as f32) < MIN_CONTENT * whole as f32 {
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

    /// `inner` under a caption band of `band` lines at `level`, lettered in its middle lines.
    fn captioned(inner: &Gray, band: usize, level: u8, ink: u8) -> Gray {
        let w = inner.width;
        let mut out = pasted(inner, w, inner.height + band, 0, band, level);
        for y in band / 3..band - band / 3 {
            for x in (2..w - 2).filter(|x| x % 5 < 2) {
                out.pixels[y * w + x] = ink;
            }
        }
        out
    }

    #[test]
    fn a_caption_band_with_lettering_is_trimmed() {
        let content = textured(96, 64);
        for (level, ink) in [(255, 0), (0, 255), (90, 230)] {
            let boxed = captioned(&content, 12, level, ink);
            let inner = content_box(&boxed).unwrap();
            assert_eq!((inner.top, inner.bottom), (12, 76), "caption at {level}");
            assert_eq!(crop(&boxed, inner), content);
        }
        // Lettering that reaches the picture, with no plain line between, is content.
        let mut touching = captioned(&content, 12, 255, 0);
        for y in 8..12 {
            for x in (2..94).filter(|x| x % 5 < 2) {
                touching.pixels[y * 96 + x] = 0;
            }
        }
        assert_eq!(content_box(&touching), None);
    }

    #[test]
    fn a_bold_caption_is_trimmed() {
        // Ink on 62% of the lettered lines (found in review): the band's level comes back below
        // the lettering, so it is lettering, not the picture.
        let content = textured(96, 64);
        let mut boxed = pasted(&content, 96, 82, 0, 18, 255);
        for y in 6..12 {
            for x in (0..96).filter(|x| x % 8 < 5) {
                boxed.pixels[y * 96 + x] = 0;
            }
        }
        assert_eq!(content_box(&boxed).map(|b| b.top), Some(18));
    }

    #[test]
    fn a_window_on_a_desktop_is_trimmed_to_its_picture() {
        let content = textured(80, 60);
        // Desktop 30, a frame line 120, a title bar 220 with a title and buttons, the picture.
        let (w, h) = (90, 80);
        let mut shot = pasted(&content, w, h, 5, 14, 30);
        for y in 2..14 {
            for x in 4..86 {
                shot.pixels[y * w + x] = if y == 2 || x == 4 || x == 85 {
                    120
                } else {
                    220
                };
            }
        }
        for y in 6..10 {
            for x in (10..40).filter(|x| x % 4 < 2) {
                shot.pixels[y * w + x] = 20;
            }
        }
        for y in 14..74 {
            shot.pixels[y * w + 4] = 120;
            shot.pixels[y * w + 85] = 120;
        }
        for x in 4..86 {
            shot.pixels[74 * w + x] = 120;
        }
        let inner = content_box(&shot).unwrap();
        assert_eq!(
            (inner.left, inner.top, inner.right, inner.bottom),
            (5, 14, 85, 74)
        );
    }

    #[test]
    fn a_flat_sky_with_birds_over_a_head_is_content() {
        // Lettering-like specks in a sky are allowed only where a plain line closes the band: a
        // head rising into the sky leaves no such line, so nothing is trimmed.
        let mut sky = textured(80, 64);
        sky.pixels[..24 * 80].fill(200);
        for y in 4..8 {
            sky.pixels[y * 80 + 10..y * 80 + 13].fill(40);
        }
        for y in 14..24 {
            let half = (y - 14) * 2;
            sky.pixels[y * 80 + 40 - half..y * 80 + 40 + half].fill(90);
        }
        assert_eq!(content_box(&sky), None);
    }

    #[test]
    fn a_bar_next_to_a_flat_sky_is_still_a_bar() {
        // The sky's first line steps away from the bar and is flat: a framed border would go on
        // into the sky and never close; the bar alone is the border (found in review). The next
        // pass then sees what the picture alone shows: a flat sky ending in a step.
        let mut content = textured(96, 64);
        content.pixels[..16 * 96].fill(200);
        let alone = content_box(&content).unwrap();
        let boxed = pasted(&content, 96, 96, 0, 16, 0);
        let inner = content_box(&boxed).unwrap();
        assert_eq!(
            (inner.top, inner.bottom),
            (alone.top + 16, alone.bottom + 16)
        );
        // Every pass sees what the picture alone would show: a bar adds its own lines only.
        for sky in [4, 12, 40] {
            let mut other = textured(96, 64);
            other.pixels[..sky * 96].fill(200);
            let alone = content_box(&other).map_or((0, 64), |b| (b.top, b.bottom));
            let boxed = content_box(&pasted(&other, 96, 96, 0, 16, 0)).unwrap();
            assert_eq!(
                (boxed.top, boxed.bottom),
                (alone.0 + 16, alone.1 + 16),
                "sky of {sky}"
            );
        }
    }

    #[test]
    fn a_sky_of_steep_flat_steps_is_content() {
        // Flat lines 7 levels apart are a gradient, not a frame: steps to a new level need
        // STEP_LEVEL (found in review).
        let mut sky = textured(96, 64);
        for y in 0..18 {
            sky.pixels[y * 96..(y + 1) * 96].fill((240 - 7 * y) as u8);
        }
        assert_eq!(content_box(&sky), None);
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
