"""Figures for the report and the presentation: where the class token looks, and the confusion matrix.

`class_token_attention` reads the last block's attention from the class token to the patches
(Dosovitskiy et al. 2021, Section 4.5 and Appendix D.8 show such maps; combining all layers, as
attention rollout does, gives a fuller picture). An attention map shows correlation, not causation.
matplotlib is imported only when a figure is drawn.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F


def class_token_attention(model, images: torch.Tensor) -> torch.Tensor:
    """(B, C, S, S) -> (B, S, S): the last block's class-token attention, mean over heads, upsampled.

    Needs a model with `attention_maps` (model.name 'vit' or 'vitcourse-vit') and a class token.
    """
    if not hasattr(model, "attention_maps"):
        raise ValueError(f"{type(model).__name__} has no attention maps: use model.name 'vit' or 'vitcourse-vit'")
    model.eval()
    last = model.attention_maps(images)[-1]                                    # (B, heads, T, T)
    cls_to_patches = last[:, :, 0, 1:].mean(dim=1)                             # (B, N)
    grid = int(round(cls_to_patches.shape[-1] ** 0.5))
    if grid * grid != cls_to_patches.shape[-1]:
        raise ValueError(f"{cls_to_patches.shape[-1]} patch tokens do not form a square grid")
    heat = cls_to_patches.reshape(-1, 1, grid, grid)                            # (B, 1, g, g)
    return F.interpolate(heat, size=images.shape[-2:], mode="nearest")[:, 0]   # (B, S, S)


def plot_attention(images: torch.Tensor, heat: torch.Tensor, path: str | Path, titles=None) -> Path:
    """Images (top row) and their attention maps overlaid (bottom row), saved as a PNG."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = len(images)
    fig, axes = plt.subplots(2, n, figsize=(1.6 * n, 3.4), squeeze=False)
    for i in range(n):
        picture = images[i].permute(1, 2, 0).cpu().numpy().squeeze()
        for row in (0, 1):
            axes[row, i].imshow(picture, cmap="gray" if picture.ndim == 2 else None)
            axes[row, i].axis("off")
        axes[1, i].imshow(heat[i].cpu().numpy(), cmap="inferno", alpha=0.6)
        if titles is not None:
            axes[0, i].set_title(str(titles[i]), fontsize=8)
    fig.suptitle("last block: class-token attention to the patches (mean over heads)", fontsize=8)
    return _save(fig, path)


def plot_confusion_matrix(matrix, class_names, path: str | Path) -> Path:
    """The confusion matrix (rows: true class, columns: predicted), with counts, saved as a PNG."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    matrix = np.asarray(matrix)
    if matrix.shape != (len(class_names), len(class_names)):
        raise ValueError(f"a {len(class_names)}-class confusion matrix must be square, got shape {matrix.shape}")
    fig, ax = plt.subplots(figsize=(0.5 * len(class_names) + 2, 0.5 * len(class_names) + 1.5))
    ax.imshow(matrix, cmap="Blues")
    for (r, c), count in np.ndenumerate(matrix):
        ax.text(c, r, str(count), ha="center", va="center", fontsize=7,
                color="white" if count > matrix.max() / 2 else "black")
    ax.set(xticks=range(len(class_names)), yticks=range(len(class_names)), xlabel="predicted class",
           ylabel="true class", xticklabels=class_names, yticklabels=class_names)
    return _save(fig, path)


def _save(fig, path) -> Path:
    import matplotlib.pyplot as plt

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
