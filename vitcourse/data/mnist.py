"""MNIST (LeCun et al. 1998): 60,000 training and 10,000 test handwritten digits, 28x28 grey.

Reads the four standard gzipped IDX files from `root` (a folder holding them directly; with a
torchvision copy, pass its `MNIST/raw` folder):
    train-images-idx3-ubyte.gz  train-labels-idx1-ubyte.gz  t10k-images-idx3-ubyte.gz  t10k-labels-idx1-ubyte.gz
Each is checked against the sha256 TensorFlow Datasets publishes for it
(`tensorflow_datasets/url_checksums/mnist.txt`, which also gives the sizes 9912422, 28881, 1648877
and 4542 bytes); torchvision publishes md5s of the same files. `CHECKSUMS` may be edited (tests do).
Files are downloaded, from the mirrors torchvision and TensorFlow use, only when `download=True`.
"""
from __future__ import annotations

import gzip
import math
import struct
from functools import partial
from pathlib import Path

import numpy as np

from . import files
from .augment import random_affine
from .loaders import check_int, make_loaders, stratified_split

CLASSES = tuple(str(i) for i in range(10))
FILES = {"train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
         "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")}
CHECKSUMS = {
    "train-images-idx3-ubyte.gz": ("sha256", "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609"),
    "train-labels-idx1-ubyte.gz": ("sha256", "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c"),
    "t10k-images-idx3-ubyte.gz": ("sha256", "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6"),
    "t10k-labels-idx1-ubyte.gz": ("sha256", "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6"),
}
MIRRORS = ("https://ossci-datasets.s3.amazonaws.com/mnist/",
           "https://storage.googleapis.com/cvdf-datasets/mnist/")
# IDX type byte -> numpy dtype (multi-byte values are big-endian)
IDX_DTYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def read_idx(path) -> np.ndarray:
    """Parse an IDX file (gzipped if its name ends in .gz).

    Layout: magic = two zero bytes, a type byte (0x08 = uint8, ...) and the number of dimensions
    n; then n big-endian uint32 sizes; then the values, big-endian, C order. MNIST images have magic
    0x00000803 (2051: uint8, 3 dims), labels 0x00000801 (2049: uint8, 1 dim).
    """
    with (gzip.open if str(path).endswith(".gz") else open)(path, "rb") as f:
        data = f.read()
    if len(data) < 4 or data[0] or data[1] or data[2] not in IDX_DTYPES:
        raise ValueError(f"{path} is not an IDX file: magic bytes {data[:4].hex()}, expected "
                         f"0000 then a type byte in {sorted(IDX_DTYPES)} and the number of dimensions")
    ndim, dtype = data[3], np.dtype(IDX_DTYPES[data[2]])
    if len(data) < 4 + 4 * ndim:
        raise ValueError(f"{path}: truncated IDX header ({len(data)} bytes for {ndim} dimensions)")
    dims = struct.unpack(f">{ndim}I", data[4:4 + 4 * ndim])
    body = data[4 + 4 * ndim:]
    if len(body) != math.prod(dims) * dtype.itemsize:
        raise ValueError(f"{path}: header says shape {dims} ({math.prod(dims) * dtype.itemsize} bytes "
                         f"of {dtype}) but {len(body)} bytes follow")
    return np.frombuffer(body, dtype).reshape(dims).astype(dtype.newbyteorder("="))


def _ensure(root: Path, names, download: bool) -> None:
    """Check (and, if allowed, download) the named files in `root`, verifying every checksum."""
    missing = [n for n in names if not (root / n).is_file()]
    if missing and not download:
        raise files.missing_error("MNIST", root, missing, MIRRORS[0])
    for name in names:
        if name in missing:
            files.fetch([m + name for m in MIRRORS], root / name, CHECKSUMS[name])
        else:
            files.verify(root / name, CHECKSUMS[name])


def _read(root: Path, split: str):
    images, labels = (read_idx(root / n) for n in FILES[split])
    if images.ndim != 3 or images.dtype != np.uint8 or labels.shape != images.shape[:1]:
        raise ValueError(f"MNIST {split} files in {root} hold images {images.shape} {images.dtype} and "
                         f"labels {labels.shape}: expected (n, 28, 28) uint8 images and (n,) labels")
    return images[:, None], labels.astype(np.int64)                     # (n, 1, 28, 28), (n,)


def _check_split(split: str) -> str:
    if split not in FILES:
        raise ValueError(f"unknown MNIST split {split!r}: choose one of {tuple(FILES)}")
    return split


def mnist_arrays(root, split: str = "train", download: bool = False):
    """(images (n, 1, 28, 28) uint8 in 0..255, labels (n,) int64) of the "train" or "test" split."""
    root = Path(root).expanduser()
    _ensure(root, FILES[_check_split(split)], download)
    return _read(root, split)


def load_mnist(root, image_size: int = 28, batch_size: int = 64, augment: bool = False, seed: int = 0,
               download: bool = False, val_fraction: float = 0.1):
    """(train, val, test) DataLoaders of (images (B, 1, S, S) float32 in [0, 1], labels (B,) int64).

    val: a stratified `val_fraction` of the 60,000 training images (None when val_fraction=0);
    test: the official 10,000. augment: random shifts (up to 1/8 of the side) and rotations (up to
    10 degrees), training batches only. image_size: bilinear resize (antialiased when shrinking).
    """
    root = Path(root).expanduser()
    image_size, batch_size = check_int("image_size", image_size, 1), check_int("batch_size", batch_size, 1)
    seed = check_int("seed", seed, 0)
    if not 0 <= val_fraction < 1:
        raise ValueError(f"val_fraction must be in [0, 1), got {val_fraction!r}")
    _ensure(root, FILES["train"] + FILES["test"], download)
    train, test = _read(root, "train"), _read(root, "test")
    val = None
    if val_fraction > 0:
        train, val = stratified_split(*train, val_fraction, seed)
    aug = partial(random_affine, max_shift=0.125, max_degrees=10.0) if augment else None
    return make_loaders({"train": train, "val": val, "test": test}, image_size=image_size,
                        batch_size=batch_size, scale=255.0, augment=aug, seed=seed)
