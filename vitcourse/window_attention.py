"""Window attention and shifted windows (Liu et al. 2021, "Swin Transformer", Section 3.2).

Self-attention inside non-overlapping M x M windows costs (Section 3.2, Eq. 1-2)

    Omega(MSA)   = 4 hwC^2 + 2 (hw)^2 C        (global: quadratic in the number of tokens hw)
    Omega(W-MSA) = 4 hwC^2 + 2 M^2 hw C        (windows: linear in hw for a fixed M)

Shifting the windows by s = M // 2 in every other block connects neighbouring windows. Swin shifts
with a cyclic roll, so a shifted window may hold tokens from opposite edges of the image; a mask
stops such tokens (from different sub-windows) attending to each other.
The relative position bias of Swin (Eq. 4) is omitted here: the ViT's absolute positions stand in.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from einops import rearrange
from torch import nn

from .attention import scaled_dot_product_attention


def _check_grid(h: int, w: int, window_size: int, shift_size: int = 0):
    if not isinstance(window_size, int) or window_size <= 0:
        raise ValueError(f"window_size must be a positive integer, got {window_size!r}")
    if h % window_size or w % window_size:
        raise ValueError(f"a {h}x{w} token grid is not divisible by window_size={window_size}: pad the grid to "
                         f"{-(-h // window_size) * window_size}x{-(-w // window_size) * window_size} (and mask "
                         f"the padding) or pick a window size that divides both sides")
    if not isinstance(shift_size, int) or not 0 <= shift_size < window_size:
        raise ValueError(f"shift_size must be an integer in [0, window_size={window_size}), got {shift_size!r}")


def window_partition(x: torch.Tensor, window_size: int) -> torch.Tensor:
    """(B, H, W, C) -> (B * nW, M*M, C): the tokens of each M x M window, row by row."""
    if x.dim() != 4:
        raise ValueError(f"x must be a (B, H, W, C) token grid, got shape {tuple(x.shape)}")
    _check_grid(x.shape[1], x.shape[2], window_size)
    return rearrange(x, "b (nh m1) (nw m2) c -> (b nh nw) (m1 m2) c", m1=window_size, m2=window_size)


def window_reverse(windows: torch.Tensor, window_size: int, h: int, w: int) -> torch.Tensor:
    """(B * nW, M*M, C) -> (B, H, W, C): the inverse of `window_partition`."""
    _check_grid(h, w, window_size)
    n_win = (h // window_size) * (w // window_size)
    if windows.dim() != 3 or windows.shape[1] != window_size ** 2 or windows.shape[0] % n_win:
        raise ValueError(f"windows must be (B * {n_win}, {window_size ** 2}, C) for a {h}x{w} grid and "
                         f"window_size={window_size}, got {tuple(windows.shape)}")
    return rearrange(windows, "(b nh nw) (m1 m2) c -> b (nh m1) (nw m2) c",
                     nh=h // window_size, nw=w // window_size, m1=window_size)


def shifted_window_mask(h: int, w: int, window_size: int, shift_size: int, device=None) -> torch.Tensor:
    """(nW, M*M, M*M) boolean mask, True = may attend, for windows taken after rolling the grid by -shift.

    Each axis splits into three regions, [0, h-M), [h-M, h-s), [h-s, h) (Swin's construction); after
    the roll, tokens of one window attend to each other only when they share a region on both axes.
    """
    _check_grid(h, w, window_size, shift_size)
    region = torch.zeros(1, h, w, 1, device=device)
    cuts = lambda n: (slice(0, n - window_size), slice(n - window_size, n - shift_size), slice(n - shift_size, n))
    label = 0
    for rows in cuts(h):
        for cols in cuts(w):
            region[:, rows, cols, :] = label
            label += 1
    labels = window_partition(region, window_size).squeeze(-1)             # (nW, M*M)
    return labels[:, :, None] == labels[:, None, :]                        # (nW, M*M, M*M)


class WindowAttention(nn.Module):
    """Multi-head self-attention inside M x M windows, optionally shifted (W-MSA / SW-MSA).

    forward takes a (B, H, W, C) grid, or (B, N, C) tokens when `grid_size` = (H, W) is given (so it can
    replace `MultiHeadAttention` in a `Block`); the output has the input's shape. `qkv` and `proj` as in timm.
    """

    def __init__(self, dim: int, num_heads: int, window_size: int, shift_size: int = 0,
                 grid_size: tuple[int, int] | None = None, qkv_bias: bool = True):
        super().__init__()
        if num_heads <= 0 or dim % num_heads:
            raise ValueError(f"dim={dim} must be divisible by num_heads={num_heads} (a positive integer)")
        _check_grid(window_size, window_size, window_size, shift_size)
        if grid_size is not None:
            _check_grid(*grid_size, window_size, shift_size)
        self.dim, self.num_heads, self.window_size, self.shift_size = dim, num_heads, window_size, shift_size
        self.grid_size = grid_size
        self.qkv = nn.Linear(dim, 3 * dim, bias=qkv_bias)
        self.proj = nn.Linear(dim, dim)

    def _to_grid(self, x):
        if x.dim() == 4 and x.shape[-1] == self.dim:
            return x, False
        if x.dim() == 3 and x.shape[-1] == self.dim and self.grid_size is not None \
                and x.shape[1] == self.grid_size[0] * self.grid_size[1]:
            return rearrange(x, "b (h w) c -> b h w c", h=self.grid_size[0]), True
        want = f"(B, H, W, {self.dim})" + (f" or (B, {self.grid_size[0] * self.grid_size[1]}, {self.dim})"
                                           if self.grid_size is not None else "")
        raise ValueError(f"x must be {want}, got {tuple(x.shape)}")

    def forward(self, x, mask=None, causal: bool = False, return_weights: bool = False):
        """x (B, H, W, C) or (B, N, C) -> same shape; with `return_weights`, also (B, nW, h, M*M, M*M)."""
        if mask is not None or causal:
            raise ValueError("WindowAttention builds its own window mask; mask and causal are not supported")
        x, flat = self._to_grid(x)
        b, h, w, _ = x.shape
        m, s = self.window_size, self.shift_size
        _check_grid(h, w, m, s)
        if s:
            x = torch.roll(x, shifts=(-s, -s), dims=(1, 2))                 # cyclic shift (Swin, Fig. 4)
        win = window_partition(x, m)                                        # (B*nW, M*M, C)
        q, k, v = rearrange(self.qkv(win), "bw n (three h d) -> three bw h n d", three=3, h=self.num_heads)
        attn_mask = None
        if s:
            attn_mask = shifted_window_mask(h, w, m, s, device=x.device)   # (nW, M*M, M*M)
            attn_mask = attn_mask.repeat(b, 1, 1)[:, None]                   # (B*nW, 1, M*M, M*M)
        if return_weights:
            out, weights = scaled_dot_product_attention(q, k, v, attn_mask)
            weights = rearrange(weights, "(b nw) h i j -> b nw h i j", b=b)
        else:
            out, weights = F.scaled_dot_product_attention(q, k, v, attn_mask=attn_mask), None
        out = self.proj(rearrange(out, "bw h n d -> bw n (h d)"))           # (B*nW, M*M, C)
        out = window_reverse(out, m, h, w)                                  # (B, H, W, C)
        if s:
            out = torch.roll(out, shifts=(s, s), dims=(1, 2))
        if flat:
            out = rearrange(out, "b h w c -> b (h w) c")
        return (out, weights) if return_weights else out
