#![no_main]
//! JPEG: the marker walk on its own, then the crate's decode entry (walk + libjpeg-turbo), twice,
//! to catch state leaking through the thread's reused TurboJPEG handle.

use libfuzzer_sys::fuzz_target;
use _core::decode::decode;
use _core::decode::jpeg::walk_markers;
use _core::decode::outcome::{Limits, Status};
use _core::decode::sniff::Format;

mod common;

fuzz_target!(|data: &[u8]| {
    common::panic_policy();
    if let Ok(orientation) = walk_markers(data) {
        assert!((1..=8).contains(&orientation));
    }
    let limits = Limits::default();
    let first = decode(data, Format::Jpeg, &limits);
    common::check_decoded(&first);
    if let Ok(d) = &first {
        // An ok JPEG passed the walk, so it has both markers.
        assert!(walk_markers(data).is_ok());
        let _ = d;
    }
    if first.as_ref().is_err_and(|e| e.failure.status == Status::Empty) {
        assert!(data.is_empty());
    }
    let second = decode(data, Format::Jpeg, &limits);
    assert_eq!(common::fingerprint(&first), common::fingerprint(&second), "same bytes, different verdict");
});
