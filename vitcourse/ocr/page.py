"""A real page: scikit-image's `data.page()`, a photographed page of printed text (191 x 384, grey,
unevenly lit) that ships inside the scikit-image wheel, with its transcription.

The transcription (`vitcourse/assets/page.txt`, typed by reading the image; the text comes from
scikit-image's own tutorial on region-based segmentation) has the page's seven full text lines; a
cut-off line at the bottom edge and two horizontal rules are not text lines. The seventh line
touches that cut-off line, so the profile cannot separate it: lines 1-6 are scored. Lines are cut with the
horizontal projection profile: binarise (Sauvola's local threshold, Sauvola & Pietikainen 2000,
which copes with the uneven light), count ink pixels per row, and keep the runs of inked rows that
are tall enough to be text (a rule is one or two rows) and do not touch the page's bottom edge.
"""
from __future__ import annotations

from importlib import resources

import numpy as np


def page_image() -> np.ndarray:
    """The page as float32 (191, 384) in [0, 1] (paper light, ink dark)."""
    from skimage import data
    return data.page().astype(np.float32) / 255.0


def page_text(scored: bool = True) -> list[str]:
    """The transcribed text lines, top to bottom: the six that `page_lines` cuts (scored=True), or
    all seven (the last, ">>> markers = ...", merges with the cut-off line below it in the profile)."""
    text = resources.files("vitcourse").joinpath("assets", "page.txt").read_text(encoding="utf-8")
    lines = [line for line in text.splitlines() if line.strip()]
    return lines[:6] if scored else lines


def binarize(image: np.ndarray, window_size: int = 25) -> np.ndarray:
    """Ink mask (True = ink) by Sauvola's local threshold (skimage.filters.threshold_sauvola)."""
    from skimage.filters import threshold_sauvola
    image = np.asarray(image, dtype=np.float64)
    if image.ndim != 2:
        raise ValueError(f"image must be a grey (H, W) array, got shape {image.shape}")
    return image < threshold_sauvola(image, window_size=window_size)


def line_spans(image: np.ndarray, min_height: int = 6, min_ink: float = 0.05, pad: int = 2) -> list[tuple[int, int]]:
    """(top, bottom) rows of each text line: runs of rows whose ink fraction exceeds `min_ink`, at
    least `min_height` rows tall, not touching the bottom edge; each widened by `pad` rows."""
    ink = binarize(image)
    profile = ink.mean(axis=1)                                    # (H,): fraction of inked pixels per row
    rows = np.flatnonzero(profile > min_ink)
    spans, h = [], ink.shape[0]
    if rows.size:
        breaks = np.flatnonzero(np.diff(rows) > 1)
        for a, b in zip(np.r_[rows[0], rows[breaks + 1]], np.r_[rows[breaks], rows[-1]]):
            if b - a + 1 >= min_height and b < h - 1:
                spans.append((max(0, int(a) - pad), min(h, int(b) + 1 + pad)))
    return spans


def page_lines(image: np.ndarray | None = None) -> list[np.ndarray]:
    """The page's text lines as grey crops, top to bottom (the page of `page_image` by default)."""
    image = page_image() if image is None else np.asarray(image, dtype=np.float32)
    return [image[a:b] for a, b in line_spans(image)]


def flatten_light(crop: np.ndarray) -> np.ndarray:
    """Paper -> 1, ink -> 0 per column band: divide by the local paper level (a running maximum),
    then stretch (2nd percentile -> 0, 75th -> 1), so a reader trained on clean renders sees dark ink on white."""
    from scipy.ndimage import maximum_filter, uniform_filter
    crop = np.asarray(crop, dtype=np.float32)
    paper = uniform_filter(maximum_filter(crop, size=(crop.shape[0], 15)), size=15)
    out = np.clip(crop / np.maximum(paper, 1e-3), 0, 1)
    lo, hi = np.percentile(out, [2, 75])                          # most of a line is paper
    return np.clip((out - lo) / max(hi - lo, 1e-3), 0, 1)


def fit_height(crop: np.ndarray, height: int = 32, text_height: int = 20) -> np.ndarray:
    """Rescale a line crop so its inked rows are about `text_height` px tall, centred in `height` rows."""
    from skimage.transform import resize
    ink_rows = np.flatnonzero((crop < 0.5).mean(axis=1) > 0.03)     # not a neighbour's stray descender
    top, bottom = (ink_rows[0], ink_rows[-1] + 1) if ink_rows.size else (0, crop.shape[0])
    scale = text_height / max(bottom - top, 1)
    body = resize(crop[top:bottom], (text_height, max(1, round(crop.shape[1] * scale))), anti_aliasing=True)
    out = np.ones((height, body.shape[1]), np.float32)
    y = (height - text_height) // 2
    out[y: y + text_height] = body
    return out


def split_width(line: np.ndarray, width: int, min_gap: int = 4) -> list[np.ndarray]:
    """Cut a line wider than `width` at inter-word gaps (columns without ink, >= `min_gap` wide) into
    pieces of at most `width` columns, each padded with paper to `width`: a fixed-width reader reads
    each piece, and the texts are joined with spaces."""
    inked = (line < 0.5).sum(axis=0) >= 2                          # a stray pixel is not ink
    cols = np.flatnonzero(inked)
    if not cols.size:
        raise ValueError("the line has no ink")
    gaps, run = [], 0                                              # column indices in the middle of gaps
    for c in range(cols[0], cols[-1] + 1):
        run = run + 1 if not inked[c] else 0
        if run == min_gap:
            gaps.append(c - min_gap // 2)
    pieces, start = [], int(cols[0])
    cuts = gaps + [int(cols[-1]) + 1]
    while start <= cols[-1]:
        ok = [c for c in cuts if start < c <= start + width - 2]
        end = ok[-1] if ok else start + width - 2                   # no gap in reach: cut mid-word
        piece = np.ones((line.shape[0], width), np.float32)
        piece[:, 2: 2 + end - start] = line[:, start:end]
        pieces.append(piece)
        nxt = np.flatnonzero(inked[end:])
        if not nxt.size:
            break
        start = end + int(nxt[0])
    return pieces
