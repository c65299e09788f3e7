"""Paired comparisons and the noise rule: a difference becomes a sentence only when p < alpha.

Over seeds: a paired t-test (scipy.stats.ttest_rel), with Holm's adjustment (Holm 1979) when every
pair of several methods is tested. On one test set: McNemar's test (McNemar 1947).
"""
from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations

import numpy as np
from scipy import stats as st

from .summary import _values, summarize


@dataclass
class Comparison:
    """A − B: mean difference, its standard error, a p-value and the test that gave it."""
    names: tuple
    diff: float
    se: float
    p: float
    test: str
    alpha: float = 0.05
    higher_is_better: bool = True

    resolved = property(lambda self: bool(self.p < self.alpha))

    def sentence(self, digits: int = 3) -> str:
        a, b = self.names
        p = f"{self.p:.2g}"
        if (float(p) < self.alpha) != self.resolved:       # 0.0497 is not "0.05" next to a verdict
            p = f"{self.p:.3g}"
        detail = f"{self.test}, p = {p}"
        if not self.resolved:
            return (f"{a} vs {b}: not resolved at this scale (difference {self.diff:+.{digits}f} ± "
                    f"{self.se:.{digits}f}, {detail}).")
        win, lose = (a, b) if (self.diff > 0) == self.higher_is_better else (b, a)
        return f"{win} beats {lose} by {abs(self.diff):.{digits}f} ± {self.se:.{digits}f} ({detail})."

    def table(self, digits: int = 3) -> str:
        return Comparisons([self]).table(digits)

    def __repr__(self):
        return (f"Comparison({self.names[0]} − {self.names[1]} = {self.diff:+.3f} ± {self.se:.3f}, {self.test}, "
                f"p = {self.p:.2g}: {'resolved' if self.resolved else 'not resolved'})")


class Comparisons(list):
    """A list of `Comparison`s with one sentence per pair and a Markdown table."""

    def sentence(self, digits: int = 3) -> str:
        return " ".join(c.sentence(digits) for c in self)

    def table(self, digits: int = 3) -> str:
        rows = ["| A | B | A − B ± s.e. | test | p | verdict |", "|---|---|---|---|---|---|"]
        rows += [f"| {c.names[0]} | {c.names[1]} | {c.diff:+.{digits}f} ± {c.se:.{digits}f} | {c.test} | "
                 f"{c.p:.2g} | {'resolved' if c.resolved else 'not resolved'} |" for c in self]
        return "\n".join(rows)


def paired_seeds(a, b, names=("A", "B"), alpha: float = 0.05, higher_is_better: bool = True) -> Comparison:
    """Paired t-test over seeds (scipy.stats.ttest_rel): a[i] and b[i] come from the same seed
    (same split, same labels). The ± is the standard error of the mean paired difference."""
    a, b = _values(a, "a", 2), _values(b, "b", 2)
    if a.shape != b.shape:
        raise ValueError(f"a and b must pair one value per seed, got {a.size} and {b.size} values")
    d = a - b
    if np.ptp(d) == 0:               # identical differences: t is infinite (or 0/0 when all are 0)
        p = 1.0 if d[0] == 0 else 0.0
    else:
        p = float(st.ttest_rel(a, b).pvalue)
    se = float(np.std(d, ddof=1) / np.sqrt(d.size))
    return Comparison(tuple(names), float(d.mean()), se, p, f"paired t-test over {d.size} seeds", alpha,
                      higher_is_better)


def mcnemar(correct_a, correct_b, names=("A", "B"), alpha: float = 0.05, exact: bool | None = None) -> Comparison:
    """McNemar's test for two classifiers on the same test set, from per-example correctness.

    Only discordant examples count: n01 (A right, B wrong) and n10 (A wrong, B right). exact
    (default when n01 + n10 < 25): two-sided binomial test of n01 ~ Bin(n01 + n10, 1/2);
    else χ² = (|n01 − n10| − 1)² / (n01 + n10) with 1 degree of freedom. diff is the accuracy
    difference; se = √(n01 + n10 − (n01 − n10)²/N) / N, the s.e. of a paired difference.
    """
    ca, cb = (np.asarray(c.detach().cpu() if hasattr(c, "detach") else c) for c in (correct_a, correct_b))
    if ca.shape != cb.shape or ca.ndim != 1 or ca.dtype != bool or cb.dtype != bool:
        raise ValueError("correct_a and correct_b must be 1-D boolean arrays of equal length (e.g. preds == labels "
                         f"on the same test set), got {ca.dtype} {ca.shape} and {cb.dtype} {cb.shape}")
    n, n01, n10 = ca.size, int((ca & ~cb).sum()), int((~ca & cb).sum())
    exact = (n01 + n10) < 25 if exact is None else exact
    if n01 + n10 == 0:
        p = 1.0
    elif exact:
        p = float(st.binomtest(n01, n01 + n10, 0.5).pvalue)
    else:
        p = float(st.chi2.sf((abs(n01 - n10) - 1) ** 2 / (n01 + n10), 1))
    se = float(np.sqrt(max(n01 + n10 - (n01 - n10) ** 2 / n, 0.0)) / n)
    test = f"McNemar {'exact' if exact else 'χ²'}, {n01 + n10} of {n} discordant"
    return Comparison(tuple(names), (n01 - n10) / n, se, p, test, alpha)


def pairwise(results: dict, alpha: float = 0.05, correction: str | None = "holm",
             higher_is_better: bool = True) -> Comparisons:
    """Paired t-tests over seeds for every pair of {name: values}, best mean first in each pair.

    correction "holm" (Holm 1979) adjusts the p-values for the number of pairs, so a ranking of
    k methods is not k(k−1)/2 chances of a lucky "resolved"; None keeps the raw p-values.
    """
    if correction not in ("holm", None):
        raise ValueError(f"correction={correction!r}: expected 'holm' or None")
    sign = 1 if higher_is_better else -1
    order = sorted(results, key=lambda k: -sign * summarize(results[k], k).mean)
    out = Comparisons(paired_seeds(results[a], results[b], (a, b), alpha, higher_is_better)
                      for a, b in combinations(order, 2))
    return holm(out) if correction == "holm" else out


def holm(comparisons) -> Comparisons:
    """Holm's step-down adjustment (Holm 1979) of the p-values of several comparisons, in place:
    the family of claims made in one place is wrong anywhere with probability at most alpha."""
    out = Comparisons(comparisons)
    m, running = len(out), 0.0
    if m < 2:
        return out
    for rank, i in enumerate(np.argsort([c.p for c in out], kind="stable")):
        running = max(running, min(1.0, (m - rank) * out[i].p))
        out[i].p, out[i].test = running, out[i].test + f", Holm over {m}"
    return out
