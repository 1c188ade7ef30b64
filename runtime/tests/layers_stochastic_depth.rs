//! `StochasticDepth`: identity at inference; in training whole samples are
//! dropped with probability `p` and the kept ones scaled by `1/(1-p)`; the
//! gradient (finite differences) is the same per-sample mask. And
//! `BatchNorm2d::with_eps_momentum` reaches the inference forward.

use sxima_runtime::dfdx::nn::{BuildModule, Module, ModuleMut};
use sxima_runtime::dfdx::prelude::*;
use sxima_runtime::layers::{BatchNorm2d, StochasticDepth};

type In = Tensor<(usize, Const<2>, Const<3>, Const<3>), f32, Cpu>;

#[test]
fn inference_is_identity() {
    let dev = Cpu::seed_from_u64(1);
    let x: In = dev.sample_normal_like(&(4, Const, Const, Const));
    let y = StochasticDepth::new(0.5).forward(x.clone());
    assert_eq!(y.as_vec(), x.as_vec());
}

#[test]
fn training_drops_whole_samples_with_probability_p() {
    let dev = Cpu::seed_from_u64(2);
    let batch = 2000;
    let p = 0.3;
    let x: In = dev.ones_like(&(batch, Const, Const, Const));
    let y = StochasticDepth::new(p).forward_mut(x).as_vec();
    let per = 2 * 3 * 3;
    let mut dropped = 0;
    for sample in y.chunks_exact(per) {
        // One decision per sample: all zero, or all 1 / (1 - p).
        let first = sample[0];
        assert!(sample.iter().all(|&v| v == first), "{sample:?}");
        if first == 0.0 {
            dropped += 1;
        } else {
            assert!((first as f64 - 1.0 / (1.0 - p)).abs() < 1e-6, "{first}");
        }
    }
    let rate = dropped as f64 / batch as f64;
    // 2000 Bernoulli(0.3) draws: standard deviation about 0.01.
    assert!((rate - p).abs() < 0.05, "dropped {rate}");
    // p = 0 keeps everything, p = 1 drops everything.
    let x: In = dev.ones_like(&(3, Const, Const, Const));
    assert_eq!(
        StochasticDepth::new(0.0).forward_mut(x.clone()).as_vec(),
        x.as_vec()
    );
    assert!(StochasticDepth::new(1.0)
        .forward_mut(x)
        .as_vec()
        .iter()
        .all(|&v| v == 0.0));
}

#[test]
fn gradient_is_the_same_mask() {
    let dev = Cpu::seed_from_u64(3);
    let x: Tensor<(usize, Const<4>), f64, Cpu> = dev.sample_normal_like(&(64, Const));
    let y = StochasticDepth::new(0.5).forward_mut(x.leaky_trace());
    let out = y.as_vec();
    let g = y.sum().backward().get(&x).as_vec();
    // The layer is linear in x for a fixed mask: dy/dx = y / x element-wise,
    // and the mask is 0 or 2 per sample.
    for ((gi, yi), xi) in g.iter().zip(&out).zip(x.as_vec()) {
        assert!(*gi == 0.0 || (*gi - 2.0).abs() < 1e-12, "{gi}");
        assert!((gi * xi - yi).abs() < 1e-12);
    }
    assert!(g.contains(&0.0) && g.contains(&2.0));
}

#[test]
fn batch_norm_eps_reaches_inference() {
    let dev = Cpu::seed_from_u64(4);
    let mut bn = <BatchNorm2d<1, f64, Cpu> as BuildModule<Cpu, f64>>::build(&dev);
    bn.running_var = dev.tensor([0.001]);
    let x: Tensor<(usize, Const<1>, Const<1>, Const<1>), f64, Cpu> =
        dev.tensor_from_vec(vec![1.0], (1, Const, Const, Const));
    let default = bn.forward(x.clone()).as_vec()[0];
    let bn = bn.with_eps_momentum(0.001, 0.01);
    assert_eq!((bn.epsilon, bn.momentum), (0.001, 0.01));
    let wide = bn.forward(x).as_vec()[0];
    assert!(
        (default - 1.0 / (0.001f64 + 1e-5).sqrt()).abs() < 1e-9,
        "{default}"
    );
    assert!((wide - 1.0 / 0.002f64.sqrt()).abs() < 1e-9, "{wide}");
}
