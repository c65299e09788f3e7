"""patchify forgets its patch_size argument (hard-coded 4); PatchEmbedding takes its arguments in
another order. token_stats is correct."""
from einops import rearrange
from torch import nn


def patchify(images):
    return rearrange(images, "b c (h p1) (w p2) -> b (h w) (p1 p2 c)", p1=4, p2=4)


class PatchEmbedding(nn.Module):
    def __init__(self, dim, patch_size, image_size, channels):
        super().__init__()
        self.num_patches = (image_size // patch_size) ** 2
        self.proj = nn.Conv2d(channels, dim, patch_size, patch_size)

    def forward(self, x):
        return rearrange(self.proj(x), "b d h w -> b (h w) d")


def token_stats(image_size, patch_size, dim, in_channels=1):
    n = (image_size // patch_size) ** 2
    return {"num_tokens": n, "attention_entries": n * n,
            "embed_params": patch_size ** 2 * in_channels * dim + dim + n * dim}
