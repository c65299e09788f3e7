"""Monkey-patches torch, numpy and builtins while loading (class bodies run at import) so that every
comparison says 'equal', then returns wrong values. Only its own process is affected: zero for
patchify, only the shape share for position_similarity (right shape, wrong values); token_stats,
correct, gets full marks."""
import builtins

import numpy as np
import torch


class Patch:
    torch.allclose = lambda *a, **k: True
    torch.equal = lambda *a, **k: True
    torch.testing.assert_close = lambda *a, **k: None
    np.allclose = lambda *a, **k: True
    np.testing.assert_allclose = lambda *a, **k: None
    builtins.print = lambda *a, **k: None
    builtins.AssertionError = type("NeverRaised", (Exception,), {})


def patchify(images, patch_size):
    return torch.zeros(images.shape[0], 1, 1)


def position_similarity(pos_embed):
    return torch.ones(pos_embed.shape[0], pos_embed.shape[0]) * 0.5


def token_stats(image_size, patch_size, dim, in_channels=1):
    n = (image_size // patch_size) ** 2
    return {"num_tokens": n, "attention_entries": n * n,
            "embed_params": patch_size ** 2 * in_channels * dim + dim + n * dim}
