//! Loading one ONNX encoder with tract: inputs bound by manifest role and position,
//! batch and sequence dimensions fixed, optimised into a runnable plan.

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{anyhow, bail, Context, Result};
use tract_linalg::multithread::{multithread_tract_scope, Executor};
use tract_onnx::prelude::*;
use tract_onnx::tract_core::ops::konst::Const;
use tract_onnx::tract_core::ops::Cost;
use tract_onnx::tract_hir::infer::Factoid;

use super::manifest::{InputRole, InputSpec, Precision};
use tract_onnx::tract_core::floats::FloatPrecisionTranslator;
use tract_onnx::tract_core::transform::ModelTransform;

/// Figures gathered while loading, for `edgeclip info` and the benchmarks.
#[derive(Debug, Clone, Default)]
pub struct LoadStats {
    /// Parsing the ONNX file into tract's inference model, in milliseconds.
    pub load_ms: f64,
    /// Type inference, decluttering and optimisation into a plan, in milliseconds.
    pub optimize_ms: f64,
    /// Number of float weights in the graph.
    pub params: u64,
    /// Floating-point operations for one batch item (2 x multiply-adds).
    pub flops_per_item: u64,
}

/// A runnable encoder graph: tract plan plus what it needs fed.
#[derive(Debug)]
pub struct Graph {
    plan: Arc<TypedRunnableModel>,
    /// `(role, datum type, shape)` for each graph input in position order.
    inputs: Vec<(InputRole, DatumType, Vec<usize>)>,
    batch: usize,
    out_dim: usize,
    stats: LoadStats,
    /// Where tract runs its matrix products: the calling thread, or a private pool.
    executor: Executor,
    /// Intermediate values recorded on every run when the graph was loaded with taps
    /// (quantization calibration): one entry per run, one tensor per tap.
    recorded: Option<std::sync::Mutex<Vec<Vec<Tensor>>>>,
}

/// What the caller wants from a graph: dimensions the runtime fixes.
#[derive(Debug, Clone, Copy)]
pub struct GraphShape {
    /// Batch size to compile for when the graph's batch dimension is dynamic.
    pub batch: usize,
    /// `[channels, height, width]` of the pixel input.
    pub image: Option<[usize; 3]>,
    /// Sequence length of the text inputs.
    pub seq: Option<usize>,
    /// Threads for the matrix products (1: the calling thread).
    pub threads: usize,
    /// Compute in f16 (see [`f16_compute`]).
    pub f16: bool,
}

/// Environment variable overriding where f16 models compute: `1` forces f16 arithmetic
/// (emulated on CPUs without it: slow, for checking accuracy), `0` forces f32.
pub const F16_COMPUTE_ENV: &str = "EDGECLIP_F16_COMPUTE";

/// Whether an encoder stored in `precision` computes in f16 on this CPU: f16 models do
/// where the CPU has f16 arithmetic (ARMv8.2 FP16: Jetson Orin, Raspberry Pi 5), and
/// elsewhere compute in f32 from their f16 weights, unless [`F16_COMPUTE_ENV`] says.
pub fn f16_compute(precision: Precision) -> Result<bool> {
    if precision != Precision::F16 {
        return Ok(false);
    }
    match std::env::var(F16_COMPUTE_ENV).as_deref() {
        Ok("1") => Ok(true),
        Ok("0") => Ok(false),
        Ok(other) => bail!("{F16_COMPUTE_ENV} must be 0 or 1, got {other:?}"),
        Err(_) => Ok(native_f16()),
    }
}

/// Whether this CPU does f16 arithmetic natively (tract then runs its f16 kernels).
pub fn native_f16() -> bool {
    #[cfg(target_arch = "aarch64")]
    {
        std::arch::is_aarch64_feature_detected!("fp16")
    }
    #[cfg(not(target_arch = "aarch64"))]
    {
        false
    }
}

fn check_onnx_file(path: &Path) -> Result<()> {
    let meta = std::fs::metadata(path)
        .with_context(|| format!("cannot read ONNX file {}", path.display()))?;
    if !meta.is_file() {
        bail!("{} is not a file", path.display());
    }
    if meta.len() == 0 {
        bail!("{} is empty (0 bytes), not an ONNX model", path.display());
    }
    Ok(())
}

fn parse(path: &Path, ignore_value_info: bool) -> Result<InferenceModel> {
    let mut onnx = tract_onnx::onnx();
    // Quantized encoders use edgeclip's own operators; f32 files never mention them.
    edgeclip_quantize::ops::register(&mut onnx.op_register);
    onnx.with_ignore_value_info(ignore_value_info)
        .with_ignore_output_shapes(true)
        .model_for_path(path)
        .map_err(|e| anyhow!("{e:#}"))
}

fn declared_batch(fact: &InferenceFact) -> Option<usize> {
    let first = fact.shape.dims().next()?;
    usize::try_from(first.concretize()?.to_i64().ok()?).ok()
}

impl Graph {
    /// Loads `path`, binds inputs to `specs` by position, keeps only `output`.
    pub fn load(
        path: &Path,
        specs: &[InputSpec],
        output: Option<&str>,
        shape: GraphShape,
    ) -> Result<Graph> {
        Self::load_tapped(path, specs, output, &[], shape)
    }

    /// Like [`Graph::load`], and also records the values named `taps` (ONNX value names)
    /// on every run, for [`Graph::take_recorded`].
    pub fn load_tapped(
        path: &Path,
        specs: &[InputSpec],
        output: Option<&str>,
        taps: &[String],
        shape: GraphShape,
    ) -> Result<Graph> {
        check_onnx_file(path)?;
        let path = path
            .canonicalize()
            .with_context(|| format!("cannot resolve {}", path.display()))?;
        let started = Instant::now();
        // Exports with symbolic value_info (torch dynamo) only load with a fixed batch when
        // value_info is ignored; a few graphs need it, so fall back to keeping it.
        let model = match parse(&path, true) {
            Ok(m) => m,
            Err(first) => parse(&path, false)
                .map_err(|_| anyhow!("{} is not a loadable ONNX model: {first}", path.display()))?,
        };
        let load_ms = started.elapsed().as_secs_f64() * 1e3;
        Self::from_inference(model, specs, output, taps, shape, load_ms)
            .with_context(|| format!("cannot prepare {}", path.display()))
    }

    fn from_inference(
        mut model: InferenceModel,
        specs: &[InputSpec],
        output: Option<&str>,
        taps: &[String],
        shape: GraphShape,
        load_ms: f64,
    ) -> Result<Graph> {
        let n_inputs = model.input_outlets()?.len();
        if n_inputs != specs.len() {
            let names: Vec<String> = model
                .input_outlets()?
                .iter()
                .map(|o| model.node(o.node).name.clone())
                .collect();
            bail!(
                "the graph has {n_inputs} inputs {names:?} but the manifest lists {}",
                specs.len()
            );
        }
        select_output(&mut model, output, taps)?;

        // A fixed batch in the graph wins; a dynamic one is set to what the caller asked.
        let batch = (0..n_inputs)
            .filter_map(|i| model.input_fact(i).ok().and_then(declared_batch))
            .next()
            .unwrap_or(shape.batch.max(1));

        let mut inputs = Vec::with_capacity(n_inputs);
        for (ix, spec) in specs.iter().enumerate() {
            let declared = model.input_fact(ix)?.datum_type.concretize();
            let (dt, dims) = match spec.role {
                InputRole::PixelValues => {
                    let [c, h, w] = shape.image.ok_or_else(|| {
                        anyhow!("input {ix} is pixel_values but no image size is known")
                    })?;
                    (declared.unwrap_or(f32::datum_type()), vec![batch, c, h, w])
                }
                _ => {
                    let seq = shape.seq.ok_or_else(|| {
                        anyhow!(
                            "input {ix} is {} but no sequence length is known",
                            spec.role
                        )
                    })?;
                    (declared.unwrap_or(i64::datum_type()), vec![batch, seq])
                }
            };
            model.set_input_fact(ix, InferenceFact::dt_shape(dt, &dims))?;
            inputs.push((spec.role, dt, dims));
        }

        let started = Instant::now();
        let typed = model
            .into_typed()
            .map_err(|e| anyhow!("type inference failed: {e:#}"))?
            .into_decluttered()
            .map_err(|e| anyhow!("decluttering failed: {e:#}"))?;
        let typed = if shape.f16 {
            // Whole-graph f16; inputs and outputs become f16 too (run() casts to them).
            let typed = FloatPrecisionTranslator::new(f32::datum_type(), f16::datum_type())
                .transform_into(typed)
                .and_then(|m| m.into_decluttered())
                .map_err(|e| anyhow!("conversion to f16 failed: {e:#}"))?;
            for (ix, input) in inputs.iter_mut().enumerate() {
                input.1 = typed.input_fact(ix)?.datum_type;
            }
            typed
        } else {
            typed
        };
        let (params, fma) = count_params_and_fma(&typed)?;
        let optimized = typed
            .into_optimized()
            .map_err(|e| anyhow!("optimisation failed: {e:#}"))?;
        let out_fact = optimized.output_fact(0)?.clone();
        let plan = optimized
            .into_runnable()
            .map_err(|e| anyhow!("cannot build a plan: {e:#}"))?;
        let optimize_ms = started.elapsed().as_secs_f64() * 1e3;
        let executor = match shape.threads {
            0 => bail!("the number of threads must be at least 1"),
            1 => Executor::SingleThread,
            // Built here rather than by tract, which panics when threads cannot start.
            n => {
                thread_smaller_products();
                Executor::MultiThread(Arc::new(
                    rayon::ThreadPoolBuilder::new()
                        .num_threads(n)
                        .thread_name(|i| format!("edgeclip-mm-{i}"))
                        .build()
                        .with_context(|| format!("cannot start {n} threads for the encoder"))?,
                ))
            }
        };

        let out_shape = out_fact
            .shape
            .as_concrete()
            .ok_or_else(|| anyhow!("output shape {:?} is not concrete", out_fact.shape))?
            .to_vec();
        let out_len: usize = out_shape.iter().product();
        if out_shape.first() != Some(&batch) || !out_len.is_multiple_of(batch) {
            bail!("output shape {out_shape:?} does not start with the batch size {batch}");
        }
        Ok(Graph {
            plan,
            inputs,
            batch,
            out_dim: out_len / batch,
            stats: LoadStats {
                load_ms,
                optimize_ms,
                params,
                flops_per_item: 2 * fma / batch as u64,
            },
            executor,
            recorded: (!taps.is_empty()).then(Default::default),
        })
    }

    /// The tapped values of every run since the last call, oldest first.
    pub fn take_recorded(&self) -> Vec<Vec<Tensor>> {
        match &self.recorded {
            Some(r) => std::mem::take(&mut *r.lock().unwrap_or_else(|e| e.into_inner())),
            None => Vec::new(),
        }
    }

    /// Batch size the plan runs at.
    pub fn batch(&self) -> usize {
        self.batch
    }

    /// Output values per batch item (the embedding dimension).
    pub fn out_dim(&self) -> usize {
        self.out_dim
    }

    /// Loading figures.
    pub fn stats(&self) -> &LoadStats {
        &self.stats
    }

    /// Shape fed to the first input with `role`, if any.
    pub fn input_shape(&self, role: InputRole) -> Option<&[usize]> {
        self.inputs
            .iter()
            .find(|(r, _, _)| *r == role)
            .map(|(_, _, s)| s.as_slice())
    }

    /// Runs one full batch. `feed` gives the data of a role as i64 (token-like roles) or
    /// f32 (pixels); roles it does not provide are fed zeros, which is right for inputs
    /// the selected output does not depend on (the other tower of a combined export).
    pub fn run<'a>(&self, feed: &dyn Fn(InputRole) -> Option<Feed<'a>>) -> Result<Vec<f32>> {
        let mut values: TVec<TValue> = tvec![];
        for (role, dt, shape) in &self.inputs {
            let tensor = match feed(*role) {
                Some(Feed::F32(data)) => Tensor::from_shape(shape, data)?,
                Some(Feed::I64(data)) => Tensor::from_shape(shape, data)?,
                None => Tensor::zero_dt(*dt, shape)?,
            };
            let tensor = if tensor.datum_type() == *dt {
                tensor
            } else {
                tensor.cast_to_dt(*dt)?.into_owned()
            };
            values.push(tensor.into_tvalue());
        }
        let run = || multithread_tract_scope(self.executor.clone(), || self.plan.run(values));
        // The whole plan runs on a worker of the pool, so the serial ops between products
        // share the cores with n threads in all rather than n workers plus this thread.
        let outputs = match &self.executor {
            Executor::MultiThread(pool) => pool.install(run),
            _ => run(),
        }
        .map_err(|e| anyhow!("inference failed: {e:#}"))?;
        if let Some(r) = &self.recorded {
            let taps = outputs[1..].iter().map(|t| (**t).clone()).collect();
            r.lock().unwrap_or_else(|e| e.into_inner()).push(taps);
        }
        let out = outputs[0].cast_to::<f32>()?;
        Ok(out.to_plain_array_view::<f32>()?.iter().copied().collect())
    }
}

/// Lowers tract's size gates for threading a product (64 packed panels) or an elementwise
/// op (32768 elements) to 16 and 8192. Measured with `edgeclip bench --threads 2` on the
/// 2-core EPYC: the built-in model's image encoder went from 2.2 to 1.7 ms, ViT-B/32 was
/// unchanged within noise. The gates are process-wide; one-thread encoders never read them.
fn thread_smaller_products() {
    tract_linalg::multithread::set_threading_panel_threshold(16);
    tract_linalg::multithread::set_threading_element_threshold(8192);
}

/// Data for one input role.
#[derive(Debug)]
pub enum Feed<'a> {
    /// Float data (pixels).
    F32(&'a [f32]),
    /// Integer data (ids, masks).
    I64(&'a [i64]),
}

fn select_output(model: &mut InferenceModel, output: Option<&str>, taps: &[String]) -> Result<()> {
    let outlets = model.output_outlets()?.to_vec();
    let chosen = match output {
        None => *outlets
            .first()
            .ok_or_else(|| anyhow!("the graph has no outputs"))?,
        Some(name) => outlets
            .iter()
            .copied()
            .find(|o| model.outlet_label(*o) == Some(name) || model.node(o.node).name == name)
            .or_else(|| model.find_outlet_label(name))
            .ok_or_else(|| {
                let names: Vec<String> = outlets
                    .iter()
                    .map(|o| {
                        model
                            .outlet_label(*o)
                            .unwrap_or(&model.node(o.node).name)
                            .to_string()
                    })
                    .collect();
                anyhow!("the graph has no output named {name:?} (outputs: {names:?})")
            })?,
    };
    let mut selected = vec![chosen];
    for tap in taps {
        selected.push(
            model
                .find_outlet_label(tap)
                .ok_or_else(|| anyhow!("the graph has no value named {tap:?} to record"))?,
        );
    }
    model.select_output_outlets(&selected)?;
    Ok(())
}

fn count_params_and_fma(model: &TypedModel) -> Result<(u64, u64)> {
    let mut params = 0u64;
    let mut fma = 0u64;
    for node in model.nodes() {
        if let Some(k) = node.op_as::<Const>() {
            if k.val().datum_type().is_float() && k.val().len() > 1 {
                params += k.val().len() as u64;
            }
        }
        let facts = model.node_input_facts(node.id)?;
        for (cost, n) in node.op.cost(&facts)? {
            if matches!(cost, Cost::FMA(_)) {
                fma += n.to_i64().unwrap_or(0).max(0) as u64;
            }
        }
    }
    Ok((params, fma))
}
