"""vitcourse.detr.open_vocab: class logits from text embeddings, usable as DETR's class head."""
import math

import pytest
import torch
from torch import nn

from vitcourse.detr import DETR, OpenVocabularyHead, SetCriterion, total_loss


class FeatureMap(nn.Module):
    out_channels = 6

    def forward(self, x):
        return x


def test_logits_are_scaled_cosines_plus_no_object():
    torch.manual_seed(0)
    head = OpenVocabularyHead(dim=8, text_dim=5)
    q, text = torch.randn(2, 3, 8), torch.randn(4, 5)
    logits = head(q, text)
    assert logits.shape == (2, 3, 5)                                      # 4 named classes + no-object
    cos = torch.nn.functional.cosine_similarity(head.proj(q)[:, :, None], text[None, None], dim=-1)
    torch.testing.assert_close(logits[..., :4], 10.0 * cos, atol=1e-5, rtol=1e-5)  # exp(ln 10) at init, bias 0
    assert (logits[..., 4] == 0).all()
    assert (head(q, 7 * text) - logits).abs().max() < 1e-5                # text norms do not matter
    perm = torch.tensor([2, 0, 3, 1])
    torch.testing.assert_close(head(q, text[perm])[..., :4], logits[..., perm])  # classes follow their names
    assert head(q, text[:2]).shape == (2, 3, 3)                           # any number of classes at test time


def test_as_detr_class_head_trains():
    torch.manual_seed(0)
    model = DETR(FeatureMap(), None, dim=16, num_heads=2, num_queries=4, class_head=OpenVocabularyHead(16, 5))
    text = torch.randn(3, 5)
    out = model(torch.randn(2, 6, 4, 4), text_embeddings=text)
    assert out["logits"].shape == (2, 4, 4) and out["auxiliary_outputs"][0]["logits"].shape == (2, 4, 4)
    targets = [{"class_labels": torch.tensor([2]), "boxes": torch.tensor([[0.5, 0.5, 0.3, 0.3]])}] * 2
    total_loss(SetCriterion(3)(out, targets)).backward()
    head = model.class_labels_classifier
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in head.parameters())
    assert model(torch.randn(1, 6, 4, 4), text_embeddings=text[:2])["logits"].shape == (1, 4, 3)


def test_clear_errors():
    head = OpenVocabularyHead(dim=8, text_dim=5)
    with pytest.raises(ValueError, match=r"\(C, 5\)"):
        head(torch.randn(1, 3, 8), torch.randn(4, 6))
    with pytest.raises(ValueError, match=r"\(C, 5\)"):
        head(torch.randn(1, 3, 8), None)
    with pytest.raises(ValueError, match=r"\(B, Q, 8\)"):
        head(torch.randn(3, 8), torch.randn(4, 5))
    with pytest.raises(ValueError, match="text_embeddings"):
        DETR(FeatureMap(), None, dim=8, num_heads=2, class_head=head)(torch.randn(1, 6, 2, 2))
    with pytest.raises(ValueError, match="fixed linear class head"):
        DETR(FeatureMap(), 3, dim=8, num_heads=2)(torch.randn(1, 6, 2, 2), text_embeddings=torch.randn(3, 5))
    assert math.isclose(head.logit_scale.exp().item(), 10.0, rel_tol=1e-6)
