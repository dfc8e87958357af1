//! An int8 linear layer in one operator: the activation row quantizer, a `u8 x i8`
//! product on AVX-512 VNNI and the f32 epilogue, over weights packed once at load.
//!
//! Why not tract's own integer kernels on x86: on the transformer shapes that matter
//! (50-200 token rows, k and n of 512-3072) tract 0.23 picks `avx512vnni_mmm_i32_8x8`,
//! an 8x8 tile that keeps 2 of the 32 vector registers' worth of accumulators busy, and
//! its graph around the product is three more passes (quantize, pack, dequantize). On
//! ViT-B/32 that path reached 115 GMAC/s and left the int8 encoder at 1.7x onnxruntime's
//! dynamic-int8 latency (README, "Quantization"). Here a tile is up to 12 rows x 32
//! columns (24 accumulator registers), activations are quantized straight into the
//! layout the kernel reads, and the scales and bias are applied to the accumulators
//! before they are stored. On ARM, tract's SDOT / SMLAL kernels are used as they are.
//!
//! Numbers: the result is bit-identical to quantizing the rows ([`kernels::quantize_rows`]),
//! an exact `i8 x i8 -> i32` product and [`kernels::dequantize_product`] ([`reference`]),
//! the path tract runs elsewhere. The `u8` operand is the `i8` code plus 128; the extra
//! `128 * sum_k w[k, j]` is subtracted per column from the exact integer sum.

use anyhow::{ensure, Result};

use crate::kernels;

#[cfg(target_arch = "x86_64")]
mod avx512;

/// Columns per packed weight panel: two 16-lane registers.
pub const NR: usize = 32;
/// Most rows per tile: 12 x 2 accumulators plus 2 weight registers and a broadcast fit
/// in AVX-512's 32 vector registers.
pub const MR_MAX: usize = 12;
/// Largest reduction length the `i32` accumulators hold without overflow:
/// `255 * 127 * k < 2^31`.
pub const K_MAX: usize = 65_536;

/// Products below this many multiply-adds run on one thread: a rayon hand-off costs
/// more than they take.
const PARALLEL_MACS: usize = 1 << 20;

/// The fused kernel this CPU runs, or `None` when it has none (then tract's own integer
/// kernels are the fast path).
pub fn kernel_name() -> Option<&'static str> {
    #[cfg(target_arch = "x86_64")]
    if avx512::detected() {
        return Some("avx512vnni_q8_12x32");
    }
    None
}

/// Int8 weights `[k, n]` with per-column scales and an optional bias, packed for the
/// fused kernel: panels of [`NR`] columns, each `[k / 4][NR][4]` so one 64-byte load
/// holds four reduction steps of 16 columns.
#[derive(Debug, Clone, PartialEq)]
pub struct PackedLinear {
    k: usize,
    n: usize,
    /// `k` rounded up to a multiple of 4 (padding weights are 0).
    kp: usize,
    panels: Vec<i8>,
    /// `128 * sum_k w[k, j]`, the offset of the `u8` activations, per padded column.
    comp: Vec<i32>,
    col_scales: Vec<f32>,
    bias: Option<Vec<f32>>,
}

impl PackedLinear {
    /// Packs row-major `[k, n]` codes with their column scales and optional bias.
    pub fn new(
        codes: &[i8],
        k: usize,
        n: usize,
        col_scales: &[f32],
        bias: Option<&[f32]>,
    ) -> Result<PackedLinear> {
        ensure!(
            k > 0 && n > 0,
            "an int8 linear layer needs k and n > 0, got {k}x{n}"
        );
        ensure!(k <= K_MAX, "k = {k} is over the fused kernel's {K_MAX}");
        ensure!(
            codes.len() == k * n,
            "{} weight codes for a {k}x{n} layer",
            codes.len()
        );
        ensure!(
            col_scales.len() == n,
            "{} column scales for {n} columns",
            col_scales.len()
        );
        if let Some(b) = bias {
            ensure!(b.len() == n, "{} bias values for {n} columns", b.len());
        }
        let kp = k.next_multiple_of(4);
        let np = n.div_ceil(NR);
        let mut panels = vec![0i8; np * kp * NR];
        let mut comp = vec![0i32; np * NR];
        for (t, row) in codes.chunks_exact(n).enumerate() {
            for (j, &w) in row.iter().enumerate() {
                let (p, c) = (j / NR, j % NR);
                panels[p * kp * NR + (t / 4) * NR * 4 + c * 4 + t % 4] = w;
                comp[j] += 128 * i32::from(w);
            }
        }
        let pad = |v: &[f32]| {
            let mut out = v.to_vec();
            out.resize(np * NR, 0.0);
            out
        };
        Ok(PackedLinear {
            k,
            n,
            kp,
            panels,
            comp,
            col_scales: pad(col_scales),
            bias: bias.map(pad),
        })
    }

    /// Reduction length (input features).
    pub fn k(&self) -> usize {
        self.k
    }

    /// Output features.
    pub fn n(&self) -> usize {
        self.n
    }

    /// `out = dequantize(quantize_rows(x) x W) + bias` for `x` of `m` rows of `k` values,
    /// `out` of `m` rows of `n`; column panels are shared out over `pool` when given and
    /// the product is big enough. Fails when this CPU has no fused kernel.
    pub fn run(&self, x: &[f32], out: &mut [f32], pool: Option<&rayon::ThreadPool>) -> Result<()> {
        ensure!(
            x.len().is_multiple_of(self.k),
            "{} inputs are not rows of {}",
            x.len(),
            self.k
        );
        let m = x.len() / self.k;
        ensure!(
            out.len() == m * self.n,
            "output of {} for {m}x{}",
            out.len(),
            self.n
        );
        if m == 0 {
            return Ok(());
        }
        SCRATCH.with(|cell| match cell.try_borrow_mut() {
            Ok(mut scratch) => self.run_with(x, m, out, pool, &mut scratch),
            Err(_) => self.run_with(x, m, out, pool, &mut Scratch::default()),
        })
    }

    fn run_with(
        &self,
        x: &[f32],
        m: usize,
        out: &mut [f32],
        pool: Option<&rayon::ThreadPool>,
        scratch: &mut Scratch,
    ) -> Result<()> {
        let Scratch {
            codes: a,
            row_scales,
        } = scratch;
        a.resize(m * self.kp, 0);
        row_scales.resize(m, 0.0);
        quantize_rows_u8(x, self.k, self.kp, a, row_scales);
        let (a, row_scales) = (&a[..], &row_scales[..]);
        let out_ptr = SharedOut(out.as_mut_ptr());
        let np = self.n.div_ceil(NR);
        let panels = |range: std::ops::Range<usize>| {
            // SAFETY: each panel writes only its own columns of `out` (`m * n` values,
            // checked by `run`), so concurrent panel ranges never touch the same element.
            unsafe { self.panels_run(a, row_scales, m, range, out_ptr.get()) }
        };
        match pool {
            Some(pool)
                if pool.current_num_threads() > 1 && m * self.k * self.n >= PARALLEL_MACS =>
            {
                use rayon::prelude::*;
                let chunks = (pool.current_num_threads() * 4).min(np);
                pool.install(|| {
                    (0..chunks)
                        .into_par_iter()
                        .try_for_each(|c| panels(c * np / chunks..(c + 1) * np / chunks))
                })
            }
            _ => panels(0..np),
        }
    }

    /// Runs panels `range` over all `m` rows of the quantized activations `a`.
    ///
    /// # Safety
    /// `out` must point to `m * n` writable f32 that no one else writes in these panels'
    /// columns meanwhile; `a` holds `m` rows of `kp` codes.
    unsafe fn panels_run(
        &self,
        a: &[u8],
        row_scales: &[f32],
        m: usize,
        range: std::ops::Range<usize>,
        out: *mut f32,
    ) -> Result<()> {
        debug_assert!(a.len() == m * self.kp && row_scales.len() == m);
        #[cfg(target_arch = "x86_64")]
        if avx512::detected() {
            // Rows split into equal tiles of at most MR_MAX (50 rows: 5 x 10, not 4 x 12 + 2).
            let tiles = m.div_ceil(MR_MAX);
            let np = self.n.div_ceil(NR);
            for p in range {
                let cols = (self.n - p * NR).min(NR);
                let mut r0 = 0;
                for t in 0..tiles {
                    let r1 = (t + 1) * m / tiles;
                    let panel = avx512::Panel {
                        b: self.panels.as_ptr().add(p * self.kp * NR),
                        comp: self.comp.as_ptr().add(p * NR),
                        col_scales: self.col_scales.as_ptr().add(p * NR),
                        bias: self.bias.as_ref().map(|b| b.as_ptr().add(p * NR)),
                        cols,
                        prefetch: (t == tiles.min(2) - 1 && p + 1 < np)
                            .then(|| self.panels.as_ptr().add((p + 1) * self.kp * NR)),
                    };
                    avx512::tile(
                        r1 - r0,
                        a.as_ptr().add(r0 * self.kp),
                        self.kp,
                        &panel,
                        row_scales.as_ptr().add(r0),
                        out.add(r0 * self.n + p * NR),
                        self.n,
                    );
                    r0 = r1;
                }
            }
            return Ok(());
        }
        let _ = (a, row_scales, m, range, out);
        anyhow::bail!("this CPU has no fused int8 kernel (AVX-512 VNNI)")
    }
}

/// [`kernels::quantize_rows_u8`] in the widest vectors this CPU has.
pub fn quantize_rows_u8(x: &[f32], k: usize, stride: usize, q: &mut [u8], scales: &mut [f32]) {
    #[cfg(target_arch = "x86_64")]
    if avx512::detected() {
        // SAFETY: the CPU has the features the function is compiled for.
        return unsafe { avx512::quantize_rows_u8(x, k, stride, q, scales) };
    }
    kernels::quantize_rows_u8(x, k, stride, q, scales)
}

/// Per-thread buffers for the quantized activations: an encoder calls its layers in
/// turn on one thread, so they are allocated once rather than per layer and run.
#[derive(Default)]
struct Scratch {
    codes: Vec<u8>,
    row_scales: Vec<f32>,
}

thread_local! {
    static SCRATCH: std::cell::RefCell<Scratch> = std::cell::RefCell::default();
}

/// The output pointer handed to the panel workers.
#[derive(Clone, Copy)]
struct SharedOut(*mut f32);

impl SharedOut {
    fn get(self) -> *mut f32 {
        self.0
    }
}

// SAFETY: workers write disjoint column ranges (see PackedLinear::run).
unsafe impl Send for SharedOut {}
unsafe impl Sync for SharedOut {}

/// The same layer in plain arithmetic (quantize rows, exact integer product, epilogue):
/// the scalar twin the fused kernel must match bit for bit.
pub fn reference(
    x: &[f32],
    codes: &[i8],
    k: usize,
    n: usize,
    col_scales: &[f32],
    bias: Option<&[f32]>,
) -> Vec<f32> {
    let m = x.len() / k;
    let mut q = vec![0i8; m * k];
    let mut row_scales = vec![0.0f32; m];
    kernels::quantize_rows(x, k, &mut q, &mut row_scales);
    let mut acc = vec![0i32; m * n];
    for (qrow, arow) in q.chunks_exact(k).zip(acc.chunks_exact_mut(n)) {
        for (&a, wrow) in qrow.iter().zip(codes.chunks_exact(n)) {
            for (o, &w) in arow.iter_mut().zip(wrow) {
                *o += i32::from(a) * i32::from(w);
            }
        }
    }
    let mut out = vec![0.0f32; m * n];
    kernels::dequantize_product(&acc, &row_scales, col_scales, bias, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Deterministic pseudo-random values in [-1, 1).
    fn noise(len: usize, seed: u64) -> Vec<f32> {
        let mut s = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (0..len)
            .map(|_| {
                s = s
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                ((s >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
            })
            .collect()
    }

    fn layer(k: usize, n: usize, seed: u64) -> (Vec<i8>, Vec<f32>, Vec<f32>) {
        let w = noise(k * n, seed);
        let q = kernels::quantize_columns(&w, k, n);
        (q.codes, q.scales, noise(n, seed + 1))
    }

    #[test]
    fn packing_puts_four_reduction_steps_of_a_column_together() {
        let (k, n) = (5, 33);
        let codes: Vec<i8> = (0..k * n).map(|i| (i % 127) as i8).collect();
        let p = PackedLinear::new(&codes, k, n, &vec![1.0; n], None).unwrap();
        assert_eq!(
            (p.kp, p.panels.len(), p.comp.len()),
            (8, 2 * 8 * NR, 2 * NR)
        );
        for t in 0..k {
            for j in 0..n {
                let at = (j / NR) * p.kp * NR + (t / 4) * NR * 4 + (j % NR) * 4 + t % 4;
                assert_eq!(p.panels[at], codes[t * n + j]);
            }
        }
        for j in 0..n {
            let sum: i32 = (0..k).map(|t| i32::from(codes[t * n + j])).sum();
            assert_eq!(p.comp[j], 128 * sum);
        }
        assert!(p.comp[n..].iter().all(|&c| c == 0));
    }

    #[test]
    fn bad_shapes_are_refused() {
        assert!(PackedLinear::new(&[1; 6], 2, 3, &[1.0; 2], None).is_err());
        assert!(PackedLinear::new(&[1; 6], 2, 3, &[1.0; 3], Some(&[0.0; 2])).is_err());
        assert!(PackedLinear::new(&[], 0, 3, &[1.0; 3], None).is_err());
    }

    /// Every tile height, ragged k and n, with and without bias, rows of zeros, a NaN
    /// row and the largest codes: the fused kernel equals the reference bit for bit.
    #[test]
    fn the_fused_kernel_matches_the_reference_exactly() {
        if kernel_name().is_none() {
            eprintln!("no fused int8 kernel on this CPU; nothing to compare");
            return;
        }
        for &(m, k, n) in &[
            (1, 1, 1),
            (3, 5, 17),
            (12, 64, 32),
            (13, 63, 33),
            (50, 768, 96),
            (77, 130, 70),
            (25, 3, 300),
        ] {
            for with_bias in [false, true] {
                let (codes, scales, bias) = layer(k, n, (m * k * n) as u64);
                let mut x = noise(m * k, 7 + m as u64);
                if m > 2 {
                    x[k..2 * k].fill(0.0);
                }
                if m > 4 {
                    x[3 * k] = f32::NAN;
                }
                let bias = with_bias.then_some(&bias[..]);
                let want = reference(&x, &codes, k, n, &scales, bias);
                let packed = PackedLinear::new(&codes, k, n, &scales, bias).unwrap();
                let mut got = vec![f32::MAX; m * n];
                packed.run(&x, &mut got, None).unwrap();
                for (i, (g, w)) in got.iter().zip(&want).enumerate() {
                    assert_eq!(
                        g.to_bits(),
                        w.to_bits(),
                        "{m}x{k}x{n} bias {with_bias} at {i}: {g} vs {w}"
                    );
                }
            }
        }
    }

    #[test]
    fn a_thread_pool_gives_the_same_result() {
        if kernel_name().is_none() {
            return;
        }
        let (m, k, n) = (50, 512, 1024);
        let (codes, scales, bias) = layer(k, n, 3);
        let x = noise(m * k, 4);
        let packed = PackedLinear::new(&codes, k, n, &scales, Some(&bias)).unwrap();
        let (mut one, mut two) = (vec![0.0; m * n], vec![0.0; m * n]);
        packed.run(&x, &mut one, None).unwrap();
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(2)
            .build()
            .unwrap();
        packed.run(&x, &mut two, Some(&pool)).unwrap();
        assert_eq!(one, two);
        assert_eq!(one, reference(&x, &codes, k, n, &scales, Some(&bias)));
    }

    #[test]
    fn saturated_codes_do_not_overflow() {
        if kernel_name().is_none() {
            return;
        }
        let (m, k, n) = (2, 4096, 32);
        let codes = vec![127i8; k * n];
        let x = vec![1.0f32; m * k];
        let packed = PackedLinear::new(&codes, k, n, &vec![1.0; n], None).unwrap();
        let mut out = vec![0.0; m * n];
        packed.run(&x, &mut out, None).unwrap();
        assert_eq!(out, reference(&x, &codes, k, n, &vec![1.0; n], None));
        let exact = (127 * k) as f32;
        assert!(
            out.iter().all(|&v| (v - exact).abs() <= exact * 1e-6),
            "{}",
            out[0]
        );
    }
}
