//! Rewrites of an ONNX graph into edgeclip's int8 form: each chosen linear layer becomes
//! one `MatMulQ8` node with an int8 weight, per-column scales and the f32 bias.

use std::collections::{HashMap, HashSet};

use anyhow::{bail, Result};

use crate::kernels::{quantize_columns, QuantizedWeight};
use crate::linear::Linear;
use crate::onnx::{self, OnnxFile};
use crate::ops::{DOMAIN, MATMUL_Q8};

/// Metadata key recording how a file was quantized (`int8`, `f16`).
pub const METADATA_KEY: &str = "edgeclip.quantized";

/// Whether `file` was already written by a quantize rewrite.
pub fn is_quantized(file: &OnnxFile) -> bool {
    file.metadata(METADATA_KEY).is_some()
        || file
            .graph()
            .node
            .iter()
            .any(|n| n.domain == DOMAIN || n.op_type == MATMUL_Q8)
}

/// Quantizes a layer's weight per output column.
pub fn quantize_weight(file: &OnnxFile, layer: &Linear) -> Result<QuantizedWeight> {
    let inits = file.initializers();
    let w = inits
        .get(layer.weight.as_str())
        .ok_or_else(|| anyhow::anyhow!("weight {} of {} is missing", layer.weight, layer.name))?;
    let values = file.f32_values(w)?;
    Ok(quantize_columns(&values, layer.k, layer.n))
}

/// Replaces each of `layers` (found in `file` by [`crate::linear::find_linears`]) by a
/// `MatMulQ8` node; other nodes are untouched. Returns the rewritten model.
pub fn to_int8(file: &OnnxFile, layers: &[&Linear]) -> Result<OnnxFile> {
    if is_quantized(file) {
        bail!("the model is already quantized");
    }
    let mut out = file.clone();
    out.inline_external_data()?;
    let mut quantized: HashMap<&str, (String, String)> = HashMap::new();
    let mut new_inits = Vec::new();
    let mut replace: HashMap<usize, tract_onnx::pb::NodeProto> = HashMap::new();
    let mut remove: HashSet<usize> = HashSet::new();
    for layer in layers {
        let (w_name, s_name) = match quantized.get(layer.weight.as_str()) {
            Some(names) => names.clone(),
            None => {
                let q = quantize_weight(file, layer)?;
                let names = (
                    format!("{}.int8", layer.weight),
                    format!("{}.scale", layer.weight),
                );
                new_inits.push(onnx::i8_tensor(&names.0, &[layer.k, layer.n], &q.codes));
                new_inits.push(onnx::f32_tensor(&names.1, &[layer.n], &q.scales));
                quantized.insert(&layer.weight, names.clone());
                names
            }
        };
        let mut inputs = vec![layer.input.as_str(), w_name.as_str(), s_name.as_str()];
        if let Some((add, b)) = &layer.bias {
            inputs.push(b);
            remove.insert(*add);
        }
        let node = onnx::node(&layer.name, MATMUL_Q8, DOMAIN, &inputs, &[&layer.output]);
        replace.insert(layer.matmul, node);
    }
    let graph = out.model.graph.as_mut().expect("checked at read");
    let nodes = std::mem::take(&mut graph.node);
    graph.node = nodes
        .into_iter()
        .enumerate()
        .filter(|(i, _)| !remove.contains(i))
        .map(|(i, n)| replace.remove(&i).unwrap_or(n))
        .collect();
    // A bias Add whose own input would be rebuilt must not be reused for a second
    // layer; find_linears gives every MatMul its own Add, so nothing is left over.
    debug_assert!(replace.is_empty());
    graph.initializer.extend(new_inits);
    out.drop_unused_initializers();
    out.import_domain(DOMAIN, 1);
    out.set_metadata(METADATA_KEY, "int8");
    Ok(out)
}

/// f32 initializers with fewer elements than this stay f32 in [`to_f16`]: scalars and
/// small vectors (norm gains, scales) gain nothing in size and are where f16's 11-bit
/// mantissa would cost the most.
pub const F16_MIN_ELEMENTS: usize = 1024;

/// Stores every f32 initializer of at least [`F16_MIN_ELEMENTS`] elements as f16, each
/// read back through a `Cast` to f32 so the graph computes as before. tract folds the
/// casts at load; a runtime that computes in f16 (edgeclip on ARMv8.2) converts the
/// whole graph. Returns the rewritten model and how many initializers it converted.
pub fn to_f16(file: &OnnxFile) -> Result<(OnnxFile, usize)> {
    use tract_onnx::pb::attribute_proto::AttributeType;
    use tract_onnx::pb::tensor_proto::DataType;
    use tract_onnx::pb::AttributeProto;
    if is_quantized(file) {
        bail!("the model is already quantized");
    }
    let mut out = file.clone();
    out.inline_external_data()?;
    let mut casts = Vec::new();
    let mut converted = Vec::new();
    for t in &out.graph().initializer {
        let elements: i64 = t.dims.iter().product();
        if t.data_type != DataType::Float as i32 || (elements as usize) < F16_MIN_ELEMENTS {
            continue;
        }
        let half_name = format!("{}.f16", t.name);
        let values = out.f32_values(t)?;
        let dims: Vec<usize> = t.dims.iter().map(|&d| d as usize).collect();
        converted.push((t.name.clone(), onnx::f16_tensor(&half_name, &dims, &values)));
        let mut cast = onnx::node(
            &format!("{}.cast", t.name),
            "Cast",
            "",
            &[&half_name],
            &[&t.name],
        );
        cast.attribute.push(AttributeProto {
            name: "to".into(),
            r#type: AttributeType::Int as i32,
            i: DataType::Float as i64,
            ..Default::default()
        });
        casts.push(cast);
    }
    let count = converted.len();
    let graph = out.model.graph.as_mut().expect("checked at read");
    let names: HashSet<String> = converted.iter().map(|(n, _)| n.clone()).collect();
    graph.initializer.retain(|t| !names.contains(&t.name));
    graph
        .initializer
        .extend(converted.into_iter().map(|(_, t)| t));
    // Casts first: ONNX wants nodes in topological order.
    casts.append(&mut graph.node);
    graph.node = casts;
    out.set_metadata(METADATA_KEY, "f16");
    Ok((out, count))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::linear::find_linears;
    use tract_onnx::pb::{GraphProto, ValueInfoProto};

    /// `Y = X W + b` then `Z = Y V`: two linear layers, the second without a bias.
    fn two_layers() -> OnnxFile {
        let w: Vec<f32> = (0..12).map(|i| i as f32 * 0.1 - 0.5).collect();
        let v: Vec<f32> = (0..8).map(|i| 1.0 - i as f32 * 0.2).collect();
        let graph = GraphProto {
            node: vec![
                onnx::node("mm1", "MatMul", "", &["x", "w"], &["y0"]),
                onnx::node("add1", "Add", "", &["b", "y0"], &["y"]),
                onnx::node("mm2", "MatMul", "", &["y", "v"], &["z"]),
            ],
            initializer: vec![
                onnx::f32_tensor("w", &[3, 4], &w),
                onnx::f32_tensor("b", &[4], &[0.1, 0.2, 0.3, 0.4]),
                onnx::f32_tensor("v", &[4, 2], &v),
            ],
            input: vec![ValueInfoProto {
                name: "x".into(),
                ..Default::default()
            }],
            output: vec![ValueInfoProto {
                name: "z".into(),
                ..Default::default()
            }],
            ..Default::default()
        };
        OnnxFile::from_graph(graph, 17)
    }

    #[test]
    fn linear_layers_are_found_with_their_bias() {
        let f = two_layers();
        let layers = find_linears(&f).unwrap();
        assert_eq!(layers.len(), 2);
        assert_eq!((layers[0].k, layers[0].n), (3, 4));
        assert_eq!(layers[0].bias, Some((1, "b".to_string())));
        assert_eq!(layers[0].output, "y");
        assert_eq!(layers[1].bias, None);
        assert_eq!(layers[1].output, "z");
    }

    #[test]
    fn the_rewrite_replaces_only_the_chosen_layers() {
        let f = two_layers();
        let layers = find_linears(&f).unwrap();
        let q = to_int8(&f, &[&layers[0]]).unwrap();
        let g = q.graph();
        let ops: Vec<&str> = g.node.iter().map(|n| n.op_type.as_str()).collect();
        assert_eq!(ops, ["MatMulQ8", "MatMul"]);
        assert_eq!(g.node[0].input, ["x", "w.int8", "w.scale", "b"]);
        assert_eq!(g.node[0].output, ["y"]);
        let names: Vec<&str> = g.initializer.iter().map(|t| t.name.as_str()).collect();
        assert!(!names.contains(&"w") && names.contains(&"v") && names.contains(&"b"));
        assert!(is_quantized(&q));
        assert!(to_int8(&q, &[])
            .unwrap_err()
            .to_string()
            .contains("already quantized"));
    }

    #[test]
    fn f16_stores_large_initializers_as_half_behind_a_cast() {
        let big: Vec<f32> = (0..F16_MIN_ELEMENTS).map(|i| i as f32 / 3.0).collect();
        let mut f = two_layers();
        let table = onnx::f32_tensor("e", &[4, F16_MIN_ELEMENTS / 4], &big);
        f.model.graph.as_mut().unwrap().initializer.push(table);
        let (h, n) = to_f16(&f).unwrap();
        assert_eq!(n, 1);
        let g = h.graph();
        assert_eq!(g.node[0].op_type, "Cast");
        assert_eq!(g.node[0].input, ["e.f16"]);
        assert_eq!(g.node[0].output, ["e"]);
        assert_eq!(g.node[0].attribute[0].i, 1);
        let inits = h.initializers();
        // The small weights stay f32.
        assert!(!inits.contains_key("e") && ["w", "b", "v"].iter().all(|n| inits.contains_key(n)));
        let half = inits["e.f16"];
        assert_eq!(half.raw_data.len(), 2 * F16_MIN_ELEMENTS);
        // Values round to the nearest f16.
        let back = half::f16::from_le_bytes([half.raw_data[2 * 7], half.raw_data[2 * 7 + 1]]);
        assert_eq!(back, half::f16::from_f32(7.0 / 3.0));
        assert!(is_quantized(&h));
        assert!(to_f16(&h)
            .unwrap_err()
            .to_string()
            .contains("already quantized"));
        assert!(to_int8(&h, &[]).is_err());
    }
}
