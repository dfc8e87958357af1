//! tract operators for int8 linear layers, and the ONNX operator `MatMulQ8` that the
//! quantized model files use.
//!
//! A `MatMulQ8` node (`X [.., k]` f32, `W [k, n]` int8, `scale [n]` f32, optional
//! `bias [n]` f32) expands at load into one [`LinearQ8`] where the CPU has a fused
//! kernel (AVX-512 VNNI, see [`fused`]), else into three tract nodes:
//! [`QuantizeRowsI8`] (one scale per activation row, computed at run time), a plain
//! `i8 x i8 -> i32` EinSum that tract's codegen sends to its integer matrix kernels
//! (AVX-512 VNNI / AVX2 on x86, SDOT / SMLAL on ARM) with the weights packed once, and
//! [`DequantizeProduct`], one pass that applies both scales and the bias. tract's own
//! ONNX quantized operators do not reach this form (see REFERENCE.md section 4): its
//! dynamic quantizer is a scalar loop, zero points bring per-run column sums, and a
//! per-column f32 scale cannot be fused into an integer kernel.

use tract_onnx::model::{OnnxOpRegister, ParsingContext};
use tract_onnx::pb::NodeProto;
use tract_onnx::prelude::*;
use tract_onnx::tract_core::internal::*;
use tract_onnx::tract_core::ops::einsum::EinSum;
use tract_onnx::tract_hir::internal::{
    check_input_arity, check_output_arity, expand, Expansion, InferenceOp, InferenceResult, Solver,
    TensorProxy,
};

use crate::{fused, kernels};
use tract_onnx::tract_core::tract_linalg::multithread;

/// ONNX op type of an int8 linear layer in edgeclip's quantized files.
pub const MATMUL_Q8: &str = "MatMulQ8";
/// ONNX domain of edgeclip's own operators.
pub const DOMAIN: &str = "ai.edgeclip";

/// Which kernels an int8 layer runs on.
#[derive(Debug, Clone, Copy, Hash, PartialEq, Eq)]
pub enum Kernels {
    /// The fused kernel ([`fused`]) where this CPU has one, else tract's.
    Auto,
    /// tract's own integer matrix kernels everywhere (for comparisons).
    Tract,
}

impl Kernels {
    /// [`Kernels::Tract`] when [`KERNEL_ENV`] is `tract`, else [`Kernels::Auto`].
    pub fn from_env() -> Kernels {
        match std::env::var(KERNEL_ENV) {
            Ok(v) if v.eq_ignore_ascii_case("tract") => Kernels::Tract,
            _ => Kernels::Auto,
        }
    }
}

/// Environment variable that, set to `tract`, keeps int8 layers on tract's own integer
/// kernels where the fused one exists (to compare the two).
pub const KERNEL_ENV: &str = "EDGECLIP_INT8_KERNEL";

/// Registers edgeclip's quantized operators with an ONNX parser, on the kernels
/// [`Kernels::from_env`] picks.
pub fn register(reg: &mut OnnxOpRegister) {
    register_with(reg, Kernels::from_env());
}

/// Registers edgeclip's quantized operators with an ONNX parser, on `kernels`.
pub fn register_with(reg: &mut OnnxOpRegister, kernels: Kernels) {
    match kernels {
        Kernels::Auto => reg.insert(MATMUL_Q8, |c, n| matmul_q8(c, n, Kernels::Auto)),
        Kernels::Tract => reg.insert(MATMUL_Q8, |c, n| matmul_q8(c, n, Kernels::Tract)),
    }
}

fn matmul_q8(
    _ctx: &ParsingContext,
    node: &NodeProto,
    kernels: Kernels,
) -> TractResult<(Box<dyn InferenceOp>, Vec<String>)> {
    ensure!(
        (3..=4).contains(&node.input.len()),
        "{MATMUL_Q8} {} has {} inputs, wants X, W, scale and an optional bias",
        node.name,
        node.input.len()
    );
    let bias = node.input.len() == 4 && !node.input[3].is_empty();
    Ok((expand(MatMulQ8 { bias, kernels }), vec![]))
}

/// The `MatMulQ8` ONNX operator before expansion.
#[derive(Debug, Clone, Hash, PartialEq, Eq)]
struct MatMulQ8 {
    bias: bool,
    kernels: Kernels,
}

impl Expansion for MatMulQ8 {
    fn name(&self) -> StaticName {
        MATMUL_Q8.into()
    }

    fn rules<'r, 'p: 'r, 's: 'r>(
        &'s self,
        s: &mut Solver<'r>,
        inputs: &'p [TensorProxy],
        outputs: &'p [TensorProxy],
    ) -> InferenceResult {
        check_input_arity(inputs, 3 + self.bias as usize)?;
        check_output_arity(outputs, 1)?;
        s.equals(&inputs[0].datum_type, f32::datum_type())?;
        s.equals(&inputs[1].datum_type, i8::datum_type())?;
        s.equals(&inputs[1].rank, 2)?;
        s.equals(&inputs[2].datum_type, f32::datum_type())?;
        s.equals(&inputs[2].rank, 1)?;
        s.equals(&inputs[2].shape[0], &inputs[1].shape[1])?;
        if self.bias {
            s.equals(&inputs[3].datum_type, f32::datum_type())?;
            s.equals(&inputs[3].shape[0], &inputs[1].shape[1])?;
        }
        s.equals(&outputs[0].datum_type, f32::datum_type())?;
        s.equals(&outputs[0].rank, &inputs[0].rank)?;
        s.given(&inputs[0].rank, move |s, rank| {
            let rank = rank as usize;
            for ax in 0..rank - 1 {
                s.equals(&outputs[0].shape[ax], &inputs[0].shape[ax])?;
            }
            s.equals(&inputs[0].shape[rank - 1], &inputs[1].shape[0])?;
            s.equals(&outputs[0].shape[rank - 1], &inputs[1].shape[1])?;
            Ok(())
        })?;
        Ok(())
    }

    fn wire(
        &self,
        prefix: &str,
        model: &mut TypedModel,
        inputs: &[OutletId],
    ) -> TractResult<TVec<OutletId>> {
        let rank = model.outlet_fact(inputs[0])?.rank();
        ensure!(rank >= 1, "{prefix}: X must have at least one axis");
        for (ix, what) in [(1, "W"), (2, "scale")] {
            ensure!(
                model.outlet_fact(inputs[ix])?.konst.is_some(),
                "{prefix}: {what} must be an initializer"
            );
        }
        if let Some(fused) = self.fused_layer(model, inputs)? {
            return model.wire_node(prefix, fused, &inputs[..1]);
        }
        let q = model.wire_node(format!("{prefix}.quantize"), QuantizeRowsI8, &inputs[..1])?;
        let axes: AxesMapping = einsum_expr(rank).parse()?;
        let acc = model.wire_node(
            format!("{prefix}.matmul"),
            EinSum::new(axes, i32::datum_type()),
            &[q[0], inputs[1]],
        )?;
        let mut epilogue_inputs: TVec<OutletId> = tvec![acc[0], q[1], inputs[2]];
        if self.bias {
            epilogue_inputs.push(inputs[3]);
        }
        model.wire_node(prefix, DequantizeProduct, &epilogue_inputs)
    }
}

impl MatMulQ8 {
    /// The layer as one [`LinearQ8`] when this CPU has a fused kernel, the weights, scales
    /// and bias are constants and tract's kernels were not asked for.
    fn fused_layer(
        &self,
        model: &TypedModel,
        inputs: &[OutletId],
    ) -> TractResult<Option<LinearQ8>> {
        if self.kernels == Kernels::Tract || fused::kernel_name().is_none() {
            return Ok(None);
        }
        let konst = |ix: usize| model.outlet_fact(inputs[ix]).map(|f| f.konst.clone());
        let (Some(w), Some(scales)) = (konst(1)?, konst(2)?) else {
            return Ok(None);
        };
        let b = if self.bias {
            match konst(3)? {
                Some(b) => Some(b),
                None => return Ok(None),
            }
        } else {
            None
        };
        let (k, n) = (w.shape()[0], w.shape()[1]);
        if k > fused::K_MAX {
            return Ok(None);
        }
        let bias = match &b {
            Some(b) => Some(b.try_as_plain_ram()?.as_slice::<f32>()?),
            None => None,
        };
        let packed = fused::PackedLinear::new(
            w.try_as_plain_ram()?.as_slice::<i8>()?,
            k,
            n,
            scales.try_as_plain_ram()?.as_slice::<f32>()?,
            bias,
        )
        .map_err(|e| format_err!("{e:#}"))?;
        Ok(Some(LinearQ8 {
            packed: Arc::new(packed),
        }))
    }
}

/// EinSum expression of `X [.., m, k] x W [k, n]` for an X of `rank` axes.
fn einsum_expr(rank: usize) -> String {
    let lead: String = "abcdefgh".chars().take(rank.saturating_sub(1)).collect();
    format!("{lead}k,kn->{lead}n")
}

/// Quantizes each row (last axis) of an f32 tensor to int8 with its own scale:
/// outputs the codes (same shape, i8) and the scales (last axis 1, f32).
#[derive(Debug, Clone, Hash, PartialEq, Eq)]
pub struct QuantizeRowsI8;

impl Op for QuantizeRowsI8 {
    fn name(&self) -> StaticName {
        "QuantizeRowsI8".into()
    }

    op_as_typed_op!();
}

impl EvalOp for QuantizeRowsI8 {
    op_out_of_plan!();

    fn eval(&self, _ctx: &EvalContext, inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
        let x = &inputs[0];
        let shape = x.shape();
        let k = *shape
            .last()
            .context("QuantizeRowsI8 needs at least one axis")?;
        ensure!(k > 0, "QuantizeRowsI8 over an empty axis");
        let xs = x.try_as_plain_ram()?.as_slice::<f32>()?;
        // Every element is written by quantize_rows.
        let mut q = unsafe { Tensor::uninitialized::<i8>(shape)? };
        let mut scale_shape: TVec<usize> = shape.into();
        *scale_shape.last_mut().unwrap() = 1;
        let mut scales = Tensor::zero::<f32>(&scale_shape)?;
        kernels::quantize_rows(
            xs,
            k,
            q.try_as_plain_ram_mut()?.as_slice_mut::<i8>()?,
            scales.try_as_plain_ram_mut()?.as_slice_mut::<f32>()?,
        );
        Ok(tvec!(q.into_tvalue(), scales.into_tvalue()))
    }
}

impl TypedOp for QuantizeRowsI8 {
    fn output_facts(&self, inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
        let x = inputs[0];
        ensure!(
            x.datum_type == f32::datum_type(),
            "QuantizeRowsI8 wants f32, got {:?}",
            x.datum_type
        );
        ensure!(x.rank() >= 1, "QuantizeRowsI8 needs at least one axis");
        let mut scale_shape: TVec<TDim> = x.shape.iter().cloned().collect();
        *scale_shape.last_mut().unwrap() = 1.into();
        Ok(tvec!(i8::fact(x.shape.clone()), f32::fact(scale_shape)))
    }

    fn cost(&self, inputs: &[&TypedFact]) -> TractResult<TVec<(Cost, TDim)>> {
        Ok(tvec!((
            Cost::FMA(f32::datum_type()),
            inputs[0].shape.volume()
        )))
    }

    as_op!();
}

/// `acc [.., n]` (i32) x `row_scale [.., 1]` x `col_scale [n]` (+ `bias [n]`) as f32:
/// the result of an int8 product in the units of the f32 layer it replaces.
#[derive(Debug, Clone, Hash, PartialEq, Eq)]
pub struct DequantizeProduct;

impl Op for DequantizeProduct {
    fn name(&self) -> StaticName {
        "DequantizeProduct".into()
    }

    op_as_typed_op!();
}

impl EvalOp for DequantizeProduct {
    op_out_of_plan!();

    fn eval(&self, _ctx: &EvalContext, inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
        let acc = &inputs[0];
        let acc = if acc.datum_type() == i32::datum_type() {
            std::borrow::Cow::Borrowed(&**acc)
        } else {
            acc.cast_to::<i32>()?
        };
        // Every element is written by dequantize_product.
        let mut out = unsafe { Tensor::uninitialized::<f32>(acc.shape())? };
        let bias = match inputs.get(3) {
            Some(b) => Some(b.try_as_plain_ram()?.as_slice::<f32>()?),
            None => None,
        };
        kernels::dequantize_product(
            acc.try_as_plain_ram()?.as_slice::<i32>()?,
            inputs[1].try_as_plain_ram()?.as_slice::<f32>()?,
            inputs[2].try_as_plain_ram()?.as_slice::<f32>()?,
            bias,
            out.try_as_plain_ram_mut()?.as_slice_mut::<f32>()?,
        );
        Ok(tvec!(out.into_tvalue()))
    }
}

impl TypedOp for DequantizeProduct {
    fn output_facts(&self, inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
        let acc = inputs[0];
        ensure!(acc.rank() >= 1, "DequantizeProduct needs at least one axis");
        let n = acc.shape[acc.rank() - 1].clone();
        ensure!(
            inputs[2].shape.iter().cloned().collect::<Vec<_>>() == vec![n.clone()],
            "DequantizeProduct: column scales {:?} do not match {n} columns",
            inputs[2].shape
        );
        Ok(tvec!(f32::fact(acc.shape.clone())))
    }

    fn cost(&self, inputs: &[&TypedFact]) -> TractResult<TVec<(Cost, TDim)>> {
        Ok(tvec!((
            Cost::FMA(f32::datum_type()),
            inputs[0].shape.volume()
        )))
    }

    as_op!();
}

/// An int8 linear layer on the fused kernel ([`fused`]): `X [.., k]` f32 to `[.., n]`
/// f32, quantizer, product and epilogue in one operator over weights packed at load.
#[derive(Debug, Clone)]
pub struct LinearQ8 {
    packed: Arc<fused::PackedLinear>,
}

impl PartialEq for LinearQ8 {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.packed, &other.packed) || self.packed == other.packed
    }
}

impl Eq for LinearQ8 {}

impl Op for LinearQ8 {
    fn name(&self) -> StaticName {
        "LinearQ8".into()
    }

    fn info(&self) -> TractResult<Vec<String>> {
        Ok(vec![format!(
            "k:{} n:{} with [{}]",
            self.packed.k(),
            self.packed.n(),
            fused::kernel_name().unwrap_or("none")
        )])
    }

    op_as_typed_op!();
}

impl EvalOp for LinearQ8 {
    op_out_of_plan!();

    fn eval(&self, _ctx: &EvalContext, inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
        let x = &inputs[0];
        let mut shape: TVec<usize> = x.shape().into();
        ensure!(
            shape.last() == Some(&self.packed.k()),
            "LinearQ8 wants a last axis of {}, got {:?}",
            self.packed.k(),
            shape
        );
        *shape.last_mut().unwrap() = self.packed.n();
        // Every element is written by the kernel.
        let mut out = unsafe { Tensor::uninitialized::<f32>(&shape)? };
        let pool = match multithread::current_tract_executor() {
            multithread::Executor::MultiThread(pool) => Some(pool),
            _ => None,
        };
        self.packed
            .run(
                x.try_as_plain_ram()?.as_slice::<f32>()?,
                out.try_as_plain_ram_mut()?.as_slice_mut::<f32>()?,
                pool.as_deref(),
            )
            .map_err(|e| format_err!("{e:#}"))?;
        Ok(tvec!(out.into_tvalue()))
    }
}

impl TypedOp for LinearQ8 {
    fn output_facts(&self, inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
        let x = inputs[0];
        ensure!(
            x.datum_type == f32::datum_type(),
            "LinearQ8 wants f32, got {:?}",
            x.datum_type
        );
        ensure!(x.rank() >= 1, "LinearQ8 needs at least one axis");
        let mut shape: TVec<TDim> = x.shape.iter().cloned().collect();
        *shape.last_mut().unwrap() = self.packed.n().into();
        Ok(tvec!(f32::fact(shape)))
    }

    fn cost(&self, inputs: &[&TypedFact]) -> TractResult<TVec<(Cost, TDim)>> {
        let rows = inputs[0].shape.volume() / self.packed.k() as i64;
        Ok(tvec!((
            Cost::FMA(i8::datum_type()),
            rows * (self.packed.k() * self.packed.n()) as i64
        )))
    }

    as_op!();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn einsum_expressions_keep_the_leading_axes() {
        assert_eq!(einsum_expr(2), "ak,kn->an");
        assert_eq!(einsum_expr(3), "abk,kn->abn");
    }
}
