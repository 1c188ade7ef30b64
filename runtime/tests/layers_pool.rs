//! Pooling, padding and upsampling layers: finite-difference gradients of
//! each const-generic layer (f64 on `Cpu`), the CPU kernels against the
//! generic dfdx composition, and a few hand-computed values.

mod layers_common;

use layers_common::{check_input_gradient, values};
use sxima_runtime::dfdx::nn::Module;
use sxima_runtime::dfdx::prelude::*;
use sxima_runtime::layers::adaptive_pool::adaptive_plan;
use sxima_runtime::layers::global_pool::global_plan;
use sxima_runtime::layers::pool::Pool2dGeom;
use sxima_runtime::layers::upsample::{bilinear_plan, nearest_plan};
use sxima_runtime::layers::window::{
    window_max, window_max_generic, window_sum, window_sum_generic, WindowPlan,
};
use sxima_runtime::layers::zero_padding::padding_plan;
use sxima_runtime::layers::{
    AdaptiveAvgPool2d, AdaptiveMaxPool2d, AvgPool2d, GlobalAvgPool, GlobalMaxPool, MaxPool2d,
    UpSampling2d, UpSampling2dBilinear, ZeroPadding2d,
};
use sxima_runtime::Backend;

type In<const C: usize, const H: usize, const W: usize> = (usize, Const<C>, Const<H>, Const<W>);

#[test]
fn pooling_layers_gradients_match_finite_differences() {
    let s: In<2, 5, 6> = (2, Const, Const, Const);
    check_input_gradient("MaxPool2d 2x2 s2", s, 1, |x| {
        MaxPool2d::<2, 2, 2, 2, 0, 0, 0, 0, 5, 6, 2, 3>::new().forward(x)
    });
    check_input_gradient("MaxPool2d 3x3 s1 p1", s, 2, |x| {
        MaxPool2d::<3, 3, 1, 1, 1, 1, 1, 1, 5, 6, 5, 6>::new().forward(x)
    });
    check_input_gradient("MaxPool2d 3x2 s(2,1) p(1,0,0,1)", s, 3, |x| {
        MaxPool2d::<3, 2, 2, 1, 1, 0, 0, 1, 5, 6, 2, 6>::new().forward(x)
    });
    check_input_gradient("AvgPool2d 3x3 s2 p1 count_pad", s, 4, |x| {
        AvgPool2d::<3, 3, 2, 2, 1, 1, 1, 1, 5, 6, 3, 3, true>::new().forward(x)
    });
    check_input_gradient("AvgPool2d 3x3 s2 p1 exclude_pad", s, 5, |x| {
        AvgPool2d::<3, 3, 2, 2, 1, 1, 1, 1, 5, 6, 3, 3, false>::new().forward(x)
    });
    check_input_gradient("MaxPool2d 3x3 s2 ceil", s, 12, |x| {
        MaxPool2d::<3, 3, 2, 2, 0, 0, 0, 0, 5, 6, 2, 3, true>::new().forward(x)
    });
    check_input_gradient("AvgPool2d 3x3 s2 p1 count_pad ceil", s, 13, |x| {
        AvgPool2d::<3, 3, 2, 2, 1, 1, 1, 1, 5, 6, 3, 4, true, true>::new().forward(x)
    });
    check_input_gradient("AvgPool2d 2x2 s2 exclude_pad ceil", s, 14, |x| {
        AvgPool2d::<2, 2, 2, 2, 0, 0, 0, 0, 5, 6, 3, 3, false, true>::new().forward(x)
    });
    check_input_gradient("GlobalAvgPool", s, 6, |x| GlobalAvgPool.forward(x));
    check_input_gradient("GlobalMaxPool", s, 7, |x| GlobalMaxPool.forward(x));
    check_input_gradient("AdaptiveAvgPool2d 5x6->3x4", s, 8, |x| {
        AdaptiveAvgPool2d::<5, 6, 3, 4>::new().forward(x)
    });
    check_input_gradient("AdaptiveMaxPool2d 5x6->3x4", s, 9, |x| {
        AdaptiveMaxPool2d::<5, 6, 3, 4>::new().forward(x)
    });
}

#[test]
fn resampling_layers_gradients_match_finite_differences() {
    let s: In<2, 3, 4> = (2, Const, Const, Const);
    check_input_gradient("ZeroPadding2d", s, 10, |x| {
        ZeroPadding2d::<1, 2, 0, 1, 3, 4, 6, 5>::new().forward(x)
    });
    check_input_gradient("UpSampling2d x(2,3)", s, 11, |x| {
        UpSampling2d::<2, 3, 3, 4, 6, 12>::new().forward(x)
    });
    check_input_gradient("UpSampling2dBilinear x2", s, 12, |x| {
        UpSampling2dBilinear::<2, 2, 3, 4, 6, 8, false>::new().forward(x)
    });
    check_input_gradient("UpSampling2dBilinear x3 align", s, 13, |x| {
        UpSampling2dBilinear::<3, 3, 3, 4, 9, 12, true>::new().forward(x)
    });
}

/// Runs `plan` through the dispatched (CPU kernel) and the generic path on
/// the same input and upstream gradient; outputs and input gradients agree.
fn cpu_matches_generic<E: Elem64>(plan: &WindowPlan, max: bool, seed: u64)
where
    Cpu: Backend<E>,
{
    let dev = Cpu::default();
    let (n, c) = (3usize, 2usize);
    let x_shape = (n, c, plan.in_h, plan.in_w);
    let o_shape = (n, c, plan.out_h, plan.out_w);
    let x: Tensor<_, E, Cpu> = dev.tensor_from_vec(
        values(n * c * plan.in_plane(), seed)
            .into_iter()
            .map(E::from64)
            .collect(),
        x_shape,
    );
    let go: Tensor<_, E, Cpu> = dev.tensor_from_vec(
        values(n * c * plan.out_plane(), seed + 100)
            .into_iter()
            .map(E::from64)
            .collect(),
        o_shape,
    );
    let run = |generic: bool| {
        let xt = x.leaky_trace();
        let y = match (max, generic) {
            (true, false) => window_max(xt, plan, o_shape).unwrap(),
            (true, true) => window_max_generic(xt, plan, o_shape).unwrap(),
            (false, false) => window_sum(xt, plan, o_shape).unwrap(),
            (false, true) => window_sum_generic(xt, plan, o_shape).unwrap(),
        };
        let yv = y.as_vec();
        let g = (y * go.clone()).sum().backward();
        (yv, g.get(&x).as_vec())
    };
    let (y_cpu, g_cpu) = run(false);
    let (y_gen, g_gen) = run(true);
    let close = |a: &[E], b: &[E], what: &str| {
        assert_eq!(a.len(), b.len());
        for (i, (p, q)) in a.iter().zip(b).enumerate() {
            let (p, q) = (p.to64(), q.to64());
            assert!(
                (p - q).abs() <= 1e-5 * q.abs().max(1.0),
                "{what}[{i}]: cpu {p}, generic {q}"
            );
        }
    };
    close(&y_cpu, &y_gen, "output");
    close(&g_cpu, &g_gen, "grad_input");
}

/// f32 and f64, the element types the CPU kernels cover.
trait Elem64: sxima_runtime::Elem {
    fn from64(v: f64) -> Self;
    fn to64(self) -> f64;
}
impl Elem64 for f32 {
    fn from64(v: f64) -> Self {
        v as f32
    }
    fn to64(self) -> f64 {
        self as f64
    }
}
impl Elem64 for f64 {
    fn from64(v: f64) -> Self {
        v
    }
    fn to64(self) -> f64 {
        self
    }
}

#[test]
fn cpu_kernels_match_the_generic_path() {
    let geoms = [
        Pool2dGeom::new((7, 6), (2, 2), (2, 2), [0; 4]).unwrap(),
        Pool2dGeom::new((7, 6), (3, 3), (2, 1), [1, 1, 1, 1]).unwrap(),
        Pool2dGeom::new((7, 6), (3, 2), (1, 3), [1, 0, 0, 1]).unwrap(),
    ];
    for (i, g) in geoms.iter().enumerate() {
        let seed = 20 + i as u64;
        cpu_matches_generic::<f32>(&g.max_plan(), true, seed);
        cpu_matches_generic::<f64>(&g.max_plan(), true, seed);
        cpu_matches_generic::<f32>(&g.avg_plan(true), false, seed);
        cpu_matches_generic::<f64>(&g.avg_plan(false), false, seed);
    }
    cpu_matches_generic::<f32>(&adaptive_plan(7, 6, 3, 4, true), false, 30);
    cpu_matches_generic::<f32>(&adaptive_plan(7, 6, 3, 4, false), true, 31);
    cpu_matches_generic::<f64>(&global_plan(7, 6), true, 32);
    cpu_matches_generic::<f32>(&nearest_plan(3, 4, 2, 3), false, 33);
    cpu_matches_generic::<f32>(&bilinear_plan(3, 4, 2, 2, false), false, 34);
    cpu_matches_generic::<f64>(&bilinear_plan(3, 4, 3, 2, true), false, 35);
    cpu_matches_generic::<f32>(&padding_plan(3, 4, [1, 2, 0, 3]), false, 36);
    // Planes big enough that the CPU kernels split them over threads.
    let big = Pool2dGeom::new((64, 64), (2, 2), (2, 2), [0; 4]).unwrap();
    cpu_matches_generic::<f32>(&big.max_plan(), true, 37);
    cpu_matches_generic::<f32>(&nearest_plan(40, 40, 2, 2), false, 38);
}

#[test]
fn max_pool_layer_values_and_any_batch_size() {
    let dev = Cpu::default();
    // One 4x4 plane 0..16: 2x2 max pooling picks the bottom-right of each block.
    let x: Tensor<(usize, Const<1>, Const<4>, Const<4>), f32, Cpu> = dev.tensor_from_vec(
        (0..16).map(|v| v as f32).collect(),
        (1, Const, Const, Const),
    );
    let y = MaxPool2d::<2, 2, 2, 2, 0, 0, 0, 0, 4, 4, 2, 2>::new().forward(x);
    assert_eq!(y.as_vec(), vec![5.0, 7.0, 13.0, 15.0]);
    // Constant batch size works too, and gradient flows only to the maxima.
    let x: Tensor<Rank4<2, 3, 4, 4>, f32, Cpu> = dev.sample_normal();
    let y = MaxPool2d::<2, 2, 2, 2, 0, 0, 0, 0, 4, 4, 2, 2>::new().forward(x.leaky_trace());
    let g = y.sum().backward().get(&x).as_vec();
    assert_eq!(g.iter().filter(|&&v| v == 1.0).count(), 2 * 3 * 4);
    assert_eq!(g.iter().filter(|&&v| v == 0.0).count(), 2 * 3 * 12);
}

/// `ceil_mode = true` against PyTorch 2.x: the input is
/// `((i * 7) % 11) - 5` for `i` in `0..30` as `[1, 1, 5, 6]`, the expected
/// values printed by `torch.nn.functional.{max,avg}_pool2d(x, k, s, p,
/// ceil_mode=True, count_include_pad=..)` (float32).
#[test]
fn ceil_mode_values_match_pytorch() {
    let dev = Cpu::default();
    let x = || -> Tensor<(usize, Const<1>, Const<5>, Const<6>), f32, Cpu> {
        dev.tensor_from_vec(
            (0..30).map(|i| ((i * 7) % 11) as f32 - 5.0).collect(),
            (1, Const, Const, Const),
        )
    };
    let close = |got: Vec<f32>, want: &[f32]| {
        assert_eq!(got.len(), want.len());
        for (g, w) in got.iter().zip(want) {
            assert!((g - w).abs() < 1e-6, "{got:?} vs {want:?}");
        }
    };
    // max_pool2d(x, 3, 2, 0, ceil_mode=True): [1, 1, 2, 3] (floor: 2x2).
    let y = MaxPool2d::<3, 3, 2, 2, 0, 0, 0, 0, 5, 6, 2, 3, true>::new().forward(x());
    close(y.as_vec(), &[5.0, 5.0, 4.0, 5.0, 5.0, 4.0]);
    // avg_pool2d(x, 3, 2, 1, ceil_mode=True): [1, 1, 3, 4], windows past the
    // padded input divide by their clipped size.
    let y = AvgPool2d::<3, 3, 2, 2, 1, 1, 1, 1, 5, 6, 3, 4, true, true>::new().forward(x());
    close(
        y.as_vec(),
        &[
            0.11111111,
            0.44444445,
            0.0,
            -1.3333334,
            0.0,
            0.11111111,
            -0.5555556,
            0.16666667,
            -0.11111111,
            0.11111111,
            -0.33333334,
            0.33333334,
        ],
    );
    // The same with count_include_pad=False.
    let y = AvgPool2d::<3, 3, 2, 2, 1, 1, 1, 1, 5, 6, 3, 4, false, true>::new().forward(x());
    close(
        y.as_vec(),
        &[
            0.25, 0.6666667, 0.0, -4.0, 0.0, 0.11111111, -0.5555556, 0.33333334, -0.25, 0.16666667,
            -0.5, 1.0,
        ],
    );
    // avg_pool2d(x, 2, 2, 0, ceil_mode=True): [1, 1, 3, 3].
    let y = AvgPool2d::<2, 2, 2, 2, 0, 0, 0, 0, 5, 6, 3, 3, true, true>::new().forward(x());
    close(
        y.as_vec(),
        &[0.25, 0.5, -2.0, -1.0, 2.0, -0.5, 1.5, -1.0, 2.0],
    );
    // The run-time geometry agrees.
    let g = Pool2dGeom::new((5, 6), (3, 3), (2, 2), [0; 4]).unwrap();
    assert_eq!(g.output(), (2, 2));
    assert_eq!(g.with_ceil_mode(true).output(), (2, 3));
}

#[test]
fn max_pool_padding_never_wins() {
    let dev = Cpu::default();
    // All-negative input: padding (-inf) must not be the maximum.
    let x: Tensor<(usize, Const<1>, Const<3>, Const<3>), f64, Cpu> = dev.tensor_from_vec(
        (1..=9).map(|v| -(v as f64)).collect(),
        (1, Const, Const, Const),
    );
    let y = MaxPool2d::<3, 3, 2, 2, 1, 1, 1, 1, 3, 3, 2, 2>::new().forward(x);
    assert_eq!(y.as_vec(), vec![-1.0, -2.0, -4.0, -5.0]);
    let x = dev.tensor_from_vec(vec![-1.0f64; 9], (1usize, 1usize, 3usize, 3usize));
    let plan = Pool2dGeom::new((3, 3), (3, 3), (2, 2), [1; 4])
        .unwrap()
        .max_plan();
    let y = window_max_generic(x, &plan, (1usize, 1usize, 2usize, 2usize)).unwrap();
    assert_eq!(y.as_vec(), vec![-1.0; 4]);
}

#[test]
fn avg_pool_divisors_follow_count_include_pad() {
    let dev = Cpu::default();
    let ones = || -> Tensor<(usize, Const<1>, Const<2>, Const<2>), f64, Cpu> {
        dev.tensor_from_vec(vec![1.0; 4], (1, Const, Const, Const))
    };
    // 2x2 windows, stride 2, padding 1: each window holds one real value.
    let inc = AvgPool2d::<2, 2, 2, 2, 1, 1, 1, 1, 2, 2, 2, 2, true>::new().forward(ones());
    assert_eq!(inc.as_vec(), vec![0.25; 4]);
    let exc = AvgPool2d::<2, 2, 2, 2, 1, 1, 1, 1, 2, 2, 2, 2, false>::new().forward(ones());
    assert_eq!(exc.as_vec(), vec![1.0; 4]);
}

#[test]
fn zero_padding_and_nearest_upsampling_values() {
    let dev = Cpu::default();
    let x: Tensor<(usize, Const<1>, Const<2>, Const<2>), f32, Cpu> =
        dev.tensor_from_vec(vec![1.0, 2.0, 3.0, 4.0], (1, Const, Const, Const));
    let p = ZeroPadding2d::<1, 0, 0, 1, 2, 2, 3, 3>::new().forward(x.clone());
    assert_eq!(
        p.as_vec(),
        vec![0.0, 0.0, 0.0, 1.0, 2.0, 0.0, 3.0, 4.0, 0.0]
    );
    let u = UpSampling2d::<2, 1, 2, 2, 4, 2>::new().forward(x);
    assert_eq!(u.as_vec(), vec![1.0, 2.0, 1.0, 2.0, 3.0, 4.0, 3.0, 4.0]);
}

#[test]
fn bilinear_align_corners_keeps_corners() {
    let dev = Cpu::default();
    let x: Tensor<(usize, Const<1>, Const<2>, Const<2>), f64, Cpu> =
        dev.tensor_from_vec(vec![1.0, 2.0, 3.0, 4.0], (1, Const, Const, Const));
    let y = UpSampling2dBilinear::<2, 2, 2, 2, 4, 4, true>::new()
        .forward(x)
        .as_vec();
    assert_eq!((y[0], y[3], y[12], y[15]), (1.0, 2.0, 3.0, 4.0));
    // Bilinear of a plane that is linear in (row, col) stays linear.
    assert!(
        (y[5] - (1.0 + 2.0 / 3.0 + 1.0 / 3.0)).abs() < 1e-12,
        "{y:?}"
    );
}

#[test]
fn pool_geometry_errors_are_values() {
    assert!(Pool2dGeom::new((2, 2), (3, 3), (1, 1), [0; 4]).is_err());
    assert!(Pool2dGeom::new((4, 4), (2, 2), (0, 1), [0; 4]).is_err());
    let g = Pool2dGeom::new((24, 24), (2, 2), (2, 2), [0; 4]).unwrap();
    assert_eq!(g.output(), (12, 12));
}

#[test]
fn cpu_kernels_handle_non_contiguous_inputs() {
    let dev = Cpu::default();
    let base: Tensor<(usize, usize, usize, usize), f64, Cpu> =
        dev.tensor_from_vec(values(2 * 3 * 6 * 5, 40), (2, 3, 6, 5));
    let plan = Pool2dGeom::new((5, 6), (3, 2), (2, 2), [1, 1, 0, 0])
        .unwrap()
        .max_plan();
    let out = (2usize, 3usize, plan.out_h, plan.out_w);
    let go: Tensor<_, f64, Cpu> = dev.tensor_from_vec(values(2 * 3 * plan.out_plane(), 41), out);
    let run = |generic: bool| {
        // Transposed view: (2, 3, 5, 6) with non-unit inner stride.
        let x = base.leaky_trace().permute::<_, Axes4<0, 1, 3, 2>>();
        let y = if generic {
            window_max_generic(x, &plan, out).unwrap()
        } else {
            window_max(x, &plan, out).unwrap()
        };
        let yv = y.as_vec();
        let g = (y * go.clone()).sum().backward();
        (yv, g.get(&base).as_vec())
    };
    let (y0, g0) = run(false);
    let (y1, g1) = run(true);
    assert_eq!(y0, y1);
    for (a, b) in g0.iter().zip(&g1) {
        assert!((a - b).abs() < 1e-12, "{g0:?}\n{g1:?}");
    }
    assert!(g0.iter().any(|&v| v != 0.0));
}

/// The run-time sized functions check what only shows at run time and
/// return `Error::Shape` naming the function and both sizes, never panic.
#[test]
fn run_time_pooling_rejects_mismatched_sizes() {
    use sxima_runtime::layers::adaptive_pool::adaptive_avg_pool2d;
    use sxima_runtime::layers::pool::{avg_pool2d, max_pool2d};
    use sxima_runtime::Error;
    let dev = Cpu::default();
    let x: Tensor<(usize, usize, usize, usize), f32, Cpu> = dev.zeros_like(&(2, 3, 7, 6));
    // A geometry built for 8x8 planes, given 7x6 ones.
    let geom = Pool2dGeom::new((8, 8), (2, 2), (2, 2), [0; 4]).unwrap();
    for e in [
        max_pool2d(x.clone(), &geom).unwrap_err(),
        avg_pool2d(x.clone(), &geom, true).unwrap_err(),
    ] {
        match e {
            Error::Shape {
                what,
                expected,
                got,
            } => {
                assert!(what.ends_with("pool2d input (H, W)"), "{what}");
                assert_eq!((expected, got), (vec![8, 8], vec![7, 6]));
            }
            other => panic!("expected a shape error, got {other}"),
        }
    }
    let e = adaptive_avg_pool2d(x.clone(), (0, 2)).unwrap_err();
    assert!(
        matches!(&e, Error::Shape { got, .. } if got == &vec![7, 6, 0, 2]),
        "{e}"
    );
    // The matching geometry still pools.
    let ok = Pool2dGeom::new((7, 6), (2, 2), (2, 2), [0; 4]).unwrap();
    assert_eq!(*max_pool2d(x, &ok).unwrap().shape(), (2, 3, 3, 3));
}
