//! JPEG: a marker walk that proves the stream is complete (libjpeg fills a cut stream with gray
//! and calls it a warning), then a reduced-scale decode by libjpeg-turbo.

use super::exif;
use super::outcome::{DecodeError, DecodeResult, Decoded, Failure, Header, Limits, check_size};
use super::turbo::{self, TurboError};
use crate::picture::gray::{Gray, luma};
use turbojpeg_sys as raw;

const EOI: u8 = 0xD9;
const SOS: u8 = 0xDA;
const APP1: u8 = 0xE1;
const DQT: u8 = 0xDB;
const DHT: u8 = 0xC4;

/// Walks the segments from SOI to EOI, skipping entropy-coded data. Returns the EXIF orientation.
/// Bytes after EOI are allowed (cameras and editors append them).
pub fn walk_markers(bytes: &[u8]) -> Result<u16, Failure> {
    walk(bytes).map(|w| w.orientation)
}

/// What the marker walk learns besides completeness.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Walk {
    orientation: u16,
    /// A sequential Huffman scan uses table 0 or 1 of a class that the file never defines:
    /// libjpeg then uses the standard tables (Motion-JPEG frames omit them), but only when the
    /// slot is empty, and a reused decoder keeps the tables of the previous file.
    needs_standard_huffman: bool,
}

/// The tables a stream has defined so far, to prove that every scan only uses tables of its own
/// file. libjpeg keeps DQT and DHT tables in the decompressor across files, so a stream that uses
/// a table it never defines is decoded with the previous file's table by a reused handle (and is a
/// fatal "table was not defined" for a fresh one): the verdict and the pixels would depend on
/// which file the thread decoded before. Found by fuzzing (same bytes, two pictures).
#[derive(Default)]
struct Tables {
    quant: [bool; 4],
    /// [class][id]: class 0 DC (and lossless), 1 AC.
    huffman: [[bool; 4]; 2],
    /// SOFn marker and (component id, quant table) of the frame.
    frame: Option<(u8, Vec<(u8, u8)>)>,
    needs_standard_huffman: bool,
}

impl Tables {
    fn define_quant(&mut self, payload: &[u8]) {
        let mut at = 0;
        while let Some(&pq_tq) = payload.get(at) {
            let size = if pq_tq >> 4 == 0 { 64 } else { 128 };
            if at + 1 + size > payload.len() {
                return;
            }
            let tq = (pq_tq & 0x0F) as usize;
            if tq < 4 {
                self.quant[tq] = true;
            }
            at += 1 + size;
        }
    }

    fn define_huffman(&mut self, payload: &[u8]) {
        let mut at = 0;
        while let Some(&tc_th) = payload.get(at) {
            let Some(counts) = payload.get(at + 1..at + 17) else {
                return;
            };
            let values: usize = counts.iter().map(|&c| c as usize).sum();
            if at + 17 + values > payload.len() || tc_th >> 4 > 1 || tc_th & 0x0F > 3 {
                return;
            }
            self.huffman[(tc_th >> 4) as usize][(tc_th & 0x0F) as usize] = true;
            at += 17 + values;
        }
    }

    fn frame(&mut self, marker: u8, payload: &[u8]) {
        let count = payload.get(5).copied().unwrap_or(0) as usize;
        let components = (0..count)
            .filter_map(|i| payload.get(6 + 3 * i..9 + 3 * i))
            .map(|c| (c[0], c[2]))
            .collect();
        self.frame = Some((marker, components));
    }

    /// Checks the tables one scan uses; libjpeg itself reports malformed scans.
    fn scan(&mut self, payload: &[u8]) -> Result<(), Failure> {
        let Some((sof, components)) = self.frame.clone() else {
            return Ok(());
        };
        let count = payload.first().copied().unwrap_or(0) as usize;
        let (Some(&ss), Some(&ah_al)) = (payload.get(1 + 2 * count), payload.get(3 + 2 * count))
        else {
            return Ok(());
        };
        let undefined = |what: &str, id: u8| {
            Failure::corrupt(format!(
                "damaged JPEG: a scan uses {what} table {id}, which the file never defines"
            ))
        };
        for i in 0..count {
            let Some(pair) = payload.get(1 + 2 * i..3 + 2 * i) else {
                break;
            };
            let (cs, td_ta) = (pair[0], pair[1]);
            let Some(&(_, tq)) = components.iter().find(|(id, _)| *id == cs) else {
                continue;
            };
            if tq < 4 && !self.quant[tq as usize] {
                return Err(undefined("quantization", tq));
            }
            let (dc, ac) = (td_ta >> 4, td_ta & 0x0F);
            if dc > 3 || ac > 3 {
                continue;
            }
            let mut need = |class: usize, id: u8, sequential: bool| -> Result<(), Failure> {
                if self.huffman[class][id as usize] {
                    Ok(())
                } else if sequential && id < 2 {
                    self.needs_standard_huffman = true;
                    Ok(())
                } else {
                    Err(undefined(
                        if class == 0 {
                            "DC Huffman"
                        } else {
                            "AC Huffman"
                        },
                        id,
                    ))
                }
            };
            match sof {
                // Sequential Huffman (baseline, extended, hierarchical).
                0xC0 | 0xC1 | 0xC5 => {
                    need(0, dc, true)?;
                    need(1, ac, true)?;
                }
                // Progressive Huffman: a first DC scan uses DC tables, AC scans AC tables.
                0xC2 | 0xC6 if ss == 0 && ah_al >> 4 == 0 => need(0, dc, false)?,
                // A DC refinement scan reads no table.
                0xC2 | 0xC6 if ss == 0 => {}
                0xC2 | 0xC6 => need(1, ac, false)?,
                // Lossless Huffman: DC tables only.
                0xC3 | 0xC7 => need(0, dc, false)?,
                // Arithmetic coding has no Huffman tables.
                _ => {}
            }
        }
        Ok(())
    }
}

/// DHT segment with the four standard tables of JPEG Annex K.3, exactly those libjpeg-turbo
/// (jstdhuff.c) installs in empty slots for Motion-JPEG streams.
const STANDARD_HUFFMAN_DHT: [u8; 420] = [
    0xFF, 0xC4, 0x01, 0xA2, 0x00, 0x00, 0x01, 0x05, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0A,
    0x0B, 0x10, 0x00, 0x02, 0x01, 0x03, 0x03, 0x02, 0x04, 0x03, 0x05, 0x05, 0x04, 0x04, 0x00, 0x00,
    0x01, 0x7D, 0x01, 0x02, 0x03, 0x00, 0x04, 0x11, 0x05, 0x12, 0x21, 0x31, 0x41, 0x06, 0x13, 0x51,
    0x61, 0x07, 0x22, 0x71, 0x14, 0x32, 0x81, 0x91, 0xA1, 0x08, 0x23, 0x42, 0xB1, 0xC1, 0x15, 0x52,
    0xD1, 0xF0, 0x24, 0x33, 0x62, 0x72, 0x82, 0x09, 0x0A, 0x16, 0x17, 0x18, 0x19, 0x1A, 0x25, 0x26,
    0x27, 0x28, 0x29, 0x2A, 0x34, 0x35, 0x36, 0x37, 0x38, 0x39, 0x3A, 0x43, 0x44, 0x45, 0x46, 0x47,
    0x48, 0x49, 0x4A, 0x53, 0x54, 0x55, 0x56, 0x57, 0x58, 0x59, 0x5A, 0x63, 0x64, 0x65, 0x66, 0x67,
    0x68, 0x69, 0x6A, 0x73, 0x74, 0x75, 0x76, 0x77, 0x78, 0x79, 0x7A, 0x83, 0x84, 0x85, 0x86, 0x87,
    0x88, 0x89, 0x8A, 0x92, 0x93, 0x94, 0x95, 0x96, 0x97, 0x98, 0x99, 0x9A, 0xA2, 0xA3, 0xA4, 0xA5,
    0xA6, 0xA7, 0xA8, 0xA9, 0xAA, 0xB2, 0xB3, 0xB4, 0xB5, 0xB6, 0xB7, 0xB8, 0xB9, 0xBA, 0xC2, 0xC3,
    0xC4, 0xC5, 0xC6, 0xC7, 0xC8, 0xC9, 0xCA, 0xD2, 0xD3, 0xD4, 0xD5, 0xD6, 0xD7, 0xD8, 0xD9, 0xDA,
    0xE1, 0xE2, 0xE3, 0xE4, 0xE5, 0xE6, 0xE7, 0xE8, 0xE9, 0xEA, 0xF1, 0xF2, 0xF3, 0xF4, 0xF5, 0xF6,
    0xF7, 0xF8, 0xF9, 0xFA, 0x01, 0x00, 0x03, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0A,
    0x0B, 0x11, 0x00, 0x02, 0x01, 0x02, 0x04, 0x04, 0x03, 0x04, 0x07, 0x05, 0x04, 0x04, 0x00, 0x01,
    0x02, 0x77, 0x00, 0x01, 0x02, 0x03, 0x11, 0x04, 0x05, 0x21, 0x31, 0x06, 0x12, 0x41, 0x51, 0x07,
    0x61, 0x71, 0x13, 0x22, 0x32, 0x81, 0x08, 0x14, 0x42, 0x91, 0xA1, 0xB1, 0xC1, 0x09, 0x23, 0x33,
    0x52, 0xF0, 0x15, 0x62, 0x72, 0xD1, 0x0A, 0x16, 0x24, 0x34, 0xE1, 0x25, 0xF1, 0x17, 0x18, 0x19,
    0x1A, 0x26, 0x27, 0x28, 0x29, 0x2A, 0x35, 0x36, 0x37, 0x38, 0x39, 0x3A, 0x43, 0x44, 0x45, 0x46,
    0x47, 0x48, 0x49, 0x4A, 0x53, 0x54, 0x55, 0x56, 0x57, 0x58, 0x59, 0x5A, 0x63, 0x64, 0x65, 0x66,
    0x67, 0x68, 0x69, 0x6A, 0x73, 0x74, 0x75, 0x76, 0x77, 0x78, 0x79, 0x7A, 0x82, 0x83, 0x84, 0x85,
    0x86, 0x87, 0x88, 0x89, 0x8A, 0x92, 0x93, 0x94, 0x95, 0x96, 0x97, 0x98, 0x99, 0x9A, 0xA2, 0xA3,
    0xA4, 0xA5, 0xA6, 0xA7, 0xA8, 0xA9, 0xAA, 0xB2, 0xB3, 0xB4, 0xB5, 0xB6, 0xB7, 0xB8, 0xB9, 0xBA,
    0xC2, 0xC3, 0xC4, 0xC5, 0xC6, 0xC7, 0xC8, 0xC9, 0xCA, 0xD2, 0xD3, 0xD4, 0xD5, 0xD6, 0xD7, 0xD8,
    0xD9, 0xDA, 0xE2, 0xE3, 0xE4, 0xE5, 0xE6, 0xE7, 0xE8, 0xE9, 0xEA, 0xF2, 0xF3, 0xF4, 0xF5, 0xF6,
    0xF7, 0xF8, 0xF9, 0xFA,
];

/// The stream with the standard Huffman tables defined right after SOI: what a fresh libjpeg
/// decodes when a sequential scan uses a table the file omits, independent of any earlier file.
fn with_standard_huffman_tables(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len() + STANDARD_HUFFMAN_DHT.len());
    out.extend_from_slice(&bytes[..2]);
    out.extend_from_slice(&STANDARD_HUFFMAN_DHT);
    out.extend_from_slice(&bytes[2..]);
    out
}

fn walk(bytes: &[u8]) -> Result<Walk, Failure> {
    let cut = |what: &str| {
        Failure::truncated(format!(
            "file ends {what} (no end-of-image marker): the JPEG is cut short"
        ))
    };
    if !bytes.starts_with(&[0xFF, 0xD8]) {
        return Err(Failure::corrupt(
            "does not start with a JPEG start-of-image marker",
        ));
    }
    let mut orientation = None;
    let mut seen_scan = false;
    let mut tables = Tables::default();
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
        let Some(&marker) = bytes.get(pos) else {
            return Err(cut("inside a marker"));
        };
        pos += 1;
        match marker {
            EOI if seen_scan => {
                return Ok(Walk {
                    orientation: orientation.unwrap_or(1),
                    needs_standard_huffman: tables.needs_standard_huffman,
                });
            }
            EOI => {
                return Err(Failure::corrupt(
                    "end-of-image marker before any image data",
                ));
            }
            0x00 | 0x01 | 0xD0..=0xD7 => continue,
            _ => {}
        }
        let Some(length) = bytes.get(pos..pos + 2) else {
            return Err(cut("inside a segment header"));
        };
        let length = u16::from_be_bytes([length[0], length[1]]) as usize;
        if length < 2 {
            return Err(Failure::corrupt(format!(
                "segment 0xFF{marker:02X} has an impossible length {length}"
            )));
        }
        let end = pos + length;
        if end > bytes.len() {
            return Err(cut("inside a segment"));
        }
        let payload = &bytes[pos + 2..end];
        match marker {
            APP1 if orientation.is_none() => orientation = exif::orientation_from_app1(payload),
            DQT => tables.define_quant(payload),
            DHT => tables.define_huffman(payload),
            0xC0..=0xCF if marker != DHT && marker != 0xC8 && marker != 0xCC => {
                tables.frame(marker, payload)
            }
            SOS => tables.scan(payload)?,
            _ => {}
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

/// The warnings libjpeg(-turbo) 3.1 can raise while decoding (JWRN_* in jerror.h). TurboJPEG's
/// `tj3GetErrorCode` says "warning" whenever a warning was raised during the call, even when a
/// fatal error stopped the decode afterwards: the picture is then partly or wholly undecoded (and
/// may hold bytes of libjpeg's uninitialised buffers). Its error string is the last message, the
/// fatal one, so a "warning" whose words are not a warning's is the fatal error it hides.
const LIBJPEG_WARNINGS: [&str; 7] = [
    "Unknown Adobe color transform code",
    "Corrupt JPEG data:",
    "Inconsistent progression sequence",
    "Warning: unknown JFIF revision number",
    "Premature end of JPEG file",
    "Invalid SOS parameters for sequential JPEG",
    "Application transferred too many scanlines",
];

fn is_warning(message: &str) -> bool {
    LIBJPEG_WARNINGS.iter().any(|w| message.contains(w))
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
            let (c, m, y, k) = (
                255 - p[0] as u32,
                255 - p[1] as u32,
                255 - p[2] as u32,
                255 - p[3] as u32,
            );
            let channel = |x: u32| 255u32.saturating_sub(x + k) as u8;
            luma(channel(c), channel(m), channel(y))
        })
        .collect();
    Gray::new(width as usize, height as usize, pixels)
}

pub fn decode(bytes: &[u8], limits: &Limits) -> DecodeResult {
    let structure = walk(bytes);
    let patched;
    let bytes = if structure.as_ref().is_ok_and(|w| w.needs_standard_huffman) {
        patched = with_standard_huffman_tables(bytes);
        &patched[..]
    } else {
        bytes
    };
    let header = match turbo::read_header(bytes) {
        Ok((h, None)) => h,
        // Junk between header segments: a warning Pillow also ignores, so the file stays readable.
        Ok((h, Some(m)))
            if is_warning(&m) && !m.contains("Premature end") && h.width > 0 && h.height > 0 =>
        {
            h
        }
        Ok((_, Some(m))) | Err(TurboError::Warning(m) | TurboError::Fatal(m)) => {
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
    let stored = Header {
        width: header.width,
        height: header.height,
        channels,
    };
    let fail = |failure: Failure| DecodeError {
        failure,
        header: Some(stored),
    };
    check_size(header.width as u64, header.height as u64, limits).map_err(fail)?;
    let orientation = structure.map_err(fail)?.orientation;

    let denom = scale_denominator(
        header.width,
        header.height,
        limits.min_decode_side,
        header.lossless,
    );
    // Decoded one DCT scale finer than the picture the scan measures, which is then its 2x2 box
    // average: the finer view serves `sharpness_fine`. Entropy decoding dominates, so the finer
    // IDCT adds ~6% to the decode (callgrind, 100 JPEGs: PIL's draft at 1/4 against 1/8), where
    // decoding the file a second time for the few that need the finer view cost as much again.
    let fine_denom = (denom / 2).max(1);
    // Only YCbCr files have chroma planes: an RGB JPEG (Adobe transform 0) stores R, G, B planes.
    let planar = !cmyk
        && !header.lossless
        && header.colorspace == raw::TJCS_TJCS_YCbCr
        && channels == 3
        && header.subsampling >= 0
        && header.subsampling != raw::TJSAMP_TJSAMP_GRAY;
    let gray_decode = || {
        // Gray files have no colour; CMYK (and layouts without planes) are not measured.
        let colorfulness = (channels == 1).then_some(crate::picture::color::Colour::default());
        turbo::decode(bytes, &header, fine_denom, cmyk)
            .map(|(px, w, h, warn)| (px, w, h, warn, colorfulness))
    };
    let decoded = if planar {
        let planes = turbo::decode_planes(bytes, &header, fine_denom).map(|p| {
            // Every other chroma row of the finer planes: the same moments as the coarser
            // planes up to the detail the finer scale adds, for half the samples.
            let step = if fine_denom < denom { 2 } else { 1 };
            let colorfulness = Some(crate::picture::color::colorfulness_ycc_rows(
                &p.chroma[0],
                &p.chroma[1],
                p.chroma_width,
                step,
            ));
            (p.luma, p.width, p.height, p.warning, colorfulness)
        });
        // A layout the planar path refuses still gets the gray decode, and the gray decode's
        // verdict: the colour measure never changes whether a file is readable.
        match planes {
            Err(TurboError::Fatal(_)) => gray_decode(),
            other => other,
        }
    } else {
        gray_decode()
    };
    let (pixels, width, height, warning, colorfulness) = match decoded {
        Ok(decoded) => decoded,
        Err(TurboError::Warning(m) | TurboError::Fatal(m)) => return Err(fail(header_failure(m))),
    };
    if let Some(message) = warning
        && (message.contains("Premature end") || !is_warning(&message))
    {
        return Err(fail(header_failure(message)));
    }
    let stored_picture = if cmyk {
        cmyk_to_gray(&pixels, width, height)
    } else {
        Gray::new(width as usize, height as usize, pixels)
    };
    // Reduced as stored, then both turned upright: the partial blocks stay where libjpeg's own
    // coarser decode has them (the stored right and bottom edges).
    let (picture, finer) = if fine_denom < denom {
        let coarse = stored_picture.halved();
        (coarse, Some(stored_picture.oriented(orientation)))
    } else {
        (stored_picture, None)
    };
    Ok(Decoded {
        header: stored,
        orientation,
        picture: picture.oriented(orientation),
        finer,
        colorfulness,
    })
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
            assert!(
                matches!(verdict, Err(ref f) if f.status == crate::decode::outcome::Status::Truncated),
                "cut {cut}: {verdict:?}"
            );
        }
    }

    #[test]
    fn not_a_jpeg() {
        assert!(walk_markers(b"").is_err());
        assert!(walk_markers(b"\x89PNG").is_err());
    }

    /// A real JPEG from libjpeg-turbo's own encoder (no committed binary). Baseline files use the
    /// standard Huffman tables (TurboJPEG does not optimise them by default); progressive ones
    /// carry their own, one DHT before each scan.
    fn encode(width: usize, height: usize, progressive: bool) -> Vec<u8> {
        let rgb: Vec<u8> = (0..width * height * 3)
            .map(|i| ((i * 7) ^ (i / 97)) as u8)
            .collect();
        unsafe {
            let h = raw::tj3Init(raw::TJINIT_TJINIT_COMPRESS as _);
            assert!(!h.is_null());
            raw::tj3Set(h, raw::TJPARAM_TJPARAM_QUALITY as _, 85);
            raw::tj3Set(
                h,
                raw::TJPARAM_TJPARAM_SUBSAMP as _,
                raw::TJSAMP_TJSAMP_420 as _,
            );
            raw::tj3Set(h, raw::TJPARAM_TJPARAM_PROGRESSIVE as _, progressive as _);
            let (mut buf, mut size) = (std::ptr::null_mut(), 0);
            let rc = raw::tj3Compress8(
                h,
                rgb.as_ptr(),
                width as _,
                0,
                height as _,
                raw::TJPF_TJPF_RGB as _,
                &mut buf,
                &mut size,
            );
            assert_eq!(rc, 0);
            let out = std::slice::from_raw_parts(buf, size as usize).to_vec();
            raw::tj3Free(buf.cast());
            raw::tj3Destroy(h);
            out
        }
    }

    /// Offsets of every segment with this marker (headers only: scans are skipped).
    fn segments(jpeg: &[u8], wanted: u8) -> Vec<usize> {
        let mut found = Vec::new();
        let mut pos = 2;
        while pos + 4 <= jpeg.len() && jpeg[pos] == 0xFF {
            let marker = jpeg[pos + 1];
            if marker == EOI {
                break;
            }
            if marker == wanted {
                found.push(pos);
            }
            let end = pos + 2 + u16::from_be_bytes([jpeg[pos + 2], jpeg[pos + 3]]) as usize;
            pos = if marker == SOS {
                skip_entropy_data(jpeg, end).unwrap()
            } else {
                end
            };
        }
        found
    }

    fn pixels(result: &DecodeResult) -> Option<Vec<u8>> {
        result.as_ref().ok().map(|d| d.picture.pixels.clone())
    }

    #[test]
    fn picture_is_the_finer_decode_averaged() {
        for progressive in [false, true] {
            // 400x300: the scan's picture is 1/4 scale (100x75), the finer view 1/2.
            let jpeg = encode(400, 300, progressive);
            let decoded = decode(&jpeg, &Limits::default()).unwrap();
            let finer = decoded.finer.as_ref().expect("a finer view");
            assert_eq!((finer.width, finer.height), (200, 150));
            assert_eq!(decoded.picture, finer.halved());
            // libjpeg's own 1/4-scale decode: the same picture up to rounding.
            let Ok((header, _)) = turbo::read_header(&jpeg) else {
                panic!("header")
            };
            let Ok((direct, w, h, _)) = turbo::decode(&jpeg, &header, 4, false) else {
                panic!("decode")
            };
            assert_eq!((w, h), (100, 75));
            let diffs: Vec<i32> = direct
                .iter()
                .zip(&decoded.picture.pixels)
                .map(|(&a, &b)| (a as i32 - b as i32).abs())
                .collect();
            let mean = diffs.iter().sum::<i32>() as f64 / diffs.len() as f64;
            let far = diffs.iter().filter(|&&d| d > 2).count();
            assert!(
                mean < 1.0 && far * 100 < diffs.len(),
                "mean {mean}, {far} over 2 levels"
            );
        }
        // Decoded at full size already: no finer view.
        let small = decode(&encode(100, 60, false), &Limits::default()).unwrap();
        assert!(small.finer.is_none());
        assert_eq!((small.picture.width, small.picture.height), (100, 60));
    }

    /// The fuzzer's first find (jpeg target: same bytes, two different pictures, both `ok`): a
    /// warning during the decode ("extraneous bytes") then a fatal error. TurboJPEG reports the
    /// pair as a *warning*, so the half-decoded picture was accepted as `ok`.
    #[test]
    fn fatal_error_after_a_warning_is_corrupt() {
        let valid = encode(96, 72, true);
        assert!(decode(&valid, &Limits::default()).is_ok());
        let sos = segments(&valid, SOS);
        assert!(sos.len() >= 3, "a progressive file has several scans");
        let mut bad = valid.clone();
        // The DHT before the second scan becomes over-full (two more 1-bit codes, two fewer of a
        // longer length: same size, so the walk sees a well-formed table): libjpeg's fatal
        // "Bogus Huffman table definition" when the scan starts.
        let dht = *segments(&bad, DHT).iter().rfind(|&&d| d < sos[1]).unwrap();
        let counts = dht + 5..dht + 21;
        let donor = counts.clone().skip(1).find(|&i| bad[i] >= 2).unwrap();
        bad[counts.start] += 2;
        bad[donor] -= 2;
        // Junk just before the marker that follows the first scan: libjpeg warns and skips it.
        let after_first_scan = skip_entropy_data(&bad, sos[0] + 4).unwrap();
        bad.splice(after_first_scan..after_first_scan, [0x11u8; 8]);
        assert!(
            walk_markers(&bad).is_ok(),
            "structurally complete: only libjpeg can tell"
        );
        // What TurboJPEG says: a "warning" whose words are the fatal error's.
        let (header, _) = turbo::read_header(&bad).ok().expect("header reads");
        let Ok((_, _, _, Some(message))) = turbo::decode(&bad, &header, 1, false) else {
            panic!("TurboJPEG no longer reports this as a warning; the test needs a new input")
        };
        assert!(message.contains("Bogus Huffman table"), "{message}");
        assert!(!is_warning(&message));
        let verdict = decode(&bad, &Limits::default()).unwrap_err();
        assert_eq!(
            verdict.failure.status,
            crate::decode::outcome::Status::Corrupt,
            "{:?}",
            verdict.failure
        );
        assert!(
            verdict.failure.message.contains("Bogus Huffman table"),
            "{}",
            verdict.failure.message
        );
        assert_eq!(verdict.header.map(|h| (h.width, h.height)), Some((96, 72)));
        // Only the extraneous bytes, no fatal error: a real warning, still ok as Pillow has it.
        let mut warned = valid.clone();
        warned.splice(after_first_scan..after_first_scan, [0x11u8; 8]);
        let (header, _) = turbo::read_header(&warned).ok().expect("header reads");
        let Ok((_, _, _, Some(message))) = turbo::decode(&warned, &header, 1, false) else {
            panic!("no warning")
        };
        assert!(
            is_warning(&message) && message.contains("extraneous bytes"),
            "{message}"
        );
        assert!(decode(&warned, &Limits::default()).is_ok());
    }

    /// The fuzzer's second find (jpeg target, same symptom): libjpeg keeps DQT/DHT tables in the
    /// thread's reused decompressor, so a stream that uses a table it never defines was decoded
    /// with the previous file's table: its verdict and pixels depended on the file before it.
    #[test]
    fn tables_of_a_previous_file_are_never_used() {
        let limits = Limits::default();
        let progressive = encode(96, 72, true);
        // A progressive scan whose AC table is missing: a fresh libjpeg stops ("Huffman table
        // 0x10 was not defined"); a reused one decoded it with the last file's table.
        let sos = segments(&progressive, SOS);
        let dht = *segments(&progressive, DHT)
            .iter()
            .rfind(|&&d| d < sos[1] && d > sos[0])
            .unwrap();
        let len = 2 + u16::from_be_bytes([progressive[dht + 2], progressive[dht + 3]]) as usize;
        let mut missing = progressive.clone();
        missing.drain(dht..dht + len);
        for before in [&progressive, &encode(64, 64, false)] {
            let _ = decode(before, &limits);
            let verdict = decode(&missing, &limits).unwrap_err();
            assert_eq!(
                verdict.failure.status,
                crate::decode::outcome::Status::Corrupt
            );
            assert!(
                verdict.failure.message.contains("AC Huffman table 0"),
                "{}",
                verdict.failure.message
            );
        }
        let mut no_quant = progressive.clone();
        for at in segments(&progressive, DQT).into_iter().rev() {
            let len = 2 + u16::from_be_bytes([no_quant[at + 2], no_quant[at + 3]]) as usize;
            no_quant.drain(at..at + len);
        }
        let _ = decode(&progressive, &limits);
        assert!(
            decode(&no_quant, &limits)
                .unwrap_err()
                .failure
                .message
                .contains("quantization table")
        );

        // A baseline stream without DHT (as Motion-JPEG frames are): libjpeg's standard tables,
        // whatever the thread decoded before. The encoder used exactly those, so the pixels match.
        let baseline = encode(80, 64, false);
        let expected = pixels(&decode(&baseline, &limits)).unwrap();
        let mut no_dht = baseline.clone();
        for at in segments(&baseline, DHT).into_iter().rev() {
            let len = 2 + u16::from_be_bytes([no_dht[at + 2], no_dht[at + 3]]) as usize;
            no_dht.drain(at..at + len);
        }
        assert!(segments(&no_dht, DHT).is_empty());
        assert_eq!(walk(&no_dht).map(|w| w.needs_standard_huffman), Ok(true));
        for before in [&progressive, &baseline, &encode(48, 40, true)] {
            let _ = decode(before, &limits);
            assert_eq!(pixels(&decode(&no_dht, &limits)).as_ref(), Some(&expected));
        }
    }

    /// The fuzzer's open finding: four junk bytes before the DQT marker of a good JPEG. Pillow
    /// opens it; libjpeg warns "extraneous bytes before marker" while reading the header, and the
    /// file used to be `corrupt`. Now it is `ok` with the same picture as the clean file.
    #[test]
    fn junk_between_header_segments_is_a_warning() {
        let limits = Limits::default();
        let valid = encode(96, 72, false);
        let dqt = segments(&valid, DQT)[0];
        let mut junk = valid.clone();
        junk.splice(dqt..dqt, [0x00u8, 0x11, 0x22, 0x33]);
        let (_, warning) = turbo::read_header(&junk).ok().expect("header reads");
        assert!(
            warning
                .as_deref()
                .is_some_and(|m| m.contains("extraneous bytes")),
            "{warning:?}"
        );
        let clean = pixels(&decode(&valid, &limits)).unwrap();
        assert_eq!(pixels(&decode(&junk, &limits)).as_ref(), Some(&clean));
        // The next file on this thread decodes as before (the handle was replaced).
        assert_eq!(pixels(&decode(&valid, &limits)).as_ref(), Some(&clean));
    }

    #[test]
    fn planar_luma_is_the_gray_decode() {
        // Odd sizes at every scale: luma planes padded to the 4:2:0 block, packed again.
        let jpeg = encode(397, 301, false);
        let Ok((header, _)) = turbo::read_header(&jpeg) else {
            panic!("header")
        };
        for denom in [1, 2, 4, 8] {
            let Ok(planes) = turbo::decode_planes(&jpeg, &header, denom) else {
                panic!("planes")
            };
            let Ok((gray, w, h, _)) = turbo::decode(&jpeg, &header, denom, false) else {
                panic!("gray")
            };
            assert_eq!((planes.width, planes.height), (w, h));
            assert!(planes.luma == gray, "1/{denom}");
        }
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
