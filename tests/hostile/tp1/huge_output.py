"""Correct patchify and token_stats that print about 50 MB through print() and 40 MB straight to
file descriptors 1 and 2 on every call. Output is ignored: full marks for both."""
import os

from einops import rearrange


def patchify(images, patch_size):
    for _ in range(500):
        print("x" * 100_000)
    os.write(1, b"y" * 20_000_000)
    os.write(2, b"z" * 20_000_000)
    h, w = images.shape[-2:]
    if h % patch_size or w % patch_size:
        raise ValueError(f"image size {h}x{w} is not divisible by patch_size={patch_size}")
    return rearrange(images, "b c (h p1) (w p2) -> b (h w) (p1 p2 c)", p1=patch_size, p2=patch_size)


def token_stats(image_size, patch_size, dim, in_channels=1):
    print("token_stats called " * 10_000)
    n = (image_size // patch_size) ** 2
    return {"num_tokens": n, "attention_entries": n * n,
            "embed_params": patch_size ** 2 * in_channels * dim + dim + n * dim}
