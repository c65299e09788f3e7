"""Models: a Vision Transformer in plain PyTorch, a small CNN baseline, and the course's ViT.

ViT: Dosovitskiy et al. 2021, "An Image is Worth 16x16 Words", Section 3.1, Eq. 1-4:
    z0 = [x_class; x_p^1 E; ...; x_p^N E] + E_pos    (patches -> tokens, class token, positions)
    z_l = z'_l + MLP(LN(z'_l)),  z'_l = z_{l-1} + MSA(LN(z_{l-1}))
    y = head(LN(z_L^0))
Parameter names follow timm (patch_embed.proj, cls_token, pos_embed, blocks.i.norm1/attn/norm2/mlp,
norm, head). `build_model` picks one from the config's `model.name`.
"""
from __future__ import annotations

import torch
from torch import nn

from .config import ModelConfig


def check_images(images: torch.Tensor, channels: int, size: int) -> None:
    """Raise a ValueError that says what was expected, instead of a shape error deep in a layer."""
    if not isinstance(images, torch.Tensor) or images.ndim != 4:
        shape = tuple(images.shape) if isinstance(images, torch.Tensor) else type(images).__name__
        raise ValueError(f"expected images of shape (B, C, H, W), got {shape}")
    if images.shape[1] != channels or tuple(images.shape[-2:]) != (size, size):
        raise ValueError(f"expected images of shape (B, {channels}, {size}, {size}), got {tuple(images.shape)}")
    if not images.is_floating_point():
        raise ValueError(f"expected floating-point images in [0, 1], got dtype {images.dtype}")


class Block(nn.Module):
    """Pre-norm encoder block (Eq. 2-3). (B, T, D) -> (B, T, D) and, if asked, (B, heads, T, T) weights."""

    def __init__(self, dim: int, num_heads: int, mlp_dim: int, dropout: float = 0.0):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=1e-6)
        # batch_first=True: PyTorch's default reads (T, B, D), and attention would mix the images of a batch
        self.attn = nn.MultiheadAttention(dim, num_heads, dropout=dropout, batch_first=True)
        self.norm2 = nn.LayerNorm(dim, eps=1e-6)
        self.mlp = nn.Sequential(nn.Linear(dim, mlp_dim), nn.GELU(), nn.Dropout(dropout),
                                 nn.Linear(mlp_dim, dim), nn.Dropout(dropout))

    def forward(self, x: torch.Tensor, need_weights: bool = False):
        h = self.norm1(x)                                                        # (B, T, D)
        out, weights = self.attn(h, h, h, need_weights=need_weights, average_attn_weights=False)
        x = x + out
        return x + self.mlp(self.norm2(x)), weights                             # (B, T, D), (B, h, T, T)


class ViT(nn.Module):
    """A ViT classifier on (B, C, S, S) images with S / P patches per side and a class token."""

    def __init__(self, image_size: int, in_channels: int, num_classes: int, patch_size: int = 4,
                 dim: int = 64, depth: int = 4, num_heads: int = 4, mlp_dim: int = 128, dropout: float = 0.0):
        super().__init__()
        if image_size % patch_size:
            raise ValueError(f"image_size={image_size} is not divisible by patch_size={patch_size}")
        self.image_size, self.in_channels, self.patch_size = image_size, in_channels, patch_size
        num_patches = (image_size // patch_size) ** 2                           # N
        self.patch_embed = nn.Module()
        self.patch_embed.proj = nn.Conv2d(in_channels, dim, patch_size, stride=patch_size)   # E, on patches
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim))
        self.pos_embed = nn.Parameter(torch.zeros(1, 1 + num_patches, dim))     # E_pos, learned
        self.pos_drop = nn.Dropout(dropout)
        self.blocks = nn.ModuleList(Block(dim, num_heads, mlp_dim, dropout) for _ in range(depth))
        self.norm = nn.LayerNorm(dim, eps=1e-6)
        self.head = nn.Linear(dim, num_classes)
        for p in (self.cls_token, self.pos_embed):
            nn.init.trunc_normal_(p, std=0.02)

    def _tokens(self, images: torch.Tensor, need_weights: bool):
        check_images(images, self.in_channels, self.image_size)
        x = self.patch_embed.proj(images).flatten(2).transpose(1, 2)            # (B, N, D)
        x = torch.cat([self.cls_token.expand(len(x), -1, -1), x], dim=1)       # (B, 1 + N, D)
        x = self.pos_drop(x + self.pos_embed)
        maps = []
        for block in self.blocks:
            x, weights = block(x, need_weights)
            maps.append(weights)
        return self.norm(x), maps

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """(B, C, S, S) -> logits (B, num_classes), read from the class token."""
        return self.head(self._tokens(images, False)[0][:, 0])

    @torch.no_grad()
    def attention_maps(self, images: torch.Tensor) -> list[torch.Tensor]:
        """One (B, heads, T, T) tensor per block, T = 1 + N; row 0 is where the class token looks."""
        return self._tokens(images, True)[1]


class SmallCNN(nn.Module):
    """The baseline: conv3x3-BN-ReLU stages of widths (w, 2w, 4w), pooling, global average, linear head."""

    def __init__(self, image_size: int, in_channels: int, num_classes: int, width: int = 32):
        super().__init__()
        self.image_size, self.in_channels = image_size, in_channels

        def stage(c_in, c_out):
            return [nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU()]

        self.features = nn.Sequential(*stage(in_channels, width), nn.MaxPool2d(2), *stage(width, 2 * width),
                                      nn.MaxPool2d(2), *stage(2 * width, 4 * width))
        self.head = nn.Linear(4 * width, num_classes)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """(B, C, S, S) -> logits (B, num_classes)."""
        check_images(images, self.in_channels, self.image_size)
        return self.head(self.features(images).mean(dim=(2, 3)))               # (B, 4w) -> (B, K)


def build_model(cfg: ModelConfig, image_size: int, in_channels: int, num_classes: int) -> nn.Module:
    """The model named by `cfg.name`, sized for the data."""
    if cfg.name == "cnn":
        if image_size < 4:
            raise ValueError(f"the CNN needs images of at least 4 pixels (two 2x2 poolings), got {image_size}")
        return SmallCNN(image_size, in_channels, num_classes, cfg.width)
    vit_args = dict(patch_size=cfg.patch_size, dim=cfg.dim, depth=cfg.depth, num_heads=cfg.num_heads,
                    mlp_dim=cfg.mlp_dim, dropout=cfg.dropout)
    if cfg.name == "vit":
        return ViT(image_size, in_channels, num_classes, **vit_args)
    if cfg.name == "vitcourse-vit":
        try:
            import vitcourse
        except ImportError as err:
            raise ImportError("model.name 'vitcourse-vit' needs the course package: pip install -e <a clone of "
                              "the course repository> (or the 'course' extra, see the README)") from err
        config = vitcourse.ViTConfig(image_size=image_size, in_channels=in_channels, num_classes=num_classes,
                                     **vit_args)
        return vitcourse.ViT(config)
    raise ValueError(f"unknown model.name={cfg.name!r}: expected 'vit', 'cnn' or 'vitcourse-vit'")


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
