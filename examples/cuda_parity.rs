//! CUDA against CPU: the same training steps on both devices must give the
//! same numbers. Needs a GPU and the `cuda` feature:
//!
//! ```text
//! cargo run --release --features cuda --example cuda_parity
//! ```
//!
//! 1. The lecture's CNN (as in `mnist_cnn`), built once on the CPU and copied
//!    to the GPU, trained 20 Adam steps (lr 1e-3, batch 64) on the same MNIST
//!    batches through `train_step`, the step `fit` runs: every step's loss
//!    must agree within 1e-3 relative.
//! 2. 20 Adam and 20 Nadam steps on a small MLP from the same weights and
//!    data: the final weights must agree within 1e-4 relative.
//!
//! Exits with status 1 and names the step or tensor that differs.
//! Without the `cuda` feature it only says how to build it (CI type-checks
//! it with `--features cuda-check`).

#[cfg(feature = "cuda")]
mod parity {
    use sxima::prelude::*;
    use sxima::train::{train_step, StepBatch};

    model! {
        /// The lecture's CNN (see `examples/mnist_cnn.rs`).
        pub MnistCnn(input: [1, 28, 28]) {
            conv1: Conv2d(32, kernel = 5),
            ReLU,
            MaxPool2d(2),
            conv2: Conv2d(64, kernel = 5),
            ReLU,
            MaxPool2d(2),
            Flatten,
            fc3: Dense(128),
            ReLU,
            fc4: Dense(10),
        }
    }

    model! {
        /// A small MLP for the optimizer comparison.
        pub SmallMlp(input: [1, 28, 28]) {
            Flatten,
            fc1: Dense(64),
            Tanh,
            fc2: Dense(10),
        }
    }

    fn relative(a: f64, b: f64) -> f64 {
        (a - b).abs() / b.abs().max(1e-12)
    }

    /// Trains `steps` steps on both devices from the same weights and batches;
    /// returns the largest relative loss difference, printing each step.
    fn cnn_losses(train: &Dataset, steps: usize) -> sxima::Result<f64> {
        let cpu = Cpu::seed_from_u64(0);
        let cuda = Cuda::seed_from_u64(0);
        let mut on_cpu = MnistCnn::<f32, Cpu>::build(&cpu);
        let mut on_gpu: MnistCnn<f32, Cuda> = on_cpu.to_device(&cuda);
        let cfg = || AdamConfig {
            lr: 1e-3,
            ..Default::default()
        };
        let mut opt_cpu = Adam::<f32, Cpu>::new(cfg())?;
        let mut opt_gpu = Adam::<f32, Cuda>::new(cfg())?;
        let (mut g_cpu, mut g_gpu) = (None, None);
        let mut worst = 0.0f64;
        for (i, batch) in train.batches(64, Some((0, 0)))?.take(steps).enumerate() {
            let step = |epoch| StepBatch {
                features: &batch.features,
                targets: &batch.targets,
                epoch,
                batch: i + 1,
            };
            let a = train_step(
                &mut on_cpu,
                &mut opt_cpu,
                &SparseCrossEntropy,
                &cpu,
                &mut g_cpu,
                step(1),
                false,
                false,
            )?;
            let b = train_step(
                &mut on_gpu,
                &mut opt_gpu,
                &SparseCrossEntropy,
                &cuda,
                &mut g_gpu,
                step(1),
                false,
                false,
            )?;
            let r = relative(b.loss, a.loss);
            worst = worst.max(r);
            println!(
                "cnn step {:2}: cpu {:.6}  cuda {:.6}  rel {:.2e}",
                i + 1,
                a.loss,
                b.loss,
                r
            );
        }
        Ok(worst)
    }

    /// 20 steps of one optimizer on both devices; the largest relative
    /// difference between the final weights of `fc1`.
    fn optimizer_weights<O>(
        train: &Dataset,
        make: impl Fn() -> sxima::Result<O>,
        make_gpu: impl Fn() -> sxima::Result<O::OnCuda>,
    ) -> sxima::Result<f64>
    where
        O: Optimizer<SmallMlp<f32, Cpu>, f32, Cpu> + HasCudaTwin,
    {
        let cpu = Cpu::seed_from_u64(1);
        let cuda = Cuda::seed_from_u64(1);
        let mut on_cpu = SmallMlp::<f32, Cpu>::build(&cpu);
        let mut on_gpu: SmallMlp<f32, Cuda> = on_cpu.to_device(&cuda);
        let (mut opt_cpu, mut opt_gpu) = (make()?, make_gpu()?);
        let (mut g_cpu, mut g_gpu) = (None, None);
        for (i, batch) in train.batches(64, Some((1, 0)))?.take(20).enumerate() {
            let step = StepBatch {
                features: &batch.features,
                targets: &batch.targets,
                epoch: 1,
                batch: i + 1,
            };
            train_step(
                &mut on_cpu,
                &mut opt_cpu,
                &SparseCrossEntropy,
                &cpu,
                &mut g_cpu,
                step,
                false,
                false,
            )?;
            train_step(
                &mut on_gpu,
                &mut opt_gpu,
                &SparseCrossEntropy,
                &cuda,
                &mut g_gpu,
                step,
                false,
                false,
            )?;
        }
        let a = on_cpu.fc1.weight.as_vec();
        let b = on_gpu.fc1.weight.as_vec();
        Ok(a.iter()
            .zip(&b)
            .map(|(x, y)| (*x as f64 - *y as f64).abs() / (*x as f64).abs().max(1e-3))
            .fold(0.0, f64::max))
    }

    /// The same optimizer type on the GPU.
    pub trait HasCudaTwin {
        type OnCuda: Optimizer<SmallMlp<f32, Cuda>, f32, Cuda>;
    }
    impl HasCudaTwin for Adam<f32, Cpu> {
        type OnCuda = Adam<f32, Cuda>;
    }
    impl HasCudaTwin for Nadam<f32, Cpu> {
        type OnCuda = Nadam<f32, Cuda>;
    }

    pub fn run() -> sxima::Result<bool> {
        let train = mnist::load(mnist::default_dir())?.train;
        let cnn = cnn_losses(&train, 20)?;
        let adam_cfg = || AdamConfig {
            lr: 1e-3,
            ..Default::default()
        };
        let nadam_cfg = || NadamConfig {
            lr: 2e-3,
            ..Default::default()
        };
        let adam = optimizer_weights(
            &train,
            || Adam::<f32, Cpu>::new(adam_cfg()),
            || Adam::<f32, Cuda>::new(adam_cfg()),
        )?;
        let nadam = optimizer_weights(
            &train,
            || Nadam::<f32, Cpu>::new(nadam_cfg()),
            || Nadam::<f32, Cuda>::new(nadam_cfg()),
        )?;
        println!("cnn: largest relative loss difference over 20 steps {cnn:.2e} (limit 1e-3)");
        println!("adam: largest relative weight difference after 20 steps {adam:.2e} (limit 1e-4)");
        println!(
            "nadam: largest relative weight difference after 20 steps {nadam:.2e} (limit 1e-4)"
        );
        Ok(cnn < 1e-3 && adam < 1e-4 && nadam < 1e-4)
    }
}

#[cfg(feature = "cuda")]
fn main() -> sxima::Result<()> {
    if !parity::run()? {
        eprintln!("CUDA and CPU disagree beyond the limits above");
        std::process::exit(1);
    }
    println!("CUDA matches CPU");
    Ok(())
}

#[cfg(not(feature = "cuda"))]
fn main() {
    eprintln!("cuda_parity needs a GPU: cargo run --release --features cuda --example cuda_parity");
}
