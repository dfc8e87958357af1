//! How much int8 quantization perturbs each linear layer on real activations: the
//! evidence for which layers stay in f32.

use anyhow::{ensure, Result};
use tract_onnx::prelude::tract_ndarray::ArrayView2;

use crate::kernels::{quantize_columns, quantize_rows, sqnr_db};
use crate::linear::Linear;
use crate::onnx::OnnxFile;

/// What calibration measured for one layer.
#[derive(Debug, Clone, PartialEq)]
pub struct LayerSensitivity {
    /// SQNR (dB) of the layer's int8 output against its f32 output on the calibration
    /// activations; higher is safer.
    pub sqnr_db: f64,
    /// Largest activation magnitude over the root mean square: large values mean a few
    /// outlier channels, which per-row int8 scales handle worst.
    pub outlier_ratio: f64,
    /// Activation rows the figures rest on.
    pub rows: usize,
}

/// Measures one layer: `x` holds calibration activations (rows of `layer.k` values).
pub fn measure(file: &OnnxFile, layer: &Linear, x: &[f32]) -> Result<LayerSensitivity> {
    let k = layer.k;
    ensure!(
        !x.is_empty() && x.len().is_multiple_of(k),
        "layer {}: {} activation values are not rows of {k}",
        layer.name,
        x.len()
    );
    let rows = x.len() / k;
    let inits = file.initializers();
    let w = file.f32_values(inits[layer.weight.as_str()])?;
    let bias = match &layer.bias {
        Some((_, b)) => Some(file.f32_values(inits[b.as_str()])?),
        None => None,
    };
    let wq = quantize_columns(&w, k, layer.n).dequantize();
    let mut xq = vec![0i8; x.len()];
    let mut scales = vec![0.0f32; rows];
    quantize_rows(x, k, &mut xq, &mut scales);
    let xd: Vec<f32> = xq
        .chunks_exact(k)
        .zip(&scales)
        .flat_map(|(r, s)| r.iter().map(move |&q| f32::from(q) * s))
        .collect();
    let product = |a: &[f32], b: &[f32]| -> Result<Vec<f32>> {
        let a = ArrayView2::from_shape((rows, k), a)?;
        let b = ArrayView2::from_shape((k, layer.n), b)?;
        let mut y = a.dot(&b);
        if let Some(bias) = &bias {
            for mut row in y.rows_mut() {
                row.iter_mut().zip(bias).for_each(|(v, b)| *v += b);
            }
        }
        Ok(y.into_raw_vec_and_offset().0)
    };
    let exact = product(x, &w)?;
    let approx = product(&xd, &wq)?;
    let (mut amax, mut sq) = (0.0f64, 0.0f64);
    for &v in x {
        let v = f64::from(v);
        amax = amax.max(v.abs());
        sq += v * v;
    }
    let rms = (sq / x.len() as f64).sqrt();
    Ok(LayerSensitivity {
        sqnr_db: sqnr_db(&exact, &approx),
        outlier_ratio: if rms > 0.0 { amax / rms } else { 0.0 },
        rows,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::linear::find_linears;
    use crate::onnx;
    use tract_onnx::pb::GraphProto;

    fn one_layer(k: usize, n: usize) -> OnnxFile {
        let w: Vec<f32> = (0..k * n)
            .map(|i| ((i * 31 % 17) as f32 - 8.0) / 8.0)
            .collect();
        let graph = GraphProto {
            node: vec![onnx::node("mm", "MatMul", "", &["x", "w"], &["y"])],
            initializer: vec![onnx::f32_tensor("w", &[k, n], &w)],
            ..Default::default()
        };
        OnnxFile::from_graph(graph, 17)
    }

    #[test]
    fn outlier_channels_lower_the_sqnr() {
        let (k, n) = (64, 8);
        let f = one_layer(k, n);
        let layer = &find_linears(&f).unwrap()[0];
        let smooth: Vec<f32> = (0..16 * k)
            .map(|i| ((i * 7 % 13) as f32 - 6.0) / 6.0)
            .collect();
        let mut spiky = smooth.clone();
        for r in 0..16 {
            spiky[r * k] = 400.0; // one huge channel per row squeezes the others' codes
        }
        let a = measure(&f, layer, &smooth).unwrap();
        let b = measure(&f, layer, &spiky).unwrap();
        assert_eq!(a.rows, 16);
        assert!(a.sqnr_db > 30.0, "{a:?}");
        assert!(b.outlier_ratio > 4.0 * a.outlier_ratio, "{a:?} {b:?}");
        assert!(b.sqnr_db < a.sqnr_db, "{a:?} {b:?}");
        assert!(measure(&f, layer, &smooth[..k + 1]).is_err());
    }
}
