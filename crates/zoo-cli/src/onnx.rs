//! `zoo export --format onnx`: the model written by [`zoo_models::onnx`], then run by tract-onnx,
//! an ONNX runtime written independently of Burn and of that writer, on a random batch whose
//! logits must equal Burn's: a file that passes has been executed, not only encoded.

use std::path::Path;

use burn::module::Module;
use burn::tensor::{Device, Distribution, Tensor};
use zoo_models::onnx::OnnxOptions;
use zoo_models::{ImageClassifier, ZooModel};

use crate::error::CliError;

/// Runs the ONNX file at `path` with tract-onnx on `images` (`[N, C, H, W]`, row-major) and
/// returns its outputs (`logits`, then any auxiliary heads'), row-major. The file's batch axis
/// may be symbolic: it is fixed to `N` for this run.
///
/// ```no_run
/// let outputs = zoo_cli::onnx::run_onnx("resnet20.onnx".as_ref(), &vec![0.0; 2 * 3 * 32 * 32], [2, 3, 32, 32])?;
/// assert_eq!(outputs[0].len(), 2 * 10);
/// # Ok::<(), zoo_cli::CliError>(())
/// ```
pub fn run_onnx(path: &Path, images: &[f32], shape: [usize; 4]) -> Result<Vec<Vec<f32>>, CliError> {
    tract::run(path, images, shape).map_err(|source| CliError::OnnxRuntime { path: path.into(), source: source.into() })
}

// tract's prelude is glob-imported in here only: its `Tensor` is not Burn's.
mod tract {
    use std::path::Path;

    use tract_onnx::prelude::*;

    pub fn run(path: &Path, images: &[f32], shape: [usize; 4]) -> TractResult<Vec<Vec<f32>>> {
        let model = tract_onnx::onnx()
            .model_for_path(path)?
            .with_input_fact(0, f32::fact(shape).into())?
            .into_optimized()?
            .into_runnable()?;
        let input = Tensor::from_shape(&shape, images)?;
        let outputs = model.run(tvec!(input.into()))?;
        outputs.iter().map(|o| Ok(o.to_array_view::<f32>()?.iter().copied().collect())).collect()
    }
}

/// How far tract-onnx's logits are from Burn's for one random batch.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Agreement {
    /// Largest absolute difference.
    pub max_difference: f32,
    /// Largest absolute logit of Burn's: the scale the difference is judged against.
    pub scale: f32,
}

impl Agreement {
    /// Whether the difference is within `tolerance` of the logits' scale.
    pub fn within(&self, tolerance: f32) -> bool {
        self.max_difference <= tolerance * self.scale.max(f32::MIN_POSITIVE)
    }
}

/// Runs `model` (on flex) and the ONNX file at `path` (on tract-onnx) on the same random batch of
/// `batch` images of shape `input`, and compares every output: the logits, and the auxiliary
/// heads' logits when the file has them.
pub fn compare(
    model: &ZooModel,
    path: &Path,
    input: [usize; 3],
    batch: usize,
    seed: u64,
) -> Result<Agreement, CliError> {
    let device = Device::flex();
    device.seed(seed);
    let [c, h, w] = input;
    let images = Tensor::<4>::random([batch, c, h, w], Distribution::Normal(0.0, 1.0), &device);
    let values = zoo_viz::host_values(images.clone());
    let actual = run_onnx(path, &values, [batch, c, h, w])?;
    let model = model.valid().fork(&device);
    // On a plain device the training forward runs in inference mode, with the auxiliary heads.
    let expected: Vec<Vec<f32>> = if actual.len() > 1 {
        let output = model.forward_train(images);
        std::iter::once(output.logits)
            .chain(output.aux.into_iter().map(|a| a.logits))
            .map(zoo_viz::host_values)
            .collect()
    } else {
        vec![zoo_viz::host_values(model.forward(images))]
    };
    let lengths = |outputs: &[Vec<f32>]| outputs.iter().map(Vec::len).collect::<Vec<_>>();
    if lengths(&actual) != lengths(&expected) {
        return Err(CliError::Usage(format!(
            "{}: tract-onnx returned outputs of {:?} values, Burn {:?}",
            path.display(),
            lengths(&actual),
            lengths(&expected)
        )));
    }
    let pairs = actual.iter().flatten().zip(expected.iter().flatten());
    let max_difference = pairs.map(|(a, e)| (a - e).abs()).fold(0.0f32, f32::max);
    let scale = expected.iter().flatten().fold(0.0f32, |m, v| m.max(v.abs()));
    Ok(Agreement { max_difference, scale })
}

/// The default options with a fixed batch when `batch` is given.
pub fn options(opset: i64, batch: Option<usize>, aux_outputs: bool) -> OnnxOptions {
    OnnxOptions { opset, dynamic_batch: batch.is_none(), batch: batch.unwrap_or(1), aux_outputs }
}
