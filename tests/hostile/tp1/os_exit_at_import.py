"""Ends the process with os._exit(0) while loading (no exception to catch, no 'done'), and with
os._exit(7) inside patchify. The grader must resume in a fresh process past each: token_stats and
position_similarity are correct."""
import os

import torch.nn.functional as F


class Quit:
    os._exit(0)


def patchify(images, patch_size):
    os._exit(7)


def token_stats(image_size, patch_size, dim, in_channels=1):
    n = (image_size // patch_size) ** 2
    return {"num_tokens": n, "attention_entries": n * n,
            "embed_params": patch_size ** 2 * in_channels * dim + dim + n * dim}


def position_similarity(pos_embed):
    unit = F.normalize(pos_embed, dim=-1)
    return unit @ unit.T
