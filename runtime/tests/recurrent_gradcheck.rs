//! Finite-difference gradient checks (f64, Cpu) of the recurrent layers —
//! input, initial states and all four parameters, forwards and reversed,
//! through the sequence output and the final state — plus `Bidirectional`,
//! `Embedding`, input dropout, empty sequences and PyTorch parameter names.

use sxima_runtime::dfdx::nn::{BuildModule, Module, ModuleMut};
use sxima_runtime::dfdx::prelude::*;
use sxima_runtime::layers::{
    Bidirectional, CellKind, Concat, Embedding, Gru, GruCell, InitialState, LastStep, Lstm,
    LstmCell, Mean, Recurrent, SimpleRnn, TanhCell,
};
use sxima_testkit::assert_gradient_matches;

const EPS: f64 = 1e-6;
const TOL: f64 = 1e-5;
const B: usize = 2;
const T: usize = 4;
const I: usize = 3;
const H: usize = 4;

type Seq<const F: usize> = Tensor<(usize, usize, Const<F>), f64, Cpu>;
type St = Tensor<(usize, Const<H>), f64, Cpu>;

/// `L = sum(output * go) + sum(h_n * gh)` of a run (so the gradient flows
/// through every step and through the final state), as a number.
fn loss<K: CellKind>(
    m: &Recurrent<I, H, K, f64, Cpu>,
    x: Seq<I>,
    h0: St,
    c0: St,
    go: &Seq<H>,
    gh: &St,
    reverse: bool,
) -> f64 {
    let s = InitialState { h0, c0: Some(c0) };
    let run = m.try_run(x, Some(s), reverse, false).expect("run");
    let a = (run.output * go.clone()).sum::<Rank0, _>().array();
    a + (run.h_n * gh.clone()).sum::<Rank0, _>().array()
}

/// Checks every gradient of `K`'s layer against central differences.
fn check_cell<K: CellKind>(what: &str, seed: u64, reverse: bool) {
    let dev = Cpu::seed_from_u64(seed);
    let m = <Recurrent<I, H, K, f64, Cpu> as BuildModule<Cpu, f64>>::build(&dev);
    let x: Seq<I> = dev.sample_normal_like(&(B, T, Const));
    let h0: St = dev.sample_normal_like(&(B, Const));
    let c0: St = dev.sample_normal_like(&(B, Const));
    let go: Seq<H> = dev.sample_normal_like(&(B, T, Const));
    let gh: St = dev.sample_normal_like(&(B, Const));

    let s = InitialState {
        h0: h0.leaky_trace(),
        c0: Some(c0.leaky_trace()),
    };
    let run = m.try_run(x.leaky_trace(), Some(s), reverse, false).unwrap();
    // The final state joins the loss with an empty tape; the run's tape
    // (carried by `output`) holds the operations that produced it.
    let last = run.h_n.put_tape(OwnedTape::default());
    let l = (run.output * go.clone()).sum::<Rank0, _>() + (last * gh.clone()).sum::<Rank0, _>();
    let g = l.backward();
    let f = |m: &Recurrent<I, H, K, f64, Cpu>, x: Seq<I>, h0: St, c0: St| {
        loss(m, x, h0, c0, &go, &gh, reverse)
    };
    let shape_x = (B, T, Const::<I>);
    let shape_s = (B, Const::<H>);
    assert_gradient_matches(
        &format!("{what} input"),
        &x.as_vec(),
        &g.get(&x).as_vec(),
        EPS,
        TOL,
        |v| {
            f(
                &m,
                dev.tensor_from_vec(v.to_vec(), shape_x),
                h0.clone(),
                c0.clone(),
            )
        },
    );
    assert_gradient_matches(
        &format!("{what} h0"),
        &h0.as_vec(),
        &g.get(&h0).as_vec(),
        EPS,
        TOL,
        |v| {
            f(
                &m,
                x.clone(),
                dev.tensor_from_vec(v.to_vec(), shape_s),
                c0.clone(),
            )
        },
    );
    if K::HAS_CELL {
        let gc0 = g.get(&c0).as_vec();
        assert_gradient_matches(&format!("{what} c0"), &c0.as_vec(), &gc0, EPS, TOL, |v| {
            f(
                &m,
                x.clone(),
                h0.clone(),
                dev.tensor_from_vec(v.to_vec(), shape_s),
            )
        });
    } else {
        let other = dev.sample_normal_like(&shape_s);
        assert_eq!(
            f(&m, x.clone(), h0.clone(), c0.clone()),
            f(&m, x.clone(), h0.clone(), other),
            "{what}: c0 is unused"
        );
    }
    let params: [(&str, Vec<f64>, Vec<f64>); 4] = [
        (
            "weight_ih",
            m.weight_ih.as_vec(),
            g.get(&m.weight_ih).as_vec(),
        ),
        (
            "weight_hh",
            m.weight_hh.as_vec(),
            g.get(&m.weight_hh).as_vec(),
        ),
        ("bias_ih", m.bias_ih.as_vec(), g.get(&m.bias_ih).as_vec()),
        ("bias_hh", m.bias_hh.as_vec(), g.get(&m.bias_hh).as_vec()),
    ];
    for (k, (name, value, grad)) in params.into_iter().enumerate() {
        assert!(
            grad.iter().any(|v| v.abs() > 1e-3),
            "{what} {name}: zero gradient"
        );
        assert_gradient_matches(&format!("{what} {name}"), &value, &grad, EPS, TOL, |v| {
            let mut p = m.clone();
            match k {
                0 => p.weight_ih.copy_from(v),
                1 => p.weight_hh.copy_from(v),
                2 => p.bias_ih.copy_from(v),
                _ => p.bias_hh.copy_from(v),
            }
            f(&p, x.clone(), h0.clone(), c0.clone())
        });
    }
}

#[test]
fn simple_rnn_gradients_match_finite_differences() {
    check_cell::<TanhCell>("rnn", 1, false);
    check_cell::<TanhCell>("rnn reversed", 2, true);
}

#[test]
fn lstm_gradients_match_finite_differences() {
    check_cell::<LstmCell>("lstm", 3, false);
    check_cell::<LstmCell>("lstm reversed", 4, true);
}

#[test]
fn gru_gradients_match_finite_differences() {
    check_cell::<GruCell<true>>("gru", 5, false);
    check_cell::<GruCell<true>>("gru reversed", 6, true);
}

#[test]
fn gru_reset_before_gradients_match_finite_differences() {
    check_cell::<GruCell<false>>("gru (Cho)", 7, false);
    check_cell::<GruCell<false>>("gru (Cho) reversed", 8, true);
}

/// `Bidirectional<Gru, LastStep>` (concat of both final states) and
/// `Bidirectional<Lstm>` merged by mean, through `Module::forward`.
#[test]
fn bidirectional_gradients_match_finite_differences() {
    let dev = Cpu::seed_from_u64(9);
    type BiLast = Bidirectional<Gru<I, H, f64, Cpu, LastStep>, 8, Concat>;
    type BiMean = Bidirectional<Lstm<I, H, f64, Cpu>, H, Mean>;
    let last = <BiLast as BuildModule<Cpu, f64>>::build(&dev);
    let mean = <BiMean as BuildModule<Cpu, f64>>::build(&dev);
    let x: Seq<I> = dev.sample_normal_like(&(B, T, Const));
    let g_last: Tensor<(usize, Const<8>), f64, Cpu> = dev.sample_normal_like(&(B, Const));
    let g_mean: Seq<H> = dev.sample_normal_like(&(B, T, Const));
    let f = |a: &BiLast, b: &BiMean, x: Seq<I>| {
        (a.forward(x.clone()) * g_last.clone())
            .sum::<Rank0, _>()
            .array()
            + (b.forward(x) * g_mean.clone()).sum::<Rank0, _>().array()
    };
    let ya = last.forward(x.leaky_trace());
    let yb = mean.forward(x.leaky_trace());
    let g = ((ya * g_last.clone()).sum::<Rank0, _>() + (yb * g_mean.clone()).sum::<Rank0, _>())
        .backward();
    assert_gradient_matches(
        "bidirectional input",
        &x.as_vec(),
        &g.get(&x).as_vec(),
        EPS,
        TOL,
        |v| f(&last, &mean, dev.tensor_from_vec(v.to_vec(), (B, T, Const))),
    );
    let gw = g.get(&last.backward.weight_hh).as_vec();
    assert!(gw.iter().any(|v| v.abs() > 1e-3));
    assert_gradient_matches(
        "bidirectional reverse weight_hh",
        &last.backward.weight_hh.as_vec(),
        &gw,
        EPS,
        TOL,
        |v| {
            let mut a = last.clone();
            a.backward.weight_hh.copy_from(v);
            f(&a, &mean, x.clone())
        },
    );
    let gb = g.get(&mean.backward.bias_ih).as_vec();
    assert_gradient_matches(
        "bidirectional mean reverse bias_ih",
        &mean.backward.bias_ih.as_vec(),
        &gb,
        EPS,
        TOL,
        |v| {
            let mut b = mean.clone();
            b.backward.bias_ih.copy_from(v);
            f(&last, &b, x.clone())
        },
    );
}

/// The backward direction sees the sequence reversed: running it on a
/// time-reversed input gives the forward direction's result, reversed.
#[test]
fn reversed_run_equals_forward_run_on_reversed_input() {
    let dev = Cpu::seed_from_u64(10);
    let m = <Lstm<I, H, f64, Cpu> as BuildModule<Cpu, f64>>::build(&dev);
    let x: Seq<I> = dev.sample_normal_like(&(B, T, Const));
    let xv = x.as_vec();
    let mut rv = Vec::with_capacity(xv.len());
    for b in 0..B {
        for t in (0..T).rev() {
            rv.extend_from_slice(&xv[(b * T + t) * I..(b * T + t + 1) * I]);
        }
    }
    let xr: Seq<I> = dev.tensor_from_vec(rv, (B, T, Const));
    let back = m.try_run(x, None, true, false).unwrap();
    let fwd = m.try_run(xr, None, false, false).unwrap();
    let (bv, fv) = (back.output.as_vec(), fwd.output.as_vec());
    for b in 0..B {
        for t in 0..T {
            let i = (b * T + t) * H;
            let j = (b * T + (T - 1 - t)) * H;
            for k in 0..H {
                assert!((bv[i + k] - fv[j + k]).abs() < 1e-12);
            }
        }
    }
    assert_eq!(back.h_n.as_vec(), fwd.h_n.as_vec());
}

/// `Embedding`'s weight gradient: rows of repeated tokens add up.
#[test]
fn embedding_gradient_matches_finite_differences() {
    let dev = Cpu::seed_from_u64(11);
    let m = <Embedding<6, 3, f64, Cpu> as BuildModule<Cpu, f64>>::build(&dev);
    let tokens: Tensor<(usize, usize), usize, Cpu> =
        dev.tensor_from_vec(vec![1, 4, 1, 0, 4, 1], (2, 3));
    let go: Seq<3> = dev.sample_normal_like(&(2, 3, Const));
    let y = m.forward(tokens.leaky_trace());
    let g = (y * go.clone()).sum::<Rank0, _>().backward();
    let gw = g.get(&m.weight).as_vec();
    assert!(
        gw[2 * 3..4 * 3].iter().all(|&v| v == 0.0),
        "unused rows get 0"
    );
    assert_gradient_matches("embedding weight", &m.weight.as_vec(), &gw, EPS, TOL, |v| {
        let mut e = m.clone();
        e.weight.copy_from(v);
        (e.forward(tokens.clone()) * go.clone())
            .sum::<Rank0, _>()
            .array()
    });
}

/// Input dropout: off in inference; in training one mask per sequence and
/// input feature, the same at every step (so a feature's input gradient is
/// zero at all steps or at none).
#[test]
fn input_dropout_masks_features_for_the_whole_sequence() {
    const F: usize = 8;
    let dev = Cpu::seed_from_u64(12);
    let mut m =
        <SimpleRnn<F, 5, f64, Cpu, LastStep, 500_000> as BuildModule<Cpu, f64>>::build(&dev);
    let (b, t) = (8, 5);
    let x: Seq<F> = dev.sample_normal_like(&(b, t, Const));
    let plain = m
        .try_run(x.clone(), None, false, false)
        .unwrap()
        .h_n
        .as_vec();
    assert_eq!(
        m.forward(x.clone()).as_vec(),
        plain,
        "inference has no dropout"
    );

    let y = m.forward_mut(x.leaky_trace());
    let gx = y.sum::<Rank0, _>().backward().get(&x).as_vec();
    let (mut dropped, mut kept) = (0, 0);
    for s in 0..b {
        for i in 0..F {
            let zero: Vec<bool> = (0..t).map(|k| gx[(s * t + k) * F + i] == 0.0).collect();
            assert!(
                zero.iter().all(|&z| z) || zero.iter().all(|&z| !z),
                "sequence {s}, feature {i}: mask changes over time {zero:?}"
            );
            if zero[0] {
                dropped += 1
            } else {
                kept += 1
            }
        }
    }
    assert!(
        dropped > 0 && kept > 0,
        "p = 0.5 over 64 draws: {dropped} dropped, {kept} kept"
    );
}

/// Dropout `p = 1` drops every input: the training run sees zeros.
#[test]
fn input_dropout_of_one_drops_every_input() {
    let dev = Cpu::seed_from_u64(16);
    let mut m = <Lstm<I, H, f64, Cpu, LastStep, 1_000_000> as BuildModule<Cpu, f64>>::build(&dev);
    let x: Seq<I> = dev.sample_normal_like(&(B, T, Const));
    let zeros: Seq<I> = dev.zeros_like(&(B, T, Const));
    let want = m.try_run(zeros, None, false, false).unwrap().h_n.as_vec();
    let got = m.forward_mut(x).as_vec();
    assert!(got.iter().all(|v| v.is_finite()));
    assert_eq!(got, want);
}

/// A sequence of length 0: `[B, 0, H]` steps and the initial state as the last.
#[test]
fn empty_sequence_returns_the_initial_state() {
    let dev = Cpu::seed_from_u64(13);
    let m = <Gru<I, H, f64, Cpu> as BuildModule<Cpu, f64>>::build(&dev);
    let x: Seq<I> = dev.zeros_like(&(B, 0, Const));
    let h0: St = dev.sample_normal_like(&(B, Const));
    let s = InitialState {
        h0: h0.clone(),
        c0: None,
    };
    let run = m.try_run(x, Some(s), false, false).unwrap();
    assert_eq!(run.output.shape().1, 0);
    assert_eq!(run.h_n.as_vec(), h0.as_vec());
}

/// Parameter names and shapes are PyTorch's, so a state dict loads by name.
#[test]
fn parameters_have_pytorch_names_and_shapes() {
    let dev = Cpu::seed_from_u64(14);
    type BiLstm = Bidirectional<Lstm<I, H, f64, Cpu>, 8, Concat>;
    let m = <BiLstm as BuildModule<Cpu, f64>>::build(&dev);
    let path =
        std::env::temp_dir().join(format!("sxima_bilstm_{}.safetensors", std::process::id()));
    sxima_runtime::train::checkpoint::save(&m, &path).unwrap();
    let bytes = std::fs::read(&path).unwrap();
    let st = ::safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let mut got: Vec<(String, Vec<usize>)> = st
        .tensors()
        .into_iter()
        .map(|(n, v)| (n, v.shape().to_vec()))
        .collect();
    got.sort();
    let mut want = Vec::new();
    for suffix in ["", "_reverse"] {
        want.push((format!("bias_hh_l0{suffix}"), vec![4 * H]));
        want.push((format!("bias_ih_l0{suffix}"), vec![4 * H]));
        want.push((format!("weight_hh_l0{suffix}"), vec![4 * H, H]));
        want.push((format!("weight_ih_l0{suffix}"), vec![4 * H, I]));
    }
    want.sort();
    assert_eq!(got, want);
    let mut other = <BiLstm as BuildModule<Cpu, f64>>::build(&Cpu::seed_from_u64(15));
    sxima_runtime::train::checkpoint::load(&mut other, &path).unwrap();
    let _ = std::fs::remove_file(&path);
    assert_eq!(
        other.backward.weight_ih.as_vec(),
        m.backward.weight_ih.as_vec()
    );
    assert_eq!(other.forward.bias_hh.as_vec(), m.forward.bias_hh.as_vec());
}
