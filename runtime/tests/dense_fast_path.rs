//! The dense layers and their CPU kernel (`kernels::dense_cpu`, what
//! `Backend::dense_forward` runs on `Cpu`) against the device-generic path
//! (`dense_generic::dense_forward_generic`, dfdx's matmul + broadcast add):
//! values and the gradients of x, W and b, `f32` and `f64`, with and
//! without bias, over odd sizes, one row, and 1-D / 2-D / 3-D layer inputs;
//! thread-count independence; gradient accumulation; non-contiguous
//! inputs; finite differences; and compatibility with dfdx's `Linear`
//! (the type `Dense` aliased before): same initialisation from a seed and
//! the same checkpoint names.

use rayon::ThreadPoolBuilder;
use sxima_runtime::dfdx::nn::modules::{Linear, UnbiasedLinear};
use sxima_runtime::dfdx::nn::{BuildModule, LoadFromSafetensors, Module, SaveToSafetensors};
use sxima_runtime::dfdx::prelude::*;
use sxima_runtime::layers::dense_generic::dense_forward_generic;
use sxima_runtime::layers::{Dense, DenseNoBias};
use sxima_runtime::{Backend, Elem};
use sxima_testkit::{assert_gradient_matches, first_mismatch};

/// `(rows, I, O)`: one row, ones, odd sizes, more outputs than inputs, and
/// one product large enough for the kernel to use several threads.
const SHAPES: &[(usize, usize, usize)] = &[
    (1, 1, 1),
    (1, 7, 5),
    (3, 5, 2),
    (4, 1, 6),
    (17, 33, 9),
    (5, 3, 40),
    (65, 131, 37),
    (48, 200, 120),
];

fn u<E: Elem>() -> rand_distr::Uniform<E> {
    rand_distr::Uniform::new(-E::one(), E::one())
}

/// Output, then the gradients of x, W and b (empty without bias), of
/// `sum(y * go)` for random `x [rows, I]`, `W [O, I]`, `b [O]`, `go`.
type Run<E> = [Vec<E>; 4];

fn run<E: Elem>(dev: &Cpu, (rows, i, o): (usize, usize, usize), bias: bool, fast: bool) -> Run<E>
where
    Cpu: Backend<E>,
{
    let x = dev.sample_like(&(rows, i), u::<E>());
    let w = dev.sample_like(&(o, i), u::<E>());
    let b = dev.sample_like(&(o,), u::<E>());
    let go = dev.sample_like(&(rows, o), u::<E>());
    let bt = bias.then(|| b.retaped::<OwnedTape<E, Cpu>>());
    let y = if fast {
        <Cpu as Backend<E>>::dense_forward(x.leaky_trace(), w.retaped(), bt)
    } else {
        dense_forward_generic(x.leaky_trace(), w.retaped(), bt)
    }
    .unwrap();
    assert_eq!(*y.shape(), (rows, o));
    let out = y.as_vec();
    let g = (y * go).sum::<(), _>().backward();
    let gb = if bias { g.get(&b).as_vec() } else { vec![] };
    [out, g.get(&x).as_vec(), g.get(&w).as_vec(), gb]
}

fn f64s<E: Elem>(v: &[E]) -> Vec<f64> {
    v.iter().map(|a| a.to_f64().unwrap()).collect()
}

fn compare<E: Elem>(tol: f64)
where
    Cpu: Backend<E>,
{
    for &shape in SHAPES {
        for bias in [true, false] {
            // Same seed: both paths see the same random tensors.
            let fast = run::<E>(&Cpu::seed_from_u64(7), shape, bias, true);
            let generic = run::<E>(&Cpu::seed_from_u64(7), shape, bias, false);
            let names = ["output", "grad_input", "grad_weight", "grad_bias"];
            for ((what, a), b) in names.iter().zip(&fast).zip(&generic) {
                if *what == "grad_bias" && !bias {
                    continue;
                }
                assert!(
                    !a.is_empty() && a.iter().any(|v| !v.is_zero()),
                    "{shape:?} bias={bias} {what}: empty/zero"
                );
                if let Some((k, got, want)) = first_mismatch(&f64s(a), &f64s(b), tol) {
                    panic!("{shape:?} bias={bias} {what}[{k}]: kernel {got}, generic {want}");
                }
            }
        }
    }
}

#[test]
fn kernel_matches_generic_path_f32() {
    compare::<f32>(1e-4);
}

#[test]
fn kernel_matches_generic_path_f64() {
    compare::<f64>(1e-11);
}

/// The largest shape runs threaded: values and gradients must be bit-for-bit
/// the same on 1 and 3 threads (the sums never depend on the thread count).
#[test]
fn results_do_not_depend_on_thread_count() {
    let shape = SHAPES[SHAPES.len() - 1];
    assert!(
        shape.0 * shape.1 * shape.2 >= 1 << 20,
        "not a threaded size"
    );
    let on = |threads: usize| {
        let pool = ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        pool.install(|| run::<f32>(&Cpu::seed_from_u64(3), shape, true, true))
    };
    assert_eq!(on(1), on(3));
}

/// 1-D, 2-D (const and run-time batch) and 3-D inputs through the layers
/// give the rows of the generic product, and their gradients.
#[test]
fn layers_on_1d_2d_3d_inputs_match_generic_path() {
    const I: usize = 11;
    const O: usize = 6;
    let dev = Cpu::seed_from_u64(4);
    let fc = Dense::<I, O, f64, Cpu>::build(&dev);
    let nb = DenseNoBias::<I, O, f64, Cpu>::build(&dev);
    let x: Tensor<(usize, Const<3>, Const<I>), f64, _> = dev.sample_normal_like(&(2, Const, Const));
    // Reference: the generic product of the 6 rows.
    let reference = |bias: bool| {
        let xr = x.clone().reshape_like(&(6, I)).leaky_trace();
        let w = if bias { &fc.weight } else { &nb.weight };
        let wr = w.retaped::<OwnedTape<f64, Cpu>>().reshape_like(&(O, I));
        let br = bias.then(|| fc.bias.retaped().reshape_like(&(O,)));
        let y = dense_forward_generic(xr, wr, br).unwrap();
        let v = y.as_vec();
        let g = y.square().sum().backward();
        let gb = if bias {
            g.get(&fc.bias).as_vec()
        } else {
            vec![]
        };
        (v, g.get(w).as_vec(), gb)
    };
    let close = |what: &str, a: &[f64], b: &[f64]| {
        assert!(a.iter().any(|v| *v != 0.0), "{what}: zero");
        let m = first_mismatch(a, b, 1e-12);
        assert!(m.is_none(), "{what}: {m:?}");
    };
    for bias in [true, false] {
        let (want, want_gw, want_gb) = reference(bias);
        let w: &Tensor<Rank2<O, I>, f64, Cpu> = if bias { &fc.weight } else { &nb.weight };
        let fwd3 = |x: Tensor<(usize, Const<3>, Const<I>), f64, Cpu, OwnedTape<f64, Cpu>>| {
            if bias {
                fc.forward(x)
            } else {
                nb.forward(x)
            }
        };
        // 3-D: all rows at once, with gradients.
        let y = fwd3(x.leaky_trace());
        assert_eq!(y.shape().0, 2);
        close("3-D output", &y.as_vec(), &want);
        let g = y.square().sum().backward();
        close("3-D grad_weight", &g.get(w).as_vec(), &want_gw);
        if bias {
            close("3-D grad_bias", &g.get(&fc.bias).as_vec(), &want_gb);
        }
        // 2-D with a run-time batch and with a const batch; 1-D per row.
        let x2 = x.clone().reshape_like(&(6, Const::<I>));
        let y2 = if bias {
            fc.forward(x2.clone())
        } else {
            nb.forward(x2.clone())
        };
        close("2-D output", &y2.as_vec(), &want);
        let x2c: Tensor<Rank2<6, I>, f64, _> = x2.clone().reshape_like(&(Const, Const));
        let y2c: Tensor<Rank2<6, O>, f64, _> = if bias {
            fc.forward(x2c)
        } else {
            nb.forward(x2c)
        };
        close("2-D const output", &y2c.as_vec(), &want);
        let xv = x.as_vec();
        for r in 0..6 {
            let xr: Tensor<Rank1<I>, f64, _> =
                dev.tensor_from_vec(xv[r * I..(r + 1) * I].to_vec(), (Const,));
            let yr = if bias { fc.forward(xr) } else { nb.forward(xr) };
            close("1-D output", &yr.as_vec(), &want[r * O..(r + 1) * O]);
        }
    }
}

/// Using the layer twice on the same input doubles every gradient: the
/// backward adds into the gradient buffers, never overwrites them.
#[test]
fn gradients_accumulate_over_repeated_use() {
    let dev = Cpu::seed_from_u64(5);
    let fc = Dense::<9, 4, f64, Cpu>::build(&dev);
    let x: Tensor<Rank2<3, 9>, f64, _> = dev.sample_normal();
    let grads = |twice: bool| {
        let y = fc.forward(x.leaky_trace());
        let loss = if twice {
            let (y, tape) = y.split_tape();
            let y2 = fc.forward(x.clone().put_tape(tape));
            (y2 + y).sum::<Rank0, _>()
        } else {
            y.sum::<Rank0, _>()
        };
        let g = loss.backward();
        [
            g.get(&x).as_vec(),
            g.get(&fc.weight).as_vec(),
            g.get(&fc.bias).as_vec(),
        ]
    };
    let (once, twice) = (grads(false), grads(true));
    for (a, b) in once.iter().zip(&twice) {
        assert!(a.iter().any(|v| *v != 0.0));
        for (p, q) in a.iter().zip(b) {
            assert!((2.0 * p - q).abs() <= 1e-12 * q.abs().max(1.0), "{p} {q}");
        }
    }
}

/// A broadcast (non-contiguous) input gives the values and the (summed)
/// gradient of its contiguous copy.
#[test]
fn non_contiguous_input_is_handled() {
    let dev = Cpu::seed_from_u64(9);
    let fc = Dense::<5, 3, f32, Cpu>::build(&dev);
    let src: Tensor<Rank1<5>, f32, _> = dev.sample_normal();
    let y1 = fc.forward(src.leaky_trace().broadcast::<Rank2<4, 5>, _>());
    let v1 = y1.as_vec();
    let g1 = y1.square().sum().backward();
    let copy: Tensor<Rank2<4, 5>, f32, _> = dev.tensor_from_vec(
        src.clone().broadcast::<Rank2<4, 5>, _>().as_vec(),
        Default::default(),
    );
    let y2 = fc.forward(copy.leaky_trace());
    assert_eq!(v1, y2.as_vec());
    let g2 = y2.square().sum().backward().get(&copy).as_vec();
    let summed: Vec<f32> = (0..5)
        .map(|k| (0..4).map(|r| g2[r * 5 + k]).sum())
        .collect();
    for (a, b) in g1.get(&src).as_vec().iter().zip(&summed) {
        assert!((a - b).abs() <= 1e-5 * b.abs().max(1.0), "{a} vs {b}");
    }
}

/// Inference (no tape) gives the values of the traced forward.
#[test]
fn inference_forward_matches_traced_forward() {
    let dev = Cpu::seed_from_u64(12);
    let fc = Dense::<13, 7, f32, Cpu>::build(&dev);
    let x: Tensor<Rank2<5, 13>, f32, _> = dev.sample_normal();
    assert_eq!(
        fc.forward(x.clone()).as_vec(),
        fc.forward(x.leaky_trace()).as_vec()
    );
}

#[test]
fn dense_gradients_match_finite_differences() {
    const EPS: f64 = 1e-6;
    const TOL: f64 = 1e-6;
    let dev = Cpu::seed_from_u64(1);
    let fc = Dense::<6, 4, f64, Cpu>::build(&dev);
    let x: Tensor<Rank3<2, 3, 6>, f64, _> = dev.sample_normal();
    let go: Tensor<Rank3<2, 3, 4>, f64, _> = dev.sample_normal();
    // A non-linear loss, so every gradient depends on the forward values.
    let loss = |m: &Dense<6, 4, f64, Cpu>, x: Tensor<Rank3<2, 3, 6>, f64, Cpu>| {
        (m.forward(x).tanh() * go.clone()).sum::<Rank0, _>().array()
    };
    let y = fc.forward(x.leaky_trace());
    let g = (y.tanh() * go.clone()).sum::<Rank0, _>().backward();
    let (gx, gw, gb) = (
        g.get(&x).as_vec(),
        g.get(&fc.weight).as_vec(),
        g.get(&fc.bias).as_vec(),
    );
    assert_gradient_matches("dense input", &x.as_vec(), &gx, EPS, TOL, |v| {
        loss(&fc, dev.tensor_from_vec(v.to_vec(), Default::default()))
    });
    assert_gradient_matches("dense weight", &fc.weight.as_vec(), &gw, EPS, TOL, |v| {
        let mut m = fc.clone();
        m.weight.copy_from(v);
        loss(&m, x.clone())
    });
    assert_gradient_matches("dense bias", &fc.bias.as_vec(), &gb, EPS, TOL, |v| {
        let mut m = fc.clone();
        m.bias.copy_from(v);
        loss(&m, x.clone())
    });
}

#[test]
fn dense_no_bias_gradients_match_finite_differences() {
    let dev = Cpu::seed_from_u64(2);
    let fc = DenseNoBias::<5, 3, f64, Cpu>::build(&dev);
    let x: Tensor<Rank2<4, 5>, f64, _> = dev.sample_normal();
    let loss = |m: &DenseNoBias<5, 3, f64, Cpu>, x: Tensor<Rank2<4, 5>, f64, Cpu>| {
        m.forward(x).sin().sum::<Rank0, _>().array()
    };
    let g = fc
        .forward(x.leaky_trace())
        .sin()
        .sum::<Rank0, _>()
        .backward();
    let (gx, gw) = (g.get(&x).as_vec(), g.get(&fc.weight).as_vec());
    assert_gradient_matches("dense no-bias input", &x.as_vec(), &gx, 1e-6, 1e-6, |v| {
        loss(&fc, dev.tensor_from_vec(v.to_vec(), Default::default()))
    });
    assert_gradient_matches(
        "dense no-bias weight",
        &fc.weight.as_vec(),
        &gw,
        1e-6,
        1e-6,
        |v| {
            let mut m = fc.clone();
            m.weight.copy_from(v);
            loss(&m, x.clone())
        },
    );
}

/// Built from the same seed, `Dense` holds exactly the values of dfdx's
/// `Linear` (same RNG order), and a checkpoint of a `Linear` loads into a
/// `Dense` (same tensor names), and back.
#[test]
fn same_init_and_checkpoint_names_as_dfdx_linear() {
    let old = Linear::<7, 3, f32, Cpu>::build(&Cpu::seed_from_u64(21));
    let new = Dense::<7, 3, f32, Cpu>::build(&Cpu::seed_from_u64(21));
    assert_eq!(old.weight.as_vec(), new.weight.as_vec());
    assert_eq!(old.bias.as_vec(), new.bias.as_vec());
    let old_nb = UnbiasedLinear::<7, 3, f64, Cpu>::build(&Cpu::seed_from_u64(22));
    let new_nb = DenseNoBias::<7, 3, f64, Cpu>::build(&Cpu::seed_from_u64(22));
    assert_eq!(old_nb.weight.as_vec(), new_nb.weight.as_vec());

    let dir = std::env::temp_dir().join(format!("sxima-dense-ckpt-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let dev = Cpu::seed_from_u64(0);
    // Linear -> Dense.
    let trained = Linear::<7, 3, f32, Cpu>::build(&Cpu::seed_from_u64(30));
    trained
        .save_safetensors(dir.join("linear.safetensors"))
        .unwrap();
    let mut loaded = Dense::<7, 3, f32, Cpu>::build(&dev);
    assert_ne!(loaded.weight.as_vec(), trained.weight.as_vec());
    loaded
        .load_safetensors(dir.join("linear.safetensors"))
        .unwrap();
    assert_eq!(loaded.weight.as_vec(), trained.weight.as_vec());
    assert_eq!(loaded.bias.as_vec(), trained.bias.as_vec());
    // DenseNoBias -> UnbiasedLinear.
    new_nb
        .save_safetensors(dir.join("dense_nb.safetensors"))
        .unwrap();
    let mut back = UnbiasedLinear::<7, 3, f64, Cpu>::build(&dev);
    back.load_safetensors(dir.join("dense_nb.safetensors"))
        .unwrap();
    assert_eq!(back.weight.as_vec(), new_nb.weight.as_vec());
    std::fs::remove_dir_all(&dir).ok();
}

/// `x W^T + b` from the layer's current parameters, by hand in f64.
fn by_hand<const I: usize, const O: usize>(fc: &Dense<I, O, f32, Cpu>, x: &[f32]) -> Vec<f64> {
    let (w, b) = (fc.weight.as_vec(), fc.bias.as_vec());
    x.chunks(I)
        .flat_map(|row| {
            (0..O).map(|o| {
                (0..I).fold(b[o] as f64, |acc, i| {
                    acc + row[i] as f64 * w[o * I + i] as f64
                })
            })
        })
        .collect()
}

fn assert_close(got: &[f32], want: &[f64], what: &str) {
    assert_eq!(got.len(), want.len(), "{what}");
    for (k, (&g, &w)) in got.iter().zip(want).enumerate() {
        assert!(
            (g as f64 - w).abs() <= 1e-4 * w.abs().max(1.0),
            "{what}: [{k}] {g} vs {w}"
        );
    }
}

/// Inference passes reuse a kept host copy of W (`param_cache`); after every
/// kind of change to the parameters they must see the new values: an
/// optimizer step (after a training pass), a direct write (with no training
/// pass since the last inference), a clone changed on its own.
#[test]
fn inference_sees_every_change_of_the_weights() {
    use sxima_runtime::optim::{Adam, AdamConfig, Optimizer};
    let dev = Cpu::seed_from_u64(21);
    let mut fc = Dense::<37, 11, f32, Cpu>::build(&dev);
    let x: Tensor<Rank2<6, 37>, f32, _> = dev.sample_normal();
    let xs = x.as_vec();
    let mut opt = Adam::new(AdamConfig {
        lr: 0.05,
        ..Default::default()
    })
    .unwrap();
    for step in 0..4 {
        // Twice: the second pass is answered from the kept copy.
        assert_close(
            &fc.forward(x.clone()).as_vec(),
            &by_hand(&fc, &xs),
            "before the step",
        );
        assert_close(&fc.forward(x.clone()).as_vec(), &by_hand(&fc, &xs), "again");
        let before = fc.weight.as_vec();
        let mut grads = fc.alloc_grads();
        let y = fc.forward(x.trace(grads));
        grads = y.square().sum().backward();
        Optimizer::<_, f32, Cpu>::step_and_zero(&mut opt, &mut fc, &mut grads).unwrap();
        assert_ne!(fc.weight.as_vec(), before, "step {step} changed W");
        assert_close(
            &fc.forward(x.clone()).as_vec(),
            &by_hand(&fc, &xs),
            "after the step",
        );
    }
    // A direct write, with no training pass since the last inference.
    let _ = fc.forward(x.clone());
    fc.weight.copy_from(&vec![0.25; 37 * 11]);
    assert_close(
        &fc.forward(x.clone()).as_vec(),
        &by_hand(&fc, &xs),
        "after copy_from",
    );
    // A clone changed on its own; the original is unchanged.
    let mut other = fc.clone();
    other.weight[[3, 5]] = 9.0;
    assert_close(
        &other.forward(x.clone()).as_vec(),
        &by_hand(&other, &xs),
        "changed clone",
    );
    assert_close(
        &fc.forward(x.clone()).as_vec(),
        &by_hand(&fc, &xs),
        "original",
    );
}

/// A training batch's input marked gradient-free (`Backend::gradient_free_input`,
/// as `train_step` marks its features): the kernel skips the input's
/// gradient, for the input itself and for a reshaped view of it, and every
/// other gradient is the same bits as without the mark; a second layer's
/// input (an activation) still gets its gradient.
#[test]
fn a_gradient_free_input_gets_no_gradient_and_changes_nothing_else() {
    type Net = (Dense<12, 9, f32, Cpu>, Dense<9, 4, f32, Cpu>);
    let dev = Cpu::seed_from_u64(7);
    let net: Net = BuildModule::build(&dev);
    let x: Tensor<Rank3<5, 3, 4>, f32, Cpu> = dev.sample(u::<f32>());
    // Returns dL/dx, dL/dW1, dL/db1, dL/dW2, dL/d(hidden) for L = sum(y^2).
    let grads_of = |mark: bool| {
        let _mark = mark.then(|| Cpu::gradient_free_input(&x));
        let g = Gradients::leaky();
        let flat = x.clone().traced(g).reshape::<Rank2<5, 12>>();
        let h = net.0.forward(flat);
        let h_seen = h.retaped::<NoneTape>();
        let y = net.1.forward(h);
        let mut g = y.square().sum().backward();
        [
            g.get_or_alloc_mut(&x).unwrap().to_vec(),
            g.get(&net.0.weight).as_vec(),
            g.get(&net.0.bias).as_vec(),
            g.get(&net.1.weight).as_vec(),
            g.get_or_alloc_mut(&h_seen).unwrap().to_vec(),
        ]
    };
    let (plain, marked) = (grads_of(false), grads_of(true));
    assert!(plain[0].iter().any(|&v| v != 0.0), "unmarked: dx computed");
    assert!(marked[0].iter().all(|&v| v == 0.0), "marked: dx skipped");
    assert_eq!(plain[1..], marked[1..]);
    assert!(marked[4].iter().any(|&v| v != 0.0), "hidden gradient kept");
    // The mark ends with its guard.
    let again = grads_of(false);
    assert_eq!(again, plain);
}
