"""The transformer encoder block, pre-norm as in ViT (Dosovitskiy et al. 2021, Eq. 2-3):

    x = x + MSA(LN(x));   x = x + MLP(LN(x))
"""
from __future__ import annotations

import torch
from torch import nn

from .attention import MultiHeadAttention


class QuickGELU(nn.Module):
    """x * sigmoid(1.702 x): the GELU approximation of OpenAI's CLIP (Radford et al. 2021)."""

    def forward(self, x):
        return x * torch.sigmoid(1.702 * x)


ACTIVATIONS = {"gelu": nn.GELU, "quick_gelu": QuickGELU, "gelu_tanh": lambda: nn.GELU(approximate="tanh"),
               "relu": nn.ReLU}


def make_activation(name: str) -> nn.Module:
    """An activation module by name: one of ACTIVATIONS ("gelu" is the exact erf GELU)."""
    if name not in ACTIVATIONS:
        raise ValueError(f"unknown activation {name!r}: expected one of {sorted(ACTIVATIONS)}")
    return ACTIVATIONS[name]()


class MLP(nn.Module):
    """Two linear layers with a GELU between them (ViT, Section 3.1): D -> hidden -> D.

    `act_layer` names the activation ("gelu"; CLIP's "quick_gelu"; GPT-2's "gelu_tanh")."""

    def __init__(self, dim: int, hidden_dim: int, dropout: float = 0.0, act_layer: str = "gelu"):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden_dim)
        self.act = make_activation(act_layer)
        self.fc2 = nn.Linear(hidden_dim, dim)
        self.drop = nn.Dropout(dropout)

    def forward(self, x):                                        # (B, N, D)
        return self.drop(self.fc2(self.drop(self.act(self.fc1(x)))))


class Block(nn.Module):
    """Pre-norm transformer block: `norm1`, `attn`, `norm2`, `mlp` (timm names)."""

    def __init__(self, dim: int, num_heads: int, mlp_dim: int, qkv_bias: bool = True,
                 dropout: float = 0.0, layer_norm_eps: float = 1e-6, act_layer: str = "gelu"):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=layer_norm_eps)
        self.attn = MultiHeadAttention(dim, num_heads, qkv_bias=qkv_bias, dropout=dropout)
        self.norm2 = nn.LayerNorm(dim, eps=layer_norm_eps)
        self.mlp = MLP(dim, mlp_dim, dropout=dropout, act_layer=act_layer)

    def forward(self, x, mask=None, causal: bool = False, return_weights: bool = False):
        """x (B, N, D) -> (B, N, D); with `return_weights`, also the (B, h, N, N) attention weights."""
        a = self.attn(self.norm1(x), mask=mask, causal=causal, return_weights=return_weights)
        a, weights = a if return_weights else (a, None)
        x = x + a
        x = x + self.mlp(self.norm2(x))
        return (x, weights) if return_weights else x
