#![no_main]
//! EXIF orientation: any blob gives 1-8, as a bare TIFF structure or as a JPEG APP1 payload.

use libfuzzer_sys::fuzz_target;
use _core::decode::exif::{orientation, orientation_from_app1};

fuzz_target!(|data: &[u8]| {
    let o = orientation(data);
    assert!((1..=8).contains(&o), "orientation {o}");
    if let Some(o) = orientation_from_app1(data) {
        assert!((1..=8).contains(&o));
        assert!(data.starts_with(b"Exif\0\0"));
        assert_eq!(o, orientation(&data[6..]));
    } else {
        assert!(!data.starts_with(b"Exif\0\0"));
    }
});
