"""vitcourse.data.shapes.language: captions and answers agree with the scene's records."""
import re

import numpy as np
import pytest

from vitcourse.data.shapes import ShapesWorld, caption, qa_pairs, sample_scene, vocabulary
from vitcourse.data.shapes.language import NUMBERS, RELATION_MARGIN, article, plural

NOUN = r"an? (?:(small|big) )?(\w+) (\w+)"


def scenes(world, n=60, seed=0):
    rng = np.random.default_rng(seed)
    return [sample_scene(world, rng) for _ in range(n)]


def test_single_object_captions_in_every_style():
    for s in scenes(ShapesWorld(), 30):
        o = s.objects[0]
        art = article(o.size)
        assert s.caption == f"{art} {o.size} {o.colour} {o.shape} on the {o.position}"
        assert s.caption_as("attributes") == f"{art} {o.size} {o.colour} {o.shape}"
        assert s.caption_as("label") == f"{article(o.colour)} {o.colour} {o.shape}"


def test_multi_object_captions_list_objects_left_to_right_with_true_relations():
    world = ShapesWorld(image_size=64, min_objects=2, max_objects=4)
    for s in scenes(world):
        order = sorted(s.objects, key=lambda o: o.centre[0])
        nouns = re.findall(NOUN, s.caption)
        assert nouns == [(o.size, o.colour, o.shape) for o in order]
        relations = re.findall(r"(left of|above|below)", s.caption)
        for a, b, rel in zip(order, order[1:], relations):
            dx, dy = b.centre[0] - a.centre[0], b.centre[1] - a.centre[1]
            assert {"left of": dx >= abs(dy), "above": dy > 0 and dy > dx,
                    "below": dy < 0 and -dy > dx}[rel]
        assert len(relations) == len(order) - 1
        labels = s.caption_as("label").split(" and ")
        assert labels == [f"{article(o.colour)} {o.colour} {o.shape}" for o in order]


def test_nested_captions_name_the_child_with_its_parent():
    for s in scenes(ShapesWorld(image_size=64, nested=1.0), 20):
        p, c = s.objects
        link = "inside" if p.shape == "ring" else "on"
        expected = f"{article(c.colour)} {c.colour} {c.shape} {link} {article(p.size)} {p.size} {p.colour} {p.shape}"
        assert s.caption == f"{expected} on the {p.position}"


def test_answers_agree_with_the_records():
    world = ShapesWorld(image_size=64, max_objects=4, nested=0.3)
    rng = np.random.default_rng(5)
    kinds, existence = set(), set()
    for s in scenes(world, 150):
        objs = s.objects
        for kind, q, a in qa_pairs(s, rng):
            kinds.add(kind)
            if kind == "existence":
                c, sh = re.fullmatch(r"is there an? (\w+) (\w+)\?", q).groups()
                assert a == ("yes" if any((o.colour, o.shape) == (c, sh) for o in objs) else "no")
                existence.add(a)
            elif kind == "colour":
                sh = re.fullmatch(r"what colour is the (\w+)\?", q).group(1)
                (only,) = [o for o in objs if o.shape == sh]
                assert a == only.colour
            elif kind == "count":
                word = re.fullmatch(r"how many (\w+) are there\?", q).group(1)
                (sh,) = [x for x in world.shapes if plural(x) == word]
                assert a == NUMBERS[sum(o.shape == sh for o in objs)]
            else:
                c1, s1, c2, s2 = re.fullmatch(r"is the (\w+) (\w+) left of the (\w+) (\w+)\?", q).groups()
                (o1,) = [o for o in objs if (o.colour, o.shape) == (c1, s1)]
                (o2,) = [o for o in objs if (o.colour, o.shape) == (c2, s2)]
                assert abs(o1.centre[0] - o2.centre[0]) >= RELATION_MARGIN
                assert a == ("yes" if o1.centre[0] < o2.centre[0] else "no")
    assert kinds == {"existence", "colour", "count", "relation"} and existence == {"yes", "no"}


def test_every_word_is_in_the_vocabulary():
    world = ShapesWorld(image_size=64, max_objects=3, nested=0.5)
    vocab = set(vocabulary(world))
    rng = np.random.default_rng(0)
    for s in scenes(world, 40):
        texts = [s.caption_as(style) for style in ("label", "attributes", "full")]
        texts += [q + " " + a for _, q, a in qa_pairs(s, rng)]
        for t in texts:
            assert set(t.replace("?", " ?").split()) <= vocab, t


def test_grammar_helpers_and_bad_style():
    assert plural("cross") == "crosses" and plural("ring") == "rings"
    assert article("orange") == "an" and article("red") == "a"
    with pytest.raises(ValueError, match="caption style"):
        caption(sample_scene(ShapesWorld(), 0), "haiku")
