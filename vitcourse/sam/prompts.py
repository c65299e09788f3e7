"""Prompt simulation for training SAM (Kirillov et al. 2023, Appendix A "Training algorithm").

- a point sampled uniformly inside the object's mask (foreground, label 1);
- a box: the mask's tight box with noise of std 10% of its side on each coordinate, at most 20 pixels;
- corrective clicks: a point sampled uniformly from the error region of the previous prediction,
  foreground (1) where it missed the object (false negative), background (0) where it spilled over
  (false positive).

Masks are (B, P, H, W) booleans in input-image pixels; outputs use Hugging Face's layout
(points (B, P, n, 2) as (x, y), labels (B, P, n), boxes (B, P, 4) as (x0, y0, x1, y1)).
"""
from __future__ import annotations

import torch


def _masks(masks: torch.Tensor, name: str = "masks") -> torch.Tensor:
    if not isinstance(masks, torch.Tensor) or masks.dim() != 4:
        raise ValueError(f"{name} must be a (B, P, H, W) tensor of binary masks, got "
                         f"{tuple(getattr(masks, 'shape', ())) or type(masks).__name__}")
    if masks.dtype != torch.bool:
        if ((masks != 0) & (masks != 1)).any():
            raise ValueError(f"{name} must be binary (bool or 0/1); threshold logits first (logits > 0)")
        masks = masks.bool()
    return masks


def _sample_pixels(region: torch.Tensor, num: int, generator) -> torch.Tensor:
    """Uniform pixels of each non-empty (H, W) region of (B, P, H, W) -> (B, P, num, 2) as (x, y)."""
    b, p, h, w = region.shape
    weights = region.reshape(b * p, h * w).double().cpu()                            # seeded CPU draw
    idx = torch.multinomial(weights, num, replacement=True, generator=generator).to(region.device)  # (B P, num)
    xy = torch.stack([idx % w, idx // w], dim=-1).to(torch.get_default_dtype())      # (B P, num, 2)
    return xy.reshape(b, p, num, 2)


def sample_points(masks: torch.Tensor, num_points: int = 1, generator: torch.Generator | None = None):
    """Foreground points inside each mask: (B, P, H, W) -> points (B, P, n, 2), labels (B, P, n) of ones."""
    masks = _masks(masks)
    if num_points < 1:
        raise ValueError(f"num_points must be >= 1, got {num_points}")
    empty = ~masks.flatten(-2).any(-1)
    if empty.any():
        raise ValueError(f"{int(empty.sum())} mask(s) are empty: a point prompt needs an object to point at")
    points = _sample_pixels(masks, num_points, generator)
    return points, torch.ones(points.shape[:3], dtype=torch.long, device=points.device)


def box_from_mask(masks: torch.Tensor) -> torch.Tensor:
    """Tight boxes (x0, y0, x1, y1) of masks (..., H, W), pixel indices inclusive -> (..., 4)."""
    if not isinstance(masks, torch.Tensor) or masks.dim() < 2:
        raise ValueError(f"masks must be (..., H, W), got {type(masks).__name__}")
    masks = masks.bool()
    cols, rows = masks.any(-2), masks.any(-1)                                        # (..., W), (..., H)
    if not cols.any(-1).all():
        raise ValueError("a box prompt needs a non-empty mask; got an empty one")
    first = lambda a: a.float().argmax(-1)
    last = lambda a: a.shape[-1] - 1 - first(a.flip(-1))
    return torch.stack([first(cols), first(rows), last(cols), last(rows)], dim=-1).to(torch.get_default_dtype())


def sample_boxes(masks: torch.Tensor, jitter: float = 0.1, max_jitter: float = 20.0,
                 generator: torch.Generator | None = None) -> torch.Tensor:
    """Noisy boxes of masks (B, P, H, W) -> (B, P, 4): each coordinate moves by N(0, (jitter * side)^2),
    clipped to +-max_jitter pixels and to the image; corners are re-sorted so x1 >= x0, y1 >= y0."""
    masks = _masks(masks)
    if jitter < 0 or max_jitter < 0:
        raise ValueError(f"jitter and max_jitter must be >= 0, got {jitter}, {max_jitter}")
    box = box_from_mask(masks)                                                       # (B, P, 4)
    h, w = masks.shape[-2:]
    side = torch.stack([box[..., 2] - box[..., 0] + 1, box[..., 3] - box[..., 1] + 1], dim=-1).repeat(1, 1, 2)
    noise = torch.randn(box.shape, generator=generator, dtype=box.dtype).to(box.device) * jitter * side  # CPU draw
    box = box + noise.clamp(-max_jitter, max_jitter)
    box[..., 0::2] = box[..., 0::2].clamp(0, w - 1)
    box[..., 1::2] = box[..., 1::2].clamp(0, h - 1)
    x = torch.sort(box[..., 0::2], dim=-1).values
    y = torch.sort(box[..., 1::2], dim=-1).values
    return torch.stack([x[..., 0], y[..., 0], x[..., 1], y[..., 1]], dim=-1)


def corrective_points(pred_masks: torch.Tensor, gt_masks: torch.Tensor, generator: torch.Generator | None = None):
    """One click per prompt from the error region of a prediction (B, P, H, W) against the truth.

    -> points (B, P, 1, 2), labels (B, P, 1): 1 on a false negative, 0 on a false positive, and
    -1 (a padding point at (0, 0), which the prompt encoder ignores) where the prediction is perfect.
    """
    pred, gt = _masks(pred_masks, "pred_masks"), _masks(gt_masks, "gt_masks")
    if pred.shape != gt.shape:
        raise ValueError(f"pred_masks {tuple(pred.shape)} and gt_masks {tuple(gt.shape)} must have the same shape")
    error = pred ^ gt                                                                # (B, P, H, W)
    perfect = ~error.flatten(-2).any(-1)                                             # (B, P)
    region = error | perfect[..., None, None]                                        # any pixel where nothing to fix
    points = _sample_pixels(region, 1, generator)                                    # (B, P, 1, 2)
    x, y = points[..., 0].long(), points[..., 1].long()                              # (B, P, 1)
    on_fn = gt.flatten(-2).gather(-1, (y * gt.shape[-1] + x).flatten(2)).view_as(x)
    labels = torch.where(perfect[..., None], -1, on_fn.long())
    points = torch.where(perfect[..., None, None], torch.zeros_like(points), points)
    return points, labels
