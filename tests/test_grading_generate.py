"""Exercise generation from the master notebooks: markers, stubs, hidden tests, sync, statements."""
import ast
import json
import re
from pathlib import Path

import pytest

from vitcourse.grading.assignments import ASSIGNMENTS, get_assignment
from vitcourse.grading.extract import strip_magics
from vitcourse.grading.notebook import (ANSWER_STUB, dumps_notebook, exercise_texts, make_exercise, out_of_sync,
                                        read_notebook, write_exercises)

ROOT = Path(__file__).resolve().parents[1]
SOLUTIONS, EXERCISES = ROOT / "solutions", ROOT / "exercises"


def nb(*cells):
    out = []
    for kind, source, *meta in cells:
        cell = {"cell_type": kind, "metadata": meta[0] if meta else {}, "source": source}
        if kind == "code":
            cell.update(execution_count=3, outputs=[{"output_type": "stream", "name": "stdout", "text": "hi"}])
        out.append(cell)
    return {"cells": out, "metadata": {"kernelspec": {"name": "python3"}, "widgets": {"state": 1}},
            "nbformat": 4, "nbformat_minor": 5}


def test_solution_region_becomes_an_indented_stub():
    master = nb(("code", 'def f(x):\n    """doc"""\n    ### BEGIN SOLUTION\n    return x + 1\n    ### END SOLUTION\n'))
    src = make_exercise(master)["cells"][0]["source"]
    assert src == 'def f(x):\n    """doc"""\n    # YOUR CODE HERE\n    raise NotImplementedError()'
    ns = {}
    exec(src, ns)
    with pytest.raises(NotImplementedError):
        ns["f"](1)


def test_hidden_tests_removed_public_tests_kept_outputs_cleared():
    master = nb(("code", "check(f)\n### BEGIN HIDDEN TESTS\nassert f(1) == 2\n### END HIDDEN TESTS\n"))
    cell = make_exercise(master)["cells"][0]
    assert cell["source"] == "check(f)"
    assert cell["outputs"] == [] and cell["execution_count"] is None


def test_instructor_cells_removed_and_metadata_trimmed():
    master = nb(("markdown", "statement"), ("code", "secret = 1", {"tags": ["instructor"]}),
                ("code", "x = 1", {"tags": ["parameters"], "collapsed": True, "nbgrader": {"grade": False}}))
    ex = make_exercise(master)
    assert [c["source"] for c in ex["cells"]] == ["statement", "x = 1"]
    assert ex["cells"][1]["metadata"] == {"tags": ["parameters"], "nbgrader": {"grade": False}}
    assert "widgets" not in ex["metadata"]


def test_markdown_answer_region():
    master = nb(("markdown", "**W1.** Discuss.\n\n### BEGIN SOLUTION\nThe model answer.\n### END SOLUTION\n"))
    assert make_exercise(master)["cells"][0]["source"] == f"**W1.** Discuss.\n\n{ANSWER_STUB}\n"


@pytest.mark.parametrize("source, words", [
    ("### BEGIN SOLUTION\nx = 1\n", "never closed"),
    ("x = 1\n### END SOLUTION\n", "without a"),
    ("### BEGIN SOLUTION\n### BEGIN SOLUTION\n### END SOLUTION\n", "inside another"),
])
def test_unbalanced_markers_name_the_cell(source, words):
    with pytest.raises(ValueError, match=words) as e:
        make_exercise(nb(("markdown", "intro"), ("code", source)), "tp9.ipynb")
    assert "tp9.ipynb, cell 1" in str(e.value)


def test_hidden_tests_in_markdown_are_refused():
    with pytest.raises(ValueError, match="only allowed in code cells"):
        make_exercise(nb(("markdown", "### BEGIN HIDDEN TESTS\nx\n### END HIDDEN TESTS")))


def test_write_and_sync(tmp_path):
    (tmp_path / "sol").mkdir()
    (tmp_path / "sol" / "tp7.ipynb").write_text(dumps_notebook(nb(("code", "### BEGIN SOLUTION\nx = 1\n### END SOLUTION"))))
    assert write_exercises(tmp_path / "sol", tmp_path / "ex") == ["tp7.ipynb"]
    assert write_exercises(tmp_path / "sol", tmp_path / "ex") == []                 # idempotent
    assert out_of_sync(tmp_path / "sol", tmp_path / "ex") == []
    (tmp_path / "ex" / "tp7.ipynb").write_text("edited by hand")
    (tmp_path / "ex" / "tp8.ipynb").write_text("{}")
    assert out_of_sync(tmp_path / "sol", tmp_path / "ex") == ["tp7.ipynb", "tp8.ipynb"]


def test_no_master_notebooks_is_a_clear_error(tmp_path):
    with pytest.raises(ValueError, match="no master notebooks"):
        exercise_texts(tmp_path)


# --- the repository's TPs ------------------------------------------------------------------------

def test_exercises_are_in_sync_with_solutions():
    """exercises/ must be exactly what `make exercises` generates (regenerated in memory)."""
    stale = out_of_sync(SOLUTIONS, EXERCISES)
    assert not stale, f"exercises/ is out of date for {stale}: run `make exercises`"


@pytest.mark.parametrize("name", sorted(ASSIGNMENTS))
def test_exercise_has_no_solutions_hidden_tests_or_outputs(name):
    a = get_assignment(name)
    ex = read_notebook(EXERCISES / a.notebook)
    text = json.dumps(ex)
    for marker in ("BEGIN SOLUTION", "END SOLUTION", "HIDDEN TESTS", "hidden_test", "Model answer", "instructor"):
        assert marker not in text, marker
    for cell in ex["cells"]:
        if cell["cell_type"] == "code":
            assert cell["outputs"] == [] and cell["execution_count"] is None
            ast.parse(strip_magics("".join(cell["source"])))                           # stubs are valid Python


@pytest.mark.parametrize("name", sorted(ASSIGNMENTS))
def test_statement_points_and_rubric_match_the_grader(name):
    """nbgrader points, the rubric table in the statement and the grader's spec agree."""
    a = get_assignment(name)
    master = read_notebook(SOLUTIONS / a.notebook)
    graded = {c["metadata"]["nbgrader"]["grade_id"]: c["metadata"]["nbgrader"]["points"]
              for c in master["cells"] if c["metadata"].get("nbgrader", {}).get("grade")}
    spec = {t.name: t.points for t in a.tests} | {w.id: w.points for w in a.written}
    assert graded == spec
    statement = "".join(master["cells"][0]["source"])
    table = dict(re.findall(r"^\| `?(\w+)`? \| ([\d.]+) \|", statement, flags=re.M))
    assert {k: float(v) for k, v in table.items()} == spec
    assert f"**{a.total_points:g} points**" in statement and a.due.replace("before", "Due before") in statement
    assert "late submission loses **2 points**" in statement


@pytest.mark.parametrize("name", sorted(ASSIGNMENTS))
def test_master_parameters_cell_is_filled(name):
    """A blank parameters cell in a 'solution' was a known defect of the original material."""
    master = read_notebook(SOLUTIONS / get_assignment(name).notebook)
    params = [c for c in master["cells"] if "parameters" in c["metadata"].get("tags", [])]
    assert len(params) == 1
    assigned = [n for n in ast.parse("".join(params[0]["source"])).body if isinstance(n, ast.Assign)]
    assert len(assigned) >= 4


@pytest.mark.parametrize("name", sorted(ASSIGNMENTS))
def test_master_notebook_has_no_absolute_paths(name):
    text = (SOLUTIONS / get_assignment(name).notebook).read_text()
    sources = "".join("".join(c["source"]) for c in json.loads(text)["cells"])
    assert not re.search(r"(/home/|/Users/|/work/|C:\\\\)", sources)
