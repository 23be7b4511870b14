#!/usr/bin/env python3
"""Fit the polynomial of the wasm kernels' erfc (wasm/kernels.ts, erfc4) and print its coefficients.

For z >= 0, erfc z = t exp(-z^2 + P(t)) with t = 1 / (1 + z/2); P (degree 11) is fitted by least squares to
ln(erfc(z) / t) + z^2 on Chebyshev nodes of t covering z in [0, 10], with Python's float64 math.erfc as the
reference. Prints the largest error of the fit and the constants as AssemblyScript declarations.

    python3 packages/core/scripts/fit-erfc.py
"""
import math

import numpy as np

DEGREE = 11
NODES = 4000
Z_MAX = 10.0

k = np.arange(NODES)
t = 0.5 + 0.5 * np.cos(np.pi * (k + 0.5) / NODES)
t = t[t >= 1 / (1 + Z_MAX / 2)]
z = (1 / t - 1) * 2
y = np.array([math.log(math.erfc(zi) / ti) + zi * zi for zi, ti in zip(z, t)])
V = np.vander(t, DEGREE + 1, increasing=True)
c, *_ = np.linalg.lstsq(V, y, rcond=None)
print(f"// largest error of the fit: {np.abs(V @ c - y).max():.1e}")
print(", ".join(f"ERFC_P{i}: f32 = {float(v)!r}" for i, v in enumerate(c)).join(["const ", ""]))
