//! Process-wide memory tuning for image work.
//!
//! Every corruption and preprocessing step allocates image-sized buffers (600 KB for a
//! 224x224 planar f32 image). glibc serves blocks above its mmap threshold with fresh
//! `mmap`s and trims freed heap tops back to the kernel, so each call pays a page fault
//! per 4 KB touched: measured with `perf` on `edgeclip corrupt --bench`, 60% of Gaussian
//! noise's time went to the kernel's fault handler. Raising both thresholds keeps freed
//! buffers in the heap for reuse.

/// Keeps large freed buffers in the process heap (glibc only; a no-op elsewhere).
pub fn keep_freed_buffers() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes allocator tuning parameters; called before threads start.
    unsafe {
        // Buffers up to 64 MiB come from the heap; the heap keeps up to 256 MiB of free
        // space before trimming.
        libc::mallopt(libc::M_MMAP_THRESHOLD, 64 << 20);
        libc::mallopt(libc::M_TRIM_THRESHOLD, 256 << 20);
    }
}
