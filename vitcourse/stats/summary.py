"""Values of one quantity over seeds: mean ± sd (ddof=1), standard error, tables and error bars."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


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


def errorbar(results: dict, ax=None, x=None, label=None, dots: bool = True, **kw):
    """Plot mean ± sd of {name: values over seeds} at x (default 0, 1, ... named by the keys),
    with every seed's value as a small dot; `kw` go to `ax.errorbar`. Returns the axes."""
    from ..viz import _plt
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
