"""Batch augmentations for the training loaders, drawn from an explicit torch.Generator (seeded).

A ViT has less image-specific inductive bias than a CNN (Dosovitskiy et al. 2021, sec. 3.1) and
overfits small datasets more (sec. 4.3); DeiT (Touvron et al. 2021) trains it on ImageNet alone
thanks to strong augmentation. Two classics for small images:
- `random_affine`: small shifts and rotations, for handwritten digits (0 = background outside);
- `random_crop_flip`: pad, random crop and horizontal flip, the CIFAR-10 recipe of He et al. 2016
  (sec. 4.2: "4 pixels are padded on each side, and a 32x32 crop is randomly sampled from the
  padded image or its horizontal flip").
They are applied to training batches only; validation and test images are never augmented.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F


def random_affine(images: torch.Tensor, generator: torch.Generator, max_shift: float = 0.125,
                  max_degrees: float = 10.0) -> torch.Tensor:
    """Shift each image by up to `max_shift` of its side (in x and in y) and rotate it by up to
    `max_degrees` about its centre; bilinear, zeros enter from outside. (B, C, H, W) -> same."""
    if not 0 <= max_shift < 1 or not 0 <= max_degrees <= 180:
        raise ValueError(f"need 0 <= max_shift < 1 and 0 <= max_degrees <= 180, got "
                         f"max_shift={max_shift}, max_degrees={max_degrees}")
    b = images.shape[0]
    angle = (torch.rand(b, generator=generator) * 2 - 1) * math.radians(max_degrees)     # (B,)
    shift = (torch.rand(b, 2, generator=generator) * 2 - 1) * max_shift * 2   # grid spans [-1, 1]
    cos, sin = angle.cos(), angle.sin()
    theta = torch.stack([torch.stack([cos, -sin, shift[:, 0]], 1),
                         torch.stack([sin, cos, shift[:, 1]], 1)], 1)                   # (B, 2, 3)
    grid = F.affine_grid(theta.to(images.dtype), list(images.shape), align_corners=False)
    return F.grid_sample(images, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


def random_crop_flip(images: torch.Tensor, generator: torch.Generator, padding: int | None = None,
                     flip_prob: float = 0.5) -> torch.Tensor:
    """Zero-pad by `padding` pixels (default: 1/8 of the side, 4 px at 32 px), crop back to the
    original size at a random offset, and flip horizontally with probability `flip_prob`."""
    b, c, h, w = images.shape
    p = round(min(h, w) / 8) if padding is None else padding
    if p < 0 or not 0 <= flip_prob <= 1:
        raise ValueError(f"need padding >= 0 and 0 <= flip_prob <= 1, got {p} and {flip_prob}")
    padded = F.pad(images, (p, p, p, p))                                   # (B, C, H+2p, W+2p)
    dy = torch.randint(0, 2 * p + 1, (b,), generator=generator)
    dx = torch.randint(0, 2 * p + 1, (b,), generator=generator)
    rows = dy[:, None] + torch.arange(h)                                    # (B, H)
    cols = dx[:, None] + torch.arange(w)                                    # (B, W)
    out = padded[torch.arange(b)[:, None, None], :, rows[:, :, None], cols[:, None, :]]  # (B, H, W, C)
    out = out.permute(0, 3, 1, 2)                                           # (B, C, H, W)
    flip = torch.rand(b, generator=generator) < flip_prob
    return torch.where(flip[:, None, None, None], out.flip(-1), out).contiguous()
