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
//!   as a dozen tensor ops is ~10x slower than one loop). The device chooses
//!   it ([`Backend::HOST_OPTIMIZER`], `true` for `Cpu`); it can be switched off per optimizer
//!   (`set_cpu_fast_path(false)`); tests run both paths against each other
//!   and against the fixtures.

use std::collections::BTreeMap;

use dfdx::nn::tensor_collection::{
    RecursiveWalker, TensorCollection, TensorOptions, TensorVisitor, ViewTensorMut, ViewTensorName,
};
use dfdx::prelude::*;

use super::clip::Clip;
use super::grads::{has_grad, sq_norms, GradsRef};
use super::OptimizerState;
use crate::backend::Backend;
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

/// What [`UpdateRule::update_host`] works on: one parameter's state in host
/// memory, or the same elements of it as the parameter piece it is given.
pub(crate) struct HostSlots<'a, 'b, E> {
    /// As [`Slots::step`].
    pub step: u64,
    /// Moments, in the order of [`UpdateRule::tensor_slots`].
    pub tensors: &'a mut [&'b mut [E]],
    /// As [`Slots::scalars`].
    pub scalars: &'a mut [f64],
}

/// The per-element formula of one optimizer.
pub(crate) trait UpdateRule<E: Elem, D: Device<E>>: Sync {
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
    ///
    /// Large parameters are updated in pieces, in parallel
    /// ([`update_host_pieces`]): `p`, `g` and `s.tensors` are then the same
    /// range of elements, and each piece starts from the same `s.scalars`,
    /// so a rule may update its scalars only from the step and their old
    /// values, never from the elements.
    fn update_host(&self, s: HostSlots<'_, '_, E>, p: &mut [E], g: &[E]);
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
        let slots = match self.live.get_mut(name) {
            Some(slots) => slots,
            // Unreachable: inserted above when missing.
            None => {
                return Err(Error::data(
                    "optimizer state",
                    format!("state of {name}"),
                    "none",
                ))
            }
        };
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

/// What to do to each gradient before the update rule sees it.
#[derive(Clone, Copy)]
enum GradPrep {
    None,
    Scale(f64),
    Clamp(f64),
}

/// The gradients a step reads.
enum StepGrads<'a, E: Elem, D: Device<E>> {
    /// Read-only ([`Optimizer::step`](super::Optimizer::step)): parameters
    /// without a gradient are skipped (found with [`has_grad`]).
    Shared(&'a Gradients<E, D>),
    /// Exclusive ([`Optimizer::step_and_zero`](super::Optimizer::step_and_zero)):
    /// every trainable parameter is updated (a missing gradient counts as
    /// zero), its gradient is read (and prepared) in place and zeroed after.
    Owned(&'a mut Gradients<E, D>),
}

impl<E: Elem, D: Device<E>> StepGrads<'_, E, D> {
    /// A copy of `p`'s gradient, which must exist.
    fn get<S: Shape>(&self, p: &Tensor<S, E, D>) -> Tensor<S, E, D> {
        match self {
            StepGrads::Shared(grads) => grads.get(p),
            StepGrads::Owned(grads) => grads.get(p),
        }
    }
}

/// Visitor applying one optimizer step to every trainable tensor.
struct StepVisitor<'a, R, E: Elem, D: Backend<E>> {
    rule: &'a R,
    prep: GradPrep,
    grads: StepGrads<'a, E, D>,
    states: &'a mut ParamStates<E, D>,
    /// Set when a gradient was left for the caller to zero.
    unzeroed: bool,
}

/// Elements of one piece of a parallel host update (64 KiB of `f32`): a
/// piece streams its parameter, gradient and moments once, and the pieces
/// of a large parameter keep both cores busy where the update would
/// otherwise run on one while the other waits for the next product.
pub(crate) const HOST_PIECE: usize = 1 << 14;

/// What every piece of one parameter's host update does besides the rule.
#[derive(Clone, Copy)]
struct HostPiece {
    prep: GradPrep,
    wd: f64,
    /// Zero the gradient after the update (the gradient buffer itself).
    zero_grad: bool,
}

/// Clipping and L2 weight decay, `rule`'s update, then (with `zero_grad`)
/// the zeroed gradient, on `p` / `g` and their state `slots`: in one call
/// for small parameters, else in pieces of [`HOST_PIECE`] elements on the
/// kernels' team. Every element is computed by the same formula either way
/// (the update is element-wise), so the result does not depend on the
/// split or the thread count; the scalars are those of the first piece
/// (every piece computes the same, see [`UpdateRule::update_host`]).
fn update_host_pieces<R, E, D>(
    rule: &R,
    piece: HostPiece,
    slots: &mut Slots<E, D>,
    p: &mut [E],
    g: &mut [E],
) where
    R: UpdateRule<E, D>,
    E: Elem,
    D: Device<E>,
{
    let HostPiece {
        prep,
        wd,
        zero_grad,
    } = piece;
    let step = slots.step;
    let one = |tensors: &mut [&mut [E]], scalars: &mut [f64], p: &mut [E], g: &mut [E]| {
        prepare_host(prep, wd, g, p);
        let s = HostSlots {
            step,
            tensors,
            scalars,
        };
        rule.update_host(s, p, g);
        if zero_grad {
            g.fill(E::zero());
        }
    };
    let n = p.len();
    if n < 2 * HOST_PIECE || rayon::current_num_threads() < 2 {
        let mut tensors: Vec<&mut [E]> = slots.host.iter_mut().map(|t| &mut t[..]).collect();
        one(&mut tensors, &mut slots.scalars, p, g);
        return;
    }
    let pieces = n.div_ceil(HOST_PIECE);
    let mut scalars = vec![slots.scalars.clone(); pieces];
    let mut state: Vec<_> = slots
        .host
        .iter_mut()
        .map(|t| t.chunks_mut(HOST_PIECE))
        .collect();
    let items: Vec<_> = p
        .chunks_mut(HOST_PIECE)
        .zip(g.chunks_mut(HOST_PIECE))
        .zip(scalars.iter_mut())
        .map(|((p, g), sc)| {
            // Every state tensor has the parameter's length (`slots_for`).
            let t: Vec<&mut [E]> = state.iter_mut().filter_map(Iterator::next).collect();
            (p, g, t, sc)
        })
        .collect();
    crate::kernels::team::each_owned(items, |(p, g, mut t, sc)| one(&mut t, sc, p, g));
    if let Some(first) = scalars.into_iter().next() {
        slots.scalars = first;
    }
}

/// Clipping and L2 weight decay applied to a host gradient in place.
fn prepare_host<E: Elem>(prep: GradPrep, wd: f64, g: &mut [E], p: &[E]) {
    match prep {
        GradPrep::None => {}
        GradPrep::Scale(c) => {
            let c = cast::<E>(c);
            g.iter_mut().for_each(|g| *g *= c);
        }
        GradPrep::Clamp(c) => {
            let (lo, hi) = (cast::<E>(-c), cast::<E>(c));
            // NaN stays NaN (as in PyTorch), so clipping cannot hide it.
            g.iter_mut()
                .filter(|g| !g.is_nan())
                .for_each(|g| *g = g.max(lo).min(hi));
        }
    }
    if wd != 0.0 {
        let wd = cast::<E>(wd);
        for (g, &p) in g.iter_mut().zip(p) {
            *g += wd * p;
        }
    }
}

impl<R: UpdateRule<E, D>, E: Elem, D: Backend<E>> TensorVisitor<E, D> for StepVisitor<'_, R, E, D> {
    type Viewer = (ViewTensorMut, ViewTensorName);
    type Err = Error;
    type E2 = E;
    type D2 = D;

    fn visit<S: Shape>(
        &mut self,
        opts: TensorOptions<S, E, D>,
        (p, name): (&mut Tensor<S, E, D>, String),
    ) -> Result<Option<Tensor<S, E, D>>> {
        if !opts.do_gradient_update {
            return Ok(None);
        }
        match &mut self.grads {
            StepGrads::Shared(grads) => {
                if !has_grad(opts, p, grads)? {
                    return Ok(None);
                }
            }
            StepGrads::Owned(grads) => grads.try_alloc_for(&*p).dev()?,
        }
        let shape = *p.shape();
        let n = shape.num_elements();
        let wd = self.rule.l2_weight_decay();
        let host = self.states.cpu_fast_path && D::HOST_OPTIMIZER;
        let flat = p.clone().try_reshape_like(&(n,)).dev()?;
        let slots = self.states.slots_for(self.rule, &name, &flat, host)?;
        slots.step += 1;
        drop(flat);
        if host {
            let (rule, prep) = (self.rule, self.prep);
            let mut update = |ph: &mut [E], gh: &mut [E], zero_grad: bool| {
                let piece = HostPiece {
                    prep,
                    wd,
                    zero_grad,
                };
                update_host_pieces(rule, piece, slots, ph, gh);
            };
            if let StepGrads::Owned(grads) = &mut self.grads {
                // Cpu fast path on the gradient buffer itself, zeroed after.
                if D::host_update(grads, p, &mut |ph, gh| update(ph, gh, true)).dev()? {
                    return Ok(None);
                }
            }
            // Host copies of the parameter and its gradient; the parameter
            // is written back in place (so it keeps its id).
            let mut ph = vec![E::zero(); n];
            p.copy_into(&mut ph);
            let mut gh = vec![E::zero(); n];
            self.grads.get(&*p).copy_into(&mut gh);
            update(&mut ph, &mut gh, false);
            p.copy_from(&ph);
            self.unzeroed = true;
            return Ok(None);
        }
        let flat = p.clone().try_reshape_like(&(n,)).dev()?;
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
        self.unzeroed = true;
        Ok(None)
    }
}

/// The clipping to apply before the rule: for clipping by norm, the scale
/// from the global norm of the gradients.
fn grad_prep<M: TensorCollection<E, D>, E: Elem, D: Backend<E>>(
    clip: Option<Clip>,
    model: &M,
    grads: GradsRef<'_, E, D>,
) -> Result<GradPrep> {
    Ok(match clip {
        None => GradPrep::None,
        Some(Clip::Value(c)) => GradPrep::Clamp(c),
        Some(Clip::Norm(max_norm)) => {
            let total: f64 = sq_norms(model, grads)?
                .iter()
                .map(|(_, v)| v)
                .sum::<f64>()
                .sqrt();
            let coef = max_norm / (total + 1e-6);
            if coef < 1.0 {
                GradPrep::Scale(coef)
            } else {
                GradPrep::None
            }
        }
    })
}

/// One optimizer step: clipping, L2 weight decay, the rule, for every
/// trainable tensor of `model` that has a gradient.
pub(crate) fn step<M: TensorCollection<E, D>, E: Elem, D: Backend<E>, R: UpdateRule<E, D>>(
    rule: &R,
    states: &mut ParamStates<E, D>,
    model: &mut M,
    grads: &Gradients<E, D>,
) -> Result<()> {
    let prep = grad_prep(rule.clip(), model, GradsRef::Shared(grads))?;
    let mut v = StepVisitor {
        rule,
        prep,
        grads: StepGrads::Shared(grads),
        states,
        unzeroed: false,
    };
    M::iter_tensors(&mut RecursiveWalker {
        m: (model, String::new()),
        f: &mut v,
    })?;
    Ok(())
}

/// [`step`] for gradients the caller owns, then every trainable parameter's
/// gradient zeroed (dfdx's `zero_grads`: non-leaf gradients dropped): what a
/// training loop does between two batches. Every trainable tensor is
/// updated, a missing gradient counting as zero (as after `alloc_grads`);
/// on `Cpu` the gradient buffers are read, prepared and zeroed in place, so
/// the step allocates and copies nothing but the parameter itself.
pub(crate) fn step_and_zero<
    M: TensorCollection<E, D>,
    E: Elem,
    D: Backend<E>,
    R: UpdateRule<E, D>,
>(
    rule: &R,
    states: &mut ParamStates<E, D>,
    model: &mut M,
    grads: &mut Gradients<E, D>,
) -> Result<()> {
    let prep = grad_prep(rule.clip(), model, GradsRef::Exclusive(grads))?;
    let mut v = StepVisitor {
        rule,
        prep,
        grads: StepGrads::Owned(grads),
        states,
        unzeroed: false,
    };
    M::iter_tensors(&mut RecursiveWalker {
        m: (&mut *model, String::new()),
        f: &mut v,
    })?;
    if v.unzeroed {
        model.try_zero_grads(grads).dev()?;
    } else {
        grads.drop_non_leafs();
    }
    Ok(())
}
