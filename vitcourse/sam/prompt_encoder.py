"""SAM's prompt encoder: random Fourier features for points and boxes (Kirillov et al. 2023, Appendix A).

A position p in [0, 1]^2 becomes, with a fixed Gaussian matrix G (2, F) (Tancik et al. 2020, Section 4):

    gamma(p) = [sin(2 pi (2p - 1) G), cos(2 pi (2p - 1) G)]          (2F = D channels)

A point adds a learned embedding for its label (foreground / background); a box is two tokens, its
corners, each with its own learned embedding. A mask prompt (e.g. the previous prediction's logits,
as in the paper's interactive training) is downscaled 4x by convolutions into a dense prompt, one
per prompt; without one the dense prompt is the learned `no_mask_embed` at every grid cell.
"""
from __future__ import annotations

import math

import torch
from einops import rearrange
from torch import nn

from .checks import check_prompts
from .config import SAMConfig
from .layers import LayerNorm2d


class RandomFourierPositionalEncoding(nn.Module):
    """gamma(p) for p in [0, 1]^2: (..., 2) -> (..., 2 num_feats), with G ~ scale * N(0, 1) a FIXED buffer.

    The original registers G as a buffer with scale 1.0 (never trained); Hugging Face makes it a
    trained parameter drawn with std hidden_size // 2. Load HF's matrix with `load_state_dict` for parity.
    """

    def __init__(self, num_feats: int, scale: float = 1.0):
        super().__init__()
        self.register_buffer("positional_encoding_gaussian_matrix", scale * torch.randn(2, num_feats))

    def forward(self, coords: torch.Tensor) -> torch.Tensor:
        coords = 2 * coords.to(self.positional_encoding_gaussian_matrix.dtype) - 1   # [0, 1] -> [-1, 1]
        coords = 2 * math.pi * coords @ self.positional_encoding_gaussian_matrix     # (..., F)
        return torch.cat([coords.sin(), coords.cos()], dim=-1)                        # (..., 2F)

    def grid(self, height: int, width: int) -> torch.Tensor:
        """The dense encoding of the cell centres ((i + 0.5) / size) of an h x w grid: (2F, h, w)."""
        g = self.positional_encoding_gaussian_matrix
        ys = (torch.arange(height, device=g.device, dtype=g.dtype) + 0.5) / height
        xs = (torch.arange(width, device=g.device, dtype=g.dtype) + 0.5) / width
        yy, xx = torch.meshgrid(ys, xs, indexing="ij")
        return rearrange(self(torch.stack([xx, yy], dim=-1)), "h w c -> c h w")

    def encode_pixels(self, coords: torch.Tensor, image_size: int) -> torch.Tensor:
        """Pixel coordinates (x, y) (..., 2), shifted to the pixel centre (+0.5) -> (..., 2F)."""
        return self((coords + 0.5) / image_size)


class PromptEncoder(nn.Module):
    """Points (B, P, n, 2) + labels (B, P, n) and/or boxes (B, P, 4), in input pixels -> prompt tokens.

    forward -> sparse (B, P, n', D) and dense (B, D, h, w). n' = n + 1 for points alone (a padding
    "not a point" is appended, as in the original), n + 2 for points and a box, 2 for a box alone.
    Names follow Hugging Face: `point_embed.{0..3}` (background, foreground, box corner 1, corner 2),
    `not_a_point_embed`, `no_mask_embed`; `pe_layer` and `mask_downscaling` are the original's.
    A mask prompt (B, P, 4h, 4w) of logits gives a dense prompt per prompt, (B, P, D, h, w).
    """

    def __init__(self, config: SAMConfig):
        super().__init__()
        self.config = c = config
        self.pe_layer = RandomFourierPositionalEncoding(c.embed_dim // 2, c.fourier_scale)
        self.point_embed = nn.ModuleList(nn.Embedding(1, c.embed_dim) for _ in range(4))
        self.not_a_point_embed = nn.Embedding(1, c.embed_dim)
        self.no_mask_embed = nn.Embedding(1, c.embed_dim)
        m = c.mask_input_channels
        self.mask_downscaling = nn.Sequential(
            nn.Conv2d(1, m // 4, kernel_size=2, stride=2), LayerNorm2d(m // 4), nn.GELU(),
            nn.Conv2d(m // 4, m, kernel_size=2, stride=2), LayerNorm2d(m), nn.GELU(),
            nn.Conv2d(m, c.embed_dim, kernel_size=1))

    def dense_pe(self) -> torch.Tensor:
        """Positional encoding of the image-embedding grid: (1, D, h, w)."""
        s = self.config.embedding_size
        return self.pe_layer.grid(s, s).unsqueeze(0)

    def embed_points(self, points: torch.Tensor, labels: torch.Tensor, pad: bool) -> torch.Tensor:
        """(B, P, n, 2), (B, P, n) -> (B, P, n [+1], D); label -1 is a padding point ("not a point")."""
        if pad:  # the original appends one padding point when no box follows the points
            points = torch.cat([points, points.new_zeros(*points.shape[:2], 1, 2)], dim=2)
            labels = torch.cat([labels, labels.new_full((*labels.shape[:2], 1), -1)], dim=2)
        emb = self.pe_layer.encode_pixels(points, self.config.image_size)          # (B, P, n, D)
        lab = labels[..., None]                                                     # (B, P, n, 1)
        emb = torch.where(lab == -1, self.not_a_point_embed.weight, emb)
        emb = emb + (lab == 0) * self.point_embed[0].weight + (lab == 1) * self.point_embed[1].weight
        return emb

    def embed_boxes(self, boxes: torch.Tensor) -> torch.Tensor:
        """(B, P, 4) corners (x0, y0, x1, y1) -> (B, P, 2, D): one token per corner."""
        corners = rearrange(boxes, "b p (k xy) -> b p k xy", k=2, xy=2)
        emb = self.pe_layer.encode_pixels(corners, self.config.image_size)         # (B, P, 2, D)
        corner = torch.cat([self.point_embed[2].weight, self.point_embed[3].weight])  # (2, D)
        return emb + corner

    def embed_masks(self, masks: torch.Tensor) -> torch.Tensor:
        """Mask logits (B, P, 4h, 4w) -> dense prompts (B, P, D, h, w)."""
        b = masks.shape[0]
        dense = self.mask_downscaling(rearrange(masks, "b p h w -> (b p) 1 h w"))   # (B P, D, h, w)
        return rearrange(dense, "(b p) d h w -> b p d h w", b=b)

    def forward(self, points=None, labels=None, boxes=None, masks=None, batch_size: int | None = None):
        """-> sparse (B, P, n', D) or None (no point or box), dense (B, D, h, w), or (B, P, D, h, w) from masks."""
        check_prompts(points, labels, boxes, self.config.image_size, batch_size, masks, self.config.mask_size)
        sparse = []
        if points is not None:
            sparse.append(self.embed_points(points, labels, pad=boxes is None))
        if boxes is not None:
            sparse.append(self.embed_boxes(boxes))
        sparse = torch.cat(sparse, dim=2) if sparse else None
        if masks is not None:
            return sparse, self.embed_masks(masks)
        b = batch_size or (sparse.shape[0] if sparse is not None else 1)
        s = self.config.embedding_size
        dense = rearrange(self.no_mask_embed.weight, "1 d -> 1 d 1 1").expand(b, -1, s, s)  # (B, D, h, w)
        return sparse, dense
