//! Reads only the DCT coefficients of every JPEG of a folder (no IDCT, no colour conversion), one
//! thread, so that `valgrind --tool=callgrind` counts what the cheapest libjpeg-turbo route to a
//! file's content costs: `tj3Transform` with no output and a custom filter that sums each luma
//! block row's DC coefficients. Compared with PIL's draft decode of the same files in
//! BENCHMARKS.md ("Instructions per JPEG: reading the coefficients alone").
//!
//! ```text
//! cargo build --release --example coefficient_instructions
//! valgrind --tool=callgrind target/release/examples/coefficient_instructions DIR
//! ```

use std::ffi::{c_int, c_short, c_void};
use turbojpeg_sys as raw;

/// What the filter gathers: per luma block row, the sum of its blocks' DC coefficients.
#[derive(Default)]
struct DcSums(Vec<i64>);

/// libjpeg-turbo's custom filter: called once per block row of each component.
unsafe extern "C" fn sum_luma_dc(
    coefficients: *mut c_short,
    array: raw::tjregion,
    _plane: raw::tjregion,
    component: c_int,
    _transform_id: c_int,
    transform: *mut raw::tjtransform,
) -> c_int {
    if component != 0 {
        return 0;
    }
    // SAFETY: `data` is the `DcSums` that `read_coefficients` passed, alive for the whole call;
    // `coefficients` holds `array.w / 8` blocks of 64 coefficients (turbojpeg.h).
    let (sums, row) = unsafe {
        let blocks = (array.w / 8).max(0) as usize;
        (
            &mut *((*transform).data as *mut DcSums),
            std::slice::from_raw_parts(coefficients, blocks * 64),
        )
    };
    sums.0
        .push(row.chunks_exact(64).map(|block| block[0] as i64).sum());
    0
}

/// The DC sums of one JPEG's luma block rows, or None when libjpeg refuses it.
fn read_coefficients(handle: raw::tjhandle, jpeg: &[u8]) -> Option<DcSums> {
    let mut sums = DcSums::default();
    // SAFETY: a zeroed `tjtransform` is a valid "no operation"; the fields set below are the
    // documented ones, and `sums` outlives the call.
    let status = unsafe {
        let mut transform: raw::tjtransform = std::mem::zeroed();
        transform.op = raw::TJXOP_TJXOP_NONE as c_int;
        transform.options = (raw::TJXOPT_NOOUTPUT | raw::TJXOPT_COPYNONE) as c_int;
        transform.data = &mut sums as *mut DcSums as *mut c_void;
        transform.customFilter = Some(sum_luma_dc);
        let mut output: *mut u8 = std::ptr::null_mut();
        let mut size: raw::size_t = 0;
        raw::tj3Transform(
            handle,
            jpeg.as_ptr(),
            jpeg.len() as _,
            1,
            &mut output,
            &mut size,
            &transform,
        )
    };
    (status == 0 && !sums.0.is_empty()).then_some(sums)
}

fn main() {
    let dir = std::env::args()
        .nth(1)
        .expect("usage: coefficient_instructions DIR");
    let mut paths: Vec<_> = std::fs::read_dir(&dir)
        .expect("a readable folder")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    paths.sort();
    // Read every file first, so the counted part is libjpeg, not the file system.
    let files: Vec<Vec<u8>> = paths
        .iter()
        .map(|p| std::fs::read(p).unwrap_or_default())
        .collect();
    // SAFETY: a plain constructor; the handle is destroyed below.
    let handle = unsafe { raw::tj3Init(raw::TJINIT_TJINIT_TRANSFORM as c_int) };
    assert!(
        !handle.is_null(),
        "could not initialise a TurboJPEG transformer"
    );
    let read = files
        .iter()
        .filter(|jpeg| read_coefficients(handle, jpeg).is_some())
        .count();
    // SAFETY: the handle came from tj3Init and is not used after this.
    unsafe { raw::tj3Destroy(handle) };
    println!("{read} of {} files read", files.len());
}
