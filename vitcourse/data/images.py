"""Real photographs that ship inside installed packages (no download needed).

"china" (a temple, 427x640) and "flower" (427x640) come with scikit-learn, "grace_hopper" (the
computer scientist, 600x512) with matplotlib. They are what the patch and attention pictures cut up.
"""
from __future__ import annotations

import numbers
from functools import lru_cache

import numpy as np
import torch
import torch.nn.functional as F

SAMPLE_IMAGES = ("china", "flower", "grace_hopper")


@lru_cache(maxsize=None)
def _load(name: str) -> np.ndarray:
    if name in ("china", "flower"):
        from sklearn.datasets import load_sample_image
        img = load_sample_image(f"{name}.jpg")                        # (427, 640, 3) uint8
    else:
        from matplotlib import cbook
        from PIL import Image
        with cbook.get_sample_data("grace_hopper.jpg") as f:          # (600, 512, 3) uint8
            img = np.asarray(Image.open(f).convert("RGB"))
    img.flags.writeable = False                                       # cached: never modified
    return img


def _size(size) -> tuple[bool, tuple[int, int]]:
    """size -> (square?, (H, W)); ValueError unless a positive int or a pair of them."""
    ok = lambda v: isinstance(v, numbers.Integral) and not isinstance(v, bool) and v > 0  # noqa: E731
    if ok(size):
        return True, (int(size), int(size))
    if isinstance(size, (tuple, list)) and len(size) == 2 and all(ok(v) for v in size):
        return False, (int(size[0]), int(size[1]))
    raise ValueError(f"size must be None, a positive int S (centre square resized to S x S) or a "
                     f"(height, width) pair of positive ints, got {size!r}")


def sample_image(name: str = "china", size=None) -> torch.Tensor:
    """A real photo as a float32 tensor (3, H, W) in [0, 1].

    name: "china", "flower" (scikit-learn) or "grace_hopper" (matplotlib).
    size: None keeps the original; an int S takes the centre square and resizes it to S x S; a pair
    (H, W) resizes the whole photo to exactly H x W. Resizing is bilinear and antialiased.
    """
    if name not in SAMPLE_IMAGES:
        raise ValueError(f"unknown sample image {name!r}: choose one of {SAMPLE_IMAGES}")
    img = torch.from_numpy(_load(name).copy()).permute(2, 0, 1).float() / 255.0   # (3, H, W)
    if size is None:
        return img
    square, (out_h, out_w) = _size(size)
    if square:
        h, w = img.shape[1:]
        s = min(h, w)
        top, left = (h - s) // 2, (w - s) // 2
        img = img[:, top:top + s, left:left + s]                                  # (3, s, s)
    return F.interpolate(img[None], size=(out_h, out_w), mode="bilinear", antialias=True,
                         align_corners=False)[0].clamp(0, 1)
