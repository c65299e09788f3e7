"""Input checks shared by the modules: clear errors instead of shape-mismatch tracebacks."""
from __future__ import annotations

import numbers

import torch


def pair(x) -> tuple[int, int]:
    """An int or a pair -> (height, width)."""
    if isinstance(x, (tuple, list)):
        if len(x) != 2:
            raise ValueError(f"expected an int or a (height, width) pair, got {x!r}")
        return int(x[0]), int(x[1])
    return int(x), int(x)


def check_images(images, *, channels=None, size=None, patch_size=None, name="images") -> None:
    """Check a (B, C, H, W) batch against what a model expects."""
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


def check_mask_ratio(mask_ratio) -> float:
    """A masking ratio (MAE) must be a real number in [0, 1)."""
    if isinstance(mask_ratio, bool) or not isinstance(mask_ratio, numbers.Real) or not 0 <= mask_ratio < 1:
        raise ValueError(f"mask_ratio must be a number in [0, 1) (the fraction of patches removed), got {mask_ratio!r}")
    return float(mask_ratio)
