//! The CPU embedding kernel (`kernels::embedding_cpu`, `Cpu`'s
//! `Backend::embedding_forward`) against the device-generic default (dfdx's
//! `gather`): the same output bits and the same weight gradient, for `f32`
//! and `f64`, rows of several widths, repeated tokens, inference and
//! training; and the layer's 1-D and 2-D forms agree.

use sxima_runtime::dfdx::nn::BuildModule;
use sxima_runtime::dfdx::prelude::*;
use sxima_runtime::layers::Embedding;
use sxima_runtime::{Backend, Elem};
use sxima_testkit::first_mismatch;

/// Token ids `[b, s]` below `v`, with repeats (a small LCG).
fn tokens(b: usize, s: usize, v: usize, seed: u64) -> Vec<usize> {
    let mut x = seed;
    (0..b * s)
        .map(|_| {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (x >> 33) as usize % v
        })
        .collect()
}

/// Output and weight gradient (for a random output gradient) of one path.
fn run<const V: usize, const M: usize, E: Elem>(
    ids: &[usize],
    b: usize,
    fast: bool,
) -> (Vec<E>, Vec<E>)
where
    Cpu: Backend<E>,
{
    let dev = Cpu::seed_from_u64(3);
    let u = || rand_distr::Uniform::new(-E::one(), E::one());
    let w: Tensor<Rank2<V, M>, E, Cpu> = dev.sample(u());
    let s = ids.len() / b;
    let ids = dev.tensor_from_vec(ids.to_vec(), (b, s));
    let go: Tensor<(usize, usize, Const<M>), E, Cpu> = dev.sample_like(&(b, s, Const), u());
    let wt = w.leaky_trace();
    let y = if fast {
        <Cpu as Backend<E>>::embedding_forward(wt, ids.clone())
    } else {
        wt.try_gather(ids.clone())
    }
    .unwrap();
    let out = y.as_vec();
    let g = (y * go).sum::<(), _>().backward();
    // Inference (no tape) gives the same values.
    let plain = if fast {
        <Cpu as Backend<E>>::embedding_forward(w.clone(), ids).unwrap()
    } else {
        w.clone().gather(ids)
    };
    assert_eq!(plain.as_vec(), out, "inference vs training forward");
    (out, g.get(&w).as_vec())
}

fn compare<const V: usize, const M: usize, E: Elem + Into<f64>>(b: usize, s: usize, tol: f64)
where
    Cpu: Backend<E>,
{
    let ids = tokens(b, s, V, (V * 31 + M) as u64);
    let (fy, fg) = run::<V, M, E>(&ids, b, true);
    let (gy, gg) = run::<V, M, E>(&ids, b, false);
    assert_eq!(fy.len(), b * s * M);
    assert!(fy.iter().any(|v| (*v).into() != 0.0), "empty output");
    assert_eq!(fy, gy, "V={V} M={M}: outputs differ");
    let f64s = |v: &[E]| v.iter().map(|&a| a.into()).collect::<Vec<f64>>();
    assert!(fg.iter().any(|v| (*v).into() != 0.0), "zero gradient");
    if let Some((i, got, want)) = first_mismatch(&f64s(&fg), &f64s(&gg), tol) {
        panic!("V={V} M={M} grad_weight[{i}]: kernel {got}, gather {want}");
    }
}

#[test]
fn kernel_matches_gather_f32() {
    compare::<7, 5, f32>(3, 11, 1e-6);
    compare::<100, 64, f32>(4, 35, 1e-6);
    compare::<13, 17, f32>(1, 1, 1e-6);
}

#[test]
fn kernel_matches_gather_f64() {
    compare::<7, 5, f64>(3, 11, 1e-13);
    compare::<40, 9, f64>(5, 6, 1e-13);
}

/// The layer: `[T]` tokens give the rows `[B, T]` tokens give for each sample.
#[test]
fn layer_one_and_two_dimensional_forms_agree() {
    let dev = Cpu::seed_from_u64(5);
    let emb = <Embedding<11, 6, f32, Cpu> as BuildModule<Cpu, f32>>::build(&dev);
    let ids = tokens(2, 9, 11, 17);
    let batch = emb.forward(dev.tensor_from_vec(ids.clone(), (2, 9)));
    assert_eq!(batch.shape().1, 9);
    let all = batch.as_vec();
    for (b, row) in ids.chunks(9).enumerate() {
        let one = emb.forward(dev.tensor_from_vec(row.to_vec(), (9,)));
        assert_eq!(one.as_vec(), all[b * 54..(b + 1) * 54], "sample {b}");
    }
    let w = emb.weight.as_vec();
    assert_eq!(all[..6], w[ids[0] * 6..ids[0] * 6 + 6]);
}

#[test]
#[should_panic(
    expected = "Embedding tokens (position 1): expected a token below the vocabulary size 12, found token 12"
)]
fn a_token_out_of_range_panics_naming_it() {
    let dev = Cpu::default();
    let emb = <Embedding<12, 3, f32, Cpu> as BuildModule<Cpu, f32>>::build(&dev);
    let _ = emb.forward(dev.tensor_from_vec(vec![0, 12, 1], (1, 3)));
}
