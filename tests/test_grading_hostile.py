"""TP1's hostile and broken submissions (tests/hostile/tp1), graded in one batch with the solution and
the untouched exercise: every one gets a row, the points it deserves, a feedback line saying why,
and nothing it does reaches the other students or the machine.

The per-test timeout is VITCOURSE_HOSTILE_TIMEOUT seconds (default 5); raise it on a slow machine.
The sandbox is bubblewrap, which CI installs (`.ci/run`); without it these tests are skipped, since
the grader refuses untrusted code without a sandbox. Around the batch the test listens on the
port the network case aims at, fingerprints the grader's files and site-packages, and looks for
any process a submission left behind.
"""
import csv
import os
import shutil
import site
import socket
import sys
import time
from pathlib import Path

import pytest

from vitcourse.grading.config import CourseConfig
from vitcourse.grading.grade import grade_all
from vitcourse.grading.isolation import bwrap_works
from vitcourse.grading.report import write_reports
from vitcourse.grading.sandbox import Limits

ROOT = Path(__file__).resolve().parents[1]
TIMEOUT = float(os.environ.get("VITCOURSE_HOSTILE_TIMEOUT", "5"))
LIMITS = Limits(timeout=TIMEOUT, memory_mb=512, cpu_s=60, total_timeout=20 * TIMEOUT + 60, isolate="bwrap")
NEEDS_BWRAP = pytest.mark.skipif(not bwrap_works() and not os.environ.get("VITCOURSE_REQUIRE_SANDBOX"),
                                 reason="bubblewrap is not installed (CI installs it, and .ci/run requires it)")
pytestmark = NEEDS_BWRAP
PACKAGE = ROOT / "vitcourse"
CANARIES = (ROOT / "HOSTILE_WAS_HERE.txt", Path("/tmp/vitcourse_hostile_was_here.txt"),
            Path("/tmp/vitcourse_hostile_shell.txt"), Path("/tmp/vitcourse_hostile_process.txt"),
            ROOT / "HOSTILE_PROCESS.txt", ROOT / "solutions" / "HOSTILE_PROCESS.txt", PACKAGE / "HOSTILE_PACKAGE.py",
            Path(sys.prefix, "HOSTILE_PREFIX.txt"), Path(sys.base_prefix, "HOSTILE_BASE.txt")) + tuple(
    Path(d, n) for d in site.getsitepackages() for n in ("hostile_vitcourse.pth", "sitecustomize.py"))
PORT = 47613                                     # tests/hostile/tp1/network.py tries to reach it


def fingerprint() -> dict:
    """The grader's own files (contents) and the site-packages listing: what a later grading run would
    see. (Other files of the package may change while the tests run: the working tree is shared.)"""
    files = {str(p): p.read_bytes() for p in (PACKAGE / "grading").glob("*.py")}
    for d in site.getsitepackages():
        files.update({str(p): 0 for p in Path(d).iterdir()})
    return files


def leftovers(marker=b"424242") -> list:
    """Host processes whose command line holds the marker a hostile submission's daemon carries."""
    found = []
    for p in Path("/proc").iterdir():
        try:
            if p.name.isdigit() and marker in (p / "cmdline").read_bytes():
                found.append(p.name)
        except OSError:
            pass
    return found


def grade_batch(assignment, notebook, tmp_path_factory):
    for canary in CANARIES:
        if canary.exists():
            pytest.fail(f"{canary} exists before the hostile batch ran: remove it (a leftover of an earlier run?)")
    subs = tmp_path_factory.mktemp(f"{assignment}_submissions")
    for f in (ROOT / "tests" / "hostile" / assignment).iterdir():
        shutil.copy(f, subs / f.name)
    shutil.copy(ROOT / "solutions" / notebook, subs / "solution.ipynb")
    shutil.copy(ROOT / "exercises" / notebook, subs / "exercise.ipynb")
    out = tmp_path_factory.mktemp(f"{assignment}_grades")
    before = fingerprint()
    with socket.socket() as listener:
        if assignment == "tp1":                          # tests/hostile/tp1/network.py aims at it
            listener.bind(("127.0.0.1", PORT))
            listener.listen(5)
            listener.setblocking(False)
        results = grade_all(assignment, subs, out, limits=LIMITS, workers=2)
        if assignment == "tp1":
            try:
                listener.accept()
                pytest.fail("a sandboxed submission connected to the grader's machine")
            except BlockingIOError:
                pass
    time.sleep(0.5)
    assert fingerprint() == before, "a submission changed the package or site-packages"
    assert not leftovers(), "a process started by a submission outlived its run"
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
    "interpreter_crash": ((0, 0, 0, 1, 0), ["segmentation fault"]),
    "huge_output": ((1.5, 0, 0, 1, 0), ["printed output is ignored"]),
    "fake_score": ((0, 0, 0, 0, 0), ["shape expected (2, 4, 48), got (1,)", "num_tokens for"]),
    "eq_always_true": ((0, 0, 0, 0, 0), ["should be a number, got Liar", "shape expected"]),
    "monkeypatch": ((0, 0, 0, 1, 0.3), ["values differ"]),
    "writes_outside": ((0, 1.5, 0, 1, 0), ["blocked by the grading sandbox: writing"]),
    "reads_solutions": ((0, 0, 0, 1, 0), ["No such file or directory"]),    # nothing of the repository is there
    "imports_reference": ((0, 0, 0, 0, 1), ["implementation is not available to graded code", "FLAGGED: patchify uses vitcourse.patches",
                                            "FLAGGED: PatchEmbedding", "FLAGGED: token_stats uses vitcourse.measure.token_costs"]),
    "network_and_processes": ((1.5, 0, 0, 1, 0), ["blocked by the sandbox", "subprocess.Popen"]),
    # one attack class each, every route of it; the graded answer is right only if every route failed
    "process_routes": ((0, 0, 0, 1, 0), ["blocked by the sandbox: os.system"]),
    "escape_and_see": ((0, 0, 0, 1, 0), []),
    "signals_and_leftovers": ((0, 0, 0, 1, 0), []),
    "writes_package": ((0, 0, 0, 1, 0), ["blocked by the sandbox: writing"]),
    "network": ((0, 0, 0, 1, 0), []),
    "reaches_reference": ((0, 0, 0, 1, 0), ["no reference patchify anywhere",
                                            "no reference LearnedPositionalEmbedding anywhere"]),
    "forges_results": ((0.3, 0, 0, 0, 0), ["values and patch order (0.9 pt)"]),
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
    assert flagged == {"imports_reference", "reaches_reference"}
    assert "tried to read files outside its sandbox" not in book["reads_solutions"]["flags"]   # no such files inside
    assert book["solution"]["flags"] == "" and book["exercise"]["flags"] == ""


def test_nothing_escaped_the_sandbox(graded):
    """No mark outside, no change to the package (checked around the batch), no process left behind."""
    for canary in CANARIES:
        assert not canary.exists(), canary
    assert not leftovers()
    assert (ROOT / "vitcourse" / "__init__.py").exists()
    assert (ROOT / "solutions" / "tp1_patch_embeddings.ipynb").exists()
