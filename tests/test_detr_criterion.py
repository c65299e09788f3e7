"""vitcourse.detr.criterion: every loss term equal to Hugging Face's DETR loss, auxiliary ones included."""
import pytest
import torch

from vitcourse.detr import HungarianMatcher, SetCriterion, total_loss

hf = pytest.importorskip("transformers.loss.loss_for_object_detection")
transformers = pytest.importorskip("transformers")

C, Q, L = 3, 7, 3                                                          # classes, queries, decoder layers


def hf_config():
    return transformers.DetrConfig(backbone_config=transformers.ResNetConfig(out_features=["stage4"]),
                                   num_labels=C, decoder_layers=L, auxiliary_loss=True)


def make(num_objects, seed=0, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    logits = torch.randn(L, len(num_objects), Q, C + 1, generator=g, dtype=dtype, requires_grad=True)
    boxes = torch.rand(L, len(num_objects), Q, 4, generator=g, dtype=dtype).mul(0.5).add(0.25).requires_grad_()
    targets = [{"class_labels": torch.randint(0, C, (n,), generator=g),
                "boxes": torch.rand(n, 4, generator=g, dtype=dtype) * 0.5 + 0.25} for n in num_objects]
    return logits, boxes, targets


def ours(logits, boxes, targets):
    outputs = {"logits": logits[-1], "pred_boxes": boxes[-1],
               "auxiliary_outputs": [{"logits": a, "pred_boxes": b} for a, b in zip(logits[:-1], boxes[:-1])]}
    return SetCriterion(C, HungarianMatcher(1, 5, 2), eos_coef=0.1)(outputs, targets)


def theirs(logits, boxes, targets):
    previous = torch.get_default_dtype()
    torch.set_default_dtype(logits.dtype)                                  # HF builds its class weight in the default dtype
    try:
        return hf.ForObjectDetectionLoss(logits[-1], targets, "cpu", boxes[-1], hf_config(),
                                         outputs_class=logits, outputs_coord=boxes)
    finally:
        torch.set_default_dtype(previous)


@pytest.mark.parametrize("num_objects", [[2, 3], [1, 0, 4], [0, 0]])
def test_every_term_equals_hugging_face_float64(num_objects):
    logits, boxes, targets = make(num_objects, seed=len(num_objects))
    mine = ours(logits, boxes, targets)
    total, reference, _ = theirs(logits, boxes, targets)
    expected = {f"{k}{s}" for s in ["", "_0", "_1"] for k in ["loss_ce", "loss_bbox", "loss_giou", "cardinality_error"]}
    assert set(mine) == set(reference) == expected
    for key in reference:
        if key.startswith("cardinality"):                              # HF logs it in float32, ours in float64
            torch.testing.assert_close(mine[key].float(), reference[key], atol=0, rtol=0, msg=key)
        else:
            torch.testing.assert_close(mine[key], reference[key], atol=1e-12, rtol=0, msg=key)
    torch.testing.assert_close(total_loss(mine), total, atol=1e-12, rtol=0)
    g_ours = torch.autograd.grad(total_loss(mine), [logits, boxes], allow_unused=True, materialize_grads=True)
    g_hf = torch.autograd.grad(total, [logits, boxes], allow_unused=True, materialize_grads=True)
    for a, b in zip(g_ours, g_hf):
        torch.testing.assert_close(a, b, atol=1e-12, rtol=0)


def test_empty_image_is_all_no_object():
    logits, boxes, targets = make([0], seed=5)
    losses = ours(logits, boxes, targets)
    expected_ce = torch.nn.functional.cross_entropy(logits[-1, 0], torch.full((Q,), C))  # one class: weights cancel
    torch.testing.assert_close(losses["loss_ce"], expected_ce, atol=1e-12, rtol=0)
    assert losses["loss_bbox"].item() == losses["loss_giou"].item() == 0.0


def test_no_object_weight_applies():
    logits, boxes, targets = make([2], seed=6)
    out = {"logits": logits[-1], "pred_boxes": boxes[-1]}
    ce = [SetCriterion(C, eos_coef=e)(out, targets)["loss_ce"].item() for e in (0.1, 1.0)]
    assert ce[0] != pytest.approx(ce[1])


def test_total_loss_weights():
    losses = {"loss_ce": torch.tensor(1.0), "loss_bbox": torch.tensor(2.0), "loss_giou": torch.tensor(3.0),
              "cardinality_error": torch.tensor(100.0), "loss_ce_0": torch.tensor(0.5)}
    assert total_loss(losses).item() == pytest.approx(1 + 5 * 2 + 2 * 3 + 0.5)
    with pytest.raises(ValueError, match="no loss_ce"):
        total_loss({"cardinality_error": torch.tensor(1.0)})


def test_clear_errors():
    logits, boxes, targets = make([2], seed=7)
    out = {"logits": logits[-1], "pred_boxes": boxes[-1]}
    with pytest.raises(ValueError, match="num_classes=5"):
        SetCriterion(5)(out, targets)
    with pytest.raises(ValueError, match="unknown losses"):
        SetCriterion(C, losses=("labels", "masks"))
    with pytest.raises(ValueError, match=r"in \[0, 3\)"):
        SetCriterion(C)(out, [{"class_labels": torch.tensor([-1, 0]), "boxes": targets[0]["boxes"]}])
    with pytest.raises(ValueError, match="auxiliary_outputs"):
        SetCriterion(C)({**out, "auxiliary_outputs": [{"logits": logits[0]}]}, targets)
