"""SAM's two-way transformer (Kirillov et al. 2023, Appendix A, "Lightweight mask decoder", Fig. 14).

Each block updates the prompt tokens AND the image embedding:

    tokens  = LN(tokens + SelfAttn(tokens + pe_t))                       (the first block: no pe, no residual)
    tokens  = LN(tokens + Attn(q=tokens + pe_t, k=image + pe_i, v=image))  token -> image
    tokens  = LN(tokens + MLP(tokens))
    image   = LN(image + Attn(q=image + pe_i, k=tokens + pe_t, v=tokens))  image -> token

Positional encodings are re-added to queries and keys at every attention, never to values; the
prompt tokens' own embeddings serve as their "pe". A final token -> image attention closes the stack.
Cross-attention works at D / downsample_rate channels (`vitcourse.attention.Attention`'s internal_dim).
"""
from __future__ import annotations

import torch
from torch import nn

from ..attention import Attention
from ..blocks import MLP


class TwoWayAttentionBlock(nn.Module):
    """tokens (B, T, D), image (B, N, D), their encodings -> updated (tokens, image)."""

    def __init__(self, dim: int, num_heads: int, mlp_dim: int, downsample_rate: int = 2,
                 skip_first_layer_pe: bool = False, layer_norm_eps: float = 1e-5):
        super().__init__()
        self.self_attn = Attention(dim, num_heads)
        self.norm1 = nn.LayerNorm(dim, eps=layer_norm_eps)
        self.cross_attn_token_to_image = Attention(dim, num_heads, internal_dim=dim // downsample_rate)
        self.norm2 = nn.LayerNorm(dim, eps=layer_norm_eps)
        self.mlp = MLP(dim, mlp_dim, act_layer="relu")
        self.norm3 = nn.LayerNorm(dim, eps=layer_norm_eps)
        self.norm4 = nn.LayerNorm(dim, eps=layer_norm_eps)
        self.cross_attn_image_to_token = Attention(dim, num_heads, internal_dim=dim // downsample_rate)
        self.skip_first_layer_pe = skip_first_layer_pe

    def forward(self, tokens, image, token_pe, image_pe):
        if self.skip_first_layer_pe:  # the first block: the tokens still equal their pe
            tokens = self.self_attn(tokens)
        else:
            q = tokens + token_pe
            tokens = tokens + self.self_attn(q, q, tokens)
        tokens = self.norm1(tokens)                                               # (B, T, D)
        tokens = self.norm2(tokens + self.cross_attn_token_to_image(tokens + token_pe, image + image_pe, image))
        tokens = self.norm3(tokens + self.mlp(tokens))
        image = self.norm4(image + self.cross_attn_image_to_token(image + image_pe, tokens + token_pe, tokens))
        return tokens, image                                                      # (B, T, D), (B, N, D)


class TwoWayTransformer(nn.Module):
    """`depth` two-way blocks and a final token -> image attention.

    forward(image (B, D, h, w), image_pe (B or 1, D, h, w), tokens (B, T, D))
        -> tokens (B, T, D), image (B, h w, D)
    """

    def __init__(self, depth: int, dim: int, num_heads: int, mlp_dim: int, downsample_rate: int = 2,
                 layer_norm_eps: float = 1e-5):
        super().__init__()
        self.dim = dim
        self.layers = nn.ModuleList(
            TwoWayAttentionBlock(dim, num_heads, mlp_dim, downsample_rate, skip_first_layer_pe=(i == 0),
                                 layer_norm_eps=layer_norm_eps)
            for i in range(depth))
        self.final_attn_token_to_image = Attention(dim, num_heads, internal_dim=dim // downsample_rate)
        self.norm_final_attn = nn.LayerNorm(dim)  # torch's default eps in the original and in Hugging Face

    def forward(self, image: torch.Tensor, image_pe: torch.Tensor, tokens: torch.Tensor):
        if image.dim() != 4 or image.shape[1] != self.dim:
            raise ValueError(f"image must be (B, {self.dim}, h, w), got {tuple(image.shape)}")
        if image_pe.dim() != 4 or image_pe.shape[1:] != image.shape[1:]:
            raise ValueError(f"image_pe must be (B or 1, {self.dim}, h, w) like image {tuple(image.shape)}, "
                             f"got {tuple(image_pe.shape)}")
        if tokens.dim() != 3 or tokens.shape[0] != image.shape[0] or tokens.shape[-1] != self.dim:
            raise ValueError(f"tokens must be (B={image.shape[0]}, T, {self.dim}), got {tuple(tokens.shape)}")
        image = image.flatten(2).transpose(1, 2)                                  # (B, h w, D)
        image_pe = image_pe.flatten(2).transpose(1, 2).expand_as(image)           # (B, h w, D)
        token_pe, x = tokens, tokens
        for layer in self.layers:
            x, image = layer(x, image, token_pe, image_pe)
        x = self.norm_final_attn(x + self.final_attn_token_to_image(x + token_pe, image + image_pe, image))
        return x, image
