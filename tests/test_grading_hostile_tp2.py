"""TP2's broken submissions (tests/hostile/tp2) with the solution and the untouched exercise: the
batch_first mistake is caught, typical slips get partial credit, reference implementations are flagged."""
import pytest

from test_grading_hostile import grade_batch, pytestmark  # noqa: F401  (skipped without bubblewrap)

TESTS = ("scaled_dot_product_attention", "MultiHeadSelfAttention", "TransformerBlock", "VisionTransformer",
         "classification_metrics")
EXPECTED = {
    "solution": ((1.5, 1.5, 1, 2, 1), []),
    "exercise": ((0, 0, 0, 0, 0), ["NotImplementedError (cell"]),
    "batch_first_mistake": ((0, 0, 0, 0.5, 1), ["your model mixes the images of a batch", "batch_first=True",
                                                "missing [blocks.0.attn.proj.bias"]),
    "common_mistakes": ((0.45, 0.6, 0.4, 0, 0), ["the scores were not divided by sqrt(d_k)",
                                                 "unexpected [mha.in_proj_bias"]),
    "imports_reference": ((0, 0, 0, 0, 0), ["implementation is not available to graded code",
                                            "FLAGGED: scaled_dot_product_attention uses vitcourse.attention",
                                            "FLAGGED: VisionTransformer uses vitcourse.blocks.Block"]),
}


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    return grade_batch("tp2", "tp2_vision_transformer.ipynb", tmp_path_factory)


def test_every_submission_has_a_row(graded):
    subs, book, feedback = graded
    assert set(book) == {p.stem for p in subs.iterdir()} == set(EXPECTED) == set(feedback)


@pytest.mark.parametrize("case", sorted(EXPECTED))
def test_points_and_feedback(graded, case):
    _, book, feedback = graded
    points, words = EXPECTED[case]
    assert tuple(float(book[case][t]) for t in TESTS) == pytest.approx(points), feedback[case]
    for w in words:
        assert w in feedback[case], (w, feedback[case])
