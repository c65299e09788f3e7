"""A hybrid line encoder: a small convolutional stem, then the package's ViT over its feature map
(Dosovitskiy et al. 2021, Section 3.1, "Hybrid Architecture": the patches are taken from a CNN
feature map, and may have spatial size 1x1).

The stem turns a (B, C, H, W) line into a (B, C', H/8, W/4) map (three 3x3 convolutions with GELU,
strides (2, 2), (2, 2), (2, 1)) and folds its H/8 rows into the channels, so the ViT reads a
1 x (W/4) grid with 1x1 patches: one token per 4-px column of the line, each summarising the
whole column and its neighbours, as CTC readers want (one frame sequence, left to right).
Convolutions give the locality and translation equivariance that a plain ViT has to learn from
data (notebook 04); CRNN-style OCR models (Shi et al. 2016, arXiv 1507.05717) read lines this way.
Measured, not assumed: in 300-step pilots at notebook 14's settings a CTC reader on this encoder
was still on CTC's all-blank plateau while the plain ViT's 4 x 16 grid had begun to read, so the
readers default to the plain ViT (`hybrid=False`); this one is there to compare at larger budgets.
`forward_features` has the ViT's contract, so
both readers (CTC and `ImageToText`, with `encoder_dim`) take it as their encoder.
"""
from __future__ import annotations

import torch
from einops import rearrange
from torch import nn

from .._checks import check_images, pair
from ..config import ViTConfig
from ..vit import ViT


class LineEncoder(nn.Module):
    """`stem` (convolutions) -> `vit` (a head-less ViT with patch_size=1 over the stem's map)."""

    def __init__(self, image_size=(32, 128), in_channels: int = 1, stem_channels=(16, 32, 64), dim: int = 64,
                 depth: int = 3, num_heads: int = 4, mlp_dim: int = 128, pool: str = "mean"):
        super().__init__()
        h, w = pair(image_size)
        if h % 8 or w % 4:
            raise ValueError(f"image_size={image_size!r}: the stem divides the height by 8 and the width by 4, "
                             f"so they must be multiples of 8 and 4 (e.g. (32, 128))")
        c1, c2, c3 = stem_channels
        self.image_size, self.in_channels = (h, w), in_channels
        self.stem = nn.Sequential(
            nn.Conv2d(in_channels, c1, 3, stride=2, padding=1), nn.GELU(),        # (B, c1, H/2, W/2)
            nn.Conv2d(c1, c2, 3, stride=2, padding=1), nn.GELU(),                 # (B, c2, H/4, W/4)
            nn.Conv2d(c2, c3, 3, stride=(2, 1), padding=1), nn.GELU())            # (B, c3, H/8, W/4)
        self.config = ViTConfig(image_size=(1, w // 4), patch_size=1, in_channels=c3 * (h // 8), num_classes=0,
                                dim=dim, depth=depth, num_heads=num_heads, mlp_dim=mlp_dim, pool=pool)
        self.vit = ViT(self.config)
        for conv in self.stem[::2]:                 # He init: unit-scale features into the ViT
            nn.init.kaiming_normal_(conv.weight, nonlinearity="relu")
            nn.init.zeros_(conv.bias)

    @property
    def grid_hw(self) -> tuple[int, int]:
        """The token grid: (1, W/4), one token per 4-px column."""
        return self.config.grid_hw

    def forward_features(self, images: torch.Tensor) -> torch.Tensor:
        """(B, C, H, W) -> (B, [1 +] W/4, D) column tokens, left to right (class token first if pool='cls')."""
        check_images(images, channels=self.in_channels, size=self.image_size, dtype=self.stem[0].weight.dtype)
        x = rearrange(self.stem(images), "b c h w -> b (h c) 1 w")              # (B, C' H/8, 1, W/4)
        return self.vit.forward_features(x)                                     # (B, T, D)
