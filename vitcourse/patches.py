"""Images as sequences of patches (Dosovitskiy et al. 2021, Section 3.1, Eq. 1).

An image (C, H, W) becomes N = HW / P^2 flattened patches of P*P*C values, in raster order
(left to right, top to bottom). Inside a patch the order is (p1 p2 c): row, column, channel.
"""
from __future__ import annotations

import numbers

import torch
from einops import rearrange
from torch import nn

from ._checks import check_images, pair


def patchify(images: torch.Tensor, patch_size: int) -> torch.Tensor:
    """(B, C, H, W) -> (B, N, P*P*C) with N = (H/P)(W/P), raster order, (p1 p2 c) inside a patch."""
    check_images(images, patch_size=patch_size)
    return rearrange(images, "b c (h p1) (w p2) -> b (h w) (p1 p2 c)", p1=patch_size, p2=patch_size)


def unpatchify(patches: torch.Tensor, patch_size: int, image_size, channels: int = 3) -> torch.Tensor:
    """(B, N, P*P*C) -> (B, C, H, W): the inverse of `patchify`."""
    h, w = pair(image_size)
    p = patch_size
    if isinstance(p, bool) or not isinstance(p, numbers.Integral) or p <= 0:
        raise ValueError(f"patch_size must be a positive integer, got {p!r}")
    if not isinstance(patches, torch.Tensor):
        raise TypeError(f"patches must be a torch.Tensor of shape (B, N, P*P*C), got {type(patches).__name__}")
    if patches.dim() != 3:
        raise ValueError(f"patches must be (B, N, P*P*C), got shape {tuple(patches.shape)}")
    if h % p or w % p:
        raise ValueError(f"image_size {h}x{w} is not divisible by patch_size={p}")
    n, d = patches.shape[1:]
    if n != (h // p) * (w // p) or d != p * p * channels:
        raise ValueError(f"patches of shape {tuple(patches.shape)} do not fit a {channels}x{h}x{w} image "
                         f"with patch_size={p}: expected (B, {(h // p) * (w // p)}, {p * p * channels})")
    return rearrange(patches, "b (h w) (p1 p2 c) -> b c (h p1) (w p2)", h=h // p, w=w // p, p1=p, p2=p)


class PatchEmbed(nn.Module):
    """Split into patches and project each to D dimensions: a Conv2d with kernel = stride = P.

    The convolution equals a Linear layer on `patchify` output whose weight is
    `rearrange(proj.weight, 'd c p1 p2 -> d (p1 p2 c)')` (tested).
    """

    def __init__(self, image_size=224, patch_size: int = 16, in_channels: int = 3, dim: int = 768, bias: bool = True):
        super().__init__()
        self.image_size = pair(image_size)
        self.patch_size = patch_size
        self.in_channels = in_channels
        check_images(torch.empty(1, in_channels, *self.image_size, device="meta"), patch_size=patch_size,
                     name="image_size")
        self.grid_size = (self.image_size[0] // patch_size, self.image_size[1] // patch_size)
        self.num_patches = self.grid_size[0] * self.grid_size[1]
        self.proj = nn.Conv2d(in_channels, dim, kernel_size=patch_size, stride=patch_size, bias=bias)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        check_images(images, channels=self.in_channels, size=self.image_size, dtype=self.proj.weight.dtype)
        x = self.proj(images)                          # (B, D, H/P, W/P)
        return rearrange(x, "b d h w -> b (h w) d")    # (B, N, D)
