"""Judging in the grading process: compare what came back with the reference, in words."""
from __future__ import annotations

import numpy as np

from .spec import Check


def error_of(value) -> str | None:
    """The error message of a probe part, or None when the part produced a value."""
    return value.get("error") if isinstance(value, dict) and "error" in value else None


def same_shape(expected, got, what: str) -> tuple[bool, str]:
    if error_of(got):
        return False, f"{what}: {error_of(got)}"
    if not isinstance(got, np.ndarray):
        return False, f"{what}: expected an array, got {type(got).__name__}"
    if got.shape != expected.shape:
        return False, f"{what}: shape expected {tuple(expected.shape)}, got {tuple(got.shape)}"
    if got.dtype.kind == "f":
        for bad, word in ((np.isnan(got), "NaN"), (np.isinf(got), "infinite value")):
            bad = bad & np.isfinite(np.asarray(expected, dtype=np.float64))
            if bad.any():
                idx = tuple(int(i) for i in np.argwhere(bad)[0])
                return False, f"{what}: {word} in your output (first at index {idx})"
    return True, ""


def close(expected, got, what: str, atol: float = 1e-4, rtol: float = 1e-3) -> tuple[bool, str]:
    """Equal shapes, no NaN where the reference has none, values within tolerance."""
    ok, msg = same_shape(expected, got, what)
    if not ok:
        return ok, msg
    exp, val = np.asarray(expected, dtype=np.float64), np.asarray(got, dtype=np.float64)
    both = np.isfinite(exp) & np.isfinite(val)
    err = np.where(both, np.abs(val - exp), 0.0)
    if (~both & (exp != val) & ~(np.isnan(exp) & np.isnan(val))).any() or (err > atol + rtol * np.abs(exp)).any():
        idx = tuple(int(i) for i in np.unravel_index(np.argmax(err), err.shape)) if err.size else ()
        return False, (f"{what}: values differ from the expected ones (largest difference {err.max():.3g} "
                       f"at index {idx}; tolerance {atol:g} + {rtol:g}*|expected|)")
    return True, ""


def check(name: str, weight: float, result: tuple[bool, str]) -> Check:
    return Check(name, weight, bool(result[0]), result[1])
