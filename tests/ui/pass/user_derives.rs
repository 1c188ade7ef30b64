//! A model's own `#[derive(Debug, Clone)]` (or one of them) is accepted: the
//! macro leaves those derives to the user's attribute.
use sxima::prelude::*;

model! {
    /// Both derives written by the user, beside another one.
    #[derive(Debug, Clone)]
    pub Both(input: [3]) {
        fc: Dense(2),
    }

    /// Only `Clone` written (by path); the macro still derives `Debug`.
    #[derive(core::clone::Clone)]
    pub OnlyClone(input: [3]) {
        fc: Dense(2),
    }
}

fn main() {
    let dev: Cpu = Default::default();
    let a = Both::<f32, Cpu>::build(&dev);
    let b = a.clone();
    assert!(format!("{b:?}").contains("Both"));
    let c = OnlyClone::<f32, Cpu>::build(&dev);
    assert!(format!("{:?}", c.clone()).contains("OnlyClone"));
}
