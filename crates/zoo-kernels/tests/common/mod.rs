//! What the kernel tests share: a tensor's values, a tensor moved onto a device, and the
//! closeness check against Burn's own ops.

// Each test file uses its own subset.
#![allow(dead_code)]

use burn::tensor::{Device, Tensor};

pub fn values<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.into_data().try_to_vec::<f32>().unwrap()
}

/// `t`'s values on `device`, autodiff and checkpointing strategy included (`to_device` would
/// keep the tensor's own: devices compare by hardware only).
pub fn on<const D: usize>(t: Tensor<D>, device: &Device) -> Tensor<D> {
    Tensor::from_data(t.into_data(), device)
}

/// Fails unless every value of `actual` is within `tolerance` times the largest finite
/// magnitude of `expected` (NaN only where `expected` is NaN), naming the worst one.
pub fn assert_within(what: &str, actual: &[f32], expected: &[f32], tolerance: f32) {
    assert_within_scale(what, actual, expected, tolerance, 1e-12);
}

/// [`assert_within`] with the scale at least `min_scale`: for sums whose terms cancel, where the
/// rounding error follows the terms' size, not the result's.
pub fn assert_within_scale(what: &str, actual: &[f32], expected: &[f32], tolerance: f32, min_scale: f32) {
    assert_eq!(actual.len(), expected.len(), "{what}: lengths differ");
    let scale = expected.iter().filter(|v| v.is_finite()).fold(0.0f32, |m, v| m.max(v.abs())).max(min_scale);
    let error = |a: f32, e: f32| if a.is_nan() && e.is_nan() { 0.0 } else { (a - e).abs() };
    let (worst, at) = actual
        .iter()
        .zip(expected)
        .enumerate()
        .map(|(i, (&a, &e))| (error(a, e), i))
        .fold((0.0f32, 0), |best, d| if d.0 > best.0 || d.0.is_nan() { d } else { best });
    assert!(
        worst <= tolerance * scale,
        "{what}: |zoo - burn| {worst:e} at {at} (zoo {}, burn {}) exceeds {tolerance:e} x {scale}",
        actual[at],
        expected[at]
    );
}
