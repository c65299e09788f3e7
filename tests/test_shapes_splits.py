"""vitcourse.data.shapes.splits: the Latin-square compositional split."""
from collections import Counter

import pytest

from vitcourse.data.shapes import COLOURS, SHAPES, ShapesWorld, make_batch, split_pairs

C, S = tuple(COLOURS), SHAPES


@pytest.mark.parametrize("colours, shapes, m", [(C, S, None), (C, S[:4], None), (C[:5], S, 3), (C, S, 2)])
def test_split_is_a_partition_and_keeps_every_attribute_in_training(colours, shapes, m):
    train, held = split_pairs(colours, shapes, n_groups=m)
    assert not set(train) & set(held)
    assert sorted(train + held) == sorted((c, s) for c in colours for s in shapes)
    assert {c for c, _ in train} == set(colours) and {s for _, s in train} == set(shapes)
    assert {c for c, _ in held} == set(colours) and {s for _, s in held} == set(shapes)


@pytest.mark.parametrize("colours, shapes, m", [(C, S, 5), (C, S[:4], 4), (C, S, 3), (C[:6], S[:4], 4)])
def test_rows_and_columns_are_balanced(colours, shapes, m):
    for g in range(m):
        _, held = split_pairs(colours, shapes, n_groups=m, group=g)
        per_colour = Counter(c for c, _ in held)
        per_shape = Counter(s for _, s in held)
        assert {per_colour[c] for c in colours} <= {len(shapes) // m, -(-len(shapes) // m)}
        assert {per_shape[s] for s in shapes} <= {len(colours) // m, -(-len(colours) // m)}


def test_groups_are_folds_and_square_grids_give_transversals():
    m = 4
    helds = [split_pairs(C[:4], S[:4], n_groups=m, group=g)[1] for g in range(m)]
    assert sorted(p for h in helds for p in h) == sorted((c, s) for c in C[:4] for s in S[:4])
    for held in helds:                 # a Latin square: one pair per colour and per shape
        assert sorted(c for c, _ in held) == sorted(C[:4]) and sorted(s for _, s in held) == sorted(S[:4])


def test_default_holds_out_one_shape_per_colour():
    _, held = split_pairs()
    assert len(held) == 8 and Counter(c for c, _ in held) == Counter(C)


def test_held_out_pairs_never_appear_in_training_scenes():
    train, held = split_pairs()
    world = ShapesWorld(image_size=64, max_objects=3, nested=0.5, pairs=train)
    batch = make_batch(world, 300, seed=3)
    seen = {(o["colour"], o["shape"]) for objs in batch["objects"] for o in objs}
    assert seen <= set(train) and not seen & set(held)
    assert len(seen) == len(train)     # and every training pair does occur


@pytest.mark.parametrize("kwargs, words", [
    (dict(n_groups=1), "n_groups must be an integer >= 2"),
    (dict(group=5), r"group must be an integer in \[0, 5\)"),
    (dict(colours=("red", "mauve")), "unknown colour"),
    (dict(colours=("red",)), ">= 2 colours"),
    (dict(colours=("red", "blue"), shapes=("circle", "ring"), n_groups=9, group=8), "holds out no pair"),
])
def test_bad_splits_raise(kwargs, words):
    with pytest.raises(ValueError, match=words):
        split_pairs(**kwargs)
