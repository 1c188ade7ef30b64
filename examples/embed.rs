//! The smallest application that embeds a typed model: train a digit
//! classifier, save it, then load it in a fresh process and classify digits
//! with class probabilities.
//!
//! ```text
//! cargo run --release --example embed             # train, save, then predict in a child process
//! cargo run --release --example embed -- predict  # only the predicting half (after a run)
//! ```

use sxima::prelude::*;

model! {
    /// A small classifier for 28x28 grey digits.
    pub Digits(input: [1, 28, 28]) {
        Flatten,
        fc1: Dense(64),
        ReLU,
        fc2: Dense(10),
    }
}

fn main() -> sxima::Result<()> {
    let digits = mnist::load_default()?; // $SXIMA_DATA, else the repository's data/
    let dev = Cpu::seed_from_u64(0);
    let path = std::env::temp_dir().join("sxima-embed-digits.safetensors");
    if std::env::args().nth(1).as_deref() == Some("predict") {
        // A fresh process: only the file carries over (identity and checksums are checked).
        let predictor = Predictor::new(Digits::<f32, Cpu>::load(&path, &dev)?);
        for i in 0..5 {
            let top3 = predictor.top_k(digits.test.sample(i).unwrap_or_default(), 3)?;
            let label = digits.test.label(i).unwrap_or_default();
            println!("a {label}: (class, probability) {top3:.2?}");
        }
        return Ok(());
    }
    let mut model = Digits::<f32, Cpu>::build(&dev);
    let mut opt = Adam::new(AdamConfig::default())?;
    let (train, loss, cfg) = (
        digits.train.take(4000),
        SparseCrossEntropy,
        FitConfig::new(),
    );
    fit(&mut model, &mut opt, &loss, &train, cfg, &mut [])?;
    model.save(&path)?;
    let me = std::env::current_exe().unwrap_or_else(|_| "embed".into());
    let child = std::process::Command::new(me).arg("predict").status();
    let ok = child.is_ok_and(|s| s.success());
    println!("predicting process ok: {ok}");
    Ok(())
}
