"""scikit-learn's 1797 real 8x8 handwritten digits (UCI optdigits test set), as torch loaders.

Split: stratified 20% test; 10% of the rest (stratified) for validation. Pixel values 0..16 are
scaled to [0, 1], then the images may be resized (bilinear) to `image_size`.
"""
from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset


def digits_arrays(seed: int = 0):
    """Return dict of (images (n, 1, 8, 8) float32 in [0, 1], labels (n,) int64) for train/val/test."""
    from sklearn.datasets import load_digits as sk_load_digits
    from sklearn.model_selection import train_test_split

    d = sk_load_digits()
    x = (d.images / 16.0).astype(np.float32)[:, None]          # (1797, 1, 8, 8)
    y = d.target.astype(np.int64)
    x_rest, x_test, y_rest, y_test = train_test_split(x, y, test_size=0.2, stratify=y, random_state=seed)
    x_train, x_val, y_train, y_val = train_test_split(x_rest, y_rest, test_size=0.1, stratify=y_rest,
                                                      random_state=seed)
    return {"train": (x_train, y_train), "val": (x_val, y_val), "test": (x_test, y_test)}


def resize(images: torch.Tensor, image_size: int) -> torch.Tensor:
    if images.shape[-1] == image_size:
        return images
    return F.interpolate(images, size=(image_size, image_size), mode="bilinear", align_corners=False)


def random_affine(images: torch.Tensor, generator: torch.Generator, max_shift: float = 0.125,
                  max_degrees: float = 10.0) -> torch.Tensor:
    """Random shifts (a fraction of the image size) and rotations, one per image: (B, C, H, W)."""
    b = images.shape[0]
    angle = (torch.rand(b, generator=generator) * 2 - 1) * math.radians(max_degrees)
    shift = (torch.rand(b, 2, generator=generator) * 2 - 1) * max_shift * 2   # grid coords span 2
    cos, sin = angle.cos(), angle.sin()
    theta = torch.stack([torch.stack([cos, -sin, shift[:, 0]], 1), torch.stack([sin, cos, shift[:, 1]], 1)], 1)
    grid = F.affine_grid(theta.to(images.dtype), list(images.shape), align_corners=False)
    return F.grid_sample(images, grid, padding_mode="zeros", align_corners=False)


class _Augment:
    """collate_fn that stacks a batch and applies `random_affine` (training batches only)."""

    def __init__(self, seed: int):
        self.generator = torch.Generator().manual_seed(seed)

    def __call__(self, batch):
        images = torch.stack([b[0] for b in batch])
        labels = torch.stack([b[1] for b in batch])
        return random_affine(images, self.generator), labels


def load_digits(image_size: int = 8, batch_size: int = 64, augment: bool = False, seed: int = 0):
    """(train, val, test) DataLoaders of (images (B, 1, S, S), labels (B,)) over the digits.

    `augment` adds small random shifts (up to 1/8 of the side) and rotations (up to 10 degrees)
    to the training batches only; validation and test images are never augmented.
    """
    if image_size < 8:
        raise ValueError(f"image_size must be at least the native 8 pixels, got {image_size}")
    arrays = digits_arrays(seed)
    loaders = []
    for split in ("train", "val", "test"):
        x, y = arrays[split]
        ds = TensorDataset(resize(torch.from_numpy(x), image_size), torch.from_numpy(y))
        train = split == "train"
        loaders.append(DataLoader(ds, batch_size=batch_size, shuffle=train,
                                  generator=torch.Generator().manual_seed(seed) if train else None,
                                  collate_fn=_Augment(seed) if (train and augment) else None))
    return tuple(loaders)
