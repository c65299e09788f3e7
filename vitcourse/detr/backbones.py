"""Backbones for DETR: modules that return a (B, C, h, w) feature map and say their `out_channels`.

DETR uses a ResNet's last stage, stride 32 (Carion et al. 2020, Sec. 3.2 "Backbone"). At the course's
scale the package's small CNN (stride 4) or a ViT's patch tokens put back on their grid (stride P,
as ViTDet / YOLOS use a plain ViT, Li et al. 2022, Fang et al. 2021) play that role; both can be
pre-trained in an earlier notebook and reused here.
"""
from __future__ import annotations

from einops import rearrange
from torch import nn

from .._checks import check_images
from ..cnn import SmallCNN
from ..vit import ViT


class CNNBackbone(nn.Module):
    """A `SmallCNN`'s convolutional features: (B, C_in, H, W) -> (B, 4 * width, H / 4, W / 4).

    Only `cnn.features` is kept (shared with `cnn`, so a pre-trained CNN's weights carry over);
    its classification head is left out."""

    def __init__(self, cnn: SmallCNN):
        super().__init__()
        if not isinstance(cnn, SmallCNN):
            raise TypeError(f"CNNBackbone wraps a vitcourse.cnn.SmallCNN, got {type(cnn).__name__}")
        self.features = cnn.features
        self.in_channels, self.image_size, self.out_channels = cnn.in_channels, cnn.image_size, 4 * cnn.width

    def forward(self, images):
        check_images(images, channels=self.in_channels, size=self.image_size)
        return self.features(images)


class ViTBackbone(nn.Module):
    """A `ViT`'s final patch tokens on their grid: (B, C, H, W) -> (B, D, H / P, W / P).

    The class token (if any) is dropped; its head is unused."""

    def __init__(self, vit: ViT):
        super().__init__()
        if not isinstance(vit, ViT):
            raise TypeError(f"ViTBackbone wraps a vitcourse.ViT, got {type(vit).__name__}")
        self.vit = vit
        self.out_channels = vit.config.dim
        self.num_prefix_tokens = 0 if vit.cls_token is None else 1
        self.grid = vit.config.image_size // vit.config.patch_size

    def forward(self, images):
        tokens = self.vit.forward_features(images)[:, self.num_prefix_tokens:]  # (B, N, D)
        return rearrange(tokens, "b (h w) d -> b d h w", h=self.grid)
