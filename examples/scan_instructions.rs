//! Runs the per-file pipeline (`scan::analyze`) on every file of a folder, one thread, so that
//! `valgrind --tool=callgrind` counts its instructions without Python around it.
//!
//! ```text
//! cargo build --release --example scan_instructions
//! valgrind --tool=callgrind target/release/examples/scan_instructions DIR
//! ```
//! `benches/scan_instructions.py` runs it against PIL's draft decode of the same files.

use _core::decode::outcome::Limits;
use _core::scan::analyze;

fn main() {
    let dir = std::env::args()
        .nth(1)
        .expect("usage: scan_instructions DIR");
    let mut paths: Vec<_> = std::fs::read_dir(&dir)
        .expect("a readable folder")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    paths.sort();
    // Read every file first, so the counted part is the pipeline, not the file system.
    let files: Vec<(String, Vec<u8>)> = paths
        .iter()
        .map(|p| {
            (
                p.display().to_string(),
                std::fs::read(p).unwrap_or_default(),
            )
        })
        .collect();
    let limits = Limits::default();
    let ok = files
        .iter()
        .filter(|(name, bytes)| analyze(name, bytes, &limits).error.is_none())
        .count();
    println!("{ok} of {} files decoded", files.len());
}
