//! Per-layer summaries: output shapes, trainable parameters, buffers and multiply-accumulates.
//!
//! A summary is computed from the layers' configurations alone, without running the network, so
//! `zoo summary vgg16 --input 3x224x224` is instant and an input that is too small is reported
//! with the name of the layer where the feature map vanishes instead of failing inside a kernel.
//! Every model walks its layers in the same order as its `forward`; the tests check that the
//! traced output shapes equal the shapes a real forward pass produces.
//!
//! Conventions follow torchvision and fvcore: trainable parameters exclude BatchNorm running
//! statistics (reported as buffers); MACs count the multiply-accumulates of convolutions and
//! fully connected layers (one per weight use, biases, activations and pooling excluded).

use std::fmt;

use burn::module::Module;
use burn::nn::conv::Conv2d;
use burn::nn::pool::{AdaptiveAvgPool2d, AvgPool2d, MaxPool2d};
use burn::nn::{BatchNorm, Linear, PaddingConfig2d};
use serde::Serialize;

/// One row of a [`ModelSummary`]: a leaf layer and what it produces for one image.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LayerSummary {
    /// Dotted path of the layer, matching the torchvision state-dict prefix (`layer1.0.conv1`).
    pub name: String,
    /// Layer type (`Conv2d`, `BatchNorm2d`, `MaxPool2d`, ...).
    pub kind: String,
    /// Output shape for one image, without the batch dimension (`[C, H, W]` or `[F]`).
    pub output_shape: Vec<usize>,
    /// Trainable parameters owned by this layer.
    pub params: usize,
    /// Non-trainable buffers owned by this layer (BatchNorm running mean and variance).
    pub buffers: usize,
    /// Multiply-accumulates for one image.
    pub macs: u64,
    /// Part of an auxiliary classifier, which runs only in training: its parameters count, its
    /// MACs are left out of the total (torchvision's figures are for inference).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub auxiliary: bool,
}

/// A whole network's summary for one input size: the per-layer table and the totals.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ModelSummary {
    /// Registry name of the model (`resnet50`).
    pub model: String,
    /// Input shape for one image, `[C, H, W]`.
    pub input_shape: [usize; 3],
    /// Output shape for one image (`[num_classes]`).
    pub output_shape: Vec<usize>,
    /// Trainable parameters, counted the torchvision way.
    pub trainable_params: usize,
    /// Buffers (BatchNorm running statistics), counted separately.
    pub buffers: usize,
    /// Multiply-accumulates of an inference forward pass for one image (auxiliary classifiers,
    /// which run only in training, excluded).
    pub macs: u64,
    /// Why an auxiliary classifier cannot run on this input (its feature map vanishes), when it
    /// cannot: inference is unaffected, training with the head is not possible at this size.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auxiliary_error: Option<String>,
    /// Leaf layers in execution order.
    pub layers: Vec<LayerSummary>,
}

impl ModelSummary {
    /// Multiply-accumulates in billions (what torchvision labels "GFLOPS").
    pub fn gmacs(&self) -> f64 {
        self.macs as f64 / 1e9
    }

    /// The summary as an aligned text table followed by the totals.
    pub fn to_table(&self) -> String {
        let rows: Vec<Vec<String>> = self
            .layers
            .iter()
            .map(|l| {
                vec![
                    if l.auxiliary { format!("{} *", l.name) } else { l.name.clone() },
                    l.kind.clone(),
                    format_shape(&l.output_shape),
                    group_digits(l.params as u64),
                    group_digits(l.macs),
                ]
            })
            .collect();
        let mut out = render_table(&["layer", "kind", "output shape", "params", "MACs"], &rows, &[3, 4]);
        out.push_str(&format!(
            "{}: input {}, output {}\n",
            self.model,
            format_shape(&self.input_shape),
            format_shape(&self.output_shape)
        ));
        out.push_str(&format!("Trainable params: {}\n", group_digits(self.trainable_params as u64)));
        out.push_str(&format!("Buffers (BatchNorm running stats): {}\n", group_digits(self.buffers as u64)));
        out.push_str(&format!("MACs per image: {} ({} G)\n", group_digits(self.macs), format_significant(self.gmacs(), 4)));
        if self.layers.iter().any(|l| l.auxiliary) {
            out.push_str("* auxiliary classifier: trained with the network, not run in inference; its parameters count, its MACs do not\n");
        }
        if let Some(e) = &self.auxiliary_error {
            out.push_str(&format!(
                "* the auxiliary classifier cannot train on a {} input ({e}); inference is unaffected\n",
                format_shape(&self.input_shape)
            ));
        }
        out
    }
}

impl fmt::Display for ModelSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_table())
    }
}

/// Renders `rows` under `headers` as aligned columns separated by two spaces, with a rule under
/// the header; the columns listed in `right_aligned` (numbers) align right.
///
/// ```
/// let table = zoo_models::summary::render_table(&["name", "n"], &[vec!["a".into(), "10".into()]], &[1]);
/// assert_eq!(table, "name   n\n--------\na     10\n");
/// ```
pub fn render_table(headers: &[&str], rows: &[Vec<String>], right_aligned: &[usize]) -> String {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: &[String]| {
        let padded: Vec<String> = cells
            .iter()
            .zip(&widths)
            .enumerate()
            .map(|(i, (c, &w))| if right_aligned.contains(&i) { format!("{c:>w$}") } else { format!("{c:<w$}") })
            .collect();
        format!("{}\n", padded.join("  ").trim_end())
    };
    let header: Vec<String> = headers.iter().map(|h| h.to_string()).collect();
    let rule_width = widths.iter().sum::<usize>() + 2 * widths.len().saturating_sub(1);
    let mut out = line(&header);
    out.push_str(&"-".repeat(rule_width));
    out.push('\n');
    for row in rows {
        out.push_str(&line(row));
    }
    out
}

/// `[3, 224, 224]` → `3x224x224`.
pub fn format_shape(shape: &[usize]) -> String {
    shape.iter().map(usize::to_string).collect::<Vec<_>>().join("x")
}

/// `x` rounded to `digits` significant digits, in plain (not scientific) notation: GMACs range
/// from LeNet-5's 0.0004165 to VGG-19's 19.63.
///
/// ```
/// use zoo_models::summary::format_significant;
/// assert_eq!(format_significant(4.0891, 4), "4.089");
/// assert_eq!(format_significant(0.000416520, 4), "0.0004165");
/// assert_eq!(format_significant(15.4702, 4), "15.47");
/// ```
pub fn format_significant(x: f64, digits: usize) -> String {
    if x == 0.0 || !x.is_finite() {
        return format!("{x}");
    }
    let magnitude = x.abs().log10().floor() as i32;
    let decimals = (digits as i32 - 1 - magnitude).max(0) as usize;
    format!("{x:.decimals$}")
}

/// `25557032` → `25,557,032`.
pub fn group_digits(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Why an input shape cannot go through a network.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ShapeError {
    /// The spatial size dropped below the layer's window: the feature map vanished.
    Vanished {
        /// Dotted path of the layer.
        layer: String,
        /// Layer type and its window, e.g. `MaxPool2d 3x3/2`.
        op: String,
        /// The shape that reached the layer.
        input: Vec<usize>,
    },
    /// The input's channel count is not what the layer was built for.
    Channels {
        /// Dotted path of the layer.
        layer: String,
        /// Channels the layer expects.
        expected: usize,
        /// Channels it received.
        found: usize,
    },
}

impl fmt::Display for ShapeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ShapeError::Vanished { layer, op, input } => write!(
                f,
                "the feature map vanishes at layer `{layer}`: {op} cannot slide over a {} input",
                format_shape(input)
            ),
            ShapeError::Channels { layer, expected, found } => write!(
                f,
                "layer `{layer}` expects {expected} input channels but receives {found}"
            ),
        }
    }
}

impl std::error::Error for ShapeError {}

/// Shape of one sample as it flows through a network (no batch dimension).
pub type SampleShape = Vec<usize>;

/// Walks a network's layers, accumulating a [`LayerSummary`] per leaf layer.
///
/// Models call [`Tracer::scope`] for their sub-modules so that row names are the dotted
/// state-dict paths, and [`Tracer::layer`] for every leaf.
#[derive(Debug, Default)]
pub struct Tracer {
    scopes: Vec<String>,
    rows: Vec<LayerSummary>,
    auxiliary: bool,
    auxiliary_error: Option<String>,
}

impl Tracer {
    /// A tracer with no rows yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Runs `f` with `name` appended to the current path.
    pub fn scope<R>(&mut self, name: &str, f: impl FnOnce(&mut Self) -> R) -> R {
        self.scopes.push(name.to_string());
        let out = f(self);
        self.scopes.pop();
        out
    }

    /// Traces the auxiliary classifier stored in field `name`, which has `params` (trainable
    /// parameters, buffers): its rows are marked and their MACs left out of the inference total.
    /// An input too small for the head does not stop the trace, since inference never runs it:
    /// the head becomes one row with its parameters, and the summary's
    /// [`auxiliary_error`](ModelSummary::auxiliary_error) says why it cannot train at this size.
    pub fn auxiliary(
        &mut self,
        name: &str,
        params: (usize, usize),
        f: impl FnOnce(&mut Self) -> Result<SampleShape, ShapeError>,
    ) {
        let outer = std::mem::replace(&mut self.auxiliary, true);
        let start = self.rows.len();
        if let Err(e) = self.scope(name, f) {
            self.rows.truncate(start);
            self.rows.push(LayerSummary {
                name: self.path(name),
                kind: "AuxiliaryClassifier".into(),
                output_shape: Vec::new(),
                params: params.0,
                buffers: params.1,
                macs: 0,
                auxiliary: true,
            });
            self.auxiliary_error.get_or_insert_with(|| e.to_string());
        }
        self.auxiliary = outer;
    }

    /// The dotted path of `name` inside the current scope.
    pub fn path(&self, name: &str) -> String {
        let mut parts: Vec<&str> = self.scopes.iter().map(String::as_str).collect();
        if !name.is_empty() {
            parts.push(name);
        }
        parts.join(".")
    }

    /// Traces one leaf layer under `name`.
    pub fn layer<L: TraceLayer + ?Sized>(
        &mut self,
        name: &str,
        layer: &L,
        input: &[usize],
    ) -> Result<SampleShape, ShapeError> {
        let path = self.path(name);
        let step = layer.trace_step(&path, input)?;
        self.rows.push(LayerSummary {
            name: path,
            kind: step.kind,
            output_shape: step.output.clone(),
            params: step.params,
            buffers: step.buffers,
            macs: step.macs,
            auxiliary: self.auxiliary,
        });
        Ok(step.output)
    }

    /// Records an operation that is not a module (a residual addition, a flatten) so the table
    /// shows where the shape changes.
    pub fn op(&mut self, name: &str, kind: &str, output: SampleShape) -> SampleShape {
        self.rows.push(LayerSummary {
            name: self.path(name),
            kind: kind.to_string(),
            output_shape: output.clone(),
            params: 0,
            buffers: 0,
            macs: 0,
            auxiliary: self.auxiliary,
        });
        output
    }

    /// Closes the trace into a summary of `model` for `input`, ending with `output`.
    pub fn finish(self, model: &str, input: [usize; 3], output: SampleShape) -> ModelSummary {
        ModelSummary {
            model: model.to_string(),
            input_shape: input,
            output_shape: output,
            trainable_params: self.rows.iter().map(|r| r.params).sum(),
            buffers: self.rows.iter().map(|r| r.buffers).sum(),
            macs: self.rows.iter().filter(|r| !r.auxiliary).map(|r| r.macs).sum(),
            auxiliary_error: self.auxiliary_error,
            layers: self.rows,
        }
    }
}

/// What one layer does to a sample's shape, and what it costs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceStep {
    /// Layer type shown in the table.
    pub kind: String,
    /// Output shape for one sample.
    pub output: SampleShape,
    /// Trainable parameters.
    pub params: usize,
    /// Buffers (non-trainable state).
    pub buffers: usize,
    /// Multiply-accumulates for one sample.
    pub macs: u64,
}

impl TraceStep {
    fn shape_only(kind: &str, output: SampleShape) -> Self {
        Self { kind: kind.to_string(), output, params: 0, buffers: 0, macs: 0 }
    }
}

/// A layer whose effect on a sample's shape can be computed from its configuration.
pub trait TraceLayer {
    /// The output shape and cost of this layer for one sample of shape `input`; `path` names the
    /// layer in errors.
    fn trace_step(&self, path: &str, input: &[usize]) -> Result<TraceStep, ShapeError>;
}

/// Output length of a sliding window: `floor((len + pad - dilation*(k-1) - 1) / stride) + 1`
/// (or the ceiling, for pools in ceil mode); `None` when the window no longer fits.
///
/// ```
/// use zoo_models::summary::window_output;
/// // The seed lesson's examples: 32x32 through a 5x5 stride-1 conv, 227x227 through 11x11/4.
/// assert_eq!(window_output(32, 5, 1, 0, 1, false), Some(28));
/// assert_eq!(window_output(227, 11, 4, 0, 1, false), Some(55));
/// assert_eq!(window_output(2, 3, 2, 0, 1, false), None);
/// ```
pub fn window_output(
    len: usize,
    kernel: usize,
    stride: usize,
    total_padding: usize,
    dilation: usize,
    ceil_mode: bool,
) -> Option<usize> {
    let span = dilation * (kernel - 1) + 1;
    let padded = len + total_padding;
    if padded < span || stride == 0 {
        return None;
    }
    let steps = padded - span;
    let mut out = steps / stride + 1;
    if ceil_mode && steps % stride != 0 {
        out += 1;
        // PyTorch drops a last window that would start inside the right padding only.
        if (out - 1) * stride >= len + total_padding / 2 {
            out -= 1;
        }
    }
    Some(out)
}

/// Total (both sides) padding per spatial axis for a Burn padding configuration.
fn total_padding(
    padding: &PaddingConfig2d,
    input: [usize; 2],
    kernel: [usize; 2],
    stride: [usize; 2],
) -> [usize; 2] {
    match padding {
        PaddingConfig2d::Valid => [0, 0],
        PaddingConfig2d::Explicit(top, left, bottom, right) => [top + bottom, left + right],
        PaddingConfig2d::Same => {
            // "Same" keeps ceil(len / stride) outputs.
            let same = |len: usize, k: usize, s: usize| {
                let out = len.div_ceil(s);
                ((out - 1) * s + k).saturating_sub(len)
            };
            [same(input[0], kernel[0], stride[0]), same(input[1], kernel[1], stride[1])]
        }
    }
}

fn spatial(path: &str, op: &str, input: &[usize]) -> Result<[usize; 3], ShapeError> {
    match input {
        [c, h, w] => Ok([*c, *h, *w]),
        _ => Err(ShapeError::Vanished { layer: path.to_string(), op: op.to_string(), input: input.to_vec() }),
    }
}

fn window_2d(
    path: &str,
    op: &str,
    input: [usize; 3],
    kernel: [usize; 2],
    stride: [usize; 2],
    padding: [usize; 2],
    dilation: [usize; 2],
    ceil_mode: bool,
) -> Result<[usize; 2], ShapeError> {
    let vanished = || ShapeError::Vanished { layer: path.to_string(), op: op.to_string(), input: input.to_vec() };
    let h = window_output(input[1], kernel[0], stride[0], padding[0], dilation[0], ceil_mode).ok_or_else(vanished)?;
    let w = window_output(input[2], kernel[1], stride[1], padding[1], dilation[1], ceil_mode).ok_or_else(vanished)?;
    Ok([h, w])
}

fn window_label(kind: &str, kernel: [usize; 2], stride: [usize; 2]) -> String {
    format!("{kind} {}x{}/{}", kernel[0], kernel[1], stride[0])
}

impl TraceLayer for Conv2d {
    fn trace_step(&self, path: &str, input: &[usize]) -> Result<TraceStep, ShapeError> {
        let [out_channels, group_in, kh, kw] = self.weight.lazy_shape().dims::<4>();
        let op = window_label("Conv2d", [kh, kw], self.stride);
        let [c, h, w] = spatial(path, &op, input)?;
        let in_channels = group_in * self.groups;
        if c != in_channels {
            return Err(ShapeError::Channels { layer: path.to_string(), expected: in_channels, found: c });
        }
        let pad = total_padding(&self.padding, [h, w], [kh, kw], self.stride);
        let [oh, ow] = window_2d(path, &op, [c, h, w], [kh, kw], self.stride, pad, self.dilation, false)?;
        Ok(TraceStep {
            kind: "Conv2d".into(),
            output: vec![out_channels, oh, ow],
            params: self.num_params(),
            buffers: 0,
            macs: (out_channels * group_in * kh * kw * oh * ow) as u64,
        })
    }
}

impl TraceLayer for BatchNorm {
    fn trace_step(&self, path: &str, input: &[usize]) -> Result<TraceStep, ShapeError> {
        let [features] = self.gamma.lazy_shape().dims::<1>();
        if input.first() != Some(&features) {
            return Err(ShapeError::Channels {
                layer: path.to_string(),
                expected: features,
                found: input.first().copied().unwrap_or(0),
            });
        }
        Ok(TraceStep {
            kind: "BatchNorm2d".into(),
            output: input.to_vec(),
            params: 2 * features,
            buffers: 2 * features,
            macs: 0,
        })
    }
}

impl TraceLayer for MaxPool2d {
    fn trace_step(&self, path: &str, input: &[usize]) -> Result<TraceStep, ShapeError> {
        let op = window_label("MaxPool2d", self.kernel_size, self.stride);
        let [c, h, w] = spatial(path, &op, input)?;
        let pad = total_padding(&self.padding, [h, w], self.kernel_size, self.stride);
        let [oh, ow] =
            window_2d(path, &op, [c, h, w], self.kernel_size, self.stride, pad, self.dilation, self.ceil_mode)?;
        Ok(TraceStep::shape_only("MaxPool2d", vec![c, oh, ow]))
    }
}

impl TraceLayer for AvgPool2d {
    fn trace_step(&self, path: &str, input: &[usize]) -> Result<TraceStep, ShapeError> {
        let op = window_label("AvgPool2d", self.kernel_size, self.stride);
        let [c, h, w] = spatial(path, &op, input)?;
        let pad = total_padding(&self.padding, [h, w], self.kernel_size, self.stride);
        let [oh, ow] = window_2d(path, &op, [c, h, w], self.kernel_size, self.stride, pad, [1, 1], self.ceil_mode)?;
        Ok(TraceStep::shape_only("AvgPool2d", vec![c, oh, ow]))
    }
}

impl TraceLayer for AdaptiveAvgPool2d {
    fn trace_step(&self, path: &str, input: &[usize]) -> Result<TraceStep, ShapeError> {
        let [c, h, w] = spatial(path, "AdaptiveAvgPool2d", input)?;
        if h == 0 || w == 0 {
            return Err(ShapeError::Vanished { layer: path.into(), op: "AdaptiveAvgPool2d".into(), input: input.to_vec() });
        }
        Ok(TraceStep::shape_only("AdaptiveAvgPool2d", vec![c, self.output_size[0], self.output_size[1]]))
    }
}

impl TraceLayer for Linear {
    fn trace_step(&self, path: &str, input: &[usize]) -> Result<TraceStep, ShapeError> {
        let [d_in, d_out] = self.weight.lazy_shape().dims::<2>();
        let found: usize = input.iter().product();
        if input.len() != 1 || found != d_in {
            return Err(ShapeError::Channels { layer: path.to_string(), expected: d_in, found });
        }
        Ok(TraceStep {
            kind: "Linear".into(),
            output: vec![d_out],
            params: self.num_params(),
            buffers: 0,
            macs: (d_in * d_out) as u64,
        })
    }
}

/// Parameter-free element-wise layers (activations, dropout) keep the shape.
macro_rules! shape_preserving {
    ($($ty:ty => $kind:literal),* $(,)?) => {$(
        impl TraceLayer for $ty {
            fn trace_step(&self, _path: &str, input: &[usize]) -> Result<TraceStep, ShapeError> {
                Ok(TraceStep::shape_only($kind, input.to_vec()))
            }
        }
    )*};
}

shape_preserving!(
    burn::nn::Relu => "ReLU",
    burn::nn::Tanh => "Tanh",
    burn::nn::Dropout => "Dropout",
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conv_output_size_matches_the_seed_lessons_examples() {
        // (W - F + 2P) / S + 1
        assert_eq!(window_output(32, 5, 1, 0, 1, false), Some(28));
        assert_eq!(window_output(227, 11, 4, 0, 1, false), Some(55));
        // AlexNet's torchvision first layer: 224, 11x11/4, padding 2 on each side.
        assert_eq!(window_output(224, 11, 4, 4, 1, false), Some(55));
        // ResNet stem: 224, 7x7/2, padding 3.
        assert_eq!(window_output(224, 7, 2, 6, 1, false), Some(112));
        assert_eq!(window_output(4, 5, 1, 0, 1, false), None);
    }

    #[test]
    fn ceil_mode_matches_pytorch() {
        // torch.nn.MaxPool2d(3, 2, ceil_mode=True) on 112 → 56, on 55 → 27, on 56 → 28.
        assert_eq!(window_output(112, 3, 2, 0, 1, true), Some(56));
        assert_eq!(window_output(55, 3, 2, 0, 1, true), Some(27));
        assert_eq!(window_output(56, 3, 2, 0, 1, true), Some(28));
        assert_eq!(window_output(56, 3, 2, 0, 1, false), Some(27));
    }

    #[test]
    fn digits_are_grouped_by_thousands() {
        assert_eq!(group_digits(0), "0");
        assert_eq!(group_digits(999), "999");
        assert_eq!(group_digits(61_706), "61,706");
        assert_eq!(group_digits(25_557_032), "25,557,032");
    }
}
