"""Box utilities for set-prediction detection (DETR, Carion et al. 2020, Sec. 3.1 and Appendix A.1).

Boxes are (..., 4) tensors in one of two layouts:
- `cxcywh`: centre x, centre y, width, height -- what DETR's box head predicts, normalised to [0, 1]
  by the image size;
- `xyxy`: corners x0, y0, x1, y1 with x0 <= x1 and y0 <= y1 -- what IoU and COCO need (in pixels).

`generalized_box_iou` is GIoU (Rezatofighi et al. 2019, Algorithm 1): IoU minus the fraction of the
smallest enclosing box that the union does not cover; in [-1, 1], and informative (non-zero gradient)
even for boxes that do not overlap, which is why DETR's loss uses it next to L1.
"""
from __future__ import annotations

import torch


def _check_boxes(boxes, name: str) -> None:
    if not isinstance(boxes, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor of shape (..., 4), got {type(boxes).__name__}")
    if boxes.dim() == 0 or boxes.shape[-1] != 4:
        raise ValueError(f"{name} must have shape (..., 4), got {tuple(boxes.shape)}")
    if not boxes.is_floating_point():
        raise ValueError(f"{name} must be floating point, got dtype {boxes.dtype}")


def check_xyxy(boxes: torch.Tensor, name: str = "boxes") -> None:
    """Raise ValueError unless `boxes` is (..., 4) xyxy with x0 <= x1 and y0 <= y1 and finite."""
    _check_boxes(boxes, name)
    if not torch.isfinite(boxes).all():
        raise ValueError(f"{name} contain NaN or infinite coordinates")
    bad = (boxes[..., 2] < boxes[..., 0]) | (boxes[..., 3] < boxes[..., 1])
    if bad.any():
        first = boxes[bad][0].tolist()
        raise ValueError(f"{name} must be corners (x0, y0, x1, y1) with x0 <= x1 and y0 <= y1; "
                         f"{int(bad.sum())} box(es) are not, e.g. {first} (cxcywh boxes? convert them "
                         f"with box_cxcywh_to_xyxy)")


def check_normalized_cxcywh(boxes: torch.Tensor, name: str = "boxes") -> None:
    """Raise ValueError unless `boxes` is (..., 4) cxcywh normalised to [0, 1] with w, h >= 0."""
    _check_boxes(boxes, name)
    if not torch.isfinite(boxes).all():
        raise ValueError(f"{name} contain NaN or infinite coordinates")
    if boxes.numel() and (boxes.min() < 0 or boxes.max() > 1):
        raise ValueError(f"{name} must be normalised (cx, cy, w, h) in [0, 1] (divide pixel boxes by the "
                         f"image width and height), got values in [{boxes.min().item():.3g}, "
                         f"{boxes.max().item():.3g}]")


def box_cxcywh_to_xyxy(boxes: torch.Tensor) -> torch.Tensor:
    """(..., 4) centre-size -> corners: x0 = cx - w/2, y0 = cy - h/2, x1 = cx + w/2, y1 = cy + h/2."""
    _check_boxes(boxes, "boxes")
    cx, cy, w, h = boxes.unbind(-1)
    if (w < 0).any() or (h < 0).any():
        raise ValueError("cxcywh boxes must have non-negative width and height")
    return torch.stack([cx - 0.5 * w, cy - 0.5 * h, cx + 0.5 * w, cy + 0.5 * h], dim=-1)


def box_xyxy_to_cxcywh(boxes: torch.Tensor) -> torch.Tensor:
    """(..., 4) corners -> centre-size; the inverse of `box_cxcywh_to_xyxy`."""
    check_xyxy(boxes)
    x0, y0, x1, y1 = boxes.unbind(-1)
    return torch.stack([(x0 + x1) / 2, (y0 + y1) / 2, x1 - x0, y1 - y0], dim=-1)


def box_area(boxes: torch.Tensor) -> torch.Tensor:
    """(..., 4) xyxy -> (...,) areas (x1 - x0)(y1 - y0)."""
    check_xyxy(boxes)
    return (boxes[..., 2] - boxes[..., 0]) * (boxes[..., 3] - boxes[..., 1])


def _pairwise(boxes1, boxes2):
    for name, b in (("boxes1", boxes1), ("boxes2", boxes2)):
        check_xyxy(b, name)
        if b.dim() != 2:
            raise ValueError(f"{name} must be a 2-D (N, 4) tensor of xyxy boxes, got {tuple(b.shape)}")


def _iou_and_union(boxes1, boxes2):
    area1, area2 = box_area(boxes1), box_area(boxes2)                    # (N,), (M,)
    top_left = torch.max(boxes1[:, None, :2], boxes2[None, :, :2])      # (N, M, 2)
    bottom_right = torch.min(boxes1[:, None, 2:], boxes2[None, :, 2:])  # (N, M, 2)
    wh = (bottom_right - top_left).clamp(min=0)                         # (N, M, 2)
    inter = wh[..., 0] * wh[..., 1]                                     # (N, M)
    union = area1[:, None] + area2[None, :] - inter                     # (N, M)
    return inter / union, union


def box_iou(boxes1: torch.Tensor, boxes2: torch.Tensor) -> torch.Tensor:
    """Pairwise IoU: (N, 4) and (M, 4) xyxy -> (N, M) intersection over union.

    Two empty boxes (zero area, union 0) give NaN, as in torchvision and DETR.
    """
    _pairwise(boxes1, boxes2)
    return _iou_and_union(boxes1, boxes2)[0]


def generalized_box_iou(boxes1: torch.Tensor, boxes2: torch.Tensor) -> torch.Tensor:
    """Pairwise GIoU (Rezatofighi et al. 2019): (N, 4) and (M, 4) xyxy -> (N, M).

    GIoU = IoU - |C minus (A union B)| / |C|, with C the smallest box enclosing A and B.
    Equals 1 for identical boxes and tends to -1 for tiny boxes far apart.
    """
    _pairwise(boxes1, boxes2)
    iou, union = _iou_and_union(boxes1, boxes2)
    top_left = torch.min(boxes1[:, None, :2], boxes2[None, :, :2])      # (N, M, 2)
    bottom_right = torch.max(boxes1[:, None, 2:], boxes2[None, :, 2:])  # (N, M, 2)
    wh = (bottom_right - top_left).clamp(min=0)
    enclosing = wh[..., 0] * wh[..., 1]                                 # (N, M): area of C
    return iou - (enclosing - union) / enclosing
