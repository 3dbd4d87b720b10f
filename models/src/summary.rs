//! Per-layer summaries: output shapes, trainable parameters, buffers, multiply-accumulates and
//! receptive fields.
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
//!
//! Receptive fields follow Araujo et al., "Computing Receptive Fields of Convolutional Neural
//! Networks" (Distill, 2019): for each axis, the field's `size` in input pixels, the `jump`
//! (input pixels between neighbouring units) and the `start` (centre of the first unit's field,
//! negative when it lies in the padding). Where paths merge (residual additions, concatenations)
//! the field is the union of the paths' fields. An adaptive pooling whose output does not divide
//! its input is counted as covering its whole input, an upper bound.

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
    /// The input region one output unit sees.
    pub receptive_field: ReceptiveField,
    /// The shape the layer receives.
    pub input_shape: Vec<usize>,
    /// The sliding window of a convolution or pool.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub window: Option<Window>,
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
                let field = &l.receptive_field;
                let (size, jump, start) = if l.output_shape.is_empty() {
                    Default::default()
                } else {
                    // One unit has no neighbours: a jump would mean nothing.
                    let jump = if l.output_shape.len() == 3 { field.jump_label() } else { "-".into() };
                    (field.size_label(), jump, field.start_label())
                };
                vec![
                    if l.auxiliary { format!("{} *", l.name) } else { l.name.clone() },
                    l.kind.clone(),
                    format_shape(&l.output_shape),
                    group_digits(l.params as u64),
                    group_digits(l.macs),
                    size,
                    jump,
                    start,
                ]
            })
            .collect();
        let headers = ["layer", "kind", "output shape", "params", "MACs", "RF", "jump", "start"];
        let mut out = render_table(&headers, &rows, &[3, 4, 5, 6, 7]);
        out.push_str(&format!(
            "{}: input {}, output {}\n",
            self.model,
            format_shape(&self.input_shape),
            format_shape(&self.output_shape)
        ));
        out.push_str(&format!("Trainable params: {}\n", group_digits(self.trainable_params as u64)));
        out.push_str(&format!("Buffers (BatchNorm running stats): {}\n", group_digits(self.buffers as u64)));
        out.push_str(&format!(
            "MACs per image: {} ({} G)\n",
            group_digits(self.macs),
            format_significant(self.gmacs(), 4)
        ));
        out.push_str("RF: receptive field in input pixels; jump: input pixels between neighbouring units; start: centre of the first unit's field\n");
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

impl ModelSummary {
    /// The lessons' arithmetic for every convolution and pool, with the layer's own numbers: the
    /// output size `(W - F + 2P) / S + 1`, for convolutions the parameters with weight sharing
    /// `(F x F x C_in + 1) x K` against a fully connected layer between the same two maps, and
    /// the receptive field.
    ///
    /// ```
    /// use zoo_models::{create, ImageClassifier, ModelOptions};
    /// let model = create("lenet5", &ModelOptions::default(), &burn::tensor::Device::flex()).unwrap();
    /// let text = model.summary("lenet5", [1, 32, 32]).unwrap().explain();
    /// assert!(text.contains("(32 - 5 + 2x0) / 1 + 1 = 28"), "{text}");
    /// assert!(text.contains("(5 x 5 x 1 + 1) x 6 = 156"), "{text}");
    /// ```
    pub fn explain(&self) -> String {
        let mut out = String::new();
        for layer in &self.layers {
            let (Some(window), [c, h, w], [k, oh, ow]) =
                (&layer.window, &layer.input_shape[..], &layer.output_shape[..])
            else {
                continue;
            };
            let [fh, fw] = window.kernel;
            let name = if layer.auxiliary { format!("{} (auxiliary)", layer.name) } else { layer.name.clone() };
            out.push_str(&format!(
                "{name}: {} {}, stride {}, {} -> {}\n",
                layer.kind,
                axis_label(window.kernel.map(|v| v.to_string())),
                axis_label(window.stride.map(|v| v.to_string())),
                format_shape(&layer.input_shape),
                format_shape(&layer.output_shape)
            ));
            if layer.kind == "AdaptiveAvgPool2d" {
                out.push_str(&format!("  output: fixed at {oh}x{ow} whatever the input (adaptive)\n"));
            } else {
                let axes = [("H", *h, 0), ("W", *w, 1)];
                let lines: Vec<String> =
                    axes.iter().map(|&(axis, len, a)| output_size_line(axis, len, window, a)).collect();
                if lines[0][1..] == lines[1][1..] {
                    out.push_str(&format!("  output: {}\n", &lines[0][3..]));
                } else {
                    for line in lines {
                        out.push_str(&format!("  output {line}\n"));
                    }
                }
            }
            if layer.kind == "Conv2d" {
                let per_filter = layer.params / k.max(&1);
                let bias = per_filter.checked_sub(fh * fw * c).filter(|b| *b <= 1);
                let shared = match bias {
                    Some(b) => format!(
                        "({fh} x {fw} x {c}{}) x {k} = {}",
                        if b == 1 { " + 1" } else { "" },
                        group_digits(layer.params as u64)
                    ),
                    None => group_digits(layer.params as u64),
                };
                let inputs = (c * h * w) as u64;
                let outputs = (k * oh * ow) as u64;
                let dense = (inputs + 1) * outputs;
                out.push_str(&format!(
                    "  parameters: {shared}, the same weights at all {oh}x{ow} positions; a fully connected layer from {} to {} would need ({} + 1) x {} = {} ({}x as many)\n",
                    format_shape(&layer.input_shape),
                    format_shape(&layer.output_shape),
                    group_digits(inputs),
                    group_digits(outputs),
                    group_digits(dense),
                    group_digits(dense / layer.params.max(1) as u64)
                ));
            } else {
                out.push_str("  parameters: none\n");
            }
            let field = &layer.receptive_field;
            out.push_str(&format!(
                "  receptive field: {} input pixels, jump {}, first unit centred at {}\n",
                field.size_label(),
                field.jump_label(),
                field.start_label()
            ));
        }
        out
    }
}

/// `H: (224 - 11 + 2x2) / 4 + 1 = 55 (rounded down)` for one axis of a window.
fn output_size_line(axis: &str, len: usize, window: &Window, a: usize) -> String {
    let (f, s, d) = (window.kernel[a], window.stride[a], window.dilation[a]);
    let (before, after) = (window.padding_before[a], window.padding_after[a]);
    let padding = if before == after { format!("2x{before}") } else { format!("{before} + {after}") };
    let kernel = if d == 1 { f.to_string() } else { format!("({d}x({f} - 1) + 1)") };
    let total = window.total_padding()[a];
    let out = window_output(len, f, s, total, d, window.ceil_mode).unwrap_or(0);
    let span = d * (f - 1) + 1;
    let exact = (len + total - span).is_multiple_of(s);
    let rounding = match (exact, window.ceil_mode) {
        (true, _) => "",
        (false, false) => " (rounded down)",
        (false, true) => " (rounded up: ceil mode)",
    };
    format!("{axis}: ({len} - {kernel} + {padding}) / {s} + 1 = {out}{rounding}")
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
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Why an input shape cannot go through a network.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ShapeError {
    /// The spatial size dropped below the layer's window: the feature map vanished.
    #[error("the feature map vanishes at layer `{layer}`: {op} cannot slide over a {} input", format_shape(input))]
    Vanished {
        /// Dotted path of the layer.
        layer: String,
        /// Layer type and its window, e.g. `MaxPool2d 3x3/2`.
        op: String,
        /// The shape that reached the layer.
        input: Vec<usize>,
    },
    /// The input's channel count is not what the layer was built for.
    #[error("layer `{layer}` expects {expected} input channels but receives {found}")]
    Channels {
        /// Dotted path of the layer.
        layer: String,
        /// Channels the layer expects.
        expected: usize,
        /// Channels it received.
        found: usize,
    },
}

/// Where one unit of a feature map looks in the input image, per axis (`[rows, columns]`):
/// unit `i` of the map sees input pixels `first[a] + i * jump[a] ..= first[a] + i * jump[a] +
/// size[a] - 1` along axis `a`, some of which may be padding (below 0 or past the image).
///
/// Near the border a unit may see less than that: where a layer's last window does not fit
/// (a floor in the output size), the pixels only it would have seen reach no unit after it.
/// `reach` is the part of the image that reaches the map at all, and [`seen`](Self::seen) a
/// unit's field within it.
///
/// ```
/// use zoo_models::summary::{ReceptiveField, Window};
/// // LeNet-5: conv 5x5, max pool 2x2/2, conv 5x5, max pool 2x2/2.
/// let mut field = ReceptiveField::input([32, 32]);
/// for (kernel, stride) in [(5, 1), (2, 2), (5, 1), (2, 2)] {
///     field = field.through(&Window::square(kernel, stride, 0));
/// }
/// assert_eq!((field.size, field.jump, field.start()), ([16, 16], [4, 4], [7.5, 7.5]));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReceptiveField {
    /// Input pixels one unit sees, per axis.
    pub size: [usize; 2],
    /// Input pixels between neighbouring units (the product of the strides so far).
    pub jump: [usize; 2],
    /// The first input pixel of unit 0's field (negative: in the padding).
    pub first: [i64; 2],
    /// The input pixels that influence some unit of the map, `[from, to)` per axis.
    pub reach: [[i64; 2]; 2],
}

impl ReceptiveField {
    /// An input image of `[rows, columns]`: each unit is one pixel.
    pub fn input([rows, columns]: [usize; 2]) -> Self {
        Self { size: [1, 1], jump: [1, 1], first: [0, 0], reach: [[0, rows as i64], [0, columns as i64]] }
    }

    /// The field of a map of `[rows, columns]` units: what reaches it is limited to what its
    /// units' fields cover.
    pub fn clipped(&self, map: [usize; 2]) -> Self {
        let reach = std::array::from_fn(|a| {
            let end = self.first[a] + (map[a].saturating_sub(1) * self.jump[a] + self.size[a]) as i64;
            [self.reach[a][0].max(self.first[a]), self.reach[a][1].min(end)]
        });
        Self { reach, ..*self }
    }

    /// The centre of unit 0's field in input coordinates (`first + (size - 1) / 2`): Araujo et
    /// al.'s "start", half-integral for an even size.
    pub fn start(&self) -> [f64; 2] {
        [0, 1].map(|a| self.first[a] as f64 + (self.size[a] as f64 - 1.0) / 2.0)
    }

    /// The field after a sliding window over the map this field describes.
    pub fn through(&self, window: &Window) -> Self {
        let mut out = *self;
        for a in 0..2 {
            out.size[a] = self.size[a] + window.dilation[a] * (window.kernel[a] - 1) * self.jump[a];
            out.jump[a] = self.jump[a] * window.stride[a];
            out.first[a] = self.first[a] - (window.padding_before[a] * self.jump[a]) as i64;
        }
        out
    }

    /// The field of a unit that sees every unit of a `[rows, columns]` map with this field (a
    /// global pooling, a flatten).
    pub fn whole(&self, map: [usize; 2]) -> Self {
        self.through(&Window { kernel: map, stride: map, ..Window::square(1, 1, 0) })
    }

    /// The union of two fields over the same map (a residual addition, a concatenation).
    pub fn union(&self, other: &Self) -> Self {
        let mut out = *self;
        for a in 0..2 {
            let first = self.first[a].min(other.first[a]);
            let end = (self.first[a] + self.size[a] as i64).max(other.first[a] + other.size[a] as i64);
            out.first[a] = first;
            out.size[a] = (end - first) as usize;
            out.jump[a] = self.jump[a].max(other.jump[a]);
            out.reach[a] = [self.reach[a][0].min(other.reach[a][0]), self.reach[a][1].max(other.reach[a][1])];
        }
        out
    }

    /// The input pixels that influence unit `(row, column)`: its [`region`](Self::region)
    /// within what reaches the map.
    pub fn seen(&self, row: usize, column: usize) -> [std::ops::Range<i64>; 2] {
        let [rows, columns] = self.region(row, column);
        let clip = |r: std::ops::Range<i64>, [from, to]: [i64; 2]| r.start.max(from)..r.end.min(to);
        [clip(rows, self.reach[0]), clip(columns, self.reach[1])]
    }

    /// The input rows and columns unit `(row, column)` sees, as half-open ranges that may reach
    /// past the image (`[-2, 3)` for a 5-pixel field with 2 pixels of padding).
    pub fn region(&self, row: usize, column: usize) -> [std::ops::Range<i64>; 2] {
        [(0, row), (1, column)].map(|(a, i)| {
            let first = self.first[a] + (i * self.jump[a]) as i64;
            first..first + self.size[a] as i64
        })
    }

    /// `7`, or `7x1` for a field that is not square.
    pub fn size_label(&self) -> String {
        axis_label(self.size.map(|v| v.to_string()))
    }

    /// `4`, or `4x2`.
    pub fn jump_label(&self) -> String {
        axis_label(self.jump.map(|v| v.to_string()))
    }

    /// `7.5`, `-0.5`, or `7.5,3.5` when the axes differ.
    pub fn start_label(&self) -> String {
        let [r, c] = self.start().map(|v| format!("{v}"));
        if r == c { r } else { format!("{r},{c}") }
    }
}

// In JSON with the derived `start`, which is what the lessons tabulate.
impl Serialize for ReceptiveField {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut s = serializer.serialize_struct("ReceptiveField", 5)?;
        s.serialize_field("size", &self.size)?;
        s.serialize_field("jump", &self.jump)?;
        s.serialize_field("start", &self.start())?;
        s.serialize_field("first", &self.first)?;
        s.serialize_field("reach", &self.reach)?;
        s.end()
    }
}

fn axis_label([rows, columns]: [String; 2]) -> String {
    if rows == columns { rows } else { format!("{rows}x{columns}") }
}

/// A sliding window's geometry, per axis (`[rows, columns]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Window {
    /// Kernel size.
    pub kernel: [usize; 2],
    /// Stride.
    pub stride: [usize; 2],
    /// Padding added before the first row / column.
    pub padding_before: [usize; 2],
    /// Padding added after the last row / column.
    pub padding_after: [usize; 2],
    /// Dilation.
    pub dilation: [usize; 2],
    /// Pools in ceil mode round the output size up.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub ceil_mode: bool,
}

impl Window {
    /// A square `kernel`x`kernel` window with the same stride and padding on every side.
    pub fn square(kernel: usize, stride: usize, padding: usize) -> Self {
        Self {
            kernel: [kernel; 2],
            stride: [stride; 2],
            padding_before: [padding; 2],
            padding_after: [padding; 2],
            dilation: [1, 1],
            ceil_mode: false,
        }
    }

    /// The window of a layer with Burn's padding configuration on an `input` (`[H, W]`) map.
    fn new(
        kernel: [usize; 2],
        stride: [usize; 2],
        padding: &PaddingConfig2d,
        input: [usize; 2],
        dilation: [usize; 2],
        ceil_mode: bool,
    ) -> Self {
        let total = total_padding(padding, input, kernel, stride);
        let before = match padding {
            PaddingConfig2d::Explicit(top, left, _, _) => [*top, *left],
            // PyTorch puts the odd pixel of "same" padding after.
            _ => total.map(|t| t / 2),
        };
        Self {
            kernel,
            stride,
            padding_before: before,
            padding_after: [total[0] - before[0], total[1] - before[1]],
            dilation,
            ceil_mode,
        }
    }

    fn total_padding(&self) -> [usize; 2] {
        [self.padding_before[0] + self.padding_after[0], self.padding_before[1] + self.padding_after[1]]
    }
}

/// The shape of one sample as it flows through a network (no batch dimension), with the
/// receptive field of its units. Dereferences to the dimensions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SampleShape {
    dims: Vec<usize>,
    field: ReceptiveField,
}

impl SampleShape {
    /// An input image of shape `[C, H, W]`: every unit is one pixel.
    pub fn image(dims: &[usize]) -> Self {
        let spatial = match dims {
            [_, h, w] => [*h, *w],
            _ => [1, 1],
        };
        Self { dims: dims.to_vec(), field: ReceptiveField::input(spatial) }
    }

    /// The same field with other dimensions (an operation that changes channels only).
    pub fn with_dims(&self, dims: Vec<usize>) -> Self {
        Self { dims, field: self.field }
    }

    /// The same dimensions with another field.
    pub fn with_field(&self, field: ReceptiveField) -> Self {
        Self { dims: self.dims.clone(), field }
    }

    /// The receptive field of one unit.
    pub fn field(&self) -> ReceptiveField {
        self.field
    }

    /// The dimensions.
    pub fn dims(&self) -> &[usize] {
        &self.dims
    }

    /// `torch.flatten(x, 1)`: one vector whose units see the whole map.
    pub fn flattened(&self) -> Self {
        Self { dims: vec![self.dims.iter().product()], field: self.field.whole(self.spatial()) }
    }

    /// `[H, W]` of a `[C, H, W]` map; `[1, 1]` for a vector.
    pub fn spatial(&self) -> [usize; 2] {
        match self.dims[..] {
            [_, h, w] => [h, w],
            _ => [1, 1],
        }
    }
}

impl std::ops::Deref for SampleShape {
    type Target = [usize];
    fn deref(&self) -> &[usize] {
        &self.dims
    }
}

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
                receptive_field: ReceptiveField::input([0, 0]),
                input_shape: Vec::new(),
                window: None,
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
        input: &SampleShape,
    ) -> Result<SampleShape, ShapeError> {
        let path = self.path(name);
        let step = layer.trace_step(&path, input)?;
        let field = match (&step.window, input.dims()) {
            (_, [_, h, w]) if step.output.len() != 3 => input.field().whole([*h, *w]),
            (Some(window), _) => input.field().through(window).clipped([step.output[1], step.output[2]]),
            (None, _) => input.field(),
        };
        let output = SampleShape { dims: step.output, field };
        self.rows.push(LayerSummary {
            name: path,
            kind: step.kind,
            output_shape: output.dims.clone(),
            params: step.params,
            buffers: step.buffers,
            macs: step.macs,
            receptive_field: field,
            input_shape: input.to_vec(),
            window: step.window,
            auxiliary: self.auxiliary,
        });
        Ok(output)
    }

    /// Records an operation that is not a module (a flatten, an input transform) so the table
    /// shows where the shape changes.
    pub fn op(&mut self, name: &str, kind: &str, output: SampleShape) -> SampleShape {
        self.rows.push(LayerSummary {
            name: self.path(name),
            kind: kind.to_string(),
            output_shape: output.dims.clone(),
            params: 0,
            buffers: 0,
            macs: 0,
            receptive_field: output.field,
            input_shape: Vec::new(),
            window: None,
            auxiliary: self.auxiliary,
        });
        output
    }

    /// Records an operation that merges paths (a residual addition, a concatenation) into
    /// `dims`: its units see the union of what the inputs' units see.
    pub fn merge(&mut self, name: &str, kind: &str, inputs: &[&SampleShape], dims: Vec<usize>) -> SampleShape {
        let field = inputs.iter().map(|s| s.field).reduce(|a, b| a.union(&b)).unwrap_or(ReceptiveField::input([0, 0]));
        self.op(name, kind, SampleShape { dims, field })
    }

    /// Closes the trace into a summary of `model` for `input`, ending with `output`.
    pub fn finish(self, model: &str, input: [usize; 3], output: SampleShape) -> ModelSummary {
        ModelSummary {
            model: model.to_string(),
            input_shape: input,
            output_shape: output.dims,
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
    pub output: Vec<usize>,
    /// Trainable parameters.
    pub params: usize,
    /// Buffers (non-trainable state).
    pub buffers: usize,
    /// Multiply-accumulates for one sample.
    pub macs: u64,
    /// The sliding window, for layers that have one (convolutions, pools): what the receptive
    /// field grows by. `None` keeps the field (element-wise layers); a layer whose output is a
    /// vector sees its whole input either way.
    pub window: Option<Window>,
}

impl TraceStep {
    fn shape_only(kind: &str, output: Vec<usize>) -> Self {
        Self { kind: kind.to_string(), output, params: 0, buffers: 0, macs: 0, window: None }
    }
}

/// A layer whose effect on a sample's shape can be computed from its configuration.
pub trait TraceLayer {
    /// The output shape and cost of this layer for one sample of shape `input` (`[C, H, W]` or
    /// `[F]`); `path` names the layer in errors.
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
    if ceil_mode && !steps.is_multiple_of(stride) {
        out += 1;
        // PyTorch drops a last window that would start inside the right padding only.
        if (out - 1) * stride >= len + total_padding / 2 {
            out -= 1;
        }
    }
    Some(out)
}

/// Total (both sides) padding per spatial axis for a Burn padding configuration.
fn total_padding(padding: &PaddingConfig2d, input: [usize; 2], kernel: [usize; 2], stride: [usize; 2]) -> [usize; 2] {
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

fn window_2d(path: &str, op: &str, input: [usize; 3], window: &Window) -> Result<[usize; 2], ShapeError> {
    let vanished = || ShapeError::Vanished { layer: path.to_string(), op: op.to_string(), input: input.to_vec() };
    let padding = window.total_padding();
    let axis = |a: usize| {
        window_output(
            input[a + 1],
            window.kernel[a],
            window.stride[a],
            padding[a],
            window.dilation[a],
            window.ceil_mode,
        )
        .ok_or_else(vanished)
    };
    Ok([axis(0)?, axis(1)?])
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
        let window = Window::new([kh, kw], self.stride, &self.padding, [h, w], self.dilation, false);
        let [oh, ow] = window_2d(path, &op, [c, h, w], &window)?;
        Ok(TraceStep {
            kind: "Conv2d".into(),
            output: vec![out_channels, oh, ow],
            params: self.num_params(),
            buffers: 0,
            macs: (out_channels * group_in * kh * kw * oh * ow) as u64,
            window: Some(window),
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
            window: None,
        })
    }
}

impl TraceLayer for MaxPool2d {
    fn trace_step(&self, path: &str, input: &[usize]) -> Result<TraceStep, ShapeError> {
        let op = window_label("MaxPool2d", self.kernel_size, self.stride);
        let [c, h, w] = spatial(path, &op, input)?;
        let window = Window::new(self.kernel_size, self.stride, &self.padding, [h, w], self.dilation, self.ceil_mode);
        let [oh, ow] = window_2d(path, &op, [c, h, w], &window)?;
        Ok(TraceStep { window: Some(window), ..TraceStep::shape_only("MaxPool2d", vec![c, oh, ow]) })
    }
}

impl TraceLayer for AvgPool2d {
    fn trace_step(&self, path: &str, input: &[usize]) -> Result<TraceStep, ShapeError> {
        let op = window_label("AvgPool2d", self.kernel_size, self.stride);
        let [c, h, w] = spatial(path, &op, input)?;
        let window = Window::new(self.kernel_size, self.stride, &self.padding, [h, w], [1, 1], self.ceil_mode);
        let [oh, ow] = window_2d(path, &op, [c, h, w], &window)?;
        Ok(TraceStep { window: Some(window), ..TraceStep::shape_only("AvgPool2d", vec![c, oh, ow]) })
    }
}

impl TraceLayer for AdaptiveAvgPool2d {
    fn trace_step(&self, path: &str, input: &[usize]) -> Result<TraceStep, ShapeError> {
        let [c, h, w] = spatial(path, "AdaptiveAvgPool2d", input)?;
        if h == 0 || w == 0 {
            return Err(ShapeError::Vanished {
                layer: path.into(),
                op: "AdaptiveAvgPool2d".into(),
                input: input.to_vec(),
            });
        }
        let [oh, ow] = self.output_size;
        // Equal bins are a plain pooling; unequal ones (or more bins than inputs) are counted as
        // seeing the whole map, an upper bound.
        let (kernel, stride) =
            if h % oh == 0 && w % ow == 0 { ([h / oh, w / ow], [h / oh, w / ow]) } else { ([h, w], [h, w]) };
        let window = Window { kernel, stride, ..Window::square(1, 1, 0) };
        Ok(TraceStep { window: Some(window), ..TraceStep::shape_only("AdaptiveAvgPool2d", vec![c, oh, ow]) })
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
            window: None,
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
