"""Scaled dot-product and multi-head attention (Vaswani et al. 2017, Sections 3.2.1-3.2.2).

    Attention(Q, K, V) = softmax(Q K^T / sqrt(d_k)) V

Masks are boolean with torch's meaning: True = may attend, False = blocked.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from einops import rearrange
from torch import nn


def _check_qkv(q, k, v, mask):
    if q.dim() < 2 or k.dim() < 2 or v.dim() < 2:
        raise ValueError(f"q, k, v must be at least 2-D (..., N, d), got {tuple(q.shape)}, {tuple(k.shape)}, {tuple(v.shape)}")
    if q.shape[-1] != k.shape[-1]:
        raise ValueError(f"q and k must have the same feature size d_k, got q {tuple(q.shape)} and k {tuple(k.shape)}")
    if k.shape[-2] != v.shape[-2]:
        raise ValueError(f"k and v must have the same number of tokens, got k {tuple(k.shape)} and v {tuple(v.shape)}")
    if mask is not None:
        if mask.dtype != torch.bool:
            raise ValueError(f"mask must be boolean (True = attend), got dtype {mask.dtype}")
        want = (*q.shape[:-1], k.shape[-2])
        try:
            fits = torch.broadcast_shapes(mask.shape, want) == torch.Size(want)
        except RuntimeError:
            fits = False
        if not fits:  # a mask must not add dimensions the scores lack
            raise ValueError(f"mask of shape {tuple(mask.shape)} does not broadcast to the attention "
                             f"scores' shape {want} (..., queries, keys)")


def scaled_dot_product_attention(q, k, v, mask=None):
    """Explicit attention that also returns the weights.

    q (..., Nq, d_k), k (..., Nk, d_k), v (..., Nk, d_v) -> (output (..., Nq, d_v), weights (..., Nq, Nk)).
    A query whose keys are all masked gets all-zero weights (and a zero output), as torch's
    fused `F.scaled_dot_product_attention` gives since torch 2.5 (its "safe softmax").
    """
    _check_qkv(q, k, v, mask)
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])       # (..., Nq, Nk)
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))
    weights = scores.softmax(dim=-1)                                # rows sum to 1
    if mask is not None:
        weights = weights.masked_fill(~mask, 0.0)                   # fully masked rows: NaN -> 0
    return weights @ v, weights


def causal_mask(n: int, device=None) -> torch.Tensor:
    """(n, n) boolean mask, True on and below the diagonal: token t sees tokens 0..t."""
    return torch.ones(n, n, dtype=torch.bool, device=device).tril()


class MultiHeadAttention(nn.Module):
    """Multi-head attention with a fused `qkv` projection and an output projection `proj` (timm names).

    Self-attention: `attn(x)`. Cross-attention: `attn(x, context)` takes queries from x and
    keys/values from `context` (same width D; project it first otherwise) with the same weights.
    Uses torch's fused kernel unless `return_weights=True`, which takes the explicit path and
    also returns the per-head weights (B, h, Nq, Nk).
    """

    def __init__(self, dim: int, num_heads: int = 8, qkv_bias: bool = True, dropout: float = 0.0):
        super().__init__()
        if num_heads <= 0 or dim % num_heads:
            raise ValueError(f"dim={dim} must be divisible by num_heads={num_heads} (a positive integer)")
        self.dim, self.num_heads, self.head_dim = dim, num_heads, dim // num_heads
        self.qkv = nn.Linear(dim, 3 * dim, bias=qkv_bias)
        self.proj = nn.Linear(dim, dim)
        self.proj_drop = nn.Dropout(dropout)

    def _project(self, x, context):
        if context is None:
            q, k, v = self.qkv(x).chunk(3, dim=-1)                          # (B, N, D) each
        else:
            w, b = self.qkv.weight, self.qkv.bias
            q = F.linear(x, w[: self.dim], None if b is None else b[: self.dim])
            k, v = F.linear(context, w[self.dim:], None if b is None else b[self.dim:]).chunk(2, dim=-1)
        split = lambda t: rearrange(t, "b n (h d) -> b h n d", h=self.num_heads)
        return split(q), split(k), split(v)                                 # (B, h, N, d)

    def _check(self, x, context, mask, causal):
        if x.dim() != 3 or x.shape[-1] != self.dim:
            raise ValueError(f"x must be (B, N, {self.dim}), got {tuple(x.shape)}")
        if context is not None:
            if context.dim() != 3 or context.shape[-1] != self.dim or context.shape[0] != x.shape[0]:
                raise ValueError(f"context must be (B={x.shape[0]}, M, {self.dim}), got {tuple(context.shape)}")
            if causal:
                raise ValueError("causal=True is for self-attention; pass an explicit mask for cross-attention")
        if mask is not None and (not isinstance(mask, torch.Tensor) or mask.dtype != torch.bool):
            raise ValueError(f"mask must be a boolean tensor (True = attend), got "
                             f"{getattr(mask, 'dtype', type(mask).__name__)}")
        if mask is not None and mask.dim() == 3:
            mask = mask.unsqueeze(1)                                        # (B, 1, Nq, Nk): same for every head
        return mask

    def forward(self, x, context=None, mask=None, causal: bool = False, return_weights: bool = False):
        """x (B, N, D), context (B, M, D) or None, mask broadcastable to (B, h, N, M) -> (B, N, D)."""
        mask = self._check(x, context, mask, causal)
        q, k, v = self._project(x, context)
        if causal:
            cm = causal_mask(x.shape[1], device=x.device)
            mask = cm if mask is None else mask & cm
        _check_qkv(q, k, v, mask)
        if return_weights:
            out, weights = scaled_dot_product_attention(q, k, v, mask)     # explicit: (B, h, N, M) weights
        else:
            out, weights = F.scaled_dot_product_attention(q, k, v, attn_mask=mask), None  # fused kernel
        out = self.proj_drop(self.proj(rearrange(out, "b h n d -> b n (h d)")))  # (B, N, D)
        return (out, weights) if return_weights else out


class Attention(nn.Module):
    """Attention with separate `q_proj`, `k_proj`, `v_proj`, `out_proj` (DETR's and SAM's layout).

    `attn(query, key, value)`: the three inputs may differ, as DETR (Carion et al. 2020, Sec. 3.2) and
    SAM (Kirillov et al. 2023, Appendix A) need: positional encodings are added to queries and keys
    but not to values. `internal_dim` < `dim` is SAM's `downsample_rate` (cross-attention at D/2).
    `key_dim` is the width of key/value inputs when it differs from the queries'.
    Shapes: query (B, Nq, D), key and value (B, Nk, Dk) -> (B, Nq, D) [and weights (B, h, Nq, Nk)].
    """

    def __init__(self, dim: int, num_heads: int = 8, internal_dim: int | None = None, key_dim: int | None = None,
                 bias: bool = True, dropout: float = 0.0):
        super().__init__()
        internal_dim = dim if internal_dim is None else internal_dim
        key_dim = dim if key_dim is None else key_dim
        if num_heads <= 0 or internal_dim % num_heads:
            raise ValueError(f"internal_dim={internal_dim} must be divisible by num_heads={num_heads} (a positive integer)")
        self.dim, self.key_dim, self.internal_dim, self.num_heads = dim, key_dim, internal_dim, num_heads
        self.q_proj = nn.Linear(dim, internal_dim, bias=bias)
        self.k_proj = nn.Linear(key_dim, internal_dim, bias=bias)
        self.v_proj = nn.Linear(key_dim, internal_dim, bias=bias)
        self.out_proj = nn.Linear(internal_dim, dim, bias=bias)
        self.drop = nn.Dropout(dropout)

    def forward(self, query, key=None, value=None, mask=None, return_weights: bool = False):
        """query (B, Nq, D); key, value (B, Nk, Dk) (default: query, key); mask broadcastable to (B, h, Nq, Nk)."""
        key = query if key is None else key
        value = key if value is None else value
        if query.dim() != 3 or query.shape[-1] != self.dim:
            raise ValueError(f"query must be (B, N, {self.dim}), got {tuple(query.shape)}")
        for name, t in (("key", key), ("value", value)):
            if t.dim() != 3 or t.shape[-1] != self.key_dim or t.shape[0] != query.shape[0]:
                raise ValueError(f"{name} must be (B={query.shape[0]}, M, {self.key_dim}), got {tuple(t.shape)}")
        if key.shape[1] != value.shape[1]:
            raise ValueError(f"key and value must have the same number of tokens, got {key.shape[1]} and {value.shape[1]}")
        if mask is not None and isinstance(mask, torch.Tensor) and mask.dim() == 3:
            mask = mask.unsqueeze(1)                                        # (B, 1, Nq, Nk): every head
        split = lambda t: rearrange(t, "b n (h d) -> b h n d", h=self.num_heads)
        q, k, v = split(self.q_proj(query)), split(self.k_proj(key)), split(self.v_proj(value))  # (B, h, N, d)
        _check_qkv(q, k, v, mask)
        if return_weights:
            out, weights = scaled_dot_product_attention(q, k, v, mask)
        else:
            out, weights = F.scaled_dot_product_attention(q, k, v, attn_mask=mask), None
        out = self.drop(self.out_proj(rearrange(out, "b h n d -> b n (h d)")))  # (B, Nq, D)
        return (out, weights) if return_weights else out
