"""vitcourse.detr.matcher: equal to Hugging Face's HungarianMatcher and to an exhaustive search."""
import itertools

import pytest
import torch

from vitcourse.detr import HungarianMatcher

hf = pytest.importorskip("transformers.loss.loss_for_object_detection")


def make_batch(num_objects, num_queries=6, num_classes=3, seed=0, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    outputs = {"logits": torch.randn(len(num_objects), num_queries, num_classes + 1, generator=g, dtype=dtype),
               "pred_boxes": torch.rand(len(num_objects), num_queries, 4, generator=g, dtype=dtype) * 0.5 + 0.25}
    targets = [{"class_labels": torch.randint(0, num_classes, (n,), generator=g),
                "boxes": torch.rand(n, 4, generator=g, dtype=dtype) * 0.5 + 0.25} for n in num_objects]
    return outputs, targets


@pytest.mark.parametrize("costs", [(1, 5, 2), (1, 1, 1), (2, 0, 1)])
def test_indices_equal_hugging_face(costs):
    outputs, targets = make_batch([3, 0, 6, 1], num_queries=8, seed=sum(costs))
    ours = HungarianMatcher(*costs)(outputs, targets)
    theirs = hf.HungarianMatcher(class_cost=costs[0], bbox_cost=costs[1], giou_cost=costs[2])(outputs, targets)
    assert len(ours) == len(theirs) == 4
    for (qi, ti), (qh, th) in zip(ours, theirs):
        assert qi.dtype == ti.dtype == torch.int64
        assert torch.equal(qi, qh) and torch.equal(ti, th)


@pytest.mark.parametrize("n", range(1, 7))
def test_minimum_cost_equals_exhaustive_search(n):
    outputs, targets = make_batch([n], num_queries=6, seed=10 + n)
    matcher = HungarianMatcher()
    cost = matcher.cost_matrices(outputs, targets)[0]                      # (Q, n)
    q, t = matcher(outputs, targets)[0]
    found = cost[q, t].sum()
    best = min(cost[list(p), list(range(n))].sum() for p in itertools.permutations(range(6), n))
    assert found.item() == pytest.approx(best.item(), abs=1e-12)
    assert len(q) == n and len(set(q.tolist())) == n and sorted(t.tolist()) == list(range(n))


def test_cost_terms_by_hand():
    outputs, targets = make_batch([2], num_queries=3, seed=3)
    prob = outputs["logits"][0].softmax(-1)
    l1 = HungarianMatcher(0, 1, 0).cost_matrices(outputs, targets)[0]
    cls = HungarianMatcher(1, 0, 0).cost_matrices(outputs, targets)[0]
    for i in range(3):
        for j in range(2):
            assert l1[i, j] == pytest.approx((outputs["pred_boxes"][0, i] - targets[0]["boxes"][j]).abs().sum().item())
            assert cls[i, j] == pytest.approx(-prob[i, targets[0]["class_labels"][j]].item())


def test_empty_targets_match_nothing():
    outputs, targets = make_batch([0, 0], num_queries=4)
    for q, t in HungarianMatcher()(outputs, targets):
        assert q.shape == t.shape == (0,) and q.dtype == torch.int64


def test_clear_errors():
    outputs, targets = make_batch([2])
    with pytest.raises(ValueError, match="at least one"):
        HungarianMatcher(0, 0, 0)
    with pytest.raises(ValueError, match=r"in \[0, 3\)"):
        HungarianMatcher()(outputs, [{"class_labels": torch.tensor([0, 3]), "boxes": targets[0]["boxes"]}])
    with pytest.raises(ValueError, match=r"normalised"):
        HungarianMatcher()(outputs, [{"class_labels": torch.tensor([0, 1]), "boxes": targets[0]["boxes"] * 64}])
    with pytest.raises(ValueError, match="list of 1 dicts"):
        HungarianMatcher()(outputs, targets * 2)
    with pytest.raises(ValueError, match=r"\(2, 4\)"):
        HungarianMatcher()(outputs, [{"class_labels": torch.tensor([0, 1]), "boxes": torch.rand(3, 4)}])
    with pytest.raises(ValueError, match="diverged"):
        HungarianMatcher()({"logits": outputs["logits"], "pred_boxes": outputs["pred_boxes"] * float("nan")}, targets)
    with pytest.raises(ValueError, match="pred_boxes"):
        HungarianMatcher()({"logits": outputs["logits"], "pred_boxes": torch.rand(1, 5, 4)}, targets)
