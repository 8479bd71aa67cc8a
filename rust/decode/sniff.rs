//! Format detection from magic bytes, and the format an extension names.

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    Jpeg,
    Png,
    Gif,
    Webp,
    Bmp,
    Tiff,
    Unknown,
}

impl Format {
    pub fn name(self) -> &'static str {
        match self {
            Format::Jpeg => "jpeg",
            Format::Png => "png",
            Format::Gif => "gif",
            Format::Webp => "webp",
            Format::Bmp => "bmp",
            Format::Tiff => "tiff",
            Format::Unknown => "unknown",
        }
    }
}

/// The format the leading bytes announce; the extension plays no part.
pub fn sniff(bytes: &[u8]) -> Format {
    let starts = |magic: &[u8]| bytes.starts_with(magic);
    if starts(&[0xFF, 0xD8, 0xFF]) {
        Format::Jpeg
    } else if starts(b"\x89PNG\r\n\x1a\n") {
        Format::Png
    } else if starts(b"GIF87a") || starts(b"GIF89a") {
        Format::Gif
    } else if bytes.len() >= 12 && &bytes[..4] == b"RIFF" && &bytes[8..12] == b"WEBP" {
        Format::Webp
    } else if starts(b"BM") && bytes.len() >= 14 {
        Format::Bmp
    } else if starts(b"II*\0") || starts(b"MM\0*") {
        Format::Tiff
    } else {
        Format::Unknown
    }
}

/// The image format a file name's extension names, if it names one.
pub fn format_of_extension(name: &str) -> Option<Format> {
    let ext = name.rsplit_once('.')?.1;
    if ext.contains('/') {
        return None;
    }
    match ext.to_ascii_lowercase().as_str() {
        "jpg" | "jpeg" | "jpe" | "jfif" => Some(Format::Jpeg),
        "png" | "apng" => Some(Format::Png),
        "gif" => Some(Format::Gif),
        "webp" => Some(Format::Webp),
        "bmp" | "dib" => Some(Format::Bmp),
        "tif" | "tiff" => Some(Format::Tiff),
        _ => None,
    }
}

/// True when the extension names an image format other than the one the bytes hold.
pub fn extension_mismatch(name: &str, actual: Format) -> bool {
    matches!(format_of_extension(name), Some(named) if named != actual)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sniffs_magic_bytes() {
        assert_eq!(sniff(&[0xFF, 0xD8, 0xFF, 0xE0]), Format::Jpeg);
        assert_eq!(sniff(b"\x89PNG\r\n\x1a\n...."), Format::Png);
        assert_eq!(sniff(b"GIF89a..."), Format::Gif);
        assert_eq!(sniff(b"RIFF\0\0\0\0WEBPVP8 "), Format::Webp);
        assert_eq!(sniff(b"II*\0...."), Format::Tiff);
        assert_eq!(sniff(b"BM\0\0\0\0\0\0\0\0\0\0\0\0\0\0"), Format::Bmp);
        assert_eq!(sniff(b""), Format::Unknown);
        assert_eq!(sniff(b"hello world"), Format::Unknown);
    }

    #[test]
    fn extension_names_format() {
        assert_eq!(format_of_extension("a/b.JPG"), Some(Format::Jpeg));
        assert_eq!(format_of_extension("a.b/c"), None);
        assert_eq!(format_of_extension("noext"), None);
        assert!(extension_mismatch("x.jpg", Format::Png));
        assert!(!extension_mismatch("x.jpeg", Format::Jpeg));
        assert!(!extension_mismatch("x.txt", Format::Png));
        assert!(extension_mismatch("x.png", Format::Unknown));
    }
}
