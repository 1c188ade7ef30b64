//! The CPU kernel (`kernels::conv_cpu`, what `im2col::conv_forward` runs on
//! `Cpu` through its `Backend` impl) against the device-generic path
//! (`im2col::conv_forward_generic`): values and all three gradients, for
//! `f32` and `f64`, over plain, strided, dilated, grouped, asymmetrically
//! padded and transposed geometries; plus non-contiguous inputs. Inference
//! (no tape) takes other paths for stride-1 geometries (shifted views of a
//! padded image, no im2col matrix): `inference_forward_matches_traced_forward`.
//! 3 x 3 stride-1 geometries with 8 or more channels take Winograd's
//! F(2x2, 3x3) (`f32` with AVX-512F) in all three passes where it applies.

use sxima_runtime::dfdx::nn::{BuildModule, Module};
use sxima_runtime::dfdx::prelude::*;
use sxima_runtime::layers::conv_geom::ConvGeom;
use sxima_runtime::layers::conv_transpose2d::transposed_weight;
use sxima_runtime::layers::im2col::{conv_forward, conv_forward_generic};
use sxima_runtime::layers::Conv2d;
use sxima_runtime::Elem;
use sxima_testkit::first_mismatch;

fn geometries() -> Vec<(&'static str, ConvGeom, bool)> {
    vec![
        (
            "lecture conv1",
            ConvGeom::conv2d(3, (1, 28, 28), 8, (5, 5), (1, 1), (1, 1), 1, (0, 0, 0, 0)),
            false,
        ),
        (
            // Uneven runs of samples per thread (5 samples on 2 or 4 threads).
            "batch 5 same padding",
            ConvGeom::conv2d(5, (2, 6, 6), 3, (3, 3), (1, 1), (1, 1), 1, (1, 1, 1, 1)),
            false,
        ),
        (
            // Stride 1, wide enough for the inference path over shifted
            // views (kernels::conv_cpu::Shifted): 13 output channels (two
            // tiles of 6 rows and one of 1), 13 x 15 wide pixels.
            "same padding 13 channels",
            ConvGeom::conv2d(3, (5, 12, 13), 13, (3, 3), (1, 1), (1, 1), 1, (1, 1, 1, 1)),
            false,
        ),
        (
            // Output rows 16 wide: the shifted-view product writes the
            // output pixels in place (no wide pixels), per group.
            "16 wide groups",
            ConvGeom::conv2d(3, (4, 5, 16), 6, (3, 3), (1, 1), (1, 1), 2, (1, 1, 1, 1)),
            false,
        ),
        (
            // Shifted views with dilation, groups and uneven padding.
            "stride 1 dilated groups",
            ConvGeom::conv2d(2, (4, 9, 20), 6, (3, 2), (1, 1), (2, 2), 2, (2, 1, 0, 1)),
            false,
        ),
        (
            // 3 x 3, stride 1, 8+ channels: Winograd's F(2x2, 3x3) for the
            // forward and (8 -> 9 channels) the input gradient; odd output
            // sizes (a half tile at the right and bottom).
            "winograd odd sizes",
            ConvGeom::conv2d(3, (8, 11, 9), 9, (3, 3), (1, 1), (1, 1), 1, (1, 1, 1, 1)),
            false,
        ),
        (
            // Winograd with uneven padding, more than 16 tiles per row, and
            // an input gradient whose padding differs per side.
            "winograd uneven padding",
            ConvGeom::conv2d(2, (10, 7, 37), 8, (3, 3), (1, 1), (1, 1), 1, (0, 2, 1, 0)),
            false,
        ),
        (
            "stride 2 pad 1",
            ConvGeom::conv2d(2, (3, 9, 8), 4, (3, 3), (2, 2), (1, 1), 1, (1, 1, 1, 1)),
            false,
        ),
        (
            "rect dilated groups",
            ConvGeom::conv2d(2, (6, 10, 7), 9, (3, 2), (2, 1), (2, 3), 3, (1, 2, 0, 3)),
            false,
        ),
        (
            "1x1 stride 3",
            ConvGeom::conv2d(1, (4, 7, 7), 2, (1, 1), (3, 3), (1, 1), 2, (0, 0, 0, 0)),
            false,
        ),
        (
            "transposed",
            ConvGeom::conv_transpose2d(2, (3, 4, 5), 2, (3, 3), (2, 2), (1, 1), (1, 0)),
            true,
        ),
        (
            "transposed cropping",
            ConvGeom::conv_transpose2d(1, (2, 5, 4), 3, (2, 3), (3, 2), (2, 3), (2, 1)),
            true,
        ),
    ]
}

fn u<E: Elem>() -> rand_distr::Uniform<E> {
    rand_distr::Uniform::new(-E::one(), E::one())
}

type Grads<E> = (Vec<E>, Vec<E>, Vec<E>, Vec<E>);

fn run<E: Elem>(dev: &Cpu, geom: &ConvGeom, transposed: bool, fast: bool) -> Grads<E>
where
    Cpu: sxima_runtime::Backend<E>,
{
    let x = dev.sample_like(&(geom.input_len(),), u::<E>());
    let w_len = geom.c_out * geom.k_per_group();
    let w = dev.sample_like(&(w_len,), u::<E>());
    let b = dev.sample_like(&(geom.c_out,), u::<E>());
    let go = dev.sample_like(&(geom.batch, geom.c_out, geom.h_out, geom.w_out), u::<E>());
    let wr = w.retaped::<OwnedTape<E, Cpu>>();
    let wm = if transposed {
        let (kh, kw) = geom.kernel;
        transposed_weight(wr, (geom.c_in, geom.c_out, kh, kw)).unwrap()
    } else {
        wr.reshape_like(&(geom.c_out, geom.k_per_group()))
    };
    let (xt, bt) = (x.leaky_trace(), Some(b.retaped()));
    let y = if fast {
        conv_forward(xt, wm, bt, geom)
    } else {
        conv_forward_generic(xt, wm, bt, geom)
    }
    .unwrap();
    let out = y.as_vec();
    let g = (y * go).sum::<(), _>().backward();
    (
        out,
        g.get(&x).as_vec(),
        g.get(&w).as_vec(),
        g.get(&b).as_vec(),
    )
}

fn compare<E: Elem + Into<f64>>(tol: f64)
where
    Cpu: sxima_runtime::Backend<E>,
{
    for (name, geom, transposed) in geometries() {
        // Same seed: both paths see the same random tensors.
        let fast = run::<E>(&Cpu::seed_from_u64(7), &geom, transposed, true);
        let generic = run::<E>(&Cpu::seed_from_u64(7), &geom, transposed, false);
        let f64s = |v: &[E]| v.iter().map(|&a| a.into()).collect::<Vec<f64>>();
        for (what, a, b) in [
            ("output", &fast.0, &generic.0),
            ("grad_input", &fast.1, &generic.1),
            ("grad_weight", &fast.2, &generic.2),
            ("grad_bias", &fast.3, &generic.3),
        ] {
            assert!(
                !a.is_empty() && a.iter().any(|v| (*v).into() != 0.0),
                "{name} {what}: empty/zero"
            );
            if let Some((i, got, want)) = first_mismatch(&f64s(a), &f64s(b), tol) {
                panic!("{name} {what}[{i}]: fast {got}, generic {want}");
            }
        }
    }
}

#[test]
fn fast_path_matches_generic_path_f32() {
    compare::<f32>(1e-4);
}

#[test]
fn fast_path_matches_generic_path_f64() {
    compare::<f64>(1e-11);
}

/// A broadcast (non-contiguous) input must give the same values and the same
/// (summed) gradient as its contiguous copy.
#[test]
fn non_contiguous_input_is_handled() {
    type C = Conv2d<2, 3, 3, 3, 1, 1, 1, 1, 1, 2, 1, 1, 1, 1, 5, 5, 5, 5, f32, Cpu>;
    let dev = Cpu::seed_from_u64(9);
    let conv = C::build(&dev);
    let src: Tensor<Rank3<2, 5, 5>, f32, _> = dev.sample_normal();
    let bcast = src.leaky_trace().broadcast::<Rank4<4, 2, 5, 5>, _>();
    let y1 = conv.forward(bcast);
    let v1 = y1.as_vec();
    let g1 = y1.square().sum().backward();
    let copy: Tensor<Rank4<4, 2, 5, 5>, f32, _> = dev.tensor_from_vec(
        src.clone().broadcast::<Rank4<4, 2, 5, 5>, _>().as_vec(),
        Default::default(),
    );
    let y2 = conv.forward(copy.leaky_trace());
    let v2 = y2.as_vec();
    let g2 = y2.square().sum().backward();
    assert_eq!(v1, v2);
    let summed: Vec<f32> = (0..50)
        .map(|i| (0..4).map(|b| g2.get(&copy).as_vec()[b * 50 + i]).sum())
        .collect();
    let got = g1.get(&src).as_vec();
    for (a, b) in got.iter().zip(&summed) {
        assert!((a - b).abs() <= 1e-4 * b.abs().max(1.0), "{a} vs {b}");
    }
}

/// Inference (no tape: no im2col matrix kept) gives the same values as training.
#[test]
fn inference_forward_matches_traced_forward() {
    for (name, geom, transposed) in geometries() {
        let dev = Cpu::seed_from_u64(11);
        let x = dev.sample_like(&(geom.input_len(),), u::<f32>());
        let w = dev.sample_like(&(geom.c_out * geom.k_per_group(),), u::<f32>());
        let wm = |w: Tensor<(usize,), f32, Cpu>| {
            if transposed {
                let (kh, kw) = geom.kernel;
                transposed_weight(w, (geom.c_in, geom.c_out, kh, kw)).unwrap()
            } else {
                w.reshape_like(&(geom.c_out, geom.k_per_group()))
            }
        };
        let plain = conv_forward(x.clone(), wm(w.clone()), None, &geom).unwrap();
        let traced = conv_forward(x.leaky_trace(), wm(w.clone()).retaped(), None, &geom).unwrap();
        let generic = conv_forward_generic(x.clone(), wm(w), None, &geom).unwrap();
        assert_eq!(plain.as_vec(), traced.as_vec(), "{name}");
        let close = first_mismatch(
            &plain.as_vec().iter().map(|&v| v as f64).collect::<Vec<_>>(),
            &generic
                .as_vec()
                .iter()
                .map(|&v| v as f64)
                .collect::<Vec<_>>(),
            1e-4,
        );
        assert!(close.is_none(), "{name}: {close:?}");
    }
}

/// Gradients accumulate: using the layer twice on the same input doubles every
/// gradient (the backward adds into existing buffers, never overwrites).
#[test]
fn gradients_accumulate_over_repeated_use() {
    type C = Conv2d<3, 4, 3, 3, 2, 2, 1, 1, 1, 3, 1, 1, 1, 1, 7, 7, 4, 4, f64, Cpu>;
    let dev = Cpu::seed_from_u64(5);
    let conv = C::build(&dev);
    let x: Tensor<Rank4<2, 3, 7, 7>, f64, _> = dev.sample_normal();
    let once = conv.forward(x.leaky_trace()).sum().backward();
    let (y1, tape) = conv.forward(x.leaky_trace()).split_tape();
    let y2 = conv.forward(x.clone().put_tape(tape));
    // y1 left the tape; the add (taped through y2) carries its gradient.
    let twice = (y2 + y1).sum().backward();
    for (name, a, b) in [
        ("input", once.get(&x).as_vec(), twice.get(&x).as_vec()),
        (
            "weight",
            once.get(&conv.weight).as_vec(),
            twice.get(&conv.weight).as_vec(),
        ),
        (
            "bias",
            once.get(&conv.bias).as_vec(),
            twice.get(&conv.bias).as_vec(),
        ),
    ] {
        let doubled: Vec<f64> = a.iter().map(|v| 2.0 * v).collect();
        assert!(
            first_mismatch(&b, &doubled, 1e-12).is_none(),
            "{name} {:?} {:?}",
            &b[..4],
            &doubled[..4]
        );
    }
}

/// A training batch's input marked gradient-free (`Backend::gradient_free_input`,
/// as `train_step` marks its features): the conv kernel skips the input's
/// gradient and every other gradient is the same bits as without the mark;
/// the second conv's input (an activation) still gets its gradient. Both a
/// stride-1 padded conv (dx over shifted views) and a strided one (col2im).
#[test]
fn a_gradient_free_input_gets_no_gradient_and_changes_nothing_else() {
    use sxima_runtime::Backend;
    type C1 = Conv2d<2, 5, 3, 3, 1, 1, 1, 1, 1, 2, 1, 1, 1, 1, 9, 9, 9, 9, f32, Cpu>;
    type C2 = Conv2d<5, 3, 3, 3, 2, 2, 1, 1, 1, 5, 1, 1, 1, 1, 9, 9, 5, 5, f32, Cpu>;
    let dev = Cpu::seed_from_u64(3);
    let (c1, c2) = (C1::build(&dev), C2::build(&dev));
    let x: Tensor<Rank4<3, 2, 9, 9>, f32, Cpu> = dev.sample(u::<f32>());
    // dL/dx, dL/dW1, dL/db1, dL/dW2, dL/db2, dL/d(hidden) for L = sum(y^2).
    let grads_of = |mark: bool| {
        let _mark = mark.then(|| Cpu::gradient_free_input(&x));
        let h = c1.forward(x.leaky_trace());
        let h_seen = h.retaped::<NoneTape>();
        let y = c2.forward(h);
        let mut g = y.square().sum().backward();
        [
            g.get_or_alloc_mut(&x).unwrap().to_vec(),
            g.get(&c1.weight).as_vec(),
            g.get(&c1.bias).as_vec(),
            g.get(&c2.weight).as_vec(),
            g.get(&c2.bias).as_vec(),
            g.get_or_alloc_mut(&h_seen).unwrap().to_vec(),
        ]
    };
    let (plain, marked) = (grads_of(false), grads_of(true));
    assert!(plain[0].iter().any(|&v| v != 0.0), "unmarked: dx computed");
    assert!(marked[0].iter().all(|&v| v == 0.0), "marked: dx skipped");
    assert_eq!(plain[1..], marked[1..]);
    assert!(marked[5].iter().any(|&v| v != 0.0), "hidden gradient kept");
}
