//! WebP, BMP and TIFF through the `image` crate, with its header-first limits.

use super::exif;
use super::outcome::{
    DecodeError, DecodeResult, Decoded, Failure, Header, Limits, Status, check_size,
};
use super::sniff::Format;
use crate::picture::color::{Colour, colorfulness_rgb_reduced};
use crate::picture::gray::{Gray, from_interleaved, reduction_factor};
use image::{DynamicImage, ImageDecoder, ImageError, ImageFormat, ImageReader};
use std::io::Cursor;

fn failure(error: ImageError, format: &str) -> Failure {
    match error {
        ImageError::IoError(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
            Failure::truncated(format!("file ends early: the {format} is cut short"))
        }
        ImageError::Limits(e) => Failure::new(
            Status::TooLarge,
            format!("{format} needs more memory than allowed: {e}"),
        ),
        ImageError::Unsupported(e) => Failure::new(
            Status::Unsupported,
            format!("{format} variant not supported: {e}"),
        ),
        other => {
            let message = other.to_string();
            let lower = message.to_ascii_lowercase();
            if lower.contains("eof")
                || lower.contains("end of file")
                || lower.contains("unexpected end")
            {
                Failure::truncated(format!("the {format} is cut short ({message})"))
            } else {
                Failure::corrupt(format!("damaged {format}: {message}"))
            }
        }
    }
}

/// The gray picture and the colour of the stored colours (all 0 for gray images), measured on
/// the grid the picture will be reduced to for a shorter side of `min_side`.
fn to_gray(image: DynamicImage, min_side: usize) -> (Gray, Colour) {
    let (w, h) = (image.width() as usize, image.height() as usize);
    let factor = reduction_factor(w, h, min_side);
    let colour = |channels: usize, raw: Vec<u8>| {
        (
            from_interleaved(w, h, channels, &raw),
            colorfulness_rgb_reduced(&raw, channels, w, h, factor),
        )
    };
    match image {
        DynamicImage::ImageLuma8(buf) => (Gray::new(w, h, buf.into_raw()), Colour::default()),
        DynamicImage::ImageLumaA8(buf) => (
            from_interleaved(w, h, 2, &buf.into_raw()),
            Colour::default(),
        ),
        DynamicImage::ImageRgb8(buf) => colour(3, buf.into_raw()),
        DynamicImage::ImageRgba8(buf) => colour(4, buf.into_raw()),
        other if other.color().has_color() => colour(3, other.to_rgb8().into_raw()),
        other => (
            from_interleaved(w, h, 3, &other.to_rgb8().into_raw()),
            Colour::default(),
        ),
    }
}

/// A RIFF container shorter than its declared size is cut, even when the picture still decodes
/// (the missing tail may be a padding byte or metadata).
fn check_riff_length(bytes: &[u8]) -> Result<(), Failure> {
    let declared = bytes
        .get(4..8)
        .map_or(0, |b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize);
    if declared.saturating_add(8) > bytes.len() {
        return Err(Failure::truncated(format!(
            "file ends early: the WebP declares {} bytes but has {}",
            declared.saturating_add(8),
            bytes.len()
        )));
    }
    Ok(())
}

/// The EXIF orientation of an extended WebP (VP8X first), read from the file's own chunk walk.
/// `image-webp` 0.2.4 allocates an EXIF chunk at its declared size (up to 4 GiB) before reading
/// it, without checking that the file holds that many bytes, so `ImageDecoder::orientation` is
/// never asked for WebP: a 744-byte file made it request 4 GB (found by fuzzing).
fn webp_orientation(bytes: &[u8]) -> u16 {
    if bytes.get(12..16) != Some(b"VP8X") {
        return 1;
    }
    let mut pos = 12usize;
    while let Some(head) = bytes.get(pos..pos + 8) {
        let size = u32::from_le_bytes([head[4], head[5], head[6], head[7]]) as usize;
        let start = pos + 8;
        let Some(payload) = start
            .checked_add(size)
            .and_then(|end| bytes.get(start..end))
        else {
            return 1;
        };
        if &head[..4] == b"EXIF" {
            // Some writers keep the JPEG APP1 prefix in the chunk.
            return exif::orientation(payload.strip_prefix(b"Exif\0\0").unwrap_or(payload));
        }
        // Chunks are padded to an even size.
        pos = start + size + (size & 1);
    }
    1
}

pub fn decode(bytes: &[u8], format: Format, limits: &Limits) -> DecodeResult {
    let structure = if format == Format::Webp {
        check_riff_length(bytes)
    } else {
        Ok(())
    };
    let (image_format, name) = match format {
        Format::Webp => (ImageFormat::WebP, "WebP"),
        Format::Bmp => (ImageFormat::Bmp, "BMP"),
        _ => (ImageFormat::Tiff, "TIFF"),
    };
    let mut reader = ImageReader::with_format(Cursor::new(bytes), image_format);
    let mut image_limits = image::Limits::default();
    image_limits.max_alloc = Some(limits.max_pixels.saturating_mul(8));
    reader.limits(image_limits);
    let mut decoder = reader
        .into_decoder()
        .map_err(|e| DecodeError::from(failure(e, name)))?;
    let (width, height) = decoder.dimensions();
    let stored = Header {
        width,
        height,
        channels: decoder.color_type().channel_count(),
    };
    let fail = |failure: Failure| DecodeError {
        failure,
        header: Some(stored),
    };
    check_size(width as u64, height as u64, limits).map_err(fail)?;
    structure.map_err(fail)?;
    let orientation = if format == Format::Webp {
        webp_orientation(bytes)
    } else {
        decoder
            .orientation()
            .map(|o| o.to_exif() as u16)
            .unwrap_or(1)
    };
    let image = DynamicImage::from_decoder(decoder).map_err(|e| fail(failure(e, name)))?;
    let (picture, colorfulness) = to_gray(image, limits.min_decode_side as usize);
    Ok(Decoded {
        header: stored,
        orientation,
        picture: picture.oriented(orientation),
        colorfulness: Some(colorfulness),
        finer: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunk(fourcc: &[u8; 4], payload: &[u8]) -> Vec<u8> {
        let mut v = fourcc.to_vec();
        v.extend((payload.len() as u32).to_le_bytes());
        v.extend(payload);
        if payload.len() % 2 == 1 {
            v.push(0);
        }
        v
    }

    /// An extended WebP (VP8X + VP8L + EXIF with the given orientation) around a real lossless
    /// 6x4 picture from `image`'s own encoder.
    fn webp_with_exif(orientation: u16) -> Vec<u8> {
        let (w, h) = (6u32, 4u32);
        let rgb: Vec<u8> = (0..w * h * 3).map(|i| (i * 37 % 251) as u8).collect();
        let mut simple = Vec::new();
        image::codecs::webp::WebPEncoder::new_lossless(&mut simple)
            .encode(&rgb, w, h, image::ExtendedColorType::Rgb8)
            .unwrap();
        assert_eq!(&simple[12..16], b"VP8L");
        let vp8l = &simple[12..];
        let mut flags = vec![0x08, 0, 0, 0];
        flags.extend(&(w - 1).to_le_bytes()[..3]);
        flags.extend(&(h - 1).to_le_bytes()[..3]);
        let body = [
            chunk(b"VP8X", &flags),
            vp8l.to_vec(),
            chunk(b"EXIF", &exif::tiff_with_orientation(orientation, false)),
        ]
        .concat();
        let mut file = b"RIFF".to_vec();
        file.extend(((body.len() + 4) as u32).to_le_bytes());
        file.extend(b"WEBP");
        file.extend(body);
        file
    }

    #[test]
    fn webp_orientation_from_exif_chunk() {
        let file = webp_with_exif(6);
        assert_eq!(webp_orientation(&file), 6);
        let decoded = decode(&file, Format::Webp, &Limits::default()).unwrap();
        assert_eq!(decoded.orientation, 6);
        assert_eq!((decoded.picture.width, decoded.picture.height), (4, 6));
    }

    /// The fuzzer's find (pipeline target, OOM: malloc(4042080794) in image-webp's read_chunk):
    /// an EXIF chunk declaring ~4 GB in a file of a few hundred bytes. The orientation walk gives
    /// upright at once; the decode stays `ok` and no longer hands the chunk to image-webp.
    #[test]
    fn webp_exif_chunk_larger_than_file() {
        let mut file = webp_with_exif(3);
        let at = file.windows(4).rposition(|w| w == b"EXIF").unwrap();
        file[at + 4..at + 8].copy_from_slice(&0xF0E0_D0C0u32.to_le_bytes());
        assert_eq!(webp_orientation(&file), 1);
        let decoded = decode(&file, Format::Webp, &Limits::default()).unwrap();
        assert_eq!(decoded.orientation, 1);
        // Every cut inside the EXIF chunk's header or payload: upright, never a panic.
        for cut in at..file.len() {
            assert_eq!(webp_orientation(&file[..cut]), 1);
        }
    }
}
