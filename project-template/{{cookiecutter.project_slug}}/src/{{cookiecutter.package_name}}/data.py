"""Data: arrays of images and labels, a seeded stratified split and torch loaders.

Two sources, chosen by `data.name` in the config:
- "digits": scikit-learn's 1797 real 8x8 handwritten digits (10 classes), shipped with
  scikit-learn, so the project runs and tests without a network;
- "imagefolder": your own images, one sub-folder per class (root/cat/001.png, root/dog/...).
Images become float32 tensors (B, C, S, S) in [0, 1]. The split is stratified and fixed by the
seed; augmentation (`random_shift`) is applied to training batches only, never to validation or
test images.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset

from .config import DataConfig

logger = logging.getLogger(__name__)
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp")


@dataclass
class Data:
    train: DataLoader
    val: DataLoader
    test: DataLoader
    class_names: list[str]
    in_channels: int


def digits_arrays() -> tuple[np.ndarray, np.ndarray, list[str]]:
    """(images (1797, 1, 8, 8) float32 in [0, 1], labels (1797,) int64, class names)."""
    from sklearn.datasets import load_digits

    d = load_digits()
    return (d.images / 16.0).astype(np.float32)[:, None], d.target.astype(np.int64), [str(c) for c in range(10)]


def folder_arrays(root: str | Path, channels: int, image_size: int):
    """Images of root/<class>/<file>, resized to image_size: (images (n, C, S, S), labels (n,), class names)."""
    from PIL import Image, UnidentifiedImageError

    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"data.root={str(root)!r} is not a folder (expected root/<class name>/<images>)")
    classes = sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    if len(classes) < 2:
        raise ValueError(f"{root} has {len(classes)} class folder(s): expected at least 2 (root/<class name>/<images>)")
    images, labels = [], []
    for label, name in enumerate(classes):
        files = sorted(p for p in (root / name).iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        if not files:
            raise ValueError(f"class folder {root / name} holds no images (suffixes {IMAGE_SUFFIXES})")
        for path in files:
            try:
                with Image.open(path) as im:
                    im = im.convert("L" if channels == 1 else "RGB").resize((image_size, image_size))
                    array = np.asarray(im, dtype=np.float32) / 255.0
            except (UnidentifiedImageError, OSError) as err:
                raise ValueError(f"cannot read image {path}: {err}") from err
            images.append(array[None] if channels == 1 else array.transpose(2, 0, 1))   # (C, S, S)
            labels.append(label)
    logger.info("read %d images in %d classes from %s", len(images), len(classes), root)
    return np.stack(images), np.asarray(labels, dtype=np.int64), classes


def split(images: np.ndarray, labels: np.ndarray, cfg: DataConfig, seed: int) -> dict:
    """Stratified {"train", "val", "test"}: (images, labels), fixed by `seed`."""
    from sklearn.model_selection import train_test_split

    try:
        x_rest, x_test, y_rest, y_test = train_test_split(
            images, labels, test_size=cfg.test_fraction, stratify=labels, random_state=seed)
        x_train, x_val, y_train, y_val = train_test_split(
            x_rest, y_rest, test_size=cfg.val_fraction, stratify=y_rest, random_state=seed)
    except ValueError as err:
        raise ValueError(f"cannot split {len(labels)} images into train/val/test with test_fraction="
                         f"{cfg.test_fraction} and val_fraction={cfg.val_fraction} (each class needs enough "
                         f"images for every split): {err}") from err
    return {"train": (x_train, y_train), "val": (x_val, y_val), "test": (x_test, y_test)}


def random_shift(images: torch.Tensor, generator: torch.Generator, max_shift: int = 1) -> torch.Tensor:
    """Shift each image of (B, C, H, W) by up to `max_shift` pixels (zero fill): training only."""
    b, _, h, w = images.shape
    padded = F.pad(images, [max_shift] * 4)
    dy, dx = torch.randint(0, 2 * max_shift + 1, (2, b), generator=generator).tolist()
    return torch.stack([padded[i, :, y:y + h, x:x + w] for i, (y, x) in enumerate(zip(dy, dx))])


def load_data(cfg: DataConfig, seed: int = 0) -> Data:
    """Loaders of (images (B, C, S, S) float32, labels (B,) int64); the training loader shuffles (seeded)."""
    if cfg.name == "digits":
        images, labels, names = digits_arrays()
    else:
        images, labels, names = folder_arrays(cfg.root, cfg.channels, cfg.image_size)
    parts = split(images, labels, cfg, seed)
    loaders = {}
    for part, (x, y) in parts.items():
        x = torch.from_numpy(np.ascontiguousarray(x))
        if x.shape[-1] != cfg.image_size:
            x = F.interpolate(x, size=(cfg.image_size, cfg.image_size), mode="bilinear", align_corners=False)
        generator = torch.Generator().manual_seed(seed)
        loaders[part] = DataLoader(TensorDataset(x, torch.from_numpy(y)), batch_size=cfg.batch_size,
                                   shuffle=part == "train", generator=generator if part == "train" else None)
        logger.info("%s: %d images of shape %s", part, len(y), tuple(x.shape[1:]))
    return Data(loaders["train"], loaders["val"], loaders["test"], names, cfg.channels)
