"""TP4 (comparing multimodal models): the master's own hidden tests give it full marks in-process, its SigLIP
loss equals the package's and transformers' `SiglipModel` loss in float64, the blank exercise's definitions score
zero on every test, and under bubblewrap (tests/hostile/tp4) the solution gets full marks, the exercise zero, typical
slips lose only their share and the reference `vitcourse.contrastive` / `vitcourse.zeroshot` are out of reach."""
import pytest
import torch

from test_grading_hostile import NEEDS_BWRAP, ROOT, grade_batch
from vitcourse.grading.assignments import OPTIONAL, get_assignment
from vitcourse.grading.extract import extract_file
from vitcourse.grading.local import hidden_test
from vitcourse.grading.reference import load_reference, reference_data
from vitcourse.grading.spec import score

A = get_assignment("tp4")
TESTS = tuple(t.name for t in A.tests)


def test_statement_rubric_and_spec_agree():
    assert A.code_points == 6 and A.written_points == 4 and A.total_points == 10
    assert TESTS == ("siglip_loss", "zero_shot", "per_class_metrics", "recall_at_k")
    assert "tp4" in OPTIONAL


@pytest.mark.parametrize("name", TESTS)
def test_the_master_passes_its_hidden_tests(name):
    assert hidden_test("tp4", name, load_reference("tp4")) == A.test(name).points


def test_the_masters_siglip_loss_is_the_package_s_and_transformers_in_float64():
    from test_contrastive import siglip_model
    from vitcourse.contrastive import siglip_loss
    ours = load_reference("tp4")["siglip_loss"]
    model = siglip_model()
    g = torch.Generator().manual_seed(1)
    ids, pixels = torch.randint(0, 50, (6, 8), generator=g), torch.randn(6, 3, 16, 16, generator=g, dtype=torch.float64)
    out = model(input_ids=ids, pixel_values=pixels, return_loss=True)
    got = ours(out.image_embeds, out.text_embeds, model.logit_scale, model.logit_bias)
    assert got.dtype == torch.float64 and abs(got.item() - out.loss.item()) <= 1e-10
    same = torch.eye(6).bool()
    same[0, 1] = same[1, 0] = True                                     # captions 0 and 1 are equal
    for positives, targets in ((None, None), (same, same)):
        want = siglip_loss(out.image_embeds, out.text_embeds, model.logit_scale, model.logit_bias, targets=targets)
        got = ours(out.image_embeds, out.text_embeds, model.logit_scale, model.logit_bias, positives)
        assert abs(got - want) <= 1e-12


def test_the_masters_zero_shot_and_recall_match_the_package():
    from vitcourse import zeroshot
    from vitcourse.grading.tp4 import StandModel, StandTokenizer
    ns = load_reference("tp4")
    names, templates = ["red circle", "blue square", "green ring"], ["a photo of a {}", "the big {}"]
    w = ns["zero_shot_classifier"](StandModel(), StandTokenizer(), names, templates)
    assert torch.allclose(w, zeroshot.zero_shot_classifier(StandModel(), StandTokenizer(), names, templates), atol=1e-6)
    q, gal = torch.randn(25, 6, generator=torch.Generator().manual_seed(0)), torch.randn(9, 6)
    pos = torch.rand(25, 9) < 0.3
    pos[:, 0] = True
    sims = torch.nn.functional.normalize(q, dim=-1) @ torch.nn.functional.normalize(gal, dim=-1).T
    assert ns["recall_at_k"](sims, pos, (1, 2, 5)) == pytest.approx(zeroshot.recall_at_k(q, gal, pos, (1, 2, 5)))


def _in_process(path) -> dict:
    ns = {"__name__": "__main__"}
    for st in extract_file(path, roots=[n for t in A.tests for n in t.graded]).statements:
        try:
            exec(compile(st.source, "<cell>", "exec"), ns)
        except Exception:                                 # noqa: BLE001 - what the grader's child also tolerates
            pass
    data = reference_data("tp4")
    out = {}
    for t in A.tests:
        if not all(n in ns for n in t.graded):
            out[t.name] = 0.0
            continue
        out[t.name] = score(t, t.judge(data[t.name]["expected"], t.probe(ns, data[t.name]["inputs"]),
                                       data[t.name]["inputs"]))
    return out


def test_the_blank_exercise_scores_zero():
    assert set(_in_process(ROOT / "exercises" / A.notebook).values()) == {0.0}


def test_common_mistakes_lose_only_their_share_in_process():
    got = _in_process(ROOT / "tests" / "hostile" / "tp4" / "common_mistakes.py")
    assert got == pytest.approx(dict(zip(TESTS, EXPECTED["common_mistakes"][0])))


EXPECTED = {
    "solution": ((1.5, 1.5, 1.5, 1.5), []),
    "exercise": ((0, 0, 0, 0), ["NotImplementedError (cell"]),
    "common_mistakes": ((0.75, 0.9, 1.2, 0.9), ["t is the LOG of the scale", "normalise each template's embedding",
                                                "the mean over all num_classes classes", "AT LEAST ONE"]),
    "imports_reference": ((1.5, 1.5, 1.5, 0), ["FLAGGED: recall_at_k uses vitcourse.zeroshot"]),
    "reaches_reference": ((0.75, 0, 0, 0), ["does not define `zero_shot_classifier`"]),
}


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    return grade_batch("tp4", A.notebook, tmp_path_factory)


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


def test_tp4_counts_like_tp3_in_the_course_grade(tmp_path):
    from test_grading_grade import gradebook, touch
    from vitcourse.grading.config import CourseConfig
    from vitcourse.grading.final import course_grades
    books = [gradebook(tmp_path / "g1.csv", "tp1", {"ana": 4, "bo": 9}),
             gradebook(tmp_path / "g2.csv", "tp2", {"ana": 6, "bo": 8}),
             gradebook(tmp_path / "g3.csv", "tp3", {"ana": 8}),
             gradebook(tmp_path / "g4.csv", "tp4", {"ana": 9, "bo": 10})]
    project = touch(tmp_path / "p.csv", "student,project\nana,10\nbo,10\n")
    rows, names = course_grades(books, project, CourseConfig())
    got = {r["student"]: r for r in rows}
    assert names == ["tp1", "tp2", "tp3", "tp4"]
    assert got["ana"]["exercises"] == 8.5 and "replaces tp1 (4)" in got["ana"]["notes"] and \
        "replaces tp2 (6)" in got["ana"]["notes"]                                     # both optional TPs count
    assert got["bo"]["exercises"] == 9.5 and "tp4 (10) replaces tp2 (8)" in got["bo"]["notes"]


@pytest.mark.parametrize("tp", ["tp3", "tp4"])
def test_the_grading_benchmark_builds_its_mutations(tp, tmp_path):
    from vitcourse.grading.bench import MUTATIONS, make_submissions
    made = make_submissions(tp, tmp_path, 2 + len(MUTATIONS[tp]))         # every mutation's target is in the master
    assert made == ["solution", "exercise"] + [name for name, _, _ in MUTATIONS[tp]]
    assert len(list(tmp_path.glob("*.ipynb"))) == len(made)
