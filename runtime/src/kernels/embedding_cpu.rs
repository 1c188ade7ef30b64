//! CPU kernel of the embedding lookup: each output row is a copy of the
//! weight row its id names (dfdx's `gather` computes every element's source
//! index on its own), and the backward adds each row of the output's
//! gradient into its weight row, in row order (as dfdx's scatter-add).
//!
//! `Cpu`'s [`Backend::embedding_forward`](crate::backend::Backend::embedding_forward),
//! tested against the default (`gather`) in `tests/embedding_fast_path.rs`.

use dfdx::prelude::*;

use crate::elem::Elem;
use crate::kernels::add_run;
use crate::kernels::host_view::host_view;
use crate::layers::embedding::{check_tokens, Embedded};

/// `y [B, S, M]`, `y[b, s]` = `weight[ids[b, s]]`. Panics if an id is `>= V`.
pub(crate) fn embedding_forward<
    const V: usize,
    const M: usize,
    B: Dim,
    S: Dim,
    E: Elem,
    T: Tape<E, Cpu>,
>(
    weight: Tensor<Rank2<V, M>, E, Cpu, T>,
    ids: Tensor<(B, S), usize, Cpu>,
) -> Result<Embedded<B, S, M, E, Cpu, T>, CpuError> {
    let (weight, mut tape) = weight.split_tape();
    let (b, s) = *ids.shape();
    let ids = ids.as_vec();
    if let Err(e) = check_tokens::<V>(&ids) {
        panic!("{e}");
    }
    let w = host_view(&weight);
    let mut out = Vec::with_capacity(ids.len() * M);
    for &t in &ids {
        out.extend_from_slice(&w[t * M..(t + 1) * M]);
    }
    drop(w);
    let dev = weight.device().clone();
    let y = dev.try_tensor_from_vec(out, (b, s, Const::<M>))?;
    if T::OWNS_TAPE {
        let (w_g, y_g) = (weight.ghost(), y.ghost());
        tape.add_backward_op(move |grads: &mut Gradients<E, Cpu>| {
            // Borrow dY by moving its buffer out (and back in): dW is
            // another entry of the same map.
            let mut gy = Storage::<E>::try_alloc_len(&dev, 0)?;
            std::mem::swap(grads.get_or_alloc_mut(&y_g)?, &mut gy);
            let gw = &mut grads.get_or_alloc_mut(&w_g)?[..];
            for (&t, row) in ids.iter().zip(gy.chunks_exact(M.max(1))) {
                add_run(&mut gw[t * M..(t + 1) * M], row);
            }
            std::mem::swap(grads.get_or_alloc_mut(&y_g)?, &mut gy);
            Ok(())
        });
    }
    Ok(y.put_tape(tape))
}
