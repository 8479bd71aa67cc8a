//! GIF: the first frame on its canvas for the picture, every later frame decoded too so damage
//! anywhere in the file is caught.

use super::outcome::{
    DecodeError, DecodeResult, Decoded, Failure, Header, Limits, Status, check_size,
};
use crate::picture::gray::{Gray, luma};
use std::io::Cursor;

fn failure(error: gif::DecodingError) -> Failure {
    let message = error.to_string();
    match error {
        gif::DecodingError::Io(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
            Failure::truncated("file ends early: the GIF is cut short")
        }
        _ if message.contains("memory limit") => {
            Failure::new(Status::TooLarge, format!("GIF frame too large: {message}"))
        }
        _ if message.to_ascii_lowercase().contains("eof")
            || message.to_ascii_lowercase().contains("end of") =>
        {
            Failure::truncated(format!("the GIF is cut short ({message})"))
        }
        _ => Failure::corrupt(format!("damaged GIF: {message}")),
    }
}

pub fn decode(bytes: &[u8], limits: &Limits) -> DecodeResult {
    let mut options = gif::DecodeOptions::new();
    options.set_color_output(gif::ColorOutput::RGBA);
    // A frame may claim more than the logical screen: cap what any one frame can allocate.
    let frame_budget = limits.max_pixels.saturating_mul(4).min(u32::MAX as u64);
    options.set_memory_limit(gif::MemoryLimit::Bytes(
        std::num::NonZeroU64::MIN.saturating_add(frame_budget),
    ));
    let mut decoder = options
        .read_info(Cursor::new(bytes))
        .map_err(|e| DecodeError::from(failure(e)))?;
    let (width, height) = (decoder.width() as usize, decoder.height() as usize);
    let stored = Header {
        width: width as u32,
        height: height as u32,
        channels: 3,
    };
    let fail = |failure: Failure| DecodeError {
        failure,
        header: Some(stored),
    };
    check_size(width as u64, height as u64, limits).map_err(fail)?;

    let mut canvas = vec![0u8; width * height];
    {
        let Some(frame) = decoder.read_next_frame().map_err(|e| fail(failure(e)))? else {
            return Err(fail(Failure::corrupt("GIF holds no image")));
        };
        let (left, top) = (frame.left as usize, frame.top as usize);
        for fy in 0..frame.height as usize {
            for fx in 0..frame.width as usize {
                let (x, y) = (left + fx, top + fy);
                if x < width && y < height {
                    let p = &frame.buffer[(fy * frame.width as usize + fx) * 4..][..4];
                    canvas[y * width + x] = luma(p[0], p[1], p[2]);
                }
            }
        }
    }
    while decoder
        .read_next_frame()
        .map_err(|e| fail(failure(e)))?
        .is_some()
    {}
    // GIF palettes are not measured for colour (animated canvases composite many frames).
    Ok(Decoded {
        header: stored,
        orientation: 1,
        picture: Gray::new(width, height, canvas),
        colorfulness: None,
        finer: None,
    })
}
