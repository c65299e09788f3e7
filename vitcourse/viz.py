"""Plots used by the notebooks: images and their patch grids, position tables, attention
weights and masks, and log-log cost curves with a fitted exponent. matplotlib is imported
inside the functions, so `import vitcourse` never needs it.

Every function takes an optional `ax` and returns the Axes it drew on (or a Figure for grids).
"""
from __future__ import annotations

import math

import numpy as np
import torch


def _plt():
    import matplotlib.pyplot as plt
    return plt


def _axes(ax, figsize=(4, 4)):
    if ax is None:
        _, ax = _plt().subplots(figsize=figsize, layout="constrained")
    return ax


def to_numpy_image(image) -> np.ndarray:
    """A (C, H, W) / (H, W, C) / (H, W) tensor or array -> an (H, W[, C]) float array for imshow."""
    x = image.detach().cpu().float().numpy() if isinstance(image, torch.Tensor) else np.asarray(image, dtype=float)
    if x.ndim == 3 and x.shape[0] in (1, 3) and x.shape[-1] not in (1, 3):
        x = x.transpose(1, 2, 0)                                        # (C, H, W) -> (H, W, C)
    if x.ndim == 3 and x.shape[-1] == 1:
        x = x[..., 0]
    if x.ndim not in (2, 3):
        raise ValueError(f"expected one image (C, H, W), (H, W, C) or (H, W), got shape {x.shape}")
    return x


def show_image(image, ax=None, title=None, cmap="gray"):
    """One image, no ticks."""
    ax = _axes(ax)
    x = to_numpy_image(image)
    ax.imshow(x.clip(0, 1) if x.ndim == 3 else x, cmap=cmap if x.ndim == 2 else None)
    ax.set_xticks([]), ax.set_yticks([])
    if title:
        ax.set_title(title)
    return ax


def show_images(images, titles=None, ncols=None, size=2.5, suptitle=None):
    """A grid of images (a list or a (B, C, H, W) batch) -> Figure."""
    images = list(images)
    if not images:
        raise ValueError("show_images needs at least one image")
    ncols = ncols or min(len(images), 6)
    nrows = math.ceil(len(images) / ncols)
    fig, axes = _plt().subplots(nrows, ncols, figsize=(size * ncols, size * nrows), squeeze=False,
                                layout="constrained")
    for i, ax in enumerate(axes.flat):
        if i < len(images):
            show_image(images[i], ax, None if titles is None else titles[i])
        else:
            ax.axis("off")
    if suptitle:
        fig.suptitle(suptitle)
    return fig



def show_image_rows(rows, size=0.9, suptitle=None):
    """Rows of images with a label on the left of each: [(label, images), ...] -> Figure.

    `images` is a list or a (B, C, H, W) batch; every row must hold the same number of images
    (e.g. originals, masked inputs and reconstructions of the same samples, one per column).
    """
    rows = [(label, list(images)) for label, images in rows]
    lengths = {len(images) for _, images in rows}
    if not rows or lengths == {0}:
        raise ValueError("show_image_rows needs at least one row with at least one image")
    if len(lengths) != 1:
        raise ValueError(f"every row must have the same number of images, got "
                         f"{[(label, len(images)) for label, images in rows]}")
    ncols = lengths.pop()
    fig, axes = _plt().subplots(len(rows), ncols, figsize=(size * ncols, (size + 0.05) * len(rows)),
                                squeeze=False, layout="constrained")
    for r, (label, images) in enumerate(rows):
        for c, image in enumerate(images):
            show_image(image, axes[r, c])
        axes[r, 0].set_ylabel(label, rotation=0, ha="right", va="center", fontsize=9)
    if suptitle:
        fig.suptitle(suptitle)
    return fig

def show_patch_grid(image, patch_size: int, ax=None, numbers: bool = True, color="white", title=None,
                    fontsize=None):
    """The image with the patch borders drawn and each patch numbered in raster order."""
    ax = show_image(image, ax, title)
    x = to_numpy_image(image)
    h, w = x.shape[:2]
    if h % patch_size or w % patch_size:
        raise ValueError(f"image {h}x{w} is not divisible by patch_size={patch_size}")
    gh, gw = h // patch_size, w // patch_size
    lw = 1.0 if max(gh, gw) <= 16 else 0.4                             # dense grids: thin lines
    for r in range(1, gh):
        ax.axhline(r * patch_size - 0.5, color=color, lw=lw)
    for c in range(1, gw):
        ax.axvline(c * patch_size - 0.5, color=color, lw=lw)
    if numbers:
        fs = fontsize or max(4, min(10, 120 / max(gh, gw)))
        for r in range(gh):
            for c in range(gw):
                ax.text((c + 0.5) * patch_size - 0.5, (r + 0.5) * patch_size - 0.5, str(r * gw + c),
                        color=color, ha="center", va="center", fontsize=fs,
                        bbox=dict(boxstyle="round,pad=0.1", fc="black", alpha=0.4, lw=0))
    return ax


def show_patches(patches, patch_size: int, channels: int = 3, ncols=None, numbers: bool = True,
                 size=0.6, title=None):
    """(N, P*P*C) patches in `(p1 p2 c)` order, drawn apart from each other in raster order -> Figure."""
    if patches.dim() != 2 or patches.shape[1] != patch_size * patch_size * channels:
        raise ValueError(f"patches must be (N, {patch_size * patch_size * channels}) for patch_size={patch_size}, "
                         f"channels={channels}; got {tuple(patches.shape)}")
    tiles = patches.reshape(-1, patch_size, patch_size, channels)     # (N, P, P, C)
    n = tiles.shape[0]
    if ncols is None:
        side = math.isqrt(n)
        ncols = side if side * side == n else min(n, 8)
    nrows = math.ceil(n / ncols)
    fig, axes = _plt().subplots(nrows, ncols, figsize=(size * ncols, size * nrows + 0.3 * bool(title)),
                                squeeze=False)
    for i, ax in enumerate(axes.flat):
        if i < n:
            show_image(tiles[i], ax)
            if numbers:
                ax.set_title(str(i), fontsize=7, pad=1)
        else:
            ax.axis("off")
    fig.subplots_adjust(wspace=0.1, hspace=0.35 if numbers else 0.1)
    if title:
        fig.suptitle(title)
    return fig


def heatmap(matrix, ax=None, *, title=None, xlabel=None, ylabel=None, cmap="viridis", vmin=None, vmax=None,
            annotate: bool = False, fmt=".2f", xticklabels=None, yticklabels=None, colorbar: bool = True,
            figsize=(4.5, 4)):
    """A 2-D matrix as an image, row 0 at the top; optionally each value written in its cell."""
    m = matrix.detach().cpu().float().numpy() if isinstance(matrix, torch.Tensor) else np.asarray(matrix, dtype=float)
    if m.ndim != 2:
        raise ValueError(f"heatmap needs a 2-D matrix, got shape {m.shape}")
    ax = _axes(ax, figsize)
    im = ax.imshow(m, cmap=cmap, vmin=vmin, vmax=vmax, aspect="auto", interpolation="nearest")
    if annotate:
        for (i, j), v in np.ndenumerate(m):
            r, g, b, _ = im.cmap(im.norm(v))                            # dark cell -> white text
            ax.text(j, i, format(v, fmt), ha="center", va="center", fontsize=8,
                    color="white" if 0.3 * r + 0.59 * g + 0.11 * b < 0.5 else "black")
    for labels, set_ticks, set_labels in ((xticklabels, ax.set_xticks, ax.set_xticklabels),
                                          (yticklabels, ax.set_yticks, ax.set_yticklabels)):
        if labels is not None:
            set_ticks(range(len(labels)))
            set_labels(labels)
    if title:
        ax.set_title(title)
    if xlabel:
        ax.set_xlabel(xlabel)
    if ylabel:
        ax.set_ylabel(ylabel)
    if colorbar:
        ax.figure.colorbar(im, ax=ax, shrink=0.8)
    return ax


def plot_position_table(pe, ax=None, title="Positional encoding table", **kw):
    """A (N, D) position table: positions down, dimensions across, symmetric colour scale."""
    pe = pe.reshape(-1, pe.shape[-1])
    lim = float(pe.abs().max())
    kw = {"cmap": "RdBu_r", "vmin": -lim, "vmax": lim, "xlabel": "dimension (column of PE)", "ylabel": "position",
          "figsize": (6, 4)} | kw
    return heatmap(pe, ax, title=title, **kw)


def plot_position_similarity(pe, ax=None, cosine: bool = False, title=None, **kw):
    """Similarity between every pair of positions: PE PE^T (or cosine similarity)."""
    pe = pe.reshape(-1, pe.shape[-1]).float()
    if cosine:
        pe = torch.nn.functional.normalize(pe, dim=-1)
    title = title or ("cosine similarity between positions" if cosine else "dot product between positions")
    kw = {"xlabel": "position", "ylabel": "position"} | kw
    return heatmap(pe @ pe.T, ax, title=title, **kw)


def plot_grid_similarity(pe, grid_h: int, grid_w: int, ax=None, title=None, vmin=None, figsize=(4.6, 4)):
    """Cosine similarity of each patch's position vector with every other one, each drawn as a small
    grid_h x grid_w map in the patch's own place (Dosovitskiy et al. 2021, Fig. 7 centre).

    The maps are tiled into one mosaic, one blank row/column between them.
    """
    pe = pe.reshape(-1, pe.shape[-1]).float()
    if pe.shape[0] != grid_h * grid_w:
        raise ValueError(f"a {grid_h}x{grid_w} grid needs {grid_h * grid_w} positions, got {pe.shape[0]} "
                         f"(drop the class-token row first)")
    pe = torch.nn.functional.normalize(pe, dim=-1)
    sim = (pe @ pe.T).reshape(grid_h, grid_w, grid_h, grid_w)             # (row, col) -> its map
    mosaic = torch.full((grid_h * (grid_h + 1) - 1, grid_w * (grid_w + 1) - 1), float("nan"))
    for r in range(grid_h):
        for c in range(grid_w):
            top, left = r * (grid_h + 1), c * (grid_w + 1)
            mosaic[top:top + grid_h, left:left + grid_w] = sim[r, c]
    ax = _axes(ax, figsize)
    cmap = _plt().get_cmap("viridis").with_extremes(bad="white")
    im = ax.imshow(mosaic.numpy(), cmap=cmap, vmin=vmin, vmax=1.0, interpolation="nearest")
    ax.set_xticks([(grid_w + 1) * c + (grid_w - 1) / 2 for c in range(grid_w)], range(grid_w))
    ax.set_yticks([(grid_h + 1) * r + (grid_h - 1) / 2 for r in range(grid_h)], range(grid_h))
    ax.tick_params(length=0)
    for side in ax.spines.values():
        side.set_visible(False)
    ax.set_xlabel("input patch column"), ax.set_ylabel("input patch row")
    ax.figure.colorbar(im, ax=ax, shrink=0.8, label="cosine similarity")
    if title:
        ax.set_title(title)
    return ax


def plot_attention(weights, ax=None, query_labels=None, key_labels=None, annotate=None, title="attention weights",
                   **kw):
    """(Nq, Nk) attention weights: queries down, keys across, colour scale 0..1."""
    w = weights.detach().reshape(weights.shape[-2], weights.shape[-1]) if isinstance(weights, torch.Tensor) \
        else np.asarray(weights)
    annotate = (max(w.shape) <= 8) if annotate is None else annotate
    kw = {"xlabel": "key", "ylabel": "query", "vmin": 0.0, "vmax": 1.0} | kw
    return heatmap(w, ax, title=title, annotate=annotate, xticklabels=key_labels, yticklabels=query_labels, **kw)


def plot_mask(mask, ax=None, title="mask (True = may attend)", **kw):
    """A boolean (Nq, Nk) mask: attended cells dark, blocked cells white, no colour bar."""
    m = torch.as_tensor(mask).reshape(mask.shape[-2], mask.shape[-1])
    if m.dtype != torch.bool:
        raise ValueError(f"plot_mask expects a boolean mask, got dtype {m.dtype}")
    kw = {"xlabel": "key", "ylabel": "query", "cmap": "Greys", "vmin": 0, "vmax": 1.4, "colorbar": False,
          "figsize": (3, 3)} | kw
    ax = heatmap(m.float(), ax, title=title, **kw)
    ax.set_xticks(range(m.shape[1])), ax.set_yticks(range(m.shape[0]))
    return ax


def plot_loglog(x, series: dict, ax=None, fit: bool = True, fit_from=None, xlabel="number of tokens N",
                ylabel="seconds", title=None, figsize=(5, 3.6)):
    """Each `series` name -> y values against x on log-log axes; with `fit`, the least-squares
    power law over x >= fit_from is drawn dashed and its exponent put in the legend."""
    from .measure import fit_power_law

    ax = _axes(ax, figsize)
    x = np.asarray(x, dtype=float)
    for name, y in series.items():
        y = np.asarray(y, dtype=float)
        line, = ax.plot(x, y, "o-", label=name)
        if fit:
            keep = x >= (fit_from if fit_from is not None else x.min())
            law = fit_power_law(x[keep], y[keep])
            ax.plot(x[keep], law(x[keep]), "--", color=line.get_color(), alpha=0.7)
            line.set_label(f"{name} (slope {law.exponent:.2f})")
    ax.set_xscale("log"), ax.set_yscale("log")
    if len(x) <= 12:                                                    # label the measured sizes themselves
        from matplotlib.ticker import NullFormatter
        ax.set_xticks(x, [f"{v:,.0f}" if v >= 1 else f"{v:g}" for v in x])
        ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_xlabel(xlabel), ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    return ax


def figure_png(fig, dpi=80) -> bytes:
    """A figure as PNG bytes (for widgets and tests)."""
    import io
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight")
    return buf.getvalue()
