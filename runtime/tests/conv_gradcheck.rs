//! Finite-difference gradient checks (f64, Cpu) of `Conv2d`, `Conv2dNoBias` and
//! `ConvTranspose2d` — input, weight and bias gradients — through the layers
//! (CPU fast path) and through the device-generic core.

use sxima_runtime::dfdx::nn::{BuildModule, Module};
use sxima_runtime::dfdx::prelude::*;
use sxima_runtime::layers::conv_transpose2d::transposed_weight;
use sxima_runtime::layers::im2col::conv_forward_generic;
use sxima_runtime::layers::{Conv2d, Conv2dNoBias, ConvGeom, ConvTranspose2d};
use sxima_testkit::assert_gradient_matches;

const EPS: f64 = 1e-6;
const TOL: f64 = 1e-5;

/// Rectangular kernel, unequal strides and dilations, groups 2, asymmetric padding:
/// `[2, 4, 7, 6] -> [2, 6, 4, 5]`.
type Conv = Conv2d<4, 6, 3, 2, 2, 1, 1, 2, 2, 2, 1, 2, 0, 1, 7, 6, 4, 5, f64, Cpu>;
type ConvNb = Conv2dNoBias<4, 6, 3, 2, 2, 1, 1, 2, 2, 2, 1, 2, 0, 1, 7, 6, 4, 5, f64, Cpu>;
/// `[2, 3, 3, 2] -> [2, 2, 6, 7]`: stride (2, 3), padding (1, 0), output padding (1, 2).
type Up = ConvTranspose2d<3, 2, 3, 2, 2, 3, 1, 0, 1, 2, 3, 2, 6, 7, f64, Cpu>;

type X4 = Rank4<2, 4, 7, 6>;
type Xt = Rank4<2, 3, 3, 2>;

#[test]
fn conv2d_gradients_match_finite_differences() {
    let dev = Cpu::seed_from_u64(1);
    let conv = Conv::build(&dev);
    let x: Tensor<X4, f64, _> = dev.sample_normal();
    let go: Tensor<Rank4<2, 6, 4, 5>, f64, _> = dev.sample_normal();
    let loss =
        |c: &Conv, x: Tensor<X4, f64, Cpu>| (c.forward(x) * go.clone()).sum::<Rank0, _>().array();

    let y = conv.forward(x.leaky_trace());
    let g = (y * go.clone()).sum::<Rank0, _>().backward();
    let (gx, gw, gb) = (
        g.get(&x).as_vec(),
        g.get(&conv.weight).as_vec(),
        g.get(&conv.bias).as_vec(),
    );
    assert!(gw.iter().any(|v| v.abs() > 1e-3));

    assert_gradient_matches("conv2d input", &x.as_vec(), &gx, EPS, TOL, |v| {
        loss(&conv, dev.tensor_from_vec(v.to_vec(), Default::default()))
    });
    assert_gradient_matches("conv2d weight", &conv.weight.as_vec(), &gw, EPS, TOL, |v| {
        let mut c = conv.clone();
        c.weight.copy_from(v);
        loss(&c, x.clone())
    });
    assert_gradient_matches("conv2d bias", &conv.bias.as_vec(), &gb, EPS, TOL, |v| {
        let mut c = conv.clone();
        c.bias.copy_from(v);
        loss(&c, x.clone())
    });
}

#[test]
fn conv2d_no_bias_gradients_match_finite_differences() {
    let dev = Cpu::seed_from_u64(2);
    let conv = ConvNb::build(&dev);
    let x: Tensor<X4, f64, _> = dev.sample_normal();
    let go: Tensor<Rank4<2, 6, 4, 5>, f64, _> = dev.sample_normal();
    let loss =
        |c: &ConvNb, x: Tensor<X4, f64, Cpu>| (c.forward(x) * go.clone()).sum::<Rank0, _>().array();
    let g = (conv.forward(x.leaky_trace()) * go.clone())
        .sum::<Rank0, _>()
        .backward();
    assert_gradient_matches(
        "no-bias input",
        &x.as_vec(),
        &g.get(&x).as_vec(),
        EPS,
        TOL,
        |v| loss(&conv, dev.tensor_from_vec(v.to_vec(), Default::default())),
    );
    let gw = g.get(&conv.weight).as_vec();
    assert_gradient_matches(
        "no-bias weight",
        &conv.weight.as_vec(),
        &gw,
        EPS,
        TOL,
        |v| {
            let mut c = conv.clone();
            c.weight.copy_from(v);
            loss(&c, x.clone())
        },
    );
}

#[test]
fn conv_transpose2d_gradients_match_finite_differences() {
    let dev = Cpu::seed_from_u64(3);
    let up = Up::build(&dev);
    let x: Tensor<Xt, f64, _> = dev.sample_normal();
    let go: Tensor<Rank4<2, 2, 6, 7>, f64, _> = dev.sample_normal();
    let loss =
        |c: &Up, x: Tensor<Xt, f64, Cpu>| (c.forward(x) * go.clone()).sum::<Rank0, _>().array();
    let g = (up.forward(x.leaky_trace()) * go.clone())
        .sum::<Rank0, _>()
        .backward();
    let (gx, gw, gb) = (
        g.get(&x).as_vec(),
        g.get(&up.weight).as_vec(),
        g.get(&up.bias).as_vec(),
    );
    assert_gradient_matches("convT input", &x.as_vec(), &gx, EPS, TOL, |v| {
        loss(&up, dev.tensor_from_vec(v.to_vec(), Default::default()))
    });
    assert_gradient_matches("convT weight", &up.weight.as_vec(), &gw, EPS, TOL, |v| {
        let mut c = up.clone();
        c.weight.copy_from(v);
        loss(&c, x.clone())
    });
    assert_gradient_matches("convT bias", &up.bias.as_vec(), &gb, EPS, TOL, |v| {
        let mut c = up.clone();
        c.bias.copy_from(v);
        loss(&c, x.clone())
    });
}

/// The composed (device-generic) core, which `Cuda` runs, against finite
/// differences: a grouped strided conv and a transposed conv that crops
/// (padding > kernel - 1).
#[test]
fn generic_core_gradients_match_finite_differences() {
    let dev = Cpu::seed_from_u64(4);
    let cases = [
        (
            ConvGeom::conv2d(2, (4, 6, 5), 4, (3, 2), (2, 1), (1, 2), 2, (1, 0, 2, 1)),
            false,
        ),
        (
            ConvGeom::conv_transpose2d(1, (2, 4, 3), 3, (2, 3), (2, 2), (2, 1), (1, 0)),
            true,
        ),
    ];
    for (geom, transposed) in cases {
        let (kh, kw) = geom.kernel;
        let kg = geom.k_per_group();
        let w_len = geom.c_out * kg;
        let x: Vec<f64> = rand_vec(&dev, geom.input_len());
        let w: Vec<f64> = rand_vec(&dev, w_len);
        let b: Vec<f64> = rand_vec(&dev, geom.c_out);
        let go: Vec<f64> = rand_vec(&dev, geom.output_len());
        let run = |x: &[f64], w: &[f64], b: &[f64]| {
            let xt = dev.tensor_from_vec(x.to_vec(), (x.len(),));
            let wt = dev.tensor_from_vec(w.to_vec(), (w.len(),));
            let bt = dev.tensor_from_vec(b.to_vec(), (b.len(),));
            let xl = xt.leaky_trace();
            let wr = wt.retaped::<OwnedTape<f64, Cpu>>();
            let wm = if transposed {
                transposed_weight(wr, (geom.c_in, geom.c_out, kh, kw)).unwrap()
            } else {
                wr.reshape_like(&(geom.c_out, kg))
            };
            let y = conv_forward_generic(xl, wm, Some(bt.retaped()), &geom).unwrap();
            let gt = dev.tensor_from_vec(go.clone(), *y.shape());
            let l = (y * gt).sum::<(), _>();
            let value = l.as_vec()[0];
            let g = l.backward();
            (
                value,
                g.get(&xt).as_vec(),
                g.get(&wt).as_vec(),
                g.get(&bt).as_vec(),
            )
        };
        let (_, gx, gw, gb) = run(&x, &w, &b);
        let what = format!("generic core {geom:?}");
        assert_gradient_matches(&format!("{what} input"), &x, &gx, EPS, TOL, |v| {
            run(v, &w, &b).0
        });
        assert_gradient_matches(&format!("{what} weight"), &w, &gw, EPS, TOL, |v| {
            run(&x, v, &b).0
        });
        assert_gradient_matches(&format!("{what} bias"), &b, &gb, EPS, TOL, |v| {
            run(&x, &w, v).0
        });
    }
}

fn rand_vec(dev: &Cpu, n: usize) -> Vec<f64> {
    dev.sample_normal_like::<(usize,)>(&(n,)).as_vec()
}
