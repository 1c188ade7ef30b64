#!/usr/bin/env python3
"""Batch-1 inference latency of the bench's `mlp` and `cnn` in PyTorch, the
counterpart of `cargo run --release --example bench -- --latency`.

Each model comes from torch_baseline.py (path: --baseline, default
../shared/bench/torch_baseline.py, or $BASELINE), in eval mode under
torch.inference_mode(), on 1 thread (torch.set_num_threads(1)). After 200
untimed calls, --calls calls of model(x) on one fixed random sample are timed
one by one with time.perf_counter_ns; prints the median and the 99th
percentile in microseconds (--json for one JSON object per model).

    ~/.cache/torchvenv/bin/python scripts/latency_torch.py [--calls 10000] [--json]
"""

import argparse
import importlib.util
import json
import os
import time

import torch


def load_baseline(path):
    spec = importlib.util.spec_from_file_location("torch_baseline", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def percentile(sorted_values, q):
    """Nearest-rank on (n - 1) * q, as the Rust bench computes it."""
    return sorted_values[round((len(sorted_values) - 1) * q)]


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    default = os.environ.get("BASELINE") or os.path.join(
        here, "..", "..", "shared", "bench", "torch_baseline.py")
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--baseline", default=default)
    ap.add_argument("--calls", type=int, default=10_000)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    base = load_baseline(args.baseline)
    torch.set_num_threads(1)
    torch.manual_seed(0)
    models = {"mlp": (base.mlp, (1, 784)), "cnn": (base.lecture_cnn, (1, 1, 28, 28))}
    if not args.json:
        print(f"torch {torch.__version__} | threads {torch.get_num_threads()} | "
              f"batch-1 latency, {args.calls} calls (microseconds)")
        print(f"{'model':6} {'median':>10} {'p99':>10}")
    for name, (build, shape) in models.items():
        model = build().eval()
        x = torch.rand(*shape)
        with torch.inference_mode():
            for _ in range(200):
                model(x)
            times = []
            for _ in range(args.calls):
                t0 = time.perf_counter_ns()
                model(x)
                times.append((time.perf_counter_ns() - t0) / 1e3)
        times.sort()
        med, p99 = percentile(times, 0.5), percentile(times, 0.99)
        if args.json:
            print(json.dumps({"model": name, "library": "torch", "calls": args.calls,
                              "median_us": round(med, 2), "p99_us": round(p99, 2)}))
        else:
            print(f"{name:6} {med:10.1f} {p99:10.1f}")


if __name__ == "__main__":
    main()
