//! Reading and writing ONNX model files at the protobuf level: decoding, initializers as
//! f32 (inline or in external data files), and building the tensors and nodes the
//! rewrites add.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context, Result};
use prost::Message;
use tract_onnx::pb::tensor_proto::{DataLocation, DataType};
use tract_onnx::pb::{
    ModelProto, NodeProto, OperatorSetIdProto, StringStringEntryProto, TensorProto, ValueInfoProto,
};

/// An ONNX model and the folder its external data (if any) is relative to.
#[derive(Debug, Clone)]
pub struct OnnxFile {
    /// The decoded model.
    pub model: ModelProto,
    /// Folder of the file, for `external_data` locations.
    pub dir: PathBuf,
}

impl OnnxFile {
    /// A model around `graph` in the default domain at `opset` (tests and tools that
    /// build small graphs).
    pub fn from_graph(graph: tract_onnx::pb::GraphProto, opset: i64) -> OnnxFile {
        OnnxFile {
            model: ModelProto {
                ir_version: 8,
                opset_import: vec![OperatorSetIdProto {
                    domain: String::new(),
                    version: opset,
                }],
                graph: Some(graph),
                ..Default::default()
            },
            dir: PathBuf::new(),
        }
    }

    /// Reads and decodes `path`.
    pub fn read(path: &Path) -> Result<OnnxFile> {
        let bytes =
            std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
        let model = ModelProto::decode(bytes.as_slice())
            .map_err(|e| anyhow!("{} is not an ONNX model: {e}", path.display()))?;
        if model.graph.is_none() {
            bail!("{} is not an ONNX model: it has no graph", path.display());
        }
        let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
        Ok(OnnxFile { model, dir })
    }

    /// The model's graph (present: checked by [`OnnxFile::read`]).
    pub fn graph(&self) -> &tract_onnx::pb::GraphProto {
        self.model.graph.as_ref().expect("checked at read")
    }

    /// Initializers by name.
    pub fn initializers(&self) -> HashMap<&str, &TensorProto> {
        self.graph()
            .initializer
            .iter()
            .map(|t| (t.name.as_str(), t))
            .collect()
    }

    /// An initializer's values as f32 (it must be a float tensor).
    pub fn f32_values(&self, t: &TensorProto) -> Result<Vec<f32>> {
        if t.data_type != DataType::Float as i32 {
            bail!(
                "initializer {} is not f32 (ONNX type {})",
                t.name,
                t.data_type
            );
        }
        let len = element_count(t)?;
        let values: Vec<f32> = if t.data_location == Some(DataLocation::External as i32) {
            let bytes = self.external_bytes(t)?;
            le_f32(&bytes)
        } else if !t.raw_data.is_empty() {
            le_f32(&t.raw_data)
        } else {
            t.float_data.clone()
        };
        if values.len() != len {
            bail!(
                "initializer {} holds {} values for {len} elements",
                t.name,
                values.len()
            );
        }
        Ok(values)
    }

    fn external_bytes(&self, t: &TensorProto) -> Result<Vec<u8>> {
        let entry = |key: &str| {
            t.external_data
                .iter()
                .find(|e| e.key == key)
                .map(|e| e.value.as_str())
        };
        let location = entry("location").ok_or_else(|| {
            anyhow!(
                "initializer {} has external data without a location",
                t.name
            )
        })?;
        let offset: u64 = entry("offset").map(str::parse).transpose()?.unwrap_or(0);
        let path = self.dir.join(location);
        let len = element_count(t)? * 4;
        let length: usize = entry("length").map(str::parse).transpose()?.unwrap_or(len);
        use std::io::{Read, Seek, SeekFrom};
        let mut f = std::fs::File::open(&path)
            .with_context(|| format!("cannot open external data {}", path.display()))?;
        f.seek(SeekFrom::Start(offset))?;
        let mut buf = vec![0u8; length];
        f.read_exact(&mut buf).with_context(|| {
            format!("{} is too short for initializer {}", path.display(), t.name)
        })?;
        Ok(buf)
    }

    /// Encodes the model; external data is not written, so every initializer the caller
    /// kept must be inline (see [`OnnxFile::inline_external_data`]).
    pub fn encode(&self) -> Vec<u8> {
        self.model.encode_to_vec()
    }

    /// Moves every external initializer's data into the model, so it can be written as
    /// one file.
    pub fn inline_external_data(&mut self) -> Result<()> {
        let external: Vec<usize> = self
            .graph()
            .initializer
            .iter()
            .enumerate()
            .filter(|(_, t)| t.data_location == Some(DataLocation::External as i32))
            .map(|(i, _)| i)
            .collect();
        for i in external {
            let t = &self.graph().initializer[i];
            let bytes = self.external_bytes(t)?;
            let t = &mut self.model.graph.as_mut().expect("checked").initializer[i];
            t.raw_data = bytes;
            t.data_location = None;
            t.external_data.clear();
        }
        Ok(())
    }

    /// Declares `domain` at `version` in the model's opset imports, once.
    pub fn import_domain(&mut self, domain: &str, version: i64) {
        if !self.model.opset_import.iter().any(|o| o.domain == domain) {
            self.model.opset_import.push(OperatorSetIdProto {
                domain: domain.to_string(),
                version,
            });
        }
    }

    /// Sets a `metadata_props` entry, replacing an earlier value.
    pub fn set_metadata(&mut self, key: &str, value: &str) {
        self.model.metadata_props.retain(|e| e.key != key);
        self.model.metadata_props.push(StringStringEntryProto {
            key: key.to_string(),
            value: value.to_string(),
        });
    }

    /// A `metadata_props` value.
    pub fn metadata(&self, key: &str) -> Option<&str> {
        self.model
            .metadata_props
            .iter()
            .find(|e| e.key == key)
            .map(|e| e.value.as_str())
    }

    /// Drops initializers that no node, graph output or nested graph reads any more.
    pub fn drop_unused_initializers(&mut self) {
        let graph = self.model.graph.as_mut().expect("checked");
        let mut used: std::collections::HashSet<String> = graph
            .node
            .iter()
            .flat_map(|n| n.input.iter().cloned())
            .collect();
        used.extend(graph.output.iter().map(|o| o.name.clone()));
        // Subgraphs (If / Loop bodies) may read outer initializers by name.
        for n in &graph.node {
            for a in &n.attribute {
                for g in a.g.iter().chain(a.graphs.iter()) {
                    used.extend(g.node.iter().flat_map(|n| n.input.iter().cloned()));
                }
            }
        }
        graph.initializer.retain(|t| used.contains(&t.name));
        graph.input.retain(|i| !i.name.is_empty());
    }
}

fn element_count(t: &TensorProto) -> Result<usize> {
    t.dims.iter().try_fold(1usize, |acc, &d| {
        usize::try_from(d)
            .ok()
            .and_then(|d| acc.checked_mul(d))
            .ok_or_else(|| anyhow!("initializer {} has a bad shape {:?}", t.name, t.dims))
    })
}

fn le_f32(bytes: &[u8]) -> Vec<f32> {
    bytes
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect()
}

/// An inline f32 tensor.
pub fn f32_tensor(name: &str, dims: &[usize], values: &[f32]) -> TensorProto {
    TensorProto {
        name: name.to_string(),
        dims: dims.iter().map(|&d| d as i64).collect(),
        data_type: DataType::Float as i32,
        raw_data: values.iter().flat_map(|v| v.to_le_bytes()).collect(),
        ..Default::default()
    }
}

/// An inline int8 tensor.
pub fn i8_tensor(name: &str, dims: &[usize], values: &[i8]) -> TensorProto {
    TensorProto {
        name: name.to_string(),
        dims: dims.iter().map(|&d| d as i64).collect(),
        data_type: DataType::Int8 as i32,
        raw_data: values.iter().map(|&v| v as u8).collect(),
        ..Default::default()
    }
}

/// An inline f16 tensor from f32 values (rounded to nearest).
pub fn f16_tensor(name: &str, dims: &[usize], values: &[f32]) -> TensorProto {
    TensorProto {
        name: name.to_string(),
        dims: dims.iter().map(|&d| d as i64).collect(),
        data_type: DataType::Float16 as i32,
        raw_data: values
            .iter()
            .flat_map(|&v| half::f16::from_f32(v).to_le_bytes())
            .collect(),
        ..Default::default()
    }
}

/// The description of an f32 graph input or output of fixed shape.
pub fn f32_value(name: &str, dims: &[usize]) -> ValueInfoProto {
    use tract_onnx::pb::type_proto::{Tensor as TypeTensor, Value};
    use tract_onnx::pb::{tensor_shape_proto, TensorShapeProto, TypeProto};
    let dim = dims
        .iter()
        .map(|&d| tensor_shape_proto::Dimension {
            value: Some(tensor_shape_proto::dimension::Value::DimValue(d as i64)),
            ..Default::default()
        })
        .collect();
    ValueInfoProto {
        name: name.into(),
        r#type: Some(TypeProto {
            value: Some(Value::TensorType(TypeTensor {
                elem_type: DataType::Float as i32,
                shape: Some(TensorShapeProto { dim }),
            })),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// A node with no attributes.
pub fn node(
    name: &str,
    op_type: &str,
    domain: &str,
    inputs: &[&str],
    outputs: &[&str],
) -> NodeProto {
    NodeProto {
        name: name.to_string(),
        op_type: op_type.to_string(),
        domain: domain.to_string(),
        input: inputs.iter().map(|s| s.to_string()).collect(),
        output: outputs.iter().map(|s| s.to_string()).collect(),
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tensors_round_trip_through_raw_data() {
        let t = f32_tensor("w", &[2, 2], &[1.0, -2.5, 3.25, 0.0]);
        let f = OnnxFile {
            model: ModelProto::default(),
            dir: PathBuf::new(),
        };
        assert_eq!(f.f32_values(&t).unwrap(), vec![1.0, -2.5, 3.25, 0.0]);
        let short = TensorProto {
            dims: vec![3],
            ..f32_tensor("s", &[2], &[1.0, 2.0])
        };
        assert!(f
            .f32_values(&short)
            .unwrap_err()
            .to_string()
            .contains("2 values for 3"));
        let q = i8_tensor("q", &[3], &[-127, 0, 5]);
        assert_eq!(q.raw_data, vec![0x81, 0, 5]);
    }
}
