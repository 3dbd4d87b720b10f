//! What a convolutional network learned, as pictures, for every model of the zoo on every
//! backend: the first layer's filters, each stage's feature maps, Zeiler & Fergus' top-activating
//! patches cropped at the exact receptive field beside their guided-backpropagation projections,
//! occlusion sensitivity, gradient saliency and Grad-CAM at any stage, and an HTML report that opens offline in any browser.
//!
//! ```
//! use burn::tensor::{Device, Tensor};
//! use zoo_models::{create, ImageClassifier, ModelOptions};
//!
//! let device = Device::flex();
//! let model = create("lenet5", &ModelOptions::default(), &device).unwrap();
//! let summary = model.summary("lenet5", [1, 32, 32]).unwrap();
//!
//! // The first layer's six 5x5 kernels, one grey tile each.
//! let first = zoo_viz::first_convolution(&summary).unwrap();
//! let kernels = zoo_viz::conv_kernels(&model, &summary, first).unwrap();
//! let picture = zoo_viz::kernel_grid(&kernels, 40);
//! assert!(!picture.is_blank());
//!
//! // Each stage's maps for one image.
//! let stages = zoo_viz::stage_maps(&model, Tensor::ones([1, 1, 32, 32], &device), 32, 64);
//! assert_eq!(stages[1].shape, [16, 5, 5]);
//! ```

pub mod attribution;
pub mod canvas;
pub mod features;
pub mod filters;
pub mod report;
pub mod top;

pub use attribution::{
    GradCam, HookedLogits, Occlusion, Unit, differentiable, grad_cam, guided_projections, hooked_logits, occlusion,
    projection_image, saliency,
};
pub use canvas::{Canvas, colour_map, grid, upsample};
pub use features::{StageLabel, StageMaps, feature_grid, stage_maps};
pub use filters::{Kernels, conv_kernels, first_convolution, kernel_grid, per_channel_grid};
pub use report::{Report, write_report};
pub use top::{Hit, TopUnits, crop_field};

/// A tensor's values on the host as `f32`, in row-major order (empty if they cannot be read).
pub fn host_values<const D: usize>(tensor: burn::tensor::Tensor<D>) -> Vec<f32> {
    tensor.into_data().convert::<f32>().try_to_vec::<f32>().unwrap_or_default()
}

/// Why a picture could not be made.
#[derive(Debug, thiserror::Error)]
pub enum VizError {
    /// A layer name that is not one of the model's: the message lists the valid ones.
    #[error("unknown {what} `{layer}` (valid: {})", valid.join(", "))]
    UnknownLayer {
        /// The name given.
        layer: String,
        /// What kind of layer was wanted (`convolution`, `stage`).
        what: String,
        /// The names that would work.
        valid: Vec<String>,
    },
    /// A channel index past the layer's channels.
    #[error("channel {channel} is out of range: `{layer}` has {channels} channels (0..{channels})")]
    ChannelOutOfRange {
        /// The layer.
        layer: String,
        /// The index given.
        channel: usize,
        /// How many the layer has.
        channels: usize,
    },
    /// A convolution without a 4-D weight tensor under the expected key.
    #[error("{layer}: no 4-D weight tensor `{key}` in the model")]
    NoFilters {
        /// The layer.
        layer: String,
        /// The parameter key looked for.
        key: String,
    },
    /// A picture with no pixels.
    #[error("{}: picture of size zero", path.display())]
    EmptyPicture {
        /// Where it was to be written.
        path: std::path::PathBuf,
    },
    /// The PNG encoder failed.
    #[error("{}: {source}", path.display())]
    Encode {
        /// The picture.
        path: std::path::PathBuf,
        /// The encoder's error.
        source: image::ImageError,
    },
    /// A file could not be written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: std::path::PathBuf,
        /// The system's error.
        source: std::io::Error,
    },
    /// The report could not be serialised.
    #[error(transparent)]
    Json(#[from] serde_json::Error),
}
