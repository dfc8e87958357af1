//! Criterion bench of one int8 linear layer at ViT-B/32's shapes (50 tokens) in three
//! forms, side by side: the f32 layer, int8 on tract's own integer kernels, and int8 on
//! edgeclip's fused kernel (the default where the CPU has AVX-512 VNNI).
//!
//! `cargo bench --bench int8`. The whole-encoder comparison with onnxruntime is
//! `models/compare_int8.py`.

use std::sync::Arc;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use edgeclip_quantize::linear::find_linears;
use edgeclip_quantize::onnx::{self, OnnxFile};
use edgeclip_quantize::ops::Kernels;
use edgeclip_quantize::rewrite::to_int8;
use tract_onnx::pb::GraphProto;
use tract_onnx::prelude::*;

const TOKENS: usize = 50;

/// `y = x W + b` with deterministic weights.
fn linear(k: usize, n: usize) -> OnnxFile {
    let w: Vec<f32> = (0..k * n)
        .map(|i| ((i * 7919) % 2003) as f32 / 2003.0 - 0.5)
        .collect();
    let b: Vec<f32> = (0..n).map(|i| (i % 7) as f32 * 0.1).collect();
    OnnxFile::from_graph(
        GraphProto {
            node: vec![
                onnx::node("fc", "MatMul", "", &["x", "w"], &["h"]),
                onnx::node("fc_bias", "Add", "", &["h", "b"], &["y"]),
            ],
            initializer: vec![
                onnx::f32_tensor("w", &[k, n], &w),
                onnx::f32_tensor("b", &[n], &b),
            ],
            input: vec![onnx::f32_value("x", &[1, TOKENS, k])],
            output: vec![onnx::f32_value("y", &[1, TOKENS, n])],
            ..Default::default()
        },
        17,
    )
}

fn plan(file: &OnnxFile, kernels: Kernels) -> Arc<TypedRunnableModel> {
    let mut parser = tract_onnx::onnx();
    edgeclip_quantize::ops::register_with(&mut parser.op_register, kernels);
    parser
        .model_for_read(&mut file.encode().as_slice())
        .and_then(|m| m.into_optimized())
        .and_then(|m| m.into_runnable())
        .expect("a plan for the bench layer")
}

fn layers(c: &mut Criterion) {
    let mut group = c.benchmark_group("linear_50tok");
    group.sample_size(50);
    for (k, n) in [(768, 768), (768, 3072), (3072, 768)] {
        let f32_file = linear(k, n);
        let found = find_linears(&f32_file).expect("one linear layer");
        let int8_file = to_int8(&f32_file, &found.iter().collect::<Vec<_>>()).expect("int8");
        let x: Vec<f32> = (0..TOKENS * k).map(|i| (i as f32 * 0.37).sin()).collect();
        let input: TValue = Tensor::from_shape(&[1, TOKENS, k], &x).unwrap().into();
        group.throughput(Throughput::Elements((TOKENS * k * n) as u64));
        let mut forms = vec![
            ("f32", plan(&f32_file, Kernels::Tract)),
            ("int8-tract", plan(&int8_file, Kernels::Tract)),
        ];
        if edgeclip_quantize::fused::kernel_name().is_some() {
            forms.push(("int8-fused", plan(&int8_file, Kernels::Auto)));
        }
        for (name, p) in forms {
            group.bench_function(BenchmarkId::new(name, format!("{k}x{n}")), |b| {
                b.iter(|| p.run(tvec!(input.clone())).unwrap())
            });
        }
    }
    group.finish();
}

criterion_group!(benches, layers);
criterion_main!(benches);
