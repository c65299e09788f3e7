"""vitcourse.data.shapes.world: the world's configuration and its clear errors."""
import pytest

from vitcourse.data.shapes import COLOURS, SHAPES, ShapesWorld


def test_defaults_use_every_colour_shape_pair():
    w = ShapesWorld()
    assert w.colours == tuple(COLOURS) and w.shapes == SHAPES and len(COLOURS) == 8
    assert len(w.pairs) == 8 * len(SHAPES) and len(set(w.pairs)) == len(w.pairs)
    assert dict(w.sizes) == {"small": 7.0, "big": 10.0}


def test_lists_and_dicts_are_normalised():
    w = ShapesWorld(colours=["red", "blue"], shapes="circle", sizes={"big": 8.0},
                    pairs=[["red", "circle"], ("red", "circle")])
    assert w.colours == ("red", "blue") and w.shapes == ("circle",)
    assert w.sizes == (("big", 8.0),) and w.pairs == (("red", "circle"),)


@pytest.mark.parametrize("kwargs, words", [
    (dict(colours=("red", "magenta")), "unknown colour"),
    (dict(shapes=("circle", "hexagon")), "unknown shape"),
    (dict(shapes=()), "non-empty"),
    (dict(pairs=()), "pairs is empty"),
    (dict(colours=("red",), pairs=[("blue", "circle")]), "not (colour, shape) pairs"),
    (dict(image_size=16), "too small"),
    (dict(image_size=32, max_objects=20), "do not fit"),
    (dict(min_objects=3, max_objects=2), "max_objects=2 < min_objects=3"),
    (dict(image_size=4), "image_size must be an integer >= 8"),
    (dict(caption_style="poem"), "caption_style"),
    (dict(nested=0.5, shapes=("triangle", "cross")), "nested scenes need a parent shape"),
    (dict(noise=-0.1), "noise"),
    (dict(min_visible=0), "min_visible"),
    (dict(sizes={"tiny": 1}), "radii >= 2"),
    (dict(background=(0.5, 0.2)), "background"),
])
def test_impossible_worlds_raise_clear_errors(kwargs, words):
    with pytest.raises(ValueError, match=words.replace("(", r"\(").replace(")", r"\)")):
        ShapesWorld(**kwargs)


def test_larger_images_take_more_objects_and_bigger_sizes():
    ShapesWorld(image_size=64, max_objects=6, sizes={"small": 8, "big": 14})
    with pytest.raises(ValueError, match="image_size >= "):
        ShapesWorld(image_size=32, sizes={"small": 8, "big": 14})
