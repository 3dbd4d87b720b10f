//! Every instruction-set path this CPU supports (portable, AVX2, AVX-512) against a naive
//! reference on plain slices, and against each other: the Burn-level tests exercise only the
//! path the machine picks.

use zoo_kernels::cpu::batch_norm::{self, Normalized, Planes};
use zoo_kernels::cpu::conv::{self, ConvShape, Epilogue};
use zoo_kernels::cpu::simd::Isa;

fn supported() -> Vec<Isa> {
    let isas: Vec<Isa> = [Isa::Portable, Isa::Avx2, Isa::Avx512].into_iter().filter(|i| i.supported()).collect();
    assert!(isas.contains(&Isa::Portable));
    isas
}

/// Deterministic values in [-1, 1).
fn noise(len: usize, seed: u64) -> Vec<f32> {
    let mut state = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
    (0..len)
        .map(|_| {
            state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            ((state >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
        })
        .collect()
}

/// `(oy, ox)` of output pixel reading input `(iy, ix)` through tap `(ky, kx)`, if any.
fn input_index(s: &ConvShape, oy: usize, ox: usize, ky: usize, kx: usize) -> Option<(usize, usize)> {
    let iy = (oy * s.stride[0] + ky).checked_sub(s.padding[0][0])?;
    let ix = (ox * s.stride[1] + kx).checked_sub(s.padding[1][0])?;
    (iy < s.in_size[0] && ix < s.in_size[1]).then_some((iy, ix))
}

/// Naive forward, input gradient and weight gradient, in f64.
fn reference(s: &ConvShape, x: &[f32], w: &[f32], dy: &[f32]) -> [Vec<f32>; 3] {
    let [h, wd] = s.in_size;
    let [oh, ow] = s.out_size();
    let [kh, kw] = s.kernel;
    let (ci_n, co_n) = (s.in_channels, s.out_channels);
    let mut y = vec![0.0f64; s.output_len()];
    let mut dx = vec![0.0f64; s.input_len()];
    let mut dw = vec![0.0f64; s.weight_len()];
    for n in 0..s.batch {
        for co in 0..co_n {
            for ci in 0..ci_n {
                for ky in 0..kh {
                    for kx in 0..kw {
                        let wi = ((co * ci_n + ci) * kh + ky) * kw + kx;
                        for oy in 0..oh {
                            for ox in 0..ow {
                                if let Some((iy, ix)) = input_index(s, oy, ox, ky, kx) {
                                    let xi = ((n * ci_n + ci) * h + iy) * wd + ix;
                                    let yi = ((n * co_n + co) * oh + oy) * ow + ox;
                                    y[yi] += w[wi] as f64 * x[xi] as f64;
                                    dx[xi] += w[wi] as f64 * dy[yi] as f64;
                                    dw[wi] += x[xi] as f64 * dy[yi] as f64;
                                }
                            }
                        }
                    }
                }
            }
        }
    }
    [y, dx, dw].map(|v| v.into_iter().map(|v| v as f32).collect())
}

fn assert_close(what: &str, context: &str, actual: &[f32], expected: &[f32]) {
    let scale = expected.iter().fold(0.0f32, |m, v| m.max(v.abs())).max(1e-12);
    for (i, (a, e)) in actual.iter().zip(expected).enumerate() {
        assert!((a - e).abs() <= 1e-4 * scale, "{what} ({context}) at {i}: {a} against {e}, scale {scale}");
    }
}

#[test]
fn convolution_on_every_instruction_set() {
    let shapes = [
        ConvShape {
            batch: 3,
            in_channels: 5,
            in_size: [9, 7],
            out_channels: 6,
            kernel: [3, 3],
            stride: [1, 1],
            padding: [[1, 1], [1, 1]],
        },
        ConvShape {
            batch: 2,
            in_channels: 3,
            in_size: [11, 13],
            out_channels: 9,
            kernel: [5, 3],
            stride: [2, 3],
            padding: [[2, 0], [1, 2]],
        },
        ConvShape {
            batch: 1,
            in_channels: 17,
            in_size: [6, 6],
            out_channels: 4,
            kernel: [1, 1],
            stride: [2, 2],
            padding: [[0, 0], [0, 0]],
        },
        ConvShape {
            batch: 2,
            in_channels: 2,
            in_size: [19, 18],
            out_channels: 5,
            kernel: [7, 7],
            stride: [4, 4],
            padding: [[3, 1], [0, 3]],
        },
        ConvShape {
            batch: 1,
            in_channels: 130,
            in_size: [4, 5],
            out_channels: 3,
            kernel: [3, 3],
            stride: [1, 1],
            padding: [[1, 1], [1, 1]],
        },
    ];
    for (i, shape) in shapes.iter().enumerate() {
        let x = noise(shape.input_len(), 3 * i as u64);
        let w = noise(shape.weight_len(), 3 * i as u64 + 1);
        let dy = noise(shape.output_len(), 3 * i as u64 + 2);
        let bias = noise(shape.out_channels, 99);
        let [y_ref, dx_ref, dw_ref] = reference(shape, &x, &w, &dy);
        for isa in supported() {
            let context = format!("{} {shape:?}", isa.name());
            let mut y = vec![f32::NAN; shape.output_len()];
            conv::forward(isa, &x, &w, shape, &Epilogue::default(), &mut y);
            assert_close("forward", &context, &y, &y_ref);

            // The epilogue: bias, residual and ReLU applied as the output is written.
            let residual = noise(shape.output_len(), 7);
            let epilogue =
                Epilogue { shift: Some(&bias), residual: Some(&residual), relu: true, ..Epilogue::default() };
            conv::forward(isa, &x, &w, shape, &epilogue, &mut y);
            let [_, _, oh, ow] = [0, 0, shape.out_size()[0], shape.out_size()[1]];
            let expected: Vec<f32> = y_ref
                .iter()
                .enumerate()
                .map(|(j, &v)| (v + bias[(j / (oh * ow)) % shape.out_channels] + residual[j]).max(0.0))
                .collect();
            assert_close("forward with epilogue", &context, &y, &expected);

            let mut dx = vec![f32::NAN; shape.input_len()];
            conv::input_grad(isa, &dy, &w, shape, &mut dx);
            assert_close("input gradient", &context, &dx, &dx_ref);

            let mut dw = vec![f32::NAN; shape.weight_len()];
            conv::weight_grad(isa, &x, &dy, shape, &mut dw);
            assert_close("weight gradient", &context, &dw, &dw_ref);
        }
    }
}

/// The weight gradient sums images in a fixed order: two runs agree bit for bit.
#[test]
fn weight_gradient_is_deterministic() {
    let shape = ConvShape {
        batch: 37,
        in_channels: 16,
        in_size: [8, 8],
        out_channels: 16,
        kernel: [3, 3],
        stride: [1, 1],
        padding: [[1, 1], [1, 1]],
    };
    let x = noise(shape.input_len(), 1);
    let dy = noise(shape.output_len(), 2);
    let isa = zoo_kernels::cpu::simd::isa();
    let mut first = vec![0.0; shape.weight_len()];
    conv::weight_grad(isa, &x, &dy, &shape, &mut first);
    for _ in 0..3 {
        let mut again = vec![0.0; shape.weight_len()];
        conv::weight_grad(isa, &x, &dy, &shape, &mut again);
        assert!(first.iter().zip(&again).all(|(a, b)| a.to_bits() == b.to_bits()));
    }
}

#[test]
fn batch_norm_statistics_and_gradients() {
    let planes = Planes { batch: 5, channels: 3, plane: 37 };
    // A large mean and a small spread: a naive one-pass variance would cancel.
    let x: Vec<f32> = noise(planes.len(), 5).iter().map(|v| 1000.0 + v).collect();
    let (mean, var) = batch_norm::batch_stats(&x, planes);
    for c in 0..planes.channels {
        let values: Vec<f64> =
            (0..planes.batch).flat_map(|n| x[(n * 3 + c) * 37..][..37].iter().map(|&v| v as f64)).collect();
        let m = values.iter().sum::<f64>() / values.len() as f64;
        let v = values.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / values.len() as f64;
        assert!((mean[c] as f64 - m).abs() < 1e-4, "mean {} against {m}", mean[c]);
        assert!((var[c] as f64 - v).abs() < 1e-3 * v, "variance {} against {v}", var[c]);
    }

    // The backward pass against the numerical derivative of Σ y · dy for y = relu(bn(x)).
    let x = noise(planes.len(), 6);
    let dy = noise(planes.len(), 7);
    let gamma = [0.5f32, 1.5, -1.0];
    let beta = [0.1f32, -0.2, 0.3];
    let eps = 1e-5;
    let loss = |x: &[f64]| -> f64 {
        let mut total = 0.0;
        for c in 0..3 {
            let idx: Vec<usize> =
                (0..planes.batch).flat_map(|n| ((n * 3 + c) * 37..(n * 3 + c + 1) * 37).collect::<Vec<_>>()).collect();
            let m = idx.iter().map(|&i| x[i]).sum::<f64>() / idx.len() as f64;
            let v = idx.iter().map(|&i| (x[i] - m).powi(2)).sum::<f64>() / idx.len() as f64;
            for &i in &idx {
                let y = (gamma[c] as f64 * (x[i] - m) / (v + eps).sqrt() + beta[c] as f64).max(0.0);
                total += y * dy[i] as f64;
            }
        }
        total
    };
    let (mean, var) = batch_norm::batch_stats(&x, planes);
    let inv_std = batch_norm::inverse_std(&var, eps);
    let scale: Vec<f32> = gamma.iter().zip(&inv_std).map(|(g, i)| g * i).collect();
    let shift: Vec<f32> = beta.iter().zip(&mean).zip(&scale).map(|((b, m), s)| b - m * s).collect();
    let mut y = vec![0.0; planes.len()];
    batch_norm::affine(&x, planes, &scale, &shift, None, true, &mut y);
    let forward = Normalized {
        x: &x,
        relu_output: Some(&y),
        mean: &mean,
        inv_std: &inv_std,
        gamma: &gamma,
        batch_statistics: true,
    };
    let mut dx = vec![0.0; planes.len()];
    batch_norm::backward(&dy, &forward, planes, &mut dx, None);
    let x64: Vec<f64> = x.iter().map(|&v| v as f64).collect();
    for i in (0..planes.len()).step_by(23) {
        let (mut up, mut down) = (x64.clone(), x64.clone());
        up[i] += 1e-4;
        down[i] -= 1e-4;
        let numeric = (loss(&up) - loss(&down)) / 2e-4;
        assert!((dx[i] as f64 - numeric).abs() < 2e-3, "dx[{i}] = {} against {numeric}", dx[i]);
    }
}
