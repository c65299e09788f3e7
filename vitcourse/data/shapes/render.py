"""Drawing scenes: analytic shape masks, placement with occlusion rules, the noisy image.

Each object is an analytic mask around its centre (cx, cy) with radius r, evaluated at pixel
centres on a small window around the object only (that keeps a 32-px scene at well over 5,000
scenes per second, see the package docstring). An owner map (H, W) records which object is
visible where; painting object k over it is occlusion, and the image is one lookup of the colour
table through the owner map, plus Gaussian pixel noise, clipped to [0, 1].
"""
from __future__ import annotations

import numpy as np

from .scene import Scene, ShapeObject, tight_box
from .world import COLOURS, MIDLINE_MARGIN, PARENT_SHAPES, POSITIONS, ShapesWorld

SQUARE_HALF = 0.9      # half side / r: area 3.24 r^2 (the circle: 3.14 r^2), corners out at 1.27 r
TRIANGLE_BASE = 0.8    # apex at dy = -r, base at dy = +0.8 r, half-width r at the base
CROSS_ARM = 0.35       # half-thickness of the arms / r
RING_INNER = 0.55      # inner radius / outer radius
CHILD_SCALE = {"ring": 0.4, "square": 0.5, "circle": 0.5}   # child radius / parent radius
OBJECT_TRIES, SCENE_TRIES = 30, 20


def shape_mask(shape: str, dx: np.ndarray, dy: np.ndarray, r: float) -> np.ndarray:
    """Boolean mask of `shape` at offsets (dx, dy) from its centre (broadcastable arrays, pixels).
    Every shape lies inside the square |dx|, |dy| <= r."""
    if shape == "circle":
        return dx * dx + dy * dy <= r * r
    if shape == "square":
        s = SQUARE_HALF * r
        return (np.abs(dx) <= s) & (np.abs(dy) <= s)
    if shape == "triangle":
        return (dy <= TRIANGLE_BASE * r) & (np.abs(dx) <= (dy + r) / (1 + TRIANGLE_BASE))
    if shape == "cross":
        ax, ay, t = np.abs(dx), np.abs(dy), CROSS_ARM * r
        return ((ax <= t) | (ay <= t)) & (ax <= r) & (ay <= r)
    if shape == "ring":
        d2 = dx * dx + dy * dy
        return (d2 <= r * r) & (d2 > (RING_INNER * r) ** 2)
    raise ValueError(f"unknown shape {shape!r}")


def _centre(u_along: float, u_across: float, position: str, r: float, side: int) -> tuple:
    """A centre inside the named half, the whole object inside the image (u_*: uniforms in [0, 1))."""
    half = side / 2 - MIDLINE_MARGIN
    along = r + u_along * (side - 2 * r)
    across = r + u_across * (half - r) if position in ("left", "top") else side - half + u_across * (half - r)
    return (across, along) if position in ("left", "right") else (along, across)


def _window(cx, cy, r, side):
    x0, y0 = max(int(cx - r) - 1, 0), max(int(cy - r) - 1, 0)
    x1, y1 = min(int(cx + r) + 2, side), min(int(cy + r) + 2, side)
    dx = np.arange(x0, x1) + 0.5 - cx
    dy = (np.arange(y0, y1) + 0.5 - cy)[:, None]
    return (slice(y0, y1), slice(x0, x1)), dx, dy


class _Canvas:
    """The owner map plus per-object areas and visible counts, for the occlusion checks."""

    def __init__(self, world: ShapesWorld):
        self.world, self.side = world, world.image_size
        self.owner = np.full((self.side, self.side), -1, np.int16)
        self.objects, self.area, self.visible = [], [], []
        self.painted = {}     # colour -> (H, W) bool: the whole shapes drawn in that colour

    def place(self, colour, shape, size, position, centre, r, u_rgb, parent=None) -> bool:
        """Paint the object if every earlier one keeps min_visible of its pixels and it overlaps
        no earlier object of the same colour (whole shapes); False (nothing painted) otherwise."""
        win, dx, dy = _window(*centre, r, self.side)
        m = shape_mask(shape, dx, dy, r)
        area = int(m.sum())
        same = self.painted.get(colour)
        if area == 0 or (same is not None and same[win][m].any()):
            return False
        under = self.owner[win][m]
        hidden = np.bincount(under[under >= 0], minlength=len(self.objects))
        for j in np.flatnonzero(hidden):
            if self.visible[j] - hidden[j] < self.world.min_visible * self.area[j]:
                return False
        for j in np.flatnonzero(hidden):
            self.visible[j] -= int(hidden[j])
        self.owner[win][m] = len(self.objects)
        if same is None:
            same = self.painted[colour] = np.zeros_like(self.owner, bool)
        same[win] |= m
        jitter = self.world.colour_jitter
        rgb = tuple(min(max(c + jitter * (2 * u - 1), 0.0), 1.0) for c, u in zip(COLOURS[colour], u_rgb))
        self.objects.append(ShapeObject(colour, shape, size, position, tuple(map(float, centre)),
                                        float(r), rgb, None, (), parent))
        self.area.append(area)
        self.visible.append(area)
        return True


def _try_scene(world: ShapesWorld, rng, n: int, nest: bool):
    canvas, side, sizes = _Canvas(world), world.image_size, world.sizes
    for i in range(n):
        parent = i == 0 and nest
        pairs = [p for p in world.pairs if p[1] in PARENT_SHAPES] if parent else world.pairs
        for _ in range(OBJECT_TRIES):
            u = rng.random(9).tolist()        # one draw per attempt: pair, size, radius, place, rgb
            colour, shape = pairs[int(u[0] * len(pairs))]
            size, base = max(sizes, key=lambda kv: kv[1]) if parent else sizes[int(u[1] * len(sizes))]
            r = base * (1 + world.size_jitter * (2 * u[2] - 1))
            position = POSITIONS[int(u[3] * len(POSITIONS))]
            centre = _centre(u[4], u[5], position, r, side)
            if canvas.place(colour, shape, size, position, centre, r, u[6:]):
                break
        else:
            return None
        if parent:
            kids = [p for p in world.pairs if p[0] != colour]
            if not kids:
                return None
            u = rng.random(4).tolist()
            c2, s2 = kids[int(u[0] * len(kids))]
            if not canvas.place(c2, s2, "small", position, centre, CHILD_SCALE[shape] * r, u[1:], parent=0):
                return None
    return canvas


def sample_scene(world: ShapesWorld, rng=None) -> Scene:
    """Draw one scene from `world`; rng: a numpy Generator or anything `default_rng` accepts."""
    if not isinstance(world, ShapesWorld):
        raise TypeError(f"world must be a ShapesWorld, got {type(world).__name__}")
    rng = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    n = int(rng.integers(world.min_objects, world.max_objects + 1))
    nest = world.nested > 0 and rng.random() < world.nested
    for _ in range(SCENE_TRIES):
        canvas = _try_scene(world, rng, n, nest)
        if canvas is not None:
            break
    else:
        raise ValueError(f"could not place {n} objects (min_visible={world.min_visible}) in a "
                         f"{world.image_size}-px image after {SCENE_TRIES} attempts: use fewer objects, "
                         f"a larger image_size, smaller sizes or a lower min_visible")
    owner, objects = canvas.owner, canvas.objects
    for k, o in enumerate(objects):
        o.mask = owner == k
        o.box = tight_box(o.mask)
    grey = rng.uniform(*world.background) + rng.uniform(-0.05, 0.05, 3)
    table = np.array([np.clip(grey, 0, 1)] + [o.rgb for o in objects], np.float32).T   # (3, K+1)
    image = np.take(table, owner + 1, axis=1)                          # (3, H, W)
    if world.noise > 0:
        image += world.noise * rng.standard_normal(image.shape, dtype=np.float32)
    np.clip(image, 0, 1, out=image)
    from .language import caption
    scene = Scene(image, owner, objects, "", world)
    scene.caption = caption(scene, world.caption_style)
    return scene
