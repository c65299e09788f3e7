"""Tries to exhaust memory three ways: a constant whose value is a 80 GB list (runs at import),
patchify growing a list by 1 GB at a time, and PatchEmbedding asking torch for a 400 GB tensor.
token_stats is correct (full marks)."""
import torch
from torch import nn

HUGE = [0] * 10**10


def patchify(images, patch_size):
    hog = []
    while True:
        hog.append(bytearray(10**9))


class PatchEmbedding(nn.Module):
    def __init__(self, image_size, patch_size, in_channels, dim):
        super().__init__()
        self.buffer = torch.ones(10**11)


def token_stats(image_size, patch_size, dim, in_channels=1):
    n = (image_size // patch_size) ** 2
    return {"num_tokens": n, "attention_entries": n * n,
            "embed_params": patch_size ** 2 * in_channels * dim + dim + n * dim}
