"""From DETR's outputs to detections in pixels (Carion et al. 2020, Sec. 3: no NMS).

Each query gives one detection: its most likely *real* class (the no-object logit is left out of the
arg-max, as in DETR's and Hugging Face's post-processing), that class's probability as the score,
and its box scaled from normalised cxcywh to xyxy pixels. Every query is kept unless `threshold`
says otherwise: COCO's mAP ranks all detections by score and needs the low ones too.
"""
from __future__ import annotations

import torch

from .boxes import box_cxcywh_to_xyxy
from .targets import check_outputs


def post_process(outputs, image_sizes, threshold: float = 0.0) -> list[dict[str, torch.Tensor]]:
    """outputs {"logits" (B, Q, C+1), "pred_boxes" (B, Q, 4)}, image_sizes (B, 2) as (height, width)
    -> per image {"scores" (k,), "labels" (k,), "boxes" (k, 4) xyxy pixels}, k <= Q queries."""
    batch_size, _, _ = check_outputs(outputs)
    sizes = torch.as_tensor(image_sizes, dtype=outputs["pred_boxes"].dtype, device=outputs["pred_boxes"].device)
    if sizes.shape != (batch_size, 2):
        raise ValueError(f"image_sizes must be {batch_size} (height, width) pairs, one per image, "
                         f"got shape {tuple(sizes.shape)}")
    prob = outputs["logits"].softmax(-1)[..., :-1]                      # (B, Q, C): no-object dropped
    scores, labels = prob.max(-1)                                       # (B, Q)
    h, w = sizes.unbind(-1)
    scale = torch.stack([w, h, w, h], dim=-1)[:, None, :]               # (B, 1, 4)
    boxes = box_cxcywh_to_xyxy(outputs["pred_boxes"]) * scale          # (B, Q, 4) pixels
    results = []
    for s, l, b in zip(scores, labels, boxes):
        keep = s > threshold
        results.append({"scores": s[keep], "labels": l[keep], "boxes": b[keep]})
    return results
