"""Writes outside its working directory: patchify into the repository and /tmp (blocked: the
PermissionError makes it score 0); PatchEmbedding tries the same but catches the error and is
otherwise correct (full marks). Writing in its own directory is allowed (token_stats, correct)."""
import os
from pathlib import Path

import vitcourse
from einops import rearrange
from torch import nn

TARGETS = [Path(vitcourse.__file__).resolve().parents[1] / "HOSTILE_WAS_HERE.txt",
           Path("/tmp/vitcourse_hostile_was_here.txt")]


def patchify(images, patch_size):
    for target in TARGETS:
        target.write_text("pwned")
    return rearrange(images, "b c (h p1) (w p2) -> b (h w) (p1 p2 c)", p1=patch_size, p2=patch_size)


class PatchEmbedding(nn.Module):
    def __init__(self, image_size, patch_size, in_channels, dim):
        super().__init__()
        for target in TARGETS:
            try:
                os.remove(Path(vitcourse.__file__))
            except OSError:
                pass
            try:
                fd = os.open(str(target), os.O_WRONLY | os.O_CREAT)
                os.write(fd, b"pwned")
            except OSError:
                pass
        self.num_patches = (image_size // patch_size) ** 2
        self.proj = nn.Conv2d(in_channels, dim, kernel_size=patch_size, stride=patch_size)

    def forward(self, images):
        return rearrange(self.proj(images), "b d h w -> b (h w) d")


def token_stats(image_size, patch_size, dim, in_channels=1):
    Path("my_cache.txt").write_text("allowed: this is my own working directory")
    n = (image_size // patch_size) ** 2
    return {"num_tokens": n, "attention_entries": n * n,
            "embed_params": patch_size ** 2 * in_channels * dim + dim + n * dim}
