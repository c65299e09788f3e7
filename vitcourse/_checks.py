"""Input checks shared by the modules: clear errors instead of shape-mismatch tracebacks."""
from __future__ import annotations

import numbers

import numpy as np
import torch
from torch.utils.data import Dataset


def pair(x) -> tuple[int, int]:
    """An int or a pair -> (height, width)."""
    if isinstance(x, (tuple, list)):
        if len(x) != 2:
            raise ValueError(f"expected an int or a (height, width) pair, got {x!r}")
        return int(x[0]), int(x[1])
    return int(x), int(x)


def check_images(images, *, channels=None, size=None, patch_size=None, dtype=None, name="images") -> None:
    """Check a (B, C, H, W) batch against what a model expects (`dtype`: its parameters' dtype)."""
    if not isinstance(images, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor of shape (B, C, H, W), got {type(images).__name__}")
    if images.dim() != 4:
        hint = " (a single image? add a batch dimension with images.unsqueeze(0))" if images.dim() == 3 else ""
        raise ValueError(f"{name} must be a 4-D batch (B, C, H, W), got shape {tuple(images.shape)}{hint}")
    _, c, h, w = images.shape
    if channels is not None and c != channels:
        raise ValueError(f"{name} have {c} channels but the model expects {channels} "
                         f"(shape {tuple(images.shape)} is read as (B, C, H, W))")
    if size is not None and (h, w) != pair(size):
        raise ValueError(f"{name} are {h}x{w} but the model expects {pair(size)[0]}x{pair(size)[1]}: "
                         f"resize them, or build the model with image_size={h if h == w else (h, w)}")
    if patch_size is not None:
        p = patch_size
        if isinstance(p, bool) or not isinstance(p, numbers.Integral) or p <= 0:
            raise ValueError(f"patch_size must be a positive integer, got {p!r}")
        if h % p or w % p:
            raise ValueError(
                f"image size {h}x{w} is not divisible by patch_size={p}: pad the images to "
                f"{-(-h // p) * p}x{-(-w // p) * p} or crop them to {h // p * p}x{w // p * p}, "
                f"or choose a patch size that divides both sides")
    if dtype is not None:
        check_dtype(images, dtype, name=name)


def check_mask_ratio(mask_ratio) -> float:
    """A masking ratio (MAE) must be a real number in [0, 1)."""
    if isinstance(mask_ratio, bool) or not isinstance(mask_ratio, numbers.Real) or not 0 <= mask_ratio < 1:
        raise ValueError(f"mask_ratio must be a number in [0, 1) (the fraction of patches removed), got {mask_ratio!r}")
    return float(mask_ratio)


def check_dtype(images: torch.Tensor, dtype: torch.dtype, name="images") -> None:
    """The input's dtype must be the model's (floating) parameter dtype: no silent conversion.

    Pixels stored as integers (uint8, 0..255) have to be scaled by the caller, since only the
    caller knows the range it wants ([0, 1], or normalised by a mean and standard deviation).
    """
    if images.dtype == dtype:
        return
    if not images.is_floating_point():
        raise TypeError(f"{name} are {images.dtype} but the model computes in {dtype}: convert integer pixels "
                        f"yourself, e.g. images.to({dtype}) / 255 for values in [0, 1]")
    raise TypeError(f"{name} are {images.dtype} but the model's parameters are {dtype}: pass images.to({dtype}), "
                    f"or convert the model with model.to({images.dtype})")


def check_loader(loader, name="train_loader") -> None:
    """`fit`/`evaluate` take an iterable of (images, labels) batches, such as a DataLoader."""
    hint = "wrap them: DataLoader(TensorDataset(images, labels), batch_size=64)"
    if isinstance(loader, (torch.Tensor, np.ndarray)):
        raise TypeError(f"{name} must be a DataLoader (or another iterable of (images, labels) batches), got a "
                        f"{type(loader).__name__} of shape {tuple(loader.shape)}: {hint}")
    if isinstance(loader, (tuple, list)) and len(loader) == 2 and all(isinstance(t, torch.Tensor) for t in loader):
        raise TypeError(f"{name} must be a DataLoader of (images, labels) batches, got a pair of tensors: {hint}")
    if isinstance(loader, Dataset):
        raise TypeError(f"{name} must be a DataLoader, got the {type(loader).__name__} itself (it yields one "
                        f"sample at a time): use DataLoader(dataset, batch_size=64)")
    if not hasattr(loader, "__iter__"):
        raise TypeError(f"{name} must be a DataLoader (an iterable of (images, labels) batches), "
                        f"got {type(loader).__name__}")


def check_labels(labels: torch.Tensor, num_classes: int, name="labels") -> None:
    """Class labels for cross-entropy: integers in 0..num_classes-1 (num_classes = the head's outputs)."""
    if labels.dtype not in (torch.long, torch.uint8):                  # what cross-entropy accepts
        raise TypeError(f"{name} must be integer class indices (torch.long), got {labels.dtype}: use labels.long()")
    if labels.numel() == 0:
        return
    low, high = int(labels.min()), int(labels.max())
    if high >= num_classes:
        raise ValueError(f"label {high} is outside the model's {num_classes} classes (the head has {num_classes} "
                         f"outputs, for labels 0..{num_classes - 1}): build the model with num_classes={high + 1} "
                         f"or more, or map the labels to 0..{num_classes - 1}")
    if low < 0:
        raise ValueError(f"label {low} is negative: class labels are 0..{num_classes - 1} for a head with "
                         f"{num_classes} outputs")


def check_device(name) -> torch.device:
    """A device asked for by name must exist on this machine: fail now, not at the first .to(device)."""
    try:
        device = torch.device(name)
    except (RuntimeError, TypeError):
        raise ValueError(f"unknown device {name!r}: expected 'cpu', 'cuda', 'cuda:N' or 'mps'") from None
    fallback = "use get_device() for the best device there is, or get_device('cpu')"
    if device.type == "cuda" and not torch.cuda.is_available():
        why = "this torch build has no CUDA" if torch.version.cuda is None else "no CUDA GPU is visible"
        raise RuntimeError(f"device {name!r}: CUDA is not available ({why}; torch {torch.__version__}): {fallback}")
    if device.type == "cuda" and device.index is not None and device.index >= torch.cuda.device_count():
        raise RuntimeError(f"device {name!r}: this machine has only {torch.cuda.device_count()} CUDA device(s), "
                           f"numbered from 0")
    mps = getattr(torch.backends, "mps", None)
    if device.type == "mps" and not (mps is not None and mps.is_available()):
        raise RuntimeError(f"device {name!r}: Apple's MPS is not available on this machine: {fallback}")
    return device
