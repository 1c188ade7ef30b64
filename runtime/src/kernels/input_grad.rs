//! The training batch's input, marked as needing no gradient (what a PyTorch
//! tensor without `requires_grad` is): `Cpu`'s
//! [`Backend::gradient_free_input`](crate::backend::Backend::gradient_free_input).
//!
//! dfdx starts the tape at the input, so every layer's backward also computes
//! the gradient of its input, the first layer's included, which nobody reads
//! (gradients from `alloc_grads` drop it after the backward). For the MLP
//! `784-256-128-10` that first `dx` is 28% of a training step's products.
//! While a training step holds the guard [`mark`] returns, the dense and conv
//! kernels ask [`is_marked`] about their input and skip that gradient.
//!
//! The input is recognised by its buffer (address and length), which the
//! guard keeps alive with a clone of the tensor. The clone also keeps dfdx
//! from reusing the buffer for an op's output in place, so a tensor that
//! shares it is the input or a view of it (a reshape, a broadcast): its
//! gradient flows only into the input's.

use std::cell::Cell;

use dfdx::prelude::*;

thread_local! {
    /// `(address, length)` of the marked input's buffer on this thread.
    static MARKED: Cell<Option<(usize, usize)>> = const { Cell::new(None) };
}

/// Keeps an input marked (and its buffer alive) until dropped; the mark that
/// was there before comes back then.
pub(crate) struct Marked<S: Shape, E: Dtype> {
    _pin: Tensor<S, E, Cpu>,
    previous: Option<(usize, usize)>,
}

impl<S: Shape, E: Dtype> Drop for Marked<S, E> {
    fn drop(&mut self) {
        MARKED.with(|m| m.set(self.previous));
    }
}

/// The buffer of `t`: the address of element 0 (dfdx tensors have no
/// offset; only compared, never dereferenced) and the element count; `None`
/// for an empty tensor.
fn buffer<S: Shape, E: Dtype, T>(t: &Tensor<S, E, Cpu, T>) -> Option<(usize, usize)> {
    let len = t.shape().num_elements();
    // A view (broadcast) may have fewer distinct elements than its shape
    // says; the address alone decides, the length only guards against an
    // empty tensor.
    (len > 0).then(|| (&t[Default::default()] as *const E as usize, len))
}

/// Marks `x` on this thread until the guard is dropped.
pub(crate) fn mark<S: Shape, E: Dtype>(x: &Tensor<S, E, Cpu>) -> Marked<S, E> {
    let previous = MARKED.with(|m| m.replace(buffer(x)));
    Marked {
        _pin: x.clone(),
        previous,
    }
}

/// Whether `x` is (a view of) the marked input, whose gradient nobody reads.
pub(crate) fn is_marked<S: Shape, E: Dtype, T>(x: &Tensor<S, E, Cpu, T>) -> bool {
    match (MARKED.with(Cell::get), buffer(x)) {
        (Some((addr, _)), Some((x_addr, _))) => addr == x_addr,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marks_the_input_and_its_views_until_dropped() {
        let dev = Cpu::default();
        let x: Tensor<Rank2<3, 4>, f32, Cpu> = dev.sample_normal();
        let other: Tensor<Rank2<3, 4>, f32, Cpu> = dev.sample_normal();
        assert!(!is_marked(&x));
        {
            let _g = mark(&x);
            assert!(is_marked(&x));
            assert!(is_marked(&x.clone().reshape::<Rank1<12>>()));
            assert!(!is_marked(&other));
            // An op's output is a new buffer (the guard's clone keeps dfdx
            // from writing the input's in place).
            assert!(!is_marked(&x.clone().relu()));
            {
                let _inner = mark(&other);
                assert!(is_marked(&other) && !is_marked(&x));
            }
            assert!(is_marked(&x) && !is_marked(&other));
            // Other threads see no mark.
            let x2 = x.clone();
            assert!(!std::thread::spawn(move || is_marked(&x2)).join().unwrap());
        }
        assert!(!is_marked(&x));
        let empty: Tensor<Rank1<0>, f32, Cpu> = dev.zeros();
        let _g = mark(&empty);
        assert!(!is_marked(&empty));
    }
}
