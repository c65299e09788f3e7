"""Choosing a mask and interactive refinement (Kirillov et al. 2023, Section 3 and Appendix A).

- With an ambiguous prompt the decoder returns 3 masks; at inference the one with the highest
  predicted IoU is kept (`select_mask`).
- Interactive segmentation: after the first prompt, each round adds one corrective click sampled
  from the error region (foreground on a miss, background on a spill) and feeds the previous
  round's mask logits back as a mask prompt. With more than one prompt the ambiguity is gone, and
  the paper returns only the single-mask output (the 4th token) from the second round on.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from .prompts import corrective_points


def upscale_masks(mask_logits: torch.Tensor, size: int | tuple[int, int]) -> torch.Tensor:
    """Bilinear upsampling of low-resolution logits (..., h, w) to the input image size (..., H, W)."""
    size = (size, size) if isinstance(size, int) else tuple(size)
    lead = mask_logits.shape[:-2]
    out = F.interpolate(mask_logits.reshape(-1, 1, *mask_logits.shape[-2:]), size=size, mode="bilinear",
                        align_corners=False)
    return out.reshape(*lead, *size)


def select_mask(mask_logits: torch.Tensor, iou_scores: torch.Tensor):
    """The mask the IoU head rates best: (B, P, K, h, w), (B, P, K) -> (B, P, h, w), its index (B, P)."""
    if mask_logits.dim() != 5 or tuple(iou_scores.shape) != tuple(mask_logits.shape[:3]):
        raise ValueError(f"expected mask_logits (B, P, K, h, w) and iou_scores (B, P, K), got "
                         f"{tuple(mask_logits.shape)} and {tuple(iou_scores.shape)}")
    best = iou_scores.argmax(dim=-1)                                                  # (B, P)
    idx = best[..., None, None, None].expand(-1, -1, 1, *mask_logits.shape[-2:])
    return mask_logits.gather(2, idx).squeeze(2), best


def refine(sam, image_embeddings: torch.Tensor, gt_masks: torch.Tensor, points=None, point_labels=None,
           boxes=None, clicks: int = 3, generator: torch.Generator | None = None) -> list[torch.Tensor]:
    """Simulated interactive segmentation: the first prompt, then `clicks` corrective rounds.

    gt_masks (B, P, H, W) at the input-image size. Returns one (B, P, h, w) tensor of mask logits per
    round (1 + clicks): round 0 is the IoU head's pick of the multimask output; later rounds add a
    click from the error of the previous round's (upscaled) mask and pass its logits as a mask prompt.
    A perfect mask gets a padding click (label -1), which the prompt encoder ignores.
    """
    size = sam.config.image_size
    if points is None and boxes is None:
        raise ValueError("refine needs a first prompt: points (with point_labels) or boxes")
    if gt_masks.dim() != 4 or tuple(gt_masks.shape[-2:]) != (size, size):
        raise ValueError(f"gt_masks must be (B, P, {size}, {size}) at the input-image size, got {tuple(gt_masks.shape)}")
    masks, iou = sam.predict_masks(image_embeddings, points, point_labels, boxes, multimask_output=True)
    logits, _ = select_mask(masks, iou)                                               # (B, P, h, w)
    rounds = [logits]
    if points is None:                                                               # a box first: no points yet
        points = torch.zeros(*gt_masks.shape[:2], 0, 2, dtype=image_embeddings.dtype, device=gt_masks.device)
        point_labels = torch.zeros(*gt_masks.shape[:2], 0, dtype=torch.long, device=gt_masks.device)
    for _ in range(clicks):
        pred = upscale_masks(logits.detach(), size) > 0
        new_pts, new_lab = corrective_points(pred, gt_masks, generator)
        points = torch.cat([points, new_pts.to(points)], dim=2)                      # (B, P, n + 1, 2)
        point_labels = torch.cat([point_labels, new_lab.to(point_labels)], dim=2)
        masks, _ = sam.predict_masks(image_embeddings, points, point_labels, boxes, multimask_output=False,
                                     mask_inputs=logits)
        logits = masks[:, :, 0]
        rounds.append(logits)
    return rounds
