"""vitcourse.detr.assignment: the non-bipartite and fixed assignments of the matching ablation."""
import pytest
import torch

from vitcourse.detr import SetCriterion, total_loss
from vitcourse.detr.assignment import FixedOrderMatcher, OneToManyMatcher


def batch(num_objects, Q=5, C=2, seed=0):
    g = torch.Generator().manual_seed(seed)
    outputs = {"logits": torch.randn(len(num_objects), Q, C + 1, generator=g),
               "pred_boxes": torch.rand(len(num_objects), Q, 4, generator=g) * 0.5 + 0.25}
    targets = [{"class_labels": torch.randint(0, C, (n,), generator=g),
                "boxes": torch.rand(n, 4, generator=g) * 0.5 + 0.25} for n in num_objects]
    return outputs, targets


def test_one_to_many_assigns_every_query_to_its_cheapest_object():
    outputs, targets = batch([2, 0])
    matcher = OneToManyMatcher()
    (q, t), (q0, t0) = matcher(outputs, targets)
    cost = matcher.cost_matrices(outputs, targets)[0]
    assert torch.equal(q, torch.arange(5)) and torch.equal(t, cost.argmin(1))
    assert len(t) > len(set(t.tolist()))                                # objects are shared: not a matching
    assert q0.numel() == t0.numel() == 0
    losses = SetCriterion(2, matcher=matcher)(outputs, targets)          # usable by the criterion
    assert torch.isfinite(total_loss(losses))


def test_fixed_order_ignores_predictions():
    outputs, targets = batch([3])
    targets[0]["boxes"][:, 0] = torch.tensor([0.7, 0.3, 0.5])            # centres x: object 1, 2, 0 from the left
    q, t = FixedOrderMatcher()(outputs, targets)[0]
    assert q.tolist() == [0, 1, 2] and t.tolist() == [1, 2, 0]
    other = {k: torch.randn_like(v) if k == "logits" else v.flip(1) for k, v in outputs.items()}
    assert FixedOrderMatcher()(other, targets)[0][1].tolist() == [1, 2, 0]
    with pytest.raises(ValueError, match="only 5 queries"):
        FixedOrderMatcher()(outputs, batch([6])[1])
