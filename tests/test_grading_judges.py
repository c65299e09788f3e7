"""The graded tests and the public self-checks, run in-process: the solutions get full marks, the
untouched exercises zero, and typical mistakes get partial credit with feedback in words."""
import numpy as np
import pytest
import torch
from einops import rearrange
from torch import nn

from vitcourse.grading import codec, selfcheck
from vitcourse.grading.assignments import ASSIGNMENTS, get_assignment
from vitcourse.grading.extract import extract_file
from vitcourse.grading.local import hidden_test
from vitcourse.grading.reference import load_reference, reference_data
from vitcourse.grading.judge import close, same_shape
from vitcourse.grading.spec import score

from test_grading_generate import EXERCISES


def run(assignment, test_name, namespace):
    """(points, {check: message}) for `namespace` on one graded test, in-process."""
    test = get_assignment(assignment).test(test_name)
    data = reference_data(assignment)[test_name]
    torch.manual_seed(0)
    try:
        got = codec.decode(codec.encode(test.probe(namespace, data["inputs"])))
    except Exception as e:                                     # noqa: BLE001
        return 0.0, {"ran": repr(e)}
    checks = test.judge(data["expected"], got, data["inputs"])
    return score(test, checks), {c.name: c.message for c in checks if not c.passed}


def with_(assignment, **overrides):
    return {**load_reference(assignment), **overrides}


@pytest.mark.parametrize("assignment, test_name", [(a, t.name) for a in sorted(ASSIGNMENTS)
                                                    for t in get_assignment(a).tests])
def test_solution_gets_full_marks(assignment, test_name):
    assert hidden_test(assignment, test_name, load_reference(assignment)) == get_assignment(assignment).test(test_name).points


@pytest.mark.parametrize("assignment", sorted(ASSIGNMENTS))
def test_untouched_exercise_gets_zero(assignment):
    a = get_assignment(assignment)
    ns = {"__name__": "exercise"}
    for st in extract_file(EXERCISES / a.notebook, roots=[n for t in a.tests for n in t.graded]).statements:
        exec(compile("\n" * (st.line - 1) + st.source, f"<cell {st.cell}>", "exec"), ns)
    for t in a.tests:
        points, failed = run(assignment, t.name, ns)
        assert points == 0, (t.name, failed)


def test_reference_data_is_deterministic_and_seeded():
    a, b = reference_data("tp1", seed=0), reference_data("tp1", seed=1)
    assert np.array_equal(a["patchify"]["inputs"]["a"], reference_data("tp1", seed=0)["patchify"]["inputs"]["a"])
    assert not np.array_equal(a["patchify"]["inputs"]["a"], b["patchify"]["inputs"]["a"])


# --- comparisons ---------------------------------------------------------------------------------

def test_close_reports_shape_nan_and_values():
    e = np.zeros((2, 3), np.float32)
    assert close(e, np.zeros((3, 2)), "out") == (False, "out: shape expected (2, 3), got (3, 2)")
    nan = e.copy()
    nan[1, 2] = np.nan
    assert close(e, nan, "out") == (False, "out: NaN in your output (first at index (1, 2))")
    ok, msg = close(e, e + 0.5, "out")
    assert not ok and "largest difference 0.5" in msg
    assert close(e, e + 1e-6, "out") == (True, "")
    assert close(e, {"error": "TypeError: boom"}, "out") == (False, "out: TypeError: boom")
    assert not same_shape(e, nan, "out")[0]


# --- typical mistakes: partial credit and the words that explain it ------------------------------

def test_patch_order_mistake():
    def patchify(images, patch_size):
        if images.shape[-1] % patch_size:
            raise ValueError("not divisible")
        return rearrange(images, "b c (h p1) (w p2) -> b (h w) (c p1 p2)", p1=patch_size, p2=patch_size)
    points, failed = run("tp1", "patchify", with_("tp1", patchify=patchify))
    assert points == pytest.approx(1.5 * 0.4)                   # shape and the ValueError, not the values
    assert "(c p1 p2) order" in failed["values and patch order"]


def test_dot_products_instead_of_cosines():
    points, failed = run("tp1", "position_similarity", with_("tp1", position_similarity=lambda pe: pe @ pe.T))
    assert points == pytest.approx(0.3) and "normalise each position vector" in failed["cosine similarity values"]


def test_attention_without_scaling_and_with_reversed_mask():
    def sdpa(q, k, v, mask=None):
        scores = q @ k.transpose(-2, -1)
        if mask is not None:
            scores = scores.masked_fill(mask, float("-inf"))
        w = scores.softmax(-1)
        return w @ v, w
    points, failed = run("tp2", "scaled_dot_product_attention", with_("tp2", scaled_dot_product_attention=sdpa))
    assert points == pytest.approx(1.5 * 0.3)
    assert "not divided by sqrt(d_k)" in failed["values without a mask"]
    assert "True = may attend" in failed["values with a mask"]


def test_softmax_over_the_wrong_axis():
    def sdpa(q, k, v, mask=None):
        w = (q @ k.transpose(-2, -1) / q.shape[-1] ** 0.5).softmax(-2)
        return w @ v, w
    _, failed = run("tp2", "scaled_dot_product_attention", with_("tp2", scaled_dot_product_attention=sdpa))
    assert "sums to" in failed["weight rows sum to one"] and "last dimension" in failed["weight rows sum to one"]


class SequenceFirstViT(nn.Module):
    """The original material's bug: (B, N, D) tokens into a sequence-first encoder."""

    def __init__(self, image_size, patch_size, in_channels, num_classes, dim, depth, num_heads, mlp_dim):
        super().__init__()
        self.proj = nn.Conv2d(in_channels, dim, patch_size, patch_size)
        self.encoder = nn.TransformerEncoder(nn.TransformerEncoderLayer(dim, num_heads, mlp_dim, dropout=0.0), depth,
                                             enable_nested_tensor=False)
        self.head = nn.Linear(dim, num_classes)

    def forward(self, images):
        x = rearrange(self.proj(images), "b d h w -> b (h w) d")
        return self.head(self.encoder(x).mean(1))


def test_batch_first_mistake_is_caught_by_grader_and_self_check():
    points, failed = run("tp2", "VisionTransformer", with_("tp2", VisionTransformer=SequenceFirstViT))
    assert points == pytest.approx(2 * 0.25)                 # shape and gradients only
    assert "mixes the images of a batch" in failed["batch independence"]
    assert "batch_first=True" in failed["batch independence"]
    with pytest.raises(selfcheck.SelfCheckError, match="batch_first=True"):
        selfcheck.check_vision_transformer(SequenceFirstViT)


def test_wrong_parameter_names_lose_only_the_values():
    class Renamed(load_reference("tp2")["MultiHeadSelfAttention"]):
        def __init__(self, dim, num_heads):
            super().__init__(dim, num_heads)
            self.to_qkv = self.qkv
            del self.qkv

        def forward(self, x):
            self.qkv = self.to_qkv
            try:
                return super().forward(x)
            finally:
                del self.qkv
    points, failed = run("tp2", "MultiHeadSelfAttention", with_("tp2", MultiHeadSelfAttention=Renamed))
    assert points == pytest.approx(1.5 * 0.4)
    assert "missing [qkv.bias, qkv.weight]" in failed["values with the given weights"]


def test_metrics_agree_with_scikit_learn_on_the_hidden_inputs():
    from sklearn.metrics import confusion_matrix, precision_recall_fscore_support
    metrics = load_reference("tp2")["classification_metrics"]
    for y_true, y_pred, k in reference_data("tp2")["classification_metrics"]["inputs"].values():
        r = metrics(torch.as_tensor(y_true), torch.as_tensor(y_pred), k)
        p, rec, f1, _ = precision_recall_fscore_support(y_true, y_pred, labels=range(k), average="macro", zero_division=0)
        assert (r["precision"], r["recall"], r["f1"]) == pytest.approx((p, rec, f1))
        assert r["confusion"].tolist() == confusion_matrix(y_true, y_pred, labels=range(k)).tolist()


# --- public self-checks --------------------------------------------------------------------------

SELF_CHECKS = {"tp1": {"patchify": "check_patchify", "PatchEmbedding": "check_patch_embedding",
                       "PositionalEncodingLearned": "check_positional_encoding_learned",
                       "token_stats": "check_token_stats", "position_similarity": "check_position_similarity"},
               "tp2": {"scaled_dot_product_attention": "check_attention",
                       "MultiHeadSelfAttention": "check_multi_head_attention",
                       "TransformerBlock": "check_transformer_block", "VisionTransformer": "check_vision_transformer",
                       "classification_metrics": "check_classification_metrics"}}


@pytest.mark.parametrize("assignment, name", [(a, n) for a, d in SELF_CHECKS.items() for n in d])
def test_self_checks_pass_on_the_solutions(assignment, name, capsys):
    getattr(selfcheck, SELF_CHECKS[assignment][name])(load_reference(assignment)[name])
    assert capsys.readouterr().out.startswith("✓")


def test_self_check_words_for_classic_mistakes():
    ref1, ref2 = load_reference("tp1"), load_reference("tp2")
    with pytest.raises(selfcheck.SelfCheckError, match=r"shape expected \(2, 4, 48\), got \(2, 48, 4\)"):
        selfcheck.check_patchify(lambda x, p: ref1["patchify"](x, p).transpose(1, 2))
    with pytest.raises(selfcheck.SelfCheckError, match="should raise ValueError"):
        selfcheck.check_patchify(lambda x, p: rearrange(x[..., : x.shape[-2] // p * p, : x.shape[-1] // p * p],
                                                        "b c (h p1) (w p2) -> b (h w) (p1 p2 c)", p1=p, p2=p))

    def no_scaling(q, k, v, mask=None):
        w = (q @ k.transpose(-2, -1)).softmax(-1)
        return w @ v, w
    with pytest.raises(selfcheck.SelfCheckError, match="sqrt"):
        selfcheck.check_attention(no_scaling)

    class NoResidual(ref2["TransformerBlock"]):
        def forward(self, x):
            x = self.attn(self.norm1(x))
            return self.mlp(self.norm2(x))
    with pytest.raises(selfcheck.SelfCheckError, match="residual"):
        selfcheck.check_transformer_block(NoResidual)

    class Frozen(ref1["PositionalEncodingLearned"]):
        def forward(self, x):
            return x + self.pe[: x.shape[1]].detach()
    with pytest.raises(selfcheck.SelfCheckError, match="no gradient"):
        selfcheck.check_positional_encoding_learned(Frozen)


def test_a_wrong_attention_function_is_charged_once():
    """MHSA, block and ViT built on a wrong scaled_dot_product_attention keep their value points."""
    def no_scaling(q, k, v, mask=None):
        w = (q @ k.transpose(-2, -1)).softmax(-1)
        return w @ v, w
    ns = with_("tp2", scaled_dot_product_attention=no_scaling)
    assert run("tp2", "scaled_dot_product_attention", ns)[0] == pytest.approx(0.45)
    for name in ("MultiHeadSelfAttention", "TransformerBlock", "VisionTransformer"):
        assert run("tp2", name, ns)[0] == get_assignment("tp2").test(name).points
    assert ns["scaled_dot_product_attention"] is no_scaling              # the namespace is restored
