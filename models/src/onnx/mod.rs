//! ONNX export (feature `onnx`): any registered model, with its current weights, as an ONNX file
//! that onnxruntime, TensorRT, OpenVINO or Netron open. Burn imports ONNX but does not write it.
//!
//! The graph has inference semantics (BatchNorm with its running statistics, no dropout), one
//! input `input` of shape `[N, C, H, W]` with a symbolic batch axis `N` (or a fixed one), and the
//! output `logits` (`[N, classes]`), followed by `aux1`, `aux2` ... when the auxiliary heads are
//! asked for. Initializers carry the model's PyTorch state-dict keys (`layer1.0.conv1.weight`);
//! node names follow the layer paths. Each family writes its own blocks ([`ExportOnnx`]), beside
//! their `forward`, with the standard ops of [`OnnxGraph`].
//!
//! ```
//! use burn::tensor::Device;
//! use zoo_models::onnx::{OnnxOptions, to_onnx};
//! use zoo_models::{ModelOptions, create};
//!
//! let model = create("resnet20", &ModelOptions::default(), &Device::flex()).unwrap();
//! let onnx = to_onnx(&model, "resnet20", [3, 32, 32], &OnnxOptions::default()).unwrap();
//! let graph = onnx.graph.as_ref().unwrap();
//! assert_eq!(graph.output[0].name.as_deref(), Some("logits"));
//! assert!(graph.initializer.iter().any(|t| t.name.as_deref() == Some("layer1.0.conv1.weight")));
//! ```

mod graph;
pub mod proto;

use std::path::{Path, PathBuf};

use prost::Message;

pub use graph::{OnnxGraph, Value};
use proto::{
    Dimension, GraphProto, ModelProto, OperatorSetIdProto, StringStringEntryProto, TensorShapeProto, TensorTypeProto,
    TypeProto, ValueInfoProto, data_type,
};

use crate::model::CheckpointNames;
use crate::summary::{ShapeError, format_shape};

/// The oldest opset written: 17 has every op the zoo needs with today's semantics (`Pad` and
/// `Slice` taking tensors, `BatchNormalization` without `training_mode` outputs).
pub const MIN_OPSET: i64 = 17;
/// The newest opset written; every op used here is unchanged up to it.
pub const MAX_OPSET: i64 = 21;
/// ONNX IR version 8 (ONNX 1.13), the one that goes with opset 17-18; newer opsets need newer IRs.
const fn ir_version(opset: i64) -> i64 {
    match opset {
        ..=18 => 8,
        19..=20 => 9,
        _ => 10,
    }
}
/// Protobuf cannot encode a message of 2 GiB or more.
pub const MAX_BYTES: u64 = (1 << 31) - 1;

/// Why a model could not be exported.
#[derive(Debug, thiserror::Error)]
pub enum OnnxError {
    /// A layer that no standard ONNX op computes.
    #[error("{layer}: {what} has no ONNX mapping")]
    Unsupported {
        /// The layer's path.
        layer: String,
        /// What it is.
        what: String,
    },
    /// An opset outside the supported range.
    #[error("opset {0} is not supported: {MIN_OPSET} to {MAX_OPSET}")]
    Opset(i64),
    /// The input does not fit the model.
    #[error("the model cannot take a {input} input: {source}")]
    Input {
        /// The input, `CxHxW`.
        input: String,
        /// Where the shape breaks.
        source: ShapeError,
    },
    /// The file would pass protobuf's 2 GiB limit.
    #[error("{model}: the ONNX file would be {bytes} bytes, over protobuf's 2 GiB limit")]
    TooLarge {
        /// The model.
        model: String,
        /// Its size.
        bytes: u64,
    },
    /// The file could not be written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The system's error.
        source: std::io::Error,
    },
}

impl From<ShapeError> for OnnxError {
    fn from(source: ShapeError) -> Self {
        OnnxError::Input { input: String::new(), source }
    }
}

/// How to export.
#[derive(Debug, Clone, PartialEq)]
pub struct OnnxOptions {
    /// Opset of the default domain, [`MIN_OPSET`] to [`MAX_OPSET`].
    pub opset: i64,
    /// A symbolic batch axis `N` (any batch size); `false` fixes it to `batch`.
    pub dynamic_batch: bool,
    /// The batch size when `dynamic_batch` is off.
    pub batch: usize,
    /// Also output the auxiliary classifiers' logits (GoogLeNet, Inception v3 built with them).
    pub aux_outputs: bool,
}

impl Default for OnnxOptions {
    fn default() -> Self {
        Self { opset: MIN_OPSET, dynamic_batch: true, batch: 1, aux_outputs: false }
    }
}

/// A network that writes itself into an [`OnnxGraph`]: each family implements it beside its
/// `forward`, walking the same layers in the same order.
pub trait ExportOnnx {
    /// Adds the network's nodes for input `x`; returns the logits, then the auxiliary heads'
    /// logits when `aux` is set and the network has them.
    fn export_onnx(&self, graph: &mut OnnxGraph, x: &Value, aux: bool) -> Result<Vec<Value>, OnnxError>;
}

fn tensor_info(name: &str, batch: Dimension, shape: &[usize]) -> ValueInfoProto {
    let dims =
        std::iter::once(batch).chain(shape.iter().map(|&d| Dimension { dim_value: Some(d as i64), dim_param: None }));
    ValueInfoProto {
        name: Some(name.into()),
        r#type: Some(TypeProto {
            tensor_type: Some(TensorTypeProto {
                elem_type: Some(data_type::FLOAT),
                shape: Some(TensorShapeProto { dim: dims.collect() }),
            }),
        }),
    }
}

/// The ONNX model of `model` (registry name `name`) for `[C, H, W]` inputs.
pub fn to_onnx<M: ExportOnnx + CheckpointNames>(
    model: &M,
    name: &str,
    input: [usize; 3],
    options: &OnnxOptions,
) -> Result<ModelProto, OnnxError> {
    if !(MIN_OPSET..=MAX_OPSET).contains(&options.opset) {
        return Err(OnnxError::Opset(options.opset));
    }
    let mut graph = OnnxGraph::new(|path| model.checkpoint_key(path));
    let x = Value { name: "input".into(), shape: input.to_vec() };
    let outputs = model.export_onnx(&mut graph, &x, options.aux_outputs).map_err(|e| match e {
        OnnxError::Input { source, .. } => OnnxError::Input { input: format_shape(&input), source },
        other => other,
    })?;
    let batch = || match options.dynamic_batch {
        true => Dimension { dim_value: None, dim_param: Some("N".into()) },
        false => Dimension { dim_value: Some(options.batch as i64), dim_param: None },
    };
    // Each output is renamed by an Identity node, so the graph's outputs have fixed names
    // whatever the last layer is called.
    let mut output = Vec::new();
    for (i, value) in outputs.iter().enumerate() {
        let public = if i == 0 { "logits".to_string() } else { format!("aux{i}") };
        graph.nodes.push(proto::NodeProto {
            input: vec![value.name.clone()],
            output: vec![public.clone()],
            name: Some(format!("{public}.identity")),
            op_type: Some("Identity".into()),
            domain: None,
            attribute: vec![],
        });
        output.push(tensor_info(&public, batch(), &value.shape));
    }
    let bytes = graph.weight_bytes;
    if bytes > MAX_BYTES {
        return Err(OnnxError::TooLarge { model: name.into(), bytes });
    }
    let entry = |key: &str, value: String| StringStringEntryProto { key: Some(key.into()), value: Some(value) };
    Ok(ModelProto {
        ir_version: Some(ir_version(options.opset)),
        opset_import: vec![OperatorSetIdProto { domain: Some(String::new()), version: Some(options.opset) }],
        producer_name: Some("burn-zoo".into()),
        producer_version: Some(env!("CARGO_PKG_VERSION").into()),
        doc_string: Some(format!("{name} exported by burn-zoo for {} inputs", format_shape(&input))),
        graph: Some(GraphProto {
            node: graph.nodes,
            name: Some(name.into()),
            initializer: graph.initializers,
            doc_string: None,
            input: vec![tensor_info("input", batch(), &input)],
            output,
        }),
        metadata_props: vec![entry("model", name.into()), entry("input", format_shape(&input))],
    })
}

/// Writes `model` as an ONNX file at `path` (through a temporary file and a rename, so a failure
/// leaves nothing half-written); returns the file's size in bytes.
pub fn write<M: ExportOnnx + CheckpointNames>(
    model: &M,
    name: &str,
    input: [usize; 3],
    options: &OnnxOptions,
    path: &Path,
) -> Result<u64, OnnxError> {
    let onnx = to_onnx(model, name, input, options)?;
    let bytes = onnx.encoded_len() as u64;
    if bytes > MAX_BYTES {
        return Err(OnnxError::TooLarge { model: name.into(), bytes });
    }
    let io = |source| OnnxError::Io { path: path.to_path_buf(), source };
    let partial = path.with_extension("onnx.partial");
    std::fs::write(&partial, onnx.encode_to_vec()).map_err(io)?;
    std::fs::rename(&partial, path).map_err(|e| {
        let _ = std::fs::remove_file(&partial);
        io(e)
    })?;
    Ok(bytes)
}
