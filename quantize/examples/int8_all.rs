//! Experiment: every linear layer of an ONNX file to int8 (no calibration).
fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let f = edgeclip_quantize::onnx::OnnxFile::read(std::path::Path::new(&args[1]))?;
    let layers = edgeclip_quantize::linear::find_linears(&f)?;
    let refs: Vec<_> = layers.iter().collect();
    let q = edgeclip_quantize::rewrite::to_int8(&f, &refs)?;
    std::fs::write(&args[2], q.encode())?;
    println!("{} layers", layers.len());
    Ok(())
}
