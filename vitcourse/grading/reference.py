"""The reference: the master notebook's own definitions, run in the grading process only.

Inputs are drawn once per grading run from a seed, and the expected values are the probes' answers
on the reference solution. Neither leaves this process except the inputs, which the submission
needs to compute its answer.
"""
from __future__ import annotations

import functools
import os
from pathlib import Path

import numpy as np

from . import codec
from .assignments import get_assignment
from .extract import extract_file


def default_solutions_dir() -> Path:
    """$VITCOURSE_SOLUTIONS, else `solutions/` next to the `vitcourse` package (a repository checkout)."""
    env = os.environ.get("VITCOURSE_SOLUTIONS")
    return Path(env) if env else Path(__file__).resolve().parents[2] / "solutions"


def master_path(assignment_name: str, solutions=None) -> Path:
    a = get_assignment(assignment_name)
    path = Path(solutions or default_solutions_dir()) / a.notebook
    if not path.is_file():
        raise ValueError(f"the master notebook of {a.name} is not at {path}: pass the solutions folder "
                         f"(--solutions) or set VITCOURSE_SOLUTIONS")
    return path


def load_reference(assignment_name: str, solutions=None) -> dict:
    """A namespace holding the master notebook's definitions (imports, functions, classes, constants)."""
    path = master_path(assignment_name, solutions)
    return _load(assignment_name, str(path), path.stat().st_mtime_ns)


@functools.lru_cache(maxsize=8)
def _load(assignment_name: str, path: str, mtime: int) -> dict:
    ns = {"__name__": "__reference__"}
    ext = extract_file(path, roots=[n for t in get_assignment(assignment_name).tests for n in t.graded])
    if ext.problems:
        raise RuntimeError(f"the master notebook {path} does not parse: {ext.problems}")
    for st in ext.statements:
        code = compile("\n" * (st.line - 1) + st.source, f"<reference cell {st.cell}>", "exec")
        exec(code, ns)
    return ns


def _roundtrip(value):
    return codec.decode(codec.encode(value))


def reference_data(assignment_name: str, solutions=None, seed: int = 0) -> dict:
    """{test name: {"inputs": ..., "expected": ...}} as plain data (what goes through the codec)."""
    path = master_path(assignment_name, solutions)
    return _data(assignment_name, str(path), path.stat().st_mtime_ns, seed)


@functools.lru_cache(maxsize=8)
def _data(assignment_name: str, path: str, mtime: int, seed: int) -> dict:
    import torch
    ns = _load(assignment_name, path, mtime)
    out = {}
    for i, test in enumerate(get_assignment(assignment_name).tests):
        rng = np.random.default_rng([seed, i])
        inputs = _roundtrip(test.make_inputs(rng, ns))
        torch.manual_seed(0)
        expected = _roundtrip(test.probe(ns, inputs))
        errors = {k: v["error"] for k, v in expected.items() if isinstance(v, dict) and set(v) == {"error"}}
        if errors:
            raise RuntimeError(f"the reference solution fails its own test {test.name}: {errors}")
        out[test.name] = {"inputs": inputs, "expected": expected}
    return out
