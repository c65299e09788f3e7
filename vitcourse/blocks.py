"""The transformer encoder block, pre-norm as in ViT (Dosovitskiy et al. 2021, Eq. 2-3):

    x = x + MSA(LN(x));   x = x + MLP(LN(x))

With `cross_attention=True` it is a decoder block (Vaswani et al. 2017, Section 3.1, pre-norm as in
GPT-2 with `add_cross_attention`): a cross-attention sub-layer between the two, whose queries are the
tokens and whose keys and values are a `context` sequence (e.g. image tokens):

    x = x + MSA(LN(x));   x = x + CrossMHA(LN(x), context);   x = x + MLP(LN(x))
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
    """Pre-norm transformer block: `norm1`, `attn`, `norm2`, `mlp` (timm names); with
    `cross_attention=True` also `norm_cross` and `cross_attn` (queries from x, keys/values from context)."""

    def __init__(self, dim: int, num_heads: int, mlp_dim: int, qkv_bias: bool = True,
                 dropout: float = 0.0, layer_norm_eps: float = 1e-6, act_layer: str = "gelu",
                 cross_attention: bool = False):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=layer_norm_eps)
        self.attn = MultiHeadAttention(dim, num_heads, qkv_bias=qkv_bias, dropout=dropout)
        self.cross_attention = bool(cross_attention)
        if self.cross_attention:
            self.norm_cross = nn.LayerNorm(dim, eps=layer_norm_eps)
            self.cross_attn = MultiHeadAttention(dim, num_heads, qkv_bias=qkv_bias, dropout=dropout)
        self.norm2 = nn.LayerNorm(dim, eps=layer_norm_eps)
        self.mlp = MLP(dim, mlp_dim, dropout=dropout, act_layer=act_layer)

    def forward(self, x, mask=None, causal: bool = False, return_weights: bool = False, context=None,
                context_mask=None):
        """x (B, N, D), context (B, M, D) -> (B, N, D).

        `context` is required exactly when the block has cross-attention; `context_mask` (broadcastable
        to (B, h, N, M), True = attend) restricts which context tokens each query sees. With
        `return_weights`, also the (B, h, N, N) self-attention weights, or for a cross-attention block
        the pair (self weights (B, h, N, N), cross weights (B, h, N, M))."""
        if self.cross_attention and context is None:
            raise ValueError("this block has cross-attention: pass context=(B, M, D) tokens to attend to")
        if not self.cross_attention and context is not None:
            raise ValueError("context given, but this block was built without cross_attention=True")
        a = self.attn(self.norm1(x), mask=mask, causal=causal, return_weights=return_weights)
        a, weights = a if return_weights else (a, None)
        x = x + a
        if self.cross_attention:
            c = self.cross_attn(self.norm_cross(x), context, mask=context_mask, return_weights=return_weights)
            c, cross_weights = c if return_weights else (c, None)
            x = x + c                                                     # (B, N, D)
            weights = (weights, cross_weights)
        x = x + self.mlp(self.norm2(x))
        return (x, weights) if return_weights else x
