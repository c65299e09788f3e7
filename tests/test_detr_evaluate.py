"""vitcourse.detr.evaluate: pycocotools COCOeval on in-memory dicts, values checked by hand."""
import math

import pytest
import torch

from vitcourse.detr import coco_evaluate


def gt(boxes, labels):
    return {"boxes": torch.tensor(boxes, dtype=torch.float32).reshape(-1, 4), "labels": torch.tensor(labels, dtype=torch.long)}


def det(boxes, labels, scores):
    return {**gt(boxes, labels), "scores": torch.tensor(scores)}


TARGETS = [gt([[10, 10, 40, 50], [50, 5, 90, 30]], [0, 1]), gt([[0, 0, 64, 64]], [2]), gt([], [])]


def test_perfect_predictions_score_one():
    preds = [det(t["boxes"].tolist(), t["labels"].tolist(), [0.9] * len(t["labels"])) for t in TARGETS]
    m = coco_evaluate(preds, TARGETS, num_classes=3)
    for key in ("map", "map_50", "map_75", "mar_1", "mar_100"):
        assert m[key] == pytest.approx(1.0)


def test_value_by_hand_and_shifts_lower_it():
    target = [gt([[0, 0, 100, 100]], [0])]
    # IoU 0.72 matches at thresholds .50 .55 .60 .65 .70 (5 of 10): AP 1 there, 0 above
    m = coco_evaluate([det([[0, 0, 100, 72]], [0], [0.8])], target)
    assert (m["map"], m["map_50"], m["map_75"]) == (pytest.approx(0.5), pytest.approx(1.0), pytest.approx(0.0))
    scores = [coco_evaluate([det([[s, 0, 100 + s, 100]], [0], [0.8])], target)["map"] for s in (0, 5, 20, 60)]
    assert scores[0] == pytest.approx(1.0) and all(a > b for a, b in zip(scores, scores[1:]))
    assert scores[-1] == 0.0                                             # IoU 0.25: no match at all
    wrong_class = coco_evaluate([det([[0, 0, 100, 100]], [1], [0.8])], target, num_classes=2)
    assert wrong_class["map"] == 0.0


def test_images_without_objects():
    preds = [det(t["boxes"].tolist(), t["labels"].tolist(), [0.8] * len(t["labels"])) for t in TARGETS]
    assert coco_evaluate(preds, TARGETS, num_classes=3)["map"] == pytest.approx(1.0)  # empty image, nothing found: fine
    preds[2] = det([[5, 5, 30, 30]], [2], [0.9])                         # a confident false positive on the empty image
    m = coco_evaluate(preds, TARGETS, num_classes=3)
    # class 2: the false positive ranks first, so precision is 1/2 at recall 1; classes 0 and 1 stay at 1
    assert m["map"] == pytest.approx((1 + 1 + 0.5) / 3)
    assert math.isnan(coco_evaluate([det([], [], [])], [gt([], [])])["map"])  # no ground truth: undefined
    assert coco_evaluate([det([], [], [])], TARGETS[:1])["map"] == 0.0   # nothing detected


def test_silent_unless_verbose(capsys):
    preds = [det([[10, 10, 40, 50]], [0], [0.9])]
    coco_evaluate(preds, TARGETS[:1])
    assert capsys.readouterr().out == ""
    coco_evaluate(preds, TARGETS[:1], verbose=True)
    assert "Average Precision" in capsys.readouterr().out


def test_clear_errors():
    with pytest.raises(ValueError, match="one prediction dict per target"):
        coco_evaluate([], TARGETS)
    with pytest.raises(ValueError, match="x0 <= x1"):
        coco_evaluate([det([[40, 10, 10, 50]], [0], [0.9])], TARGETS[:1])
    with pytest.raises(ValueError, match=r"outside the 2 classes"):
        coco_evaluate([det([], [], [])], [gt([[0, 0, 5, 5]], [2])], num_classes=2)
    with pytest.raises(ValueError, match="scores"):
        coco_evaluate([det([[0, 0, 5, 5]], [0], [0.5, 0.4])], TARGETS[:1])
