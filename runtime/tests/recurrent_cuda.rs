//! The recurrent layers and the embedding on CUDA against the CPU: same
//! outputs, input and parameter gradients (forwards, reversed and
//! bidirectional). Built only with the `cuda` feature (CI type-checks it with
//! `cuda-check`; run it on a GPU with
//! `cargo test -p sxima-runtime --features cuda --test recurrent_cuda`).

#![cfg(feature = "cuda")]

use sxima_runtime::dfdx::nn::{BuildModule, Module, ToDevice};
use sxima_runtime::dfdx::prelude::*;
use sxima_runtime::layers::{
    Bidirectional, CellKind, Concat, Embedding, GruCell, LastStep, LstmCell, Recurrent, TanhCell,
};

const B: usize = 3;
const T: usize = 5;
const I: usize = 4;
const H: usize = 6;

fn close(what: &str, a: &[f32], b: &[f32]) {
    assert_eq!(a.len(), b.len(), "{what}: lengths");
    for (i, (p, q)) in a.iter().zip(b).enumerate() {
        assert!(
            (p - q).abs() <= 1e-4 * q.abs().max(1.0),
            "{what}[{i}]: cuda {p}, cpu {q}"
        );
    }
}

/// Output, input gradient and the four parameter gradients of one run.
fn run<K: CellKind, D: sxima_runtime::Backend<f32>>(
    m: &Recurrent<I, H, K, f32, D>,
    dev: &D,
    x: &[f32],
    w: &[f32],
    reverse: bool,
) -> [Vec<f32>; 6] {
    let x = dev.tensor_from_vec(x.to_vec(), (B, T, Const::<I>));
    let out = m
        .try_run(x.leaky_trace(), None, reverse, false)
        .unwrap()
        .output;
    let w = dev.tensor_from_vec(w.to_vec(), *out.shape());
    let y = out.as_vec();
    let g = (out * w).sum().backward();
    [
        y,
        g.get(&x).as_vec(),
        g.get(&m.weight_ih).as_vec(),
        g.get(&m.weight_hh).as_vec(),
        g.get(&m.bias_ih).as_vec(),
        g.get(&m.bias_hh).as_vec(),
    ]
}

fn same_on_both<K: CellKind>(what: &str) {
    let cpu = Cpu::seed_from_u64(1);
    let cuda = Cuda::default();
    let m = <Recurrent<I, H, K, f32, Cpu> as BuildModule<Cpu, f32>>::build(&cpu);
    let mc = m.to_device(&cuda);
    let x: Vec<f32> = cpu.sample_normal_like(&(B, T, Const::<I>)).as_vec();
    let w: Vec<f32> = cpu.sample_normal_like(&(B, T, Const::<H>)).as_vec();
    for reverse in [false, true] {
        let a = run(&mc, &cuda, &x, &w, reverse);
        let b = run(&m, &cpu, &x, &w, reverse);
        let names = [
            "output",
            "grad x",
            "grad weight_ih",
            "grad weight_hh",
            "grad bias_ih",
            "grad bias_hh",
        ];
        for ((n, p), q) in names.iter().zip(&a).zip(&b) {
            close(&format!("{what} (reverse {reverse}) {n}"), p, q);
        }
    }
}

#[test]
fn recurrent_layers_agree_with_cpu() {
    same_on_both::<TanhCell>("SimpleRnn");
    same_on_both::<LstmCell>("Lstm");
    same_on_both::<GruCell<true>>("Gru");
    same_on_both::<GruCell<false>>("Gru (Cho)");
}

#[test]
fn bidirectional_and_embedding_agree_with_cpu() {
    type Bi<D> = Bidirectional<Recurrent<I, H, LstmCell, f32, D, LastStep>, 12, Concat>;
    let cpu = Cpu::seed_from_u64(2);
    let cuda = Cuda::default();
    let m = <Bi<Cpu> as BuildModule<Cpu, f32>>::build(&cpu);
    let mc: Bi<Cuda> = m.to_device(&cuda);
    let x: Vec<f32> = cpu.sample_normal_like(&(B, T, Const::<I>)).as_vec();
    let a = mc
        .forward(cuda.tensor_from_vec(x.clone(), (B, T, Const::<I>)))
        .as_vec();
    let b = m
        .forward(cpu.tensor_from_vec(x, (B, T, Const::<I>)))
        .as_vec();
    close("Bidirectional<Lstm, LastStep>", &a, &b);

    let e = <Embedding<7, 3, f32, Cpu> as BuildModule<Cpu, f32>>::build(&cpu);
    let ec = e.to_device(&cuda);
    let tokens = vec![0, 6, 2, 2, 5, 1];
    let a = ec
        .forward(cuda.tensor_from_vec(tokens.clone(), (2, 3)))
        .as_vec();
    let b = e.forward(cpu.tensor_from_vec(tokens, (2, 3))).as_vec();
    close("Embedding", &a, &b);
}
