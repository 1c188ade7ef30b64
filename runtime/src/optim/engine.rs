//! The machinery every optimizer shares: walking a model's trainable tensors
//! with dfdx's visitor API, keeping per-parameter state keyed by the
//! parameter's path (`"fc1.weight"`), applying L2 weight decay and gradient
//! clipping, and exporting/importing that state for resumed training.
//!
//! An optimizer only supplies an [`UpdateRule`]: the element-wise formula
//! from the lecture, written twice:
//! * [`UpdateRule::update`], with dfdx tensor ops on the flattened parameter:
//!   the generic path, used on every device (`Cuda` included);
//! * [`UpdateRule::update_host`], one fused loop over host slices: the `Cpu`
//!   fast path (dfdx's CPU binary ops cost ~2 ns per element each, so Adam
//!   as a dozen tensor ops is ~10x slower than one loop). It is chosen at run
//!   time when `D` is `Cpu` and can be switched off per optimizer
//!   (`set_cpu_fast_path(false)`); tests run both paths against each other
//!   and against the fixtures.

use std::any::TypeId;
use std::collections::BTreeMap;

use dfdx::nn::tensor_collection::{
    RecursiveWalker, TensorCollection, TensorOptions, TensorVisitor, ViewTensorMut, ViewTensorName,
    ViewTensorRef,
};
use dfdx::optim::{Sgd as DfdxSgd, UnusedTensors};
use dfdx::prelude::*;

use super::clip::Clip;
use super::OptimizerState;
use crate::elem::{cast, Elem};
use crate::error::{DeviceResultExt, Error, Result};

/// A flattened parameter or state tensor.
pub(crate) type Flat<E, D> = Tensor<(usize,), E, D>;

/// The state one parameter carries between steps.
pub(crate) struct Slots<E: Elem, D: Device<E>> {
    /// Number of updates applied to this parameter (1 during the first update).
    pub step: u64,
    /// Moment tensors, in the order of [`UpdateRule::tensor_slots`]
    /// (generic path; empty while the state lives in `host`).
    pub tensors: Vec<Flat<E, D>>,
    /// The same moments in host memory (`Cpu` fast path; empty otherwise).
    pub host: Vec<Vec<E>>,
    /// Scalar state, in the order of [`UpdateRule::SCALARS`].
    pub scalars: Vec<f64>,
}

/// What [`UpdateRule::update_host`] works on: one parameter's state in host memory.
pub(crate) struct HostSlots<'a, E> {
    /// As [`Slots::step`].
    pub step: u64,
    /// Moments, in the order of [`UpdateRule::tensor_slots`].
    pub tensors: &'a mut [Vec<E>],
    /// As [`Slots::scalars`].
    pub scalars: &'a mut [f64],
}

/// The per-element formula of one optimizer.
pub(crate) trait UpdateRule<E: Elem, D: Device<E>> {
    /// Name stored in exported state, checked on import.
    const NAME: &'static str;
    /// Names of the per-parameter state tensors (same size as the parameter).
    fn tensor_slots(&self) -> &'static [&'static str];
    /// Names and initial values of per-parameter scalar state.
    const SCALARS: &'static [(&'static str, f64)] = &[];

    /// Initial value of every element of state tensor `slot` (0 unless overridden).
    fn init_value(&self, _slot: usize) -> f64 {
        0.0
    }

    /// The L2 weight-decay coefficient added to the gradient (`g += wd * theta`)
    /// before [`UpdateRule::update`]; 0 for none or for decoupled decay.
    fn l2_weight_decay(&self) -> f64;

    /// Gradient clipping applied before weight decay.
    fn clip(&self) -> Option<Clip>;

    /// Returns the new parameter value. `s.step` is already incremented.
    fn update(
        &self,
        p: Flat<E, D>,
        g: Flat<E, D>,
        s: &mut Slots<E, D>,
    ) -> Result<Flat<E, D>, D::Err>;

    /// The same update in place on host memory (the `Cpu` fast path);
    /// `g` already has clipping and L2 weight decay applied.
    fn update_host(&self, s: HostSlots<'_, E>, p: &mut [E], g: &[E]);
}

/// Saved state not yet matched to a parameter (after an import, until the
/// parameter is next visited and its device is known).
struct Pending {
    step: u64,
    tensors: Vec<Vec<f64>>,
    scalars: Vec<f64>,
}

/// Per-parameter optimizer state keyed by parameter path.
pub(crate) struct ParamStates<E: Elem, D: Device<E>> {
    live: BTreeMap<String, Slots<E, D>>,
    pending: BTreeMap<String, Pending>,
    /// Use the host-memory fast path when `D` is `Cpu` (default true).
    pub cpu_fast_path: bool,
}

impl<E: Elem, D: Device<E>> Default for ParamStates<E, D> {
    fn default() -> Self {
        Self {
            live: BTreeMap::new(),
            pending: BTreeMap::new(),
            cpu_fast_path: true,
        }
    }
}

fn to_f64<E: Elem>(v: E) -> f64 {
    num_traits::cast::<E, f64>(v).unwrap_or(f64::NAN)
}

impl<E: Elem, D: Device<E>> Slots<E, D> {
    /// Moves the moments to host memory (`host == true`) or to tensors.
    fn place(&mut self, host: bool, like: &Flat<E, D>) -> Result<()> {
        if host && !self.tensors.is_empty() {
            self.host = self.tensors.drain(..).map(|t| t.as_vec()).collect();
        } else if !host && !self.host.is_empty() {
            let n = like.shape().0;
            for data in self.host.drain(..) {
                self.tensors
                    .push(like.device().try_tensor_from_vec(data, (n,)).dev()?);
            }
        }
        Ok(())
    }
}

impl<E: Elem, D: Device<E>> ParamStates<E, D> {
    /// The live state of `name`, materialising imported or fresh state, with
    /// its moments in host memory (`host`) or in tensors.
    fn slots_for<R: UpdateRule<E, D>>(
        &mut self,
        rule: &R,
        name: &str,
        p: &Flat<E, D>,
        host: bool,
    ) -> Result<&mut Slots<E, D>> {
        let n = p.shape().0;
        if !self.live.contains_key(name) {
            if let Some(saved) = self.pending.get(name) {
                // Checked before the state is taken, so a failed step leaves it in place.
                for (slot, data) in rule.tensor_slots().iter().zip(&saved.tensors) {
                    if data.len() != n {
                        return Err(Error::Shape {
                            what: format!("optimizer state {name}/{slot}"),
                            expected: vec![n],
                            got: vec![data.len()],
                        });
                    }
                }
            }
            let (step, data, scalars) = match self.pending.remove(name) {
                Some(saved) => (saved.step, saved.tensors, saved.scalars),
                None => (
                    0,
                    (0..rule.tensor_slots().len())
                        .map(|slot| vec![rule.init_value(slot); n])
                        .collect(),
                    R::SCALARS.iter().map(|(_, v)| *v).collect(),
                ),
            };
            let host_data: Vec<Vec<E>> = data
                .into_iter()
                .map(|d| d.into_iter().map(cast::<E>).collect())
                .collect();
            let mut slots = Slots {
                step,
                tensors: Vec::new(),
                host: host_data,
                scalars,
            };
            slots.place(host, p)?;
            self.live.insert(name.to_string(), slots);
        }
        let slots = self.live.get_mut(name).expect("inserted above");
        slots.place(host, p)?;
        if slots.tensors.iter().any(|t| t.shape().0 != n) || slots.host.iter().any(|h| h.len() != n)
        {
            return Err(Error::Shape {
                what: format!("optimizer state of {name}"),
                expected: vec![n],
                got: vec![slots
                    .host
                    .first()
                    .map(|h| h.len())
                    .or(slots.tensors.first().map(|t| t.shape().0))
                    .unwrap_or(0)],
            });
        }
        Ok(slots)
    }

    /// Copies the state to host memory.
    pub fn export<R: UpdateRule<E, D>>(&self, rule: &R, lr: f64) -> OptimizerState {
        let mut out = OptimizerState {
            optimizer: R::NAME.to_string(),
            lr,
            ..Default::default()
        };
        for (name, s) in &self.pending {
            out.steps.insert(name.clone(), s.step);
            for (slot, data) in rule.tensor_slots().iter().zip(&s.tensors) {
                out.tensors.insert(format!("{name}/{slot}"), data.clone());
            }
            for ((slot, _), v) in R::SCALARS.iter().zip(&s.scalars) {
                out.scalars.insert(format!("{name}/{slot}"), *v);
            }
        }
        for (name, s) in &self.live {
            out.steps.insert(name.clone(), s.step);
            for (slot, t) in rule.tensor_slots().iter().zip(&s.tensors) {
                let data = t.as_vec().into_iter().map(to_f64).collect();
                out.tensors.insert(format!("{name}/{slot}"), data);
            }
            for (slot, h) in rule.tensor_slots().iter().zip(&s.host) {
                let data = h.iter().copied().map(to_f64).collect();
                out.tensors.insert(format!("{name}/{slot}"), data);
            }
            for ((slot, _), v) in R::SCALARS.iter().zip(&s.scalars) {
                out.scalars.insert(format!("{name}/{slot}"), *v);
            }
        }
        out
    }

    /// Replaces the state with `state` (validated against the rule's slots;
    /// sizes are checked when each parameter is next updated).
    pub fn import<R: UpdateRule<E, D>>(&mut self, rule: &R, state: &OptimizerState) -> Result<()> {
        if state.optimizer != R::NAME {
            return Err(Error::data(
                "optimizer state",
                format!("state of `{}`", R::NAME),
                format!("state of `{}`", state.optimizer),
            ));
        }
        let mut pending = BTreeMap::new();
        for (name, &step) in &state.steps {
            let mut tensors = Vec::new();
            for slot in rule.tensor_slots() {
                let key = format!("{name}/{slot}");
                let data = state.tensors.get(&key).ok_or_else(|| {
                    Error::data("optimizer state", format!("tensor `{key}`"), "none")
                })?;
                tensors.push(data.clone());
            }
            let mut scalars = Vec::new();
            for (slot, _) in R::SCALARS {
                let key = format!("{name}/{slot}");
                let v = state.scalars.get(&key).ok_or_else(|| {
                    Error::data("optimizer state", format!("scalar `{key}`"), "none")
                })?;
                scalars.push(*v);
            }
            pending.insert(
                name.clone(),
                Pending {
                    step,
                    tensors,
                    scalars,
                },
            );
        }
        self.live.clear();
        self.pending = pending;
        Ok(())
    }
}

/// Whether `grads` holds a gradient for `p` (`opts` are `p`'s options from
/// the visitor; consumed because dfdx's options are neither `Clone` nor
/// constructible for run-time shapes).
///
/// dfdx 0.13 has no public membership test on `Gradients`; its own SGD
/// visitor reports a tensor without a gradient as unused, so we run it, with
/// a learning rate of 0, on a throw-away copy of the parameter (same id).
pub(crate) fn has_grad<S: Shape, E: Elem, D: Device<E>>(
    opts: TensorOptions<S, E, D>,
    p: &Tensor<S, E, D>,
    grads: &Gradients<E, D>,
) -> Result<bool> {
    let mut probe = p.clone();
    let mut sgd = DfdxSgd::<(), E, D>::new(
        &(),
        SgdConfig {
            lr: 0.0,
            momentum: None,
            weight_decay: None,
        },
    );
    let mut visitor = (&mut sgd, grads, UnusedTensors::default());
    TensorVisitor::visit(&mut visitor, opts, &mut probe).dev()?;
    Ok(visitor.2.is_empty())
}

/// Replaces the gradient of `p` in `grads` by `value` (same shape), on any
/// device: dfdx exposes no public write access to a gradient buffer, so the
/// buffer is produced by back-propagating `sum(p * value)` (whose gradient
/// with respect to `p` is exactly `value`) and swapped in.
pub(crate) fn set_grad<S: Shape, E: Elem, D: Device<E>>(
    grads: &mut Gradients<E, D>,
    p: &Tensor<S, E, D>,
    value: Tensor<S, E, D>,
) -> Result<()> {
    let traced = p.retaped::<OwnedTape<E, D>>();
    let mut tmp = traced
        .try_mul(value)
        .dev()?
        .try_sum::<Rank0, _>()
        .dev()?
        .try_backward()
        .dev()?;
    std::mem::swap(
        grads.get_or_alloc_mut(p).dev()?,
        tmp.get_or_alloc_mut(p).dev()?,
    );
    Ok(())
}

/// Visitor computing the sum of squared gradient elements, total and per parameter.
struct SquaredNorms<'a, E: Elem, D: Device<E>> {
    grads: &'a Gradients<E, D>,
    per_tensor: BTreeMap<String, f64>,
}

impl<E: Elem, D: Device<E>> TensorVisitor<E, D> for SquaredNorms<'_, E, D> {
    type Viewer = (ViewTensorRef, ViewTensorName);
    type Err = Error;
    type E2 = E;
    type D2 = D;

    fn visit<S: Shape>(
        &mut self,
        opts: TensorOptions<S, E, D>,
        (p, name): (&Tensor<S, E, D>, String),
    ) -> Result<Option<Tensor<S, E, D>>> {
        if !opts.do_gradient_update || !has_grad(opts, p, self.grads)? {
            return Ok(None);
        }
        let g = self.grads.get(p);
        let sq = g.try_square().dev()?.try_sum::<Rank0, _>().dev()?.as_vec()[0];
        let sq = num_traits::cast::<E, f64>(sq).unwrap_or(f64::NAN);
        self.per_tensor.insert(name, sq);
        Ok(None)
    }
}

/// Sum of squared gradient elements for each trainable parameter with a gradient.
pub(crate) fn squared_grad_norms<M: TensorCollection<E, D>, E: Elem, D: Device<E>>(
    model: &M,
    grads: &Gradients<E, D>,
) -> Result<BTreeMap<String, f64>> {
    let mut v = SquaredNorms {
        grads,
        per_tensor: BTreeMap::new(),
    };
    M::iter_tensors(&mut RecursiveWalker {
        m: (model, String::new()),
        f: &mut v,
    })?;
    Ok(v.per_tensor)
}

/// What to do to each gradient before the update rule sees it.
#[derive(Clone, Copy)]
enum GradPrep {
    None,
    Scale(f64),
    Clamp(f64),
}

/// Visitor applying one optimizer step to every trainable tensor.
struct StepVisitor<'a, R, E: Elem, D: Device<E>> {
    rule: &'a R,
    prep: GradPrep,
    grads: &'a Gradients<E, D>,
    states: &'a mut ParamStates<E, D>,
}

impl<R: UpdateRule<E, D>, E: Elem, D: Device<E>> TensorVisitor<E, D> for StepVisitor<'_, R, E, D> {
    type Viewer = (ViewTensorMut, ViewTensorName);
    type Err = Error;
    type E2 = E;
    type D2 = D;

    fn visit<S: Shape>(
        &mut self,
        opts: TensorOptions<S, E, D>,
        (p, name): (&mut Tensor<S, E, D>, String),
    ) -> Result<Option<Tensor<S, E, D>>> {
        if !opts.do_gradient_update || !has_grad(opts, p, self.grads)? {
            return Ok(None);
        }
        let shape = *p.shape();
        let n = shape.num_elements();
        let wd = self.rule.l2_weight_decay();
        let host = self.states.cpu_fast_path && TypeId::of::<D>() == TypeId::of::<Cpu>();
        let flat = p.clone().try_reshape_like(&(n,)).dev()?;
        let slots = self.states.slots_for(self.rule, &name, &flat, host)?;
        slots.step += 1;
        if host {
            // Cpu fast path: one fused loop over host copies; the parameter
            // is written back in place (so it keeps its id).
            drop(flat);
            let mut ph = vec![E::zero(); n];
            p.copy_into(&mut ph);
            let mut gh = vec![E::zero(); n];
            self.grads.get(&*p).copy_into(&mut gh);
            let wd_e = cast::<E>(wd);
            match self.prep {
                GradPrep::None => {}
                GradPrep::Scale(c) => {
                    let c = cast::<E>(c);
                    gh.iter_mut().for_each(|g| *g *= c);
                }
                GradPrep::Clamp(c) => {
                    let (lo, hi) = (cast::<E>(-c), cast::<E>(c));
                    // NaN stays NaN (as in PyTorch), so clipping cannot hide it.
                    gh.iter_mut()
                        .filter(|g| !g.is_nan())
                        .for_each(|g| *g = g.max(lo).min(hi));
                }
            }
            if wd != 0.0 {
                for (g, &p) in gh.iter_mut().zip(&ph) {
                    *g += wd_e * p;
                }
            }
            let host_slots = HostSlots {
                step: slots.step,
                tensors: &mut slots.host,
                scalars: &mut slots.scalars,
            };
            self.rule.update_host(host_slots, &mut ph, &gh);
            p.copy_from(&ph);
            return Ok(None);
        }
        let mut g = self.grads.get(&*p).try_reshape_like(&(n,)).dev()?;
        match self.prep {
            GradPrep::None => {}
            GradPrep::Scale(c) => g = g.try_mul(cast::<E>(c)).dev()?,
            GradPrep::Clamp(c) => g = g.try_clamp(-c, c).dev()?,
        }
        if wd != 0.0 {
            g = g
                .try_add(flat.clone().try_mul(cast::<E>(wd)).dev()?)
                .dev()?;
        }
        let new = self.rule.update(flat, g, slots).dev()?;
        let new = new.try_reshape_like(&shape).dev()?;
        // In place, so the parameter keeps its id (and its entry in
        // pre-allocated gradients): p = 0 * p + 1 * new.
        p.try_axpy(0.0, &new, 1.0).dev()?;
        Ok(None)
    }
}

/// One optimizer step: clipping, L2 weight decay, the rule, for every
/// trainable tensor of `model` that has a gradient.
pub(crate) fn step<M: TensorCollection<E, D>, E: Elem, D: Device<E>, R: UpdateRule<E, D>>(
    rule: &R,
    states: &mut ParamStates<E, D>,
    model: &mut M,
    grads: &Gradients<E, D>,
) -> Result<()> {
    let prep = match rule.clip() {
        None => GradPrep::None,
        Some(Clip::Value(c)) => GradPrep::Clamp(c),
        Some(Clip::Norm(max_norm)) => {
            let total: f64 = squared_grad_norms(model, grads)?
                .values()
                .sum::<f64>()
                .sqrt();
            let coef = max_norm / (total + 1e-6);
            if coef < 1.0 {
                GradPrep::Scale(coef)
            } else {
                GradPrep::None
            }
        }
    };
    let mut v = StepVisitor {
        rule,
        prep,
        grads,
        states,
    };
    M::iter_tensors(&mut RecursiveWalker {
        m: (model, String::new()),
        f: &mut v,
    })?;
    Ok(())
}

/// Validates a learning rate given to [`Optimizer::set_learning_rate`]
/// (schedules, callbacks, user code): finite and >= 0. Zero is allowed
/// because schedules end there (cosine annealing to `eta_min = 0`, as in
/// PyTorch); `fit` refuses to *start* with 0 (see `fit`'s docs).
///
/// [`Optimizer::set_learning_rate`]: super::Optimizer::set_learning_rate
pub(crate) fn check_set_lr(lr: f64) -> Result<()> {
    check(
        lr.is_finite() && lr >= 0.0,
        "learning rate",
        lr,
        "set by Optimizer::set_learning_rate: must be finite and >= 0",
    )
}

/// Checks a hyper-parameter, returning [`Error::InvalidConfig`] naming it.
pub(crate) fn check(ok: bool, what: &str, value: f64, rule: &str) -> Result<()> {
    if ok {
        Ok(())
    } else {
        Err(Error::config(what, value, rule))
    }
}

/// Validates a learning rate (finite, > 0).
pub(crate) fn check_lr(lr: f64) -> Result<()> {
    check(
        lr.is_finite() && lr > 0.0,
        "learning rate",
        lr,
        "must be finite and > 0",
    )
}

/// Validates a coefficient that must lie in `[0, 1)`.
pub(crate) fn check_unit(what: &str, v: f64) -> Result<()> {
    check((0.0..1.0).contains(&v), what, v, "must be in [0, 1)")
}

/// Validates a non-negative finite coefficient.
pub(crate) fn check_nonneg(what: &str, v: f64) -> Result<()> {
    check(
        v.is_finite() && v >= 0.0,
        what,
        v,
        "must be finite and >= 0",
    )
}

/// Validates an optional clipping setting.
pub(crate) fn check_clip(clip: Option<Clip>) -> Result<()> {
    match clip {
        None => Ok(()),
        Some(Clip::Norm(v)) => check(
            v.is_finite() && v > 0.0,
            "clip max_norm",
            v,
            "must be finite and > 0",
        ),
        Some(Clip::Value(v)) => check(
            v.is_finite() && v > 0.0,
            "clip value",
            v,
            "must be finite and > 0",
        ),
    }
}
