"""vitcourse.detr.boxes: layouts round-trip, IoU/GIoU equal Hugging Face's, clear errors."""
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from vitcourse.detr import (box_area, box_cxcywh_to_xyxy, box_iou, box_xyxy_to_cxcywh, check_normalized_cxcywh,
                            generalized_box_iou)

hf = pytest.importorskip("transformers.loss.loss_for_object_detection")

coord = st.floats(0, 1, allow_nan=False, width=64)


def random_xyxy(n, generator):
    a, b = torch.rand(n, 2, generator=generator, dtype=torch.float64), torch.rand(n, 2, generator=generator, dtype=torch.float64)
    return torch.cat([torch.minimum(a, b), torch.maximum(a, b) + 1e-3], dim=1)


@settings(max_examples=50, deadline=None)
@given(st.lists(st.tuples(coord, coord, coord, coord), min_size=1, max_size=8))
def test_round_trip(rows):
    cxcywh = torch.tensor(rows, dtype=torch.float64)
    torch.testing.assert_close(box_xyxy_to_cxcywh(box_cxcywh_to_xyxy(cxcywh)), cxcywh, atol=1e-12, rtol=0)
    xyxy = box_cxcywh_to_xyxy(cxcywh)
    torch.testing.assert_close(box_cxcywh_to_xyxy(box_xyxy_to_cxcywh(xyxy)), xyxy, atol=1e-12, rtol=0)
    torch.testing.assert_close(box_area(xyxy), cxcywh[:, 2] * cxcywh[:, 3], atol=1e-12, rtol=0)


def test_iou_and_giou_equal_hugging_face_float64():
    g = torch.Generator().manual_seed(0)
    b1, b2 = random_xyxy(7, g), random_xyxy(5, g)
    ours, theirs = generalized_box_iou(b1, b2), hf.generalized_box_iou(b1, b2)
    assert ours.shape == (7, 5) and ours.dtype == torch.float64
    torch.testing.assert_close(ours, theirs, atol=1e-14, rtol=0)
    torch.testing.assert_close(box_iou(b1, b2), hf.box_iou(b1, b2)[0], atol=1e-14, rtol=0)


def test_giou_known_values():
    a = torch.tensor([[0.0, 0.0, 2.0, 2.0]])
    same, half, apart = torch.tensor([[0.0, 0.0, 2.0, 2.0]]), torch.tensor([[1.0, 0.0, 3.0, 2.0]]), torch.tensor([[4.0, 0.0, 6.0, 2.0]])
    assert generalized_box_iou(a, same).item() == 1.0
    assert box_iou(a, half).item() == pytest.approx(2 / 6)                 # overlap 2, union 6, hull = union
    assert generalized_box_iou(a, half).item() == pytest.approx(2 / 6)
    assert box_iou(a, apart).item() == 0.0                                  # IoU cannot tell how far apart...
    assert generalized_box_iou(a, apart).item() == pytest.approx(-(12 - 8) / 12)  # ...GIoU can: hull 12, union 8
    far = torch.tensor([[100.0, 0.0, 102.0, 2.0]])
    assert generalized_box_iou(a, far) < generalized_box_iou(a, apart)


def test_giou_at_most_iou():
    g = torch.Generator().manual_seed(1)
    b1, b2 = random_xyxy(20, g), random_xyxy(20, g)
    assert (generalized_box_iou(b1, b2) <= box_iou(b1, b2) + 1e-12).all()
    assert (generalized_box_iou(b1, b2) >= -1).all()


def test_clear_errors():
    flipped = torch.tensor([[0.5, 0.1, 0.2, 0.4]])                          # x1 < x0
    with pytest.raises(ValueError, match="x0 <= x1"):
        generalized_box_iou(flipped, flipped)
    with pytest.raises(ValueError, match="x0 <= x1"):
        box_area(flipped)
    with pytest.raises(ValueError, match=r"\(\.\.\., 4\)"):
        box_cxcywh_to_xyxy(torch.zeros(3, 5))
    with pytest.raises(ValueError, match="non-negative width"):
        box_cxcywh_to_xyxy(torch.tensor([[0.5, 0.5, -0.1, 0.2]]))
    with pytest.raises(ValueError, match=r"normalised .* in \[0, 1\]"):
        check_normalized_cxcywh(torch.tensor([[12.0, 20.0, 5.0, 5.0]]))
    with pytest.raises(ValueError, match=r"\(N, 4\)"):
        generalized_box_iou(torch.zeros(2, 3, 4), torch.zeros(2, 4))
    with pytest.raises(TypeError):
        box_iou([[0, 0, 1, 1]], torch.zeros(1, 4))


def test_empty_sets():
    empty = torch.zeros(0, 4)
    assert generalized_box_iou(empty, torch.tensor([[0.0, 0.0, 1.0, 1.0]])).shape == (0, 1)
    assert box_xyxy_to_cxcywh(empty).shape == (0, 4)
