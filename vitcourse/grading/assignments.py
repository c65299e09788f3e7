"""The registry of graded exercises."""
from __future__ import annotations

import importlib

ASSIGNMENTS = {"tp1": "vitcourse.grading.tp1", "tp2": "vitcourse.grading.tp2", "tp3": "vitcourse.grading.tp3",
               "tp4": "vitcourse.grading.tp4"}
# Optional TPs: each one handed in replaces the lowest required TP grade when it is higher (`final`).
OPTIONAL = ("tp3", "tp4")


def get_assignment(name: str):
    """The `Assignment` of a TP by name ("tp1" ... "tp4")."""
    if name not in ASSIGNMENTS:
        raise ValueError(f"unknown exercise {name!r}: expected one of {sorted(ASSIGNMENTS)}")
    return importlib.import_module(ASSIGNMENTS[name]).ASSIGNMENT
