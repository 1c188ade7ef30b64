//! [`evaluate_terms`]: a model's training loss over a dataset, term by term
//! (data loss and each penalty), without changing the model.
//!
//! [`evaluate`](crate::train::evaluate) runs the inference forward, where a
//! VAE's code is its mean `mu` and no penalty is collected; the terms a
//! model trains on (a sampled code's KL, a sparsity penalty) are quantities
//! of the training forward. This runs that forward on a copy of the model
//! with no tape, so nothing is learnt and the model's own batch-norm
//! statistics are untouched.

use std::collections::BTreeMap;

use dfdx::tensor::NoneTape;
use dfdx::tensor_ops::ReshapeTo;

use crate::backend::Backend;
use crate::data::Dataset;
use crate::elem::Elem;
use crate::error::{DeviceResultExt, Error, Result};
use crate::loss::Loss;
use crate::model::{shape_len, Model};
use crate::penalty::Penalties;
use crate::train::forward::{input_tensor, model_device, scalar, target_loss};
use crate::train::terms::TermSums;

/// The training loss of a model over a dataset, term by term.
#[derive(Debug, Clone, PartialEq)]
pub struct TermEvaluation {
    /// Mean over the samples of the total `data + sum weight * penalty`.
    pub loss: f64,
    /// Mean of each term, unweighted: the data loss under the loss's name,
    /// each penalty under its own (`code.sparsity_kl`, `encoder.z.kl`).
    pub terms: BTreeMap<String, f64>,
    /// Number of samples evaluated.
    pub samples: usize,
}

/// The mean data loss, each penalty and their weighted total of `model`
/// over `data` in batches of `batch_size`, computed with the training
/// forward ([`Model::try_forward_mut_penalized`]: dropout on, a VAE's code
/// sampled) on a copy of `model`, with no tape: no parameter and no
/// batch-norm statistic of `model` changes. The forward draws its noise
/// (dropout masks, a VAE's `eps`) from the model's device, so it advances
/// that device's random stream as a training step would.
///
/// Errors: an empty dataset, `batch_size == 0`, samples or targets that do
/// not fit the model, NaN/infinite data, a device error.
pub fn evaluate_terms<E, D, M, L>(
    model: &M,
    loss: &L,
    data: &Dataset,
    batch_size: usize,
) -> Result<TermEvaluation>
where
    E: Elem,
    D: Backend<E>,
    M: Model<E, D>,
    L: Loss<E, D>,
{
    if data.is_empty() {
        return Err(Error::data(
            "evaluation dataset",
            "at least 1 sample",
            "it is empty",
        ));
    }
    data.check_shapes(M::NAME, M::INPUT_SHAPE, M::OUTPUT_SHAPE)?;
    data.check_finite()?;
    let dev: D = model_device(model);
    let n_out = shape_len(M::OUTPUT_SHAPE);
    let mut copy = model.clone();
    let mut total = 0.0;
    let mut sums = TermSums::default();
    for batch in data.batches(batch_size, None)? {
        let b = batch.len();
        let x = input_tensor::<E, D, M>(&dev, &batch.features, b)?;
        let mut penalties = Penalties::<E, D, NoneTape>::new();
        let y = copy.try_forward_mut_penalized(x, &mut penalties)?;
        let y = y.try_reshape_like(&(b, n_out)).dev()?;
        let value = scalar(&target_loss(loss, &dev, y, &batch.targets)?);
        let mut terms = vec![(loss.name().to_string(), value)];
        let mut batch_total = value;
        for t in penalties.into_terms() {
            let v = scalar(&t.value);
            batch_total += t.weight * v;
            terms.push((t.name, v));
        }
        total += batch_total * b as f64;
        sums.add(&terms, b);
    }
    Ok(TermEvaluation {
        loss: total / data.len() as f64,
        terms: sums.means(),
        samples: data.len(),
    })
}
