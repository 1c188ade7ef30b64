//! A `Cpu` tensor's data read in place, without the copy that
//! [`host_copy`](super::scratch::host_copy) makes.
//!
//! dfdx 0.13 has no public call that borrows a `Cpu` tensor's buffer
//! (`as_vec` and `copy_into` copy it). The kernels used to copy every input
//! activation before reading it: in the small ResNet's inference that was a
//! tenth of the time (a pass over 4 MB per conv and batch norm). A
//! [`HostView`] holds a clone of the tensor, flattened: a clone shares the
//! buffer (dfdx tensors are reference-counted) and keeps it alive and
//! unchanged (dfdx writes a buffer in place only when nothing else holds
//! it), so the view can be kept by a backward op too.

use std::ops::Deref;

use dfdx::prelude::*;

/// The data of a tensor, contiguous, in row-major order; dereferences to
/// `[E]`. A clone shares the buffer (and keeps it alive).
#[derive(Clone)]
pub(crate) struct HostView<E: Dtype> {
    /// The flattened tensor whose buffer `ptr` points into.
    _keep: Tensor<(usize,), E, Cpu>,
    ptr: *const E,
    len: usize,
}

// SAFETY: the view only reads a buffer that `_keep` (a `Send + Sync`
// tensor) keeps alive and that nothing writes while it is shared.
unsafe impl<E: Dtype> Send for HostView<E> {}
unsafe impl<E: Dtype> Sync for HostView<E> {}

/// `t`'s elements in row-major order: its own buffer when `t` is contiguous
/// (no copy), else a contiguous copy (dfdx's `reshape` of a strided tensor).
pub(crate) fn host_view<S: Shape, E: Dtype>(t: &Tensor<S, E, Cpu>) -> HostView<E> {
    let len = t.shape().num_elements();
    let keep = t.clone().reshape_like(&(len,));
    let ptr = match len {
        0 => std::ptr::NonNull::<E>::dangling().as_ptr() as *const E,
        _ => {
            // dfdx indexes its buffer with a bounds check and `keep` has
            // stride 1: the last element is inside the buffer, so all
            // `len` elements from the first one are.
            let first = &keep[[0]] as *const E;
            let last = &keep[[len - 1]] as *const E;
            assert_eq!(
                last as usize - first as usize,
                (len - 1) * std::mem::size_of::<E>(),
                "host_view: a flattened tensor is not contiguous"
            );
            first
        }
    };
    HostView {
        _keep: keep,
        ptr,
        len,
    }
}

impl<E: Dtype> Deref for HostView<E> {
    type Target = [E];
    fn deref(&self) -> &[E] {
        // SAFETY: `ptr` points at `len` initialised elements of `_keep`'s
        // buffer (checked in `host_view`), alive and unwritten while
        // `_keep` shares it (module doc).
        unsafe { std::slice::from_raw_parts(self.ptr, self.len) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_buffer_in_place_and_copies_strided_tensors() {
        let dev = Cpu::default();
        let x: Tensor<Rank3<2, 3, 4>, f32, Cpu> = dev.sample_normal();
        let v = host_view(&x);
        assert_eq!(&v[..], &x.as_vec()[..]);
        // The same buffer: element 0's address.
        assert_eq!(v.as_ptr(), &x[[0, 0, 0]] as *const f32);
        // A later in-place write elsewhere does not reach the view.
        let y = x.clone().relu();
        assert_eq!(&v[..], &x.as_vec()[..]);
        drop(x);
        assert_ne!(&v[..], &y.as_vec()[..]);
        // A permuted (strided) tensor is read in its logical order.
        let z: Tensor<Rank2<3, 5>, f64, Cpu> = dev.sample_normal();
        let zt = z.clone().permute::<Rank2<5, 3>, _>();
        let vt = host_view(&zt);
        let want: Vec<f64> = (0..15).map(|i| z[[i % 3, i / 3]]).collect();
        assert_eq!(&vt[..], &want[..]);
        // Broadcast: every logical element.
        let b: Tensor<Rank1<3>, f32, Cpu> = dev.tensor([1.0, 2.0, 3.0]);
        let bb = b.broadcast::<Rank2<2, 3>, _>();
        assert_eq!(&host_view(&bb)[..], &[1.0, 2.0, 3.0, 1.0, 2.0, 3.0]);
        let empty: Tensor<Rank1<0>, f32, Cpu> = dev.zeros();
        assert!(host_view(&empty).is_empty());
    }
}
