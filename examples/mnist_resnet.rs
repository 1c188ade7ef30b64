//! A small residual network on the bundled MNIST digits, against the
//! lecture CNN of `mnist_cnn` with the same epochs: stem conv3x3(32)-BN-ReLU,
//! two basic blocks at 32 channels, a stride-2 block at 64 (1x1 projection
//! shortcut, chosen by `shortcut = auto`), global average pool, dense 10 —
//! the bench's `resnet` on 1x28x28 inputs. Adam (batch 64), 10 epochs, with
//! a one-cycle learning rate peaking at 3e-3 (one step per epoch), accuracy on
//! the 2,000-digit test split. Writes the curves to `out/mnist_resnet.png`.
//!
//! ```text
//! cargo run --release --example mnist_resnet              # full run
//! cargo run --example mnist_resnet -- --quick             # CI smoke run: 1 epoch, 256 digits
//! cargo run --release --example mnist_resnet -- --seed 3  # another seed
//! ```

use std::time::Instant;

use sxima::optim::OneCycle;
use sxima::prelude::*;
use sxima::train::callbacks::LrScheduler;
use sxima::train::EpochLogs;

model! {
    /// ResNet basic block: two 3x3 convolutions with batch norm and a skip
    /// connection (a 1x1 projection when the body changes the shape).
    block BasicBlock(channels, stride) {
        residual(shortcut = auto) {
            conv1: Conv2d(channels, kernel = 3, stride = stride, padding = 1, bias = false),
            bn1: BatchNorm2d,
            ReLU,
            conv2: Conv2d(channels, kernel = 3, padding = 1, bias = false),
            bn2: BatchNorm2d,
        },
        ReLU,
    }

    /// The mini-ResNet for 28x28 grey digits.
    pub MnistResnet(input: [1, 28, 28]) {
        conv1: Conv2d(32, kernel = 3, padding = 1, bias = false),
        bn1: BatchNorm2d,
        ReLU,
        layer1: { BasicBlock(32, 1), BasicBlock(32, 1) } -> [32, 28, 28],
        // (28 + 2 - 3) / 2 + 1 = 14: the stride-2 block halves the grid.
        layer2: BasicBlock(64, 2) -> [64, 14, 14],
        GlobalAvgPool,
        fc: Dense(10),
    }
}

fn main() -> sxima::Result<()> {
    // Training on the CPU: keep freed step buffers in the process (opt-in,
    // changes glibc's malloc settings for the whole process).
    sxima::runtime::tune_host_allocator();
    let args: Vec<String> = std::env::args().collect();
    let quick = args.iter().any(|a| a == "--quick");
    let seed: u64 = args
        .iter()
        .position(|a| a == "--seed")
        .and_then(|i| args.get(i + 1)?.parse().ok())
        .unwrap_or(1);
    let mnist = mnist::load(mnist::default_dir())?;
    let (train, test) = if quick {
        (mnist.train.take(256), mnist.test.take(128))
    } else {
        (mnist.train, mnist.test)
    };
    let epochs = if quick { 1 } else { 10 };

    println!("{}", MnistResnet::<f32, Cpu>::summary());

    let dev = Cpu::seed_from_u64(seed);
    let mut model = MnistResnet::<f32, Cpu>::build(&dev);
    let mut opt = Adam::new(AdamConfig {
        lr: 1e-3,
        ..Default::default()
    })?;
    // One cycle over the run (PyTorch's OneCycleLR, one step per epoch).
    let cycle = OneCycle::new(3e-3, epochs.max(2))?;
    let mut schedule = LrScheduler::new(move |epoch: usize, _: Option<&EpochLogs>| cycle.at(epoch));

    let start = Instant::now();
    let history = fit(
        &mut model,
        &mut opt,
        &SparseCrossEntropy,
        &train,
        FitConfig::new()
            .epochs(epochs)
            .batch_size(64)
            .seed(seed)
            .validation_data(&test),
        &mut [&mut schedule],
    )?;
    let seconds = start.elapsed().as_secs_f64();

    let result = evaluate(&model, &SparseCrossEntropy, &test, 256)?;
    let accuracy = result.accuracy().unwrap_or(f64::NAN);
    println!(
        "test loss {:.4}  test accuracy {:.2}% on {} digits  ({} epochs in {:.1}s)",
        result.loss,
        100.0 * accuracy,
        test.len(),
        history.epochs.len(),
        seconds
    );

    std::fs::create_dir_all("out").map_err(|source| sxima::Error::Io {
        path: "out".into(),
        source,
    })?;
    history.plot("out/mnist_resnet.png")?;
    println!("loss and accuracy curves: out/mnist_resnet.png");
    Ok(())
}
