"""CIFAR-10 (Krizhevsky 2009): 50,000 training and 10,000 test colour images, 32x32, 10 classes.

Reads the standard "python version" from `root`, either
- the archive `cifar-10-python.tar.gz`, checked against the sha256 Keras publishes for it
  (`keras/src/datasets/cifar10.py`), read in place without extracting; or
- the folder `cifar-10-batches-py/` extracted from it (a torchvision copy has one), each file checked
  against the md5 torchvision publishes (`torchvision/datasets/cifar.py`): no sha256 of the
  extracted files is published, so md5 is the reference there.
The folder holds `data_batch_1`..`data_batch_5` (training), `test_batch` and `batches.meta`, Python
pickles. A batch is a dict: "data" a (n, 3072) uint8 array, each row 1024 red then 1024 green then
1024 blue values of a 32x32 image in row-major order; "labels" a list of n ints in 0..9.
`batches.meta` holds "label_names". A pickle can run code, so they are read with an unpickler that
builds nothing but numpy arrays, and only after the checksum matched. `CHECKSUMS` may be edited.
"""
from __future__ import annotations

import io
import pickle
import tarfile
from functools import partial
from pathlib import Path

import numpy as np

from . import files
from .augment import random_crop_flip
from .loaders import check_int, make_loaders, stratified_split

CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
ARCHIVE, FOLDER = "cifar-10-python.tar.gz", "cifar-10-batches-py"
URL = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
BATCHES = {"train": tuple(f"data_batch_{i}" for i in range(1, 6)), "test": ("test_batch",)}
CHECKSUMS = {
    ARCHIVE: ("sha256", "6d958be074577803d12ecdefd02955f39262c83c16fe9348329d7fe0b5c001ce"),
    f"{FOLDER}/data_batch_1": ("md5", "c99cafc152244af753f735de768cd75f"),
    f"{FOLDER}/data_batch_2": ("md5", "d4bba439e000b95fd0a9bffe97cbabec"),
    f"{FOLDER}/data_batch_3": ("md5", "54ebc095f3ab1f0389bbae665268c751"),
    f"{FOLDER}/data_batch_4": ("md5", "634d18415352ddfa80567beed471001a"),
    f"{FOLDER}/data_batch_5": ("md5", "482c414d41f54cd18b22e5b47cb7c3cb"),
    f"{FOLDER}/test_batch": ("md5", "40351d587109b95175f43aff81a1287e"),
    f"{FOLDER}/batches.meta": ("md5", "5ff9c542aee3614f3951f8cda6e48888"),
}


class _NumpyUnpickler(pickle.Unpickler):
    """Builds dicts, lists, strings and numpy arrays; refuses any other class or function."""
    ALLOWED = {("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
               ("numpy", "ndarray"), ("numpy", "dtype"), ("_codecs", "encode")}

    def find_class(self, module, name):
        if (module, name) not in self.ALLOWED:
            raise pickle.UnpicklingError(f"refusing {module}.{name} in a CIFAR-10 pickle: "
                                         f"only numpy arrays are expected")
        return super().find_class(module, name)


def _unpickle(data: bytes) -> dict:
    """A CIFAR pickle (written by Python 2: strings decoded as latin-1) -> dict with str keys."""
    obj = _NumpyUnpickler(io.BytesIO(data), encoding="latin1").load()
    return {k.decode("latin1") if isinstance(k, bytes) else k: v for k, v in obj.items()}


def _load(root: Path, names, download: bool) -> dict:
    """{name: unpickled dict} for `names` + batches.meta, from the archive or the extracted folder."""
    names = tuple(names) + ("batches.meta",)
    archive, folder = root / ARCHIVE, root / FOLDER
    have_folder = all((folder / n).is_file() for n in names)
    if have_folder and not archive.is_file():
        for n in names:
            files.verify(folder / n, CHECKSUMS[f"{FOLDER}/{n}"])
        return {n: _unpickle((folder / n).read_bytes()) for n in names}
    if not archive.is_file():
        if not download:
            raise files.missing_error("CIFAR-10", root, [f"{ARCHIVE} (or the folder {FOLDER}/ with "
                                                         f"{', '.join(names)})"], URL)
        files.fetch([URL], archive, CHECKSUMS[ARCHIVE])
    else:
        files.verify(archive, CHECKSUMS[ARCHIVE])
    out = {}
    with tarfile.open(archive, "r:gz") as tar:
        for member in tar:                                   # one pass through the gzip stream
            folder_name, _, n = member.name.rpartition("/")
            if folder_name == FOLDER and n in names and member.isfile():
                out[n] = _unpickle(tar.extractfile(member).read())
    if len(out) != len(names):
        raise ValueError(f"{archive} lacks {sorted(set(names) - set(out))} under {FOLDER}/")
    return out


def _arrays(batches: dict, names, meta: dict):
    if list(meta.get("label_names", [])) != list(CLASSES):
        raise ValueError(f"batches.meta lists label names {meta.get('label_names')}, expected CIFAR-10's {CLASSES}")
    x = np.concatenate([np.asarray(batches[n]["data"]) for n in names])        # (n, 3072)
    y = np.concatenate([np.asarray(batches[n]["labels"], dtype=np.int64) for n in names])
    if x.dtype != np.uint8 or x.shape != (len(y), 3 * 32 * 32) or y.min() < 0 or y.max() >= len(CLASSES):
        raise ValueError(f"CIFAR-10 batches {names} hold data {x.shape} {x.dtype} and {len(y)} labels in "
                         f"[{y.min()}, {y.max()}]: expected (n, 3072) uint8 and n labels in [0, 9]")
    return x.reshape(-1, 3, 32, 32), y             # rows are (c h w): 1024 red, green, blue values


def cifar10_arrays(root, split: str = "train", download: bool = False):
    """(images (n, 3, 32, 32) uint8 in 0..255, labels (n,) int64) of the "train" or "test" split."""
    if split not in BATCHES:
        raise ValueError(f"unknown CIFAR-10 split {split!r}: choose one of {tuple(BATCHES)}")
    batches = _load(Path(root).expanduser(), BATCHES[split], download)
    return _arrays(batches, BATCHES[split], batches["batches.meta"])


def load_cifar10(root, image_size: int = 32, batch_size: int = 64, augment: bool = False, seed: int = 0,
                 download: bool = False, val_fraction: float = 0.1):
    """(train, val, test) DataLoaders of (images (B, 3, S, S) float32 in [0, 1], labels (B,) int64).

    val: a stratified `val_fraction` of the 50,000 training images (None when val_fraction=0);
    test: the official 10,000. augment: pad by 1/8 of the side, random crop, horizontal flip with
    probability 1/2 (He et al. 2016, sec. 4.2), training batches only. image_size: bilinear resize.
    """
    image_size, batch_size = check_int("image_size", image_size, 1), check_int("batch_size", batch_size, 1)
    seed = check_int("seed", seed, 0)
    if not 0 <= val_fraction < 1:
        raise ValueError(f"val_fraction must be in [0, 1), got {val_fraction!r}")
    batches = _load(Path(root).expanduser(), BATCHES["train"] + BATCHES["test"], download)
    train = _arrays(batches, BATCHES["train"], batches["batches.meta"])
    test = _arrays(batches, BATCHES["test"], batches["batches.meta"])
    val = None
    if val_fraction > 0:
        train, val = stratified_split(*train, val_fraction, seed)
    aug = partial(random_crop_flip, flip_prob=0.5) if augment else None
    return make_loaders({"train": train, "val": val, "test": test}, image_size=image_size,
                        batch_size=batch_size, scale=255.0, augment=aug, seed=seed)
