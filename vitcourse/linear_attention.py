"""Linear (kernelised) attention (Katharopoulos et al. 2020, "Transformers are RNNs", Section 3.2).

Replace the softmax similarity exp(q . k) by a kernel phi(q) . phi(k) with phi(x) = elu(x) + 1 > 0:

    out_i = phi(q_i)^T (sum_j phi(k_j) v_j^T) / (phi(q_i)^T sum_j phi(k_j))        (Eq. 5-6)

Computing S = phi(K)^T V (d x d_v) first costs O(N d d_v) instead of O(N^2 d): linear in N, and the
N x N matrix never exists. Causal attention (Eq. 8-9) uses running sums S_i = sum_{j<=i} phi(k_j) v_j^T.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from einops import rearrange
from torch import nn

from .attention import _check_qkv


def elu_feature_map(x: torch.Tensor) -> torch.Tensor:
    """phi(x) = elu(x) + 1: positive, so the normalised weights are positive (Section 3.2.1)."""
    return F.elu(x) + 1.0


def linear_attention(q, k, v, causal: bool = False, eps: float = 1e-6, return_weights: bool = False):
    """q (..., Nq, d), k (..., Nk, d), v (..., Nk, d_v) -> (..., Nq, d_v), in O(N d d_v).

    `causal` needs Nq == Nk: query i sees keys 0..i. With `return_weights`, also returns the (..., Nq, Nk)
    weights phi(q_i).phi(k_j) / sum_j (built explicitly, O(N^2): for inspection only).
    """
    _check_qkv(q, k, v, None)
    if causal and q.shape[-2] != k.shape[-2]:
        raise ValueError(f"causal linear attention needs as many queries as keys, got {q.shape[-2]} and {k.shape[-2]}")
    fq, fk = elu_feature_map(q), elu_feature_map(k)                           # (..., N, d)
    if not causal:
        kv = fk.transpose(-2, -1) @ v                                         # (..., d, d_v): phi(K)^T V first
        z = fk.sum(dim=-2)                                                    # (..., d)
        num, den = fq @ kv, fq @ z.unsqueeze(-1)                              # (..., Nq, d_v), (..., Nq, 1)
    else:
        kv = torch.einsum("...nd,...ne->...nde", fk, v).cumsum(dim=-3)        # (..., N, d, d_v): S_i
        z = fk.cumsum(dim=-2)                                                 # (..., N, d): z_i
        num = torch.einsum("...nd,...nde->...ne", fq, kv)
        den = (fq * z).sum(-1, keepdim=True)
    out = num / (den + eps)
    if not return_weights:
        return out
    sim = fq @ fk.transpose(-2, -1)                                           # (..., Nq, Nk)
    if causal:
        sim = sim.tril()
    return out, sim / (sim.sum(-1, keepdim=True) + eps)


class LinearAttention(nn.Module):
    """Multi-head linear attention with timm's `qkv` / `proj` names; a drop-in for `MultiHeadAttention`
    in a `Block` (self-attention, optional `causal`; no explicit masks)."""

    def __init__(self, dim: int, num_heads: int = 8, qkv_bias: bool = True, eps: float = 1e-6):
        super().__init__()
        if num_heads <= 0 or dim % num_heads:
            raise ValueError(f"dim={dim} must be divisible by num_heads={num_heads} (a positive integer)")
        self.dim, self.num_heads, self.eps = dim, num_heads, eps
        self.qkv = nn.Linear(dim, 3 * dim, bias=qkv_bias)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x, mask=None, causal: bool = False, return_weights: bool = False):
        """x (B, N, D) -> (B, N, D); with `return_weights`, also the (B, h, N, N) weights."""
        if x.dim() != 3 or x.shape[-1] != self.dim:
            raise ValueError(f"x must be (B, N, {self.dim}), got {tuple(x.shape)}")
        if mask is not None:
            raise ValueError("LinearAttention takes no explicit mask (only causal=True): the N x N matrix is never built")
        q, k, v = rearrange(self.qkv(x), "b n (three h d) -> three b h n d", three=3, h=self.num_heads)
        res = linear_attention(q, k, v, causal=causal, eps=self.eps, return_weights=return_weights)
        out, weights = res if return_weights else (res, None)
        out = self.proj(rearrange(out, "b h n d -> b n (h d)"))               # (B, N, D)
        return (out, weights) if return_weights else out
