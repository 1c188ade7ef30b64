//! [`FitConfig`]: the settings of one `fit` call, Keras-style, as a struct
//! with `Default` and chainable setters.

use crate::data::Dataset;
use crate::train::metrics::Metric;

/// How much `fit` prints (to stderr).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Verbosity {
    /// Nothing (tests).
    Silent,
    /// One plain line per epoch.
    Lines,
    /// A progress bar per epoch (and the line when the epoch ends).
    Bar,
    /// A bar when stderr is a terminal, lines otherwise.
    #[default]
    Auto,
}

/// Where validation data comes from.
#[derive(Debug, Clone, Copy, Default)]
pub enum Validation<'a> {
    /// No validation.
    #[default]
    None,
    /// A separate dataset.
    Data(&'a Dataset),
    /// The last `fraction` of the training data (taken before shuffling).
    Split(f64),
}

/// Settings of a `fit` call.
pub struct FitConfig<'a> {
    /// Index (exclusive, 1-based count) of the last epoch: training runs
    /// epochs `initial_epoch + 1 ..= epochs`, as in Keras.
    pub epochs: usize,
    /// Samples per step (1 = SGD; `usize::MAX` or the dataset size = batch GD).
    pub batch_size: usize,
    /// Seed of the per-epoch shuffle (the model's own randomness, e.g.
    /// dropout, comes from the device: seed it with `Cpu::seed_from_u64`).
    pub seed: u64,
    /// Shuffle the training samples every epoch.
    pub shuffle: bool,
    /// Validation data.
    pub validation: Validation<'a>,
    /// Metrics to report besides the loss.
    pub metrics: Vec<Box<dyn Metric>>,
    /// Add accuracy when the targets are classes or one-hot and `metrics`
    /// has no metric named `acc`.
    pub auto_accuracy: bool,
    /// Output on stderr.
    pub verbosity: Verbosity,
    /// Number of epochs already done (resuming): the first epoch run is
    /// `initial_epoch + 1`, and its shuffle order is that of an uninterrupted run.
    pub initial_epoch: usize,
    /// Record per-parameter gradient norms (one small reduction per parameter
    /// tensor per step).
    pub grad_norms: bool,
}

impl Default for FitConfig<'_> {
    fn default() -> Self {
        Self {
            epochs: 1,
            batch_size: 32,
            seed: 0,
            shuffle: true,
            validation: Validation::None,
            metrics: Vec::new(),
            auto_accuracy: true,
            verbosity: Verbosity::Auto,
            initial_epoch: 0,
            grad_norms: true,
        }
    }
}

impl<'a> FitConfig<'a> {
    /// The defaults: 1 epoch, batch 32, seed 0, shuffled, no validation.
    pub fn new() -> Self {
        Self::default()
    }
    /// Sets [`epochs`](Self::epochs).
    pub fn epochs(mut self, n: usize) -> Self {
        self.epochs = n;
        self
    }
    /// Sets [`batch_size`](Self::batch_size).
    pub fn batch_size(mut self, n: usize) -> Self {
        self.batch_size = n;
        self
    }
    /// Sets [`seed`](Self::seed).
    pub fn seed(mut self, s: u64) -> Self {
        self.seed = s;
        self
    }
    /// Sets [`shuffle`](Self::shuffle).
    pub fn shuffle(mut self, on: bool) -> Self {
        self.shuffle = on;
        self
    }
    /// Validates on `data` after every epoch.
    pub fn validation_data(mut self, data: &'a Dataset) -> Self {
        self.validation = Validation::Data(data);
        self
    }
    /// Holds out the last `fraction` of the training data for validation.
    pub fn validation_split(mut self, fraction: f64) -> Self {
        self.validation = Validation::Split(fraction);
        self
    }
    /// Adds a metric.
    pub fn metric(mut self, m: impl Metric + 'static) -> Self {
        self.metrics.push(Box::new(m));
        self
    }
    /// Sets [`verbosity`](Self::verbosity).
    pub fn verbosity(mut self, v: Verbosity) -> Self {
        self.verbosity = v;
        self
    }
    /// Shorthand for `verbosity(Verbosity::Silent)`.
    pub fn silent(self) -> Self {
        self.verbosity(Verbosity::Silent)
    }
    /// Sets [`initial_epoch`](Self::initial_epoch).
    pub fn initial_epoch(mut self, n: usize) -> Self {
        self.initial_epoch = n;
        self
    }
    /// Sets [`grad_norms`](Self::grad_norms).
    pub fn grad_norms(mut self, on: bool) -> Self {
        self.grad_norms = on;
        self
    }
    /// Sets [`auto_accuracy`](Self::auto_accuracy).
    pub fn auto_accuracy(mut self, on: bool) -> Self {
        self.auto_accuracy = on;
        self
    }
}
