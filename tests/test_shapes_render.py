"""vitcourse.data.shapes.render: drawing, occlusion, placement rules, determinism."""
import numpy as np
import pytest

from vitcourse.data.shapes import SHAPES, ShapesWorld, sample_scene, shape_mask
from vitcourse.data.shapes.render import CHILD_SCALE, RING_INNER

MANY = ShapesWorld(image_size=64, min_objects=2, max_objects=4, nested=0.3)


def full_mask(o, side):
    """The object's whole shape, before occlusion, on the full grid."""
    c = np.arange(side) + 0.5
    return shape_mask(o.shape, c[None, :] - o.centre[0], c[:, None] - o.centre[1], o.radius)


def scenes(world=MANY, n=60, seed=0):
    rng = np.random.default_rng(seed)
    return [sample_scene(world, rng) for _ in range(n)]


def test_same_seed_same_scene_and_different_seeds_differ():
    a, b, c = sample_scene(MANY, 7), sample_scene(MANY, 7), sample_scene(MANY, 8)
    assert np.array_equal(a.image, b.image) and a.caption == b.caption
    assert [(o.colour, o.shape, o.centre, o.box) for o in a.objects] == \
           [(o.colour, o.shape, o.centre, o.box) for o in b.objects]
    assert not np.array_equal(a.image, c.image)


def test_image_is_float32_in_unit_range():
    for s in scenes(ShapesWorld(), 20) + scenes(n=5):
        side = s.world.image_size
        assert s.image.shape == (3, side, side) and s.image.dtype == np.float32
        assert s.image.min() >= 0 and s.image.max() <= 1 and s.image.flags.c_contiguous


def test_visible_masks_are_what_later_objects_leave_of_each_shape():
    for s in scenes():
        side = s.world.image_size
        full = [full_mask(o, side) for o in s.objects]
        for k, o in enumerate(s.objects):
            later = np.any(full[k + 1:], axis=0) if k + 1 < len(full) else np.zeros_like(full[k])
            assert np.array_equal(o.mask, full[k] & ~later)
            assert o.mask.sum() >= s.world.min_visible * full[k].sum()       # never mostly hidden


def test_masks_are_disjoint_and_cover_exactly_the_non_background_pixels():
    world = ShapesWorld(image_size=48, max_objects=3, nested=0.5, noise=0.0, colour_jitter=0.0)
    for s in scenes(world, 40):
        masks = s.masks
        assert (masks.sum(0) <= 1).all()
        union = masks.any(0)
        assert np.array_equal(union, s.owner >= 0)
        bg = s.image[:, ~union]
        assert np.allclose(bg, bg[:, :1])                              # one background colour
        for o in s.objects:
            assert np.allclose(s.image[:, o.mask], np.float32(o.rgb)[:, None])


def test_objects_lie_inside_the_image_and_their_named_half():
    for s in scenes(n=80):
        side = s.world.image_size
        for o in s.objects:
            cx, cy = o.centre
            assert o.radius <= cx <= side - o.radius and o.radius <= cy <= side - o.radius
            if o.parent is None:
                axis, low = {"left": (cx, True), "right": (cx, False),
                             "top": (cy, True), "bottom": (cy, False)}[o.position]
                assert axis < side / 2 if low else axis > side / 2


def test_overlapping_objects_never_share_a_colour_and_pairs_are_respected():
    world = ShapesWorld(image_size=48, max_objects=4, pairs=[("red", "circle"), ("red", "square"),
                                                             ("blue", "cross"), ("green", "ring")])
    for s in scenes(world, 40):
        side = world.image_size
        for i, a in enumerate(s.objects):
            assert (a.colour, a.shape) in world.pairs
            for b in s.objects[i + 1:]:
                if (full_mask(a, side) & full_mask(b, side)).any():
                    assert a.colour != b.colour


def test_nested_children_sit_in_the_ring_hole_or_on_the_parent():
    world = ShapesWorld(image_size=64, nested=1.0)
    kinds = set()
    for s in scenes(world, 40):
        parent, child = s.objects[0], s.objects[1]
        assert child.parent == 0 and parent.parent is None and parent.size == "big"
        assert child.colour != parent.colour and child.centre == parent.centre
        assert child.radius == pytest.approx(CHILD_SCALE[parent.shape] * parent.radius)
        c = np.arange(64) + 0.5
        d2 = (c[None, :] - parent.centre[0]) ** 2 + (c[:, None] - parent.centre[1]) ** 2
        if parent.shape == "ring":
            assert (d2[full_mask(child, 64)] < (RING_INNER * parent.radius) ** 2).all()
        else:
            assert not (full_mask(child, 64) & ~full_mask(parent, 64)).any()
        kinds.add(parent.shape)
    assert kinds == {"ring", "square", "circle"}


@pytest.mark.parametrize("shape", SHAPES)
def test_each_shape_fits_its_radius_box_and_is_distinct(shape):
    c = np.arange(-12, 12) + 0.5
    m = shape_mask(shape, c[None, :], c[:, None], 9.0)
    assert m.any() and not m[:, :2].any() and not m[:2].any() and not m[-2:].any()
    others = [shape_mask(s, c[None, :], c[:, None], 9.0) for s in SHAPES if s != shape]
    assert all((m ^ o).sum() > 0.15 * m.sum() for o in others)   # circle vs square: 0.19


def test_unplaceable_scenes_and_bad_arguments_raise():
    crowded = ShapesWorld(sizes={"small": 7.9}, size_jitter=0, shapes=("square",),
                          min_objects=4, max_objects=4, min_visible=1.0)
    with pytest.raises(ValueError, match="could not place 4 objects"):
        sample_scene(crowded, 0)
    with pytest.raises(ValueError, match="unknown shape"):
        shape_mask("hexagon", np.zeros(1), np.zeros(1), 3.0)
    with pytest.raises(TypeError, match="ShapesWorld"):
        sample_scene({"image_size": 32}, 0)
