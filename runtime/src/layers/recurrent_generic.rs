//! The device-generic recurrence of a [`Recurrent`](super::Recurrent) layer:
//! the input projection of every step as one matmul, then one dfdx cell step
//! per time step. The default of
//! [`Backend::recurrent_run`](crate::backend::Backend::recurrent_run) (what
//! `Cuda` runs), and the reference the CPU kernel is tested against.

use dfdx::prelude::*;

use super::recurrent::{CellKind, CellParams, Hidden, InitialState, RecurrentOutput};
use crate::backend::Backend;
use crate::elem::Elem;

/// Runs cell `K` over `x: [B, T, I]` (input dropout already applied) from
/// `state` (zeros when `None`), forwards or, with `reverse`, from step `T-1`
/// down to 0; see [`RecurrentOutput`] for what it returns and where the tape
/// goes.
pub fn recurrent_run_generic<
    B: Dim,
    T: Dim,
    const I: usize,
    const H: usize,
    K: CellKind,
    E: Elem,
    D: Backend<E>,
    Tp: Tape<E, D>,
>(
    p: CellParams<'_, I, H, K, E, D>,
    x: Tensor<(B, T, Const<I>), E, D, Tp>,
    state: Option<InitialState<B, H, E, D, Tp>>,
    reverse: bool,
) -> Result<RecurrentOutput<B, T, H, E, D, Tp>, D::Err> {
    let dev = x.device().clone();
    let (b, t, _) = *x.shape();
    // The input projection of every step at once: [B, T, G*H].
    let xw = x.try_matmul(p.weight_ih.retaped::<Tp>().try_permute::<_, Axes2<1, 0>>()?)?;
    let xw_shape = *xw.shape();
    let xw = xw.try_add(
        p.bias_ih
            .retaped::<Tp>()
            .try_broadcast_like::<_, Axes2<0, 1>>(&xw_shape)?,
    )?;
    // All backward ops of the run gather in `tape`; the state between
    // steps travels without one (ops are ordered by creation, so the
    // merged tape runs backwards correctly).
    let (xw, mut tape) = xw.split_tape();
    let (mut h, mut c) = match state {
        Some(s) => {
            let (h0, th) = s.h0.split_tape();
            tape = tape.merge(th);
            let c0 = match s.c0 {
                Some(c0) => {
                    let (c0, tc) = c0.split_tape();
                    tape = tape.merge(tc);
                    c0
                }
                None => dev.try_zeros_like(&(b, Const::<H>))?,
            };
            (h0, c0)
        }
        None => (
            dev.try_zeros_like(&(b, Const::<H>))?,
            dev.try_zeros_like(&(b, Const::<H>))?,
        ),
    };
    let steps = t.size();
    let mut hs: Vec<Option<Hidden<B, H, E, D>>> = vec![None; steps];
    for s in 0..steps {
        let ti = if reverse { steps - 1 - s } else { s };
        let idx = dev.try_tensor_from_vec(vec![ti; b.size()], (b,))?;
        let xt = xw.clone().put_tape(Tp::default()).try_select(idx)?;
        let c_in = K::HAS_CELL.then(|| c.clone().put_tape(Tp::default()));
        let (hn, cn) = K::step(
            xt,
            h.clone().put_tape(Tp::default()),
            c_in,
            p.weight_hh,
            p.bias_hh,
        )?;
        let (hn, th) = hn.split_tape();
        tape = tape.merge(th);
        if let Some(cn) = cn {
            let (cn, tc) = cn.split_tape();
            tape = tape.merge(tc);
            c = cn;
        }
        hs[ti] = Some(hn.clone());
        h = hn;
    }
    let output = if steps == 0 {
        dev.try_zeros_like(&(b, t, Const::<H>))?.put_tape(tape)
    } else {
        let hs: Vec<Hidden<B, H, E, D, Tp>> = hs
            .into_iter()
            .flatten()
            .map(|h| h.put_tape(Tp::default()))
            .collect();
        let (stacked, ts) = hs
            .try_stack()?
            .try_permute::<_, Axes3<1, 0, 2>>()?
            .try_reshape_like(&(b, t, Const::<H>))?
            .split_tape();
        stacked.put_tape(tape.merge(ts))
    };
    Ok(RecurrentOutput {
        output,
        h_n: h,
        c_n: K::HAS_CELL.then_some(c),
    })
}
