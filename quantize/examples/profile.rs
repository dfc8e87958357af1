//! Per-operator time of an image encoder in tract, with edgeclip's quantized operators
//! registered: `cargo run --release -p edgeclip-quantize --example profile -- MODEL.onnx [SIZE]`.
//! Prints the time per operator kind and the matrix kernels the plan picked, the check
//! that int8 layers really run on tract's integer kernels.
use std::collections::BTreeMap;
use std::time::Instant;

use tract_onnx::prelude::*;
use tract_onnx::tract_core::plan::SimpleState;

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let size: usize = args.get(2).map(|s| s.parse()).transpose()?.unwrap_or(224);
    let mut onnx = tract_onnx::onnx();
    edgeclip_quantize::ops::register(&mut onnx.op_register);
    let mut model = onnx
        .with_ignore_value_info(true)
        .with_ignore_output_shapes(true)
        .model_for_path(&args[1])?;
    model.set_input_fact(0, f32::fact([1, 3, size, size]).into())?;
    let plan = model.into_optimized()?.into_runnable()?;
    let input: TValue = Tensor::zero::<f32>(&[1, 3, size, size])?.into();
    let mut kernels: BTreeMap<String, usize> = BTreeMap::new();
    for node in plan.model().nodes() {
        if node.op().name().contains("MatMul") {
            let info = node.op().info()?.join(" ");
            *kernels
                .entry(format!("{} {}", node.op().name(), info))
                .or_default() += 1;
        }
    }
    let mut per_op: BTreeMap<String, f64> = BTreeMap::new();
    let runs = 10;
    for run in 0..runs + 3 {
        let mut state = SimpleState::new(&plan)?;
        state.run_plan_with_eval(tvec!(input.clone()), |ctx, st, node, inputs| {
            let t = Instant::now();
            let r = tract_onnx::tract_core::plan::eval(ctx, st, node, inputs);
            if run >= 3 {
                let mut key = node.op().name().to_string();
                if key == "OptMatMul" {
                    let info = node.op().info().unwrap_or_default().join(" ");
                    key = format!("OptMatMul {}", info.split(" c_m_axis").next().unwrap_or(""));
                }
                *per_op.entry(key).or_default() += t.elapsed().as_secs_f64() * 1e3 / runs as f64;
            }
            r
        })?;
    }
    let mut rows: Vec<_> = per_op.into_iter().collect();
    rows.sort_by(|a, b| b.1.total_cmp(&a.1));
    let total: f64 = rows.iter().map(|r| r.1).sum();
    println!("total {total:.2} ms per run");
    for (op, ms) in rows.iter().take(15) {
        println!("{ms:8.2} ms  {op}");
    }
    for (k, n) in kernels {
        println!("{n:3} x {k}");
    }
    Ok(())
}
