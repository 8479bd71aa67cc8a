//! JPEG: a marker walk that proves the stream is complete (libjpeg fills a cut stream with gray
//! and calls it a warning), then a reduced-scale decode by libjpeg-turbo.

use crate::exif;
use crate::gray::{luma, Gray};
use crate::outcome::{check_size, DecodeError, DecodeResult, Decoded, Failure, Header, Limits};
use crate::turbo::{self, TurboError};
use turbojpeg_sys as raw;

const EOI: u8 = 0xD9;
const SOS: u8 = 0xDA;
const APP1: u8 = 0xE1;

/// Walks the segments from SOI to EOI, skipping entropy-coded data. Returns the EXIF orientation.
/// Bytes after EOI are allowed (cameras and editors append them).
pub fn walk_markers(bytes: &[u8]) -> Result<u16, Failure> {
    let cut = |what: &str| Failure::truncated(format!("file ends {what} (no end-of-image marker): the JPEG is cut short"));
    if !bytes.starts_with(&[0xFF, 0xD8]) {
        return Err(Failure::corrupt("does not start with a JPEG start-of-image marker"));
    }
    let mut orientation = None;
    let mut seen_scan = false;
    let mut pos = 2;
    loop {
        // Find the next marker; libjpeg tolerates stray bytes between segments, so we do too.
        pos = match memchr::memchr(0xFF, &bytes[pos.min(bytes.len())..]) {
            Some(offset) => pos + offset,
            None => return Err(cut("between segments")),
        };
        while pos < bytes.len() && bytes[pos] == 0xFF {
            pos += 1;
        }
        let Some(&marker) = bytes.get(pos) else { return Err(cut("inside a marker")) };
        pos += 1;
        match marker {
            EOI if seen_scan => return Ok(orientation.unwrap_or(1)),
            EOI => return Err(Failure::corrupt("end-of-image marker before any image data")),
            0x00 | 0x01 | 0xD0..=0xD7 => continue,
            _ => {}
        }
        let Some(length) = bytes.get(pos..pos + 2) else { return Err(cut("inside a segment header")) };
        let length = u16::from_be_bytes([length[0], length[1]]) as usize;
        if length < 2 {
            return Err(Failure::corrupt(format!("segment 0xFF{marker:02X} has an impossible length {length}")));
        }
        let end = pos + length;
        if end > bytes.len() {
            return Err(cut("inside a segment"));
        }
        if marker == APP1 && orientation.is_none() {
            orientation = exif::orientation_from_app1(&bytes[pos + 2..end]);
        }
        pos = end;
        if marker == SOS {
            seen_scan = true;
            pos = skip_entropy_data(bytes, pos).ok_or_else(|| cut("inside the image data"))?;
        }
    }
}

/// Index of the first real marker after entropy-coded data, or None when the data runs to the end.
fn skip_entropy_data(bytes: &[u8], mut pos: usize) -> Option<usize> {
    loop {
        pos += memchr::memchr(0xFF, bytes.get(pos..)?)?;
        match *bytes.get(pos + 1)? {
            // Stuffed zero byte or a restart marker: still inside the scan.
            0x00 | 0xD0..=0xD7 => pos += 2,
            // Fill byte before a marker.
            0xFF => pos += 1,
            _ => return Some(pos),
        }
    }
}

fn header_failure(message: String) -> Failure {
    if message.contains("Premature end") {
        Failure::truncated(format!("the JPEG is cut short ({message})"))
    } else {
        Failure::corrupt(format!("damaged JPEG: {message}"))
    }
}

/// The largest DCT downscale (1/8, 1/4, 1/2) whose shorter side keeps at least `min_side` pixels.
fn scale_denominator(width: u32, height: u32, min_side: u32, lossless: bool) -> u32 {
    if lossless {
        return 1;
    }
    [8, 4, 2]
        .into_iter()
        .find(|&d| turbo::scaled(width.min(height), d) >= min_side)
        .unwrap_or(1)
}

/// CMYK as libjpeg-turbo returns Adobe files (inverted), to Pillow-style luma.
fn cmyk_to_gray(cmyk: &[u8], width: u32, height: u32) -> Gray {
    let pixels = cmyk
        .chunks_exact(4)
        .map(|p| {
            let (c, m, y, k) = (255 - p[0] as u32, 255 - p[1] as u32, 255 - p[2] as u32, 255 - p[3] as u32);
            let channel = |x: u32| 255u32.saturating_sub(x + k) as u8;
            luma(channel(c), channel(m), channel(y))
        })
        .collect();
    Gray::new(width as usize, height as usize, pixels)
}

pub fn decode(bytes: &[u8], limits: &Limits) -> DecodeResult {
    let structure = walk_markers(bytes);
    let header = match turbo::read_header(bytes) {
        Ok(h) => h,
        Err(TurboError::Warning(m) | TurboError::Fatal(m)) => {
            return Err(structure.err().unwrap_or_else(|| header_failure(m)).into());
        }
    };
    if header.width == 0 || header.height == 0 {
        // libjpeg "succeeds" on a stream cut before its frame header, reporting 0x0.
        if let Err(failure) = structure {
            return Err(failure.into());
        }
    }
    let cmyk = header.colorspace == raw::TJCS_TJCS_CMYK || header.colorspace == raw::TJCS_TJCS_YCCK;
    let channels = match header.colorspace {
        raw::TJCS_TJCS_GRAY => 1,
        _ if cmyk => 4,
        _ => 3,
    };
    let stored = Header { width: header.width, height: header.height, channels };
    let fail = |failure: Failure| DecodeError { failure, header: Some(stored) };
    check_size(header.width as u64, header.height as u64, limits).map_err(fail)?;
    let orientation = structure.map_err(fail)?;

    let denom = scale_denominator(header.width, header.height, limits.min_decode_side, header.lossless);
    let (pixels, width, height, warning) = match turbo::decode(bytes, &header, denom, cmyk) {
        Ok(decoded) => decoded,
        Err(TurboError::Warning(m) | TurboError::Fatal(m)) => return Err(fail(header_failure(m))),
    };
    if let Some(message) = warning {
        if message.contains("Premature end") {
            return Err(fail(header_failure(message)));
        }
    }
    let picture = if cmyk { cmyk_to_gray(&pixels, width, height) } else { Gray::new(width as usize, height as usize, pixels) };
    Ok(Decoded { header: stored, orientation, picture: picture.oriented(orientation) })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn segment(marker: u8, payload: &[u8]) -> Vec<u8> {
        let mut v = vec![0xFF, marker];
        v.extend(((payload.len() + 2) as u16).to_be_bytes());
        v.extend(payload);
        v
    }

    fn skeleton(scan_data: &[u8], tail: &[u8]) -> Vec<u8> {
        let mut v = vec![0xFF, 0xD8];
        let mut app1 = b"Exif\0\0".to_vec();
        app1.extend(exif::tiff_with_orientation(6, false));
        v.extend(segment(APP1, &app1));
        v.extend(segment(0xDB, &[0; 65]));
        v.extend(segment(SOS, &[1, 1, 0, 0, 63, 0]));
        v.extend(scan_data);
        v.extend([0xFF, EOI]);
        v.extend(tail);
        v
    }

    #[test]
    fn complete_stream_passes_and_reads_orientation() {
        let data = [0x12, 0xFF, 0x00, 0x34, 0xFF, 0xD3, 0x56];
        assert_eq!(walk_markers(&skeleton(&data, b"")), Ok(6));
        // Trailing bytes after EOI are fine.
        assert_eq!(walk_markers(&skeleton(&data, b"trailing junk")), Ok(6));
    }

    #[test]
    fn every_cut_is_truncated() {
        let full = skeleton(&[0x12, 0xFF, 0x00, 0x34, 0xFF, 0xD3, 0x56], b"");
        for cut in 2..full.len() {
            let verdict = walk_markers(&full[..cut]);
            assert!(matches!(verdict, Err(ref f) if f.status == crate::outcome::Status::Truncated), "cut {cut}: {verdict:?}");
        }
    }

    #[test]
    fn not_a_jpeg() {
        assert!(walk_markers(b"").is_err());
        assert!(walk_markers(b"\x89PNG").is_err());
    }

    #[test]
    fn scale_keeps_min_side() {
        assert_eq!(scale_denominator(800, 600, 64, false), 8);
        assert_eq!(scale_denominator(400, 300, 64, false), 4);
        assert_eq!(scale_denominator(200, 200, 64, false), 2);
        assert_eq!(scale_denominator(100, 60, 64, false), 1);
        assert_eq!(scale_denominator(4000, 3000, 64, true), 1);
    }
}
