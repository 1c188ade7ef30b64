//! Tuning of the C allocator (glibc `malloc`) for training on the CPU.
//!
//! A training step allocates and frees the same few large buffers (activations,
//! gradients, im2col matrices: megabytes each) every step. With glibc's
//! defaults, freed memory at the top of the heap is returned to the OS as soon
//! as more than 128 KiB (adjusted upwards dynamically) is free, so the next
//! step gets it back page by page, each page a fault plus zeroing: on the
//! lecture CNN that was a third of the step time. [`tune_host_allocator`] raises the trim
//! threshold (freed memory stays in the process for reuse) and the mmap
//! threshold to its maximum (32 MiB), once per process. The cost is that a
//! process keeps its peak heap size, as PyTorch's and TensorFlow's caching
//! allocators do.
//!
//! It changes the allocator of the whole process, so the library never calls
//! it: a program that trains on the CPU opts in by calling
//! [`tune_host_allocator`] once at start (the bench and the CPU training
//! examples do). No-op on targets other than Linux with glibc.

use std::sync::Once;

/// Bytes of free memory at the top of the heap kept before trimming.
pub const TRIM_THRESHOLD: i32 = 1 << 30;
/// Allocations above this many bytes get their own mapping (glibc's maximum).
pub const MMAP_THRESHOLD: i32 = 32 << 20;

static TUNE: Once = Once::new();

/// Tunes glibc's `malloc` for training on the CPU: freed memory stays in the
/// process (trim threshold [`TRIM_THRESHOLD`]) and buffers up to
/// [`MMAP_THRESHOLD`] come from the heap, so each step reuses the last step's
/// pages instead of faulting in fresh ones. Affects the whole process; call it
/// once at the start of `main` (later calls do nothing). No-op on targets
/// other than Linux with glibc.
///
/// ```
/// sxima_runtime::tune_host_allocator();
/// ```
pub fn tune_host_allocator() {
    TUNE.call_once(apply);
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
        super::tune_host_allocator();
        super::tune_host_allocator();
        let v = vec![1.0f32; 10 << 20];
        assert_eq!(v.iter().sum::<f32>(), (10 << 20) as f32);
    }
}
