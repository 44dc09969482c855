#!/usr/bin/python3
"""Independent numpy reference for the sparsity metrics (docs/api.md, The features).

    reference_metrics.py OUT.json

Writes a set of test vectors (Gaussian, heavy-tailed, with massive-activation
outliers, constant, one-hot, odd sizes) and each vector's metrics, computed
here straight from the definitions, for the C++ metrics test to match.
"""
import json
import math
import sys

import numpy as np


def metrics(h):
    h = np.asarray(h, dtype=np.float64)
    d = h.size
    a = np.abs(h)
    out = {}
    out["heavy_tail_fraction"] = float(np.mean(a > a.mean() + a.std()))  # population std
    desc = np.sort(a)[::-1]
    for p, tag in ((0.01, "1"), (0.05, "5"), (0.10, "10")):
        k = max(1, int(math.floor(p * d)))
        out["top%s_energy" % tag] = float(np.sum(desc[:k] ** 2) / np.sum(a ** 2))
        out["top%s_mass" % tag] = float(np.sum(desc[:k]) / np.sum(a))
    out["hoyer"] = float((math.sqrt(d) - a.sum() / math.sqrt(np.sum(a ** 2))) / (math.sqrt(d) - 1))

    def eff_rank(p):
        p = p[p > 0]
        return float(math.exp(-np.sum(p * np.log(p))) / d)

    out["effective_rank_l1"] = eff_rank(a / a.sum())
    out["effective_rank_l2"] = eff_rank(h ** 2 / np.sum(h ** 2))
    asc = np.sort(a)
    i = np.arange(1, d + 1)
    out["gini"] = float(np.sum((2 * i - d - 1) * asc) / (d * asc.sum()))
    c = a - a.mean()
    out["kurtosis"] = float(np.mean(c ** 4) / np.mean(c ** 2) ** 2 - 3.0)
    out["participation_ratio"] = float(np.sum(h ** 2) ** 2 / np.sum(h ** 4) / d)
    out["max_abs_over_rms"] = float(a.max() / math.sqrt(np.mean(h ** 2)))
    return out


def vectors():
    rng = np.random.default_rng(7)
    yield rng.standard_normal(896)
    yield rng.standard_t(df=2, size=896)
    v = rng.standard_normal(4096)
    v[[17, 2049]] = 60.0  # two massive-activation channels at 60 sigma
    yield v
    yield rng.laplace(size=257)
    yield np.abs(rng.standard_normal(64)) + 0.5  # positive, no sign changes
    yield np.concatenate([np.full(99, 0.01), [3.0]])
    yield rng.standard_normal(7)  # d < 100: every top-k is 1 element


def main():
    cases = []
    for v in vectors():
        v = v.astype(np.float32)  # the C++ side receives float32
        cases.append({"vector": [float(x) for x in v], "metrics": metrics(v)})
    with open(sys.argv[1], "w") as f:
        json.dump(cases, f)


if __name__ == "__main__":
    main()
