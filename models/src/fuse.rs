//! Folding BatchNorm into the convolution before it, for inference.
//!
//! In inference a BatchNorm is an affine map per channel, `y = γ (x - μ) / √(σ² + ε) + β`, and a
//! convolution followed by it is again a convolution: with `s = γ / √(σ² + ε)`, the weights of
//! output channel `o` are scaled by `s[o]` and the bias becomes `s (b - μ) + β`. Folding removes
//! one pass over every activation a BatchNorm touches and leaves the logits unchanged up to
//! rounding. The folded BatchNorm becomes [`Norm2d::Folded`](crate::layers::Norm2d::Folded) (which, in a sequence, keeps its slot
//! and so torchvision's indices), so a fused model is for inference: it has no BatchNorm to train.
//!
//! ```
//! use burn::tensor::{Device, Distribution, Tensor};
//! use zoo_models::{create, fuse::fuse_batch_norm, ImageClassifier, ModelOptions};
//!
//! let device = Device::flex();
//! let model = create("resnet20", &ModelOptions::default(), &device).unwrap();
//! let images = Tensor::<4>::random([2, 3, 32, 32], Distribution::Normal(0.0, 1.0), &device);
//! let before = model.forward(images.clone());
//! let fused = fuse_batch_norm(model);
//! let after = fused.forward(images);
//! let diff = (before - after).abs().max().into_scalar::<f32>();
//! assert!(diff < 1e-4, "{diff}");
//! ```

use burn::module::{Module, ModuleMapper, Param};
use burn::nn::BatchNorm;
use burn::nn::conv::Conv2d;
use burn::tensor::{Device, Distribution, Tensor};

use crate::layers::Layer2d;

/// A module whose BatchNorms that directly follow a convolution can be folded into it. Each
/// block implements it beside its definition, naming its own convolution and BatchNorm pairs,
/// and a network folds its blocks.
pub trait FoldBatchNorm {
    /// Folds every BatchNorm of `self` that directly follows a convolution into it.
    fn fold_batch_norm(&mut self);
}

impl<T: FoldBatchNorm> FoldBatchNorm for Option<T> {
    fn fold_batch_norm(&mut self) {
        if let Some(inner) = self {
            inner.fold_batch_norm();
        }
    }
}

impl<T: FoldBatchNorm> FoldBatchNorm for [T] {
    fn fold_batch_norm(&mut self) {
        self.iter_mut().for_each(FoldBatchNorm::fold_batch_norm);
    }
}

impl<T: FoldBatchNorm> FoldBatchNorm for Vec<T> {
    fn fold_batch_norm(&mut self) {
        self.as_mut_slice().fold_batch_norm();
    }
}

/// Folds every BatchNorm of `model` that directly follows a convolution into that convolution:
/// any zoo model, or a family's own type (`ResNet`, `GoogLeNet`, ...). Models without BatchNorm
/// are returned unchanged.
pub fn fuse_batch_norm<M: FoldBatchNorm>(mut model: M) -> M {
    model.fold_batch_norm();
    model
}

/// Folds each `BatchNorm` that follows a `Conv` in a sequence; it keeps its slot, folded.
pub fn fuse_sequence(layers: &mut [Layer2d]) {
    for i in 1..layers.len() {
        let (before, after) = layers.split_at_mut(i);
        if let (Layer2d::Conv(conv), Layer2d::BatchNorm(norm)) = (&mut before[i - 1], &mut after[0]) {
            norm.fold_into(conv);
        }
    }
}

/// Folds a BatchNorm, with its running statistics, into the convolution before it.
pub fn fold(conv: &mut Conv2d, norm: BatchNorm) {
    let [out_channels, ..] = conv.weight.dims();
    let var: Tensor<1> = norm.running_var.value();
    let mean: Tensor<1> = norm.running_mean.value();
    let scale = norm.gamma.val() / var.add_scalar(norm.epsilon).sqrt();
    let bias = match &conv.bias {
        Some(bias) => bias.val(),
        None => Tensor::zeros([out_channels], &scale.device()),
    };
    let folded_bias = (bias - mean) * scale.clone() + norm.beta.val();
    let weight_scale = scale.reshape([out_channels, 1, 1, 1]);
    conv.weight = Param::from_tensor(conv.weight.val() * weight_scale);
    conv.bias = Some(Param::from_tensor(folded_bias));
}

/// Gives every BatchNorm of `model` random statistics and affine parameters far from the
/// identity (variance in [0.2, 3], mean and β in [-0.5, 0.5], γ in [0.3, 2]), drawn on `device`.
/// A fresh BatchNorm (mean 0, variance 1, γ 1, β 0) is almost the identity in inference, which
/// would hide a wrong folding or export; tests of both start from this.
///
/// ```
/// use burn::tensor::Device;
/// use zoo_models::{create, fuse::randomize_batch_norm, ModelOptions};
/// let device = Device::flex();
/// let model = randomize_batch_norm(create("resnet20", &ModelOptions::default(), &device).unwrap(), &device);
/// # let _ = model;
/// ```
pub fn randomize_batch_norm<M: Module>(model: M, device: &Device) -> M {
    model.map(&mut RandomizeBatchNorm { path: Vec::new(), device: device.clone() })
}

struct RandomizeBatchNorm {
    path: Vec<String>,
    device: Device,
}

impl ModuleMapper for RandomizeBatchNorm {
    fn enter_module(&mut self, name: &str, _container_type: &str) {
        self.path.push(name.to_string());
    }

    fn exit_module(&mut self, _name: &str, _container_type: &str) {
        self.path.pop();
    }

    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        let range = match self.path.last().map(String::as_str) {
            Some("running_var") => (0.2, 3.0),
            Some("running_mean" | "beta") => (-0.5, 0.5),
            Some("gamma") => (0.3, 2.0),
            _ => return param,
        };
        let device = self.device.clone();
        param.map(|t| Tensor::random(t.shape(), Distribution::Uniform(range.0, range.1), &device))
    }
}
