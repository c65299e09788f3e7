"""DETR's transformer encoder-decoder (Carion et al. 2020, Sec. 3.2, Fig. 2; Appendix A.3, Fig. 10).

Encoder layer: self-attention over the h*w feature-map tokens, then a ReLU FFN.
Decoder layer: self-attention among the N object queries, cross-attention from the queries to the
encoder's memory, then the FFN. The decoder's input is zeros; the learned object queries are
*query positional encodings* added, like the spatial ones, to the attention inputs:

    encoder self-attention:  q = k = x + pos,            v = x
    decoder self-attention:  q = k = t + query_pos,      v = t
    decoder cross-attention: q = t + query_pos,  k = memory + pos,  v = memory

`pre_norm=False` is DETR's post-norm layout (x = LayerNorm(x + sublayer(x)), as in Vaswani et al.);
`pre_norm=True` is DETR's `normalize_before` option (x = x + sublayer(LayerNorm(x)), as in ViT),
which also puts a final LayerNorm on the encoder. The decoder always ends with a shared LayerNorm,
applied to every layer's output for the auxiliary losses (Appendix A.2). Parameter names follow
Hugging Face's DETR (`self_attn`, `self_attn_layer_norm`, `encoder_attn`, `encoder_attn_layer_norm`,
`mlp.fc1/fc2`, `final_layer_norm`; our attention's `out_proj` is its `o_proj`).
"""
from __future__ import annotations

from torch import nn

from ..attention import Attention
from ..blocks import MLP


class EncoderLayer(nn.Module):
    def __init__(self, dim: int, num_heads: int, ffn_dim: int, dropout: float = 0.0, pre_norm: bool = False):
        super().__init__()
        self.pre_norm = pre_norm
        self.self_attn = Attention(dim, num_heads, dropout=0.0)
        self.self_attn_layer_norm = nn.LayerNorm(dim)
        self.mlp = MLP(dim, ffn_dim, dropout=dropout, act_layer="relu")
        self.final_layer_norm = nn.LayerNorm(dim)
        self.drop = nn.Dropout(dropout)

    def forward(self, x, pos):                                          # x, pos: (B, hw, D)
        if self.pre_norm:
            h = self.self_attn_layer_norm(x)
            x = x + self.drop(self.self_attn(h + pos, h + pos, h))
            return x + self.mlp(self.final_layer_norm(x))
        x = self.self_attn_layer_norm(x + self.drop(self.self_attn(x + pos, x + pos, x)))
        return self.final_layer_norm(x + self.mlp(x))


class DecoderLayer(nn.Module):
    def __init__(self, dim: int, num_heads: int, ffn_dim: int, dropout: float = 0.0, pre_norm: bool = False):
        super().__init__()
        self.pre_norm = pre_norm
        self.self_attn = Attention(dim, num_heads)
        self.self_attn_layer_norm = nn.LayerNorm(dim)
        self.encoder_attn = Attention(dim, num_heads)
        self.encoder_attn_layer_norm = nn.LayerNorm(dim)
        self.mlp = MLP(dim, ffn_dim, dropout=dropout, act_layer="relu")
        self.final_layer_norm = nn.LayerNorm(dim)
        self.drop = nn.Dropout(dropout)

    def forward(self, t, memory, pos, query_pos, return_weights: bool = False):
        """t, query_pos (B, Q, D); memory, pos (B, hw, D) -> (B, Q, D) [, cross-attention (B, h, Q, hw)]."""
        if self.pre_norm:
            h = self.self_attn_layer_norm(t)
            t = t + self.drop(self.self_attn(h + query_pos, h + query_pos, h))
            h = self.encoder_attn_layer_norm(t)
            a, w = self.encoder_attn(h + query_pos, memory + pos, memory, return_weights=True)
            t = t + self.drop(a)
            t = t + self.mlp(self.final_layer_norm(t))
        else:
            t = self.self_attn_layer_norm(t + self.drop(self.self_attn(t + query_pos, t + query_pos, t)))
            a, w = self.encoder_attn(t + query_pos, memory + pos, memory, return_weights=True)
            t = self.encoder_attn_layer_norm(t + self.drop(a))
            t = self.final_layer_norm(t + self.mlp(t))
        return (t, w) if return_weights else t


class Encoder(nn.Module):
    def __init__(self, num_layers: int, dim: int, num_heads: int, ffn_dim: int, dropout=0.0, pre_norm=False):
        super().__init__()
        self.layers = nn.ModuleList(EncoderLayer(dim, num_heads, ffn_dim, dropout, pre_norm) for _ in range(num_layers))
        self.layernorm = nn.LayerNorm(dim) if pre_norm else nn.Identity()

    def forward(self, x, pos):                                          # (B, hw, D) -> (B, hw, D)
        for layer in self.layers:
            x = layer(x, pos)
        return self.layernorm(x)


class Decoder(nn.Module):
    def __init__(self, num_layers: int, dim: int, num_heads: int, ffn_dim: int, dropout=0.0, pre_norm=False):
        super().__init__()
        self.layers = nn.ModuleList(DecoderLayer(dim, num_heads, ffn_dim, dropout, pre_norm) for _ in range(num_layers))
        self.layernorm = nn.LayerNorm(dim)

    def forward(self, memory, pos, query_pos):
        """memory, pos (B, hw, D); query_pos (B, Q, D) -> (L, B, Q, D) normed outputs of every layer,
        and the last layer's cross-attention weights (B, h, Q, hw) (where each query looks)."""
        t, outs, weights = query_pos.new_zeros(query_pos.shape), [], None
        for layer in self.layers:
            t, weights = layer(t, memory, pos, query_pos, return_weights=True)
            outs.append(self.layernorm(t))
        return outs, weights
