//! The rewritten graph as tract sees it: same results as f32 within int8 error, the
//! products on tract's integer kernels with pre-packed weights, or on the fused kernel
//! where the CPU has one, with bit-identical results.

use edgeclip_quantize::linear::find_linears;
use edgeclip_quantize::onnx::{self, OnnxFile};
use edgeclip_quantize::ops::Kernels;
use edgeclip_quantize::rewrite::to_int8;
use tract_onnx::pb::GraphProto;
use tract_onnx::prelude::*;

const M: usize = 10;
const K: usize = 64;
const N: usize = 48;

/// `relu(x W1 + b1) W2`: two linear layers around a non-linearity, like an MLP block.
fn mlp() -> OnnxFile {
    let w1: Vec<f32> = (0..K * N)
        .map(|i| ((i * 7919) % 1009) as f32 / 1009.0 - 0.5)
        .collect();
    let b1: Vec<f32> = (0..N).map(|i| i as f32 * 0.01).collect();
    let w2: Vec<f32> = (0..N * N)
        .map(|i| ((i * 104_729) % 997) as f32 / 997.0 - 0.5)
        .collect();
    let graph = GraphProto {
        node: vec![
            onnx::node("fc1", "MatMul", "", &["x", "w1"], &["h0"]),
            onnx::node("fc1_bias", "Add", "", &["h0", "b1"], &["h1"]),
            onnx::node("act", "Relu", "", &["h1"], &["h"]),
            onnx::node("fc2", "MatMul", "", &["h", "w2"], &["y"]),
        ],
        initializer: vec![
            onnx::f32_tensor("w1", &[K, N], &w1),
            onnx::f32_tensor("b1", &[N], &b1),
            onnx::f32_tensor("w2", &[N, N], &w2),
        ],
        input: vec![onnx::f32_value("x", &[1, M, K])],
        output: vec![onnx::f32_value("y", &[1, M, N])],
        ..Default::default()
    };
    OnnxFile::from_graph(graph, 17)
}

fn plan(file: &OnnxFile, kernels: Kernels) -> std::sync::Arc<TypedRunnableModel> {
    let mut parser = tract_onnx::onnx();
    edgeclip_quantize::ops::register_with(&mut parser.op_register, kernels);
    let bytes = file.encode();
    parser
        .model_for_read(&mut bytes.as_slice())
        .unwrap()
        .into_optimized()
        .unwrap()
        .into_runnable()
        .unwrap()
}

fn run(plan: &std::sync::Arc<TypedRunnableModel>, x: &[f32]) -> Vec<f32> {
    let input = Tensor::from_shape(&[1, M, K], x).unwrap();
    let out = plan.run(tvec!(input.into_tvalue())).unwrap();
    out[0]
        .try_as_plain_ram()
        .unwrap()
        .as_slice::<f32>()
        .unwrap()
        .to_vec()
}

#[test]
fn int8_graph_matches_f32_and_runs_integer_kernels() {
    let f = mlp();
    let layers = find_linears(&f).unwrap();
    let all: Vec<_> = layers.iter().collect();
    let q = to_int8(&f, &all).unwrap();
    let (p32, p8) = (plan(&f, Kernels::Tract), plan(&q, Kernels::Tract));
    let x: Vec<f32> = (0..M * K).map(|i| (i as f32 * 0.37).sin()).collect();
    let (a, b) = (run(&p32, &x), run(&p8, &x));
    let sqnr = edgeclip_quantize::kernels::sqnr_db(&a, &b);
    assert!(sqnr > 30.0, "int8 output SQNR {sqnr:.1} dB");

    // Every product of the int8 plan is an integer one with its weights packed at load:
    // an OptMatMul accumulating in i32, and no f32 product left.
    let mut int_products = 0;
    for node in p8.model().nodes() {
        if node.op().name() == "OptMatMul" {
            let info = node.op().info().unwrap().join(" ");
            assert!(info.contains("I32"), "an f32 product is left: {info}");
            assert!(info.contains("mmm_i32"), "not an integer kernel: {info}");
            int_products += 1;
        }
    }
    assert_eq!(int_products, 2);
    let names: Vec<String> = p8
        .model()
        .nodes()
        .iter()
        .map(|n| n.op().name().to_string())
        .collect();
    assert!(names.iter().any(|n| n == "QuantizeRowsI8"), "{names:?}");
    assert!(names.iter().any(|n| n == "DequantizeProduct"), "{names:?}");
}

#[test]
fn layers_left_out_stay_f32() {
    let f = mlp();
    let layers = find_linears(&f).unwrap();
    let q = to_int8(&f, &[&layers[1]]).unwrap();
    let p8 = plan(&q, Kernels::Tract);
    let kinds: Vec<String> = p8
        .model()
        .nodes()
        .iter()
        .filter(|n| n.op().name() == "OptMatMul")
        .map(|n| n.op().info().unwrap().join(" "))
        .collect();
    assert_eq!(kinds.len(), 2);
    assert_eq!(
        kinds.iter().filter(|i| i.contains("mmm_i32")).count(),
        1,
        "{kinds:?}"
    );
}

fn op_names(plan: &TypedRunnableModel) -> Vec<String> {
    plan.model()
        .nodes()
        .iter()
        .map(|n| n.op().name().to_string())
        .collect()
}

#[test]
fn the_fused_kernel_gives_the_same_bits_as_tracts() {
    let f = mlp();
    let layers = find_linears(&f).unwrap();
    let all: Vec<_> = layers.iter().collect();
    let q = to_int8(&f, &all).unwrap();
    let (tract, auto) = (plan(&q, Kernels::Tract), plan(&q, Kernels::Auto));
    let names = op_names(&auto);
    let fused = names.iter().filter(|n| *n == "LinearQ8").count();
    match edgeclip_quantize::fused::kernel_name() {
        Some(_) => {
            assert_eq!(fused, 2, "{names:?}");
            assert!(!names.iter().any(|n| n == "OptMatMul"), "{names:?}");
        }
        None => assert_eq!(fused, 0, "{names:?}"),
    }
    let x: Vec<f32> = (0..M * K).map(|i| (i as f32 * 0.11).cos() * 3.0).collect();
    let (a, b) = (run(&tract, &x), run(&auto, &x));
    assert_eq!(a.len(), b.len());
    assert!(a.iter().zip(&b).all(|(a, b)| a.to_bits() == b.to_bits()));

    // Only the int8 layer is fused when the other stays f32.
    let one = to_int8(&f, &[&layers[0]]).unwrap();
    let names = op_names(&plan(&one, Kernels::Auto));
    let fused_now = names.iter().filter(|n| *n == "LinearQ8").count();
    assert_eq!(fused_now, fused / 2, "{names:?}");
}
