//! Named terms of a training loss: the total that is backpropagated
//! (`data + sum weight * penalty`), the NaN/inf check per term, and the
//! per-epoch means that the [`History`](crate::train::History) logs.

use std::collections::BTreeMap;

use dfdx::shapes::Rank0;
use dfdx::tensor::{Tape, Tensor};
use dfdx::tensor_ops::{Device, TryAdd, TryMul};

use crate::elem::{cast, Elem};
use crate::error::{DeviceResultExt, Error, Result};
use crate::penalty::{join_tape, Penalties};
use crate::train::forward::scalar;

/// Where a step sits in the run (1-based epoch and batch), for errors.
#[derive(Debug, Clone, Copy)]
pub(crate) struct At {
    pub epoch: usize,
    pub batch: usize,
}

/// `value` must be finite, else [`Error::NonFiniteTerm`] naming `term`.
pub(crate) fn check_term(term: &str, value: f64, at: At) -> Result<()> {
    if value.is_finite() {
        Ok(())
    } else {
        Err(Error::NonFiniteTerm {
            term: term.to_string(),
            epoch: at.epoch,
            batch: at.batch,
            value,
        })
    }
}

/// `total` must be finite, else [`Error::NonFiniteLoss`].
pub(crate) fn check_total(value: f64, at: At) -> Result<()> {
    if value.is_finite() {
        Ok(())
    } else {
        Err(Error::NonFiniteLoss {
            epoch: at.epoch,
            batch: at.batch,
            value,
        })
    }
}

/// A step's loss to backpropagate, its value, and each term's unweighted
/// value by name.
pub(crate) type Totalled<E, D, T> = (Tensor<Rank0, E, D, T>, f64, Vec<(String, f64)>);

/// `acc + weight * term` on the tape of both (`weight == 1` adds no multiply).
pub(crate) fn add_weighted<E: Elem, D: Device<E>, T: Tape<E, D>>(
    acc: Tensor<Rank0, E, D, T>,
    weight: f64,
    term: Tensor<Rank0, E, D, T>,
) -> Result<Tensor<Rank0, E, D, T>> {
    let term = if weight == 1.0 {
        term
    } else {
        term.try_mul(cast::<E>(weight)).dev()?
    };
    acc.try_add(term).dev()
}

/// The loss a step backpropagates when the model collected penalties: the
/// data loss `data` (logged as `data_name`) plus each penalty's
/// `weight * value`. Returns the total, its value, and each term's
/// unweighted value in order (the data loss first).
///
/// Errors: [`Error::NonFiniteLoss`] when the data loss or the total is NaN
/// or infinite, [`Error::NonFiniteTerm`] naming the first penalty that is.
pub(crate) fn with_penalties<E: Elem, D: Device<E>, T: Tape<E, D>>(
    data: Tensor<Rank0, E, D, T>,
    data_name: &str,
    penalties: Penalties<E, D, T>,
    at: At,
) -> Result<Totalled<E, D, T>> {
    let data_value = scalar(&data);
    check_total(data_value, at)?;
    let mut terms = vec![(data_name.to_string(), data_value)];
    let mut total = data;
    let (list, held) = penalties.into_parts();
    for t in list {
        let v = scalar(&t.value);
        check_term(&t.name, v, at)?;
        total = add_weighted(total, t.weight, t.value)?;
        terms.push((t.name, v));
    }
    // A forward that holds its tape in the collector (a multi-output one)
    // joins it here, so the backward reaches every layer.
    let total = join_tape(total, held);
    let value = scalar(&total);
    check_total(value, at)?;
    Ok((total, value, terms))
}

/// The loss of a multi-output objective: `sum weight * value` over its
/// `terms` and then the model's `penalties`, each logged unweighted under
/// its name, in that order.
///
/// Errors: [`Error::InvalidConfig`] when the objective pushed no term,
/// [`Error::NonFiniteTerm`] naming the first NaN/inf term,
/// [`Error::NonFiniteLoss`] when the total is.
pub(crate) fn total_of_terms<E: Elem, D: Device<E>, T: Tape<E, D>>(
    terms: Penalties<E, D, T>,
    penalties: Penalties<E, D, T>,
    at: At,
) -> Result<Totalled<E, D, T>> {
    if terms.is_empty() {
        return Err(Error::config(
            "objective",
            "no terms",
            "an objective must push at least one loss term over the outputs",
        ));
    }
    let (terms, tape_a) = terms.into_parts();
    let (penalties, tape_b) = penalties.into_parts();
    let mut total: Option<Tensor<Rank0, E, D, T>> = None;
    let mut logged = Vec::new();
    for t in terms.into_iter().chain(penalties) {
        let v = scalar(&t.value);
        check_term(&t.name, v, at)?;
        total = Some(match total {
            None if t.weight == 1.0 => t.value,
            None => t.value.try_mul(cast::<E>(t.weight)).dev()?,
            Some(acc) => add_weighted(acc, t.weight, t.value)?,
        });
        logged.push((t.name, v));
    }
    let Some(total) = total else {
        return Err(Error::config(
            "objective",
            "no terms",
            "an objective must push at least one loss term",
        ));
    };
    // A multi-output forward leaves its tape in a collector: join it, so the
    // backward reaches every layer whichever outputs the terms used.
    let total = join_tape(join_tape(total, tape_a), tape_b);
    let value = scalar(&total);
    check_total(value, at)?;
    Ok((total, value, logged))
}

/// Sums of named per-batch term values weighted by batch size, for the
/// epoch means.
#[derive(Debug, Default)]
pub(crate) struct TermSums {
    sums: BTreeMap<String, (f64, usize)>,
}

impl TermSums {
    /// Adds one batch of `samples` samples.
    pub(crate) fn add(&mut self, terms: &[(String, f64)], samples: usize) {
        for (name, v) in terms {
            let e = self.sums.entry(name.clone()).or_insert((0.0, 0));
            e.0 += v * samples as f64;
            e.1 += samples;
        }
    }

    /// The mean of each term over the samples it was seen on.
    pub(crate) fn means(&self) -> BTreeMap<String, f64> {
        self.sums
            .iter()
            .map(|(k, (s, n))| (k.clone(), s / (*n).max(1) as f64))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use dfdx::prelude::*;

    #[test]
    fn total_is_data_plus_weighted_terms_and_gradients_follow() {
        let dev = Cpu::default();
        let x = dev.tensor([1.0f64, 2.0]);
        let t = x.leaky_trace();
        let (t, tape) = t.split_tape();
        let data = t.clone().put_tape(tape).square().sum(); // 5, grad 2x
        let (data, tape) = data.split_tape();
        let pen = t.put_tape(OwnedTape::default()).sum(); // 3, grad 1
        let mut p = Penalties::new();
        p.push("p", 0.5, pen);
        let at = At { epoch: 1, batch: 1 };
        let (total, value, terms) = with_penalties(data.put_tape(tape), "sq", p, at).unwrap();
        assert_eq!(value, 5.0 + 0.5 * 3.0);
        assert_eq!(terms, vec![("sq".to_string(), 5.0), ("p".to_string(), 3.0)]);
        let g = total.backward();
        assert_eq!(g.get(&x).array(), [2.5, 4.5]);
    }

    #[test]
    fn a_non_finite_penalty_is_named() {
        let dev = Cpu::default();
        let data: Tensor<Rank0, f64, Cpu, OwnedTape<f64, Cpu>> = dev.tensor(1.0).leaky_trace();
        let mut p = Penalties::new();
        p.push("code.kl", 1.0, dev.tensor(f64::NAN).leaky_trace());
        let at = At { epoch: 3, batch: 7 };
        match with_penalties(data, "mse", p, at) {
            Err(Error::NonFiniteTerm {
                term, epoch, batch, ..
            }) => assert_eq!((term.as_str(), epoch, batch), ("code.kl", 3, 7)),
            Err(e) => panic!("wrong error {e}"),
            Ok(_) => panic!("NaN penalty accepted"),
        }
    }

    #[test]
    fn term_means_weight_by_batch_size() {
        let mut s = TermSums::default();
        s.add(&[("a".into(), 1.0)], 3);
        s.add(&[("a".into(), 3.0), ("b".into(), 2.0)], 1);
        let m = s.means();
        assert_eq!(m["a"], 1.5);
        assert_eq!(m["b"], 2.0);
    }
}
