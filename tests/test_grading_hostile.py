"""TP1's hostile and broken submissions (tests/hostile/tp1), graded in one batch with the solution and
the untouched exercise: every one gets a row, the points it deserves, a feedback line saying why,
and nothing it does reaches the other students or the machine.

The per-test timeout is VITCOURSE_HOSTILE_TIMEOUT seconds (default 5); raise it on a slow machine.
VITCOURSE_HOSTILE_ISOLATE=none checks the fallback used where Linux namespaces are unavailable.
"""
import csv
import os
import shutil
from pathlib import Path

import pytest

from vitcourse.grading.config import CourseConfig
from vitcourse.grading.grade import grade_all
from vitcourse.grading.report import write_reports
from vitcourse.grading.sandbox import Limits

ROOT = Path(__file__).resolve().parents[1]
TIMEOUT = float(os.environ.get("VITCOURSE_HOSTILE_TIMEOUT", "5"))
LIMITS = Limits(timeout=TIMEOUT, memory_mb=512, cpu_s=60, total_timeout=20 * TIMEOUT + 60,
                isolate=os.environ.get("VITCOURSE_HOSTILE_ISOLATE", "auto"))
CANARIES = (ROOT / "HOSTILE_WAS_HERE.txt", Path("/tmp/vitcourse_hostile_was_here.txt"),
            Path("/tmp/vitcourse_hostile_shell.txt"))


def grade_batch(assignment, notebook, tmp_path_factory):
    for canary in CANARIES:
        canary.unlink(missing_ok=True)
    subs = tmp_path_factory.mktemp(f"{assignment}_submissions")
    for f in (ROOT / "tests" / "hostile" / assignment).iterdir():
        shutil.copy(f, subs / f.name)
    shutil.copy(ROOT / "solutions" / notebook, subs / "solution.ipynb")
    shutil.copy(ROOT / "exercises" / notebook, subs / "exercise.ipynb")
    out = tmp_path_factory.mktemp(f"{assignment}_grades")
    results = grade_all(assignment, subs, out, limits=LIMITS, workers=2)
    write_reports(out, results, assignment, CourseConfig())
    with open(out / "gradebook.csv") as f:
        book = {r["student"]: r for r in csv.DictReader(f)}
    feedback = {p.stem: p.read_text() for p in (out / "feedback").iterdir()}
    return subs, book, feedback


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    return grade_batch("tp1", "tp1_patch_embeddings.ipynb", tmp_path_factory)


TESTS = ("patchify", "PatchEmbedding", "PositionalEncodingLearned", "token_stats", "position_similarity")
# case: (points per test in TESTS order, words the feedback must contain)
EXPECTED = {
    "solution": ((1.5, 1.5, 2, 1, 1), []),
    "exercise": ((0, 0, 0, 0, 0), ["NotImplementedError (cell"]),
    "syntax_error": ((0, 0, 0, 1, 0), ["cell 2 has a syntax error", "does not define `patchify`"]),
    "not_a_notebook": ((0, 0, 0, 0, 0), ["not a readable notebook"]),
    "missing_function": ((0, 0, 0, 1, 1), ["does not define `PatchEmbedding`"]),
    "wrong_signature": ((0, 0, 0, 1, 0), ["TypeError: patchify() takes 1 positional argument but 2 were given",
                                          "got an unexpected keyword argument 'in_channels'"]),
    "wrong_return_type": ((0, 0, 0, 0, 0), ["should be a torch.Tensor, got ndarray", "should be a torch.Tensor, got list",
                                            "token_stats should return a dict, got tuple"]),
    "nan_results": ((1.5, 0, 0.5, 1, 0), ["NaN in your output"]),
    "infinite_loop": ((0, 0, 0, 1, 0), [f"timed out after {TIMEOUT:g} s"]),
    "memory_bomb": ((0, 0, 0, 1, 0), ["(constant HUGE) could not run: MemoryError", "MemoryError",
                                      "can't allocate memory"]),
    "sys_exit_at_import": ((0, 0, 0, 0, 1), ["(class Exit) could not run: your code called sys.exit(3)",
                                             "your code called sys.exit(0)"]),
    "os_exit_at_import": ((0, 0, 0, 1, 1), ["(class Quit) could not run: the process exited with status 0",
                                            "the process exited with status 7"]),
    "interpreter_crash": ((0, 0, 0, 1, 0), ["blocked by the grading sandbox: ctypes", "segmentation fault"]),
    "huge_output": ((1.5, 0, 0, 1, 0), ["printed output is ignored"]),
    "fake_score": ((0, 0, 0, 0, 0), ["shape expected (2, 4, 48), got (1,)", "num_tokens for"]),
    "eq_always_true": ((0, 0, 0, 0, 0), ["should be a number, got Liar", "shape expected"]),
    "monkeypatch": ((0, 0, 0, 1, 0.3), ["values differ"]),
    "writes_outside": ((0, 1.5, 0, 1, 0), ["blocked by the grading sandbox: writing"]),
    "reads_solutions": ((0, 0, 0, 1, 0), ["blocked by the grading sandbox: reading", "os.listdir"]),
    "imports_reference": ((0, 0, 0, 0, 1), ["FLAGGED: patchify comes from vitcourse.patches",
                                            "FLAGGED: PatchEmbedding", "FLAGGED: token_stats uses vitcourse.measure.token_costs"]),
    "network_and_processes": ((1.5, 0, 0, 1, 0), ["blocked by the sandbox", "subprocess.Popen"]),
}


def test_every_submission_has_a_row(graded):
    subs, book, feedback = graded
    students = {p.stem for p in subs.iterdir()}
    assert set(book) == students == set(EXPECTED) and set(feedback) == students


@pytest.mark.parametrize("case", sorted(EXPECTED))
def test_points_and_feedback(graded, case):
    _, book, feedback = graded
    points, words = EXPECTED[case]
    row = book[case]
    assert tuple(float(row[t]) for t in TESTS) == pytest.approx(points), feedback[case]
    assert float(row["code"]) == pytest.approx(sum(points))
    for w in words:
        assert w in feedback[case], (w, feedback[case])


def test_flags(graded):
    _, book, _ = graded
    flagged = {s for s, r in book.items() if "reference implementation" in r["flags"]}
    assert flagged == {"imports_reference"}
    assert "tried to read files outside its sandbox" in book["reads_solutions"]["flags"]
    assert book["solution"]["flags"] == "" and book["exercise"]["flags"] == ""


def test_nothing_escaped_the_sandbox(graded):
    for canary in CANARIES:
        assert not canary.exists(), canary
    assert (ROOT / "vitcourse" / "__init__.py").exists()
    assert (ROOT / "solutions" / "tp1_patch_embeddings.ipynb").exists()
