"""Positional encodings: fixed sinusoids (Vaswani et al. 2017, Section 3.5), MAE's fixed 2-D
sin-cos table (He et al. 2022, Appendix A.1), learned tables (Dosovitskiy et al. 2021, Section 3.1)
and their resizing for a new image size (ViT, Section 3.2, "Fine-tuning and higher resolution").
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from ._checks import pair


def sinusoidal_1d(num_positions: int, dim: int, base: float = 10000.0, positions=None) -> torch.Tensor:
    """(N, D) table with PE[pos, 2i] = sin(pos / base^(2i/D)) and PE[pos, 2i+1] = cos(pos / base^(2i/D)).

    `positions` (optional, shape (N,)) replaces 0..N-1, e.g. to encode fractional positions.
    """
    if num_positions <= 0 or dim <= 0:
        raise ValueError(f"num_positions and dim must be positive, got {num_positions} and {dim}")
    pos = torch.arange(num_positions, dtype=torch.float64) if positions is None else \
        torch.as_tensor(positions, dtype=torch.float64).reshape(-1)
    two_i = torch.arange(0, dim, 2, dtype=torch.float64)                 # 2i = 0, 2, 4, ...
    angles = pos[:, None] / base ** (two_i / dim)                         # (N, ceil(D/2))
    pe = torch.zeros(len(pos), dim, dtype=torch.float64)
    pe[:, 0::2] = torch.sin(angles)
    pe[:, 1::2] = torch.cos(angles[:, : dim // 2])
    return pe.float()


def _sincos_1d_mae(dim: int, pos: torch.Tensor) -> torch.Tensor:
    """MAE's 1-D half-table: [sin(pos w), cos(pos w)] with w_k = 10000^(-k/(dim/2))."""
    omega = 1.0 / 10000 ** (torch.arange(dim // 2, dtype=torch.float64) / (dim / 2))
    out = pos.reshape(-1, 1).double() * omega                             # (M, D/2)
    return torch.cat([out.sin(), out.cos()], dim=1)                       # (M, D)


def sincos_2d(grid_h: int, grid_w: int, dim: int, cls_token: bool = False) -> torch.Tensor:
    """Fixed 2-D sin-cos table, MAE convention: (grid_h * grid_w [+1], D), raster order.

    Each row is [sin(col w), cos(col w), sin(row w), cos(row w)] with w_k = 10000^(-k/(D/4)),
    k = 0..D/4-1. With `cls_token` an all-zero row is put first.
    """
    if dim <= 0 or dim % 4:
        raise ValueError(f"sincos_2d needs a positive dim divisible by 4 "
                         f"(sin and cos for rows and columns), got {dim}")
    if grid_h <= 0 or grid_w <= 0:
        raise ValueError(f"sincos_2d needs a positive grid, got grid_h={grid_h}, grid_w={grid_w}")
    rows, cols = torch.meshgrid(torch.arange(grid_h), torch.arange(grid_w), indexing="ij")
    emb = torch.cat([_sincos_1d_mae(dim // 2, cols), _sincos_1d_mae(dim // 2, rows)], dim=1)
    if cls_token:
        emb = torch.cat([torch.zeros(1, dim, dtype=emb.dtype), emb], dim=0)
    return emb.float()


class LearnedPositionalEmbedding(nn.Module):
    """A learned table (1, N, D), truncated-normal(0.02) at init, added to the tokens."""

    def __init__(self, num_positions: int, dim: int, init_std: float = 0.02):
        super().__init__()
        self.pos_embed = nn.Parameter(torch.zeros(1, num_positions, dim))
        nn.init.trunc_normal_(self.pos_embed, std=init_std)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 3 or x.shape[1:] != self.pos_embed.shape[1:]:
            raise ValueError(f"expected tokens of shape (B, {self.pos_embed.shape[1]}, {self.pos_embed.shape[2]}), "
                             f"got {tuple(x.shape)}")
        return x + self.pos_embed                                         # (B, N, D)


def resize_pos_embed(pos_embed: torch.Tensor, new_grid, num_prefix_tokens: int = 1, old_grid=None) -> torch.Tensor:
    """Resize a (1, prefix + h*w, D) table to a new patch grid: bicubic, align_corners=False.

    The prefix tokens (class token) are kept as they are; the patch part is viewed as a D-channel
    image and interpolated, as Hugging Face's `interpolate_pos_encoding` does.
    """
    if pos_embed.dim() != 3 or pos_embed.shape[0] != 1:
        raise ValueError(f"pos_embed must be (1, T, D), got {tuple(pos_embed.shape)}")
    if not 0 <= num_prefix_tokens <= pos_embed.shape[1]:
        raise ValueError(f"num_prefix_tokens={num_prefix_tokens} must be in [0, {pos_embed.shape[1]}] "
                         f"for a table of {pos_embed.shape[1]} positions")
    prefix, grid = pos_embed[:, :num_prefix_tokens], pos_embed[:, num_prefix_tokens:]
    n = grid.shape[1]
    if old_grid is None:
        side = math.isqrt(n)
        if side * side != n:
            raise ValueError(f"{n} patch positions is not a square grid: pass old_grid=(h, w)")
        old_grid = (side, side)
    old_h, old_w = pair(old_grid)
    if old_h * old_w != n:
        raise ValueError(f"old_grid {old_h}x{old_w} does not match {n} patch positions")
    new_h, new_w = pair(new_grid)
    if new_h <= 0 or new_w <= 0:
        raise ValueError(f"new_grid must be positive, got {new_h}x{new_w}")
    grid = grid.reshape(1, old_h, old_w, -1).permute(0, 3, 1, 2)           # (1, D, h, w)
    grid = F.interpolate(grid, size=(new_h, new_w), mode="bicubic", align_corners=False)
    grid = grid.permute(0, 2, 3, 1).reshape(1, new_h * new_w, -1)          # (1, h' w', D)
    return torch.cat([prefix, grid], dim=1)
