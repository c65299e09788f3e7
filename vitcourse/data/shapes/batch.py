"""Scenes as tensors: `ShapesDataset` (a torch Dataset), `collate_scenes` and `make_batch`.

Scene i of (seed, i) is drawn from `np.random.default_rng([seed, i])`, so an item does not depend
on which other items were drawn, in what order or in which DataLoader worker, and
`make_batch(world, n, seed)` holds exactly the items 0..n-1 of `ShapesDataset(world, n, seed)`.
"""
from __future__ import annotations

import numpy as np
import torch
from torch.utils.data import Dataset

from ..loaders import check_int
from .language import qa_pairs
from .render import sample_scene
from .world import ShapesWorld


def scene_to_item(scene, qa: list | None = None, image: bool = True) -> dict:
    """One scene as a dict of tensors and lists (K objects, S = image side):
    image (3, S, S) float32; caption str; boxes (K, 4) float32 (x0, y0, x1, y1), exclusive x1/y1;
    masks (K, S, S) bool visible masks; labels (K,) int64 shape ids (index in world.shapes);
    colour_labels (K,) int64 (index in world.colours); parents (K,) int64, -1 for top level;
    objects: [{colour, shape, size, position, centre}]; qa: [(kind, question, answer)] or None.
    image=False leaves the image out (make_batch stacks the images itself)."""
    w, objs = scene.world, scene.objects
    ids = lambda values: torch.from_numpy(np.array(values, dtype=np.int64))   # noqa: E731
    item = {"image": torch.from_numpy(scene.image)} if image else {}
    return item | {
        "caption": scene.caption,
        "boxes": torch.from_numpy(scene.boxes.astype(np.float32)),
        "masks": torch.from_numpy(scene.masks),
        "labels": ids([w.shapes.index(o.shape) for o in objs]),
        "colour_labels": ids([w.colours.index(o.colour) for o in objs]),
        "parents": ids([-1 if o.parent is None else o.parent for o in objs]),
        "objects": [{"colour": o.colour, "shape": o.shape, "size": o.size, "position": o.position,
                     "centre": o.centre} for o in objs],
        "qa": qa,
    }


def collate_scenes(items: list) -> dict:
    """collate_fn: images stacked to (N, 3, S, S); every other key becomes a list of N entries
    (key "image" -> "images", "caption" -> "captions", the others keep their names)."""
    if not items:
        raise ValueError("collate_scenes needs at least one item")
    out = {"images": torch.stack([it["image"] for it in items])} if "image" in items[0] else {}
    for key in items[0]:
        if key != "image":
            out[key if key.endswith("s") or key == "qa" else key + "s"] = [it[key] for it in items]
    return out


class ShapesDataset(Dataset):
    """n scenes of `world`, item i drawn from the seed (seed, i) when asked for (nothing cached).
    questions=True adds the scene's question-answer pairs under "qa"."""

    def __init__(self, world: ShapesWorld, n: int, seed: int = 0, questions: bool = False):
        if not isinstance(world, ShapesWorld):
            raise TypeError(f"world must be a ShapesWorld, got {type(world).__name__}")
        self.world, self.n = world, check_int("n", n, 1)
        self.seed, self.questions = check_int("seed", seed, 0), bool(questions)

    def __len__(self) -> int:
        return self.n

    def scene(self, i: int):
        """The `Scene` behind item i (its records: masks_at, group, caption_as, ...)."""
        return self._draw(i)[0]

    def _draw(self, i: int):
        if isinstance(i, bool) or not isinstance(i, (int, np.integer)) or not -self.n <= i < self.n:
            raise IndexError(f"scene index {i!r} out of range for a dataset of {self.n}")
        rng = np.random.default_rng([self.seed, int(i) % self.n])
        return sample_scene(self.world, rng), rng

    def __getitem__(self, i: int) -> dict:
        scene, rng = self._draw(i)
        return scene_to_item(scene, qa_pairs(scene, rng) if self.questions else None)


def make_batch(world: ShapesWorld, n: int, seed: int = 0, questions: bool = False) -> dict:
    """n scenes collated: images (n, 3, S, S) float32 in [0, 1], captions [str], boxes, masks,
    labels, colour_labels, parents, objects, qa: lists of n (see `scene_to_item`)."""
    ds = ShapesDataset(world, n, seed, questions)
    drawn = [ds._draw(i) for i in range(n)]
    items = [scene_to_item(sc, qa_pairs(sc, rng) if questions else None, image=False) for sc, rng in drawn]
    out = collate_scenes(items)
    out["images"] = torch.from_numpy(np.stack([sc.image for sc, _ in drawn]))    # (n, 3, S, S)
    return out
