//! CPU kernel of the dense product (`Cpu`'s
//! [`Backend::dense_forward`](crate::backend::Backend::dense_forward)):
//! `y [rows, O] = x [rows, I] W^T (+ b)` as one gemm into output rows that
//! start as the bias, and a hand-written backward of two gemms and one pass,
//! registered on the dfdx tape:
//! * `dx [rows, I] += dy [rows, O] W [O, I]`;
//! * `dW [O, I] += dy^T [O, rows] x [rows, I]`;
//! * `db [O] += column sums of dy`.
//!
//! dfdx's `Linear` runs a matmul, then a broadcast add (a second pass and
//! allocation), and several ops backwards. Large products are split over
//! the kernels' `team` by the gemm, over output blocks only: every sum runs over
//! its whole reduction in one order, so results do not depend on the
//! number of threads.

use dfdx::prelude::*;

use crate::elem::Elem;
use crate::kernels::gemm_cpu::{matmul, GemmArgs};
use crate::kernels::host_view::host_view;
use crate::kernels::input_grad;
use crate::kernels::param_cache::{host_param, host_param_t};
use crate::kernels::split_operands;
use crate::layers::dense_generic::Rows;

/// Products of at least this many multiply-adds may use several threads;
/// smaller ones (a single sample through an MLP layer) stay on the calling
/// thread, where a thread hop would cost more than it saves.
const THREADED_MACS: usize = 1 << 20;

/// See the module docs; the sizes must agree (`x [rows, I]`, `w [O, I]`,
/// `bias [O]`), as the dense layers' types guarantee.
pub(crate) fn dense_forward_cpu<E: Elem, T: Tape<E, Cpu>>(
    x: Rows<E, Cpu, T>,
    w: Rows<E, Cpu, T>,
    bias: Option<Tensor<(usize,), E, Cpu, T>>,
) -> Result<Rows<E, Cpu, T>, CpuError> {
    let (rows, i) = *x.shape();
    let (o, wi) = *w.shape();
    assert_eq!(i, wi, "dense: input features {i} vs weight [{o}, {wi}]");
    if let Some(b) = &bias {
        assert_eq!(b.shape().0, o, "dense: bias length vs weight [{o}, {wi}]");
    }
    let (x, w, bias, mut tape) = split_operands(x, w, bias);
    let threaded = rows * o * i >= THREADED_MACS;
    // The training batch's input: its gradient is not wanted (`input_grad`).
    let want_dx = !input_grad::is_marked(&x);

    // Host copies of x and W (W's is usually a kept one, see
    // `param_cache`); the backward keeps them. An inference pass reads the
    // kept `W^T` instead, whose rows the gemm streams without repacking.
    let x_data = host_view(&x);
    let w_data = if T::OWNS_TAPE {
        host_param(&w)
    } else {
        host_param_t(&w, o)
    };
    // Output rows start as the bias (copied once, then repeated), or zero.
    let mut out = vec![E::zero(); rows * o];
    if let (Some(b), true) = (&bias, rows > 0) {
        b.copy_into(&mut out[..o]);
        for r in 1..rows {
            out.copy_within(..o, r * o);
        }
    }
    // out [rows, O] += x [rows, I] (strides (I, 1)) x W^T [I, O] (strides
    // (1, I) in W, or (O, 1) in the transposed copy).
    let w_t_strides = if T::OWNS_TAPE { (1, i) } else { (o, 1) };
    matmul(GemmArgs {
        mnk: (rows, o, i),
        dst: &mut out,
        dst_rs: o,
        accumulate: true,
        lhs: &x_data,
        lhs_strides: (i, 1),
        rhs: &w_data,
        rhs_strides: w_t_strides,
        threaded,
    });
    let dev = x.device().clone();
    let y = dev.try_tensor_from_vec(out, (rows, o))?;

    if T::OWNS_TAPE {
        let (x_g, w_g, y_g) = (x.ghost(), w.ghost(), y.ghost());
        let b_g = bias.map(|b| b.ghost());
        tape.add_backward_op(move |grads: &mut Gradients<E, Cpu>| {
            // Borrow dy by moving its buffer out (and back in at the end):
            // dx, dW and db are other entries of the same map.
            let mut gy = Storage::<E>::try_alloc_len(&dev, 0)?;
            std::mem::swap(grads.get_or_alloc_mut(&y_g)?, &mut gy);
            // dx [rows, I] += dy [rows, O] (strides (O, 1)) x W [O, I] (strides (I, 1)).
            if want_dx {
                matmul(GemmArgs {
                    mnk: (rows, i, o),
                    dst: &mut grads.get_or_alloc_mut(&x_g)?[..],
                    dst_rs: i,
                    accumulate: true,
                    lhs: &gy[..],
                    lhs_strides: (o, 1),
                    rhs: &w_data,
                    rhs_strides: (i, 1),
                    threaded,
                });
            }
            // dW [O, I] += dy^T [O, rows] (strides (1, O)) x x [rows, I] (strides (I, 1)).
            matmul(GemmArgs {
                mnk: (o, i, rows),
                dst: &mut grads.get_or_alloc_mut(&w_g)?[..],
                dst_rs: i,
                accumulate: true,
                lhs: &gy[..],
                lhs_strides: (1, o),
                rhs: &x_data,
                rhs_strides: (i, 1),
                threaded,
            });
            if let Some(b_g) = &b_g {
                let mut sums = vec![E::zero(); o];
                for row in gy.chunks_exact(o.max(1)) {
                    for (s, &g) in sums.iter_mut().zip(row) {
                        *s += g;
                    }
                }
                for (d, s) in grads.get_or_alloc_mut(b_g)?.iter_mut().zip(sums) {
                    *d += s;
                }
            }
            std::mem::swap(grads.get_or_alloc_mut(&y_g)?, &mut gy);
            Ok(())
        });
    }
    Ok(y.put_tape(tape))
}
