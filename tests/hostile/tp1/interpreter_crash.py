"""Crashes the interpreter: ctypes reading address 0 in patchify (ctypes is refused by the sandbox)
and a real SIGSEGV (faulthandler._sigsegv) in PatchEmbedding. token_stats is correct."""
import ctypes
import faulthandler

from torch import nn


def patchify(images, patch_size):
    return ctypes.string_at(0)


class PatchEmbedding(nn.Module):
    def __init__(self, image_size, patch_size, in_channels, dim):
        super().__init__()
        faulthandler._sigsegv()


def token_stats(image_size, patch_size, dim, in_channels=1):
    n = (image_size // patch_size) ** 2
    return {"num_tokens": n, "attention_entries": n * n,
            "embed_params": patch_size ** 2 * in_channels * dim + dim + n * dim}
