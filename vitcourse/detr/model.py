"""DETR: DEtection TRansformer (Carion et al. 2020, Sec. 3.2, Fig. 2).

    images (B, 3, H, W) -> backbone -> feature map (B, C, h, w) -> 1x1 conv to D -> (B, hw, D) tokens
    -> encoder (+ sine positions on q, k) -> memory; N learned object queries -> decoder -> (B, N, D)
    -> class head (C + 1 logits, the last is "no object") and 3-layer box MLP + sigmoid (cx, cy, w, h)

Every decoder layer's output goes through the same heads for the auxiliary losses (Appendix A.2).
The prediction is a *set*: no anchors and no non-maximum suppression; the set loss (`criterion.py`)
makes each object one query's job. Images in a batch share one size (no padding mask).
The backbone is any module returning a (B, C, h, w) feature map with an `out_channels` attribute
(or pass `backbone_channels`); `backbones.py` wraps the package's CNN and ViT.
"""
from __future__ import annotations

from einops import rearrange
from torch import nn

from .position import sine_position_encoding
from .transformer import Decoder, Encoder


class MLPHead(nn.Module):
    """`num_layers` linear layers with ReLU between them (DETR's box FFN; Hugging Face's `layers`)."""

    def __init__(self, in_dim: int, hidden_dim: int, out_dim: int, num_layers: int = 3):
        super().__init__()
        dims = [in_dim] + [hidden_dim] * (num_layers - 1) + [out_dim]
        self.layers = nn.ModuleList(nn.Linear(a, b) for a, b in zip(dims, dims[1:]))

    def forward(self, x):
        for i, layer in enumerate(self.layers):
            x = layer(x) if i == len(self.layers) - 1 else layer(x).relu()
        return x


class DETR(nn.Module):
    """`DETR(backbone, num_classes)`; `model(images)` -> {"logits", "pred_boxes", "auxiliary_outputs"}.

    DETR-R50's settings are dim=256, 8 heads, 6 + 6 layers, ffn_dim=2048, 100 queries, dropout 0.1,
    post-norm; the defaults here are a course-sized model. `dropout` acts on the residual branches and
    inside the FFN (DETR also drops attention weights; this model does not). `class_head` replaces the linear class
    head, e.g. by an `OpenVocabularyHead` (then pass `text_embeddings` to `forward`).
    """

    def __init__(self, backbone: nn.Module, num_classes: int | None, dim: int = 64, num_heads: int = 4,
                 num_encoder_layers: int = 2, num_decoder_layers: int = 2, ffn_dim: int | None = None,
                 num_queries: int = 10, dropout: float = 0.0, pre_norm: bool = False, aux_loss: bool = True,
                 backbone_channels: int | None = None, class_head: nn.Module | None = None):
        super().__init__()
        channels = backbone_channels or getattr(backbone, "out_channels", None)
        if channels is None:
            raise ValueError("the backbone has no `out_channels` attribute: pass backbone_channels=C, the "
                             "channel count of the (B, C, h, w) feature map it returns")
        if class_head is None and (num_classes is None or num_classes < 1):
            raise ValueError(f"num_classes must be >= 1 (no-object is added), got {num_classes}")
        if num_queries < 1 or num_decoder_layers < 1:
            raise ValueError(f"need num_queries >= 1 and num_decoder_layers >= 1, got {num_queries}, {num_decoder_layers}")
        self.num_classes, self.num_queries, self.dim, self.aux_loss = num_classes, num_queries, dim, aux_loss
        ffn_dim = 4 * dim if ffn_dim is None else ffn_dim
        self.backbone = backbone
        self.input_projection = nn.Conv2d(channels, dim, kernel_size=1)
        self.query_position_embeddings = nn.Embedding(num_queries, dim)   # the N object queries
        self.encoder = Encoder(num_encoder_layers, dim, num_heads, ffn_dim, dropout, pre_norm)
        self.decoder = Decoder(num_decoder_layers, dim, num_heads, ffn_dim, dropout, pre_norm)
        for p in [*self.encoder.parameters(), *self.decoder.parameters()]:
            if p.dim() > 1:
                nn.init.xavier_uniform_(p)                              # DETR's transformer init
        self.class_labels_classifier = nn.Linear(dim, num_classes + 1) if class_head is None else class_head
        self.bbox_predictor = MLPHead(dim, dim, 4, num_layers=3)

    def features(self, images):
        """images -> (memory (B, hw, D), pos (B, hw, D), (h, w))."""
        fmap = self.backbone(images)
        if fmap.dim() != 4:
            raise ValueError(f"the backbone must return a (B, C, h, w) feature map, got {tuple(fmap.shape)}")
        x = self.input_projection(fmap)                                 # (B, D, h, w)
        h, w = x.shape[-2:]
        pos = sine_position_encoding(h, w, self.dim, dtype=x.dtype, device=x.device).expand(x.shape[0], -1, -1)
        memory = self.encoder(rearrange(x, "b d h w -> b (h w) d"), pos)  # (B, hw, D)
        return memory, pos, (h, w)

    def _heads(self, hidden, text_embeddings):
        if text_embeddings is not None and isinstance(self.class_labels_classifier, nn.Linear):
            raise ValueError("this DETR has a fixed linear class head: text_embeddings need "
                             "class_head=OpenVocabularyHead(dim, text_dim)")
        logits = (self.class_labels_classifier(hidden) if text_embeddings is None
                  else self.class_labels_classifier(hidden, text_embeddings))  # (B, Q, C+1)
        return {"logits": logits, "pred_boxes": self.bbox_predictor(hidden).sigmoid()}  # (B, Q, 4) cxcywh

    def forward(self, images, text_embeddings=None, return_attention: bool = False):
        memory, pos, (h, w) = self.features(images)
        query_pos = self.query_position_embeddings.weight.expand(memory.shape[0], -1, -1)  # (B, Q, D)
        hidden, attn = self.decoder(memory, pos, query_pos)             # L x (B, Q, D)
        out = self._heads(hidden[-1], text_embeddings)
        out["last_hidden_state"] = hidden[-1]                          # (B, Q, D): query embeddings
        if self.aux_loss:
            out["auxiliary_outputs"] = [self._heads(x, text_embeddings) for x in hidden[:-1]]
        if return_attention:                                            # (B, heads, Q, h, w)
            out["cross_attention"] = rearrange(attn, "b k q (h w) -> b k q h w", h=h, w=w)
        return out

    def num_parameters(self, trainable_only: bool = False) -> int:
        return sum(p.numel() for p in self.parameters() if p.requires_grad or not trainable_only)
