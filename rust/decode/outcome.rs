//! What a decoder may conclude about a file: the status vocabulary of the scan.

use crate::picture::gray::Gray;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Ok,
    Empty,
    Truncated,
    Corrupt,
    Unsupported,
    Unreadable,
    TooLarge,
    /// Listed (by a manifest, or by name) but not there; or gone between the walk and the read.
    Missing,
}

impl Status {
    /// Every status, in the order the scan frame documents them (`recipe_audit.schema.STATUSES`).
    pub const ALL: [Status; 8] = [
        Status::Ok,
        Status::Empty,
        Status::Truncated,
        Status::Corrupt,
        Status::Unsupported,
        Status::Unreadable,
        Status::TooLarge,
        Status::Missing,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Empty => "empty",
            Status::Truncated => "truncated",
            Status::Corrupt => "corrupt",
            Status::Unsupported => "unsupported",
            Status::Unreadable => "unreadable",
            Status::TooLarge => "too_large",
            Status::Missing => "missing",
        }
    }
}

/// Why a file could not be decoded, in words a person understands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub status: Status,
    pub message: String,
}

impl Failure {
    pub fn new(status: Status, message: impl Into<String>) -> Self {
        Failure {
            status,
            message: message.into(),
        }
    }
    pub fn truncated(message: impl Into<String>) -> Self {
        Self::new(Status::Truncated, message)
    }
    pub fn corrupt(message: impl Into<String>) -> Self {
        Self::new(Status::Corrupt, message)
    }
}

/// Dimensions as stored in the file, known from the header before any pixel is decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    pub width: u32,
    pub height: u32,
    pub channels: u8,
}

/// A successful decode: the header facts and a gray picture, possibly at reduced scale, already
/// turned upright by the EXIF orientation.
#[derive(Debug, Clone)]
pub struct Decoded {
    pub header: Header,
    pub orientation: u16,
    pub picture: Gray,
    /// JPEGs only: the same picture one DCT scale finer (twice the width and height, rounded up),
    /// for `sharpness_fine`; `picture` is its 2x2 box average, taken before both were turned
    /// upright (so for an odd side and an EXIF turn, not `finer.halved()` of the turned view).
    /// None where `picture` is at full size, and for other formats, whose `picture` is the
    /// full-size decode the scan reduces itself.
    pub finer: Option<Gray>,
    /// Hasler-Süsstrunk colourfulness of the stored colours (0 for gray files); None where not
    /// measured (CMYK, RGB-stored and lossless JPEGs, GIF).
    pub colorfulness: Option<crate::picture::color::Colour>,
}

/// A failed decode still reports the header when it was readable (a truncated photo has a size).
#[derive(Debug, Clone)]
pub struct DecodeError {
    pub failure: Failure,
    pub header: Option<Header>,
}

impl From<Failure> for DecodeError {
    fn from(failure: Failure) -> Self {
        DecodeError {
            failure,
            header: None,
        }
    }
}

pub type DecodeResult = Result<Decoded, DecodeError>;

/// Options shared by every decoder.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Declared pixel counts above this are refused as `too_large` before any allocation.
    pub max_pixels: u64,
    /// JPEGs are seen at the smallest DCT scale whose shorter side still has this many pixels
    /// (decoded one scale finer and averaged 2x2: `Decoded::finer`).
    pub min_decode_side: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_pixels: 100_000_000,
            min_decode_side: 64,
        }
    }
}

/// Refuses declared dimensions over the pixel budget.
pub fn check_size(width: u64, height: u64, limits: &Limits) -> Result<(), Failure> {
    let pixels = width.saturating_mul(height);
    if width == 0 || height == 0 {
        return Err(Failure::corrupt(format!(
            "header declares an empty image ({width}x{height})"
        )));
    }
    if pixels > limits.max_pixels {
        return Err(Failure::new(
            Status::TooLarge,
            format!(
                "header declares {width}x{height} = {:.0} megapixels, over the limit of {:.0} (max_pixels)",
                pixels as f64 / 1e6,
                limits.max_pixels as f64 / 1e6
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_status_is_listed_once() {
        // A new variant must join ALL: this match stops compiling until it has an arm here.
        let position = |s: Status| match s {
            Status::Ok => 0,
            Status::Empty => 1,
            Status::Truncated => 2,
            Status::Corrupt => 3,
            Status::Unsupported => 4,
            Status::Unreadable => 5,
            Status::TooLarge => 6,
            Status::Missing => 7,
        };
        for (i, &status) in Status::ALL.iter().enumerate() {
            assert_eq!(position(status), i, "{}", status.name());
        }
    }
}
