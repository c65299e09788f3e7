"""vitcourse.data.shapes.scene: boxes, COCO boxes, point queries and nested groups."""
import numpy as np
import pytest

from vitcourse.data.shapes import ShapesWorld, sample_scene, tight_box


def test_tight_box_is_exclusive_and_matches_coco():
    m = np.zeros((10, 12), bool)
    m[2:5, 3:9] = True
    assert tight_box(m) == (3, 2, 9, 5)
    with pytest.raises(ValueError, match="empty mask"):
        tight_box(np.zeros((4, 4), bool))


def test_scene_boxes_are_the_tight_boxes_of_the_visible_masks():
    rng = np.random.default_rng(1)
    world = ShapesWorld(image_size=64, max_objects=4, nested=0.5)
    for _ in range(50):
        s = sample_scene(world, rng)
        for o, box in zip(s.objects, s.boxes):
            ys, xs = np.nonzero(o.mask)
            assert tuple(box) == o.box == (xs.min(), ys.min(), xs.max() + 1, ys.max() + 1)
            x, y, w, h = o.coco_box()
            assert (x, y) == (xs.min(), ys.min()) and w == np.ptp(xs) + 1 and h == np.ptp(ys) + 1
        assert s.masks.shape == (len(s.objects), 64, 64)


def test_points_on_nested_objects_have_two_valid_masks():
    world = ShapesWorld(image_size=64, nested=1.0)
    for seed in range(20):
        s = sample_scene(world, seed)
        parent, child = s.objects[0], s.objects[1]
        whole = parent.mask | child.mask
        cy, cx = np.argwhere(child.mask)[0]
        assert s.object_at(cx, cy) == 1 and s.group(1) == [0, 1] == s.group(0)
        inner = s.masks_at(cx, cy)
        assert len(inner) == 2 and np.array_equal(inner[0], child.mask) and np.array_equal(inner[1], whole)
        py, px = np.argwhere(parent.mask)[0]
        outer = s.masks_at(px, py)
        assert np.array_equal(outer[0], parent.mask) and np.array_equal(outer[1], whole)
        by, bx = np.argwhere(s.owner < 0)[0]
        assert s.object_at(bx, by) is None and s.masks_at(bx, by) == []


def test_points_on_plain_objects_have_one_mask_and_bad_points_raise():
    s = sample_scene(ShapesWorld(), 3)
    y, x = np.argwhere(s.objects[0].mask)[0]
    assert len(s.masks_at(x, y)) == 1 and s.group(0) == [0]
    with pytest.raises(ValueError, match="outside the 32x32 image"):
        s.object_at(32, 0)
