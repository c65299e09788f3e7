"""TP3 (fine-tuning): the master's own hidden tests give it full marks in-process, the blank exercise's
definitions score zero on every test, and under bubblewrap (tests/hostile/tp3) the solution gets full
marks, the exercise zero, typical slips lose only their share and the reference `resize_pos_embed` is
out of reach."""
import pytest

from test_grading_hostile import NEEDS_BWRAP, ROOT, grade_batch
from vitcourse.grading.assignments import get_assignment
from vitcourse.grading.extract import extract_file
from vitcourse.grading.local import hidden_test
from vitcourse.grading.reference import load_reference, reference_data
from vitcourse.grading.spec import score

A = get_assignment("tp3")
TESTS = tuple(t.name for t in A.tests)


def test_statement_rubric_and_spec_agree():
    assert A.code_points == 6 and A.written_points == 4 and A.total_points == 10
    assert TESTS == ("replace_head", "freeze_and_count", "compute_metrics", "interpolate_pos_embed")


@pytest.mark.parametrize("name", TESTS)
def test_the_master_passes_its_hidden_tests(name):
    assert hidden_test("tp3", name, load_reference("tp3")) == A.test(name).points


def _in_process(path) -> dict:
    ns = {"__name__": "__main__"}
    for st in extract_file(path, roots=[n for t in A.tests for n in t.graded]).statements:
        try:
            exec(compile(st.source, "<cell>", "exec"), ns)
        except Exception:                                 # noqa: BLE001 - what the grader's child also tolerates
            pass
    data = reference_data("tp3")
    return {t.name: score(t, t.judge(data[t.name]["expected"], t.probe(ns, data[t.name]["inputs"]),
                                     data[t.name]["inputs"])) for t in A.tests}


def test_the_blank_exercise_scores_zero():
    assert set(_in_process(ROOT / "exercises" / A.notebook).values()) == {0.0}


def test_common_mistakes_lose_only_their_share_in_process():
    got = _in_process(ROOT / "tests" / "hostile" / "tp3" / "common_mistakes.py")
    assert got == pytest.approx(dict(zip(TESTS, EXPECTED["common_mistakes"][0])))


EXPECTED = {
    "solution": ((1.5, 1.5, 1.5, 1.5), []),
    "exercise": ((0, 0, 0, 0), ["NotImplementedError (cell"]),
    "common_mistakes": ((1.05, 0, 0.45, 0.9), ["should be all zeros", "requires_grad is wrong for",
                                              "macro average", "bicubic values"]),
    "imports_reference": ((1.5, 1.5, 1.5, 0), ["FLAGGED: interpolate_pos_embed uses vitcourse.pos_embed"]),
    "reaches_reference": ((0, 0, 0, 0.9), ["does not define `replace_head`"]),
}


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    return grade_batch("tp3", A.notebook, tmp_path_factory)


@NEEDS_BWRAP
def test_every_submission_has_a_row(graded):
    subs, book, feedback = graded
    assert set(book) == {p.stem for p in subs.iterdir()} == set(EXPECTED) == set(feedback)


@NEEDS_BWRAP
@pytest.mark.parametrize("case", sorted(EXPECTED))
def test_points_and_feedback(graded, case):
    _, book, feedback = graded
    points, words = EXPECTED[case]
    assert tuple(float(book[case][t]) for t in TESTS) == pytest.approx(points), feedback[case]
    for w in words:
        assert w in feedback[case], (w, feedback[case])


def test_an_optional_tp_replaces_the_lowest_required_one_when_higher(tmp_path):
    from test_grading_grade import gradebook, touch
    from vitcourse.grading.config import CourseConfig
    from vitcourse.grading.final import course_grades
    books = [gradebook(tmp_path / "g1.csv", "tp1", {"ana": 4, "bo": 9, "cy": 5}),
             gradebook(tmp_path / "g2.csv", "tp2", {"ana": 6, "bo": 8, "cy": 7}),
             gradebook(tmp_path / "g3.csv", "tp3", {"ana": 8, "bo": 2})]
    project = touch(tmp_path / "p.csv", "student,project\nana,10\nbo,10\ncy,10\n")
    rows, names = course_grades(books, project, CourseConfig())
    got = {r["student"]: r for r in rows}
    assert names == ["tp1", "tp2", "tp3"]
    assert got["ana"]["exercises"] == 7 and "tp3 (8) replaces tp1 (4)" in got["ana"]["notes"]
    assert got["bo"]["exercises"] == 8.5 and "replaces" not in got["bo"]["notes"]     # never lowers a grade
    assert got["cy"]["exercises"] == 6 and "tp3" not in got["cy"]["notes"]            # not handed in: costs nothing
