"""SAM's training objective (Kirillov et al. 2023, Section 3 "Losses and training", Appendix A).

    mask loss  = 20 * focal + 1 * dice                 (focal: Lin et al. 2017; dice: Milletari et al. 2016)
    ambiguity  : of the K predicted masks only the one with the lowest mask loss is back-propagated
    IoU head   : MSE between each predicted IoU and the true IoU of its (binarised) mask, weight 1.0

Like SAM 2's released training code (`sam2/training/loss_fns.py`, `supervise_all_iou`), the IoU head
is supervised on all K masks by default: it must rank them at inference.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F


def sigmoid_focal_loss(logits: torch.Tensor, targets: torch.Tensor, alpha: float = 0.25, gamma: float = 2.0):
    """Focal loss per mask, averaged over its pixels: (..., H, W) logits and {0, 1} targets -> (...)."""
    targets = targets.to(logits.dtype)
    p = logits.sigmoid()
    ce = F.binary_cross_entropy_with_logits(logits, targets, reduction="none")
    p_t = p * targets + (1 - p) * (1 - targets)
    loss = ce * (1 - p_t) ** gamma
    if alpha >= 0:
        loss = (alpha * targets + (1 - alpha) * (1 - targets)) * loss
    return loss.flatten(-2).mean(-1)


def dice_loss(logits: torch.Tensor, targets: torch.Tensor, smooth: float = 1.0):
    """1 - (2 |p t| + s) / (|p| + |t| + s) per mask with p = sigmoid(logits): (..., H, W) -> (...)."""
    p, t = logits.sigmoid().flatten(-2), targets.to(logits.dtype).flatten(-2)
    return 1 - (2 * (p * t).sum(-1) + smooth) / (p.sum(-1) + t.sum(-1) + smooth)


def mask_iou(pred: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """IoU of binary masks (logits are thresholded at 0): (..., H, W) -> (...); two empty masks -> 1."""
    pred = pred > 0 if pred.dtype != torch.bool else pred
    targets = targets.bool()
    inter = (pred & targets).flatten(-2).sum(-1)
    union = (pred | targets).flatten(-2).sum(-1)
    return torch.where(union > 0, inter / union.clamp(min=1), torch.ones_like(inter, dtype=torch.float))


def sam_loss(mask_logits: torch.Tensor, iou_pred: torch.Tensor, targets: torch.Tensor, focal_weight: float = 20.0,
             dice_weight: float = 1.0, iou_weight: float = 1.0, supervise_all_iou: bool = True) -> dict:
    """mask_logits (B, P, K, h, w), iou_pred (B, P, K), targets (B, P, H, W) in {0, 1} -> dict of losses.

    Logits are upsampled (bilinear) to the targets' size when it differs. Returns `loss` (to
    back-propagate), `focal`, `dice`, `iou_mse` (means over prompts), `best` (B, P) the index of the
    mask that was trained, and `true_iou` (B, P, K).
    """
    if mask_logits.dim() != 5:
        raise ValueError(f"mask_logits must be (B, P, K, h, w), got {tuple(mask_logits.shape)}")
    b, p, k = mask_logits.shape[:3]
    if tuple(iou_pred.shape) != (b, p, k):
        raise ValueError(f"iou_pred must be (B, P, K) = {(b, p, k)} like mask_logits, got {tuple(iou_pred.shape)}")
    if targets.dim() != 4 or tuple(targets.shape[:2]) != (b, p):
        raise ValueError(f"targets must be (B, P, H, W) = ({b}, {p}, H, W): one true mask per prompt, "
                         f"got {tuple(targets.shape)}")
    if ((targets != 0) & (targets != 1)).any():
        raise ValueError("targets must be binary masks (0 / 1 or bool)")
    if tuple(targets.shape[-2:]) != tuple(mask_logits.shape[-2:]):
        size = tuple(targets.shape[-2:])
        mask_logits = F.interpolate(mask_logits.flatten(0, 1), size=size, mode="bilinear",
                                    align_corners=False).unflatten(0, (b, p))
    t = targets[:, :, None].expand_as(mask_logits)                                  # (B, P, K, H, W)
    focal, dice = sigmoid_focal_loss(mask_logits, t), dice_loss(mask_logits, t)     # (B, P, K)
    per_mask = focal_weight * focal + dice_weight * dice
    best = per_mask.argmin(dim=-1)                                                  # (B, P): min over masks
    pick = lambda x: x.gather(-1, best[..., None]).squeeze(-1)                      # (B, P)
    true_iou = mask_iou(mask_logits.detach(), t).to(iou_pred.dtype)                 # (B, P, K), no gradient
    sq = (iou_pred - true_iou) ** 2
    iou_mse = sq.mean(-1) if supervise_all_iou else pick(sq)
    loss = pick(per_mask).mean() + iou_weight * iou_mse.mean()
    return dict(loss=loss, focal=pick(focal).mean(), dice=pick(dice).mean(), iou_mse=iou_mse.mean(),
                best=best, true_iou=true_iou)
