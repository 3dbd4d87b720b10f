//! Convolution kernels as pictures: the first layer's as colour (or grey) tiles, a deeper
//! layer's as one grey tile per input channel.

use burn::module::{Module, ModuleVisitor, Param};
use burn::tensor::Tensor;
use zoo_models::{ModelSummary, ZooModel};

use crate::VizError;
use crate::canvas::{Canvas, grid, square_columns};

/// A convolution's weights, `[out channels, in channels, height, width]`, on the host.
#[derive(Debug, Clone, PartialEq)]
pub struct Kernels {
    /// The layer's dotted name (`features.0`, `conv1`).
    pub layer: String,
    /// `[K, C, kh, kw]`.
    pub shape: [usize; 4],
    /// The values, in that order.
    pub values: Vec<f32>,
}

// Collects the tensor at one dotted path. Enum variants (`ZooModel::ResNet`, `Layer2d::Conv`)
// are containers in Burn's module tree but not in torchvision's names, so they are skipped.
struct FindParam<'a> {
    wanted: &'a str,
    path: Vec<Option<String>>,
    found: Option<(Vec<usize>, Vec<f32>)>,
}

impl ModuleVisitor for FindParam<'_> {
    fn enter_module(&mut self, name: &str, container_type: &str) {
        self.path.push((!container_type.starts_with("Enum:")).then(|| name.to_string()));
    }

    fn exit_module(&mut self, _name: &str, _container_type: &str) {
        self.path.pop();
    }

    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        let path: Vec<&str> = self.path.iter().flatten().map(String::as_str).collect();
        if self.found.is_none() && path.join(".") == self.wanted {
            let tensor = param.val();
            let shape = tensor.dims().to_vec();
            let values = crate::host_values(tensor);
            self.found = Some((shape, values));
        }
    }
}

/// The weights of the convolution named `layer` (a `Conv2d` row of the model's summary).
///
/// ```
/// use zoo_models::{create, ImageClassifier, ModelOptions};
/// let model = create("lenet5", &ModelOptions::default(), &burn::tensor::Device::flex()).unwrap();
/// let summary = model.summary("lenet5", [1, 32, 32]).unwrap();
/// let kernels = zoo_viz::conv_kernels(&model, &summary, "conv2").unwrap();
/// assert_eq!(kernels.shape, [16, 6, 5, 5]);
/// assert!(zoo_viz::conv_kernels(&model, &summary, "fc1").is_err());
/// ```
pub fn conv_kernels(model: &ZooModel, summary: &ModelSummary, layer: &str) -> Result<Kernels, VizError> {
    let convolutions: Vec<&str> =
        summary.layers.iter().filter(|l| l.kind == "Conv2d").map(|l| l.name.as_str()).collect();
    if !convolutions.contains(&layer) {
        return Err(VizError::UnknownLayer {
            layer: layer.to_string(),
            what: "convolution".into(),
            valid: convolutions.iter().map(|s| s.to_string()).collect(),
        });
    }
    let wanted = format!("{layer}.weight");
    let mut finder = FindParam { wanted: &wanted, path: Vec::new(), found: None };
    model.visit(&mut finder);
    match finder.found {
        Some((shape, values)) if shape.len() == 4 => {
            Ok(Kernels { layer: layer.to_string(), shape: [shape[0], shape[1], shape[2], shape[3]], values })
        }
        _ => Err(VizError::NoFilters { layer: layer.to_string(), key: wanted }),
    }
}

/// The first convolution's name in a summary.
pub fn first_convolution(summary: &ModelSummary) -> Option<&str> {
    summary.layers.iter().find(|l| l.kind == "Conv2d").map(|l| l.name.as_str())
}

/// Every kernel as one tile, each stretched to its own range and enlarged to about `tile`
/// pixels: colour for three input channels (the first layer of an RGB model), grey for one. A
/// layer with other input counts shows each kernel's input channels as grey tiles in a row, one
/// row per output channel ([`per_channel_grid`]).
pub fn kernel_grid(kernels: &Kernels, tile: usize) -> Canvas {
    let [k, c, kh, kw] = kernels.shape;
    if c != 1 && c != 3 {
        return per_channel_grid(kernels, tile, usize::MAX);
    }
    let per_kernel = c * kh * kw;
    let tiles: Vec<Canvas> = (0..k)
        .map(|i| {
            let values = &kernels.values[i * per_kernel..(i + 1) * per_kernel];
            let picture = if c == 3 { Canvas::colour(values, kh, kw) } else { Canvas::grey(values, kh, kw) };
            picture.at_least(tile)
        })
        .collect();
    grid(&tiles, square_columns(k), 2)
}

/// One row per output channel (at most `max_kernels`), one grey tile per input channel, each
/// tile stretched to its own range.
pub fn per_channel_grid(kernels: &Kernels, tile: usize, max_kernels: usize) -> Canvas {
    let [k, c, kh, kw] = kernels.shape;
    let plane = kh * kw;
    let tiles: Vec<Canvas> = (0..k.min(max_kernels))
        .flat_map(|i| (0..c).map(move |j| (i, j)))
        .map(|(i, j)| {
            let start = (i * c + j) * plane;
            Canvas::grey(&kernels.values[start..start + plane], kh, kw).at_least(tile)
        })
        .collect();
    grid(&tiles, c, 1)
}
