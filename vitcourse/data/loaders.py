"""From arrays to (train, val, test) DataLoaders, shared by the digits, MNIST and CIFAR-10 loaders.

Images are stored as they come (uint8 or float) and turned into float32 batches in [0, 1] by a
`Collate`: scale, resize (bilinear), then, for the training loader only, augment. The training
loader is shuffled; shuffling and augmentation draw from their own generators seeded from `seed`,
so the same seed gives the same batches, epoch after epoch, run after run.
"""
from __future__ import annotations

import numbers

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset


def check_int(name: str, value, minimum: int, hint: str = "") -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}{hint}, got {value!r}")
    return int(value)


def resize(images: torch.Tensor, image_size: int) -> torch.Tensor:
    """(B, C, H, W) -> (B, C, S, S), bilinear (antialiased when shrinking); a no-op at size S."""
    if images.shape[-2:] == (image_size, image_size):
        return images
    shrink = image_size < min(images.shape[-2:])
    return F.interpolate(images, size=(image_size, image_size), mode="bilinear",
                         align_corners=False, antialias=shrink)


class Collate:
    """collate_fn: stack a batch, scale to float [0, 1], resize, then apply `augment` if given."""

    def __init__(self, image_size: int, scale: float = 1.0, augment=None, seed: int = 0):
        self.image_size, self.scale, self.augment = image_size, scale, augment
        self.generator = torch.Generator().manual_seed(2 * seed + 1)   # the shuffle uses 2 * seed

    def __call__(self, batch):
        images = torch.stack([b[0] for b in batch]).float() / self.scale     # (B, C, H, W)
        labels = torch.stack([b[1] for b in batch])                          # (B,)
        images = resize(images, self.image_size)                             # (B, C, S, S)
        if self.augment is not None:
            images = self.augment(images, self.generator)
        return images, labels


def stratified_split(x: np.ndarray, y: np.ndarray, fraction: float, seed: int):
    """Split off `fraction` of (x, y), stratified by label: ((x_keep, y_keep), (x_held, y_held))."""
    from sklearn.model_selection import train_test_split

    x_keep, x_held, y_keep, y_held = train_test_split(x, y, test_size=fraction, stratify=y,
                                                      random_state=seed)
    return (x_keep, y_keep), (x_held, y_held)


def make_loaders(splits: dict, *, image_size: int, batch_size: int, scale: float, augment, seed: int):
    """(train, val, test) DataLoaders from {"train": (x, y), "val": (x, y) or None, "test": (x, y)}.

    x: (n, C, H, W) array, y: (n,) integer labels. `augment(images, generator)` or None is applied
    to training batches only.
    """
    loaders = []
    for split in ("train", "val", "test"):
        if splits.get(split) is None:
            loaders.append(None)
            continue
        x, y = splits[split]
        ds = TensorDataset(torch.as_tensor(np.ascontiguousarray(x)), torch.as_tensor(y, dtype=torch.int64))
        train = split == "train"
        loaders.append(DataLoader(
            ds, batch_size=batch_size, shuffle=train,
            generator=torch.Generator().manual_seed(2 * seed) if train else None,
            collate_fn=Collate(image_size, scale, augment if train else None, seed)))
    return tuple(loaders)
