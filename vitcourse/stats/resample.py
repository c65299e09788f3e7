"""Resampling: bootstrap intervals over test examples, and seeded few-label draws."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy import stats as st

from .summary import _values


@dataclass(frozen=True)
class Interval:
    estimate: float
    low: float
    high: float
    confidence: float = 0.95
    method: str = field(default="BCa bootstrap")

    def __str__(self):
        return f"{self.estimate:.3f} [{self.low:.3f}, {self.high:.3f}]"

    def __repr__(self):
        return f"Interval({self}, {self.confidence:.0%} {self.method})"


def bootstrap_ci(values, statistic=np.mean, confidence: float = 0.95, n_resamples: int = 9999,
                 seed: int = 0, method: str = "BCa") -> Interval:
    """Bootstrap interval (scipy.stats.bootstrap) of statistic(values) over independent examples.

    Accuracy: values = correct.astype(float); a paired accuracy difference on one test set:
    values = correct_a.astype(float) - correct_b.astype(float) (resampling the examples).
    """
    v = _values(values, "values", 8)    # 3 seeds cannot be bootstrapped: use paired_seeds
    est = float(statistic(v))
    if np.ptp(v) == 0:
        return Interval(est, est, est, confidence, f"{method} bootstrap (constant values)")
    res = st.bootstrap((v,), statistic, confidence_level=confidence, n_resamples=n_resamples,
                       method=method, rng=np.random.default_rng(seed))
    return Interval(est, float(res.confidence_interval.low), float(res.confidence_interval.high),
                    confidence, f"{method} bootstrap")


def few_labels(labels, k: int, seed: int = 0, classes=None) -> np.ndarray:
    """Indices of k examples of every class (class order, drawn without replacement, seeded)."""
    y = np.asarray(labels.detach().cpu() if hasattr(labels, "detach") else labels)
    classes = np.unique(y) if classes is None else classes
    if int(k) != k or k < 1:
        raise ValueError(f"k must be a positive integer (examples per class), got {k}")
    rng, idx = np.random.default_rng(seed), []
    for c in classes:
        pool = np.flatnonzero(y == c)
        if pool.size < k:
            raise ValueError(f"class {c} has {pool.size} examples, fewer than k={k}")
        idx.append(rng.choice(pool, int(k), replace=False))
    return np.concatenate(idx).astype(np.int64)
