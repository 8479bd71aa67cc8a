//! The gray picture a decoder hands over, and everything measured on it: resampling as Pillow
//! does it, the perceptual hashes, the per-image statistics, and colourfulness.

pub mod color;
pub mod gray;
pub mod hash;
pub mod resample;
pub mod stats;
