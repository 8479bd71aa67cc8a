//! From bytes to a verdict and a gray picture, whatever the format: [`decode`] is the one entry
//! point; `sniff` says which decoder, `outcome` is what any of them may conclude.

pub mod exif;
pub mod gifdec;
pub mod jpeg;
pub mod otherdec;
pub mod outcome;
pub mod pngdec;
pub mod sniff;
pub mod turbo;

use outcome::{DecodeError, DecodeResult, Failure, Limits, Status};
use sniff::Format;
use std::panic::{AssertUnwindSafe, catch_unwind};

/// The picture and header of `bytes` read as `format`, or why not; a decoder panic on
/// hostile bytes is caught and becomes a `corrupt` verdict.
pub fn decode(bytes: &[u8], format: Format, limits: &Limits) -> DecodeResult {
    if bytes.is_empty() {
        return Err(Failure::new(Status::Empty, "file is empty (0 bytes)").into());
    }
    // A decoder panic on hostile bytes is a verdict on the file, never the end of the scan.
    let attempt = catch_unwind(AssertUnwindSafe(|| match format {
        Format::Jpeg => jpeg::decode(bytes, limits),
        Format::Png => pngdec::decode(bytes, limits),
        Format::Gif => gifdec::decode(bytes, limits),
        Format::Webp | Format::Bmp | Format::Tiff => otherdec::decode(bytes, format, limits),
        Format::Unknown => Err(DecodeError::from(Failure::new(
            Status::Unsupported,
            "not a recognised image format (unknown leading bytes)",
        ))),
    }));
    attempt.unwrap_or_else(|panic| {
        let detail = panic
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_default();
        Err(Failure::corrupt(format!(
            "the {} decoder failed on these bytes ({detail})",
            format.name()
        ))
        .into())
    })
}
