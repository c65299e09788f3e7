"""Contrastive image-text losses: CLIP's softmax loss and SigLIP's sigmoid loss.

CLIP (Radford et al. 2021, Figure 3): with L2-normalised features and t = `logit_scale`,

    logits = exp(t) I_e T_e^T                                    # (B, B)
    loss = (CE(logits, arange B) + CE(logits^T, arange B)) / 2    # image->text and text->image

Chance is ln B (every logit equal), the number to print next to the loss (open_clip#17: a loss
stuck at 4.8 with B = 128 is ln 128, i.e. nothing learned).

SigLIP (Zhai et al. 2023, Section 3.1, Algorithm 1): every pair is an independent binary
problem, z_ij = +1 on the diagonal and -1 elsewhere,

    loss = -1/B sum_ij log sigmoid(z_ij (exp(t) x_i . y_j + b))

The paper initialises t = ln 10 and b = -10 (Section 3.2): most of the B^2 pairs are negatives,
so the bias starts them near p = 0. Hugging Face's `SiglipModel` initialises both to 0.

Multi-positive targets: captions that repeat inside a batch (label-like captions, open_clip#821)
are false negatives. Pass `targets` = the B captions, per-item caption ids (B,) or a (B, B)
boolean "same" matrix; for each positive pair (i, p), the other positives of i leave the
softmax's denominator:
    term(i, p) = -log( e^{l_ip} / (e^{l_ip} + sum_{n not a positive of i} e^{l_in}) )
and a row's loss is the mean of its terms. With identity targets this is exactly CLIP's loss.
Soft targets (row-normalised "same", as in UniCL or SupCon) would *not* help here: identical
captions have identical text features, so their loss equals the identity-target loss (tested).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F


def _check_features(image_features, text_features) -> None:
    for name, x in (("image_features", image_features), ("text_features", text_features)):
        if not isinstance(x, torch.Tensor) or x.dim() != 2:
            raise ValueError(f"{name} must be a (B, D) tensor, got {getattr(x, 'shape', type(x).__name__)}")
        if not x.is_floating_point():
            raise ValueError(f"{name} must be floating point, got dtype {x.dtype}")
        if not torch.isfinite(x).all():
            raise ValueError(f"{name} contain NaN or infinite values (a diverged model or a bad input)")
    if image_features.shape != text_features.shape:
        raise ValueError(f"image_features {tuple(image_features.shape)} and text_features "
                         f"{tuple(text_features.shape)} must both be (B, D): one caption per image, same width")
    if image_features.shape[0] < 2:
        raise ValueError(f"a contrastive loss needs a batch of B >= 2 pairs (with B = 1 there is no negative "
                         f"and the loss is 0), got B = {image_features.shape[0]}")


def _scalar(value, name: str, like: torch.Tensor) -> torch.Tensor:
    value = torch.as_tensor(value, dtype=like.dtype, device=like.device)
    if value.numel() != 1 or not torch.isfinite(value).all():
        raise ValueError(f"{name} must be one finite number (a scalar tensor or float), got {value}")
    return value.reshape(())


def positives_matrix(targets, batch_size: int, device=None) -> torch.Tensor:
    """`targets` (B,) caption ids, B caption strings, or (B, B) bool -> (B, B) bool, True where image i
    and text j match (equal ids or equal strings)."""
    if isinstance(targets, (list, tuple)) and targets and all(isinstance(x, str) for x in targets):
        index: dict[str, int] = {}
        targets = [index.setdefault(x, len(index)) for x in targets]     # equal captions -> equal ids
    t = torch.as_tensor(targets, device=device)
    if t.dim() == 1 and len(t) == batch_size and not t.is_floating_point():
        same = t[:, None] == t[None, :]                                    # equal caption ids
    elif t.shape == (batch_size, batch_size) and t.dtype == torch.bool:
        same = t
    else:
        raise ValueError(f"targets must be {batch_size} integer caption ids (B,) or a ({batch_size}, {batch_size}) "
                         f"boolean matrix, got shape {tuple(t.shape)} dtype {t.dtype}")
    if not same.diagonal().all():
        raise ValueError("targets must mark every pair (i, i) as a positive: image i goes with caption i")
    return same


def _multi_positive_ce(logits: torch.Tensor, same: torch.Tensor) -> torch.Tensor:
    """Mean over rows of the mean over each row's positives of softplus(lse(negatives) - l_ip)."""
    neg = torch.logsumexp(logits.masked_fill(same, float("-inf")), dim=1, keepdim=True)   # (B, 1)
    terms = F.softplus(neg - logits)                                                         # (B, B)
    return ((terms * same).sum(dim=1) / same.sum(dim=1)).mean()


def clip_logits(image_features, text_features, logit_scale) -> torch.Tensor:
    """exp(t) normalize(I) normalize(T)^T: (B_img, D), (B_txt, D) -> (B_img, B_txt)."""
    img, txt = F.normalize(image_features, dim=-1), F.normalize(text_features, dim=-1)
    return _scalar(logit_scale, "logit_scale", img).exp() * img @ txt.T


def clip_loss(image_features, text_features, logit_scale, targets=None) -> torch.Tensor:
    """CLIP's symmetric cross-entropy. Features (B, D), normalised here; `logit_scale` = t, the LOG
    of the multiplier (CLIP's learned temperature: exp(t) = 1/tau). `targets`: see the module doc."""
    _check_features(image_features, text_features)
    logits = clip_logits(image_features, text_features, logit_scale)      # (B, B) image -> text
    B = logits.shape[0]
    if targets is None:
        labels = torch.arange(B, device=logits.device)
        return (F.cross_entropy(logits, labels) + F.cross_entropy(logits.T, labels)) / 2
    same = positives_matrix(targets, B, logits.device)
    return (_multi_positive_ce(logits, same) + _multi_positive_ce(logits.T, same.T)) / 2


def siglip_loss(image_features, text_features, logit_scale, logit_bias, targets=None) -> torch.Tensor:
    """SigLIP's pairwise sigmoid loss (Zhai et al. 2023, Algorithm 1): the sum over all B^2 pairs of
    -log sigmoid(z_ij l_ij), divided by B; z = +1 for positives (the diagonal, or `targets`), -1 else."""
    _check_features(image_features, text_features)
    logits = clip_logits(image_features, text_features, logit_scale)      # (B, B)
    logits = logits + _scalar(logit_bias, "logit_bias", logits)
    B = logits.shape[0]
    same = (torch.eye(B, dtype=torch.bool, device=logits.device) if targets is None
            else positives_matrix(targets, B, logits.device))
    z = same.to(logits.dtype) * 2 - 1                                     # +1 / -1
    return -F.logsigmoid(z * logits).sum() / B
