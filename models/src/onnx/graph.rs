//! An ONNX graph built one layer at a time, in the order `forward` runs them: each method adds
//! the nodes of one layer, its weights as initializers under their PyTorch state-dict keys, and
//! returns the new value with its per-sample shape (worked out by the same rules as `zoo summary`).

use std::collections::HashMap;

use burn::nn::conv::Conv2d;
use burn::nn::pool::{AdaptiveAvgPool2d, AvgPool2d, MaxPool2d};
use burn::nn::{BatchNorm, Linear, PaddingConfig2d};
use burn::tensor::Tensor;

use super::OnnxError;
use super::proto::{AttributeProto, NodeProto, TensorProto, attribute_type, data_type};
use crate::layers::{Activation, BasicConv2d, Dense, Layer2d, Norm2d};
use crate::summary::TraceLayer;

/// A value of the graph: its name, and its shape for one sample (the batch axis is left out).
#[derive(Debug, Clone, PartialEq)]
pub struct Value {
    /// The value's name in the graph.
    pub name: String,
    /// `[C, H, W]` for a feature map, `[F]` for a vector.
    pub shape: Vec<usize>,
}

/// The nodes and initializers of a graph under construction.
pub struct OnnxGraph<'a> {
    pub(super) nodes: Vec<NodeProto>,
    pub(super) initializers: Vec<TensorProto>,
    /// Bytes of initializer data so far, for the 2 GiB limit.
    pub(super) weight_bytes: u64,
    names: HashMap<String, usize>,
    key: Box<dyn Fn(&str) -> String + 'a>,
}

fn ints(name: &str, values: impl IntoIterator<Item = usize>) -> AttributeProto {
    AttributeProto {
        name: Some(name.into()),
        r#type: Some(attribute_type::INTS),
        ints: values.into_iter().map(|v| v as i64).collect(),
        ..Default::default()
    }
}

fn int(name: &str, value: i64) -> AttributeProto {
    AttributeProto { name: Some(name.into()), r#type: Some(attribute_type::INT), i: Some(value), ..Default::default() }
}

fn float(name: &str, value: f32) -> AttributeProto {
    AttributeProto {
        name: Some(name.into()),
        r#type: Some(attribute_type::FLOAT),
        f: Some(value),
        ..Default::default()
    }
}

fn floats<const D: usize>(tensor: Tensor<D>) -> Vec<f32> {
    tensor.into_data().convert::<f32>().try_to_vec::<f32>().expect("converted to f32")
}

/// ONNX's `pads` (`[top, left, bottom, right]`) of an explicit padding.
fn pads(path: &str, padding: &PaddingConfig2d) -> Result<[usize; 4], OnnxError> {
    match *padding {
        PaddingConfig2d::Valid => Ok([0; 4]),
        PaddingConfig2d::Explicit(top, left, bottom, right) => Ok([top, left, bottom, right]),
        PaddingConfig2d::Same => Err(OnnxError::Unsupported { layer: path.into(), what: "`same` padding".into() }),
    }
}

impl<'a> OnnxGraph<'a> {
    /// An empty graph whose initializers are named by `key` from a tensor's field path
    /// ([`crate::CheckpointNames::checkpoint_key`]).
    pub fn new(key: impl Fn(&str) -> String + 'a) -> Self {
        Self { nodes: Vec::new(), initializers: Vec::new(), weight_bytes: 0, names: HashMap::new(), key: Box::new(key) }
    }

    /// `base`, or `base_2`, `base_3`, ... when taken: node and value names are unique.
    fn unique(&mut self, base: &str) -> String {
        let count = self.names.entry(base.to_string()).or_insert(0);
        *count += 1;
        if *count == 1 { base.to_string() } else { format!("{base}_{count}") }
    }

    fn node(
        &mut self,
        op: &str,
        path: &str,
        inputs: Vec<String>,
        attribute: Vec<AttributeProto>,
        shape: Vec<usize>,
    ) -> Value {
        let name = self.unique(if path.is_empty() { op } else { path });
        self.nodes.push(NodeProto {
            input: inputs,
            output: vec![name.clone()],
            name: Some(name.clone()),
            op_type: Some(op.into()),
            domain: None,
            attribute,
        });
        Value { name, shape }
    }

    fn tensor(&mut self, name: String, dims: &[usize], data_type: i32, raw: Vec<u8>) -> String {
        self.weight_bytes += raw.len() as u64;
        self.initializers.push(TensorProto {
            dims: dims.iter().map(|&d| d as i64).collect(),
            data_type: Some(data_type),
            name: Some(name.clone()),
            raw_data: Some(raw),
        });
        name
    }

    /// A float initializer for the tensor at field path `path`.
    fn weight(&mut self, path: &str, dims: &[usize], values: Vec<f32>) -> String {
        let name = (self.key)(path);
        self.tensor(name, dims, data_type::FLOAT, values.iter().flat_map(|v| v.to_le_bytes()).collect())
    }

    /// A float constant that is not a model tensor.
    fn constant(&mut self, name: &str, dims: &[usize], values: &[f32]) -> String {
        let name = self.unique(name);
        self.tensor(name, dims, data_type::FLOAT, values.iter().flat_map(|v| v.to_le_bytes()).collect())
    }

    fn constant_i64(&mut self, name: &str, values: &[i64]) -> String {
        let name = self.unique(name);
        self.tensor(name, &[values.len()], data_type::INT64, values.iter().flat_map(|v| v.to_le_bytes()).collect())
    }

    fn shape_after(path: &str, layer: &impl TraceLayer, x: &Value) -> Result<Vec<usize>, OnnxError> {
        Ok(layer.trace_step(path, &x.shape)?.output)
    }

    /// `Conv`, with the weight and bias at `path.weight` and `path.bias`.
    pub fn conv(&mut self, path: &str, conv: &Conv2d, x: &Value) -> Result<Value, OnnxError> {
        let shape = Self::shape_after(path, conv, x)?;
        let dims = conv.weight.val().dims();
        let weight = self.weight(&format!("{path}.weight"), &dims, floats(conv.weight.val()));
        let mut inputs = vec![x.name.clone(), weight];
        if let Some(bias) = &conv.bias {
            inputs.push(self.weight(&format!("{path}.bias"), &[dims[0]], floats(bias.val())));
        }
        let attributes = vec![
            ints("kernel_shape", conv.kernel_size),
            ints("strides", conv.stride),
            ints("pads", pads(path, &conv.padding)?),
            ints("dilations", conv.dilation),
            int("group", conv.groups as i64),
        ];
        Ok(self.node("Conv", path, inputs, attributes, shape))
    }

    /// `BatchNormalization` in inference mode, with the running statistics as initializers.
    pub fn batch_norm(&mut self, path: &str, norm: &BatchNorm, x: &Value) -> Result<Value, OnnxError> {
        let shape = Self::shape_after(path, norm, x)?;
        let channels = norm.gamma.val().dims()[0];
        let inputs = vec![
            x.name.clone(),
            self.weight(&format!("{path}.weight"), &[channels], floats(norm.gamma.val())),
            self.weight(&format!("{path}.bias"), &[channels], floats(norm.beta.val())),
            self.weight(&format!("{path}.running_mean"), &[channels], floats(norm.running_mean.value_sync())),
            self.weight(&format!("{path}.running_var"), &[channels], floats(norm.running_var.value_sync())),
        ];
        Ok(self.node("BatchNormalization", path, inputs, vec![float("epsilon", norm.epsilon as f32)], shape))
    }

    /// A [`Norm2d`]: its BatchNorm, or nothing once folded.
    pub fn norm(&mut self, path: &str, norm: &Norm2d, x: &Value) -> Result<Value, OnnxError> {
        match norm.as_batch_norm() {
            Some(norm) => self.batch_norm(path, norm, x),
            None => Ok(x.clone()),
        }
    }

    /// `Relu`.
    pub fn relu(&mut self, path: &str, x: &Value) -> Value {
        self.node("Relu", path, vec![x.name.clone()], vec![], x.shape.clone())
    }

    /// `Tanh`.
    pub fn tanh(&mut self, path: &str, x: &Value) -> Value {
        self.node("Tanh", path, vec![x.name.clone()], vec![], x.shape.clone())
    }

    /// `MaxPool`, `ceil_mode` included.
    pub fn max_pool(&mut self, path: &str, pool: &MaxPool2d, x: &Value) -> Result<Value, OnnxError> {
        let shape = Self::shape_after(path, pool, x)?;
        let attributes = vec![
            ints("kernel_shape", pool.kernel_size),
            ints("strides", pool.stride),
            ints("pads", pads(path, &pool.padding)?),
            ints("dilations", pool.dilation),
            int("ceil_mode", pool.ceil_mode as i64),
        ];
        Ok(self.node("MaxPool", path, vec![x.name.clone()], attributes, shape))
    }

    /// `AveragePool`, `ceil_mode` and `count_include_pad` included.
    pub fn avg_pool(&mut self, path: &str, pool: &AvgPool2d, x: &Value) -> Result<Value, OnnxError> {
        let shape = Self::shape_after(path, pool, x)?;
        let attributes = vec![
            ints("kernel_shape", pool.kernel_size),
            ints("strides", pool.stride),
            ints("pads", pads(path, &pool.padding)?),
            int("ceil_mode", pool.ceil_mode as i64),
            int("count_include_pad", pool.count_include_pad as i64),
        ];
        Ok(self.node("AveragePool", path, vec![x.name.clone()], attributes, shape))
    }

    /// Adaptive average pooling: `GlobalAveragePool` to 1x1, nothing when the map already has the
    /// output size, an `AveragePool` when the output size divides the input's; otherwise (uneven
    /// windows, or a map smaller than the output) each output cell is a `Slice` of its window,
    /// averaged, and the cells are concatenated: PyTorch's windows `[⌊i·h/o⌋, ⌈(i+1)·h/o⌉)`.
    pub fn adaptive_avg_pool(&mut self, path: &str, pool: &AdaptiveAvgPool2d, x: &Value) -> Result<Value, OnnxError> {
        let shape = Self::shape_after(path, pool, x)?;
        let [c, h, w] = [x.shape[0], x.shape[1], x.shape[2]];
        let [oh, ow] = [shape[1], shape[2]];
        if [oh, ow] == [1, 1] {
            return Ok(self.node("GlobalAveragePool", path, vec![x.name.clone()], vec![], shape));
        }
        if [oh, ow] == [h, w] {
            return Ok(x.clone());
        }
        if h % oh == 0 && w % ow == 0 {
            let kernel = [h / oh, w / ow];
            let attributes = vec![ints("kernel_shape", kernel), ints("strides", kernel)];
            return Ok(self.node("AveragePool", path, vec![x.name.clone()], attributes, shape));
        }
        let window = |i: usize, input: usize, output: usize| (i * input / output, ((i + 1) * input).div_ceil(output));
        let mut rows = Vec::with_capacity(oh);
        for i in 0..oh {
            let (top, bottom) = window(i, h, oh);
            let mut cells = Vec::with_capacity(ow);
            for j in 0..ow {
                let (left, right) = window(j, w, ow);
                let cell = format!("{path}.cell{i}_{j}");
                let starts = self.constant_i64(&format!("{cell}.starts"), &[top as i64, left as i64]);
                let ends = self.constant_i64(&format!("{cell}.ends"), &[bottom as i64, right as i64]);
                let axes = self.constant_i64(&format!("{cell}.axes"), &[2, 3]);
                let slice_shape = vec![c, bottom - top, right - left];
                let slice = self.node("Slice", &cell, vec![x.name.clone(), starts, ends, axes], vec![], slice_shape);
                let kernel = [bottom - top, right - left];
                cells.push(if kernel == [1, 1] {
                    slice
                } else {
                    let attributes = vec![ints("kernel_shape", kernel), ints("strides", kernel)];
                    self.node("AveragePool", &format!("{cell}.mean"), vec![slice.name], attributes, vec![c, 1, 1])
                });
            }
            let names = cells.iter().map(|v| v.name.clone()).collect();
            rows.push(self.node("Concat", &format!("{path}.row{i}"), names, vec![int("axis", 3)], vec![c, 1, ow]));
        }
        let names = rows.iter().map(|v| v.name.clone()).collect();
        Ok(self.node("Concat", path, names, vec![int("axis", 2)], shape))
    }

    /// `Flatten` from axis 1: `[N, C, H, W]` to `[N, C·H·W]`.
    pub fn flatten(&mut self, path: &str, x: &Value) -> Value {
        let features = x.shape.iter().product();
        self.node("Flatten", path, vec![x.name.clone()], vec![int("axis", 1)], vec![features])
    }

    /// `Gemm` with the weight in PyTorch's `[out, in]` layout (`transB`), as `nn.Linear` stores it.
    pub fn linear(&mut self, path: &str, linear: &Linear, x: &Value) -> Result<Value, OnnxError> {
        let shape = Self::shape_after(path, linear, x)?;
        let [inputs, outputs] = linear.weight.val().dims();
        let weight =
            self.weight(&format!("{path}.weight"), &[outputs, inputs], floats(linear.weight.val().transpose()));
        let mut node_inputs = vec![x.name.clone(), weight];
        if let Some(bias) = &linear.bias {
            node_inputs.push(self.weight(&format!("{path}.bias"), &[outputs], floats(bias.val())));
        }
        Ok(self.node("Gemm", path, node_inputs, vec![int("transB", 1)], shape))
    }

    /// Element-wise `Add` of two values of one shape.
    pub fn add(&mut self, path: &str, a: &Value, b: &Value) -> Value {
        self.node("Add", path, vec![a.name.clone(), b.name.clone()], vec![], a.shape.clone())
    }

    /// `Concat` along the channels.
    pub fn concat(&mut self, path: &str, values: &[Value]) -> Value {
        let mut shape = values[0].shape.clone();
        shape[0] = values.iter().map(|v| v.shape[0]).sum();
        self.node("Concat", path, values.iter().map(|v| v.name.clone()).collect(), vec![int("axis", 1)], shape)
    }

    /// `x · scale[c] + shift[c]` per channel (`Mul` then `Add` with `[1, C, 1, 1]` constants).
    pub fn channel_affine(&mut self, path: &str, scale: &[f32], shift: &[f32], x: &Value) -> Value {
        let dims = [1, scale.len(), 1, 1];
        let scale = self.constant(&format!("{path}.scale"), &dims, scale);
        let shift = self.constant(&format!("{path}.shift"), &dims, shift);
        let scaled = self.node("Mul", &format!("{path}.mul"), vec![x.name.clone(), scale], vec![], x.shape.clone());
        self.node("Add", &format!("{path}.add"), vec![scaled.name, shift], vec![], x.shape.clone())
    }

    /// `Slice` of the spatial axes with a step: `x[:, :, ::step, ::step]`.
    pub fn subsample(&mut self, path: &str, step: usize, x: &Value) -> Value {
        let starts = self.constant_i64(&format!("{path}.starts"), &[0, 0]);
        let ends = self.constant_i64(&format!("{path}.ends"), &[i64::MAX, i64::MAX]);
        let axes = self.constant_i64(&format!("{path}.axes"), &[2, 3]);
        let steps = self.constant_i64(&format!("{path}.steps"), &[step as i64, step as i64]);
        let shape = vec![x.shape[0], x.shape[1].div_ceil(step), x.shape[2].div_ceil(step)];
        self.node("Slice", path, vec![x.name.clone(), starts, ends, axes, steps], vec![], shape)
    }

    /// Zero `Pad` of the channel axis: `before` channels in front, `after` behind.
    pub fn pad_channels(&mut self, path: &str, before: usize, after: usize, x: &Value) -> Value {
        let pads = self.constant_i64(&format!("{path}.pads"), &[0, before as i64, 0, 0, 0, after as i64, 0, 0]);
        let shape = vec![x.shape[0] + before + after, x.shape[1], x.shape[2]];
        self.node("Pad", path, vec![x.name.clone(), pads], vec![], shape)
    }

    /// One entry of a convolutional sequence.
    pub fn layer(&mut self, path: &str, layer: &Layer2d, x: &Value) -> Result<Value, OnnxError> {
        match layer {
            Layer2d::Conv(conv) => self.conv(path, conv, x),
            Layer2d::BatchNorm(norm) => self.norm(path, norm, x),
            Layer2d::Relu(_) => Ok(self.relu(path, x)),
            Layer2d::Tanh(_) => Ok(self.tanh(path, x)),
            Layer2d::MaxPool(pool) => self.max_pool(path, pool, x),
            Layer2d::AvgPool(pool) => self.avg_pool(path, pool, x),
        }
    }

    /// A sequence stored in field `path` (`features.0`, `features.1`, ...).
    pub fn sequence(&mut self, path: &str, layers: &[Layer2d], x: &Value) -> Result<Value, OnnxError> {
        layers.iter().enumerate().try_fold(x.clone(), |x, (i, layer)| self.layer(&format!("{path}.{i}"), layer, &x))
    }

    /// A ReLU or a tanh.
    pub fn activation(&mut self, path: &str, activation: &Activation, x: &Value) -> Value {
        match activation {
            Activation::Relu(_) => self.relu(path, x),
            Activation::Tanh(_) => self.tanh(path, x),
        }
    }

    /// One entry of a fully connected sequence; dropout is the identity at inference.
    pub fn dense(&mut self, path: &str, layer: &Dense, x: &Value) -> Result<Value, OnnxError> {
        match layer {
            Dense::Dropout(_) => Ok(x.clone()),
            Dense::Linear(linear) => self.linear(path, linear, x),
            Dense::Relu(_) => Ok(self.relu(path, x)),
            Dense::Tanh(_) => Ok(self.tanh(path, x)),
        }
    }

    /// A fully connected sequence stored in field `path` (`classifier.0`, ...).
    pub fn dense_sequence(&mut self, path: &str, layers: &[Dense], x: &Value) -> Result<Value, OnnxError> {
        layers.iter().enumerate().try_fold(x.clone(), |x, (i, layer)| self.dense(&format!("{path}.{i}"), layer, &x))
    }

    /// Convolution, BatchNorm, ReLU (GoogLeNet's and Inception v3's `BasicConv2d`).
    pub fn basic_conv(&mut self, path: &str, block: &BasicConv2d, x: &Value) -> Result<Value, OnnxError> {
        let x = self.conv(&format!("{path}.conv"), &block.conv, x)?;
        let x = self.norm(&format!("{path}.bn"), &block.bn, &x)?;
        Ok(self.relu(&format!("{path}.relu"), &x))
    }

    /// torchvision's `transform_input`: ImageNet-normalised input re-normalised to [-1, 1].
    pub fn transform_imagenet_input(&mut self, x: &Value) -> Value {
        let (scale, shift) = crate::layers::imagenet_transform();
        self.channel_affine("transform_input", &scale, &shift, x)
    }
}
