//! [`fit`]: the training loop, in the manner of Keras.
//!
//! Per step: gather a mini-batch, build the input tensor on the model's
//! device, run the training forward with a tape (gradients allocated once and
//! zeroed after every step), flatten the output to `(batch, n)`, compute the
//! loss, add the penalty terms the model collected (weighted), stop with
//! [`Error::NonFiniteLoss`] / [`Error::NonFiniteTerm`] on NaN/inf, backpropagate, record
//! per-parameter gradient norms and let the optimizer update the model.
//! That step is the public [`train_step`], so benchmarks (`examples/bench.rs`)
//! time exactly what `fit` runs.
//! Per epoch: mean loss (and, for a model with penalties, the mean of each
//! term), metrics, validation, learning rate, time and gradient norms go
//! into the [`History`]; callbacks may stop the run or change the learning rate.
//!
//! Penalties: a model whose training forward
//! ([`Model::try_forward_mut_penalized`]) collects penalty terms trains on
//! `loss + sum weight * value`; the history's `loss` is that total, and its
//! `terms` hold the data loss under the loss's name and each penalty under
//! its own, unweighted. Validation (`val_loss`) is the data loss of the
//! inference forward only, as for any model: a penalty is a training-mode
//! quantity (a VAE code is sampled only in training), so `val_loss` compares
//! with the data-loss term, not with `loss`. For the penalties over a
//! dataset, see [`evaluate_terms`](crate::train::evaluate_terms).

use std::collections::BTreeMap;
use std::time::Instant;

use dfdx::nn::ZeroGrads;
use dfdx::tensor::{Gradients, Trace};
use dfdx::tensor_ops::{Backward, ReshapeTo};

use crate::backend::Backend;
use crate::data::{Dataset, Targets};
use crate::elem::Elem;
use crate::error::{DeviceResultExt, Error, Result};
use crate::loss::Loss;
use crate::model::{shape_len, Model};
use crate::optim::Optimizer;
use crate::penalty::Penalties;
use crate::train::callbacks::{Callback, Control};
use crate::train::config::{FitConfig, Validation};
use crate::train::forward::{input_tensor, model_device, scalar, target_loss, to_f32};
use crate::train::grad_norms::{gradient_norms, warnings, NormAccumulator};
use crate::train::history::{EpochLogs, History};
use crate::train::infer::{default_metrics, evaluate_with};
use crate::train::metrics::Metric;
use crate::train::progress::Progress;
use crate::train::terms::{check_total, with_penalties, At, TermSums};

/// A learning rate set by a callback (a schedule) must be finite and >= 0
/// (0 is allowed here, unlike in the constructors: cosine annealing ends at
/// its minimum, 0 by default, as in PyTorch).
fn check_callback_lr(lr: f64, epoch: usize) -> Result<()> {
    if lr.is_finite() && lr >= 0.0 {
        Ok(())
    } else {
        Err(Error::config(
            "learning rate",
            lr,
            format!("set by a callback at epoch {epoch}: it must be finite and >= 0"),
        ))
    }
}

/// Trains `model` on `train` with `optimizer` and `loss`.
///
/// Errors (before any step) on `epochs == 0` or `epochs <= initial_epoch`,
/// `batch_size == 0`, an empty dataset, a dataset whose samples or targets do
/// not fit the model's `INPUT_SHAPE` / `OUTPUT_SHAPE` (the element counts
/// must agree; the flat features are read in the model's input shape), or a
/// class label out of range, a NaN/infinite feature or target
/// ([`Error::NonFiniteData`] naming sample and feature; `validation
/// features` for validation data), a learning rate
/// that is not finite and > 0 for the first epoch; during training on a NaN/inf loss
/// ([`Error::NonFiniteLoss`], 1-based epoch and batch), a NaN/inf gradient
/// ([`Error::NonFiniteGradient`], checked when `grad_norms` is on: a ReLU can
/// hide NaN activations from the loss), a device error, a callback's error,
/// or a learning rate set by a callback that is negative or not finite
/// ([`Error::InvalidConfig`]). Returns the [`History`] of the epochs run.
pub fn fit<E, D, M, O, L>(
    model: &mut M,
    optimizer: &mut O,
    loss: &L,
    train: &Dataset,
    config: FitConfig<'_>,
    callbacks: &mut [&mut dyn Callback<E, D, M>],
) -> Result<History>
where
    E: Elem,
    D: Backend<E>,
    M: Model<E, D>,
    O: Optimizer<M, E, D>,
    L: Loss<E, D>,
{
    run(
        model,
        optimizer,
        &LossTrainer(loss),
        train,
        config,
        callbacks,
    )
}

/// What differs between [`fit`] and
/// [`fit_outputs`](crate::train::fit_outputs): the data check, one training
/// step and the validation loss; [`run`] is the loop they share.
pub(crate) trait Trainer<E: Elem, D: Backend<E>, M: Model<E, D>, O> {
    /// The loss's name in the history (`History::loss_name`).
    fn loss_name(&self) -> String;
    /// Checks a dataset's samples and targets against the model.
    fn check_data(&self, data: &Dataset) -> Result<()>;
    /// Whether the steps can return the model's outputs for metrics.
    fn has_predictions(&self) -> bool;
    /// One training step (see [`train_step`]).
    #[allow(clippy::too_many_arguments)]
    fn step(
        &self,
        model: &mut M,
        optimizer: &mut O,
        dev: &D,
        grads: &mut Option<Gradients<E, D>>,
        batch: StepBatch<'_>,
        predictions: bool,
        grad_norms: bool,
    ) -> Result<StepOutput>;
    /// The validation loss and metrics of `model` on `val`.
    fn validate(
        &self,
        model: &M,
        val: &Dataset,
        batch_size: usize,
        metrics: &[Box<dyn Metric>],
    ) -> Result<(f64, BTreeMap<String, f64>)>;
}

/// [`fit`]'s trainer: a [`Loss`] on the model's output plus its penalties.
struct LossTrainer<'a, L>(&'a L);

impl<E, D, M, O, L> Trainer<E, D, M, O> for LossTrainer<'_, L>
where
    E: Elem,
    D: Backend<E>,
    M: Model<E, D>,
    O: Optimizer<M, E, D>,
    L: Loss<E, D>,
{
    fn loss_name(&self) -> String {
        self.0.name().to_string()
    }
    fn check_data(&self, data: &Dataset) -> Result<()> {
        data.check_shapes(M::NAME, M::INPUT_SHAPE, M::OUTPUT_SHAPE)
    }
    fn has_predictions(&self) -> bool {
        true
    }
    fn step(
        &self,
        model: &mut M,
        optimizer: &mut O,
        dev: &D,
        grads: &mut Option<Gradients<E, D>>,
        batch: StepBatch<'_>,
        predictions: bool,
        grad_norms: bool,
    ) -> Result<StepOutput> {
        train_step(
            model,
            optimizer,
            self.0,
            dev,
            grads,
            batch,
            predictions,
            grad_norms,
        )
    }
    fn validate(
        &self,
        model: &M,
        val: &Dataset,
        batch_size: usize,
        metrics: &[Box<dyn Metric>],
    ) -> Result<(f64, BTreeMap<String, f64>)> {
        let e = evaluate_with(model, self.0, val, batch_size, metrics)?;
        Ok((e.loss, e.metrics))
    }
}

/// The training loop of [`fit`] with `trainer`'s steps and validation.
pub(crate) fn run<E, D, M, O, Tr>(
    model: &mut M,
    optimizer: &mut O,
    trainer: &Tr,
    train: &Dataset,
    config: FitConfig<'_>,
    callbacks: &mut [&mut dyn Callback<E, D, M>],
) -> Result<History>
where
    E: Elem,
    D: Backend<E>,
    M: Model<E, D>,
    O: Optimizer<M, E, D>,
    Tr: Trainer<E, D, M, O>,
{
    if config.epochs == 0 {
        return Err(Error::config("epochs", config.epochs, "must be at least 1"));
    }
    if config.epochs <= config.initial_epoch {
        return Err(Error::config(
            "epochs",
            config.epochs,
            format!(
                "must be larger than initial_epoch ({})",
                config.initial_epoch
            ),
        ));
    }
    if config.batch_size == 0 {
        return Err(Error::config(
            "batch size",
            config.batch_size,
            "must be at least 1",
        ));
    }
    if train.is_empty() {
        return Err(Error::data(
            "training dataset",
            "at least 1 sample",
            "it is empty",
        ));
    }

    // Validation data: a separate set, or the tail of the training set.
    let split;
    let (train, val): (&Dataset, Option<&Dataset>) = match config.validation {
        Validation::None => (train, None),
        Validation::Data(v) => (train, Some(v)),
        Validation::Split(f) => {
            split = train.validation_split(f)?;
            (&split.0, Some(&split.1))
        }
    };
    trainer.check_data(train)?;
    train.check_finite()?;
    if let Some(v) = val {
        if v.is_empty() {
            return Err(Error::data(
                "validation dataset",
                "at least 1 sample",
                "it is empty",
            ));
        }
        trainer.check_data(v)?;
        v.check_finite().map_err(|e| match e {
            Error::NonFiniteData {
                input,
                sample,
                feature,
                value,
            } => Error::NonFiniteData {
                input: format!("validation {input}"),
                sample,
                feature,
                value,
            },
            e => e,
        })?;
    }

    let mut metrics: Vec<Box<dyn Metric>> = config.metrics;
    if !trainer.has_predictions() && !metrics.is_empty() {
        return Err(Error::config(
            "metrics",
            metrics.len(),
            "a multi-output objective gives no single output to score; pass no metrics",
        ));
    }
    if trainer.has_predictions()
        && config.auto_accuracy
        && !metrics.iter().any(|m| m.name() == "acc")
    {
        let mut auto = default_metrics(train.targets());
        auto.append(&mut metrics);
        metrics = auto;
    }
    let metric_refs: Vec<&dyn Metric> = metrics.iter().map(|m| m.as_ref()).collect();

    let dev: D = model_device(model);
    let n_out = shape_len(M::OUTPUT_SHAPE);
    let mut progress = Progress::new(config.verbosity, config.epochs);
    let mut history = History {
        loss_name: trainer.loss_name(),
        epochs: Vec::new(),
        stopped_at: None,
    };
    for cb in callbacks.iter_mut() {
        cb.on_train_begin(model, &history)?;
    }

    let mut grads = Some(model.try_alloc_grads().dev()?);
    for epoch in config.initial_epoch + 1..=config.epochs {
        let mut control = Control {
            lr: optimizer.learning_rate(),
            stop: false,
        };
        for cb in callbacks.iter_mut() {
            cb.on_epoch_begin(epoch, history.last(), &mut control)?;
        }
        if control.lr != optimizer.learning_rate() {
            check_callback_lr(control.lr, epoch)?;
            optimizer.set_learning_rate(control.lr)?;
        }
        let lr = optimizer.learning_rate();
        if epoch == config.initial_epoch + 1 && !(lr.is_finite() && lr > 0.0) {
            return Err(Error::config(
                "learning rate",
                lr,
                format!("at the start of training (epoch {epoch}) it must be finite and > 0, else fit would train nothing"),
            ));
        }
        let start = Instant::now();
        progress.epoch_begin(epoch, train.len());

        let shuffle = config.shuffle.then_some((config.seed, epoch - 1));
        let mut loss_sum = 0.0;
        let mut seen = 0usize;
        let mut sums = vec![(0.0f64, 0usize); metrics.len()];
        let mut norms = NormAccumulator::default();
        let mut terms = TermSums::default();
        for (bi, batch) in train.batches(config.batch_size, shuffle)?.enumerate() {
            let b = batch.len();
            let step = trainer.step(
                model,
                optimizer,
                &dev,
                &mut grads,
                StepBatch {
                    features: &batch.features,
                    targets: &batch.targets,
                    epoch,
                    batch: bi + 1,
                },
                !metrics.is_empty(),
                config.grad_norms,
            );
            let step = match step {
                Ok(s) => s,
                Err(e) => {
                    if matches!(
                        e,
                        Error::NonFiniteLoss { .. }
                            | Error::NonFiniteTerm { .. }
                            | Error::NonFiniteGradient { .. }
                    ) {
                        progress.epoch_end_silent();
                    }
                    return Err(e);
                }
            };
            if let Some(pred) = &step.predictions {
                for (m, s) in metrics.iter().zip(sums.iter_mut()) {
                    let (v, c) = m.score(pred, n_out, &batch.targets)?;
                    s.0 += v;
                    s.1 += c;
                }
            }
            if let Some(step_norms) = &step.grad_norms {
                norms.add(step_norms);
            }
            let value = step.loss;
            loss_sum += value * b as f64;
            seen += b;
            terms.add(&step.terms, b);
            progress.batch_end(seen, loss_sum / seen as f64, &terms);
        }

        let (val_loss, val_metrics) = match val {
            Some(v) => {
                // Inference results do not depend on the batch size, so
                // validation runs in batches of at least 128 even for SGD.
                let (l, m) = trainer.validate(&*model, v, config.batch_size.max(128), &metrics)?;
                (Some(l), m)
            }
            None => (None, BTreeMap::new()),
        };
        let grad_norms = norms.means();
        let logs = EpochLogs {
            epoch,
            loss: loss_sum / seen as f64,
            terms: terms.means(),
            metrics: metrics
                .iter()
                .zip(&sums)
                .map(|(m, (v, c))| (m.name(), v / (*c).max(1) as f64))
                .collect(),
            val_loss,
            val_metrics,
            lr,
            elapsed_s: start.elapsed().as_secs_f64(),
            grad_norms,
        };
        progress.epoch_end(&logs, &metric_refs);
        for w in warnings(epoch, &logs.grad_norms) {
            progress.warn(&w);
        }
        let mut control = Control {
            lr: optimizer.learning_rate(),
            stop: false,
        };
        for cb in callbacks.iter_mut() {
            cb.on_epoch_end(model, &logs, &mut control)?;
        }
        if control.lr != optimizer.learning_rate() {
            check_callback_lr(control.lr, epoch)?;
            optimizer.set_learning_rate(control.lr)?;
        }
        history.epochs.push(logs);
        if control.stop {
            history.stopped_at = Some(epoch);
            break;
        }
    }
    for cb in callbacks.iter_mut() {
        cb.on_train_end(model, &history)?;
    }
    Ok(history)
}

/// One mini-batch for [`train_step`]: flat features (sample-major, in the
/// model's input shape), targets, and where it sits in the run (1-based epoch
/// and batch, for error messages).
#[derive(Debug, Clone, Copy)]
pub struct StepBatch<'a> {
    /// `b * input_len` feature values.
    pub features: &'a [f32],
    /// `b` targets.
    pub targets: &'a Targets,
    /// 1-based epoch (for errors).
    pub epoch: usize,
    /// 1-based batch within the epoch (for errors).
    pub batch: usize,
}

/// What one [`train_step`] measured.
#[derive(Debug, Clone, PartialEq)]
pub struct StepOutput {
    /// The batch's mean loss (before the update): with penalties, the total
    /// `data + sum weight * value` that was backpropagated.
    pub loss: f64,
    /// Each named term of the loss, unweighted, when there is more than
    /// one: the data loss under the loss's name, then each penalty the
    /// model collected under its name. Empty for a model without penalties.
    pub terms: Vec<(String, f64)>,
    /// The model's outputs `[b * n_out]` (before the update), when asked for.
    pub predictions: Option<Vec<f32>>,
    /// Per-parameter gradient L2 norms, when asked for.
    pub grad_norms: Option<Vec<(String, f64)>>,
}

/// One training step, exactly as [`fit`] runs it: build the input tensor,
/// training forward with a tape (reusing the zeroed gradients in `grads`),
/// loss plus the weighted penalties the model collected, NaN/inf check,
/// backward, optional gradient norms (with their NaN/inf check), optimizer
/// update, zero the gradients and put them back in `grads`. A model without
/// penalties collects none, and the step is the plain loss's (an empty
/// [`Penalties`] allocates nothing).
/// (On `Cpu`, a program may call [`crate::tune_host_allocator`] once first.)
///
/// Errors: [`Error::NonFiniteLoss`] (the data loss or the total; no update
/// is made), [`Error::NonFiniteTerm`] (a penalty, named; no update is made),
/// [`Error::NonFiniteGradient`] (only with `grad_norms`; no update is made),
/// a device error, or the optimizer's error.
#[allow(clippy::too_many_arguments)]
pub fn train_step<E, D, M, O, L>(
    model: &mut M,
    optimizer: &mut O,
    loss: &L,
    dev: &D,
    grads: &mut Option<Gradients<E, D>>,
    batch: StepBatch<'_>,
    predictions: bool,
    grad_norms: bool,
) -> Result<StepOutput>
where
    E: Elem,
    D: Backend<E>,
    M: Model<E, D>,
    O: Optimizer<M, E, D>,
    L: Loss<E, D>,
{
    let b = batch.targets.len();
    let n_out = shape_len(M::OUTPUT_SHAPE);
    let x = input_tensor::<E, D, M>(dev, batch.features, b)?;
    // No gradient is wanted for the features: kernels may skip it.
    let _input_mark = D::gradient_free_input(&x);
    let g = match grads.take() {
        Some(g) => g,
        None => model.try_alloc_grads().dev()?,
    };
    let mut penalties = Penalties::new();
    let y = model.try_forward_mut_penalized(x.traced(g), &mut penalties)?;
    let pred = predictions.then(|| y.as_vec().into_iter().map(to_f32).collect::<Vec<f32>>());
    let y = y.try_reshape_like(&(b, n_out)).dev()?;
    let l = target_loss(loss, dev, y, batch.targets)?;
    let at = At {
        epoch: batch.epoch,
        batch: batch.batch,
    };
    let (l, value, terms) = if penalties.is_empty() {
        let value = scalar(&l);
        check_total(value, at)?;
        (l, value, Vec::new())
    } else {
        with_penalties(l, loss.name(), penalties, at)?
    };
    let step_norms = backward_and_update(model, optimizer, grads, l, at, grad_norms)?;
    Ok(StepOutput {
        loss: value,
        terms,
        predictions: pred,
        grad_norms: step_norms,
    })
}

/// The end of a training step: backward of `l`, optional gradient norms
/// (with their NaN/inf check, [`Error::NonFiniteGradient`], no update made),
/// optimizer update, zeroed gradients back into `grads`.
pub(crate) fn backward_and_update<E, D, M, O>(
    model: &mut M,
    optimizer: &mut O,
    grads: &mut Option<Gradients<E, D>>,
    l: dfdx::tensor::Tensor<dfdx::shapes::Rank0, E, D, dfdx::tensor::OwnedTape<E, D>>,
    at: At,
    grad_norms: bool,
) -> Result<Option<Vec<(String, f64)>>>
where
    E: Elem,
    D: Backend<E>,
    M: Model<E, D>,
    O: Optimizer<M, E, D>,
{
    let mut g = l.try_backward().dev()?;
    let step_norms = if grad_norms {
        let step_norms = gradient_norms(model, &mut g)?;
        if let Some((name, _)) = step_norms.iter().find(|(_, v)| !v.is_finite()) {
            return Err(Error::NonFiniteGradient {
                epoch: at.epoch,
                batch: at.batch,
                parameter: name.clone(),
            });
        }
        Some(step_norms)
    } else {
        None
    };
    optimizer.step_and_zero(model, &mut g)?;
    *grads = Some(g);
    Ok(step_norms)
}
