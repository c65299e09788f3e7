"""The transformer encoder block, pre-norm as in ViT (Dosovitskiy et al. 2021, Eq. 2-3):

    x = x + MSA(LN(x));   x = x + MLP(LN(x))
"""
from __future__ import annotations

from torch import nn

from .attention import MultiHeadAttention


class MLP(nn.Module):
    """Two linear layers with a GELU between them (ViT, Section 3.1): D -> hidden -> D."""

    def __init__(self, dim: int, hidden_dim: int, dropout: float = 0.0):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden_dim)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden_dim, dim)
        self.drop = nn.Dropout(dropout)

    def forward(self, x):                                        # (B, N, D)
        return self.drop(self.fc2(self.drop(self.act(self.fc1(x)))))


class Block(nn.Module):
    """Pre-norm transformer block: `norm1`, `attn`, `norm2`, `mlp` (timm names)."""

    def __init__(self, dim: int, num_heads: int, mlp_dim: int, qkv_bias: bool = True,
                 dropout: float = 0.0, layer_norm_eps: float = 1e-6):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=layer_norm_eps)
        self.attn = MultiHeadAttention(dim, num_heads, qkv_bias=qkv_bias, dropout=dropout)
        self.norm2 = nn.LayerNorm(dim, eps=layer_norm_eps)
        self.mlp = MLP(dim, mlp_dim, dropout=dropout)

    def forward(self, x, mask=None, causal: bool = False, return_weights: bool = False):
        """x (B, N, D) -> (B, N, D); with `return_weights`, also the (B, h, N, N) attention weights."""
        a = self.attn(self.norm1(x), mask=mask, causal=causal, return_weights=return_weights)
        a, weights = a if return_weights else (a, None)
        x = x + a
        x = x + self.mlp(self.norm2(x))
        return (x, weights) if return_weights else x
