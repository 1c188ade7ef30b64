#!/usr/bin/env bash
# Runs the PyTorch CPU baseline (../shared/bench/torch_baseline.py) and sxima's
# `examples/bench.rs` back to back on this machine, with the same thread count
# and timing settings, and prints a table of training and inference samples/s
# with the ratio ours / PyTorch.
#
#   scripts/bench_vs_torch.sh                 # 2 threads, mlp cnn dae lstm resnet, 7 repeats of ~1 s
#   THREADS=1 ROUNDS=3 scripts/bench_vs_torch.sh
#
# Environment: TORCH_PY (python with torch; default ~/.cache/torchvenv/bin/python),
# BASELINE (path of torch_baseline.py), THREADS (2), REPEATS (7), SECONDS (1.0),
# ROUNDS (1: torch then ours, repeated; each figure is the median over rounds),
# MODELS ("mlp cnn dae lstm resnet"), KEEP (a folder to keep the raw JSON of every run in),
# BENCH_BIN (a prebuilt bench binary to use instead of building this checkout's),
# BEFORE_BIN (a second bench binary, e.g. built from an older commit, run in the
# same rounds right after ours: its ratios are printed beside ours).
# Noisy machines: compare only runs made side by side; with ROUNDS > 1 the
# per-round ratios are printed too.
set -euo pipefail
cd "$(dirname "$0")/.."
TORCH_PY=${TORCH_PY:-$HOME/.cache/torchvenv/bin/python}
BASELINE=${BASELINE:-../shared/bench/torch_baseline.py}
THREADS=${THREADS:-2}
REPEATS=${REPEATS:-7}
SECONDS_PER=${SECONDS:-1.0}
ROUNDS=${ROUNDS:-1}
MODELS=${MODELS:-mlp cnn dae lstm resnet}
model_args=()
for m in $MODELS; do model_args+=(--model "$m"); done

BENCH_BIN=${BENCH_BIN:-}
if [ -z "$BENCH_BIN" ]; then
  cargo build --release --example bench >&2
  BENCH_BIN=./target/release/examples/bench
fi
BEFORE_BIN=${BEFORE_BIN:-}
if [ -n "${KEEP:-}" ]; then
  out=$KEEP
  mkdir -p "$out"
else
  out=$(mktemp -d)
  trap 'rm -rf "$out"' EXIT
fi
# Each model's PyTorch run and ours (and the "before" binary's) run back to
# back: this host has slow spells of tens of seconds (when its two vCPUs sit
# far apart, both libraries' 2-thread training halves), and a pair measured
# a whole round apart could fall on either side of one.
for r in $(seq 1 "$ROUNDS"); do
  for m in $MODELS; do
    echo "round $r/$ROUNDS, $m: PyTorch ..." >&2
    "$TORCH_PY" "$BASELINE" --threads "$THREADS" --json --repeats "$REPEATS" \
      --seconds "$SECONDS_PER" --model "$m" > "$out/torch_${r}_$m.json"
    echo "round $r/$ROUNDS, $m: sxima ..." >&2
    RAYON_NUM_THREADS=$THREADS "$BENCH_BIN" --threads "$THREADS" --json \
      --repeats "$REPEATS" --seconds "$SECONDS_PER" --model "$m" > "$out/ours_${r}_$m.json"
    if [ -n "$BEFORE_BIN" ]; then
      echo "round $r/$ROUNDS, $m: sxima before ($BEFORE_BIN) ..." >&2
      # An older binary may not know every model (its rows are then left
      # out of the "before" table).
      RAYON_NUM_THREADS=$THREADS "$BEFORE_BIN" --threads "$THREADS" --json \
        --repeats "$REPEATS" --seconds "$SECONDS_PER" --model "$m" > "$out/before_${r}_$m.json" \
        || { echo "  (before binary: no $m)" >&2; rm -f "$out/before_${r}_$m.json"; }
    fi
  done
  # One file per kind and round, as the table below reads them.
  python3 - "$out" "$r" $MODELS <<'MERGE'
import json, os, sys
out, r, models = sys.argv[1], sys.argv[2], sys.argv[3:]
for kind in ("torch", "ours", "before"):
    files = [f"{out}/{kind}_{r}_{m}.json" for m in models]
    runs = [json.load(open(f)) for f in files if os.path.exists(f)]
    if runs:
        json.dump({"meta": runs[0]["meta"], "results": [x for run in runs for x in run["results"]]},
                  open(f"{out}/{kind}_{r}.json", "w"))
MERGE
done

python3 - "$out" "$ROUNDS" "$BEFORE_BIN" <<'PY'
import json, statistics, sys
out, rounds, before_bin = sys.argv[1], int(sys.argv[2]), sys.argv[3]
def load(kind):
    runs = [json.load(open(f"{out}/{kind}_{r}.json")) for r in range(1, rounds + 1)]
    res = {}
    for run in runs:
        for x in run["results"]:
            res.setdefault(x["model"], []).append(x)
    return runs[0]["meta"], res
tm, torch = load("torch")
om, ours = load("ours")
print(f"CPU: {tm.get('cpu_model')} | torch {tm.get('torch_version')} | threads {tm.get('threads')} "
      f"(sxima {om.get('threads')}) | {rounds} round(s), median of {tm.get('repeats')} repeats each")
print(f"{'model':6} {'train ours':>11} {'train torch':>12} {'ratio':>6} {'infer ours':>11} "
      f"{'infer torch':>12} {'ratio':>6}")
for m in ours:
    if m not in torch:
        continue
    med = lambda rs, k: statistics.median(r[k] for r in rs)
    to, tt = med(ours[m], "train_samples_per_s"), med(torch[m], "train_samples_per_s")
    io, it = med(ours[m], "infer_samples_per_s"), med(torch[m], "infer_samples_per_s")
    print(f"{m:6} {to:11.1f} {tt:12.1f} {to/tt:6.2f} {io:11.1f} {it:12.1f} {io/it:6.2f}")
print("samples/s; ratio = ours / PyTorch")
if before_bin:
    _, before = load("before")
    print(f"before ({before_bin}), same rounds:")
    for m in before:
        if m not in torch:
            continue
        med = lambda rs, k: statistics.median(r[k] for r in rs)
        bo, tt = med(before[m], "train_samples_per_s"), med(torch[m], "train_samples_per_s")
        bi, it = med(before[m], "infer_samples_per_s"), med(torch[m], "infer_samples_per_s")
        print(f"{m:6} {bo:11.1f} {tt:12.1f} {bo/tt:6.2f} {bi:11.1f} {it:12.1f} {bi/it:6.2f}")
if rounds > 1:
    print("per round (train ratio, infer ratio):")
    series = [("", ours)] + ([("before ", before)] if before_bin else [])
    for label, res in series:
        for m in res:
            if m in torch:
                rs = [f"{o['train_samples_per_s'] / t['train_samples_per_s']:.2f}/"
                      f"{o['infer_samples_per_s'] / t['infer_samples_per_s']:.2f}"
                      for o, t in zip(res[m], torch[m])]
                print(f"  {label}{m:6} " + "  ".join(rs))
PY
