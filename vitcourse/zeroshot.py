"""Zero-shot classification and retrieval with a dual encoder (Radford et al. 2021, Section 3.1).

Zero-shot (Section 3.1.2): the text encoder *writes* a linear classifier. Each class name is put
into prompt templates ("a photo of a {}."), the captions are embedded and L2-normalised, and an
image is assigned to the class whose text embedding has the largest cosine with its own.
Prompt ensembling (Section 3.1.4): average the normalised embeddings of several templates per
class and renormalise, one weight vector per class ("ensembling over the embedding space
instead of probability space").

Retrieval ranks a gallery by cosine similarity to each query; recall@K is the fraction of queries
with at least one correct item among their K nearest (a caption can fit several images).
"""
from __future__ import annotations

import numbers

import numpy as np
import torch
import torch.nn.functional as F


def _features(x, name: str) -> torch.Tensor:
    if not isinstance(x, torch.Tensor) or x.dim() != 2:
        raise ValueError(f"{name} must be a (N, D) tensor of features, got {getattr(x, 'shape', type(x).__name__)}")
    if not torch.isfinite(x).all():
        raise ValueError(f"{name} contain NaN or infinite values")
    return x


@torch.no_grad()
def zero_shot_classifier(model, tokenizer, classnames, templates=("{}",), batch_size: int = 256) -> torch.Tensor:
    """(C, E) unit-norm class weights: per class, the renormalised mean of its templates' normalised
    text embeddings. `model.encode_text(ids)` and `tokenizer(list_of_texts) -> (B, T)` ids are used."""
    classnames, templates = list(classnames), [templates] if isinstance(templates, str) else list(templates)
    if not classnames or not templates:
        raise ValueError(f"need at least one class name and one template, got {len(classnames)} and {len(templates)}")
    bad = [t for t in templates if "{}" not in t]
    if bad:
        raise ValueError(f"every template needs a '{{}}' where the class name goes, got {bad[:3]}")
    texts = [t.format(c) for c in classnames for t in templates]                # class-major
    emb = torch.cat([model.encode_text(tokenizer(texts[i:i + batch_size])) for i in range(0, len(texts), batch_size)])
    emb = F.normalize(emb, dim=-1).reshape(len(classnames), len(templates), -1)  # (C, M, E)
    return F.normalize(emb.mean(dim=1), dim=-1)                                # (C, E)


@torch.no_grad()
def zero_shot_predict(image_features: torch.Tensor, classifier: torch.Tensor) -> torch.Tensor:
    """(N, E) image features, (C, E) class weights -> (N,) predicted class indices (largest cosine)."""
    img, cls = _features(image_features, "image_features"), _features(classifier, "classifier")
    if img.shape[1] != cls.shape[1]:
        raise ValueError(f"image features have width {img.shape[1]} but the classifier {cls.shape[1]}")
    return (F.normalize(img, dim=-1) @ F.normalize(cls, dim=-1).T).argmax(dim=1)


def similarity(query: torch.Tensor, gallery: torch.Tensor) -> torch.Tensor:
    """Cosine similarities (Q, D), (G, D) -> (Q, G)."""
    q, g = _features(query, "query"), _features(gallery, "gallery")
    if q.shape[1] != g.shape[1]:
        raise ValueError(f"query has width {q.shape[1]} but gallery {g.shape[1]}: embed both with the same model")
    return F.normalize(q, dim=-1) @ F.normalize(g, dim=-1).T


@torch.no_grad()
def retrieve(query: torch.Tensor, gallery: torch.Tensor, k: int = 5):
    """The k most similar gallery items for each query: (scores (Q, k), indices (Q, k)), best first."""
    sims = similarity(query, gallery)                                          # (Q, G)
    if isinstance(k, bool) or not isinstance(k, numbers.Integral) or not 1 <= k <= sims.shape[1]:
        raise ValueError(f"k must be an integer in [1, gallery size {sims.shape[1]}], got {k!r}")
    return sims.topk(int(k), dim=1)


def _positives(positives, Q: int, G: int) -> torch.Tensor:
    """(Q,) gallery indices, a (Q, G) boolean matrix, or a list of index collections -> (Q, G) bool."""
    if isinstance(positives, (list, tuple)) and positives and not isinstance(positives[0], numbers.Integral):
        same = torch.zeros(Q, G, dtype=torch.bool)
        if len(positives) != Q:
            raise ValueError(f"positives has {len(positives)} entries for {Q} queries")
        for i, items in enumerate(positives):
            same[i, list(items)] = True
        return same
    p = torch.as_tensor(np.asarray(positives))
    if p.dim() == 1 and len(p) == Q and not p.is_floating_point() and p.dtype != torch.bool:
        if p.min() < 0 or p.max() >= G:
            raise ValueError(f"positive indices must lie in [0, {G}), got {p.min().item()} to {p.max().item()}")
        return torch.nn.functional.one_hot(p.long(), G).bool()
    if p.shape == (Q, G) and p.dtype == torch.bool:
        return p
    raise ValueError(f"positives must be ({Q},) gallery indices, a ({Q}, {G}) boolean matrix or {Q} lists of "
                     f"indices, got shape {tuple(p.shape)} dtype {p.dtype}")


@torch.no_grad()
def recall_at_k(query: torch.Tensor, gallery: torch.Tensor, positives, ks=(1, 5, 10)) -> dict[int, float]:
    """{K: fraction of queries with a correct gallery item among their K nearest}.

    Image -> text: query = image features, gallery = caption features; text -> image: swap them
    and transpose the positives. Every query needs at least one positive."""
    sims = similarity(query, gallery)                                          # (Q, G)
    Q, G = sims.shape
    same = _positives(positives, Q, G).to(sims.device)
    if not same.any(dim=1).all():
        raise ValueError(f"queries {(~same.any(dim=1)).nonzero().flatten().tolist()[:5]} have no correct gallery item")
    ks = [ks] if isinstance(ks, numbers.Integral) else list(ks)
    if any(isinstance(k, bool) or not isinstance(k, numbers.Integral) or k < 1 for k in ks):
        raise ValueError(f"every K must be a positive integer, got {ks}")
    # rank of the best positive = number of gallery items scoring strictly above it (ties go to the query)
    best = sims.masked_fill(~same, float("-inf")).max(dim=1, keepdim=True).values    # (Q, 1)
    rank = (sims > best).sum(dim=1)                                            # (Q,) 0 = first
    return {int(k): (rank < k).double().mean().item() for k in ks}
