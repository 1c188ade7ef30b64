//! CPU fast path of the convolution core: im2col into a contiguous matrix, one
//! `gemm` per group (multi-threaded), and a hand-written backward (two more
//! gemms and a col2im scatter-add) registered on the dfdx tape.
//!
//! Same contract as [`crate::layers::im2col::conv_forward`]; used for `Cpu`
//! with `f32`/`f64` only ([`is_supported`]). Matrices (row-major), with
//! `N = batch * h_out * w_out`, `CIK = c_in * kh * kw`, per group `g`:
//! * `cols [CIK, N]`: row `(c, i, j)`, column `(b, oy, ox)` (group `g` owns rows `g*Kg..`);
//! * forward `out_g [Cout/G, N] = W_g [Cout/G, Kg] x cols_g [Kg, N]`;
//! * backward `dW_g += dOut_g x cols_g^T`, `dcols_g = W_g^T x dOut_g`, `dx = col2im(dcols)`.

use std::any::{Any, TypeId};

use dfdx::prelude::*;
use rayon::prelude::*;

use crate::elem::Elem;
use crate::layers::conv_geom::ConvGeom;
use crate::layers::im2col::{check_operands, Dyn4};

/// Whether the fast path handles this element type and device (`Cpu`, `f32`/`f64`).
pub fn is_supported<E: 'static, D: 'static>() -> bool {
    TypeId::of::<D>() == TypeId::of::<Cpu>()
        && (TypeId::of::<E>() == TypeId::of::<f32>() || TypeId::of::<E>() == TypeId::of::<f64>())
}

/// The convolution on the CPU fast path (see module docs). Panics if
/// [`is_supported`] is false for `E`, `D` (callers dispatch on it).
pub fn conv_forward_cpu<E: Elem, D: Device<E>, T: Tape<E, D>>(
    x: Tensor<(usize,), E, D, T>,
    w: Tensor<(usize, usize), E, D, T>,
    bias: Option<Tensor<(usize,), E, D, T>>,
    geom: &ConvGeom,
) -> Result<Tensor<Dyn4, E, D, T>, D::Err> {
    assert!(
        is_supported::<E, D>(),
        "conv_forward_cpu: needs Cpu with f32/f64"
    );
    check_operands(
        x.shape().0,
        *w.shape(),
        bias.as_ref().map(|b| b.shape().0),
        geom,
    );
    let geom = *geom;
    let (x, tape_x) = x.split_tape();
    let (w, tape_w) = w.split_tape();
    let mut tape = tape_x.merge(tape_w);
    let bias = match bias {
        Some(b) => {
            let (b, tape_b) = b.split_tape();
            tape = tape.merge(tape_b);
            Some(b)
        }
        None => None,
    };

    let x_data = x.as_vec();
    let w_data = w.as_vec();
    let cols = im2col(&x_data, &geom);
    drop(x_data);
    let out = forward(&cols, &w_data, bias.as_ref().map(|b| b.as_vec()), &geom);
    let y = x
        .device()
        .try_tensor_from_vec(out, (geom.batch, geom.c_out, geom.h_out, geom.w_out))?;

    if T::OWNS_TAPE {
        let (x_g, w_g, y_g) = (x.ghost(), w.ghost(), y.ghost());
        let b_g = bias.map(|b| b.ghost());
        tape.add_backward_op(move |grads| {
            let n = geom.batch * geom.out_pixels();
            // dOut as [Cout, N] (N = (b, oy, ox)), and the bias gradient.
            let go_t = {
                let go = cpu_slice::<E, D>(grads.get_or_alloc_mut(&y_g)?);
                transpose_out(go, &geom)
            };
            if let Some(b_g) = &b_g {
                let gb = cpu_slice::<E, D>(grads.get_or_alloc_mut(b_g)?);
                for (o, g) in gb.iter_mut().enumerate() {
                    *g += go_t[o * n..(o + 1) * n]
                        .iter()
                        .fold(E::zero(), |acc, &v| acc + v);
                }
            }
            {
                let gw = cpu_slice::<E, D>(grads.get_or_alloc_mut(&w_g)?);
                grad_weight(&go_t, &cols, gw, &geom);
            }
            let dcols = grad_cols(&go_t, &w_data, &geom);
            drop(go_t);
            let gx = cpu_slice::<E, D>(grads.get_or_alloc_mut(&x_g)?);
            col2im(&dcols, gx, &geom);
            Ok(())
        });
    }
    Ok(y.put_tape(tape))
}

/// A gradient buffer of a `Cpu` tensor as a slice (the device was checked by
/// [`is_supported`] before the backward op was recorded).
fn cpu_slice<E: Elem, D: Storage<E>>(v: &mut D::Vec) -> &mut [E] {
    let v = (v as &mut dyn Any)
        .downcast_mut::<<Cpu as Storage<E>>::Vec>()
        .expect("conv fast path: gradient buffer is not a Cpu buffer");
    &mut v[..]
}

fn parallelism() -> gemm::Parallelism {
    match rayon::current_num_threads() {
        0 | 1 => gemm::Parallelism::None,
        n => gemm::Parallelism::Rayon(n),
    }
}

/// `dst [m, n] (row stride dst_rs) (+)= lhs [m, k] x rhs [k, n]` with explicit
/// (row, column) strides; `accumulate` adds to `dst` instead of overwriting.
#[allow(clippy::too_many_arguments)]
fn matmul<E: Elem>(
    (m, n, k): (usize, usize, usize),
    dst: &mut [E],
    dst_rs: usize,
    accumulate: bool,
    lhs: &[E],
    (lhs_rs, lhs_cs): (usize, usize),
    rhs: &[E],
    (rhs_rs, rhs_cs): (usize, usize),
) {
    if m == 0 || n == 0 {
        return;
    }
    // Bounds: the last element each operand touches must be inside its slice.
    assert!((m - 1) * dst_rs + n <= dst.len());
    if k > 0 {
        assert!((m - 1) * lhs_rs + (k - 1) * lhs_cs < lhs.len());
        assert!((k - 1) * rhs_rs + (n - 1) * rhs_cs < rhs.len());
    }
    // SAFETY: every index the kernel forms is `r * rs + c * cs` with `r`, `c`
    // below the sizes given, which the asserts above keep inside the slices;
    // `dst` is borrowed mutably and does not alias `lhs`/`rhs`.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst.as_mut_ptr(),
            1,
            dst_rs as isize,
            accumulate,
            lhs.as_ptr(),
            lhs_cs as isize,
            lhs_rs as isize,
            rhs.as_ptr(),
            rhs_cs as isize,
            rhs_rs as isize,
            E::one(),
            E::one(),
            false,
            false,
            false,
            parallelism(),
        )
    }
}

/// Source offsets along one axis: `tab[i * out + o]` = input index or -1.
fn axis_table(out: usize, k: usize, src: impl Fn(usize, usize) -> Option<usize>) -> Vec<isize> {
    let mut tab = Vec::with_capacity(out * k);
    for i in 0..k {
        for o in 0..out {
            tab.push(src(o, i).map_or(-1, |v| v as isize));
        }
    }
    tab
}

fn tables(geom: &ConvGeom) -> (Vec<isize>, Vec<isize>) {
    (
        axis_table(geom.h_out, geom.kernel.0, |o, i| geom.src_row(o, i)),
        axis_table(geom.w_out, geom.kernel.1, |o, j| geom.src_col(o, j)),
    )
}

/// The im2col matrix `[CIK, N]` of input `x [B, Cin, H, W]`.
fn im2col<E: Elem>(x: &[E], geom: &ConvGeom) -> Vec<E> {
    let (kh, kw) = geom.kernel;
    let (ho, wo) = (geom.h_out, geom.w_out);
    let p = ho * wo;
    let n = geom.batch * p;
    let (rows, cols_tab) = tables(geom);
    let mut cols = vec![E::zero(); geom.c_in * kh * kw * n];
    cols.par_chunks_mut(n.max(1))
        .enumerate()
        .for_each(|(r, dst)| {
            let (c, i, j) = (r / (kh * kw), (r / kw) % kh, r % kw);
            let ctab = &cols_tab[j * wo..(j + 1) * wo];
            for b in 0..geom.batch {
                let plane =
                    &x[(b * geom.c_in + c) * geom.h_in * geom.w_in..][..geom.h_in * geom.w_in];
                for oy in 0..ho {
                    let d = &mut dst[b * p + oy * wo..][..wo];
                    let sy = rows[i * ho + oy];
                    if sy < 0 {
                        continue; // stays zero
                    }
                    let line = &plane[sy as usize * geom.w_in..][..geom.w_in];
                    for (v, &sx) in d.iter_mut().zip(ctab) {
                        if sx >= 0 {
                            *v = line[sx as usize];
                        }
                    }
                }
            }
        });
    cols
}

/// `dx [B, Cin, H, W] += col2im(dcols [CIK, N])`, parallel over `(b, c)` planes.
fn col2im<E: Elem>(dcols: &[E], gx: &mut [E], geom: &ConvGeom) {
    let (kh, kw) = geom.kernel;
    let (ho, wo) = (geom.h_out, geom.w_out);
    let p = ho * wo;
    let n = geom.batch * p;
    let (rows, cols_tab) = tables(geom);
    let hw = geom.h_in * geom.w_in;
    assert_eq!(gx.len(), geom.input_len(), "conv: input gradient length");
    gx.par_chunks_mut(hw.max(1))
        .enumerate()
        .for_each(|(bc, plane)| {
            let (b, c) = (bc / geom.c_in, bc % geom.c_in);
            for i in 0..kh {
                for j in 0..kw {
                    let src = &dcols[((c * kh + i) * kw + j) * n + b * p..][..p];
                    let ctab = &cols_tab[j * wo..(j + 1) * wo];
                    for oy in 0..ho {
                        let sy = rows[i * ho + oy];
                        if sy < 0 {
                            continue;
                        }
                        let line = &mut plane[sy as usize * geom.w_in..][..geom.w_in];
                        for (&v, &sx) in src[oy * wo..(oy + 1) * wo].iter().zip(ctab) {
                            if sx >= 0 {
                                line[sx as usize] += v;
                            }
                        }
                    }
                }
            }
        });
}

/// Forward: `out [B, Cout, Ho, Wo]` from `cols`, the weight and the bias.
fn forward<E: Elem>(cols: &[E], w: &[E], bias: Option<Vec<E>>, geom: &ConvGeom) -> Vec<E> {
    let (cog, kg) = (geom.c_out_per_group(), geom.k_per_group());
    let p = geom.out_pixels();
    let n = geom.batch * p;
    let mut tmp = vec![E::zero(); geom.c_out * n]; // [Cout, N]
    for g in 0..geom.groups {
        matmul(
            (cog, n, kg),
            &mut tmp[g * cog * n..],
            n,
            false,
            &w[g * cog * kg..],
            (kg, 1),
            &cols[g * kg * n..],
            (n, 1),
        );
    }
    // [Cout, (b, p)] -> [b, Cout, p], plus bias.
    let mut out = vec![E::zero(); geom.output_len()];
    out.par_chunks_mut((geom.c_out * p).max(1))
        .enumerate()
        .for_each(|(b, ob)| {
            for o in 0..geom.c_out {
                let add = bias.as_ref().map_or(E::zero(), |bias| bias[o]);
                let src = &tmp[o * n + b * p..][..p];
                for (d, &s) in ob[o * p..(o + 1) * p].iter_mut().zip(src) {
                    *d = s + add;
                }
            }
        });
    out
}

/// `dOut [B, Cout, P]` as `[Cout, (b, p)]`.
fn transpose_out<E: Elem>(go: &[E], geom: &ConvGeom) -> Vec<E> {
    let p = geom.out_pixels();
    let n = geom.batch * p;
    assert_eq!(go.len(), geom.output_len(), "conv: output gradient length");
    let mut t = vec![E::zero(); geom.c_out * n];
    t.par_chunks_mut(n.max(1)).enumerate().for_each(|(o, row)| {
        for b in 0..geom.batch {
            row[b * p..(b + 1) * p].copy_from_slice(&go[(b * geom.c_out + o) * p..][..p]);
        }
    });
    t
}

/// `dW_g [Cout/G, Kg] += dOut_g [Cout/G, N] x cols_g^T [N, Kg]`.
fn grad_weight<E: Elem>(go_t: &[E], cols: &[E], gw: &mut [E], geom: &ConvGeom) {
    let (cog, kg) = (geom.c_out_per_group(), geom.k_per_group());
    let n = geom.batch * geom.out_pixels();
    assert_eq!(gw.len(), geom.c_out * kg, "conv: weight gradient length");
    for g in 0..geom.groups {
        matmul(
            (cog, kg, n),
            &mut gw[g * cog * kg..],
            kg,
            true,
            &go_t[g * cog * n..],
            (n, 1),
            &cols[g * kg * n..],
            (1, n),
        );
    }
}

/// `dcols_g [Kg, N] = W_g^T [Kg, Cout/G] x dOut_g [Cout/G, N]`.
fn grad_cols<E: Elem>(go_t: &[E], w: &[E], geom: &ConvGeom) -> Vec<E> {
    let (cog, kg) = (geom.c_out_per_group(), geom.k_per_group());
    let n = geom.batch * geom.out_pixels();
    let mut dcols = vec![E::zero(); geom.groups * kg * n];
    for g in 0..geom.groups {
        matmul(
            (kg, n, cog),
            &mut dcols[g * kg * n..],
            n,
            false,
            &w[g * cog * kg..],
            (1, kg),
            &go_t[g * cog * n..],
            (n, 1),
        );
    }
    dcols
}
