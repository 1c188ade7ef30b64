//! `M: Model<f32, Cpu>` is all a generic function writes to build, run,
//! train, evaluate, predict and checkpoint a model.
use sxima::prelude::*;

model! {
    pub Tiny(input: [4]) {
        fc1: Dense(8),
        ReLU,
        fc2: Dense(3),
    }
}

fn train<M: Model<f32, Cpu>>(dev: &Cpu, data: &Dataset) -> sxima::Result<M> {
    // Plain `M::build` is not ambiguous with dfdx's `BuildModule::build`.
    let mut model = M::build(dev);
    let mut opt = Sgd::new(SgdConfig {
        lr: 0.1,
        ..Default::default()
    })?;
    let config = FitConfig::new()
        .epochs(2)
        .batch_size(4)
        .verbosity(sxima::train::Verbosity::Silent);
    let history = fit(&mut model, &mut opt, &SparseCrossEntropy, data, config, &mut [])?;
    assert_eq!(history.epochs.len(), 2);
    let eval = evaluate(&model, &SparseCrossEntropy, data, 4)?;
    assert!(eval.loss.is_finite());
    let out = predict(&model, data.features(), 4)?;
    assert_eq!(out.len(), data.len());

    // The forwards, over the model's own shapes, any batch size and tape.
    let x = dev.zeros_like(&M::input_shape(5usize));
    let y = model.try_forward(x.clone())?;
    assert_eq!(y.shape().concrete().as_ref()[0], 5);
    let grads = model.alloc_grads();
    let _y = model.try_forward_mut(x.traced(grads))?;

    // Checkpoints round-trip through the same bound.
    let path = std::env::temp_dir().join(format!("sxima_generic_bound_{}.st", std::process::id()));
    sxima::train::checkpoint::save(&model, &path)?;
    let mut fresh = M::try_build(dev)?;
    sxima::train::checkpoint::load(&mut fresh, &path)?;
    let _ = std::fs::remove_file(&path);
    Ok(fresh)
}

fn main() {
    let features: Vec<f32> = (0..32).map(|i| (i % 7) as f32 / 7.0).collect();
    let labels: Vec<usize> = (0..8).map(|i| i % 3).collect();
    let data = Dataset::new(features, &[4], Targets::Classes(labels)).expect("dataset");
    let dev = Cpu::seed_from_u64(0);
    let model: Tiny = train(&dev, &data).expect("trains");
    let _ = model;
}
