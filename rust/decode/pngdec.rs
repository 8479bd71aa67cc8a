//! PNG: a chunk walk that proves the file reaches IEND, then a full strict decode (CRCs checked,
//! driven to IEND) by the `png` crate.

use super::exif;
use super::outcome::{
    DecodeError, DecodeResult, Decoded, Failure, Header, Limits, Status, check_size,
};
use crate::picture::color::colorfulness_rgb_reduced;
use crate::picture::gray::{from_interleaved, reduction_factor};
use std::io::Cursor;

/// Follows chunk lengths from the signature to IEND without reading their data.
pub fn walk_chunks(bytes: &[u8]) -> Result<(), Failure> {
    let mut pos = 8;
    loop {
        let Some(head) = bytes.get(pos..pos + 8) else {
            return Err(Failure::truncated(
                "file ends before the IEND chunk: the PNG is cut short",
            ));
        };
        let length = u32::from_be_bytes([head[0], head[1], head[2], head[3]]) as usize;
        let end = pos.saturating_add(12).saturating_add(length);
        if end > bytes.len() {
            return Err(Failure::truncated(
                "file ends inside a chunk: the PNG is cut short",
            ));
        }
        if &head[4..8] == b"IEND" {
            return Ok(());
        }
        pos = end;
    }
}

fn failure(error: png::DecodingError) -> Failure {
    match error {
        png::DecodingError::IoError(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
            Failure::truncated("file ends early: the PNG is cut short")
        }
        png::DecodingError::LimitsExceeded => {
            Failure::new(Status::TooLarge, "PNG needs more memory than allowed")
        }
        other => Failure::corrupt(format!("damaged PNG: {other}")),
    }
}

pub fn decode(bytes: &[u8], limits: &Limits) -> DecodeResult {
    let structure = walk_chunks(bytes);
    let mut decoder = png::Decoder::new(Cursor::new(bytes));
    // Room for the largest image we accept, at 8 bytes per pixel (16-bit RGBA) before stripping.
    decoder.set_limits(png::Limits {
        bytes: (limits.max_pixels.saturating_mul(8)).min(usize::MAX as u64) as usize,
    });
    decoder.set_transformations(png::Transformations::EXPAND | png::Transformations::STRIP_16);
    // ICC profiles and text are never used, and both are zlib streams a tiny file can inflate to
    // hundreds of MB (an iCCP bomb): skip them instead of inflating them.
    decoder.set_ignore_iccp_chunk(true);
    decoder.set_ignore_text_chunk(true);
    let (width, height) = match decoder.read_header_info() {
        Ok(info) => (info.width, info.height),
        Err(e) => return Err(structure.err().unwrap_or_else(|| failure(e)).into()),
    };
    let mut stored = Header {
        width,
        height,
        channels: 0,
    };
    let fail = |failure: Failure, stored: Header| DecodeError {
        failure,
        header: Some(stored),
    };
    check_size(width as u64, height as u64, limits).map_err(|f| fail(f, stored))?;
    structure.map_err(|f| fail(f, stored))?;

    let mut reader = decoder.read_info().map_err(|e| fail(failure(e), stored))?;
    let (color, _) = reader.output_color_type();
    stored.channels = color.samples() as u8;
    let orientation = reader
        .info()
        .exif_metadata
        .as_deref()
        .map_or(1, exif::orientation);
    let size = reader.output_buffer_size().ok_or_else(|| {
        fail(
            Failure::new(Status::TooLarge, "PNG frame size overflows memory"),
            stored,
        )
    })?;
    let mut buffer = vec![0u8; size];
    let frame = reader
        .next_frame(&mut buffer)
        .map_err(|e| fail(failure(e), stored))?;
    // Reading on to IEND checks the CRC of every remaining chunk: a cut or damaged tail is caught.
    reader.finish().map_err(|e| fail(failure(e), stored))?;
    let samples = frame.color_type.samples();
    let picture = from_interleaved(
        frame.width as usize,
        frame.height as usize,
        samples,
        &buffer,
    );
    let (w, h) = (frame.width as usize, frame.height as usize);
    let factor = reduction_factor(w, h, limits.min_decode_side as usize);
    let colorfulness = if samples >= 3 {
        colorfulness_rgb_reduced(&buffer, samples, w, h, factor)
    } else {
        Default::default()
    };
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

    #[test]
    fn walk_needs_iend() {
        let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
        png.extend([0, 0, 0, 1]);
        png.extend(b"abcdX");
        png.extend([0; 4]);
        png.extend([0, 0, 0, 0]);
        png.extend(b"IEND");
        png.extend([0; 4]);
        assert!(walk_chunks(&png).is_ok());
        for cut in 8..png.len() {
            assert_eq!(
                walk_chunks(&png[..cut]).unwrap_err().status,
                Status::Truncated
            );
        }
    }
}
