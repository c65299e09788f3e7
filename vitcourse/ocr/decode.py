"""Decoding CTC frame predictions into label sequences (Graves et al. 2006, Section 3.2).

The collapsing map B removes repeated labels, then blanks: B("hh-e-ll-lo") = "hello" ('-' the
blank), so a doubled letter needs a blank between its two frames. Two decoders:

- best path (greedy): the most probable label of each frame, then B. Fast, but the most probable
  *path* is not always the most probable *labelling* (many paths collapse to one text);
- prefix beam search: keeps the `beam_width` most probable label prefixes, each with the
  probability of its paths ending in a blank and in a non-blank (the split makes "ll" and "l"
  different prefixes); the summed path probability ranks them (Graves 2006's prefix search,
  in the beam form of Hannun et al. 2014, arXiv 1408.2873, Algorithm 1, without a language model).
"""
from __future__ import annotations

import math

import numpy as np
import torch

NEG_INF = float("-inf")


def ctc_collapse(path, blank: int = 0) -> list[int]:
    """B: merge repeated labels, then drop blanks. [1, 1, 0, 1, 2, 2] -> [1, 1, 2]."""
    out, prev = [], None
    for label in (path.tolist() if isinstance(path, torch.Tensor) else list(path)):
        if label != prev and label != blank:
            out.append(int(label))
        prev = label
    return out


def _as_log_probs(log_probs) -> torch.Tensor:
    lp = torch.as_tensor(log_probs)
    if lp.dim() not in (2, 3) or not lp.is_floating_point():
        raise ValueError(f"log_probs must be float frames (T, V) or (B, T, V), got {tuple(lp.shape)} {lp.dtype}")
    return lp


def ctc_greedy_decode(log_probs, blank: int = 0) -> list[list[int]]:
    """Best-path decoding: (B, T, V) (or (T, V)) log-probabilities -> B label lists."""
    lp = _as_log_probs(log_probs)
    lp = lp[None] if lp.dim() == 2 else lp
    return [ctc_collapse(path, blank) for path in lp.argmax(-1)]                 # (B, T) -> B lists


def _logadd(a: float, b: float) -> float:
    if a == NEG_INF:
        return b
    if b == NEG_INF:
        return a
    m = max(a, b)
    return m + math.log1p(math.exp(-abs(a - b)))


def ctc_prefix_beam_search(log_probs, beam_width: int = 8, blank: int = 0,
                           prune: float | None = -12.0) -> list[tuple[list[int], float]]:
    """Prefix beam search over one line's frames (T, V) -> [(labels, log P(labels | image)), ...],
    best first, at most `beam_width`. `prune`: skip labels whose frame log-probability is below it
    (None: consider every label; exact for beam_width >= the number of prefixes)."""
    lp = _as_log_probs(log_probs)
    if lp.dim() != 2:
        raise ValueError(f"ctc_prefix_beam_search decodes one line: log_probs (T, V), got {tuple(lp.shape)}")
    if isinstance(beam_width, bool) or not isinstance(beam_width, int) or beam_width < 1:
        raise ValueError(f"beam_width must be a positive integer, got {beam_width!r}")
    lp = lp.detach().double().cpu().numpy()
    beams = {(): (0.0, NEG_INF)}                          # prefix -> (log P ending in blank, in non-blank)
    for frame in lp:
        labels = range(len(frame)) if prune is None else np.flatnonzero(frame >= prune).tolist()
        nxt: dict[tuple, list[float]] = {}
        for prefix, (pb, pnb) in beams.items():
            total = _logadd(pb, pnb)
            stay = nxt.setdefault(prefix, [NEG_INF, NEG_INF])
            stay[0] = _logadd(stay[0], total + frame[blank])                     # a blank: same prefix
            if prefix:                                                           # the last label repeated:
                stay[1] = _logadd(stay[1], pnb + frame[prefix[-1]])              # collapses into the prefix
            for c in labels:
                if c == blank:
                    continue
                grown = nxt.setdefault(prefix + (c,), [NEG_INF, NEG_INF])
                # after a non-blank equal label, c only extends the prefix across a blank
                grown[1] = _logadd(grown[1], (pb if prefix and c == prefix[-1] else total) + frame[c])
        ranked = sorted(nxt.items(), key=lambda kv: _logadd(*kv[1]), reverse=True)[:beam_width]
        beams = {k: tuple(v) for k, v in ranked}
    return [(list(k), _logadd(*v)) for k, v in sorted(beams.items(), key=lambda kv: _logadd(*kv[1]), reverse=True)]


def ctc_labelling_log_prob(log_probs, labels, blank: int = 0) -> float:
    """log P(labels | frames): the sum over every path that collapses to `labels`, by `F.ctc_loss`."""
    lp = _as_log_probs(log_probs)
    if lp.dim() != 2:
        raise ValueError(f"log_probs must be one line's frames (T, V), got {tuple(lp.shape)}")
    target = torch.tensor([list(labels)], dtype=torch.long)
    loss = torch.nn.functional.ctc_loss(lp.double()[:, None], target, torch.tensor([lp.shape[0]]),
                                        torch.tensor([len(labels)]), blank=blank, reduction="sum")
    return -float(loss)
