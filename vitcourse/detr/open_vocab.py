"""An open-vocabulary class head: classes named by text (the idea of OWL-ViT, Minderer et al. 2022,
Sec. 3.1, and of Grounding DINO, Liu et al. 2023, Sec. 3).

A fixed linear classifier knows C classes by index. Here each class is a text embedding instead,
e.g. CLIP's text tower applied to "a red circle"; a query's class logit is the cosine similarity of
its (projected) embedding with each class embedding, times a learned temperature, as in CLIP:

    logits[b, q, c] = exp(logit_scale) * <normalize(W e_bq), normalize(t_c)> + bias,  c < C
    logits[b, q, C] = no_object (a learned logit)

so classes never seen in training can be asked for at test time by their name. The text embeddings
come in as a (C, E) tensor, so any text tower works.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


class OpenVocabularyHead(nn.Module):
    """(B, Q, D) query embeddings and (C, E) text embeddings -> (B, Q, C + 1) logits (last: no object)."""

    def __init__(self, dim: int, text_dim: int, logit_scale_init: float = math.log(10.0)):
        super().__init__()
        self.dim, self.text_dim = dim, text_dim
        self.proj = nn.Linear(dim, text_dim)                            # query embedding -> text space
        self.logit_scale = nn.Parameter(torch.tensor(float(logit_scale_init)))
        self.bias = nn.Parameter(torch.zeros(()))                       # shared offset of the class logits
        self.no_object = nn.Parameter(torch.zeros(()))                  # the no-object logit

    def forward(self, query_embeddings: torch.Tensor, text_embeddings: torch.Tensor | None = None) -> torch.Tensor:
        if query_embeddings.dim() != 3 or query_embeddings.shape[-1] != self.dim:
            raise ValueError(f"query embeddings must be (B, Q, {self.dim}), got {tuple(query_embeddings.shape)}")
        if text_embeddings is None or text_embeddings.dim() != 2 or text_embeddings.shape[-1] != self.text_dim \
                or len(text_embeddings) == 0:
            raise ValueError(f"text_embeddings must be (C, {self.text_dim}) with C >= 1 class names embedded by the "
                             f"text tower, got {None if text_embeddings is None else tuple(text_embeddings.shape)}")
        q = F.normalize(self.proj(query_embeddings), dim=-1)           # (B, Q, E)
        t = F.normalize(text_embeddings.to(q.dtype), dim=-1)           # (C, E)
        logits = self.logit_scale.exp() * q @ t.T + self.bias          # (B, Q, C)
        no_obj = self.no_object.expand(*logits.shape[:2], 1)           # (B, Q, 1)
        return torch.cat([logits, no_obj], dim=-1)                      # (B, Q, C + 1)
