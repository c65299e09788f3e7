"""Small layers of SAM's decoder (Kirillov et al. 2023, Appendix A): a channels-first LayerNorm and a deep MLP."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from einops import rearrange
from torch import nn


class LayerNorm2d(nn.LayerNorm):
    """LayerNorm over the channels of a (B, C, H, W) map (ConvNeXt's and SAM's `LayerNorm2d`)."""

    def __init__(self, num_channels: int, eps: float = 1e-6):
        super().__init__(num_channels, eps=eps)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 4 or x.shape[1] != self.normalized_shape[0]:
            raise ValueError(f"LayerNorm2d expects (B, {self.normalized_shape[0]}, H, W), got {tuple(x.shape)}")
        x = rearrange(x, "b c h w -> b h w c")
        x = F.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)
        return rearrange(x, "b h w c -> b c h w")


class FeedForward(nn.Module):
    """`num_layers` Linear layers with ReLU between them (SAM's `MLP`: hypernetworks and IoU head).

    in_dim -> hidden_dim -> ... -> hidden_dim -> out_dim; `layers.{i}` as in the original code.
    """

    def __init__(self, in_dim: int, hidden_dim: int, out_dim: int, num_layers: int):
        super().__init__()
        if num_layers < 2:
            raise ValueError(f"FeedForward needs num_layers >= 2, got {num_layers}")
        dims = [in_dim] + [hidden_dim] * (num_layers - 1) + [out_dim]
        self.layers = nn.ModuleList(nn.Linear(a, b) for a, b in zip(dims[:-1], dims[1:]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:         # (..., in_dim) -> (..., out_dim)
        for i, layer in enumerate(self.layers):
            x = layer(x)
            if i < len(self.layers) - 1:
                x = F.relu(x)
        return x
