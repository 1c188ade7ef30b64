//! The CPU recurrence kernel (`kernels::recurrent_cpu`, what
//! `Recurrent::try_run` runs on `Cpu` for the built-in cells) against the
//! device-generic path (`recurrent_generic::recurrent_run_generic`): outputs,
//! final states and every gradient (input, initial `h0`/`c0`, the four
//! parameters), through the sequence output and the final states, for
//! `SimpleRnn`, `Lstm` and PyTorch's `Gru`, `f32` and `f64`, forwards and
//! reversed, with and without an initial state, on batches that split into
//! one and into several runs of rows; plus `Bidirectional` and a strided
//! (broadcast) input.

use sxima_runtime::dfdx::nn::{BuildModule, Module};
use sxima_runtime::dfdx::prelude::*;
use sxima_runtime::layers::recurrent_generic::recurrent_run_generic;
use sxima_runtime::layers::{
    Bidirectional, CellKind, Concat, Gru, GruCell, InitialState, Lstm, LstmCell, Recurrent,
    TanhCell,
};
use sxima_runtime::Elem;
use sxima_testkit::first_mismatch;

/// Everything one run produces, as named host vectors.
type Results = Vec<(&'static str, Vec<f64>)>;

fn u<E: Elem>() -> rand_distr::Uniform<E> {
    rand_distr::Uniform::new(-E::one(), E::one())
}

fn f64s<E: Elem>(v: Vec<E>) -> Vec<f64> {
    v.into_iter()
        .map(|a| a.to_f64().unwrap_or(f64::NAN))
        .collect()
}

/// One run of layer `m` (fast or generic path) from fresh random tensors of
/// `seed`, and the gradients of `sum(output * go) + sum(h_n * gh) (+ sum(c_n * gc))`.
/// Inputs whose rows repeat: `x[b, t]` is row `(7 (b T + t) + 3) mod
/// vocab` of a random table, as an embedding's output over token ids is
/// (the kernel multiplies each distinct row once).
#[derive(Clone, Copy)]
struct Tokens(Option<usize>);

fn run<const I: usize, const H: usize, K: CellKind, E: Elem>(
    seed: u64,
    (b, t): (usize, usize),
    with_state: bool,
    reverse: bool,
    fast: bool,
) -> Results
where
    Cpu: sxima_runtime::Backend<E>,
{
    run_with::<I, H, K, E>(seed, (b, t), with_state, reverse, fast, Tokens(None))
}

fn run_with<const I: usize, const H: usize, K: CellKind, E: Elem>(
    seed: u64,
    (b, t): (usize, usize),
    with_state: bool,
    reverse: bool,
    fast: bool,
    tokens: Tokens,
) -> Results
where
    Cpu: sxima_runtime::Backend<E>,
{
    let dev = Cpu::seed_from_u64(seed);
    let m = <Recurrent<I, H, K, E, Cpu> as BuildModule<Cpu, E>>::build(&dev);
    let x: Tensor<(usize, usize, Const<I>), E, Cpu> = match tokens.0 {
        None => dev.sample_like(&(b, t, Const), u()),
        Some(vocab) => {
            let table: Tensor<(usize, Const<I>), E, Cpu> = dev.sample_like(&(vocab, Const), u());
            let table = table.as_vec();
            let rows = (0..b * t).flat_map(|r| {
                let k = (7 * r + 3) % vocab;
                table[k * I..(k + 1) * I].to_vec()
            });
            dev.tensor_from_vec(rows.collect(), (b, t, Const))
        }
    };
    let h0: Tensor<(usize, Const<H>), E, Cpu> = dev.sample_like(&(b, Const), u());
    let c0: Tensor<(usize, Const<H>), E, Cpu> = dev.sample_like(&(b, Const), u());
    let go: Tensor<(usize, usize, Const<H>), E, Cpu> = dev.sample_like(&(b, t, Const), u());
    let gh: Tensor<(usize, Const<H>), E, Cpu> = dev.sample_like(&(b, Const), u());
    let gc: Tensor<(usize, Const<H>), E, Cpu> = dev.sample_like(&(b, Const), u());
    let state = with_state.then(|| InitialState {
        h0: h0.retaped(),
        c0: Some(c0.retaped()),
    });
    let out = if fast {
        m.try_run(x.leaky_trace(), state, reverse, false)
    } else {
        recurrent_run_generic(m.params(), x.leaky_trace(), state, reverse)
    }
    .expect("run");
    let mut res: Results = vec![
        ("output", f64s(out.output.as_vec())),
        ("h_n", f64s(out.h_n.as_vec())),
    ];
    let mut l = (out.output * go).sum::<Rank0, _>()
        + (out.h_n.put_tape(OwnedTape::default()) * gh).sum::<Rank0, _>();
    if let Some(c_n) = out.c_n {
        res.push(("c_n", f64s(c_n.as_vec())));
        l = l + (c_n.put_tape(OwnedTape::default()) * gc).sum::<Rank0, _>();
    }
    let g = l.backward();
    res.push(("grad x", f64s(g.get(&x).as_vec())));
    res.push(("grad weight_ih", f64s(g.get(&m.weight_ih).as_vec())));
    res.push(("grad weight_hh", f64s(g.get(&m.weight_hh).as_vec())));
    res.push(("grad bias_ih", f64s(g.get(&m.bias_ih).as_vec())));
    res.push(("grad bias_hh", f64s(g.get(&m.bias_hh).as_vec())));
    if with_state {
        res.push(("grad h0", f64s(g.get(&h0).as_vec())));
        if K::HAS_CELL {
            res.push(("grad c0", f64s(g.get(&c0).as_vec())));
        }
    }
    res
}

/// Asserts equal results within `tol`, each non-empty and not all zero
/// (except those named in `zero_ok`).
fn assert_same(what: &str, fast: &Results, generic: &Results, tol: f64, zero_ok: &[&str]) {
    assert_eq!(fast.len(), generic.len(), "{what}: result count");
    for ((name, a), (name_g, b)) in fast.iter().zip(generic) {
        assert_eq!(name, name_g);
        assert!(
            !a.is_empty() && (zero_ok.contains(name) || a.iter().any(|v| *v != 0.0)),
            "{what} {name}: empty or all zero"
        );
        if let Some((i, got, want)) = first_mismatch(a, b, tol) {
            panic!("{what} {name}[{i}]: fast {got}, generic {want}");
        }
    }
}

/// Every case for cell `K` and element type `E`.
fn compare_cell<K: CellKind, E: Elem>(cell: &str, tol: f64)
where
    Cpu: sxima_runtime::Backend<E>,
{
    // (batch, steps): one run of rows; one row and one step; 37 rows = three
    // runs of 13, 12, 12.
    let sizes = [(3, 5), (1, 1), (37, 4)];
    for (k, &bt) in sizes.iter().enumerate() {
        for with_state in [false, true] {
            for reverse in [false, true] {
                let seed = 100 + k as u64;
                let what = format!("{cell} {bt:?} state={with_state} reverse={reverse}");
                let fast = run::<4, 6, K, E>(seed, bt, with_state, reverse, true);
                let generic = run::<4, 6, K, E>(seed, bt, with_state, reverse, false);
                // One step from a zero state: W_hh never meets a nonzero h.
                let zero_ok: &[&str] = if !with_state && bt.1 == 1 {
                    &["grad weight_hh"]
                } else {
                    &[]
                };
                assert_same(&what, &fast, &generic, tol, zero_ok);
            }
        }
    }
    // Other sizes: I = 1, H = 1; I > G*H.
    let fast = run::<1, 1, K, E>(7, (5, 3), true, false, true);
    let generic = run::<1, 1, K, E>(7, (5, 3), true, false, false);
    assert_same(&format!("{cell} I=1 H=1"), &fast, &generic, tol, &[]);
    let fast = run::<17, 2, K, E>(8, (4, 6), true, true, true);
    let generic = run::<17, 2, K, E>(8, (4, 6), true, true, false);
    assert_same(&format!("{cell} I=17 H=2"), &fast, &generic, tol, &[]);
    // Repeated input rows (5 and 11 distinct of 148): each multiplied once.
    for (vocab, reverse) in [(5, false), (11, true)] {
        let tokens = Tokens(Some(vocab));
        let fast = run_with::<4, 6, K, E>(9, (37, 4), true, reverse, true, tokens);
        let generic = run_with::<4, 6, K, E>(9, (37, 4), true, reverse, false, tokens);
        assert_same(&format!("{cell} vocab {vocab}"), &fast, &generic, tol, &[]);
    }
}

#[test]
fn lstm_fast_path_matches_generic() {
    compare_cell::<LstmCell, f64>("lstm f64", 1e-11);
    compare_cell::<LstmCell, f32>("lstm f32", 1e-4);
}

#[test]
fn gru_fast_path_matches_generic() {
    compare_cell::<GruCell<true>, f64>("gru f64", 1e-11);
    compare_cell::<GruCell<true>, f32>("gru f32", 1e-4);
}

#[test]
fn simple_rnn_fast_path_matches_generic() {
    compare_cell::<TanhCell, f64>("rnn f64", 1e-11);
    compare_cell::<TanhCell, f32>("rnn f32", 1e-4);
}

/// `Bidirectional` (two layers, one reversed) on `Cpu` equals the same
/// computation on the generic path, values and parameter gradients.
#[test]
fn bidirectional_matches_generic() {
    type L = Lstm<3, 5, f64, Cpu>;
    let dev = Cpu::seed_from_u64(3);
    let m = <Bidirectional<L, 10, Concat> as BuildModule<Cpu, f64>>::build(&dev);
    let x: Tensor<(usize, usize, Const<3>), f64, Cpu> = dev.sample_normal_like(&(4, 6, Const));
    let go: Tensor<(usize, usize, Const<10>), f64, Cpu> = dev.sample_normal_like(&(4, 6, Const));
    let y = m.forward(x.leaky_trace());
    let fast_y = y.as_vec();
    let g = (y * go.clone()).sum::<Rank0, _>().backward();
    // The same by hand on the generic path.
    let f = recurrent_run_generic(m.forward.params(), x.leaky_trace(), None, false).unwrap();
    let r = recurrent_run_generic(m.backward.params(), x.leaky_trace(), None, true).unwrap();
    let (n, t) = (4, 6);
    let cat = (
        f.output.reshape_like(&(n, t, 5)),
        r.output.reshape_like(&(n, t, 5)),
    )
        .concat_along(Axis::<2>)
        .reshape_like(&(n, t, Const::<10>));
    assert!(
        first_mismatch(&fast_y, &cat.as_vec(), 1e-11).is_none(),
        "values"
    );
    let gg = (cat * go).sum::<Rank0, _>().backward();
    for (name, a, b) in [
        ("x", g.get(&x).as_vec(), gg.get(&x).as_vec()),
        (
            "fwd weight_hh",
            g.get(&m.forward.weight_hh).as_vec(),
            gg.get(&m.forward.weight_hh).as_vec(),
        ),
        (
            "bwd weight_ih",
            g.get(&m.backward.weight_ih).as_vec(),
            gg.get(&m.backward.weight_ih).as_vec(),
        ),
        (
            "bwd bias_hh",
            g.get(&m.backward.bias_hh).as_vec(),
            gg.get(&m.backward.bias_hh).as_vec(),
        ),
    ] {
        assert!(a.iter().any(|v| *v != 0.0), "{name}: all zero");
        if let Some((i, got, want)) = first_mismatch(&a, &b, 1e-11) {
            panic!("bidirectional grad {name}[{i}]: fast {got}, generic {want}");
        }
    }
}

/// A broadcast (strided) input gives the values and the (summed) gradient
/// of its contiguous copy.
#[test]
fn strided_input_is_handled() {
    let dev = Cpu::seed_from_u64(5);
    let m = <Gru<3, 4, f64, Cpu> as BuildModule<Cpu, f64>>::build(&dev);
    // x[b, j, i] = perm[i, j]: a permuted, broadcast view (strides 0, 1, 5).
    let perm: Tensor<(Const<3>, Const<5>), f64, Cpu> = dev.sample_normal();
    let y = m.forward(
        perm.leaky_trace()
            .permute::<_, Axes2<1, 0>>()
            .broadcast_like(&(2usize, Const::<5>, Const::<3>))
            .realize::<(usize, usize, Const<3>)>(),
    );
    let contiguous: Tensor<(usize, usize, Const<3>), f64, Cpu> = dev.tensor_from_vec(
        perm.clone()
            .permute::<_, Axes2<1, 0>>()
            .broadcast_like(&(2usize, Const::<5>, Const::<3>))
            .as_vec(),
        (2, 5, Const),
    );
    let y2 = m.forward(contiguous.leaky_trace());
    assert!(first_mismatch(&y.as_vec(), &y2.as_vec(), 1e-12).is_none());
    let g = y.sum::<Rank0, _>().backward();
    let g2 = y2.sum::<Rank0, _>().backward();
    // d/dperm[i, j] = sum over the batch copies of d/dx[b, j, i].
    let gx = g2.get(&contiguous).as_vec();
    let want: Vec<f64> = (0..3)
        .flat_map(|i| (0..5).map(move |j| (i, j)))
        .map(|(i, j)| gx[j * 3 + i] + gx[15 + j * 3 + i])
        .collect();
    assert!(first_mismatch(&g.get(&perm).as_vec(), &want, 1e-12).is_none());
}

/// A `c0` given to a cell without a cell state still hands its tape on: here
/// it carries the op that produced `h0`, whose gradient must reach `p`.
#[test]
fn unused_c0_keeps_its_tape() {
    let dev = Cpu::seed_from_u64(11);
    let m = <Gru<2, 3, f64, Cpu> as BuildModule<Cpu, f64>>::build(&dev);
    let x: Tensor<(usize, usize, Const<2>), f64, Cpu> = dev.sample_like(&(2, 4, Const), u());
    let p: Tensor<(usize, Const<3>), f64, Cpu> = dev.sample_like(&(2, Const), u());
    let grad_p = |fast: bool| {
        let (h0, tape) = p.leaky_trace().square().split_tape();
        let state = InitialState {
            h0: h0.put_tape(OwnedTape::default()),
            c0: Some(dev.zeros_like(&(2, Const::<3>)).put_tape(tape)),
        };
        let out = if fast {
            m.try_run(
                x.clone().put_tape(OwnedTape::default()),
                Some(state),
                false,
                false,
            )
        } else {
            recurrent_run_generic(
                m.params(),
                x.clone().put_tape(OwnedTape::default()),
                Some(state),
                false,
            )
        }
        .unwrap();
        out.output.sum::<Rank0, _>().backward().get(&p).as_vec()
    };
    let (fast, generic) = (grad_p(true), grad_p(false));
    assert!(fast.iter().any(|v| *v != 0.0), "gradient of p lost");
    assert!(
        first_mismatch(&fast, &generic, 1e-11).is_none(),
        "{fast:?} vs {generic:?}"
    );
}
