//! `fit_outputs` on a `model!` VAE: an ELBO objective over the typed
//! outputs (reconstruction BCE summed over the features) plus the KL term
//! the model's `gaussian` code collects itself; the history logs both terms
//! and their weighted total, and the total falls.

use sxima::prelude::*;
use sxima::runtime::error::DeviceResultExt;
use sxima::runtime::penalty::Penalties;
use sxima::train::{fit_outputs, Objective, Verbosity};
use sxima::Result;

model! {
    /// A small VAE whose outputs are the code's mean and the reconstruction.
    pub TinyVae(input: [6], reconstructs, outputs(mu = z.mu, recon)) {
        enc: Dense(5),
        Tanh,
        z: gaussian { mu { Dense(2) } logvar { Dense(2) } },
        dec: Dense(6),
        recon: Sigmoid,
    }
}

/// The ELBO's reconstruction term; the KL comes from the model.
struct Elbo;

impl<E: Elem, D: Backend<E>> Objective<E, D, TinyVae<E, D>> for Elbo {
    fn name(&self) -> String {
        "elbo".into()
    }
    fn terms<T: Tape<E, D>>(
        &self,
        out: TinyVaeOutputs<usize, E, D, T>,
        target: &Target<'_, E, D>,
        terms: &mut Penalties<E, D, T>,
    ) -> Result<()> {
        let b = out.recon.shape().0;
        let recon = out.recon.try_reshape_like(&(b, 6)).dev()?;
        terms.push("bce_sum", 1.0, Bce.summed().try_loss(recon, target)?);
        Ok(())
    }
}

#[test]
fn fit_outputs_trains_a_vae_on_reconstruction_plus_its_kl() {
    let dev = Cpu::seed_from_u64(7);
    let mut model = <TinyVae<f32, Cpu> as Model<f32, Cpu>>::build(&dev);
    let x: Vec<f32> = (0..6 * 40)
        .map(|i| if (i * 7 + i / 6) % 3 == 0 { 0.9 } else { 0.1 })
        .collect();
    let data = Dataset::with_values(x.clone(), &[6], 6, x).unwrap();
    let mut opt = Adam::new(AdamConfig {
        lr: 0.02,
        ..Default::default()
    })
    .unwrap();
    let h = fit_outputs(
        &mut model,
        &mut opt,
        &Elbo,
        &data,
        FitConfig {
            epochs: 6,
            batch_size: 8,
            verbosity: Verbosity::Silent,
            ..Default::default()
        },
        &mut [],
    )
    .unwrap();
    assert_eq!(h.loss_name, "elbo");
    assert_eq!(h.term_names(), ["bce_sum", "z.kl"]);
    for e in &h.epochs {
        let total = e.terms["bce_sum"] + e.terms["z.kl"];
        assert!(
            (e.loss - total).abs() < 1e-4 * total.abs().max(1.0),
            "{e:?}"
        );
        assert!(e.terms["z.kl"] >= 0.0, "{e:?}");
    }
    let loss = h.series("loss");
    assert!(loss[5] < loss[0], "{loss:?}");
}
