"""Generates pca_svd_small.json, the numpy reference for runtime/tests/analysis.rs.

Run from this folder with the PyTorch venv's Python (numpy 1.x or 2.x):
    ~/.cache/torchvenv/bin/python gen_pca_svd.py

A 40 x 7 matrix with a different scale per column (seed 10) is centred and
decomposed with numpy.linalg.svd; the file holds the data (row-major), the
right singular vectors (rows of Vt, the principal axes) and the variances
S**2 / (n - 1) along them.
"""
import json

import numpy as np

rng = np.random.default_rng(10)
n, d = 40, 7
x = rng.normal(size=(n, d)) * np.array([3.0, 2.5, 2.0, 1.5, 1.0, 0.6, 0.3]) + rng.normal(size=d)
x = x.astype(np.float32)
xc = x.astype(np.float64) - x.astype(np.float64).mean(axis=0)
_, s, vt = np.linalg.svd(xc, full_matrices=False)
out = {
    "generator": "runtime/tests/data/gen_pca_svd.py (numpy %s)" % np.__version__,
    "n": n,
    "dim": d,
    "data": [float(v) for v in x.reshape(-1)],
    "components": [[float(v) for v in row] for row in vt],
    "variances": [float(v) for v in s**2 / (n - 1)],
}
with open("pca_svd_small.json", "w") as f:
    json.dump(out, f, indent=1)
