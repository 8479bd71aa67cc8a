#![no_main]
//! Format sniffing and the extension check: total functions, consistent with the magic bytes.

use libfuzzer_sys::fuzz_target;
use _core::decode::sniff::{extension_mismatch, format_of_extension, sniff, Format};

fuzz_target!(|data: &[u8]| {
    let format = sniff(data);
    let expect_prefix: &[&[u8]] = match format {
        Format::Jpeg => &[b"\xFF\xD8\xFF"],
        Format::Png => &[b"\x89PNG\r\n\x1a\n"],
        Format::Gif => &[b"GIF87a", b"GIF89a"],
        Format::Webp => &[b"RIFF"],
        Format::Bmp => &[b"BM"],
        Format::Tiff => &[b"II*\0", b"MM\0*"],
        Format::Unknown => &[],
    };
    if format != Format::Unknown {
        assert!(expect_prefix.iter().any(|m| data.starts_with(m)), "{format:?} without its magic");
    }
    // Sniffing only looks at the front: extra bytes never change the verdict of a 16-byte prefix
    // that already decided it (BMP needs 14 bytes, WebP 12).
    if data.len() >= 16 {
        assert_eq!(sniff(&data[..16]), format);
    }
    // The same bytes read as a file name: the extension check never panics and agrees with itself.
    let name = String::from_utf8_lossy(data);
    let named = format_of_extension(&name);
    assert_eq!(extension_mismatch(&name, format), matches!(named, Some(n) if n != format));
    if let Some(ext) = name.rsplit_once('.').map(|(_, e)| e) {
        if ext.contains('/') {
            assert_eq!(named, None);
        }
    }
});
