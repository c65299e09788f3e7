"""What a graded test is, and the helpers its three parts use.

A `Test` has three parts that run in two places:
- `make_inputs(rng, reference)` runs in the grading process: inputs and weights for the probe;
- `probe(namespace, inputs)` runs the submission's code in its own sandboxed process (and the
  reference solution's in the grading process) and returns plain data only;
- `judge(expected, got, inputs)` runs in the grading process and returns weighted `Check`s: the
  partial credit. Points never come from anything the submission prints or claims.
"""
from __future__ import annotations

import math
import traceback
from dataclasses import dataclass, field
from typing import Callable

import numpy as np


@dataclass
class Check:
    name: str
    weight: float
    passed: bool
    message: str = ""


@dataclass
class Test:
    name: str                       # gradebook column
    points: float
    graded: tuple                   # names the submission must define
    what: str                       # one line: what is tested
    make_inputs: Callable
    probe: Callable
    judge: Callable
    rescue: Callable | None = None  # run in a second sandbox holding the correct parts this test builds on


@dataclass
class WrittenItem:
    id: str                         # gradebook column, e.g. "W1"
    points: float
    criteria: str


@dataclass
class Assignment:
    name: str                       # "tp1"
    title: str
    notebook: str                   # master notebook file name in solutions/
    due: str                        # e.g. "before class 3"
    tests: list
    written: list
    allowed_vitcourse: tuple        # helpers graded code may use (everything else is flagged)
    preload: tuple = field(default=("torch", "numpy"))
    rescue_modules: tuple = ()      # course modules only the rescue sandbox holds (the correct parts)

    @property
    def code_points(self) -> float:
        return sum(t.points for t in self.tests)

    @property
    def written_points(self) -> float:
        return sum(w.points for w in self.written)

    @property
    def total_points(self) -> float:
        return self.code_points + self.written_points

    def test(self, name: str) -> Test:
        for t in self.tests:
            if t.name == name:
                return t
        raise ValueError(f"{self.name} has no test {name!r}; its tests are {[t.name for t in self.tests]}")


def score(test: Test, checks: list) -> float:
    """Points earned: the weighted share of the checks that passed."""
    total = sum(c.weight for c in checks)
    return 0.0 if total <= 0 else round(test.points * sum(c.weight for c in checks if c.passed) / total, 4)


# --- child side: running the submission's code ---------------------------------------------------

class ProbeError(Exception):
    """A problem found while probing, with a message meant for the student."""


def describe_error(e: BaseException) -> str:
    """`Type: message (cell c, line l)` pointing at the deepest frame in the student's own code."""
    where = ""
    for frame in traceback.extract_tb(e.__traceback__):
        if frame.filename.startswith("<cell "):
            where = f" ({frame.filename[1:-1]}, line {frame.lineno})"
    if isinstance(e, ProbeError):
        return f"{e}{where}"
    if isinstance(e, SystemExit):
        return f"your code called sys.exit({e.code!r}){where}"
    text = str(e).strip().splitlines()[0][:300] if str(e).strip() else ""
    return f"{type(e).__name__}{': ' + text if text else ''}{where}"


def attempt(out: dict, key: str, fn: Callable):
    """out[key] = fn(), or {'error': ...} if it raises anything (even SystemExit)."""
    try:
        out[key] = fn()
    except BaseException as e:                              # noqa: BLE001 - the student's code may raise anything
        out[key] = {"error": describe_error(e)}
    return out[key]


def as_array(x, what: str) -> np.ndarray:
    """A plain numpy copy of a torch tensor returned by the student, or ProbeError."""
    import torch
    if isinstance(x, torch.Tensor):
        return torch.Tensor.as_subclass(x, torch.Tensor).detach().cpu().numpy().copy()
    raise ProbeError(f"{what} should be a torch.Tensor, got {type(x).__name__}")


def as_number(x, what: str) -> float:
    import torch
    if isinstance(x, bool) or not isinstance(x, (int, float, np.integer, np.floating, torch.Tensor)):
        raise ProbeError(f"{what} should be a number, got {type(x).__name__}")
    if isinstance(x, torch.Tensor):
        if x.numel() != 1:
            raise ProbeError(f"{what} should be a single number, got a tensor of shape {tuple(x.shape)}")
        x = torch.Tensor.as_subclass(x, torch.Tensor).item()
    return float(x)


def load_weights(module, weights: dict, conv_as_linear: tuple = ()):
    """Load the grader's weights into the student's module (strict), or explain what does not fit.

    `conv_as_linear` names Conv2d weights that the student may also hold as a Linear on patches:
    (D, C, P, P) is then rearranged to (D, P*P*C), the (p1 p2 c) patch order.
    """
    import torch
    if not isinstance(module, torch.nn.Module):
        raise ProbeError(f"expected a torch.nn.Module, got {type(module).__name__}")
    params = dict(module.named_parameters())
    theirs = module.state_dict()
    state = {}
    for name, value in weights.items():
        t = torch.as_tensor(value)
        if name in conv_as_linear and name in theirs and theirs[name].dim() == 2 and t.dim() == 4:
            t = t.permute(0, 2, 3, 1).reshape(t.shape[0], -1)               # d c p1 p2 -> d (p1 p2 c)
        state[name] = t
    missing = sorted(set(state) - set(theirs))
    unexpected = sorted(set(params) - set(state))           # extra buffers are the student's business
    if missing or unexpected:
        raise ProbeError("parameter names differ from the ones the exercise asks for: "
                         f"missing {_short(missing)}, unexpected {_short(unexpected)}")
    bad = [f"{k} {tuple(theirs[k].shape)} (expected {tuple(v.shape)})" for k, v in state.items()
           if tuple(theirs[k].shape) != tuple(v.shape)]
    if bad:
        raise ProbeError(f"parameter shapes differ: {_short(bad)}")
    with torch.no_grad():
        module.load_state_dict(state, strict=False)


def _short(items, n: int = 4) -> str:
    items = list(items)
    return "[" + ", ".join(items[:n]) + (f", ... {len(items) - n} more" if len(items) > n else "") + "]"


def random_state(module, rng: np.random.Generator) -> dict:
    """A state dict with every tensor redrawn: weights ~ N(0, 1/fan_in), norms ~ 1 + N(0, 0.1^2),
    biases and tokens ~ N(0, 0.1^2) — large enough that a wrong formula shows in the outputs."""
    state = {}
    for name, p in module.state_dict().items():
        shape = tuple(p.shape)
        if name.endswith("weight") and len(shape) >= 2:
            fan_in = int(np.prod(shape[1:]))
            value = rng.normal(0, 1 / math.sqrt(fan_in), shape)
        elif "norm" in name and name.endswith("weight"):
            value = 1 + rng.normal(0, 0.1, shape)
        else:
            value = rng.normal(0, 0.1 if "bias" in name else 0.5, shape)
        state[name] = value.astype(np.float32)
    return state
