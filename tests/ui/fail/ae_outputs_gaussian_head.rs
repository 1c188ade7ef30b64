use sxima::prelude::*;

model! {
    pub Vae(input: [6], outputs(mu = z.mean)) {
        z: gaussian { mu { Dense(2) } logvar { Dense(2) } },
        Dense(6),
    }
}

fn main() {}
