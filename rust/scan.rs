//! The per-file pipeline: a pure function from (name, bytes) to one row of the scan frame.

use crate::decode::decode;
use crate::decode::outcome::{Header, Limits, Status};
use crate::decode::sniff::{Format, extension_mismatch, sniff};
use crate::picture::border::{content_box, crop};
use crate::picture::gray::{Gray, reduction_factor};
use crate::picture::hash::{
    SIGN_BYTES, THUMB_SIDE, content_hash, image_hashes, sign_map, thumbnail,
};
use crate::picture::resample::Columns;
use crate::picture::stats::{FINE_LOOK_BELOW, Stats, blur_square, fine_look, measure};

/// Raised whenever the same file's measured values change (a new column, another decode scale, a
/// changed measure): a dataset written by another revision is read again, not reused.
pub const MEASURES_REVISION: u32 = 8;

/// One file's row. Optional fields are null in the frame.
#[derive(Debug, Clone)]
pub struct Row {
    pub path: String,
    pub bytes: u64,
    pub format: Format,
    pub ext_mismatch: bool,
    pub status: Status,
    pub error: Option<String>,
    pub header: Option<Header>,
    pub content_hash: Option<String>,
    /// aHash, dHash, pHash, and the pHash of the horizontal mirror image.
    pub hashes: Option<[u64; 4]>,
    /// The 16x16 gray thumbnail near-duplicate matching works on (`hash::thumbnail`).
    pub thumb: Option<[u8; THUMB_SIDE * THUMB_SIDE]>,
    /// Signs of a band-pass of the 64x64 square, 16x16 bits (`hash::sign_map`): the finer
    /// layout the matching rule checks where two thumbnails matched through a window.
    pub signs: Option<[u8; SIGN_BYTES]>,
    pub stats: Option<Stats>,
    /// Hasler-Süsstrunk colourfulness of the stored colours and the mean opponent colours
    /// (`color::Colour`).
    pub colorfulness: Option<crate::picture::color::Colour>,
    /// Width and height of the content inside flat borders (`border::content_box`), in the
    /// image's pixels; None when the picture has no such border.
    pub content: Option<(u32, u32)>,
    pub label: Option<String>,
    pub split: Option<String>,
}

impl Row {
    /// A file whose bytes could not be had at all (I/O error, permission, not a regular file).
    pub fn unreadable(path: String, bytes: u64, status: Status, error: String) -> Row {
        let format = Format::Unknown;
        Row {
            ext_mismatch: false,
            path,
            bytes,
            format,
            status,
            error: Some(error),
            header: None,
            content_hash: None,
            hashes: None,
            thumb: None,
            signs: None,
            stats: None,
            colorfulness: None,
            content: None,
            label: None,
            split: None,
        }
    }

    pub fn aspect(&self) -> Option<f64> {
        self.header
            .filter(|h| h.height > 0)
            .map(|h| h.width as f64 / h.height as f64)
    }
}

/// Everything the scan knows about one file, from its name and its bytes alone.
pub fn analyze(name: &str, bytes: &[u8], limits: &Limits) -> Row {
    let format = sniff(bytes);
    let mut row = Row {
        path: name.to_string(),
        bytes: bytes.len() as u64,
        format,
        ext_mismatch: !bytes.is_empty() && extension_mismatch(name, format),
        status: Status::Ok,
        error: None,
        header: None,
        content_hash: Some(content_hash(bytes)),
        hashes: None,
        thumb: None,
        signs: None,
        stats: None,
        colorfulness: None,
        content: None,
        label: None,
        split: None,
    };
    match decode(bytes, format, limits) {
        Ok(decoded) => {
            let h = decoded.header;
            // Width and height as a viewer shows the image, after the EXIF orientation.
            let upright = if decoded.orientation >= 5 {
                Header {
                    width: h.height,
                    height: h.width,
                    ..h
                }
            } else {
                h
            };
            row.header = Some(upright);
            // JPEGs arrive reduced by DCT scaling, with the view one scale finer; other formats
            // arrive at full size and get the same reduction here.
            let min_side = limits.min_decode_side as usize;
            let (picture, finer) = match decoded.finer {
                Some(finer) => (decoded.picture, FinerView::Made(finer)),
                None if format == Format::Jpeg => (decoded.picture, FinerView::None),
                None => {
                    let full = decoded.picture;
                    let factor = reduction_factor(full.width, full.height, min_side);
                    if factor > 1 {
                        (full.box_reduce(factor), FinerView::Full(full, factor / 2))
                    } else {
                        (full, FinerView::None)
                    }
                }
            };
            let picture = &picture;
            // The picture column by column, read by the hashes' resizes and the sharpness edges.
            let columns = Columns::of(picture);
            row.hashes = Some(image_hashes(picture, &columns));
            // One small area-averaged square serves the deprecated `blur` and the thumbnail
            // (its 4x4 blocks: the thumbnail is still the picture's area average). Inside flat
            // borders (letterbox bars, a canvas) the thumbnail and its signs show the content.
            let square = blur_square(picture);
            let inner = content_box(picture);
            row.content = inner.map(|b| {
                let share = |part: usize, whole: usize, size: u32| {
                    ((size as f64 * part as f64 / whole as f64).round() as u32).max(1)
                };
                (
                    share(b.right - b.left, picture.width, upright.width),
                    share(b.bottom - b.top, picture.height, upright.height),
                )
            });
            let content = inner.map(|b| blur_square(&crop(picture, b)));
            let near_dup_square = content.as_ref().unwrap_or(&square);
            row.thumb = Some(thumbnail(near_dup_square));
            row.signs = Some(sign_map(near_dup_square));
            let mut stats = measure(picture, &square, &columns);
            if stats.sharpness.is_some_and(|s| s <= FINE_LOOK_BELOW) {
                (stats.sharpness_fine, stats.smear) = match finer {
                    FinerView::Made(finer) => fine_look(&finer),
                    FinerView::Full(full, 1) => fine_look(&full),
                    FinerView::Full(full, factor) => fine_look(&full.box_reduce(factor)),
                    // Decoded at full size already: nothing finer to see (the same sharpness).
                    FinerView::None => fine_look(picture),
                };
            }
            row.stats = Some(stats);
            row.colorfulness = decoded.colorfulness;
        }
        Err(failure) => {
            row.status = failure.failure.status;
            row.error = Some(failure.failure.message);
            row.header = failure.header;
        }
    }
    row
}

/// Where `sharpness_fine` looks: the picture one reduction step finer than the scan's.
enum FinerView {
    /// Made by the decoder (a JPEG decoded one DCT scale finer).
    Made(Gray),
    /// The full-size decode, box-reduced by this factor (1: as it is) only when needed.
    Full(Gray, usize),
    /// The scan's picture is the full-size decode.
    None,
}

/// One local file: its bytes read (or why not), analysed, with the label and split of its place.
pub fn analyze_entry(entry: &crate::walk::Entry, limits: &Limits, max_bytes: u64) -> Row {
    let mut row = match &entry.kind {
        crate::walk::Kind::Refused(status, message) => {
            Row::unreadable(entry.display.clone(), 0, *status, message.clone())
        }
        crate::walk::Kind::File => match crate::walk::read(&entry.path, max_bytes) {
            Ok(bytes) => analyze(&entry.display, &bytes, limits),
            Err((status, message, size)) => {
                Row::unreadable(entry.display.clone(), size, status, message)
            }
        },
    };
    row.label = entry.label.clone();
    row.split = entry.split.clone();
    row
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_and_random_bytes() {
        let limits = Limits::default();
        let empty = analyze("a.jpg", b"", &limits);
        assert_eq!(empty.status, Status::Empty);
        assert!(!empty.ext_mismatch);
        let random = analyze("b.jpg", b"\x13\x37 not an image at all", &limits);
        assert_eq!(random.status, Status::Unsupported);
        assert!(
            random
                .error
                .as_deref()
                .unwrap()
                .contains("not a recognised")
        );
        assert!(random.ext_mismatch);
    }

    #[test]
    fn huge_declared_png_is_refused_before_allocation() {
        let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
        let mut ihdr = b"IHDR".to_vec();
        ihdr.extend(60000u32.to_be_bytes());
        ihdr.extend(60000u32.to_be_bytes());
        ihdr.extend([8, 2, 0, 0, 0]);
        png.extend(13u32.to_be_bytes());
        png.extend(&ihdr);
        let crc = crc32(&ihdr);
        png.extend(crc.to_be_bytes());
        let row = analyze("big.png", &png, &Limits::default());
        assert_eq!(row.status, Status::TooLarge, "{:?}", row.error);
        assert_eq!(
            row.header.map(|h| (h.width, h.height)),
            Some((60000, 60000))
        );
    }

    fn crc32(data: &[u8]) -> u32 {
        let mut crc = 0xFFFF_FFFFu32;
        for &b in data {
            crc ^= b as u32;
            for _ in 0..8 {
                crc = if crc & 1 != 0 {
                    (crc >> 1) ^ 0xEDB8_8320
                } else {
                    crc >> 1
                };
            }
        }
        !crc
    }
}
