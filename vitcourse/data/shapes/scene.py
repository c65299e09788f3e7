"""A scene's ground truth: `ShapeObject` records and the `Scene` that holds them.

Box convention: (x0, y0, x1, y1) in integer pixel indices with x1, y1 EXCLUSIVE, the tight box
of the object's visible mask: mask[y0:y1, x0:x1] holds every visible pixel, and each of the four
border rows/columns holds at least one. Pixel (x, y) covers the square [x, x+1) x [y, y+1), so
the same numbers are the box's continuous corners and COCO's [x, y, w, h] is
[x0, y0, x1 - x0, y1 - y0] (`coco_box`); w and h count pixels.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class ShapeObject:
    """One object. centre = (cx, cy) in continuous pixel coordinates (pixel (x, y) is centred at
    (x + 0.5, y + 0.5)); radius in pixels; parent: index of the object it is nested in, or None."""
    colour: str
    shape: str
    size: str
    position: str
    centre: tuple
    radius: float
    rgb: tuple
    mask: np.ndarray = field(repr=False)      # (H, W) bool, visible pixels after occlusion
    box: tuple = ()                           # (x0, y0, x1, y1), exclusive x1/y1
    parent: int | None = None

    def coco_box(self) -> list:
        """[x, y, w, h] as COCO annotations store it."""
        x0, y0, x1, y1 = self.box
        return [x0, y0, x1 - x0, y1 - y0]


def tight_box(mask: np.ndarray) -> tuple:
    """(x0, y0, x1, y1), exclusive x1/y1, of a non-empty (H, W) boolean mask."""
    rows, cols = np.flatnonzero(mask.any(1)), np.flatnonzero(mask.any(0))
    if rows.size == 0:
        raise ValueError("tight_box of an empty mask: no pixel is set")
    return int(cols[0]), int(rows[0]), int(cols[-1]) + 1, int(rows[-1]) + 1


@dataclass
class Scene:
    """image (3, H, W) float32 in [0, 1]; owner (H, W) int16: index of the visible object at each
    pixel, -1 on the background; objects in drawing order (later ones occlude earlier ones)."""
    image: np.ndarray = field(repr=False)
    owner: np.ndarray = field(repr=False)
    objects: list
    caption: str
    world: object = field(repr=False, default=None)

    @property
    def boxes(self) -> np.ndarray:
        """(K, 4) int64 (x0, y0, x1, y1), exclusive x1/y1."""
        return np.array([o.box for o in self.objects], dtype=np.int64).reshape(-1, 4)

    @property
    def masks(self) -> np.ndarray:
        """(K, H, W) bool visible masks (pairwise disjoint)."""
        return np.stack([o.mask for o in self.objects]) if self.objects else \
            np.zeros((0, *self.owner.shape), bool)

    def caption_as(self, style: str) -> str:
        """The caption in another style ("label", "attributes", "full")."""
        from .language import caption
        return caption(self, style)

    def object_at(self, x: int, y: int) -> int | None:
        """Index of the object visible at pixel (x, y) (column x, row y), None on the background."""
        h, w = self.owner.shape
        if not (0 <= x < w and 0 <= y < h):
            raise ValueError(f"pixel (x={x}, y={y}) is outside the {w}x{h} image")
        k = int(self.owner[y, x])
        return None if k < 0 else k

    def group(self, k: int) -> list:
        """Indices of the nested group object k belongs to: its root and the root's children."""
        root = k if self.objects[k].parent is None else self.objects[k].parent
        return [root] + [i for i, o in enumerate(self.objects) if o.parent == root]

    def masks_at(self, x: int, y: int) -> list:
        """The masks a point prompt at pixel (x, y) may validly mean, smallest first: the object
        visible there and, when it is part of a nested group, the whole group (e.g. a point on a
        square inside a ring: the square, or ring + square). [] on the background."""
        k = self.object_at(x, y)
        if k is None:
            return []
        masks = [self.objects[k].mask]
        members = self.group(k)
        if len(members) > 1:
            masks.append(np.any([self.objects[i].mask for i in members], axis=0))
        return masks
