"""Real photographs that ship inside installed packages (no download needed)."""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

SAMPLE_IMAGES = ("china", "flower", "grace_hopper")


def _load(name: str) -> np.ndarray:
    if name in ("china", "flower"):
        from sklearn.datasets import load_sample_image
        return load_sample_image(f"{name}.jpg")                     # (427, 640, 3) uint8
    from matplotlib import cbook
    from PIL import Image
    with cbook.get_sample_data("grace_hopper.jpg") as f:            # (600, 512, 3) uint8
        return np.asarray(Image.open(f).convert("RGB"))


def sample_image(name: str = "china", size=None) -> torch.Tensor:
    """A real photo as a float tensor (3, H, W) in [0, 1].

    name: "china" (scikit-learn, a temple), "flower" (scikit-learn), "grace_hopper" (matplotlib).
    size: an int S gives the centre S x S square resized to S (bilinear, antialiased); a pair
    (H, W) resizes to exactly that; None keeps the original.
    """
    if name not in SAMPLE_IMAGES:
        raise ValueError(f"unknown sample image {name!r}: choose one of {SAMPLE_IMAGES}")
    img = torch.from_numpy(_load(name).copy()).permute(2, 0, 1).float() / 255.0   # (3, H, W)
    if size is None:
        return img
    if isinstance(size, int):
        h, w = img.shape[1:]
        s = min(h, w)
        top, left = (h - s) // 2, (w - s) // 2
        img, size = img[:, top:top + s, left:left + s], (size, size)
    return F.interpolate(img[None], size=tuple(size), mode="bilinear", antialias=True,
                         align_corners=False)[0].clamp(0, 1)
