"""Checks on SAM prompts, in Hugging Face's layout: clear errors instead of shape-mismatch tracebacks.

    points (B, P, n, 2) pixels (x, y)      labels (B, P, n) in {1 foreground, 0 background, -1 padding}
    boxes (B, P, 4) pixels (x0, y0, x1, y1)  mask_inputs (B, P, 4h, 4w) mask logits
"""
from __future__ import annotations

import torch

LABELS = (-1, 0, 1)  # padding ("not a point"), background, foreground


def _tensor(x, name):
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
    return x


def check_prompts(points, labels, boxes, image_size: int, batch_size: int | None = None, masks=None,
                  mask_size: int | None = None) -> None:
    """Raise ValueError naming what is wrong with a prompt batch and what is expected."""
    if points is None and labels is not None:
        raise ValueError("point_labels were given without points")
    if points is not None:
        _tensor(points, "points")
        if labels is None:
            raise ValueError("points need point_labels (B, P, n): 1 foreground, 0 background, -1 padding")
        _tensor(labels, "point_labels")
        if points.dim() != 4 or points.shape[-1] != 2:
            hint = " (one prompt of one point per image is (B, 1, 1, 2))" if points.dim() in (2, 3) else ""
            raise ValueError(f"points must be (B, P, n, 2) pixel coordinates (x, y), got {tuple(points.shape)}{hint}")
        if tuple(labels.shape) != tuple(points.shape[:3]):
            raise ValueError(f"point_labels must be (B, P, n) = {tuple(points.shape[:3])} to match points "
                             f"{tuple(points.shape)}, got {tuple(labels.shape)}")
        bad = ~torch.isin(labels, torch.tensor(LABELS, device=labels.device, dtype=labels.dtype))
        if bad.any():
            raise ValueError(f"point_labels must be 1 (foreground), 0 (background) or -1 (padding), got "
                             f"{sorted(set(labels[bad].tolist()))}")
        real = labels != -1                                            # padding points may sit anywhere
        coords = points[real]
        if coords.numel() and (not torch.isfinite(coords).all() or coords.min() < 0 or coords.max() >= image_size):
            raise ValueError(f"points must lie inside the {image_size} x {image_size} input image "
                             f"(0 <= x, y < {image_size}, in input pixels), got values in "
                             f"[{coords.min().item():g}, {coords.max().item():g}]")
    if boxes is not None:
        _tensor(boxes, "boxes")
        if boxes.dim() != 3 or boxes.shape[-1] != 4:
            hint = " (one box per image is (B, 1, 4))" if boxes.dim() == 2 else ""
            raise ValueError(f"boxes must be (B, P, 4) pixel corners (x0, y0, x1, y1), got {tuple(boxes.shape)}{hint}")
        if boxes.numel() and (not torch.isfinite(boxes).all() or boxes.min() < 0 or boxes.max() > image_size):
            raise ValueError(f"boxes must lie inside the {image_size} x {image_size} input image "
                             f"(0 <= coordinate <= {image_size}), got values in "
                             f"[{boxes.min().item():g}, {boxes.max().item():g}]")
        if (boxes[..., 2] < boxes[..., 0]).any() or (boxes[..., 3] < boxes[..., 1]).any():
            raise ValueError("boxes must be (x0, y0, x1, y1) with x1 >= x0 and y1 >= y0; got a box with "
                             "x1 < x0 or y1 < y0 (corners swapped? (x, y, w, h) instead of corners?)")
        if points is not None and tuple(points.shape[:2]) != tuple(boxes.shape[:2]):
            raise ValueError(f"points and boxes must describe the same prompts: points (B, P) = "
                             f"{tuple(points.shape[:2])}, boxes (B, P) = {tuple(boxes.shape[:2])}")
    if masks is not None:
        _tensor(masks, "mask_inputs")
        if masks.dim() != 4 or tuple(masks.shape[-2:]) != (mask_size, mask_size):
            raise ValueError(f"mask_inputs must be (B, P, {mask_size}, {mask_size}) mask logits (the decoder's output "
                             f"size, 4x the embedding grid), got {tuple(masks.shape)}")
        for name, t in (("points", points), ("boxes", boxes)):
            if t is not None and tuple(t.shape[:2]) != tuple(masks.shape[:2]):
                raise ValueError(f"mask_inputs (B, P) = {tuple(masks.shape[:2])} must match {name} (B, P) = "
                                 f"{tuple(t.shape[:2])}: one mask prompt per prompt")
    if batch_size is not None:
        for name, t in (("points", points), ("boxes", boxes), ("mask_inputs", masks)):
            if t is not None and t.shape[0] != batch_size:
                raise ValueError(f"{name} are for {t.shape[0]} images but the image embeddings hold {batch_size}")
