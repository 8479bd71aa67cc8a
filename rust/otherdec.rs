//! WebP, BMP and TIFF through the `image` crate, with its header-first limits.

use crate::gray::{from_interleaved, Gray};
use crate::outcome::{check_size, DecodeError, DecodeResult, Decoded, Failure, Header, Limits, Status};
use crate::sniff::Format;
use image::{DynamicImage, ImageDecoder, ImageError, ImageFormat, ImageReader};
use std::io::Cursor;

fn failure(error: ImageError, format: &str) -> Failure {
    match error {
        ImageError::IoError(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
            Failure::truncated(format!("file ends early: the {format} is cut short"))
        }
        ImageError::Limits(e) => Failure::new(Status::TooLarge, format!("{format} needs more memory than allowed: {e}")),
        ImageError::Unsupported(e) => Failure::new(Status::Unsupported, format!("{format} variant not supported: {e}")),
        other => {
            let message = other.to_string();
            let lower = message.to_ascii_lowercase();
            if lower.contains("eof") || lower.contains("end of file") || lower.contains("unexpected end") {
                Failure::truncated(format!("the {format} is cut short ({message})"))
            } else {
                Failure::corrupt(format!("damaged {format}: {message}"))
            }
        }
    }
}

fn to_gray(image: DynamicImage) -> Gray {
    let (w, h) = (image.width() as usize, image.height() as usize);
    match image {
        DynamicImage::ImageLuma8(buf) => Gray::new(w, h, buf.into_raw()),
        DynamicImage::ImageLumaA8(buf) => from_interleaved(w, h, 2, &buf.into_raw()),
        DynamicImage::ImageRgb8(buf) => from_interleaved(w, h, 3, &buf.into_raw()),
        DynamicImage::ImageRgba8(buf) => from_interleaved(w, h, 4, &buf.into_raw()),
        other => from_interleaved(w, h, 3, &other.to_rgb8().into_raw()),
    }
}

/// A RIFF container shorter than its declared size is cut, even when the picture still decodes
/// (the missing tail may be a padding byte or metadata).
fn check_riff_length(bytes: &[u8]) -> Result<(), Failure> {
    let declared = bytes.get(4..8).map_or(0, |b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize);
    if declared.saturating_add(8) > bytes.len() {
        return Err(Failure::truncated(format!(
            "file ends early: the WebP declares {} bytes but has {}",
            declared.saturating_add(8),
            bytes.len()
        )));
    }
    Ok(())
}

pub fn decode(bytes: &[u8], format: Format, limits: &Limits) -> DecodeResult {
    let structure = if format == Format::Webp { check_riff_length(bytes) } else { Ok(()) };
    let (image_format, name) = match format {
        Format::Webp => (ImageFormat::WebP, "WebP"),
        Format::Bmp => (ImageFormat::Bmp, "BMP"),
        _ => (ImageFormat::Tiff, "TIFF"),
    };
    let mut reader = ImageReader::with_format(Cursor::new(bytes), image_format);
    let mut image_limits = image::Limits::default();
    image_limits.max_alloc = Some(limits.max_pixels.saturating_mul(8));
    reader.limits(image_limits);
    let mut decoder = reader.into_decoder().map_err(|e| DecodeError::from(failure(e, name)))?;
    let (width, height) = decoder.dimensions();
    let stored = Header { width, height, channels: decoder.color_type().channel_count() };
    let fail = |failure: Failure| DecodeError { failure, header: Some(stored) };
    check_size(width as u64, height as u64, limits).map_err(fail)?;
    structure.map_err(fail)?;
    let orientation = decoder.orientation().map(|o| o.to_exif() as u16).unwrap_or(1);
    let image = DynamicImage::from_decoder(decoder).map_err(|e| fail(failure(e, name)))?;
    Ok(Decoded { header: stored, orientation, picture: to_gray(image).oriented(orientation) })
}
