#!/usr/bin/env bash
# Peak resident set size (VmHWM) while training the lecture CNN for one epoch
# on the bundled MNIST training split (8,000 digits, Adam lr 1e-3, batch 64,
# shuffled, no validation), sxima against PyTorch, both on THREADS threads.
# Each prints its peak RSS after loading the data (for PyTorch: after
# `import torch` and the data) and after the epoch.
#
#   scripts/rss_vs_torch.sh               # THREADS=2
#
# Environment: TORCH_PY (python with torch; default ~/.cache/torchvenv/bin/python),
# BASELINE (torch_baseline.py, for the model), THREADS (2), BENCH_BIN (a prebuilt
# bench binary instead of building this checkout's).
set -euo pipefail
cd "$(dirname "$0")/.."
TORCH_PY=${TORCH_PY:-$HOME/.cache/torchvenv/bin/python}
BASELINE=${BASELINE:-../shared/bench/torch_baseline.py}
THREADS=${THREADS:-2}
BENCH_BIN=${BENCH_BIN:-}
if [ -z "$BENCH_BIN" ]; then
  cargo build --release --example bench >&2
  BENCH_BIN=./target/release/examples/bench
fi
RAYON_NUM_THREADS=$THREADS "$BENCH_BIN" --threads "$THREADS" --rss-epoch
"$TORCH_PY" - "$BASELINE" "$THREADS" data <<'PY'
import gzip, importlib.util, sys, time
import numpy as np
import torch

def vmhwm_mib():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024

baseline, threads, data = sys.argv[1], int(sys.argv[2]), sys.argv[3]
spec = importlib.util.spec_from_file_location("torch_baseline", baseline)
base = importlib.util.module_from_spec(spec)
spec.loader.exec_module(base)
torch.set_num_threads(threads)
torch.manual_seed(0)
with gzip.open(f"{data}/mnist10k-images-idx3-ubyte.gz") as f:
    images = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 1, 28, 28)
with gzip.open(f"{data}/mnist10k-labels-idx1-ubyte.gz") as f:
    labels = np.frombuffer(f.read(), np.uint8, offset=8)
# The first 8,000 digits are the training split (data/README.md).
x = torch.tensor(images[:8000], dtype=torch.float32) / 255.0
y = torch.tensor(labels[:8000], dtype=torch.int64)
model = base.lecture_cnn()
opt = torch.optim.Adam(model.parameters(), lr=1e-3)
loss_fn = torch.nn.CrossEntropyLoss()
before = vmhwm_mib()
t0 = time.perf_counter()
model.train()
perm = torch.randperm(len(x))
for i in range(0, len(x), 64):
    idx = perm[i:i + 64]
    opt.zero_grad(set_to_none=True)
    loss_fn(model(x[idx]), y[idx]).backward()
    opt.step()
seconds = time.perf_counter() - t0
print(f"torch: lecture CNN, 1 epoch of {len(x)} digits in {seconds:.1f} s; peak RSS "
      f"{before:.1f} MiB after import and data, {vmhwm_mib():.1f} MiB after the epoch")
PY
