//! Tuning of the C allocator (glibc `malloc`) for training on the CPU.
//!
//! A training step allocates and frees the same few large buffers (activations,
//! gradients, im2col matrices: megabytes each) every step. With glibc's
//! defaults, freed memory at the top of the heap is returned to the OS as soon
//! as more than 128 KiB (adjusted upwards dynamically) is free, so the next
//! step gets it back page by page, each page a fault plus zeroing: on the
//! lecture CNN that was a third of the step time. [`tune`] raises the trim
//! threshold (freed memory stays in the process for reuse) and the mmap
//! threshold to its maximum (32 MiB), once per process. The cost is that a
//! process keeps its peak heap size, as PyTorch's and TensorFlow's caching
//! allocators do.
//!
//! Called by `fit`'s [`train_step`](crate::train::fit::train_step) and the
//! CPU conv/pool kernels; no-op on targets other than Linux with glibc, and
//! when the environment variable `SXIMA_MALLOC_DEFAULTS` is set (to keep
//! glibc's defaults).

use std::sync::Once;

/// Bytes of free memory at the top of the heap kept before trimming.
pub const TRIM_THRESHOLD: i32 = 1 << 30;
/// Allocations above this many bytes get their own mapping (glibc's maximum).
pub const MMAP_THRESHOLD: i32 = 32 << 20;

static TUNE: Once = Once::new();

/// Applies the allocator settings above, once per process (see module docs).
pub fn tune() {
    TUNE.call_once(|| {
        if std::env::var_os("SXIMA_MALLOC_DEFAULTS").is_none() {
            apply();
        }
    });
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn apply() {
    // glibc's `mallopt` parameter numbers (malloc.h).
    const M_TRIM_THRESHOLD: i32 = -1;
    const M_MMAP_THRESHOLD: i32 = -3;
    extern "C" {
        fn mallopt(param: i32, value: i32) -> i32;
    }
    // SAFETY: `mallopt` only changes allocator parameters; glibc documents it
    // as safe to call at any time, from any thread.
    unsafe {
        mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD);
        mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn apply() {}

#[cfg(test)]
mod tests {
    #[test]
    fn tuning_twice_is_harmless_and_allocation_still_works() {
        super::tune();
        super::tune();
        let v = vec![1.0f32; 10 << 20];
        assert_eq!(v.iter().sum::<f32>(), (10 << 20) as f32);
    }
}
