//! Unit tests of the optimizer machinery: resuming from exported state,
//! config validation, which tensors are updated, clipping inside a step,
//! gradient norms by parameter path, and the f32 path.

use dfdx::prelude::*;

use super::{
    clip_grad_norm, clip_grad_value, grad_global_norm, grad_norms, Adadelta, AdadeltaConfig,
    Adagrad, AdagradConfig, Adam, AdamConfig, AdamW, AdamWConfig, Clip, LrSchedule, MomentumForm,
    Nadam, NadamConfig, Optimizer, RmsProp, RmsPropConfig, Sgd, SgdConfig, StepDecay,
};
use crate::error::Error;

type Net = (Linear<3, 4>, ReLU, Linear<4, 2>);
type NetF64 = <Net as BuildOnDevice<Cpu, f64>>::Built;

fn data(dev: &Cpu) -> (Tensor<Rank2<5, 3>, f64, Cpu>, Tensor<Rank2<5, 2>, f64, Cpu>) {
    let x: Vec<f64> = (0..15).map(|i| ((i * 7 % 11) as f64 - 5.0) / 4.0).collect();
    let y: Vec<f64> = (0..10).map(|i| ((i * 3 % 7) as f64 - 3.0) / 3.0).collect();
    let mut xt = dev.tensor([[0.0; 3]; 5]);
    xt.copy_from(&x);
    let mut yt = dev.tensor([[0.0; 2]; 5]);
    yt.copy_from(&y);
    (xt, yt)
}

fn grads_of(model: &NetF64, dev: &Cpu) -> Gradients<f64, Cpu> {
    let (x, y) = data(dev);
    let pred = model.forward(x.traced(model.alloc_grads()));
    (pred - y).square().mean().backward()
}

fn params(model: &NetF64) -> Vec<f64> {
    let mut v = model.0.weight.as_vec();
    v.extend(model.0.bias.as_vec());
    v.extend(model.2.weight.as_vec());
    v.extend(model.2.bias.as_vec());
    v
}

fn train<O: Optimizer<NetF64, f64, Cpu>>(model: &mut NetF64, opt: &mut O, steps: usize) {
    let dev = Cpu::default();
    for _ in 0..steps {
        let g = grads_of(model, &dev);
        opt.step(model, &g).unwrap();
    }
}

/// N steps straight == k steps, export (through JSON), fresh optimizer,
/// import, N-k steps; bit for bit.
fn resume_is_bit_identical<O: Optimizer<NetF64, f64, Cpu>>(make: impl Fn() -> O) {
    let dev = Cpu::seed_from_u64_default();
    let start = dev.build_module::<Net, f64>();

    let mut straight = start.clone();
    let mut opt = make();
    train(&mut straight, &mut opt, 7);

    let mut resumed = start.clone();
    let mut first = make();
    train(&mut resumed, &mut first, 3);
    let json = serde_json::to_string(&first.state()).unwrap();
    drop(first);
    let mut second = make();
    second
        .load_state(&serde_json::from_str(&json).unwrap())
        .unwrap();
    train(&mut resumed, &mut second, 4);

    assert_eq!(params(&straight), params(&resumed));
    assert_eq!(opt.state(), second.state());
    // And the comparison is not vacuous: training moved the parameters.
    assert_ne!(params(&start), params(&straight));
}

trait SeedDefault {
    fn seed_from_u64_default() -> Cpu;
}
impl SeedDefault for Cpu {
    fn seed_from_u64_default() -> Cpu {
        Cpu::seed_from_u64(7)
    }
}

#[test]
fn every_optimizer_resumes_bit_identically() {
    resume_is_bit_identical(|| Sgd::new(SgdConfig::default()).unwrap());
    resume_is_bit_identical(|| {
        Sgd::new(SgdConfig {
            lr: 0.05,
            momentum: 0.9,
            nesterov: true,
            weight_decay: 1e-3,
            ..Default::default()
        })
        .unwrap()
    });
    resume_is_bit_identical(|| {
        Sgd::new(SgdConfig {
            momentum: 0.8,
            form: MomentumForm::Textbook,
            ..Default::default()
        })
        .unwrap()
    });
    resume_is_bit_identical(|| {
        Adagrad::new(AdagradConfig {
            lr_decay: 0.1,
            ..Default::default()
        })
        .unwrap()
    });
    resume_is_bit_identical(|| Adadelta::new(AdadeltaConfig::default()).unwrap());
    resume_is_bit_identical(|| {
        RmsProp::new(RmsPropConfig {
            momentum: 0.5,
            centered: true,
            ..Default::default()
        })
        .unwrap()
    });
    resume_is_bit_identical(|| Adam::new(AdamConfig::default()).unwrap());
    resume_is_bit_identical(|| AdamW::new(AdamWConfig::default()).unwrap());
    resume_is_bit_identical(|| Nadam::new(NadamConfig::default()).unwrap());
}

#[test]
fn state_names_parameters_by_path_and_rejects_a_foreign_state() {
    let dev = Cpu::seed_from_u64(1);
    let mut m = dev.build_module::<Net, f64>();
    let mut adam = Adam::new(AdamConfig::default()).unwrap();
    train(&mut m, &mut adam, 2);
    let s = adam.state();
    assert_eq!(s.optimizer, "adam");
    assert_eq!(s.steps["0.weight"], 2);
    assert_eq!(s.tensors["0.weight/exp_avg"].len(), 12);
    assert_eq!(s.tensors["2.bias/exp_avg_sq"].len(), 2);
    let mut sgd = Sgd::<f64, Cpu>::new(SgdConfig::default()).unwrap();
    assert!(matches!(sgd.load_state(&s), Err(Error::DataFormat { .. })));
    // A state whose tensor does not fit the parameter is a shape error at the next step.
    let mut bad = s.clone();
    bad.tensors.insert("0.weight/exp_avg".into(), vec![0.0; 3]);
    let mut adam2 = Adam::new(AdamConfig::default()).unwrap();
    adam2.load_state(&bad).unwrap();
    let g = grads_of(&m, &dev);
    assert!(matches!(adam2.step(&mut m, &g), Err(Error::Shape { .. })));
    // The bad state is still there (not silently replaced by fresh state).
    assert!(matches!(adam2.step(&mut m, &g), Err(Error::Shape { .. })));
    // A missing slot is caught on load.
    let mut bad = s;
    bad.tensors.remove("2.bias/exp_avg");
    assert!(matches!(
        adam2.load_state(&bad),
        Err(Error::DataFormat { .. })
    ));
}

#[test]
fn bad_configs_are_config_errors() {
    fn bad<T>(r: crate::Result<T>) -> bool {
        matches!(r, Err(Error::InvalidConfig { .. }))
    }
    type S = Sgd<f32, Cpu>;
    assert!(bad(S::new(SgdConfig {
        lr: 0.0,
        ..Default::default()
    })));
    assert!(bad(S::new(SgdConfig {
        lr: -1.0,
        ..Default::default()
    })));
    assert!(bad(S::new(SgdConfig {
        lr: f64::NAN,
        ..Default::default()
    })));
    assert!(bad(S::new(SgdConfig {
        momentum: -0.1,
        ..Default::default()
    })));
    assert!(bad(S::new(SgdConfig {
        nesterov: true,
        ..Default::default()
    })));
    assert!(bad(S::new(SgdConfig {
        momentum: 0.9,
        dampening: 0.5,
        form: MomentumForm::Textbook,
        ..Default::default()
    })));
    assert!(bad(S::new(SgdConfig {
        weight_decay: -1.0,
        ..Default::default()
    })));
    assert!(bad(S::new(SgdConfig {
        clip: Some(Clip::Norm(0.0)),
        ..Default::default()
    })));
    assert!(bad(Adam::<f32, Cpu>::new(AdamConfig {
        betas: (1.0, 0.999),
        ..Default::default()
    })));
    assert!(bad(Adam::<f32, Cpu>::new(AdamConfig {
        betas: (0.9, -0.1),
        ..Default::default()
    })));
    assert!(bad(Adam::<f32, Cpu>::new(AdamConfig {
        eps: -1e-8,
        ..Default::default()
    })));
    assert!(bad(AdamW::<f32, Cpu>::new(AdamWConfig {
        lr: 0.0,
        ..Default::default()
    })));
    assert!(bad(Nadam::<f32, Cpu>::new(NadamConfig {
        momentum_decay: -1.0,
        ..Default::default()
    })));
    assert!(bad(RmsProp::<f32, Cpu>::new(RmsPropConfig {
        alpha: 1.5,
        ..Default::default()
    })));
    assert!(bad(Adagrad::<f32, Cpu>::new(AdagradConfig {
        eps: -1.0,
        ..Default::default()
    })));
    assert!(bad(Adadelta::<f32, Cpu>::new(AdadeltaConfig {
        rho: -0.5,
        ..Default::default()
    })));
    // Defaults are PyTorch's and valid.
    assert!(S::new(SgdConfig::default()).is_ok());
    assert_eq!(AdamConfig::default().lr, 1e-3);
    assert_eq!(RmsPropConfig::default().alpha, 0.99);
    assert_eq!(AdagradConfig::default().eps, 1e-10);
    assert_eq!(NadamConfig::default().lr, 2e-3);
    assert_eq!(AdadeltaConfig::default().eps, 1e-6);
}

/// Two parameters; `frozen` has `do_gradient_update == false`.
#[derive(Clone)]
struct TwoParams {
    live: Tensor<Rank1<2>, f64, Cpu>,
    frozen: Tensor<Rank1<2>, f64, Cpu>,
}

impl TensorCollection<f64, Cpu> for TwoParams {
    type To<E2: Dtype, D2: Device<E2>> = ();
    fn iter_tensors<V: ModuleVisitor<Self, f64, Cpu>>(
        visitor: &mut V,
    ) -> Result<Option<Self::To<V::E2, V::D2>>, V::Err> {
        visitor.visit_fields(
            (
                Self::tensor(
                    "live",
                    |s| &s.live,
                    |s| &mut s.live,
                    TensorOptions::reset_to_zeros(),
                ),
                Self::tensor(
                    "frozen",
                    |s| &s.frozen,
                    |s| &mut s.frozen,
                    TensorOptions::detached(|t| t.try_fill_with_zeros()),
                ),
            ),
            |_| (),
        )
    }
}

#[test]
fn frozen_tensors_and_tensors_without_gradient_are_left_alone() {
    let dev = Cpu::default();
    let mut m = TwoParams {
        live: dev.tensor([1.0, 2.0]),
        frozen: dev.tensor([3.0, 4.0]),
    };
    let mut opt = Adam::new(AdamConfig {
        lr: 0.1,
        weight_decay: 0.5,
        ..Default::default()
    })
    .unwrap();
    // Both have a gradient, but `frozen` must not be updated.
    let g = (m.live.leaky_trace().square().sum() + m.frozen.leaky_trace().sum()).backward();
    opt.step(&mut m, &g).unwrap();
    assert_eq!(m.frozen.array(), [3.0, 4.0]);
    let live = m.live.array();
    assert!((live[0] - 0.9).abs() < 1e-6 && (live[1] - 1.9).abs() < 1e-6);
    assert!(!opt.state().steps.contains_key("frozen"));

    // Only `frozen` has a gradient: `live` has none and must stay put even
    // with weight decay (PyTorch skips parameters whose grad is None).
    let g = m.frozen.leaky_trace().sum().backward();
    opt.step(&mut m, &g).unwrap();
    assert_eq!(m.live.array(), live);
    assert_eq!(opt.state().steps["live"], 1);
}

#[test]
fn parameters_keep_their_ids_so_preallocated_gradients_stay_valid() {
    let dev = Cpu::seed_from_u64(3);
    let mut m = dev.build_module::<Net, f64>();
    let mut opt = Sgd::new(SgdConfig {
        lr: 0.1,
        ..Default::default()
    })
    .unwrap();
    let (x, y) = data(&dev);
    let mut grads = m.alloc_grads();
    for _ in 0..3 {
        let pred = m.forward(x.clone().traced(grads));
        grads = (pred - y.clone()).square().mean().backward();
        opt.step(&mut m, &grads).unwrap();
        m.zero_grads(&mut grads);
    }
    // After zero_grads every parameter's (same-id) gradient is zero: had the
    // optimizer replaced the tensors, their gradients would be missing.
    let norms = grad_norms(&m, &grads).unwrap();
    assert_eq!(norms.len(), 4);
    assert!(norms.values().all(|&n| n == 0.0), "{norms:?}");
}

#[test]
fn clipping_inside_the_step_equals_clipping_before_it() {
    for clip in [Clip::Norm(0.05), Clip::Value(0.01)] {
        let dev = Cpu::seed_from_u64(5);
        let start = dev.build_module::<Net, f64>();
        let cfg = SgdConfig {
            lr: 0.5,
            momentum: 0.9,
            ..Default::default()
        };

        let mut a = start.clone();
        let mut opt_a = Sgd::new(SgdConfig {
            clip: Some(clip),
            ..cfg
        })
        .unwrap();
        let mut b = start.clone();
        let mut opt_b = Sgd::new(cfg).unwrap();
        for _ in 0..3 {
            let g = grads_of(&a, &dev);
            opt_a.step(&mut a, &g).unwrap();
            let mut g = grads_of(&b, &dev);
            match clip {
                Clip::Norm(n) => {
                    let before = clip_grad_norm(&b, &mut g, n).unwrap();
                    assert!(before > n, "the test must actually clip");
                    assert!((grad_global_norm(&b, &g).unwrap() - n).abs() < 1e-6);
                }
                Clip::Value(v) => {
                    clip_grad_value(&b, &mut g, v).unwrap();
                    assert!(grad_norms(&b, &g)
                        .unwrap()
                        .values()
                        .all(|&n| n <= v * 12f64.sqrt() + 1e-12));
                }
            }
            opt_b.step(&mut b, &g).unwrap();
        }
        let (pa, pb) = (params(&a), params(&b));
        for (x, y) in pa.iter().zip(&pb) {
            assert!((x - y).abs() < 1e-12, "{clip:?}: {pa:?} vs {pb:?}");
        }
    }
}

#[test]
fn grad_norms_are_keyed_by_parameter_path() {
    let dev = Cpu::seed_from_u64(9);
    let m = dev.build_module::<Net, f64>();
    let g = grads_of(&m, &dev);
    let norms = grad_norms(&m, &g).unwrap();
    let keys: Vec<&str> = norms.keys().map(|s| s.as_str()).collect();
    assert_eq!(keys, ["0.bias", "0.weight", "2.bias", "2.weight"]);
    let w = g.get(&m.2.weight).as_vec();
    let want = w.iter().map(|v| v * v).sum::<f64>().sqrt();
    assert!((norms["2.weight"] - want).abs() < 1e-12);
    let total: f64 = norms.values().map(|n| n * n).sum::<f64>().sqrt();
    assert!((grad_global_norm(&m, &g).unwrap() - total).abs() < 1e-12);
}

#[test]
fn f32_models_train_and_match_f64_closely() {
    type Net32 = <Net as BuildOnDevice<Cpu, f32>>::Built;
    let dev = Cpu::seed_from_u64(11);
    let m64 = dev.build_module::<Net, f64>();
    let mut m32: Net32 = dev.build_module::<Net, f32>();
    // Same starting weights.
    m32.0.weight.copy_from(
        &m64.0
            .weight
            .as_vec()
            .iter()
            .map(|&v| v as f32)
            .collect::<Vec<_>>(),
    );
    m32.0.bias.copy_from(
        &m64.0
            .bias
            .as_vec()
            .iter()
            .map(|&v| v as f32)
            .collect::<Vec<_>>(),
    );
    m32.2.weight.copy_from(
        &m64.2
            .weight
            .as_vec()
            .iter()
            .map(|&v| v as f32)
            .collect::<Vec<_>>(),
    );
    m32.2.bias.copy_from(
        &m64.2
            .bias
            .as_vec()
            .iter()
            .map(|&v| v as f32)
            .collect::<Vec<_>>(),
    );
    let mut m64 = m64;
    let mut o64 = Nadam::new(NadamConfig::default()).unwrap();
    let mut o32 = Nadam::new(NadamConfig::default()).unwrap();
    let (x, y) = data(&dev);
    let mut x32: Tensor<Rank2<5, 3>, f32, Cpu> = dev.zeros();
    x32.copy_from(&x.as_vec().iter().map(|&v| v as f32).collect::<Vec<_>>());
    let mut y32: Tensor<Rank2<5, 2>, f32, Cpu> = dev.zeros();
    y32.copy_from(&y.as_vec().iter().map(|&v| v as f32).collect::<Vec<_>>());
    for _ in 0..5 {
        let g = grads_of(&m64, &dev);
        o64.step(&mut m64, &g).unwrap();
        let pred = m32.forward(x32.clone().traced(m32.alloc_grads()));
        let g = (pred - y32.clone()).square().mean().backward();
        o32.step(&mut m32, &g).unwrap();
    }
    let w32 = m32.2.weight.as_vec();
    let w64 = m64.2.weight.as_vec();
    for (a, b) in w32.iter().zip(&w64) {
        assert!((*a as f64 - b).abs() < 1e-5, "{w32:?} vs {w64:?}");
    }
}

#[test]
fn learning_rate_can_be_set_by_a_schedule() {
    let mut opt = Sgd::<f64, Cpu>::new(SgdConfig::default()).unwrap();
    let mut s = StepDecay::new(0.1, 1, 0.5).unwrap();
    for epoch in 0..3 {
        Optimizer::<NetF64, f64, Cpu>::set_learning_rate(&mut opt, s.lr(epoch, None)).unwrap();
    }
    assert_eq!(Optimizer::<NetF64, f64, Cpu>::learning_rate(&opt), 0.025);
    assert_eq!(opt.state().lr, 0.025);
}

/// Every optimizer, with weight decay and clipping, configured so that each
/// branch of its formula runs.
/// Makes a fresh optimizer.
type MakeOpt<M> = Box<dyn Fn() -> Box<dyn DynOpt<M>> + Send + Sync>;

fn all_optimizers<M: TensorCollection<f64, Cpu>>() -> Vec<(&'static str, MakeOpt<M>)> {
    let clip = Some(Clip::Norm(0.3));
    vec![
        (
            "sgd",
            Box::new(move || {
                Box::new(
                    Sgd::new(SgdConfig {
                        weight_decay: 0.01,
                        clip,
                        ..Default::default()
                    })
                    .unwrap(),
                )
            }),
        ),
        (
            "sgd nesterov",
            Box::new(move || {
                Box::new(
                    Sgd::new(SgdConfig {
                        lr: 0.05,
                        momentum: 0.9,
                        nesterov: true,
                        clip: Some(Clip::Value(0.05)),
                        ..Default::default()
                    })
                    .unwrap(),
                )
            }),
        ),
        (
            "sgd dampening",
            Box::new(move || {
                Box::new(
                    Sgd::new(SgdConfig {
                        momentum: 0.9,
                        dampening: 0.3,
                        ..Default::default()
                    })
                    .unwrap(),
                )
            }),
        ),
        (
            "sgd textbook nesterov",
            Box::new(move || {
                Box::new(
                    Sgd::new(SgdConfig {
                        momentum: 0.7,
                        nesterov: true,
                        form: MomentumForm::Textbook,
                        ..Default::default()
                    })
                    .unwrap(),
                )
            }),
        ),
        (
            "adagrad",
            Box::new(move || {
                Box::new(
                    Adagrad::new(AdagradConfig {
                        lr_decay: 0.1,
                        initial_accumulator_value: 0.1,
                        weight_decay: 0.01,
                        clip,
                        ..Default::default()
                    })
                    .unwrap(),
                )
            }),
        ),
        (
            "adagrad textbook",
            Box::new(move || {
                Box::new(
                    Adagrad::new(AdagradConfig {
                        eps_placement: super::EpsPlacement::Inside,
                        eps: 0.1,
                        ..Default::default()
                    })
                    .unwrap(),
                )
            }),
        ),
        (
            "adadelta",
            Box::new(move || {
                Box::new(
                    Adadelta::new(AdadeltaConfig {
                        weight_decay: 0.01,
                        ..Default::default()
                    })
                    .unwrap(),
                )
            }),
        ),
        (
            "rmsprop",
            Box::new(move || {
                Box::new(
                    RmsProp::new(RmsPropConfig {
                        momentum: 0.5,
                        centered: true,
                        weight_decay: 0.01,
                        clip,
                        ..Default::default()
                    })
                    .unwrap(),
                )
            }),
        ),
        (
            "rmsprop textbook",
            Box::new(move || {
                Box::new(
                    RmsProp::new(RmsPropConfig {
                        eps_placement: super::EpsPlacement::Inside,
                        eps: 0.1,
                        ..Default::default()
                    })
                    .unwrap(),
                )
            }),
        ),
        (
            "adam",
            Box::new(move || {
                Box::new(
                    Adam::new(AdamConfig {
                        weight_decay: 0.01,
                        clip,
                        ..Default::default()
                    })
                    .unwrap(),
                )
            }),
        ),
        (
            "adamw",
            Box::new(move || Box::new(AdamW::new(AdamWConfig::default()).unwrap())),
        ),
        (
            "nadam",
            Box::new(move || {
                Box::new(
                    Nadam::new(NadamConfig {
                        weight_decay: 0.01,
                        ..Default::default()
                    })
                    .unwrap(),
                )
            }),
        ),
    ]
}

/// An optimizer for models `M` whose update path can be chosen.
trait DynOpt<M: TensorCollection<f64, Cpu>>: Optimizer<M, f64, Cpu> {
    fn fast_path(&mut self, on: bool);
}

macro_rules! dyn_opt {
    ($($t:ident),*) => {$(
        impl<M: TensorCollection<f64, Cpu>> DynOpt<M> for $t<f64, Cpu> {
            fn fast_path(&mut self, on: bool) {
                self.set_cpu_fast_path(on)
            }
        }
    )*};
}
dyn_opt!(Sgd, Adagrad, Adadelta, RmsProp, Adam, AdamW, Nadam);

#[test]
fn cpu_fast_path_matches_the_generic_tensor_path() {
    for (name, make) in all_optimizers::<NetF64>() {
        let dev = Cpu::seed_from_u64(13);
        let start = dev.build_module::<Net, f64>();
        let mut fast = start.clone();
        let mut generic = start.clone();
        let mut of = make();
        let mut og = make();
        og.fast_path(false);
        for _ in 0..6 {
            let g = grads_of(&fast, &dev);
            of.step(&mut fast, &g).unwrap();
            let g = grads_of(&generic, &dev);
            og.step(&mut generic, &g).unwrap();
        }
        let (a, b) = (params(&fast), params(&generic));
        assert_ne!(a, params(&start), "{name}: no progress");
        for (x, y) in a.iter().zip(&b) {
            assert!(
                (x - y).abs() <= 1e-12 * x.abs().max(1.0),
                "{name}: {a:?}\n vs {b:?}"
            );
        }
        // The exported states agree too, and either path resumes the other's.
        let (sa, sb) = (of.state(), og.state());
        for (k, va) in &sa.tensors {
            for (x, y) in va.iter().zip(&sb.tensors[k]) {
                assert!((x - y).abs() <= 1e-12 * x.abs().max(1.0), "{name} {k}");
            }
        }
        let mut resumed = make();
        resumed.fast_path(false);
        resumed.load_state(&sa).unwrap();
        let mut m = fast.clone();
        let g = grads_of(&m, &dev);
        resumed.step(&mut m, &g).unwrap();
        of.step(&mut fast, &g).unwrap();
        for (x, y) in params(&m).iter().zip(&params(&fast)) {
            assert!(
                (x - y).abs() <= 1e-12 * x.abs().max(1.0),
                "{name}: resume across paths"
            );
        }
    }
}

#[test]
fn both_paths_resume_bit_identically() {
    for (name, make) in all_optimizers::<NetF64>() {
        for fast in [true, false] {
            let mk = || {
                let mut o = make();
                o.fast_path(fast);
                o
            };
            let dev = Cpu::seed_from_u64(17);
            let start = dev.build_module::<Net, f64>();
            let mut straight = start.clone();
            let mut o = mk();
            let mut resumed = start.clone();
            let mut first = mk();
            for i in 0..6 {
                let g = grads_of(&straight, &dev);
                o.step(&mut straight, &g).unwrap();
                if i < 2 {
                    let g = grads_of(&resumed, &dev);
                    first.step(&mut resumed, &g).unwrap();
                }
            }
            let json = serde_json::to_string(&first.state()).unwrap();
            let mut second = mk();
            second
                .load_state(&serde_json::from_str(&json).unwrap())
                .unwrap();
            for _ in 2..6 {
                let g = grads_of(&resumed, &dev);
                second.step(&mut resumed, &g).unwrap();
            }
            assert_eq!(params(&straight), params(&resumed), "{name} fast={fast}");
        }
    }
}

#[test]
fn optimizer_config_round_trips_through_json_and_builds_the_same_optimizer() {
    use super::{AnyOptimizer, OptimizerConfig};
    let cfg = OptimizerConfig::RmsProp(RmsPropConfig {
        lr: 0.02,
        centered: true,
        clip: Some(Clip::Value(1.0)),
        ..Default::default()
    });
    let json = serde_json::to_string(&cfg).unwrap();
    let back: OptimizerConfig = serde_json::from_str(&json).unwrap();
    assert_eq!(back, cfg);
    let dev = Cpu::seed_from_u64(21);
    let start = dev.build_module::<Net, f64>();
    let (mut a, mut b) = (start.clone(), start);
    let mut any: AnyOptimizer<f64, Cpu> = back.build().unwrap();
    let OptimizerConfig::RmsProp(c) = cfg else {
        unreachable!()
    };
    let mut direct = RmsProp::new(c).unwrap();
    train(&mut a, &mut any, 3);
    train(&mut b, &mut direct, 3);
    assert_eq!(params(&a), params(&b));
    assert_eq!(any.state(), direct.state());
    assert_eq!(any.config(), cfg);
    assert!(matches!(
        OptimizerConfig::Sgd(SgdConfig {
            lr: -1.0,
            ..Default::default()
        })
        .build::<f32, Cpu>(),
        Err(Error::InvalidConfig { .. })
    ));
}

/// `step_and_zero` on gradients kept across steps (as `fit` does: allocated
/// once, accumulated by each backward, zeroed by the step) gives exactly the
/// parameters and state of `step` on fresh gradients, for every optimizer on
/// both paths (on `Cpu` the fast path reads, clips and zeroes the gradient
/// buffers in place), and leaves every gradient zero.
#[test]
fn step_and_zero_matches_step_on_fresh_gradients() {
    for (name, make) in all_optimizers::<NetF64>() {
        for fast in [true, false] {
            let dev = Cpu::seed_from_u64(5);
            let start = dev.build_module::<Net, f64>();
            let (mut a, mut b) = (start.clone(), start.clone());
            let (mut oa, mut ob) = (make(), make());
            oa.fast_path(fast);
            ob.fast_path(fast);
            let (x, y) = data(&dev);
            let mut kept = Some(b.alloc_grads());
            for _ in 0..5 {
                let g = grads_of(&a, &dev);
                oa.step(&mut a, &g).unwrap();
                let g = kept.take().unwrap();
                let pred = b.forward(x.clone().traced(g));
                let mut g = (pred - y.clone()).square().mean().backward();
                ob.step_and_zero(&mut b, &mut g).unwrap();
                let zero = |v: Vec<f64>| v.iter().all(|&e| e == 0.0);
                assert!(
                    zero(g.get(&b.0.weight).as_vec()),
                    "{name}: gradient not zeroed"
                );
                assert!(
                    zero(g.get(&b.2.bias).as_vec()),
                    "{name}: gradient not zeroed"
                );
                kept = Some(g);
            }
            assert_ne!(params(&a), params(&start), "{name}: no progress");
            assert_eq!(params(&a), params(&b), "{name} (fast path {fast})");
            assert_eq!(oa.state(), ob.state(), "{name} (fast path {fast})");
        }
    }
}

/// A model whose first weight (256 x 160) is more than two of the host
/// update's pieces, so the `Cpu` fast path updates it in parallel pieces.
type Big = (Linear<160, 256>, Tanh, Linear<256, 3>);
type BigF64 = <Big as BuildOnDevice<Cpu, f64>>::Built;

fn big_loss(model: &BigF64, g: Gradients<f64, Cpu>) -> Gradients<f64, Cpu> {
    let dev = Cpu::default();
    let mut x = dev.zeros::<Rank2<4, 160>>();
    x.copy_from(
        &(0..640)
            .map(|i| ((i * 37 % 101) as f64 - 50.0) / 60.0)
            .collect::<Vec<_>>(),
    );
    let mut y = dev.zeros::<Rank2<4, 3>>();
    y.copy_from(&(0..12).map(|i| (i % 5) as f64 - 2.0).collect::<Vec<_>>());
    (model.forward(x.traced(g)) - y).square().mean().backward()
}

fn big_params(m: &BigF64) -> Vec<f64> {
    let mut v = m.0.weight.as_vec();
    v.extend(m.0.bias.as_vec());
    v.extend(m.2.weight.as_vec());
    v.extend(m.2.bias.as_vec());
    v
}

/// Large parameters are updated in pieces on the kernels' team: for every
/// optimizer, the same bits at 1 and 2 threads and through `step` or
/// `step_and_zero` (which zeroes every piece of the gradient), and the
/// generic tensor path's values.
#[test]
fn large_parameters_are_updated_in_pieces_exactly() {
    const { assert!(160 * 256 >= 2 * super::engine::HOST_PIECE, "not split") };
    let start = Cpu::seed_from_u64(3).build_module::<Big, f64>();
    for (name, make) in all_optimizers::<BigF64>() {
        let run = |threads: usize, fast: bool, zero: bool| {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            pool.install(|| {
                let mut m = start.clone();
                let mut o = make();
                o.fast_path(fast);
                let mut kept = Some(m.alloc_grads());
                for _ in 0..4 {
                    if zero {
                        let mut g = big_loss(&m, kept.take().unwrap());
                        o.step_and_zero(&mut m, &mut g).unwrap();
                        let w = g.get(&m.0.weight).as_vec();
                        assert!(w.iter().all(|&e| e == 0.0), "{name}: not zeroed");
                        kept = Some(g);
                    } else {
                        let g = big_loss(&m, m.alloc_grads());
                        o.step(&mut m, &g).unwrap();
                    }
                }
                (big_params(&m), o.state())
            })
        };
        let one = run(1, true, false);
        assert_ne!(one.0, big_params(&start), "{name}: no progress");
        assert_eq!(run(2, true, false), one, "{name}: 2 threads");
        // `step_and_zero` (kept gradients, zeroed in place): the same bits
        // at 1 and 2 threads; `step`'s values up to the rounding of dfdx's
        // backward accumulating into a kept buffer.
        let zeroed = run(1, true, true);
        assert_eq!(run(2, true, true), zeroed, "{name}: step_and_zero");
        for (x, y) in zeroed.0.iter().zip(&one.0) {
            assert!(
                (x - y).abs() <= 1e-12 * x.abs().max(1.0),
                "{name}: step_and_zero {x} vs step {y}"
            );
        }
        let generic = run(2, false, false).0;
        for (x, y) in one.0.iter().zip(&generic) {
            assert!(
                (x - y).abs() <= 1e-12 * x.abs().max(1.0),
                "{name}: {x} vs generic {y}"
            );
        }
    }
}
