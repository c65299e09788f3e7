"""ImageGPT's colour palette: images as raster sequences of palette ids (Chen et al. 2020).

Pixels are quantised to a small k-means palette (Section 3.2; k = 512 for RGB in the paper, a few
grey levels for the digits here) and an image becomes the raster sequence of its palette ids
(Section 2.1), row by row: the sequence that `vitcourse.gpt.GPT` models.
"""
from __future__ import annotations

import numbers

import numpy as np
import torch
from einops import rearrange


def _positive_int(name, value, minimum=1):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def kmeans_palette(pixels, k: int, seed: int = 0) -> torch.Tensor:
    """k-means colour (or intensity) palette (ImageGPT, Section 3.2, which uses k = 512 for RGB).

    pixels: (N, C) values, or an image batch (B, C, H, W). Returns the k cluster centres (k, C) as
    float32, sorted by brightness (sum over channels, then channel by channel): deterministic for a seed.
    """
    from sklearn.cluster import KMeans

    x = pixels.detach().cpu().numpy() if isinstance(pixels, torch.Tensor) else np.asarray(pixels)
    if x.ndim == 4:
        x = rearrange(x, "b c h w -> (b h w) c")
    if x.ndim != 2 or not np.issubdtype(x.dtype, np.number):
        raise ValueError(f"pixels must be (N, C) values or a (B, C, H, W) batch, got shape {x.shape}")
    k = _positive_int("k", k)
    distinct = len(np.unique(x, axis=0))
    if k > distinct:
        raise ValueError(f"k={k} colours requested but the pixels hold only {distinct} distinct values")
    centres = KMeans(n_clusters=k, n_init=4, random_state=seed).fit(x.astype(np.float64)).cluster_centers_
    order = np.lexsort([centres[:, c] for c in reversed(range(centres.shape[1]))] + [centres.sum(1)])
    return torch.from_numpy(centres[order].astype(np.float32))


def _check_palette(palette):
    if not isinstance(palette, torch.Tensor) or palette.dim() != 2 or not palette.is_floating_point():
        raise ValueError(f"palette must be a (K, C) float tensor, got {getattr(palette, 'shape', type(palette).__name__)}")


def quantize(images: torch.Tensor, palette: torch.Tensor) -> torch.Tensor:
    """(B, C, H, W) images -> (B, H*W) ids of the nearest palette colour, in raster order (row by row)."""
    _check_palette(palette)
    if not isinstance(images, torch.Tensor) or images.dim() != 4 or images.shape[1] != palette.shape[1]:
        raise ValueError(f"images must be (B, C={palette.shape[1]}, H, W) to match the palette "
                         f"{tuple(palette.shape)}, got {getattr(images, 'shape', type(images).__name__)}")
    px = rearrange(images, "b c h w -> b (h w) c").to(palette)                     # (B, N, C)
    return torch.cdist(px, palette.expand(px.shape[0], -1, -1)).argmin(-1)         # (B, N)


def dequantize(ids: torch.Tensor, palette: torch.Tensor, height: int | None = None) -> torch.Tensor:
    """(B, H*W) palette ids in raster order -> (B, C, H, W) images; square unless `height` is given."""
    _check_palette(palette)
    if not isinstance(ids, torch.Tensor) or ids.dim() != 2 or ids.is_floating_point():
        raise ValueError(f"ids must be a (B, N) integer tensor, got {getattr(ids, 'shape', type(ids).__name__)}")
    if ids.numel() and (ids.min() < 0 or ids.max() >= len(palette)):
        raise ValueError(f"ids must lie in [0, {len(palette)}) for a palette of {len(palette)} colours, "
                         f"got {ids.min().item()}..{ids.max().item()}")
    n = ids.shape[1]
    h = round(n ** 0.5) if height is None else height
    if h <= 0 or n % h or (height is None and h * h != n):
        raise ValueError(f"{n} pixels per sequence do not form {'a square' if height is None else f'{h} rows'}")
    return rearrange(palette.to(ids.device)[ids.long()], "b (h w) c -> b c h w", h=h)
