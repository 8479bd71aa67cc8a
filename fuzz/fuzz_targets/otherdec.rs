#![no_main]
//! WebP, BMP and TIFF through the crate's decode entry. The format is the one the bytes announce;
//! bytes that announce none of the three go to the decoder picked by their length, so a mutated
//! magic number still exercises a decoder's error path.

use libfuzzer_sys::fuzz_target;
use _core::decode::decode;
use _core::decode::outcome::Limits;
use _core::decode::sniff::{sniff, Format};

mod common;

fuzz_target!(|data: &[u8]| {
    common::panic_policy();
    let format = match sniff(data) {
        f @ (Format::Webp | Format::Bmp | Format::Tiff) => f,
        _ => [Format::Webp, Format::Bmp, Format::Tiff][data.len() % 3],
    };
    let result = decode(data, format, &Limits::default());
    common::check_decoded(&result);
});
