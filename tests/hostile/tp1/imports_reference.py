"""Hands in the course package's reference implementations as its own: an import for patchify, a
subclass for PatchEmbedding, a thin wrapper for token_stats. Each is flagged and scores 0; its own
position_similarity gets full marks. Loading digits with vitcourse.data is allowed."""
import torch.nn.functional as F

import vitcourse.measure as measure
from vitcourse.data import load_digits  # noqa: F401 - an allowed helper
from vitcourse.patches import PatchEmbed, patchify  # noqa: F401


class PatchEmbedding(PatchEmbed):
    def __init__(self, image_size, patch_size, in_channels, dim):
        super().__init__(image_size, patch_size, in_channels, dim)


def _helper(image_size, patch_size, dim, in_channels):
    r = measure.token_costs(image_size, patch_size, dim, in_channels)
    return {"num_tokens": r["tokens"], "attention_entries": r["attention_entries"],
            "embed_params": r["embed_params"] + r["tokens"] * dim}


def token_stats(image_size, patch_size, dim, in_channels=1):
    return _helper(image_size, patch_size, dim, in_channels)


def position_similarity(pos_embed):
    unit = F.normalize(pos_embed, dim=-1)
    return unit @ unit.T
