"""COCO detection metrics with pycocotools' `COCOeval` (Lin et al. 2014; cocodataset.org/#detection-eval).

A thin wrapper: the package's detections (`post_process` output) and ground truth, both as xyxy
pixel boxes with integer labels, become COCO dicts in memory (no files), and `COCOeval(..., "bbox")`
computes the official numbers: AP averaged over IoU thresholds .50:.05:.95 ("mAP"), AP at IoU .5
and .75, AP by object size, and AR given 1, 10, 100 detections per image. A metric that is
undefined (no ground truth at all, or none of a size) is NaN, where pycocotools prints -1.
(torchmetrics' mAP would need torchvision, which does not load with the course's torch build.)
"""
from __future__ import annotations

import contextlib
import io
import math

import numpy as np
import torch

from .boxes import check_xyxy

STATS = ("map", "map_50", "map_75", "map_small", "map_medium", "map_large",
         "mar_1", "mar_10", "mar_100", "mar_small", "mar_medium", "mar_large")


def _coco_boxes(boxes, labels, name):
    boxes = torch.as_tensor(boxes, dtype=torch.float64).reshape(-1, 4)
    labels = torch.as_tensor(labels).reshape(-1)
    if len(labels) != len(boxes):
        raise ValueError(f"{name}: {len(boxes)} boxes but {len(labels)} labels")
    if labels.is_floating_point():
        raise ValueError(f"{name}: labels must be integers, got {labels.dtype}")
    check_xyxy(boxes, f"{name} boxes (xyxy pixels)")
    xywh = torch.cat([boxes[:, :2], boxes[:, 2:] - boxes[:, :2]], dim=1)  # COCO: [x, y, w, h]
    return xywh.tolist(), labels.tolist()


def coco_evaluate(predictions, targets, num_classes: int | None = None, verbose: bool = False) -> dict[str, float]:
    """predictions: per image {"boxes" (k, 4) xyxy px, "scores" (k,), "labels" (k,)};
    targets: per image {"boxes" (n, 4) xyxy px, "labels" (n,)} (n = 0 is fine) -> {"map": ..., ...}.

    Categories are 0..num_classes-1 (default: the labels seen in the targets; detections of other
    labels are then ignored). `verbose` prints pycocotools' own report.
    """
    try:
        from pycocotools.coco import COCO
        from pycocotools.cocoeval import COCOeval
    except ImportError as err:                                          # imported here: vitcourse.detr works without it
        raise ImportError("coco_evaluate needs pycocotools: pip install pycocotools") from err
    if len(predictions) != len(targets):
        raise ValueError(f"need one prediction dict per target image, got {len(predictions)} and {len(targets)}")
    images, gt_anns, dets = [], [], []
    for i, (p, t) in enumerate(zip(predictions, targets)):
        images.append({"id": i})
        for box, label in zip(*_coco_boxes(t["boxes"], t["labels"], f"targets[{i}]")):
            gt_anns.append({"id": len(gt_anns) + 1, "image_id": i, "category_id": int(label), "bbox": box,
                            "area": box[2] * box[3], "iscrowd": 0})
        boxes, labels = _coco_boxes(p["boxes"], p["labels"], f"predictions[{i}]")
        scores = torch.as_tensor(p["scores"], dtype=torch.float64).reshape(-1).tolist()
        if len(scores) != len(boxes):
            raise ValueError(f"predictions[{i}]: {len(boxes)} boxes but {len(scores)} scores")
        dets += [{"image_id": i, "category_id": int(l), "bbox": b, "score": s} for b, l, s in zip(boxes, labels, scores)]
    cats = range(num_classes) if num_classes is not None else sorted({a["category_id"] for a in gt_anns})
    if num_classes is not None:
        bad = sorted({a["category_id"] for a in gt_anns + dets} - set(cats))
        if bad:
            raise ValueError(f"labels {bad} are outside the {num_classes} classes 0..{num_classes - 1}")
    if not gt_anns:
        return {k: math.nan for k in STATS}
    out = contextlib.nullcontext() if verbose else contextlib.redirect_stdout(io.StringIO())
    with out:
        gt = COCO()
        gt.dataset = {"images": images, "annotations": gt_anns, "categories": [{"id": c} for c in cats]}
        gt.createIndex()
        if not dets:                                                    # nothing detected: AP = AR = 0
            return {k: 0.0 for k in STATS}
        ev = COCOeval(gt, gt.loadRes(dets), iouType="bbox")
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    return {k: (math.nan if v < 0 else float(v)) for k, v in zip(STATS, np.asarray(ev.stats))}
