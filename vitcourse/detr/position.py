"""DETR's 2-D sine positional encoding (Carion et al. 2020, Sec. 3.2 and Appendix A.3).

The transformer is permutation-invariant, so every attention layer is told where each feature-map
cell is: half of the D channels encode the row y, half the column x, each with the sinusoids of
Vaswani et al. (2017, Sec. 3.5). DETR normalises the coordinates to (0, 2 pi] ("normalize=True,
scale=2 pi", the setting of its released models and of Hugging Face's `DetrSinePositionEmbedding`):

    y_hat = y / H * scale,  x_hat = x / W * scale  (y = 1..H, x = 1..W)
    PE[..., 2k] = sin(y_hat / T^(2k/F)), PE[..., 2k+1] = cos(y_hat / T^(2k/F)), k < F/2,  F = D/2

then the same for x in the second half: channels are [y-part (D/2), x-part (D/2)], T = 10000.
Unlike ViT's learned table, the encoding is fixed and is *added to queries and keys in every
attention layer* (never to the values, and not once at the input): `position + tokens` goes into
the query and key projections, `tokens` alone into the value projection (Appendix A.3, Fig. 10).
"""
from __future__ import annotations

import math

import torch
from einops import rearrange


def sine_position_encoding(height: int, width: int, dim: int, temperature: float = 10000.0,
                           normalize: bool = True, scale: float = 2 * math.pi, dtype=torch.float32,
                           device=None) -> torch.Tensor:
    """(height * width, dim) table in raster order (row-major, as `rearrange('b d h w -> b (h w) d')`).

    `dim` is the model width D; it must be divisible by 4 (sin and cos for rows and columns).
    """
    if dim <= 0 or dim % 4:
        raise ValueError(f"dim must be a positive multiple of 4 (sin/cos for rows and columns), got {dim}")
    if height <= 0 or width <= 0:
        raise ValueError(f"the feature map must be non-empty, got height={height}, width={width}")
    f = dim // 2                                                        # features per axis
    y = torch.arange(1, height + 1, dtype=torch.float64, device=device)[:, None].expand(height, width)
    x = torch.arange(1, width + 1, dtype=torch.float64, device=device)[None, :].expand(height, width)
    if normalize:
        eps = 1e-6                                                      # DETR's eps, kept for parity
        y, x = y / (height + eps) * scale, x / (width + eps) * scale
    k = torch.arange(f, dtype=torch.float64, device=device)
    freq = temperature ** (2 * torch.div(k, 2, rounding_mode="floor") / f)  # (F,): pairs share one frequency

    def encode(pos):                                                    # (H, W) -> (H, W, F)
        a = pos[..., None] / freq
        return torch.stack([a[..., 0::2].sin(), a[..., 1::2].cos()], dim=-1).flatten(-2)

    pe = torch.cat([encode(y), encode(x)], dim=-1)                      # (H, W, D)
    return rearrange(pe, "h w d -> (h w) d").to(dtype)
