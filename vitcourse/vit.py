"""The Vision Transformer (Dosovitskiy et al. 2021, Section 3.1, Eq. 1-4).

    z0 = [x_class; x_p^1 E; ...; x_p^N E] + E_pos      (Eq. 1)
    z_l = Block(z_{l-1}),  l = 1..L                     (Eq. 2-3)
    y = head(LN(z_L^0))                                 (Eq. 4)

Parameter names follow timm: patch_embed.proj, cls_token, pos_embed, blocks.{i}.*, norm, head.
"""
from __future__ import annotations

import torch
from torch import nn

from ._checks import check_images
from .blocks import Block
from .config import ViTConfig
from .patches import PatchEmbed


class ViT(nn.Module):
    def __init__(self, config: ViTConfig | None = None, **overrides):
        super().__init__()
        if config is None:
            config = ViTConfig(**overrides)
        elif overrides:
            config = config.replace(**overrides)
        if not isinstance(config, ViTConfig):
            raise TypeError(f"ViT expects a ViTConfig, got {type(config).__name__}")
        self.config = c = config
        self.patch_embed = PatchEmbed(c.image_size, c.patch_size, c.in_channels, c.dim, bias=c.patch_bias)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, c.dim)) if c.pool == "cls" else None
        self.pos_embed = nn.Parameter(torch.zeros(1, c.num_tokens, c.dim))
        self.pos_drop = nn.Dropout(c.dropout)
        self.norm_pre = nn.LayerNorm(c.dim, eps=c.layer_norm_eps) if c.pre_norm else nn.Identity()
        self.blocks = nn.ModuleList(
            Block(c.dim, c.num_heads, c.mlp_dim, c.qkv_bias, c.dropout, c.layer_norm_eps, c.act_layer)
            for _ in range(c.depth))
        self.norm = nn.LayerNorm(c.dim, eps=c.layer_norm_eps)
        self.head = nn.Linear(c.dim, c.num_classes) if c.num_classes > 0 else nn.Identity()
        self.reset_parameters()

    def reset_parameters(self, std: float = 0.02):
        """Truncated normal(0.02) for weights, tokens and positions; zero biases; LayerNorm = identity."""
        for m in self.modules():
            if isinstance(m, (nn.Linear, nn.Conv2d)):
                nn.init.trunc_normal_(m.weight, std=std)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, nn.LayerNorm):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
        nn.init.trunc_normal_(self.pos_embed, std=std)
        if self.cls_token is not None:
            nn.init.trunc_normal_(self.cls_token, std=std)

    def embed(self, images: torch.Tensor) -> torch.Tensor:
        """Eq. 1: patches -> tokens, class token first, plus positions. (B, C, H, W) -> (B, T, D).

        With `pre_norm` (CLIP) the tokens are layer-normalised here, before the first block. The
        images must have the dtype of the parameters (float32 usually, float64 after model.double()):
        integer pixels are not converted silently, since only the caller knows their scale."""
        check_images(images, dtype=self.patch_embed.proj.weight.dtype)
        x = self.patch_embed(images)                                   # (B, N, D)
        if self.cls_token is not None:
            x = torch.cat([self.cls_token.expand(x.shape[0], -1, -1), x], dim=1)  # (B, 1 + N, D)
        return self.norm_pre(self.pos_drop(x + self.pos_embed))

    def forward_features(self, images: torch.Tensor) -> torch.Tensor:
        """All tokens after the last block and the final norm: (B, T, D)."""
        x = self.embed(images)
        for block in self.blocks:
            x = block(x)
        return self.norm(x)

    def pool(self, features: torch.Tensor) -> torch.Tensor:
        """(B, T, D) -> (B, D): the class token, or the mean of the patch tokens."""
        return features[:, 0] if self.config.pool == "cls" else features.mean(dim=1)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """(B, C, H, W) -> logits (B, num_classes)."""
        return self.head(self.pool(self.forward_features(images)))

    @torch.no_grad()
    def attention_maps(self, images: torch.Tensor) -> list[torch.Tensor]:
        """One (B, heads, T, T) tensor of attention weights per layer (rows sum to 1)."""
        x, maps = self.embed(images), []
        for block in self.blocks:
            x, weights = block(x, return_weights=True)
            maps.append(weights)
        return maps

    def num_parameters(self, trainable_only: bool = False) -> int:
        return sum(p.numel() for p in self.parameters() if p.requires_grad or not trainable_only)
