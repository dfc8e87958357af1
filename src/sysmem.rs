//! Process-wide memory tuning for image work.
//!
//! Every corruption and preprocessing step allocates image-sized buffers (600 KB for a
//! 224x224 planar f32 image). glibc serves blocks above its mmap threshold with fresh
//! `mmap`s and trims freed heap tops back to the kernel, so each call pays a page fault
//! per 4 KB touched: measured with `perf` on `edgeclip corrupt --bench`, 60% of Gaussian
//! noise's time went to the kernel's fault handler. Raising both thresholds keeps freed
//! buffers in the heap for reuse.

use std::alloc::{GlobalAlloc, Layout, System};

/// The global allocator for binaries and benchmarks: the system allocator, with every
/// block of [`ALIGNED_FROM`] bytes or more aligned to a 64-byte cache line.
///
/// glibc aligns blocks to 16 bytes, so a plane's rows start 16 bytes into a line and
/// almost every 64-byte AVX-512 load (and half the 32-byte AVX2 ones) straddles two
/// lines, which costs about a second load. Image buffers then start on a line, and any
/// row whose width is a multiple of 16 samples stays line-aligned. Small blocks keep
/// the system's alignment, so this costs nothing for them.
pub struct CacheLineAlloc;

/// Size from which [`CacheLineAlloc`] aligns blocks to a cache line.
pub const ALIGNED_FROM: usize = 4096;

const LINE: usize = 64;

fn widened(layout: Layout) -> Layout {
    if layout.size() >= ALIGNED_FROM && layout.align() < LINE {
        // Fails only for sizes within 64 bytes of isize::MAX; those keep their own
        // alignment, and since the rule depends on the size alone, so does their free.
        Layout::from_size_align(layout.size(), LINE).unwrap_or(layout)
    } else {
        layout
    }
}

// SAFETY: every call forwards to `System` with a layout at least as aligned as asked,
// and the layout used to free a block is recomputed by the same rule from the same
// size, so allocation and deallocation always agree.
unsafe impl GlobalAlloc for CacheLineAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        System.alloc(widened(layout))
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        System.alloc_zeroed(widened(layout))
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        System.dealloc(ptr, widened(layout))
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let old = widened(layout);
        let Ok(new_layout) = Layout::from_size_align(new_size, layout.align()) else {
            return std::ptr::null_mut();
        };
        let new = widened(new_layout);
        if old.align() == new.align() {
            return System.realloc(ptr, old, new_size);
        }
        // The alignment class changes: move the block by hand.
        let fresh = System.alloc(new);
        if !fresh.is_null() {
            std::ptr::copy_nonoverlapping(ptr, fresh, layout.size().min(new_size));
            System.dealloc(ptr, old);
        }
        fresh
    }
}

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

/// Returns freed heap memory to the kernel, so resident memory reflects what is in use.
pub fn release_free_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only releases free heap pages; it is thread-safe in glibc.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// Resets the process's resident high-water mark to its current resident size (Linux
/// 4.0+), so a later [`peak_rss_bytes`] measures only what happened in between.
pub fn reset_peak_rss() -> std::io::Result<()> {
    std::fs::write("/proc/self/clear_refs", "5")
}

/// The process's resident high-water mark (`VmHWM`), where the platform reports one.
pub fn peak_rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: u64 = line
        .trim_start_matches("VmHWM:")
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some(kib * 1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn large_blocks_start_on_a_cache_line_and_survive_reallocation() {
        let a = CacheLineAlloc;
        unsafe {
            let small = Layout::from_size_align(100, 4).unwrap();
            let big = Layout::from_size_align(ALIGNED_FROM, 4).unwrap();
            let p = a.alloc(big);
            assert_eq!(p as usize % LINE, 0);
            for i in 0..ALIGNED_FROM {
                *p.add(i) = i as u8;
            }
            // Grow within the aligned class, shrink below it, grow back: the bytes
            // move with the block and every free matches its allocation.
            let p = a.realloc(p, big, 3 * ALIGNED_FROM);
            assert_eq!(p as usize % LINE, 0);
            let p = a.realloc(
                p,
                Layout::from_size_align(3 * ALIGNED_FROM, 4).unwrap(),
                100,
            );
            let p = a.realloc(p, small, ALIGNED_FROM + 1);
            assert_eq!(p as usize % LINE, 0);
            for i in 0..100 {
                assert_eq!(*p.add(i), i as u8);
            }
            a.dealloc(p, Layout::from_size_align(ALIGNED_FROM + 1, 4).unwrap());
            let z = a.alloc_zeroed(big);
            assert_eq!(z as usize % LINE, 0);
            assert!((0..ALIGNED_FROM).all(|i| *z.add(i) == 0));
            a.dealloc(z, big);
        }
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn peak_rss_sees_a_large_allocation() {
        release_free_memory();
        reset_peak_rss().unwrap();
        let before = peak_rss_bytes().unwrap();
        let mut big = vec![1u8; 64 << 20];
        big[12345] = 2;
        std::hint::black_box(&big);
        let during = peak_rss_bytes().unwrap();
        assert!(during >= before + (60 << 20), "{before} -> {during}");
    }
}
