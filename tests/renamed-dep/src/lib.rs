//! A crate that depends on sxima under another name (`nn = { package =
//! "sxima", .. }`): the code `model!` generates must find sxima through the
//! macro's `$crate`, never through a hard-coded `::sxima`.

use nn::prelude::*;

model! {
    /// Declared through the prelude's `model!`.
    pub Encoder(input: [1, 8, 8]) {
        conv: Conv2d(4, kernel = 3),
        ReLU,
        Flatten,
    }
}

nn::model! {
    /// Declared through the crate path, using `Encoder` as a layer.
    pub Classifier(input: [1, 8, 8]) {
        enc: Encoder -> [144],
        fc: Dense(3),
    }
}

/// Trains a `Classifier` for one epoch on `data` and returns it with its loss.
pub fn train_one_epoch(data: &Dataset, seed: u64) -> nn::Result<(Classifier, f64)> {
    let dev = Cpu::seed_from_u64(seed);
    let mut model = Classifier::<f32, Cpu>::build(&dev);
    let mut opt = Sgd::new(SgdConfig {
        lr: 0.05,
        ..Default::default()
    })?;
    let config = FitConfig::new()
        .epochs(1)
        .batch_size(4)
        .verbosity(nn::train::Verbosity::Silent);
    let history = fit(
        &mut model,
        &mut opt,
        &SparseCrossEntropy,
        data,
        config,
        &mut [],
    )?;
    let loss = history.last().map_or(f64::NAN, |e| e.loss);
    Ok((model, loss))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn models_declared_under_a_renamed_dependency_build_run_and_train() {
        const P: usize = <Classifier as ModelInfo>::PARAM_COUNT;
        assert_eq!(P, (4 * 9 + 4) + (144 * 3 + 3));
        assert_eq!(<Encoder as ModelInfo>::OUTPUT_SHAPE, &[144]);

        let features: Vec<f32> = (0..8 * 64).map(|i| ((i * 37) % 11) as f32 / 11.0).collect();
        let labels: Vec<usize> = (0..8).map(|i| i % 3).collect();
        let data = Dataset::new(features, &[1, 8, 8], Targets::Classes(labels)).expect("dataset");
        let (model, loss) = train_one_epoch(&data, 7).expect("trains");
        assert!(loss.is_finite(), "loss {loss}");

        let dev = Cpu::default();
        let x: Tensor<Rank4<2, 1, 8, 8>, f32, Cpu> = dev.ones();
        let y: Tensor<Rank2<2, 3>, f32, Cpu> = model.forward(x.clone());
        let y2 = model.try_forward(x).expect("forward");
        assert_eq!(y.array(), y2.array());
        assert!(y.array().iter().flatten().all(|v| v.is_finite()));
    }
}
