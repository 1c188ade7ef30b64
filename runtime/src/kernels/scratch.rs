//! A small process-wide pool of host buffers for the CPU kernels.
//!
//! A training step of a conv net allocates the same large scratch buffers
//! (im2col matrices of several MB, input copies, window arg-max tables) at
//! every step. Fresh large allocations come from the OS zeroed page by page,
//! so every step paid for page faults; with this pool a step reuses the
//! buffers of the previous one. A [`Scratch`] goes back to the pool when it is
//! dropped (for a buffer kept by a backward op: when the tape or the op is
//! dropped). The pool keeps buffers of at least [`MIN_BYTES`] (smaller ones
//! are cheap to get from the allocator), at most [`MAX_BUFFERS`] of them and
//! [`MAX_BYTES`] bytes; beyond that the oldest are freed.

use std::any::{Any, TypeId};
use std::ops::{Deref, DerefMut};
use std::sync::Mutex;

/// Smallest buffer the pool keeps, in bytes.
pub const MIN_BYTES: usize = 64 << 10;
/// Most buffers the pool keeps.
pub const MAX_BUFFERS: usize = 64;
/// Most bytes the pool keeps.
pub const MAX_BYTES: usize = 512 << 20;

struct Entry {
    ty: TypeId,
    bytes: usize,
    buf: Box<dyn Any + Send>,
}

static POOL: Mutex<Vec<Entry>> = Mutex::new(Vec::new());

/// A host buffer of `T` borrowed from the pool; dereferences to `[T]` and
/// returns to the pool on drop.
#[derive(Debug)]
pub struct Scratch<T: Copy + Send + 'static> {
    v: Vec<T>,
}

/// A value that gives away a read of a buffer before it was written: NaN
/// for the float elements, `usize::MAX` for indices.
pub trait Poison: Copy + Send + 'static {
    /// The poison value.
    fn poison() -> Self;
}

impl<E: crate::elem::Elem> Poison for E {
    fn poison() -> Self {
        E::nan()
    }
}

impl Poison for usize {
    fn poison() -> Self {
        usize::MAX
    }
}

impl<T: Poison> Scratch<T> {
    /// A buffer of `len` elements whose contents are unspecified: for
    /// buffers that are overwritten completely before they are read. In
    /// release builds they are the stale values of an earlier use (or
    /// [`Poison::poison`] where the buffer had to grow); in debug builds, so
    /// the tests, every element is the poison, so that code reading what it
    /// did not write gets NaN (or an index out of bounds), not a zero that
    /// happens to be right.
    pub fn uninit(len: usize) -> Self {
        let mut v = take::<T>(len);
        if cfg!(debug_assertions) {
            v.clear();
        }
        if v.len() >= len {
            v.truncate(len);
        } else {
            v.resize(len, T::poison());
        }
        Self { v }
    }
}

impl<T: Copy + Send + 'static> Scratch<T> {
    /// A buffer of `len` copies of `value` (what a buffer read before it is
    /// completely written needs, such as a zero-bordered image).
    pub fn filled(len: usize, value: T) -> Self {
        let mut v = take::<T>(len);
        v.clear();
        v.resize(len, value);
        Self { v }
    }
}

impl<T: Copy + Send + 'static> Deref for Scratch<T> {
    type Target = [T];
    fn deref(&self) -> &[T] {
        &self.v
    }
}

impl<T: Copy + Send + 'static> DerefMut for Scratch<T> {
    fn deref_mut(&mut self) -> &mut [T] {
        &mut self.v
    }
}

impl<T: Copy + Send + 'static> Drop for Scratch<T> {
    fn drop(&mut self) {
        give(std::mem::take(&mut self.v));
    }
}

/// The physical data of `t` (its whole buffer, so `t` should be contiguous)
/// in a pooled host buffer (`copy_into` is one memcpy; `as_vec` walks the
/// tensor element by element).
pub fn host_copy<S: dfdx::shapes::Shape, E: crate::elem::Elem>(
    t: &dfdx::tensor::Tensor<S, E, dfdx::tensor::Cpu>,
) -> Scratch<E> {
    let mut buf = Scratch::uninit(dfdx::shapes::HasShape::shape(t).num_elements());
    t.copy_into(&mut buf);
    buf
}

/// The smallest pooled buffer of `T` with capacity for `len` (and at most
/// twice that, so a small request does not pin a huge buffer), or a new one.
fn take<T: Copy + Send + 'static>(len: usize) -> Vec<T> {
    let want = len * std::mem::size_of::<T>();
    let mut pool = POOL.lock().unwrap_or_else(|e| e.into_inner());
    let best = pool
        .iter()
        .enumerate()
        .filter(|(_, e)| e.ty == TypeId::of::<Vec<T>>() && e.bytes >= want && e.bytes <= 2 * want)
        .min_by_key(|(_, e)| e.bytes)
        .map(|(i, _)| i);
    match best {
        Some(i) => {
            let e = pool.swap_remove(i);
            drop(pool);
            match e.buf.downcast::<Vec<T>>() {
                Ok(v) => *v,
                Err(_) => Vec::with_capacity(len),
            }
        }
        None => Vec::with_capacity(len),
    }
}

/// Returns `v` to the pool, evicting the oldest buffers beyond the limits.
fn give<T: Copy + Send + 'static>(v: Vec<T>) {
    let bytes = v.capacity() * std::mem::size_of::<T>();
    if !(MIN_BYTES..=MAX_BYTES).contains(&bytes) {
        return;
    }
    let mut pool = POOL.lock().unwrap_or_else(|e| e.into_inner());
    pool.push(Entry {
        ty: TypeId::of::<Vec<T>>(),
        bytes,
        buf: Box::new(v),
    });
    let mut total: usize = pool.iter().map(|e| e.bytes).sum();
    while pool.len() > MAX_BUFFERS || total > MAX_BYTES {
        let e = pool.remove(0);
        total -= e.bytes;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Element types only these tests use, so other tests running in
    /// parallel cannot take their buffers.
    #[derive(Debug, Clone, Copy, PartialEq)]
    struct A(u32);
    #[derive(Debug, Clone, Copy, PartialEq)]
    struct B(u32);
    #[derive(Debug, Clone, Copy, PartialEq)]
    struct C(u32);

    impl Poison for A {
        fn poison() -> Self {
            A(u32::MAX)
        }
    }
    impl Poison for B {
        fn poison() -> Self {
            B(u32::MAX)
        }
    }
    impl Poison for C {
        fn poison() -> Self {
            C(u32::MAX)
        }
    }

    #[test]
    fn buffers_are_reused_by_type_and_size() {
        let a = Scratch::filled(100_000, A(1));
        assert_eq!(a.len(), 100_000);
        assert!(a.iter().all(|&v| v == A(1)));
        let ptr = a.as_ptr();
        drop(a);
        // Same type, smaller length within 2x: the same memory, stale
        // contents in release builds, the poison in debug ones.
        let b = Scratch::<A>::uninit(90_000);
        assert_eq!(b.len(), 90_000);
        assert_eq!(b.as_ptr(), ptr);
        let expected = if cfg!(debug_assertions) {
            A(u32::MAX)
        } else {
            A(1)
        };
        assert!(b.iter().all(|&v| v == expected));
        drop(b);
        // `filled` overwrites the stale contents.
        let c = Scratch::filled(100_000, A(2));
        assert_eq!(c.as_ptr(), ptr);
        assert!(c.iter().all(|&v| v == A(2)));
        drop(c);
        // Far smaller: a fresh buffer (the big one is not pinned by a tiny
        // use), filled with the poison.
        let d = Scratch::<A>::uninit(40_000);
        assert_ne!(d.as_ptr(), ptr);
        assert!(d.iter().all(|&v| v == A(u32::MAX)));
    }

    #[test]
    fn growing_fills_and_types_never_mix() {
        drop(Scratch::filled(20_000, B(3)));
        let v = Scratch::<B>::uninit(35_000);
        assert!(v.iter().all(|&x| x == B(u32::MAX)));
        drop(v);
        // A B buffer of the right size exists now, but a C is asked for.
        let w = Scratch::<C>::uninit(35_000);
        assert!(w.iter().all(|&x| x == C(u32::MAX)));
    }

    #[test]
    fn float_poison_is_nan() {
        let v = Scratch::<f32>::uninit(10);
        assert!(v.iter().all(|x| x.is_nan()));
        let w = Scratch::<f64>::uninit(3);
        assert!(w.iter().all(|x| x.is_nan()));
        assert_eq!(Scratch::<usize>::uninit(2)[..], [usize::MAX; 2]);
    }
}
