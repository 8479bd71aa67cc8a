//! The one EXIF field the scan needs: orientation (tag 0x0112 in IFD0), read defensively.

/// Orientation from a TIFF-structured EXIF blob (the bytes after `Exif\0\0`), 1 when absent or
/// malformed: a broken EXIF block never makes an image unreadable.
pub fn orientation(tiff: &[u8]) -> u16 {
    read_orientation(tiff)
        .filter(|o| (1..=8).contains(o))
        .unwrap_or(1)
}

fn read_orientation(tiff: &[u8]) -> Option<u16> {
    let big_endian = match tiff.get(..4)? {
        [b'I', b'I', 42, 0] => false,
        [b'M', b'M', 0, 42] => true,
        _ => return None,
    };
    let u16_at = |at: usize| -> Option<u16> {
        let b = tiff.get(at..at + 2)?;
        Some(if big_endian {
            u16::from_be_bytes([b[0], b[1]])
        } else {
            u16::from_le_bytes([b[0], b[1]])
        })
    };
    let u32_at = |at: usize| -> Option<u32> {
        let b = tiff.get(at..at + 4)?;
        let a = [b[0], b[1], b[2], b[3]];
        Some(if big_endian {
            u32::from_be_bytes(a)
        } else {
            u32::from_le_bytes(a)
        })
    };
    let ifd = u32_at(4)? as usize;
    let entries = u16_at(ifd)? as usize;
    // IFD0 of a real file has a few dozen entries; a huge count is garbage, bounded by the blob anyway.
    for i in 0..entries.min(512) {
        let entry = ifd.checked_add(2 + 12 * i)?;
        if u16_at(entry)? == 0x0112 {
            // Type SHORT, count 1: the value sits in the first two bytes of the value field.
            return u16_at(entry + 8);
        }
    }
    None
}

/// Orientation from a JPEG APP1 segment's payload, when it is an EXIF segment.
pub fn orientation_from_app1(payload: &[u8]) -> Option<u16> {
    payload.strip_prefix(b"Exif\0\0").map(orientation)
}

#[cfg(test)]
pub(crate) fn tiff_with_orientation(value: u16, big_endian: bool) -> Vec<u8> {
    let mut v: Vec<u8> = Vec::new();
    let p16 = |v: &mut Vec<u8>, x: u16| {
        v.extend(if big_endian {
            x.to_be_bytes()
        } else {
            x.to_le_bytes()
        })
    };
    let p32 = |v: &mut Vec<u8>, x: u32| {
        v.extend(if big_endian {
            x.to_be_bytes()
        } else {
            x.to_le_bytes()
        })
    };
    v.extend(if big_endian { *b"MM\0*" } else { *b"II*\0" });
    p32(&mut v, 8);
    p16(&mut v, 2);
    // A first unrelated entry (ImageWidth), then Orientation.
    p16(&mut v, 0x0100);
    p16(&mut v, 3);
    p32(&mut v, 1);
    p16(&mut v, 640);
    p16(&mut v, 0);
    p16(&mut v, 0x0112);
    p16(&mut v, 3);
    p32(&mut v, 1);
    p16(&mut v, value);
    p16(&mut v, 0);
    p32(&mut v, 0);
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_both_byte_orders() {
        assert_eq!(orientation(&tiff_with_orientation(6, false)), 6);
        assert_eq!(orientation(&tiff_with_orientation(8, true)), 8);
    }

    #[test]
    fn garbage_means_upright() {
        assert_eq!(orientation(b""), 1);
        assert_eq!(orientation(b"II*\0\xff\xff\xff\xff"), 1);
        assert_eq!(orientation(&tiff_with_orientation(77, false)), 1);
        let full = tiff_with_orientation(6, false);
        for cut in 0..full.len() {
            let o = orientation(&full[..cut]);
            assert!((1..=8).contains(&o));
        }
    }
}
