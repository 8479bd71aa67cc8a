#![no_main]
//! The whole per-file function, bytes to one row (`scan::analyze`): sniffing, decoding, hashing,
//! stats. The row must keep the documented promises of the scan frame.

use libfuzzer_sys::fuzz_target;
use _core::decode::outcome::{Limits, Status};
use _core::scan::analyze;
use _core::decode::sniff::{sniff, Format};

mod common;

const NAMES: [&str; 8] = ["a.jpg", "b.png", "c.gif", "d.webp", "e.bmp", "f.tiff", "g.txt", "noext"];

fuzz_target!(|data: &[u8]| {
    common::panic_policy();
    let name = NAMES[data.len() % NAMES.len()];
    let row = analyze(name, data, &Limits::default());
    assert!(common::STATUSES.contains(&row.status.name()));
    assert_ne!(row.status, Status::Unreadable, "bytes in hand are never unreadable");
    assert_eq!(row.bytes, data.len() as u64);
    assert_eq!(row.format, sniff(data));
    assert_eq!(row.status == Status::Empty, data.is_empty());
    let hash = row.content_hash.as_deref().expect("content hash always present");
    assert!(hash.len() == 32 && hash.bytes().all(|b| b.is_ascii_hexdigit()));
    if row.format == Format::Unknown && !data.is_empty() {
        assert_eq!(row.status, Status::Unsupported);
    }
    if row.status == Status::Ok {
        assert!(row.error.is_none(), "ok with an error {:?}", row.error);
        let h = row.header.expect("ok row without a header");
        assert!(h.width > 0 && h.height > 0);
        assert!(row.aspect().is_some_and(|a| a.is_finite() && a > 0.0));
        assert!(row.hashes.is_some());
        let s = row.stats.expect("ok row without stats");
        for (what, v, lo, hi) in [
            ("mean", s.mean, 0.0, 255.0),
            ("std", s.std, 0.0, 128.0),
            ("dark_frac", s.dark_frac, 0.0, 1.0),
            ("bright_frac", s.bright_frac, 0.0, 1.0),
            ("entropy", s.entropy, 0.0, 8.0 + 1e-9),
        ] {
            assert!(v.is_finite() && v >= lo - 1e-9 && v <= hi + 1e-9, "{what} = {v}");
        }
        assert!(s.blur.is_finite() && s.blur >= 0.0, "blur = {}", s.blur);
    } else {
        let error = row.error.as_deref().expect("a failed row without an error");
        assert!(!error.trim().is_empty(), "a failed row with an empty error");
        assert!(row.hashes.is_none() && row.stats.is_none());
    }
});
