"""Checks for DETR's outputs and targets, in Hugging Face's conventions (clear errors, not tracebacks).

outputs: {"logits": (B, Q, C+1), "pred_boxes": (B, Q, 4) normalised cxcywh, "auxiliary_outputs": [...]}
targets: a list of B dicts {"class_labels": (n,) int64 in [0, C), "boxes": (n, 4) normalised cxcywh};
n = 0 (an image with no object) is valid.
"""
from __future__ import annotations

import torch

from .boxes import check_normalized_cxcywh


def check_outputs(outputs, name: str = "outputs") -> tuple[int, int, int]:
    """Return (B, Q, C) where C is the number of real classes (the last logit is no-object)."""
    if not isinstance(outputs, dict) or "logits" not in outputs or "pred_boxes" not in outputs:
        raise ValueError(f"{name} must be a dict with 'logits' (B, Q, C+1) and 'pred_boxes' (B, Q, 4), "
                         f"got {type(outputs).__name__} with keys {list(outputs) if isinstance(outputs, dict) else None}")
    logits, boxes = outputs["logits"], outputs["pred_boxes"]
    if logits.dim() != 3 or logits.shape[-1] < 2:
        raise ValueError(f"{name}['logits'] must be (B, Q, C+1) with at least one class plus no-object, "
                         f"got {tuple(logits.shape)}")
    if boxes.shape != (*logits.shape[:2], 4):
        raise ValueError(f"{name}['pred_boxes'] must be (B, Q, 4) = {(*logits.shape[:2], 4)} to match the "
                         f"logits, got {tuple(boxes.shape)}")
    if not (torch.isfinite(logits).all() and torch.isfinite(boxes).all()):
        raise ValueError(f"{name} contain NaN or infinite values: the model has diverged (lower the learning "
                         f"rate, clip gradients as DETR does at 0.1)")
    return logits.shape[0], logits.shape[1], logits.shape[2] - 1


def check_targets(targets, batch_size: int, num_classes: int) -> None:
    """Each target: 'class_labels' (n,) integers in [0, num_classes), 'boxes' (n, 4) normalised cxcywh.
    The values of all targets are checked at once (a few tensor ops per batch, not per image); only
    when a check fails are the targets looked at one by one to name the culprit."""
    if not isinstance(targets, (list, tuple)) or len(targets) != batch_size:
        raise ValueError(f"targets must be a list of {batch_size} dicts (one per image), got "
                         f"{type(targets).__name__} of length {len(targets) if hasattr(targets, '__len__') else '?'}")
    for i, t in enumerate(targets):
        if not isinstance(t, dict) or "class_labels" not in t or "boxes" not in t:
            raise ValueError(f"targets[{i}] must be a dict with 'class_labels' (n,) and 'boxes' (n, 4)")
        labels, boxes = t["class_labels"], t["boxes"]
        if not isinstance(labels, torch.Tensor) or labels.dim() != 1 or labels.is_floating_point():
            raise ValueError(f"targets[{i}]['class_labels'] must be a 1-D integer tensor, got "
                             f"{getattr(labels, 'dtype', type(labels).__name__)} {tuple(getattr(labels, 'shape', ()))}")
        if not isinstance(boxes, torch.Tensor) or boxes.shape != (len(labels), 4):
            raise ValueError(f"targets[{i}]['boxes'] must be ({len(labels)}, 4) to match its {len(labels)} labels, "
                             f"got {tuple(getattr(boxes, 'shape', ()))}")
    if not targets or sum(len(t["class_labels"]) for t in targets) == 0:
        return
    labels = torch.cat([t["class_labels"] for t in targets])
    boxes = torch.cat([t["boxes"].to(torch.float64) for t in targets])
    labels_ok = bool(((labels >= 0) & (labels < num_classes)).all())
    boxes_ok = bool((torch.isfinite(boxes) & (boxes >= 0) & (boxes <= 1)).all())
    if labels_ok and boxes_ok:
        return
    for i, t in enumerate(targets):                          # the slow path: say which target is wrong
        labels, boxes = t["class_labels"], t["boxes"]
        if len(labels) and (labels.min() < 0 or labels.max() >= num_classes):
            raise ValueError(f"targets[{i}]['class_labels'] must be in [0, {num_classes}) ({num_classes} classes; "
                             f"index {num_classes} is no-object and never a target), got {labels.tolist()}")
        check_normalized_cxcywh(boxes, f"targets[{i}]['boxes']")
