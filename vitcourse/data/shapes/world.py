"""The scenes world's vocabulary (colours, shapes, sizes) and its configuration, `ShapesWorld`.

Shapes: circle, square, triangle, cross and ring. They differ in what a 4-pixel patch sees:
corners (square) against a round edge (circle); one apex and a flat base (triangle); thin arms
and empty corners (cross); a hole in the middle (ring). A diamond (a square turned 45 degrees)
was left out: the pilot in REFERENCES_5_7.md §3.5 used it, and at 32 px its outline is close to
the circle's. The ring is kept because nested scenes need it (a square inside a ring). Sizes: radii 7 and 10
pixels at any image size; with radii 6 and 9 and a smaller square (half side 0.85 r) the same
small ViT learned shapes more slowly (about 0.79 against 0.86 after 1,000 steps, one seed each;
see the package docstring for the check).
"""
from __future__ import annotations

import numbers
from dataclasses import dataclass

# Named colours (RGB in [0, 1]); each object draws its own jitter of +-colour_jitter per channel.
COLOURS = {
    "red": (0.90, 0.10, 0.10), "green": (0.10, 0.75, 0.15), "blue": (0.15, 0.30, 1.00),
    "yellow": (0.95, 0.90, 0.10), "purple": (0.60, 0.20, 0.85), "cyan": (0.10, 0.85, 0.90),
    "orange": (1.00, 0.55, 0.05), "white": (0.95, 0.95, 0.95),
}
SHAPES = ("circle", "square", "triangle", "cross", "ring")
SIZES = {"small": 7.0, "big": 10.0}         # radius in pixels: every shape fits in its centre +- r
POSITIONS = ("left", "right", "top", "bottom")
PARENT_SHAPES = ("ring", "square", "circle")  # shapes that can hold a nested child (ring: in its hole)
CAPTION_STYLES = ("label", "attributes", "full")
MIDLINE_MARGIN = 1.0    # an object "on the left" has its centre >= this many pixels left of the middle


def _names(kind: str, given, known) -> tuple:
    if isinstance(given, str):
        given = (given,)
    given = tuple(given)
    unknown = [g for g in given if g not in known]
    if unknown:
        raise ValueError(f"unknown {kind} {unknown}: the world knows {list(known)}")
    if not given or len(set(given)) != len(given):
        raise ValueError(f"{kind}s must be a non-empty list without repeats, got {list(given)}")
    return given


@dataclass(frozen=True)
class ShapesWorld:
    """What scenes look like. Every field is checked; a bad value raises a ValueError saying why.

    image_size: side S of the square (3, S, S) images; 32 for CLIP, 48-64 for detection/SAM.
    colours, shapes: the names in use (subsets of COLOURS, SHAPES); their order fixes label ids.
    sizes: {size word: radius in pixels}, each drawn with +-size_jitter relative jitter.
    pairs: the (colour, shape) pairs a scene may contain (see `split_pairs`); None: all of them.
    min_objects, max_objects: objects per scene (not counting nested children), drawn uniformly.
    nested: probability that a scene's first object is a big ring/square/circle holding a child
        (a smaller object inside the ring's hole or on top of the square/circle): SAM's ambiguity.
    caption_style: "label" ("a red circle"), "attributes" ("a small red circle"), or "full"
        ("a small red circle on the left"; "a big red circle left of a small blue square").
    background: range of the grey background level (+-0.05 per channel); noise: pixel noise sd.
    min_visible: every object keeps at least this fraction of its own pixels visible after the
        later objects are drawn (placements that would hide more are redrawn), so its shape stays
        recognisable; objects whose shapes overlap never share a colour name.
    """
    image_size: int = 32
    colours: tuple = tuple(COLOURS)
    shapes: tuple = SHAPES
    sizes: tuple = tuple(SIZES.items())
    pairs: tuple | None = None
    min_objects: int = 1
    max_objects: int = 1
    nested: float = 0.0
    caption_style: str = "full"
    colour_jitter: float = 0.06
    size_jitter: float = 0.1
    background: tuple = (0.0, 0.35)
    noise: float = 0.04
    min_visible: float = 0.5

    def __post_init__(self):
        put = lambda k, v: object.__setattr__(self, k, v)    # noqa: E731 (frozen dataclass)
        for name, low in (("image_size", 8), ("min_objects", 1), ("max_objects", 1)):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, numbers.Integral) or v < low:
                raise ValueError(f"{name} must be an integer >= {low}, got {v!r}")
        if self.max_objects < self.min_objects:
            raise ValueError(f"max_objects={self.max_objects} < min_objects={self.min_objects}")
        put("colours", _names("colour", self.colours, COLOURS))
        put("shapes", _names("shape", self.shapes, SHAPES))
        sizes = tuple(dict(self.sizes).items())
        if not sizes or any(not isinstance(r, numbers.Real) or r < 2 for _, r in sizes):
            raise ValueError(f"sizes must map size words to radii >= 2 pixels, got {dict(sizes)}")
        put("sizes", sizes)
        pairs = tuple((c, s) for c in self.colours for s in self.shapes) if self.pairs is None \
            else tuple(tuple(p) for p in self.pairs)
        if not pairs:
            raise ValueError("pairs is empty: a scene needs at least one allowed (colour, shape) pair")
        bad = [p for p in pairs if len(p) != 2 or p[0] not in self.colours or p[1] not in self.shapes]
        if bad:
            raise ValueError(f"pairs {bad[:3]} are not (colour, shape) pairs of this world's "
                             f"colours {list(self.colours)} and shapes {list(self.shapes)}")
        put("pairs", tuple(dict.fromkeys(pairs)))
        if self.caption_style not in CAPTION_STYLES:
            raise ValueError(f"caption_style must be one of {CAPTION_STYLES}, got {self.caption_style!r}")
        for name, low, high in (("nested", 0, 1), ("colour_jitter", 0, 0.5), ("size_jitter", 0, 0.5),
                                ("noise", 0, 1), ("min_visible", 0.01, 1)):
            v = getattr(self, name)
            if not isinstance(v, numbers.Real) or not low <= v <= high:
                raise ValueError(f"{name} must be a number in [{low}, {high}], got {v!r}")
        lo, hi = self.background
        if not 0 <= lo <= hi <= 1:
            raise ValueError(f"background must be a (low, high) grey range inside [0, 1], got {self.background}")
        r_max = self.max_radius
        if r_max > self.image_size / 2 - MIDLINE_MARGIN:
            need = int(2 * (r_max + MIDLINE_MARGIN)) + 1
            raise ValueError(f"image_size={self.image_size} is too small for radius {r_max:.1f} "
                             f"(size {self.largest_size!r} with jitter): an object must fit in one half "
                             f"of the image; use image_size >= {need} or smaller sizes")
        side = 2 * min(r for _, r in self.sizes) * (1 - self.size_jitter)
        capacity = int(self.image_size // side) ** 2
        if self.max_objects > capacity:
            raise ValueError(f"max_objects={self.max_objects} objects do not fit in a {self.image_size}-px "
                             f"image (about {capacity} of the smallest size fit side by side): use fewer "
                             f"objects, a larger image_size or smaller sizes")
        if self.nested > 0 and not any(s in PARENT_SHAPES for _, s in self.pairs):
            raise ValueError(f"nested scenes need a parent shape among {PARENT_SHAPES} in pairs")

    @property
    def max_radius(self) -> float:
        return max(r for _, r in self.sizes) * (1 + self.size_jitter)

    @property
    def largest_size(self) -> str:
        return max(self.sizes, key=lambda kv: kv[1])[0]

    def sample(self, rng=None):
        """One `Scene`; rng: a numpy Generator or a seed."""
        from .render import sample_scene
        return sample_scene(self, rng)

    def batch(self, n: int, seed: int = 0, questions: bool = False) -> dict:
        """n scenes as tensors (see `make_batch`)."""
        from .batch import make_batch
        return make_batch(self, n, seed, questions=questions)
