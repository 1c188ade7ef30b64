//! Recurrent `model!`s end to end: the inferred output types and shapes,
//! per-step Dense, bidirectional merges, token inputs with their vocabulary
//! check, run-time sequence lengths, a PyTorch state dict loaded by name,
//! and a small model that learns.

use sxima::optim::Clip;
use sxima::prelude::*;
use sxima::runtime::train::checkpoint;

model! {
    /// Every step of an LSTM into a per-step classifier.
    pub Tagger(input: [6, 3]) {
        lstm: Lstm(8, return_sequences = true) -> [6, 8],
        fc: Dense(5) -> [6, 5],
    }

    /// Stacked GRU (Cho et al.'s form) and SimpleRnn, last state only.
    pub Stacked(input: [7, 2]) {
        gru: Gru(6, return_sequences = true, reset_after = false, dropout = 0.25),
        Tanh,
        rnn: SimpleRnn(4) -> [4],
    }

    /// Bidirectional merges: concat doubles the width, sum keeps it.
    pub BiNet(input: [4, 3]) {
        cat: Bidirectional(Lstm(5, return_sequences = true)) -> [4, 10],
        sum: Bidirectional(Gru(3), merge = sum) -> [3],
    }

    /// The PyTorch model of `tests/data/gen_torch_bilstm.py`, same field names.
    pub TorchBiLstm(input: [5, 3]) {
        lstm: Bidirectional(Lstm(4, return_sequences = true), merge = concat),
        fc: Dense(2),
    }

    /// Token ids in, one class per sequence out.
    pub TokenNet(input: tokens[6]) {
        embed: Embedding(10, 4) -> [6, 4],
        lstm: Lstm(8),
        fc: Dense(3),
    }

    /// Any number of steps.
    pub AnyLength(input: [seq, 2]) {
        lstm: Lstm(4, return_sequences = true) -> [_, 4],
        fc: Dense(1),
    }

    /// Any number of steps in, one class out.
    pub AnyLengthClassifier(input: [_, 2]) {
        lstm: Lstm(8),
        fc: Dense(2),
    }

    /// A class per step: a tiny language model.
    pub Echo(input: tokens[8]) {
        embed: Embedding(5, 4),
        lstm: Lstm(16, return_sequences = true),
        fc: Dense(5) -> [8, 5],
    }

    /// Exactly 7 steps.
    pub SevenSteps(input: [7, 2]) { lstm: Lstm(8), fc: Dense(2) }
}

/// `n` sequences of `steps` x 2 features; class = sign of the first feature's sum.
fn sign_data(n: usize, steps: usize, seed: u64) -> Dataset {
    let dev = Cpu::seed_from_u64(seed);
    let x: Tensor<(usize, usize, Const<2>), f32, _> = dev.sample_normal_like(&(n, steps, Const));
    let features = x.as_vec();
    let labels: Vec<usize> = features
        .chunks(2 * steps)
        .map(|s| usize::from(s.iter().step_by(2).sum::<f32>() > 0.0))
        .collect();
    Dataset::with_classes(features, &[steps, 2], labels).expect("dataset")
}

#[test]
fn output_types_shapes_and_parameter_counts() {
    let dev = Cpu::seed_from_u64(0);
    let x: Tensor<Rank3<2, 6, 3>, f32, _> = dev.sample_normal();
    let y: Tensor<Rank3<2, 6, 5>, f32, _> = Tagger::<f32, Cpu>::build(&dev).forward(x);
    assert!(y.as_vec().iter().all(|v| v.is_finite()));
    // 4 gates: 4*8*(3 + 8) + 2*4*8, then 8*5 + 5.
    assert_eq!(<Tagger as ModelInfo>::PARAM_COUNT, 4 * 8 * 11 + 64 + 45);

    let x: Tensor<(usize, Const<7>, Const<2>), f32, _> = dev.sample_normal_like(&(3, Const, Const));
    let y: Tensor<(usize, Const<4>), f32, _> = Stacked::<f32, Cpu>::build(&dev).forward(x);
    assert_eq!(y.shape().0, 3);
    assert_eq!(
        <Stacked as ModelInfo>::PARAM_COUNT,
        (3 * 6 * 8 + 2 * 3 * 6) + (4 * 6 + 4 * 4 + 2 * 4)
    );

    let x: Tensor<Rank3<2, 4, 3>, f32, _> = dev.sample_normal();
    let y: Tensor<Rank2<2, 3>, f32, _> = BiNet::<f32, Cpu>::build(&dev).forward(x);
    assert!(y.as_vec().iter().all(|v| v.is_finite()));
    let s = BiNet::<f32, Cpu>::summary().to_string();
    assert!(s.contains("(B, 4, 10)") && s.contains("(B, 3)"), "{s}");
}

#[test]
fn per_step_dense_is_the_dense_of_each_step() {
    let dev = Cpu::seed_from_u64(1);
    let m = Tagger::<f32, Cpu>::build(&dev);
    let x: Tensor<Rank3<1, 6, 3>, f32, _> = dev.sample_normal();
    let y = m.forward(x.clone()).as_vec();
    let h = m.lstm.forward(x).as_vec(); // [1, 6, 8]
    let (w, b) = (m.fc.weight.as_vec(), m.fc.bias.as_vec()); // [5, 8], [5]
    for t in 0..6 {
        for o in 0..5 {
            let want: f32 = b[o] + (0..8).map(|i| w[o * 8 + i] * h[t * 8 + i]).sum::<f32>();
            assert!((y[t * 5 + o] - want).abs() < 1e-5, "step {t} unit {o}");
        }
    }
}

/// The numbers of a JSON array `"key": [..]` in `text`.
fn json_array(text: &str, key: &str) -> Vec<f32> {
    let start = text.find(&format!("\"{key}\"")).expect("key") + key.len() + 2;
    let open = start + text[start..].find('[').expect("[");
    let close = open + text[open..].find(']').expect("]");
    text[open + 1..close]
        .split(',')
        .map(|v| v.trim().parse().expect("a number"))
        .collect()
}

#[test]
fn a_pytorch_state_dict_loads_by_name_and_gives_pytorch_outputs() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data");
    let dev = Cpu::default();
    let mut m = TorchBiLstm::<f32, Cpu>::build(&dev);
    checkpoint::load(&mut m, format!("{dir}/torch_bilstm.safetensors")).expect("loads");
    let json = std::fs::read_to_string(format!("{dir}/torch_bilstm.json")).expect("json");
    let x = dev.tensor_from_vec(
        json_array(&json, "input"),
        (Const::<2>, Const::<5>, Const::<3>),
    );
    let y = m.forward(x).as_vec();
    let want = json_array(&json, "output");
    assert_eq!(y.len(), want.len());
    for (a, b) in y.iter().zip(&want) {
        assert!((a - b).abs() <= 1e-5 * (1.0 + b.abs()), "{a} vs {b}");
    }
    // Saved again, it keeps PyTorch's names and shapes.
    let path =
        std::env::temp_dir().join(format!("sxima_bilstm_{}.safetensors", std::process::id()));
    checkpoint::save(&m, &path).expect("saves");
    let bytes = std::fs::read(&path).expect("read back");
    let n = u64::from_le_bytes(bytes[..8].try_into().expect("8 bytes")) as usize;
    let header = std::str::from_utf8(&bytes[8..8 + n]).expect("utf-8");
    for name in [
        "lstm.weight_ih_l0",
        "lstm.weight_hh_l0_reverse",
        "lstm.bias_ih_l0_reverse",
        "fc.weight",
    ] {
        assert!(
            header.contains(&format!("\"{name}\"")),
            "{name} in {header}"
        );
    }
    assert!(header.contains("\"shape\":[16,3]"), "{header}");
    let mut back = TorchBiLstm::<f32, Cpu>::build(&dev);
    checkpoint::load(&mut back, &path).expect("round trip");
    let _ = std::fs::remove_file(&path);
    let x: Tensor<Rank3<1, 5, 3>, f32, _> = dev.sample_normal();
    assert_eq!(m.forward(x.clone()).as_vec(), back.forward(x).as_vec());
}

#[test]
fn token_models_check_the_vocabulary_before_the_lookup() {
    let dev = Cpu::seed_from_u64(2);
    let m = TokenNet::<f32, Cpu>::build(&dev);
    let ok: Tensor<Rank2<2, 6>, usize, _> =
        dev.tensor_from_vec(vec![0, 1, 2, 3, 4, 5, 9, 8, 7, 6, 5, 4], (Const, Const));
    let y: Tensor<Rank2<2, 3>, f32, _> = m.try_forward(ok).expect("ids below 10");
    assert!(y.as_vec().iter().all(|v| v.is_finite()));
    let bad: Tensor<Rank2<1, 6>, usize, _> =
        dev.tensor_from_vec(vec![0, 1, 2, 10, 4, 5], (Const, Const));
    let e = m
        .try_forward(bad)
        .expect_err("token 10 of a 10-word vocabulary")
        .to_string();
    assert!(
        e.contains("position 3") && e.contains("token 10") && e.contains("10"),
        "{e}"
    );
    // The generic `Model` path (`fit`, `evaluate`) takes the ids as whole
    // numbers of `E`, as a `Dataset` holds them, and checks them the same way.
    let good: Tensor<(usize, Const<6>), f32, _> =
        dev.tensor_from_vec(vec![0.0, 1.0, 2.0, 3.0, 4.0, 5.0], (1, Const));
    let ids: Tensor<Rank2<1, 6>, usize, _> =
        dev.tensor_from_vec(vec![0, 1, 2, 3, 4, 5], (Const, Const));
    let y = <TokenNet as Model<f32, Cpu>>::try_forward(&m, good).expect("ids");
    assert_eq!(y.as_vec(), m.forward(ids).as_vec());
    let bad: Tensor<(usize, Const<6>), f32, _> =
        dev.tensor_from_vec(vec![11.0, 1.0, 2.0, 3.0, 4.0, 5.0], (1, Const));
    let e = <TokenNet as Model<f32, Cpu>>::try_forward(&m, bad)
        .expect_err("token 11")
        .to_string();
    assert!(e.contains("token 11"), "{e}");
}

#[test]
fn token_models_train_with_fit() {
    // Class = the first token mod 3, then 5 distractors.
    let n = 96;
    let mut features = Vec::new();
    let mut labels = Vec::new();
    for i in 0..n {
        let first = (i * 7) % 10;
        features.push(first as f32);
        features.extend((0..5).map(|t| ((i * 3 + t * 5) % 10) as f32));
        labels.push(first % 3);
    }
    let data = Dataset::with_classes(features, &[6], labels).expect("dataset");
    let dev = Cpu::seed_from_u64(3);
    let mut m = TokenNet::<f32, Cpu>::build(&dev);
    let mut opt = Adam::new(AdamConfig {
        lr: 1e-2,
        ..Default::default()
    })
    .expect("adam");
    let before = evaluate(&m, &SparseCrossEntropy, &data, 32)
        .expect("eval")
        .loss;
    fit(
        &mut m,
        &mut opt,
        &SparseCrossEntropy,
        &data,
        FitConfig::new().epochs(15).batch_size(16).seed(3).silent(),
        &mut [],
    )
    .expect("fit");
    let after = evaluate(&m, &SparseCrossEntropy, &data, 32).expect("eval");
    assert!(after.loss < 0.5 * before, "{before} -> {}", after.loss);
    // Data that are not token ids are an error of `fit`, not a panic.
    let bad = Dataset::with_classes(vec![0.5; 6], &[6], vec![0]).expect("dataset");
    let e = fit(
        &mut m,
        &mut opt,
        &SparseCrossEntropy,
        &bad,
        FitConfig::new().silent(),
        &mut [],
    )
    .expect_err("0.5 is no token id");
    assert!(e.to_string().contains("token ids"), "{e}");
}

#[test]
fn per_step_targets_train_a_language_model_with_fit() {
    // The target at step t is the token at step t - 1 (0 at step 0).
    let (n, steps) = (128, 8);
    let mut features = Vec::new();
    let mut labels = Vec::new();
    for i in 0..n {
        let seq: Vec<usize> = (0..steps)
            .map(|t| (i * 7 + t * t * 3 + i / 5) % 5)
            .collect();
        labels.push(0);
        labels.extend(&seq[..steps - 1]);
        features.extend(seq.iter().map(|&v| v as f32));
    }
    let data =
        Dataset::new(features, &[steps], Targets::StepClasses { steps, labels }).expect("dataset");
    let dev = Cpu::seed_from_u64(8);
    let mut m = Echo::<f32, Cpu>::build(&dev);
    let mut opt = Adam::new(AdamConfig {
        lr: 2e-2,
        ..Default::default()
    })
    .expect("adam");
    let before = evaluate(&m, &SparseCrossEntropy, &data, 64).expect("eval");
    fit(
        &mut m,
        &mut opt,
        &SparseCrossEntropy,
        &data,
        FitConfig::new().epochs(25).batch_size(32).seed(8).silent(),
        &mut [],
    )
    .expect("fit");
    let after = evaluate(&m, &SparseCrossEntropy, &data, 64).expect("eval");
    let acc = after.accuracy().expect("accuracy over steps");
    assert!(
        after.loss < 0.5 * before.loss,
        "{} -> {}",
        before.loss,
        after.loss
    );
    assert!(acc > 0.8, "per-step accuracy {acc}");
    // Step targets that do not match the output [8, 5] are an error naming both.
    let wrong = Dataset::new(
        vec![0.0; 8],
        &[8],
        Targets::StepClasses {
            steps: 4,
            labels: vec![0; 4],
        },
    )
    .expect("dataset");
    let e = evaluate(&m, &SparseCrossEntropy, &wrong, 1)
        .expect_err("4 steps of targets for 8 steps of output")
        .to_string();
    assert!(e.contains("[8, 5]"), "{e}");
}

#[test]
fn float_sequences_train_with_fit() {
    let data = sign_data(128, 7, 4);
    let dev = Cpu::seed_from_u64(4);
    let mut m = SevenSteps::<f32, Cpu>::build(&dev);
    // Clipping by norm, which recurrent nets need, and per-layer gradient norms.
    let mut opt = Adam::new(AdamConfig {
        lr: 1e-2,
        clip: Some(Clip::Norm(1.0)),
        ..Default::default()
    })
    .expect("adam");
    let before = evaluate(&m, &SparseCrossEntropy, &data, 64)
        .expect("eval")
        .loss;
    let history = fit(
        &mut m,
        &mut opt,
        &SparseCrossEntropy,
        &data,
        FitConfig::new()
            .epochs(20)
            .batch_size(32)
            .seed(4)
            .grad_norms(true)
            .silent(),
        &mut [],
    )
    .expect("fit");
    let norms = &history.epochs[0].grad_norms;
    for name in ["lstm.weight_ih_l0", "lstm.weight_hh_l0", "fc.weight"] {
        assert!(
            norms.get(name).is_some_and(|v| *v > 0.0),
            "{name} in {norms:?}"
        );
    }
    let after = evaluate(&m, &SparseCrossEntropy, &data, 64).expect("eval");
    assert!(after.loss < 0.6 * before, "{before} -> {}", after.loss);
    // Sequences of another length are an error naming both shapes.
    let e = evaluate(&m, &SparseCrossEntropy, &sign_data(4, 5, 0), 4)
        .expect_err("5 steps for a 7-step model")
        .to_string();
    assert!(e.contains("[5, 2]") && e.contains("[7, 2]"), "{e}");
}

#[test]
fn a_run_time_length_model_trains_on_one_length_and_runs_on_others() {
    let dev = Cpu::seed_from_u64(6);
    let mut m = AnyLengthClassifier::<f32, Cpu>::build(&dev);
    let mut opt = Adam::new(AdamConfig {
        lr: 1e-2,
        ..Default::default()
    })
    .expect("adam");
    let train = sign_data(128, 6, 6);
    let before = evaluate(&m, &SparseCrossEntropy, &train, 64)
        .expect("eval")
        .loss;
    fit(
        &mut m,
        &mut opt,
        &SparseCrossEntropy,
        &train,
        FitConfig::new().epochs(20).batch_size(32).seed(6).silent(),
        &mut [],
    )
    .expect("fit");
    let after = evaluate(&m, &SparseCrossEntropy, &train, 64).expect("eval");
    assert!(after.loss < 0.6 * before, "{before} -> {}", after.loss);
    for steps in [3, 11] {
        let r =
            evaluate(&m, &SparseCrossEntropy, &sign_data(64, steps, 7), 32).expect("any length");
        assert!(r.loss.is_finite());
    }
    // The feature size is fixed: an error names the dimension, expected and got.
    let three = Dataset::with_classes(vec![0.0; 12], &[4, 3], vec![0]).expect("dataset");
    let e = evaluate(&m, &SparseCrossEntropy, &three, 4)
        .expect_err("3 features for a 2-feature model")
        .to_string();
    assert!(e.contains("dimension 2 of size 2, not 3"), "{e}");
}

#[test]
fn run_time_lengths_take_any_number_of_steps() {
    let dev = Cpu::seed_from_u64(5);
    let m = AnyLength::<f32, Cpu>::build(&dev);
    for steps in [1, 3, 9] {
        let x: Tensor<(Const<2>, usize, Const<2>), f32, _> =
            dev.sample_normal_like(&(Const, steps, Const));
        let y: Tensor<(Const<2>, usize, Const<1>), f32, _> = m.forward(x);
        assert_eq!(y.shape().1, steps);
    }
    assert_eq!(<AnyLength as ModelInfo>::INPUT_SHAPE, &[0, 2]);
    let s = AnyLength::<f32, Cpu>::summary().to_string();
    assert!(
        s.contains("input (B, _, 2)") && s.contains("(B, _, 4)"),
        "{s}"
    );
}

/// Builds and runs the recurrent models on device `D` (forwards, a token
/// check, the training forward with a backward pass): the same code for `Cpu`
/// and `Cuda`.
fn run_on<D: Backend<f32> + SampleTensor<f32>>(dev: D) {
    let x: Tensor<Rank3<2, 6, 3>, f32, D> = dev.sample_normal();
    let mut tagger = Tagger::<f32, D>::build(&dev);
    let y: Tensor<Rank3<2, 6, 5>, f32, D> = tagger.forward(x.clone());
    let grads = tagger.alloc_grads();
    let g = tagger.forward_mut(x.traced(grads)).sum().backward();
    assert!(g
        .get(&tagger.lstm.weight_hh)
        .as_vec()
        .iter()
        .any(|v| *v != 0.0));
    assert!(y.as_vec().iter().all(|v| v.is_finite()));
    let x: Tensor<Rank3<2, 4, 3>, f32, D> = dev.sample_normal();
    let _: Tensor<Rank2<2, 3>, f32, D> = BiNet::<f32, D>::build(&dev).forward(x);
    let ids: Tensor<Rank2<1, 6>, usize, D> =
        dev.tensor_from_vec(vec![1, 2, 3, 4, 5, 10], (Const, Const));
    assert!(TokenNet::<f32, D>::build(&dev).try_forward(ids).is_err());
    let x: Tensor<(Const<1>, usize, Const<2>), f32, D> = dev.sample_normal_like(&(Const, 5, Const));
    let y = AnyLength::<f32, D>::build(&dev).forward(x);
    assert_eq!(y.shape().1, 5);
}

#[test]
fn the_models_run_and_train_through_the_generic_device_path() {
    run_on(Cpu::seed_from_u64(9));
}

/// The same on the CUDA device: type-checked by `--features cuda-check`,
/// run with `--features cuda -- --ignored` where a GPU is.
#[cfg(feature = "cuda")]
#[test]
#[ignore = "needs a GPU"]
fn the_models_run_on_cuda() {
    run_on(Cuda::seed_from_u64(9));
}
