"""Stored notebook outputs: printed package source is not stale, and no output names this machine.

Printed source (`inspect.getsource`):
The notebooks show code by printing it from the package, never by copying it; but a stored output
is a snapshot, and after a change to the package it shows code that no longer exists (the reviews
of notebooks 06 and 09 found such outputs). Every printed line must still be a line of vitcourse's
source, with its indentation: re-run the notebook after changing a function it prints.

Machine paths: a stored output that shows where the notebook ran (a traceback through the package,
a temporary folder) tells the reader nothing and ships the author's file system; notebooks write
relative paths and catch the errors they demonstrate.
"""
import re
import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted([*ROOT.glob("notebooks/*.ipynb"), *ROOT.glob("solutions/*.ipynb")])
PACKAGE_LINES = {line.rstrip() for f in (ROOT / "vitcourse").rglob("*.py")
                 for line in f.read_text(encoding="utf-8").splitlines()}


def printed_source_cells(path: Path):
    for i, cell in enumerate(json.loads(path.read_text(encoding="utf-8"))["cells"]):
        if cell["cell_type"] == "code" and "inspect.getsource(" in "".join(cell["source"]):
            text = "".join("".join(o.get("text", "")) for o in cell.get("outputs", [])
                           if o.get("output_type") == "stream" and o.get("name") == "stdout")
            yield i, [line.rstrip() for line in text.splitlines() if line.strip()]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_printed_source_matches_the_package(path):
    stale = [(i, line) for i, lines in printed_source_cells(path) for line in lines if line not in PACKAGE_LINES]
    assert not stale, (f"{path.name}: cell(s) {sorted({i for i, _ in stale})} print source that the package no "
                       f"longer has (re-run the notebook), e.g. {stale[0][1]!r}")


def test_the_check_sees_printed_source():
    # the notebooks do print package source: the check above is not vacuous
    assert sum(len(lines) for p in NOTEBOOKS for _, lines in printed_source_cells(p)) > 100


MACHINE_PATH = re.compile(r"(/work/|/tmp/|/root/|/home/[a-z]|[A-Z]:\\\\Users|site-packages)")


@pytest.mark.parametrize("path", [*NOTEBOOKS, *sorted(ROOT.glob("exercises/*.ipynb"))], ids=lambda p: p.name)
def test_no_machine_path_in_stored_outputs(path):
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    hits = [(i, m.group(0)) for i, cell in enumerate(cells) for output in cell.get("outputs", [])
            for m in [MACHINE_PATH.search(json.dumps(output))] if m]
    assert not hits, f"{path.name}: stored outputs of cell(s) {[i for i, _ in hits]} name a machine path ({hits[0][1]})"
