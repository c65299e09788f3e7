"""Tries the network and child processes (both refused), catching the errors, then computes the
right answers: full marks for patchify and token_stats, and the attempts are reported."""
import os
import socket
import subprocess

from einops import rearrange


def patchify(images, patch_size):
    for attempt in (lambda: socket.create_connection(("1.1.1.1", 80), timeout=1),
                    lambda: subprocess.run(["curl", "http://example.com"]),
                    lambda: os.system("echo hi > /tmp/vitcourse_hostile_shell.txt"),
                    lambda: os.kill(1, 9)):
        try:
            attempt()
        except Exception:
            pass
    h, w = images.shape[-2:]
    if h % patch_size or w % patch_size:
        raise ValueError(f"image size {h}x{w} is not divisible by patch_size={patch_size}")
    return rearrange(images, "b c (h p1) (w p2) -> b (h w) (p1 p2 c)", p1=patch_size, p2=patch_size)


def token_stats(image_size, patch_size, dim, in_channels=1):
    n = (image_size // patch_size) ** 2
    return {"num_tokens": n, "attention_entries": n * n,
            "embed_params": patch_size ** 2 * in_channels * dim + dim + n * dim}
