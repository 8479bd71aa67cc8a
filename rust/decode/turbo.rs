//! A thin safe wrapper over libjpeg-turbo's TurboJPEG 3 API: header, scaled decode, and the
//! warning/fatal distinction that the high-level crates hide.

use std::cell::RefCell;
use std::ffi::{CStr, c_int};
use turbojpeg_sys as raw;

pub struct JpegHeader {
    pub width: u32,
    pub height: u32,
    pub colorspace: u32,
    pub lossless: bool,
    /// TurboJPEG's chroma subsampling code (`TJSAMP_*`); `TJSAMP_UNKNOWN` (-1) for layouts it
    /// cannot express as planes.
    pub subsampling: i32,
}

/// libjpeg's verdict on a decode.
pub enum TurboError {
    /// The decode finished but libjpeg complained (Pillow ignores these, and so do we, except
    /// "Premature end of JPEG file", which is truncation).
    Warning(String),
    Fatal(String),
}

struct Handle(raw::tjhandle);

impl Drop for Handle {
    fn drop(&mut self) {
        unsafe { raw::tj3Destroy(self.0) }
    }
}

thread_local! {
    // One handle per thread; dropped after any error because a handle that failed in some header
    // phases stays broken for every later file (measured, see shared/notes/jpeg-decoding.md).
    static HANDLE: RefCell<Option<Handle>> = const { RefCell::new(None) };
}

const PROGRESSIVE_SCAN_LIMIT: c_int = 500;

impl Handle {
    fn new() -> Option<Handle> {
        let ptr = unsafe { raw::tj3Init(raw::TJINIT_TJINIT_DECOMPRESS as c_int) };
        if ptr.is_null() {
            return None;
        }
        let handle = Handle(ptr);
        // Guards a crafted progressive file with thousands of scans (a CPU bomb).
        unsafe {
            raw::tj3Set(
                ptr,
                raw::TJPARAM_TJPARAM_SCANLIMIT as c_int,
                PROGRESSIVE_SCAN_LIMIT,
            )
        };
        Some(handle)
    }

    fn error(&self) -> TurboError {
        let message = unsafe { CStr::from_ptr(raw::tj3GetErrorStr(self.0)) }
            .to_string_lossy()
            .into_owned();
        let code = unsafe { raw::tj3GetErrorCode(self.0) };
        if code == raw::TJERR_TJERR_WARNING as c_int {
            TurboError::Warning(message)
        } else {
            TurboError::Fatal(message)
        }
    }

    fn get(&self, param: raw::TJPARAM) -> c_int {
        unsafe { raw::tj3Get(self.0, param as c_int) }
    }
}

/// Runs `f` with this thread's handle, creating it on demand and discarding it after an error.
fn with_handle<T>(f: impl FnOnce(&Handle) -> Result<T, TurboError>) -> Result<T, TurboError> {
    HANDLE.with(|cell| {
        let mut slot = cell.borrow_mut();
        if slot.is_none() {
            *slot = Handle::new();
        }
        let Some(handle) = slot.as_ref() else {
            return Err(TurboError::Fatal(
                "could not initialise the JPEG decoder".into(),
            ));
        };
        let result = f(handle);
        if result.is_err() {
            *slot = None;
        }
        result
    })
}

/// The frame header, and the warning libjpeg raised while reading it (e.g. "extraneous bytes
/// before marker", which Pillow ignores): the caller decides whether that warning is fatal. After
/// a warning the thread's handle is replaced, as after an error.
pub fn read_header(jpeg: &[u8]) -> Result<(JpegHeader, Option<String>), TurboError> {
    let result = with_handle(|h| {
        let warning =
            if unsafe { raw::tj3DecompressHeader(h.0, jpeg.as_ptr(), jpeg.len() as _) } != 0 {
                match h.error() {
                    TurboError::Warning(message) => Some(message),
                    fatal => return Err(fatal),
                }
            } else {
                None
            };
        let header = JpegHeader {
            width: h.get(raw::TJPARAM_TJPARAM_JPEGWIDTH).max(0) as u32,
            height: h.get(raw::TJPARAM_TJPARAM_JPEGHEIGHT).max(0) as u32,
            colorspace: h.get(raw::TJPARAM_TJPARAM_COLORSPACE).max(0) as u32,
            lossless: h.get(raw::TJPARAM_TJPARAM_LOSSLESS) != 0,
            subsampling: h.get(raw::TJPARAM_TJPARAM_SUBSAMP),
        };
        Ok((header, warning))
    });
    if matches!(result, Ok((_, Some(_)))) {
        HANDLE.with(|cell| *cell.borrow_mut() = None);
    }
    result
}

/// Scaled size as libjpeg computes it: ceil(dimension * num / denom).
pub fn scaled(dimension: u32, denom: u32) -> u32 {
    dimension.div_ceil(denom)
}

/// Decodes the whole stream at 1/`denom` scale (1, 2, 4 or 8) into gray (1 byte per pixel) or,
/// for CMYK files, CMYK (4 bytes). Returns the pixels and any warning libjpeg raised.
/// `header` is what `read_header` returned for these bytes.
pub fn decode(
    jpeg: &[u8],
    header: &JpegHeader,
    denom: u32,
    cmyk: bool,
) -> Result<(Vec<u8>, u32, u32, Option<String>), TurboError> {
    with_handle(|h| {
        let factor = raw::tjscalingfactor {
            num: 1,
            denom: denom as c_int,
        };
        if unsafe { raw::tj3SetScalingFactor(h.0, factor) } != 0 {
            return Err(h.error());
        }
        let (width, height) = (scaled(header.width, denom), scaled(header.height, denom));
        let (format, bytes_per_pixel) = if cmyk {
            (raw::TJPF_TJPF_CMYK, 4)
        } else {
            (raw::TJPF_TJPF_GRAY, 1)
        };
        let pitch = width as usize * bytes_per_pixel;
        let mut pixels = vec![0u8; pitch * height as usize];
        let status = unsafe {
            raw::tj3Decompress8(
                h.0,
                jpeg.as_ptr(),
                jpeg.len() as _,
                pixels.as_mut_ptr(),
                pitch as c_int,
                format,
            )
        };
        if status != 0 {
            return match h.error() {
                TurboError::Warning(message) => Ok((pixels, width, height, Some(message))),
                fatal => Err(fatal),
            };
        }
        Ok((pixels, width, height, None))
    })
}

/// A scaled decode into planes, as stored: luma at full (scaled) size, the two chroma planes at
/// their subsampled size. No colour conversion and no upsampling, so the luma plane holds exactly
/// the samples a gray decode gives, and the chroma costs only its small scaled IDCT.
pub struct Planes {
    pub width: u32,
    pub height: u32,
    /// Luma, `width` x `height`, rows packed.
    pub luma: Vec<u8>,
    /// Cb and Cr, each `chroma_width` x `chroma_height` (padding samples included).
    pub chroma: [Vec<u8>; 2],
    pub chroma_width: usize,
    pub warning: Option<String>,
}

/// Decodes a 3-component YCbCr JPEG at 1/`denom` scale into `Planes`. Callers use it only where
/// `header.subsampling` is known and not gray, and fall back to `decode` otherwise.
pub fn decode_planes(jpeg: &[u8], header: &JpegHeader, denom: u32) -> Result<Planes, TurboError> {
    with_handle(|h| {
        let factor = raw::tjscalingfactor {
            num: 1,
            denom: denom as c_int,
        };
        if unsafe { raw::tj3SetScalingFactor(h.0, factor) } != 0 {
            return Err(h.error());
        }
        let (width, height) = (scaled(header.width, denom), scaled(header.height, denom));
        let sub = header.subsampling;
        let size = |component: c_int| unsafe {
            let w = raw::tj3YUVPlaneWidth(component, width as c_int, sub).max(0) as usize;
            let hgt = raw::tj3YUVPlaneHeight(component, height as c_int, sub).max(0) as usize;
            (w, hgt)
        };
        let dims = [size(0), size(1), size(2)];
        if dims.iter().any(|&(w, hgt)| w == 0 || hgt == 0) {
            return Err(TurboError::Fatal(
                "unsupported chroma layout for a planar decode".into(),
            ));
        }
        let mut planes: Vec<Vec<u8>> = dims.iter().map(|&(w, hgt)| vec![0u8; w * hgt]).collect();
        let mut pointers: Vec<*mut u8> = planes.iter_mut().map(|p| p.as_mut_ptr()).collect();
        let mut strides: Vec<c_int> = dims.iter().map(|&(w, _)| w as c_int).collect();
        let status = unsafe {
            raw::tj3DecompressToYUVPlanes8(
                h.0,
                jpeg.as_ptr(),
                jpeg.len() as _,
                pointers.as_mut_ptr(),
                strides.as_mut_ptr(),
            )
        };
        let warning = if status != 0 {
            match h.error() {
                TurboError::Warning(message) => Some(message),
                fatal => return Err(fatal),
            }
        } else {
            None
        };
        let cr = planes.pop().unwrap_or_default();
        let cb = planes.pop().unwrap_or_default();
        let luma = planes.pop().unwrap_or_default();
        Ok(Planes {
            width,
            height,
            luma: unpadded(luma, width as usize, height as usize, dims[0].0),
            chroma: [cb, cr],
            chroma_width: dims[1].0,
            warning,
        })
    })
}

/// The picture's own `width` x `height` samples of a plane `stride` wide (padded to the
/// subsampling block), packed in place: no second buffer, and row-sized moves instead of one copy
/// of the whole plane.
fn unpadded(mut plane: Vec<u8>, width: usize, height: usize, stride: usize) -> Vec<u8> {
    if stride != width {
        for row in 1..height {
            plane.copy_within(row * stride..row * stride + width, row * width);
        }
    }
    plane.truncate(width * height);
    plane
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unpadded_keeps_the_pictures_own_samples() {
        // 3 x 2 samples in a plane 4 wide and 3 tall (padding marked 0).
        let plane = vec![1, 2, 3, 0, 4, 5, 6, 0, 0, 0, 0, 0];
        assert_eq!(unpadded(plane, 3, 2, 4), vec![1, 2, 3, 4, 5, 6]);
        assert_eq!(unpadded(vec![7, 8, 9, 0], 3, 1, 3), vec![7, 8, 9]);
    }
}
