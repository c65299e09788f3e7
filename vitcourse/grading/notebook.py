"""Master notebooks -> student notebooks, with nbgrader's markers (so an nbgrader course can use
the same files):

- code between `### BEGIN SOLUTION` / `### END SOLUTION` becomes `raise NotImplementedError()`
  (in a markdown cell: `YOUR ANSWER HERE`);
- code between `### BEGIN HIDDEN TESTS` / `### END HIDDEN TESTS` is removed;
- cells tagged `instructor` are removed; outputs and execution counts are cleared.
"""
from __future__ import annotations

import json
from pathlib import Path

BEGIN_SOLUTION, END_SOLUTION = "### BEGIN SOLUTION", "### END SOLUTION"
BEGIN_HIDDEN, END_HIDDEN = "### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS"
INSTRUCTOR_TAG = "instructor"
CODE_STUB = "# YOUR CODE HERE\nraise NotImplementedError()"
ANSWER_STUB = "YOUR ANSWER HERE"
KEPT_CELL_METADATA = ("tags", "nbgrader")
KEPT_NOTEBOOK_METADATA = ("kernelspec", "language_info")


def read_notebook(path) -> dict:
    """Read an .ipynb as plain JSON (nbformat 4)."""
    path = Path(path)
    try:
        nb = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ValueError(f"{path} is not a readable notebook (JSON): {e}") from None
    if not isinstance(nb, dict) or not isinstance(nb.get("cells"), list):
        raise ValueError(f"{path} is not a Jupyter notebook: no list of cells")
    return nb


def cell_source(cell: dict) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else str(src)


def _lines(text: str) -> list[str]:
    """nbformat's on-disk form: a list of lines, each but the last ending in a newline."""
    return text.splitlines(keepends=True)


def dumps_notebook(nb: dict) -> str:
    """Serialise as nbformat does (sorted keys, indent 1, sources as lists of lines)."""
    nb = json.loads(json.dumps(nb))
    for cell in nb["cells"]:
        cell["source"] = _lines(cell_source(cell))
    return json.dumps(nb, sort_keys=True, indent=1, ensure_ascii=False) + "\n"


def _replace_regions(text: str, begin: str, end: str, stub: str | None, where: str) -> str:
    """Replace each begin..end region (marker lines included) by `stub` at the marker's indentation."""
    out, inside, indent = [], False, ""
    for number, line in enumerate(text.split("\n"), start=1):
        stripped = line.strip()
        if stripped == begin:
            if inside:
                raise ValueError(f"{where}, line {number}: {begin!r} inside another {begin!r} (missing {end!r})")
            inside, indent = True, line[: len(line) - len(line.lstrip())]
            if stub is not None:
                out.extend(indent + s for s in stub.split("\n"))
        elif stripped == end:
            if not inside:
                raise ValueError(f"{where}, line {number}: {end!r} without a {begin!r} before it")
            inside = False
        elif not inside:
            out.append(line)
    if inside:
        raise ValueError(f"{where}: {begin!r} is never closed by {end!r}")
    return "\n".join(out)


def has_marker(text: str, marker: str) -> bool:
    return any(line.strip() == marker for line in text.split("\n"))


def student_cell(cell: dict, where: str) -> dict | None:
    """The student's version of one master cell, or None if the cell is instructor-only."""
    meta = cell.get("metadata", {})
    if INSTRUCTOR_TAG in meta.get("tags", []):
        return None
    text = cell_source(cell)
    if cell["cell_type"] == "code":
        text = _replace_regions(text, BEGIN_HIDDEN, END_HIDDEN, None, where).rstrip("\n")
        text = _replace_regions(text, BEGIN_SOLUTION, END_SOLUTION, CODE_STUB, where)
    elif has_marker(text, BEGIN_HIDDEN):
        raise ValueError(f"{where}: hidden tests are only allowed in code cells")
    else:
        text = _replace_regions(text, BEGIN_SOLUTION, END_SOLUTION, ANSWER_STUB, where)
    new = {"cell_type": cell["cell_type"], "metadata": {k: meta[k] for k in KEPT_CELL_METADATA if k in meta},
           "source": text}
    if cell["cell_type"] == "code":
        new.update(execution_count=None, outputs=[])
    if "id" in cell:
        new["id"] = cell["id"]
    return new


def make_exercise(master: dict, name: str = "notebook") -> dict:
    """The student notebook for a master notebook (a new dict; the master is not changed)."""
    cells = []
    for i, cell in enumerate(master["cells"]):
        new = student_cell(cell, f"{name}, cell {i}")
        if new is not None:
            cells.append(new)
    meta = master.get("metadata", {})
    return {"cells": cells, "metadata": {k: meta[k] for k in KEPT_NOTEBOOK_METADATA if k in meta},
            "nbformat": master.get("nbformat", 4), "nbformat_minor": master.get("nbformat_minor", 5)}


def exercise_texts(solutions_dir) -> dict[str, str]:
    """{file name: generated exercise text} for every master notebook in `solutions_dir`."""
    solutions_dir = Path(solutions_dir)
    masters = sorted(solutions_dir.glob("tp*.ipynb"))
    if not masters:
        raise ValueError(f"no master notebooks (tp*.ipynb) in {solutions_dir}")
    return {p.name: dumps_notebook(make_exercise(read_notebook(p), p.name)) for p in masters}


def write_exercises(solutions_dir, exercises_dir) -> list[str]:
    """Regenerate `exercises_dir` from `solutions_dir`; return the names of the files written."""
    exercises_dir = Path(exercises_dir)
    exercises_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in exercise_texts(solutions_dir).items():
        target = exercises_dir / name
        if not target.exists() or target.read_text(encoding="utf-8") != text:
            target.write_text(text, encoding="utf-8")
            written.append(name)
    return written


def out_of_sync(solutions_dir, exercises_dir) -> list[str]:
    """Names of exercise files that differ from what `write_exercises` would write (or are missing/extra)."""
    expected = exercise_texts(solutions_dir)
    exercises_dir = Path(exercises_dir)
    stale = [n for n, text in expected.items()
             if not (exercises_dir / n).exists() or (exercises_dir / n).read_text(encoding="utf-8") != text]
    extra = [p.name for p in exercises_dir.glob("tp*.ipynb") if p.name not in expected]
    return stale + extra
