//! The kernels themselves: plain Rust on `&[f32]` NCHW buffers, no Burn types. Each one checks
//! its buffer lengths and runs on rayon's global pool.

pub mod batch_norm;
pub mod conv;
mod parallel;
pub mod pool;
pub mod simd;
