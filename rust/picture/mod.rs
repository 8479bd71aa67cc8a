//! The gray picture a decoder hands over, and everything measured on it: resampling as Pillow
//! does it, the perceptual hashes, the per-image statistics, and colourfulness.

/// Defines `$name`, which runs `$pass` (an `#[inline(always)]` loop the compiler vectorises)
/// compiled for AVX2 where the CPU has it, else for the x86-64 baseline. SSE2 has no 32-bit
/// multiply and no byte-to-int widening, so the baseline build runs such loops several times
/// slower. Passes given here must compute the same values either way (integer sums wrap the same
/// in any order; f32 lanes do the same operations without FMA): tests compare both builds.
macro_rules! dispatched {
    ($name:ident => $pass:ident($($arg:ident: $ty:ty),*)) => {
        fn $name($($arg: $ty),*) {
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx2")]
                fn with_avx2($($arg: $ty),*) {
                    $pass($($arg),*)
                }
                if std::arch::is_x86_feature_detected!("avx2") {
                    // SAFETY: the CPU was just checked to have AVX2.
                    return unsafe { with_avx2($($arg),*) };
                }
            }
            $pass($($arg),*)
        }
    };
}

pub mod border;
pub mod color;
pub mod gray;
pub mod hash;
pub mod resample;
pub mod smear;
pub mod stats;
