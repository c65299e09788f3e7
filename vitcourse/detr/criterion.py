"""DETR's set loss (Carion et al. 2020, Sec. 3.1, Eq. 2; Appendix A.2 "Auxiliary decoding losses").

After the Hungarian matching sigma (see `matcher.py`):
- `loss_ce`: cross-entropy over C + 1 classes for every query, the unmatched ones with target
  "no object" (index C), whose weight is down-weighted by `eos_coef` = 0.1 against class imbalance;
  a weighted mean, as `F.cross_entropy(weight=...)` computes it;
- `loss_bbox`: L1 between matched normalised cxcywh boxes, summed and divided by the number of
  target boxes in the batch (at least 1);
- `loss_giou`: sum of (1 - GIoU) over matched pairs, divided by the same number;
- `cardinality_error`: |#predicted objects - #targets|, averaged over images (logged, no gradient).
With auxiliary outputs (one per earlier decoder layer), each is matched separately and its terms
are named with a suffix `_0`, `_1`, ... (Hugging Face's names). `total_loss` weights the terms
(1 / 5 / 2, the paper's lambda_L1 = 5 and lambda_iou = 2) and sums them.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .boxes import box_cxcywh_to_xyxy, generalized_box_iou
from .matcher import HungarianMatcher
from .targets import check_outputs, check_targets

LOSSES = ("labels", "boxes", "cardinality")


class SetCriterion(nn.Module):
    """Matching + per-term losses: `criterion(outputs, targets)` -> {"loss_ce": ..., "loss_bbox": ..., ...}."""

    def __init__(self, num_classes: int, matcher: HungarianMatcher | None = None, eos_coef: float = 0.1,
                 losses=LOSSES):
        super().__init__()
        if num_classes < 1:
            raise ValueError(f"num_classes must be >= 1 (real classes, no-object excluded), got {num_classes}")
        if not 0 <= eos_coef <= 1:
            raise ValueError(f"eos_coef (the no-object class weight) must be in [0, 1], got {eos_coef}")
        unknown = set(losses) - set(LOSSES)
        if unknown:
            raise ValueError(f"unknown losses {sorted(unknown)}; choose from {LOSSES}")
        self.num_classes, self.eos_coef, self.losses = num_classes, eos_coef, tuple(losses)
        self.matcher = HungarianMatcher() if matcher is None else matcher

    def class_weight(self, dtype=torch.float32, device=None) -> torch.Tensor:
        """(C+1,) cross-entropy weights: 1 per class, eos_coef for no-object, built in the logits' dtype
        (a float32 0.1 cast to float64 differs from float64's 0.1 by 1.5e-9)."""
        weight = torch.ones(self.num_classes + 1, dtype=dtype, device=device)
        weight[-1] = self.eos_coef
        return weight

    @staticmethod
    def _query_index(indices):
        batch = torch.cat([torch.full_like(q, b) for b, (q, _) in enumerate(indices)])
        return batch, torch.cat([q for q, _ in indices])

    def loss_labels(self, outputs, targets, indices, num_boxes):
        logits = outputs["logits"]                                      # (B, Q, C+1)
        target = torch.full(logits.shape[:2], self.num_classes, dtype=torch.int64, device=logits.device)
        labels = [t["class_labels"][j] for t, (_, j) in zip(targets, indices)]
        target[self._query_index(indices)] = torch.cat(labels).to(logits.device)  # (B, Q): C = no object
        weight = self.class_weight(logits.dtype, logits.device)
        return {"loss_ce": F.cross_entropy(logits.transpose(1, 2), target, weight)}

    @torch.no_grad()
    def loss_cardinality(self, outputs, targets, indices, num_boxes):
        logits = outputs["logits"]
        n_pred = (logits.argmax(-1) != logits.shape[-1] - 1).sum(1)     # (B,) queries that say "object"
        n_true = torch.as_tensor([len(t["class_labels"]) for t in targets], device=logits.device)
        return {"cardinality_error": F.l1_loss(n_pred.to(logits.dtype), n_true.to(logits.dtype))}

    def loss_boxes(self, outputs, targets, indices, num_boxes):
        pred = outputs["pred_boxes"][self._query_index(indices)]        # (n_total, 4)
        true = torch.cat([t["boxes"][j] for t, (_, j) in zip(targets, indices)]).to(pred)
        l1 = F.l1_loss(pred, true, reduction="none").sum() / num_boxes
        giou = torch.diag(generalized_box_iou(box_cxcywh_to_xyxy(pred), box_cxcywh_to_xyxy(true)))
        return {"loss_bbox": l1, "loss_giou": (1 - giou).sum() / num_boxes}

    def _terms(self, outputs, targets, num_boxes):
        indices = self.matcher(outputs, targets)
        out = {}
        for name in self.losses:
            out.update(getattr(self, f"loss_{name}")(outputs, targets, indices, num_boxes))
        return out

    def forward(self, outputs, targets) -> dict[str, torch.Tensor]:
        batch_size, _, num_classes = check_outputs(outputs)
        if num_classes != self.num_classes:
            raise ValueError(f"outputs have {num_classes} classes + no-object (logits of width {num_classes + 1}) "
                             f"but the criterion was built for num_classes={self.num_classes}")
        check_targets(targets, batch_size, self.num_classes)
        num_boxes = max(float(sum(len(t["class_labels"]) for t in targets)), 1.0)
        losses = self._terms(outputs, targets, num_boxes)
        for i, aux in enumerate(outputs.get("auxiliary_outputs") or []):
            check_outputs(aux, f"outputs['auxiliary_outputs'][{i}]")
            losses.update({f"{k}_{i}": v for k, v in self._terms(aux, targets, num_boxes).items()})
        return losses


def total_loss(losses: dict[str, torch.Tensor], ce_weight: float = 1.0, bbox_weight: float = 5.0,
               giou_weight: float = 2.0) -> torch.Tensor:
    """Weighted sum of every `loss_ce*`, `loss_bbox*`, `loss_giou*` term (auxiliary ones included);
    `cardinality_error` is a log, not a loss. Hugging Face's DETR total with its default weights."""
    weights = {"loss_ce": ce_weight, "loss_bbox": bbox_weight, "loss_giou": giou_weight}
    total, seen = 0.0, 0
    for key, value in losses.items():
        base = key.rsplit("_", 1)[0] if key.rsplit("_", 1)[-1].isdigit() else key
        if base in weights:
            total, seen = total + weights[base] * value, seen + 1
    if not seen:
        raise ValueError(f"no loss_ce/loss_bbox/loss_giou terms in {sorted(losses)}")
    return total
