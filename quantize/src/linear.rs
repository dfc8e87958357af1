//! Finding the linear layers of an ONNX graph: `MatMul(X, W)` with a constant 2-D `W`,
//! with the `Add` of a constant bias that follows it when there is one.

use std::collections::HashMap;

use anyhow::Result;
use tract_onnx::pb::tensor_proto::DataType;

use crate::onnx::OnnxFile;

/// One linear layer `Y = X W (+ b)` of the graph.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Linear {
    /// Name of the MatMul node (unique; used in reports and `--keep-f32`).
    pub name: String,
    /// Index of the MatMul node in the graph.
    pub matmul: usize,
    /// Value name of `X`.
    pub input: String,
    /// Initializer name of `W` (`[k, n]`).
    pub weight: String,
    /// Reduction size.
    pub k: usize,
    /// Output columns.
    pub n: usize,
    /// The bias `Add`: its node index and the bias initializer's name.
    pub bias: Option<(usize, String)>,
    /// Value name of the layer's result (the Add's output when the bias is fused).
    pub output: String,
}

impl Linear {
    /// Weights in this layer (`k * n`).
    pub fn params(&self) -> usize {
        self.k * self.n
    }
}

/// The linear layers of `file`, in graph order.
pub fn find_linears(file: &OnnxFile) -> Result<Vec<Linear>> {
    let graph = file.graph();
    let inits = file.initializers();
    let mut consumers: HashMap<&str, Vec<usize>> = HashMap::new();
    for (i, n) in graph.node.iter().enumerate() {
        for input in &n.input {
            consumers.entry(input.as_str()).or_default().push(i);
        }
    }
    let graph_outputs: Vec<&str> = graph.output.iter().map(|o| o.name.as_str()).collect();
    let mut layers = Vec::new();
    for (i, n) in graph.node.iter().enumerate() {
        if n.op_type != "MatMul"
            || !n.domain.is_empty()
            || n.input.len() != 2
            || n.output.len() != 1
        {
            continue;
        }
        let Some(w) = inits.get(n.input[1].as_str()) else {
            continue;
        };
        if w.data_type != DataType::Float as i32
            || w.dims.len() != 2
            || w.dims.iter().any(|&d| d <= 0)
        {
            continue;
        }
        let (k, cols) = (w.dims[0] as usize, w.dims[1] as usize);
        let out = n.output[0].as_str();
        let mut bias = None;
        let only_consumer = consumers.get(out).filter(|c| c.len() == 1).map(|c| c[0]);
        if let Some(a) = only_consumer.filter(|_| !graph_outputs.contains(&out)) {
            let add = &graph.node[a];
            if add.op_type == "Add" && add.domain.is_empty() && add.input.len() == 2 {
                let other = if add.input[0] == out {
                    &add.input[1]
                } else {
                    &add.input[0]
                };
                if let Some(b) = inits.get(other.as_str()) {
                    let vector = b.dims.iter().rev().skip(1).all(|&d| d == 1)
                        && b.dims.last() == Some(&(cols as i64));
                    // A bias of rank above X's could broadcast the output up; only a
                    // plain [n] (or [1, n]) is folded.
                    if b.data_type == DataType::Float as i32 && vector && b.dims.len() <= 2 {
                        bias = Some((a, b.name.clone()));
                    }
                }
            }
        }
        let output = match &bias {
            Some((a, _)) => graph.node[*a].output[0].clone(),
            None => out.to_string(),
        };
        layers.push(Linear {
            name: if n.name.is_empty() {
                out.to_string()
            } else {
                n.name.clone()
            },
            matmul: i,
            input: n.input[0].clone(),
            weight: w.name.clone(),
            k,
            n: cols,
            bias,
            output,
        });
    }
    Ok(layers)
}
