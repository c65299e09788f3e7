"""Convolutions for the inductive-bias comparison: a small CNN baseline and a convolutional stem.

A ViT has "much less image-specific inductive bias than CNNs": in a CNN, locality, the 2-D
neighbourhood structure and translation equivariance are baked into every layer, while in a ViT
only the patch cut and the MLPs are local (Dosovitskiy et al. 2021, Section 3.1 "Inductive bias").
Hence a ViT needs more data (Section 4.3, Figure 3). The paper's "Hybrid Architecture" (Section
3.1) feeds the transformer CNN features instead of raw patches; Xiao et al. 2021 ("Early
convolutions help transformers see better") replace the patchify stem by stride-2 3x3 convolutions,
and Tokens-to-Token ViT (Yuan et al. 2021) also models local structure before the transformer.

- `translate`: whole-pixel shifts with zero fill, to probe translation equivariance.
- `SmallCNN`: [conv3x3-BN-ReLU] x3 with max-pooling, global average pooling, linear head.
- `ConvStem`: log2(P) stride-2 conv3x3-BN-ReLU, then a 1x1 projection to D: (B, C, H, W) -> (B, N, D),
  the same tokens grid as a P x P patch embedding.
- `HybridViT`: `vitcourse.ViT` with `patch_embed` replaced by a `ConvStem` (timm's hybrid models
  also call it `patch_embed`, with `backbone` and `proj`).
BatchNorm makes a sample's output depend on its batch in training mode only; in eval mode it is fixed.
"""
from __future__ import annotations

import numbers

import torch
from einops import rearrange
from torch import nn

from ._checks import check_images, pair
from .config import ViTConfig
from .vit import ViT


def _positive_int(name: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value <= 0:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def translate(images: torch.Tensor, dy: int, dx: int) -> torch.Tensor:
    """Shift (B, C, H, W) images by whole pixels, down by dy and right by dx (negative: up/left);
    pixels that leave the frame are lost and zeros (the digits' background) come in."""
    check_images(images)
    h, w = images.shape[-2:]
    for name, k, side in (("dy", dy, h), ("dx", dx, w)):
        if isinstance(k, bool) or not isinstance(k, numbers.Integral) or abs(k) >= side:
            raise ValueError(f"{name} must be an integer shift smaller than the image side {side}, got {k!r}")
    out = torch.zeros_like(images)
    out[..., max(dy, 0):h + min(dy, 0), max(dx, 0):w + min(dx, 0)] = \
        images[..., max(-dy, 0):h - max(dy, 0), max(-dx, 0):w - max(dx, 0)]
    return out


def conv_bn_relu(c_in: int, c_out: int, stride: int = 1) -> nn.Sequential:
    """3x3 convolution (padding 1), BatchNorm, ReLU."""
    return nn.Sequential(nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1, bias=False),
                         nn.BatchNorm2d(c_out), nn.ReLU(inplace=True))


class SmallCNN(nn.Module):
    """Three conv3x3-BN-ReLU stages of widths (w, 2w, 4w), 2x2 max-pooling after the first two,
    global average pooling and a linear head. width=36 gives 119k parameters, 0.87 x `ViT(tiny())`
    (137k), at about the same cost per image."""

    def __init__(self, in_channels: int = 1, num_classes: int = 10, width: int = 36, image_size=16):
        super().__init__()
        self.in_channels = _positive_int("in_channels", in_channels)
        self.num_classes = _positive_int("num_classes", num_classes)
        self.width = _positive_int("width", width)
        self.image_size = pair(image_size)
        if min(self.image_size) < 4:
            raise ValueError(f"image_size must be at least 4 pixels (two 2x2 poolings), got {image_size!r}")
        w = self.width
        self.features = nn.Sequential(
            conv_bn_relu(in_channels, w), nn.MaxPool2d(2),
            conv_bn_relu(w, 2 * w), nn.MaxPool2d(2),
            conv_bn_relu(2 * w, 4 * w))
        self.head = nn.Linear(4 * w, num_classes)

    def forward_features(self, images: torch.Tensor) -> torch.Tensor:
        """(B, C, H, W) -> feature map (B, 4w, H/4, W/4), translation-equivariant away from borders
        (exactly so for shifts by multiples of 4 pixels, the total pooling stride)."""
        check_images(images, channels=self.in_channels, size=self.image_size, dtype=self.head.weight.dtype)
        return self.features(images)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """(B, C, H, W) -> logits (B, num_classes)."""
        x = self.forward_features(images).mean(dim=(2, 3))    # (B, 4w): global average pooling
        return self.head(x)

    def num_parameters(self, trainable_only: bool = False) -> int:
        return sum(p.numel() for p in self.parameters() if p.requires_grad or not trainable_only)


class ConvStem(nn.Module):
    """Stride-2 conv3x3-BN-ReLU layers (one per entry of `channels`), then a 1x1 convolution to
    `dim`: a drop-in for `PatchEmbed` when 2 ** len(channels) == patch_size (Xiao et al. 2021)."""

    def __init__(self, image_size=16, patch_size: int = 4, in_channels: int = 1, dim: int = 64,
                 channels=(16, 32)):
        super().__init__()
        self.image_size = pair(image_size)
        self.patch_size = _positive_int("patch_size", patch_size)
        self.in_channels = _positive_int("in_channels", in_channels)
        channels = tuple(channels)
        for c in channels:
            _positive_int("each stem channel count", c)
        if not channels or 2 ** len(channels) != patch_size:
            raise ValueError(f"ConvStem downsamples by 2 per layer: {len(channels)} layers "
                             f"(channels={channels}) give stride {2 ** len(channels)}, but patch_size="
                             f"{patch_size}; pass log2(patch_size) channel counts (patch_size must be a "
                             f"power of 2 >= 2)")
        check_images(torch.empty(1, in_channels, *self.image_size, device="meta"), patch_size=patch_size,
                     name="image_size")
        self.grid_size = (self.image_size[0] // patch_size, self.image_size[1] // patch_size)
        self.num_patches = self.grid_size[0] * self.grid_size[1]
        widths = (in_channels,) + channels
        self.backbone = nn.Sequential(*(conv_bn_relu(a, b, stride=2) for a, b in zip(widths, widths[1:])))
        self.proj = nn.Conv2d(channels[-1], dim, kernel_size=1)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        check_images(images, channels=self.in_channels, size=self.image_size, dtype=self.proj.weight.dtype)
        x = self.proj(self.backbone(images))           # (B, D, H/P, W/P)
        return rearrange(x, "b d h w -> b (h w) d")    # (B, N, D)


class HybridViT(ViT):
    """`ViT` whose patch embedding is a `ConvStem` (Dosovitskiy et al. 2021, Section 3.1, "Hybrid
    Architecture"): same tokens, positions, blocks, norm and head."""

    def __init__(self, config: ViTConfig | None = None, stem_channels=(16, 32), **overrides):
        super().__init__(config, **overrides)
        c = self.config
        self.patch_embed = ConvStem(c.image_size, c.patch_size, c.in_channels, c.dim, stem_channels)
        self.reset_parameters()
