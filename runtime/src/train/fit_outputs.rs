//! [`fit_outputs`]: training a model with several typed outputs
//! ([`MultiOutput`]: a VAE's `mu`, `logvar` and reconstruction, an
//! autoencoder's code and reconstruction) on an [`Objective`], a loss made
//! of named terms over those outputs.
//!
//! The loop, its settings, callbacks and history are [`fit`](crate::train::fit)'s;
//! only the step differs: the training forward returns the outputs struct,
//! the objective pushes its terms, the model's own penalties are added, and
//! the weighted total is backpropagated. The history's `loss` is that total
//! and its `terms` hold each term, unweighted.

use std::collections::BTreeMap;

use dfdx::nn::ZeroGrads;
use dfdx::tensor::{Gradients, NoneTape, Tape, Trace};

use crate::backend::Backend;
use crate::data::{Dataset, Targets};
use crate::elem::Elem;
use crate::error::{DeviceResultExt, Error, Result};
use crate::loss::Target;
use crate::optim::Optimizer;
use crate::outputs::MultiOutput;
use crate::penalty::Penalties;
use crate::train::callbacks::Callback;
use crate::train::config::FitConfig;
use crate::train::fit::{backward_and_update, run, StepBatch, StepOutput, Trainer};
use crate::train::forward::{input_tensor, scalar, to_elem};
use crate::train::history::History;
use crate::train::metrics::Metric;
use crate::train::terms::{total_of_terms, At};

/// A training objective over the typed outputs of a [`MultiOutput`] model.
///
/// Its method is generic over the tape (a closure cannot be), so the same
/// objective serves the training step (outputs carrying the tape) and
/// validation (no tape).
///
/// In a training forward each output carries an empty tape of its own and
/// the forward's operations are held by the model's [`Penalties`]
/// collector ([`Penalties::attach_tape`]); the step joins them to the total
/// of the terms, so terms over any subset of the outputs reach every layer
/// before those outputs.
///
/// ```ignore
/// struct Elbo;
/// impl<E: Elem, D: Backend<E>> Objective<E, D, Vae<E, D>> for Elbo {
///     fn name(&self) -> String { "elbo".into() }
///     fn terms<T: Tape<E, D>>(&self, out: VaeOutputs<usize, E, D, T>,
///         target: &Target<'_, E, D>, terms: &mut Penalties<E, D, T>) -> Result<()> {
///         let recon = out.recon.try_reshape_like(&(n, 784)).dev()?;
///         terms.push("bce_sum", 1.0, Bce.summed().try_loss(recon, target)?);
///         Ok(())
///     }
/// }
/// ```
pub trait Objective<E: Elem, D: Backend<E>, M: MultiOutput<E, D>> {
    /// The name of the objective's total in the history (`"elbo"`).
    fn name(&self) -> String;

    /// Pushes the objective's named terms of one batch into `terms`, each
    /// with its weight in the total: `outputs` are the model's outputs,
    /// `target` the batch's targets on the device (the inputs themselves
    /// for an autoencoder trained on a dataset whose targets are its
    /// features). Errors: the losses' errors (a target of the wrong shape).
    fn terms<T: Tape<E, D>>(
        &self,
        outputs: M::Outputs<usize, T>,
        target: &Target<'_, E, D>,
        terms: &mut Penalties<E, D, T>,
    ) -> Result<()>;
}

/// Calls `f` with a batch's host targets as a device [`Target`].
fn with_target<E: Elem, D: Backend<E>, R>(
    dev: &D,
    targets: &Targets,
    f: impl FnOnce(&Target<'_, E, D>) -> Result<R>,
) -> Result<R> {
    match targets {
        Targets::Values { width, data } => {
            let t: Vec<E> = data.iter().map(|&v| to_elem(v)).collect();
            let t = dev.try_tensor_from_vec(t, (targets.len(), *width)).dev()?;
            f(&Target::Values(&t))
        }
        Targets::Classes(labels) => f(&Target::Classes(labels)),
        Targets::StepClasses { .. } => Err(Error::data(
            "fit_outputs targets",
            "values or one class per sample",
            "one class per time step",
        )),
    }
}

/// Trains `model` on `train` with `optimizer` to minimise `objective`, with
/// [`fit`](crate::train::fit)'s loop, settings and callbacks.
///
/// Per step: the training forward with a tape returns the outputs
/// ([`MultiOutput::try_forward_outputs_mut`]), `objective` pushes its terms,
/// the model's penalties are added, and `sum weight * value` is
/// backpropagated. The history's `loss_name` is the objective's name,
/// `loss` the weighted total and `terms` each term unweighted (objective's
/// first, then the penalties). Validation (`val_loss`) is the objective's
/// weighted total on the inference forward
/// ([`MultiOutput::try_forward_outputs`]), without the model's penalties.
///
/// Errors: those of `fit` (settings, data, NaN/inf, callbacks), plus
/// [`Error::InvalidConfig`] when `config.metrics` is not empty (there is no
/// single output to score; `auto_accuracy` is ignored) or the objective
/// pushes no term, [`Error::NonFiniteTerm`] naming a NaN/inf term, and
/// [`Error::DataFormat`] for per-step class targets. Samples must fit the
/// model's input; targets are the objective's to check.
pub fn fit_outputs<E, D, M, O, J>(
    model: &mut M,
    optimizer: &mut O,
    objective: &J,
    train: &Dataset,
    config: FitConfig<'_>,
    callbacks: &mut [&mut dyn Callback<E, D, M>],
) -> Result<History>
where
    E: Elem,
    D: Backend<E>,
    M: MultiOutput<E, D>,
    O: Optimizer<M, E, D>,
    J: Objective<E, D, M>,
{
    run(
        model,
        optimizer,
        &ObjectiveTrainer(objective),
        train,
        config,
        callbacks,
    )
}

/// One training step of [`fit_outputs`]: forward, objective terms, the
/// model's penalties, NaN/inf checks, backward, optional gradient norms,
/// optimizer update (as [`train_step`](crate::train::train_step) does for a loss).
///
/// Errors: [`Error::NonFiniteTerm`] / [`Error::NonFiniteLoss`] (no update
/// is made), [`Error::NonFiniteGradient`] (with `grad_norms`), the
/// objective's, the optimizer's or a device error.
pub fn train_outputs_step<E, D, M, O, J>(
    model: &mut M,
    optimizer: &mut O,
    objective: &J,
    dev: &D,
    grads: &mut Option<Gradients<E, D>>,
    batch: StepBatch<'_>,
    grad_norms: bool,
) -> Result<StepOutput>
where
    E: Elem,
    D: Backend<E>,
    M: MultiOutput<E, D>,
    O: Optimizer<M, E, D>,
    J: Objective<E, D, M>,
{
    let b = batch.targets.len();
    let x = input_tensor::<E, D, M>(dev, batch.features, b)?;
    let g = match grads.take() {
        Some(g) => g,
        None => model.try_alloc_grads().dev()?,
    };
    let mut penalties = Penalties::new();
    let outputs = model.try_forward_outputs_mut(x.traced(g), &mut penalties)?;
    let mut terms = Penalties::new();
    with_target(dev, batch.targets, |t| {
        objective.terms(outputs, t, &mut terms)
    })?;
    let at = At {
        epoch: batch.epoch,
        batch: batch.batch,
    };
    let (total, value, logged) = total_of_terms(terms, penalties, at)?;
    let norms = backward_and_update(model, optimizer, grads, total, at, grad_norms)?;
    Ok(StepOutput {
        loss: value,
        terms: logged,
        predictions: None,
        grad_norms: norms,
    })
}

/// [`fit_outputs`]'s trainer.
struct ObjectiveTrainer<'a, J>(&'a J);

impl<E, D, M, O, J> Trainer<E, D, M, O> for ObjectiveTrainer<'_, J>
where
    E: Elem,
    D: Backend<E>,
    M: MultiOutput<E, D>,
    O: Optimizer<M, E, D>,
    J: Objective<E, D, M>,
{
    fn loss_name(&self) -> String {
        self.0.name()
    }
    fn check_data(&self, data: &Dataset) -> Result<()> {
        // Only the samples are the model's; any value width or label fits.
        let out = match data.targets() {
            Targets::Values { width, .. } => *width,
            _ => usize::MAX,
        };
        data.check_shapes(M::NAME, M::INPUT_SHAPE, &[out])
    }
    fn has_predictions(&self) -> bool {
        false
    }
    fn step(
        &self,
        model: &mut M,
        optimizer: &mut O,
        dev: &D,
        grads: &mut Option<Gradients<E, D>>,
        batch: StepBatch<'_>,
        _predictions: bool,
        grad_norms: bool,
    ) -> Result<StepOutput> {
        train_outputs_step(model, optimizer, self.0, dev, grads, batch, grad_norms)
    }
    fn validate(
        &self,
        model: &M,
        val: &Dataset,
        batch_size: usize,
        _metrics: &[Box<dyn Metric>],
    ) -> Result<(f64, BTreeMap<String, f64>)> {
        let dev: D = crate::train::forward::model_device(model);
        let mut sum = 0.0;
        for batch in val.batches(batch_size, None)? {
            let b = batch.len();
            let x = input_tensor::<E, D, M>(&dev, &batch.features, b)?;
            let outputs = model.try_forward_outputs(x)?;
            let mut terms = Penalties::<E, D, NoneTape>::new();
            with_target(&dev, &batch.targets, |t| {
                self.0.terms(outputs, t, &mut terms)
            })?;
            let batch_total: f64 = terms
                .into_terms()
                .into_iter()
                .map(|t| t.weight * scalar(&t.value))
                .sum();
            sum += batch_total * b as f64;
        }
        Ok((sum / val.len().max(1) as f64, BTreeMap::new()))
    }
}
