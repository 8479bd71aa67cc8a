//! Shared by every target: the panic policy and the invariants of a decode result.
#![allow(dead_code)]

use _core::decode::outcome::{DecodeResult, Status};
use std::sync::Once;
use std::sync::atomic::{AtomicUsize, Ordering};

static HOOK: Once = Once::new();
static FORGIVEN: AtomicUsize = AtomicUsize::new(0);

/// libfuzzer-sys installs a panic hook that aborts, so even a panic that `decode::decode` would
/// catch (and turn into `corrupt`) is reported as a crash. That is the default here too: every
/// panic is a finding. With `FUZZ_ALLOW_THIRD_PARTY_PANICS=1`, a panic whose location lies in a
/// dependency (cargo registry) or the standard library unwinds to the pipeline's catch_unwind
/// instead, so fuzzing can go on past a known third-party bug; a panic in our own code still aborts.
pub fn panic_policy() {
    HOOK.call_once(|| {
        if std::env::var_os("FUZZ_ALLOW_THIRD_PARTY_PANICS").is_none() {
            return;
        }
        let abort_hook = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let file = info.location().map(|l| l.file()).unwrap_or("");
            let third_party = file.contains("/.cargo/registry/") || file.contains("/rustc/") || file.starts_with("library/");
            if third_party {
                if FORGIVEN.fetch_add(1, Ordering::Relaxed) < 5 {
                    eprintln!("[fuzz] third-party panic forgiven (caught by decode::decode): {info}");
                }
                return;
            }
            abort_hook(info);
        }));
    });
}

pub const STATUSES: [&str; 7] = ["ok", "empty", "truncated", "corrupt", "unsupported", "unreadable", "too_large"];

/// What any decoder must promise about its result.
pub fn check_decoded(result: &DecodeResult) {
    match result {
        Ok(d) => {
            let p = &d.picture;
            assert!(d.header.width > 0 && d.header.height > 0, "ok with empty header {:?}", d.header);
            assert!((1..=8).contains(&d.orientation), "orientation {}", d.orientation);
            assert!(p.width > 0 && p.height > 0, "empty picture {}x{}", p.width, p.height);
            assert_eq!(p.pixels.len(), p.width * p.height, "picture buffer does not match its size");
            assert!((1..=4).contains(&d.header.channels), "channels {}", d.header.channels);
            if let Some(f) = &d.finer {
                // The picture is the finer view's 2x2 box average.
                assert_eq!(f.pixels.len(), f.width * f.height, "finer buffer does not match its size");
                assert_eq!((f.width.div_ceil(2), f.height.div_ceil(2)), (p.width, p.height), "finer view size");
            }
        }
        Err(e) => {
            assert_ne!(e.failure.status, Status::Ok, "an error with status ok");
            assert!(!e.failure.message.is_empty(), "an error without words");
            assert!(STATUSES.contains(&e.failure.status.name()));
        }
    }
}

/// Status and picture of a result, to compare two decodes of the same bytes.
pub fn fingerprint(result: &DecodeResult) -> (Status, String, Option<(usize, usize, u64)>) {
    match result {
        Ok(d) => {
            let p = &d.picture;
            let sum = p.pixels.iter().enumerate().fold(0u64, |a, (i, &v)| a.wrapping_mul(31).wrapping_add(v as u64 ^ i as u64));
            (Status::Ok, String::new(), Some((p.width, p.height, sum)))
        }
        Err(e) => (e.failure.status, e.failure.message.clone(), None),
    }
}
