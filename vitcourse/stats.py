"""Is a difference a result? Repeated runs over seeds, paired tests, bootstrap intervals, few labels.

`book/project.md`: "a difference smaller than that spread is not a result". One rule for every
notebook: a comparison becomes a sentence ("A beats B by x ± y (…, p = …)") only when its paired
test gives p < alpha; otherwise it reads "not resolved at this scale".

    s = summarize([0.91, 0.93, 0.90])        # Summary: mean ± sd (ddof=1), s.e. = sd/√n, n
    summary_table({"A": a, "B": b})          # Markdown: mean ± sd, s.e., n and every value
    c = paired_seeds(a, b, names=("A", "B")) # paired t-test over seeds (scipy.stats.ttest_rel)
    c = mcnemar(correct_a, correct_b)        # two classifiers, one test set (per-example correctness)
    c.resolved, c.sentence(), c.table()      # Comparison: diff (A − B), se, p
    pairwise({"A": a, "B": b, "C": c})       # every pair, Holm-adjusted; .sentence(), .table()
    bootstrap_ci(correct.astype(float))      # Interval via scipy.stats.bootstrap (BCa)
    few_labels(y, k=5, seed=0)               # indices: k random examples of every class
    errorbar(results, ax)                    # mean ± sd with every seed's value as a dot

Caveats. With n = 3 seeds the t-test has 2 degrees of freedom (critical |t| = 4.30 at 0.05):
only large, consistent differences resolve, and "not resolved" never means "equal". The t-test
assumes roughly normal differences; McNemar (McNemar 1947; exact binomial when fewer than 25
examples are discordant) assumes nothing but tests one trained pair on one test set, so it
ignores seed-to-seed variation. Bootstrap over test examples (hundreds), not over 3 seeds.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from itertools import combinations

import numpy as np
from scipy import stats as st


def _values(x, name: str, min_n: int = 1) -> np.ndarray:
    v = np.asarray(x.detach().cpu() if hasattr(x, "detach") else x, dtype=float).ravel()
    if v.size < min_n or not np.isfinite(v).all():
        raise ValueError(f"{name} must hold at least {min_n} finite number(s), got {v.tolist()}")
    return v


@dataclass(frozen=True)
class Summary:
    """Values of one quantity over seeds: mean, sd (ddof=1), standard error of the mean."""
    values: tuple
    name: str = ""

    n = property(lambda self: len(self.values))
    mean = property(lambda self: float(np.mean(self.values)))
    sd = property(lambda self: float(np.std(self.values, ddof=1)) if self.n > 1 else float("nan"))
    se = property(lambda self: self.sd / np.sqrt(self.n))

    def __str__(self, digits: int = 3):
        return f"{self.mean:.{digits}f} ± {self.sd:.{digits}f}"

    def __repr__(self):
        return f"Summary({self.name + ': ' if self.name else ''}{self} (mean ± sd), n = {self.n})"

    def table(self, digits: int = 3) -> str:
        return summary_table({self.name or "value": self.values}, digits)


def summarize(values, name: str = "") -> Summary:
    return Summary(tuple(_values(values, name or "values").tolist()), name)


def summary_table(results: dict, digits: int = 3) -> str:
    """Markdown table of {name: values over seeds}: mean ± sd, s.e., n and the values themselves."""
    rows = ["| | mean ± sd | s.e. | n | values |", "|---|---|---|---|---|"]
    for name, v in results.items():
        s = summarize(v, name)
        rows.append(f"| {name} | {s.__str__(digits)} | {s.se:.{digits}f} | {s.n} | "
                    + ", ".join(f"{x:.{digits}f}" for x in s.values) + " |")
    return "\n".join(rows)


def accuracy_se(p: float, n: int) -> float:
    """Binomial standard error of one accuracy p measured on n test examples: √(p(1−p)/n)."""
    if not 0 <= p <= 1 or n < 1:
        raise ValueError(f"need an accuracy 0 <= p <= 1 and n >= 1 test examples, got p={p}, n={n}")
    return float(np.sqrt(p * (1 - p) / n))


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
        detail = f"{self.test}, p = {self.p:.2g}"
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
    if correction == "holm" and len(out) > 1:
        m, running = len(out), 0.0
        for rank, i in enumerate(np.argsort([c.p for c in out], kind="stable")):
            running = max(running, min(1.0, (m - rank) * out[i].p))
            out[i].p, out[i].test = running, out[i].test + f", Holm over {m} pairs"
    return out


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


def errorbar(results: dict, ax=None, x=None, label=None, dots: bool = True, **kw):
    """Plot mean ± sd of {name: values over seeds} at x (default 0, 1, ... named by the keys),
    with every seed's value as a small dot; `kw` go to `ax.errorbar`. Returns the axes."""
    from .viz import _plt
    ax = ax if ax is not None else _plt().subplots(figsize=(5, 3.4), layout="constrained")[1]
    s = [summarize(v, k) for k, v in results.items()]
    xs = np.arange(len(s)) if x is None else np.asarray(x, dtype=float)
    kw.setdefault("fmt", "o" if x is None else "o-")           # categories are not joined by a line
    line = ax.errorbar(xs, [q.mean for q in s], yerr=[q.sd for q in s], capsize=4, label=label, **kw)
    if dots:
        for xi, q in zip(xs, s):
            ax.plot([xi] * q.n, q.values, ".", color=line[0].get_color(), alpha=0.5, ms=5)
    if x is None:
        ax.set_xticks(xs, [q.name for q in s])
    return ax
