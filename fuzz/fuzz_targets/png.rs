#![no_main]
//! Png: the crate's decode entry with the crate's default Limits, format forced.

use libfuzzer_sys::fuzz_target;
use _core::decode::decode;
use _core::decode::outcome::Limits;
use _core::decode::sniff::Format;

mod common;

fuzz_target!(|data: &[u8]| {
    common::panic_policy();
    let result = decode(data, Format::Png, &Limits::default());
    common::check_decoded(&result);
});
