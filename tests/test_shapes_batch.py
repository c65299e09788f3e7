"""vitcourse.data.shapes.batch: tensors, the Dataset, the collate function, determinism."""
import pytest
import torch
from torch.utils.data import DataLoader

from vitcourse.data.shapes import ShapesDataset, ShapesWorld, collate_scenes, make_batch

WORLD = ShapesWorld(image_size=48, max_objects=3, nested=0.3)


def test_batch_tensors_and_lists():
    b = make_batch(WORLD, 12, seed=2, questions=True)
    assert b["images"].shape == (12, 3, 48, 48) and b["images"].dtype == torch.float32
    assert len(b["captions"]) == len(b["objects"]) == len(b["qa"]) == 12
    for boxes, masks, labels, colours, parents, objs in zip(
            b["boxes"], b["masks"], b["labels"], b["colour_labels"], b["parents"], b["objects"]):
        k = len(objs)
        assert boxes.shape == (k, 4) and boxes.dtype == torch.float32
        assert masks.shape == (k, 48, 48) and masks.dtype == torch.bool
        assert [WORLD.shapes[i] for i in labels] == [o["shape"] for o in objs]
        assert [WORLD.colours[i] for i in colours] == [o["colour"] for o in objs]
        assert parents.dtype == torch.int64 and ((parents == -1) | (parents < k)).all()
        x0, y0, x1, y1 = boxes.long().T
        for m, a, b_, c, d in zip(masks, x0, y0, x1, y1):
            assert m[b_:d, a:c].sum() == m.sum()


def test_same_seed_same_batch_different_seed_differs():
    a, b, c = make_batch(WORLD, 8, 1), make_batch(WORLD, 8, 1), make_batch(WORLD, 8, 2)
    assert torch.equal(a["images"], b["images"]) and a["captions"] == b["captions"]
    assert not torch.equal(a["images"], c["images"])


def test_caption_style_changes_only_the_captions():
    # notebook 10 pairs the label and full captions of the same scenes: the style draws no random numbers
    from dataclasses import replace
    batches = [make_batch(replace(WORLD, caption_style=s), 16, seed=5) for s in ("label", "attributes", "full")]
    for b in batches[1:]:
        assert torch.equal(b["images"], batches[0]["images"]) and b["objects"] == batches[0]["objects"]
    assert len({tuple(b["captions"]) for b in batches}) == 3


def test_items_do_not_depend_on_order_and_match_make_batch():
    ds = ShapesDataset(WORLD, 10, seed=4)
    late_first = ds[7]
    batch = make_batch(WORLD, 10, seed=4)
    assert torch.equal(late_first["image"], batch["images"][7]) and ds[7]["caption"] == batch["captions"][7]
    assert ds.scene(-3).caption == batch["captions"][7]


def test_dataloader_with_collate_scenes():
    loader = DataLoader(ShapesDataset(WORLD, 10, questions=True), batch_size=4, collate_fn=collate_scenes)
    sizes = [len(b["captions"]) for b in loader]
    first = next(iter(loader))
    assert sizes == [4, 4, 2] and first["images"].shape == (4, 3, 48, 48) and len(first["qa"]) == 4


def test_bad_arguments():
    with pytest.raises(ValueError, match="n must be an integer >= 1"):
        ShapesDataset(WORLD, 0)
    with pytest.raises(ValueError, match="seed must be an integer >= 0"):
        make_batch(WORLD, 2, seed=-1)
    with pytest.raises(TypeError, match="ShapesWorld"):
        ShapesDataset("world", 3)
    with pytest.raises(IndexError, match="out of range"):
        ShapesDataset(WORLD, 3)[3]
    with pytest.raises(ValueError, match="at least one item"):
        collate_scenes([])
