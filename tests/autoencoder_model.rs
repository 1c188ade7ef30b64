//! The autoencoder clauses of `model!`: `regularize { .. }` penalties, the
//! `gaussian` code of a VAE, `reconstructs` and `outputs(..)`. Each penalty
//! term is checked against the runtime function applied to the layer's
//! output computed separately with the same weights; the Gaussian code
//! against `mu + exp(logvar / 2) * eps` with `eps` re-drawn from an equally
//! seeded device; gradients against a forward without the penalty.

use sxima::prelude::*;
use sxima::runtime::outputs::MultiOutput;
use sxima::runtime::penalty::{
    activity_l1, contractive_sigmoid_dense, gaussian_kl, sparsity_kl, standard_normal_like,
    Penalties,
};

model! {
    /// A sparse and contractive autoencoder with L1 on the decoder's pre-activation.
    pub SparseAe(input: [6], reconstructs, outputs(code, recon)) {
        enc: Dense(4),
        code: Sigmoid,
        fc: Dense(6),
        recon: Sigmoid,
    } regularize {
        code: sparsity_kl(rho = 0.1, weight = 3.0),
        enc: contractive(weight = 0.5),
        fc: activity_l1(1e-2),
    }

    /// The same autoencoder with the sparsity penalty only.
    pub SparseOnly(input: [6], reconstructs) {
        enc: Dense(4),
        code: Sigmoid,
        fc: Dense(6),
        Sigmoid,
    } regularize {
        code: sparsity_kl(rho = 0.1, weight = 3.0),
    }

    /// A VAE in one model, every intermediate output named.
    pub Vae(input: [5], reconstructs, outputs(mu = z.mu, logvar = z.logvar, sample = z, recon)) {
        enc: Dense(4),
        Tanh,
        z: gaussian(kl_weight = 0.5) { mu { Dense(2) } logvar { Dense(2) } },
        dec: Dense(5),
        recon: Sigmoid,
    }

    /// A VAE's encoder as a model of its own.
    pub VaeEncoder(input: [5]) {
        enc: Dense(4),
        Tanh,
        z: gaussian { mu { Dense(2) } logvar { Dense(3), Tanh, Dense(2) } },
    }

    pub VaeDecoder(input: [2]) { Dense(5), Sigmoid }

    /// The VAE of nested models: the encoder's KL term is `encoder.z.kl`.
    pub NestedVae(input: [5], reconstructs) {
        encoder: VaeEncoder -> [2],
        decoder: VaeDecoder -> [5],
    }
}

const B: usize = 3;

fn batch<const N: usize>(dev: &Cpu, seed: u64) -> Tensor<(Const<B>, Const<N>), f64, Cpu> {
    let data = (0..B * N)
        .map(|i| ((i as f64 + 1.0) * 0.37 + seed as f64).sin())
        .collect();
    dev.tensor_from_vec(data, (Const::<B>, Const::<N>))
}

/// `(B, n)` of a tensor's values, as the penalty functions take them.
fn flat<S: Shape>(t: &Tensor<S, f64, Cpu>, dev: &Cpu) -> Tensor<(usize, usize), f64, Cpu> {
    let v = t.as_vec();
    let n = v.len() / B;
    dev.tensor_from_vec(v, (B, n))
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-12 * (1.0 + a.abs().max(b.abs()))
}

fn all_close(a: &[f64], b: &[f64]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| close(*x, *y))
}

#[test]
fn regularizer_terms_equal_the_runtime_functions_on_the_layer_outputs() {
    let dev = Cpu::seed_from_u64(1);
    let mut m = SparseAe::<f64, Cpu>::build(&dev);
    let x = batch::<6>(&dev, 0);
    let mut p = Penalties::new();
    let y = m.try_forward_mut_penalized(x.clone(), &mut p).unwrap();
    // The output is unchanged by the penalties.
    assert_eq!(y.as_vec(), m.forward(x.clone()).as_vec());

    let terms = p.terms();
    let names: Vec<&str> = terms.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(
        names,
        ["code.sparsity_kl", "enc.contractive", "fc.activity_l1"]
    );
    let weights: Vec<f64> = terms.iter().map(|t| t.weight).collect();
    assert_eq!(weights, [3.0, 0.5, 0.01]);

    // The same layers by hand.
    let h = m.enc.forward(x.clone()).sigmoid();
    let pre = m.fc.forward(h.clone());
    let w = dev.tensor_from_vec(m.enc.weight.as_vec(), (4usize, 6usize));
    let want = [
        sparsity_kl(flat(&h, &dev), 0.1).unwrap().array(),
        contractive_sigmoid_dense(flat(&h, &dev), w)
            .unwrap()
            .array(),
        activity_l1(flat(&pre, &dev)).unwrap().array(),
    ];
    for (t, want) in terms.iter().zip(want) {
        let got = t.value.array();
        assert!(close(got, want), "{}: {got} vs {want}", t.name);
        assert!(want > 0.0, "{}: a zero penalty checks nothing", t.name);
    }

    // The training forward without a collector computes the same output.
    let y2 = m.try_forward_mut(x).unwrap();
    assert_eq!(y2.as_vec(), y.as_vec());
}

#[test]
fn a_sparsity_term_changes_the_encoders_gradient_and_not_the_decoders() {
    let dev = Cpu::seed_from_u64(2);
    let mut m = SparseOnly::<f64, Cpu>::build(&dev);
    let x = batch::<6>(&dev, 1);

    let y = m
        .try_forward_mut(x.clone().traced(m.alloc_grads()))
        .unwrap();
    let plain = (y - x.clone()).square().mean().backward();

    let mut p = Penalties::new();
    let y = m
        .try_forward_mut_penalized(x.clone().traced(m.alloc_grads()), &mut p)
        .unwrap();
    let mut loss = (y - x.clone()).square().mean();
    for t in p.into_terms() {
        loss = loss + t.value * t.weight;
    }
    let with = loss.backward();

    // The decoder sees no part of the penalty.
    assert_eq!(
        with.get(&m.fc.weight).as_vec(),
        plain.get(&m.fc.weight).as_vec()
    );
    assert_eq!(
        with.get(&m.fc.bias).as_vec(),
        plain.get(&m.fc.bias).as_vec()
    );
    // The encoder's gradient grows by exactly the penalty's own gradient.
    let h = m.enc.forward(x.traced(m.alloc_grads())).sigmoid();
    let alone = (sparsity_kl(h.reshape_like(&(B, 4usize)), 0.1).unwrap() * 3.0).backward();
    let (w, pw, aw) = (
        with.get(&m.enc.weight).as_vec(),
        plain.get(&m.enc.weight).as_vec(),
        alone.get(&m.enc.weight).as_vec(),
    );
    let diff: Vec<f64> = w.iter().zip(&pw).map(|(a, b)| a - b).collect();
    assert!(aw.iter().any(|v| v.abs() > 1e-6), "{aw:?}");
    for (d, a) in diff.iter().zip(&aw) {
        assert!((d - a).abs() < 1e-12, "{diff:?} vs {aw:?}");
    }
}

#[test]
fn the_gaussian_code_returns_mu_in_inference_and_a_seeded_sample_in_training() {
    let data = batch::<5>(&Cpu::default(), 2).as_vec();
    let run = || {
        let dev = Cpu::seed_from_u64(7);
        let mut m = Vae::<f64, Cpu>::build(&dev);
        let x = dev.tensor_from_vec(data.clone(), (Const::<B>, Const::<5>));
        let mut p = Penalties::new();
        let o: VaeOutputs<Const<B>, f64, Cpu, NoneTape> =
            m.try_forward_outputs_mut(x, &mut p).unwrap();
        (m, o, p)
    };
    let (m, o, p) = run();
    let (_, again, _) = run();
    assert_eq!(o.sample.as_vec(), again.sample.as_vec());

    // eps as the forward drew it: the same seed, the same draws before it.
    let dev = Cpu::seed_from_u64(7);
    let _ = Vae::<f64, Cpu>::build(&dev);
    let eps = standard_normal_like::<_, f64, _>(&dev, &(B, 2usize))
        .unwrap()
        .as_vec();
    let (mu, lv, z) = (o.mu.as_vec(), o.logvar.as_vec(), o.sample.as_vec());
    let want: Vec<f64> = (0..B * 2)
        .map(|i| mu[i] + (lv[i] / 2.0).exp() * eps[i])
        .collect();
    assert!(all_close(&z, &want), "{z:?} vs {want:?}");
    assert!(!all_close(&z, &mu), "the sample is not the mean");

    // The heads are the layers applied to the encoder's output.
    let x = Cpu::default().tensor_from_vec(data.clone(), (Const::<B>, Const::<5>));
    let h = m.enc.forward(x.clone()).tanh();
    assert!(all_close(&mu, &m.z.mu.forward(h.clone()).as_vec()));
    assert!(all_close(&lv, &m.z.logvar.forward(h).as_vec()));
    // Training: the decoder reads the sample.
    let recon = m.dec.forward(o.sample.clone()).sigmoid().as_vec();
    assert!(all_close(&o.recon.as_vec(), &recon));

    // The KL term, weighted by kl_weight.
    let terms = p.terms();
    assert_eq!(terms.len(), 1);
    assert_eq!((terms[0].name.as_str(), terms[0].weight), ("z.kl", 0.5));
    let dev = Cpu::default();
    let kl = gaussian_kl(flat(&o.mu, &dev), flat(&o.logvar, &dev))
        .unwrap()
        .array();
    assert!(close(terms[0].value.array(), kl) && kl > 0.0, "{kl}");

    // Inference: the code is mu, and the model's output decodes it.
    let inf = m.try_forward_outputs(x.clone()).unwrap();
    assert!(all_close(&inf.mu.as_vec(), &mu));
    assert!(all_close(&inf.sample.as_vec(), &mu));
    assert!(all_close(&inf.logvar.as_vec(), &lv));
    let y = m.forward(x);
    let decoded = m.dec.forward(inf.mu).sigmoid().as_vec();
    assert!(all_close(&y.as_vec(), &decoded));
    assert_eq!(inf.recon.as_vec(), y.as_vec());
}

#[test]
fn multi_output_fields_are_the_layer_outputs_and_the_tape_reaches_every_parameter() {
    let dev = Cpu::seed_from_u64(3);
    let mut m = SparseAe::<f64, Cpu>::build(&dev);
    let x = batch::<6>(&dev, 3);
    let o: SparseAeOutputs<Const<B>, f64, Cpu, NoneTape> =
        m.try_forward_outputs(x.clone()).unwrap();
    let code: &Tensor<(Const<B>, Const<4>), f64, Cpu> = &o.code;
    let h = m.enc.forward(x.clone()).sigmoid();
    assert_eq!(code.as_vec(), h.as_vec());
    assert_eq!(o.recon.as_vec(), m.forward(x.clone()).as_vec());

    // Training form: the forward's tape is held by the collector, so a loss
    // over both outputs reaches the decoder through `recon` and the encoder
    // through both ...
    let mut p = Penalties::new();
    let o = m
        .try_forward_outputs_mut(x.clone().traced(m.alloc_grads()), &mut p)
        .unwrap();
    assert_eq!(p.terms().len(), 3);
    let loss = p.attach_tape((o.recon - x.clone()).square().mean() + o.code.sum());
    let g = loss.backward();
    for (name, grad) in [
        ("enc.weight", g.get(&m.enc.weight).as_vec()),
        ("fc.weight", g.get(&m.fc.weight).as_vec()),
    ] {
        assert!(grad.iter().any(|v| v.abs() > 1e-9), "{name}: {grad:?}");
    }
    // ... and a loss over the code alone (not the model's last output)
    // reaches the encoder, with the same gradient as the plain forward's.
    let mut p = Penalties::new();
    let o = m
        .try_forward_outputs_mut(x.clone().traced(m.alloc_grads()), &mut p)
        .unwrap();
    let g = p.attach_tape(o.code.sum()).backward();
    let direct = m
        .enc
        .forward(x.clone().traced(m.alloc_grads()))
        .sigmoid()
        .sum()
        .backward();
    let (a, b) = (
        g.get(&m.enc.weight).as_vec(),
        direct.get(&m.enc.weight).as_vec(),
    );
    assert!(a.iter().any(|v| v.abs() > 1e-9), "{a:?}");
    assert!(all_close(&a, &b), "{a:?} vs {b:?}");
    assert!(g.get(&m.fc.weight).as_vec().iter().all(|v| *v == 0.0));
}

#[test]
fn nested_models_prefix_their_terms_and_the_kl_reaches_only_the_encoder() {
    let dev = Cpu::seed_from_u64(4);
    let mut m = NestedVae::<f64, Cpu>::build(&dev);
    let x = batch::<5>(&dev, 4);
    // The same forward twice (equal seeds, equal noise), without and with the KL term.
    let run = |m: &mut NestedVae<f64, Cpu>, with_kl: bool| {
        let dev = Cpu::seed_from_u64(9);
        let x = dev.tensor_from_vec(x.as_vec(), (Const::<B>, Const::<5>));
        let mut p = Penalties::new();
        let y = m
            .try_forward_mut_penalized(x.traced(m.alloc_grads()), &mut p)
            .unwrap();
        let terms = p.into_terms();
        let names: Vec<String> = terms.iter().map(|t| t.name.clone()).collect();
        assert_eq!(names, ["encoder.z.kl"]);
        assert_eq!(terms[0].weight, 1.0);
        let mut loss = y.sum();
        if with_kl {
            for t in terms {
                loss = loss + t.value * t.weight;
            }
        }
        loss.backward()
    };
    let plain = run(&mut m, false);
    let with = run(&mut m, true);
    let enc = &m.encoder;
    for (name, a, b) in [
        (
            "z.mu",
            with.get(&enc.z.mu.weight).as_vec(),
            plain.get(&enc.z.mu.weight).as_vec(),
        ),
        (
            "z.logvar.2",
            with.get(&enc.z.logvar._2.weight).as_vec(),
            plain.get(&enc.z.logvar._2.weight).as_vec(),
        ),
        (
            "enc",
            with.get(&enc.enc.weight).as_vec(),
            plain.get(&enc.enc.weight).as_vec(),
        ),
    ] {
        assert!(!all_close(&a, &b), "{name}: the KL term changed nothing");
    }
    let dec = &m.decoder.dense_1.weight;
    assert_eq!(with.get(dec).as_vec(), plain.get(dec).as_vec());
}

#[test]
fn the_gaussian_code_is_a_composite_in_the_summary_and_the_counts() {
    let rows: Vec<(&str, &str, usize, usize)> = <VaeEncoder as ModelInfo>::LAYERS
        .iter()
        .map(|r| (r.name, r.kind, r.depth, r.params))
        .collect();
    assert_eq!(
        rows,
        [
            ("enc", "Dense(4)", 0, 24),
            ("tanh_1", "Tanh", 0, 0),
            ("z", "gaussian(kl_weight = 1)", 0, 10 + 15 + 8),
            ("z.mu", "Dense(2)", 1, 10),
            ("z.logvar", "{ .. }", 1, 23),
            ("z.logvar.0", "Dense(3)", 2, 15),
            ("z.logvar.1", "Tanh", 2, 0),
            ("z.logvar.2", "Dense(2)", 2, 8),
        ]
    );
    assert_eq!(<VaeEncoder as ModelInfo>::PARAM_COUNT, 24 + 33);
    // Both heads' products: 4*2 + 4*3 + 3*2, plus the encoder's 5*4.
    assert_eq!(<VaeEncoder as ModelInfo>::MACS, 20 + 8 + 12 + 6);
    assert_eq!(<VaeEncoder as ModelInfo>::OUTPUT_SHAPE, &[2]);
    assert_eq!(<NestedVae as ModelInfo>::PARAM_COUNT, 57 + 15);
}
