"""Hidden tests run inside a notebook (nbgrader style): the grader's own tests, in-process.

The master notebooks call `hidden_test` between `### BEGIN HIDDEN TESTS` / `### END HIDDEN TESTS`,
so an nbgrader course runs exactly the checks `python -m vitcourse grade` runs. It needs the
master notebooks (the instructor's `solutions/`); students never see these cells.
"""
from __future__ import annotations

from . import codec
from .assignments import get_assignment
from .reference import reference_data
from .spec import score


def hidden_test(assignment_name: str, test_name: str, namespace: dict, solutions=None) -> float:
    """Run one graded test on the definitions in `namespace`; AssertionError unless full marks."""
    import torch
    test = get_assignment(assignment_name).test(test_name)
    data = reference_data(assignment_name, solutions)[test_name]
    missing = [n for n in test.graded if n not in namespace]
    if missing:
        raise AssertionError(f"{test_name}: not defined: {missing}")
    torch.manual_seed(0)
    got = codec.decode(codec.encode(test.probe(namespace, data["inputs"])))
    checks = test.judge(data["expected"], got, data["inputs"])
    points = score(test, checks)
    print(f"{test_name}: {points:g} / {test.points:g}")
    failed = [f"{c.name}: {c.message}" for c in checks if not c.passed]
    if failed:
        raise AssertionError(f"{test_name}: " + "; ".join(failed))
    return points
