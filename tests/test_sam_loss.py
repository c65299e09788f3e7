"""SAM's loss (Kirillov et al. 2023, Sec. 3 and App. A): focal and dice on hand-made masks, 20 : 1,
only the best of the K masks trained (min over masks), MSE between predicted and true IoU."""
import math

import pytest
import torch

from vitcourse.sam import dice_loss, mask_iou, sam_loss, sigmoid_focal_loss

H = W = 8


def square(x0, y0, x1, y1):
    m = torch.zeros(H, W)
    m[y0:y1, x0:x1] = 1
    return m


def logits_of(mask, scale=30.0):
    return (2 * mask - 1) * scale                                          # confident: +30 inside, -30 outside


def test_focal_matches_the_formula_on_one_pixel():
    x, t = torch.tensor([[0.4]], dtype=torch.float64), torch.tensor([[1.0]], dtype=torch.float64)
    p = torch.sigmoid(x)
    want = 0.25 * (1 - p) ** 2 * -torch.log(p)
    torch.testing.assert_close(sigmoid_focal_loss(x, t), want.reshape(()))
    want0 = 0.75 * p ** 2 * -torch.log(1 - p)                              # a background pixel
    torch.testing.assert_close(sigmoid_focal_loss(x, 1 - t), want0.reshape(()))


def test_dice_on_hand_made_masks():
    t = square(0, 0, 4, 4)                                                 # 16 pixels
    assert dice_loss(logits_of(t), t) < 1e-6
    half = square(0, 0, 4, 2)                                              # 8 of the 16 pixels, nothing outside
    torch.testing.assert_close(dice_loss(logits_of(half, 50.0), t), torch.tensor(1 - (2 * 8 + 1) / (8 + 16 + 1)))
    assert dice_loss(logits_of(square(4, 4, 8, 8)), t) > 0.9               # disjoint


def test_mask_iou_by_hand():
    a, b = square(0, 0, 4, 4), square(2, 0, 6, 4)                          # overlap 8, union 24
    torch.testing.assert_close(mask_iou(logits_of(a), b), torch.tensor(8 / 24))
    assert mask_iou(torch.zeros(H, W) - 1, torch.zeros(H, W)) == 1       # both empty


def test_a_perfect_mask_with_its_true_iou_scores_about_zero():
    t = square(1, 2, 6, 7)[None, None]                                     # (1, 1, H, W)
    out = sam_loss(logits_of(t)[:, :, None], torch.ones(1, 1, 1), t)
    assert out["loss"] < 1e-6 and out["focal"] < 1e-9 and out["dice"] < 1e-6 and out["iou_mse"] == 0


def test_min_over_masks_trains_only_the_best_mask():
    t = square(0, 0, 4, 4)
    cands = torch.stack([logits_of(square(4, 4, 8, 8), 3.0), logits_of(t, 3.0), logits_of(square(0, 0, 8, 2), 3.0)])
    logits = cands[None, None].clone().requires_grad_(True)                # (1, 1, 3, H, W): the right one is #1
    out = sam_loss(logits, torch.zeros(1, 1, 3), t[None, None])
    assert out["best"].item() == 1
    out["loss"].backward()
    g = logits.grad[0, 0].flatten(1).abs().sum(-1)
    assert g[1] > 0 and g[0] == 0 and g[2] == 0                            # no gradient to the other two masks
    per = [20 * sigmoid_focal_loss(c, t) + dice_loss(c, t) for c in cands]
    torch.testing.assert_close(out["loss"] - out["iou_mse"], min(per).detach())


def test_iou_head_gets_mse_against_detached_true_iou_on_every_mask():
    t = square(0, 0, 4, 4)[None, None]
    logits = torch.stack([logits_of(square(0, 0, 4, 4)), logits_of(square(2, 0, 6, 4)), logits_of(square(4, 4, 8, 8))])
    iou_pred = torch.tensor([[[0.5, 0.5, 0.5]]], requires_grad=True)
    out = sam_loss(logits[None, None], iou_pred, t)
    torch.testing.assert_close(out["true_iou"], torch.tensor([[[1.0, 8 / 24, 0.0]]]))
    want = ((0.5 - 1) ** 2 + (0.5 - 8 / 24) ** 2 + 0.25) / 3
    torch.testing.assert_close(out["iou_mse"], torch.tensor(want))
    best_only = sam_loss(logits[None, None], iou_pred, t, supervise_all_iou=False)
    torch.testing.assert_close(best_only["iou_mse"], torch.tensor(0.25))
    out["loss"].backward()
    assert iou_pred.grad.abs().sum() > 0


def test_weights_are_20_to_1_and_logits_are_upsampled_to_the_target():
    t = square(0, 0, 4, 4)[None, None]
    logits = torch.randn(1, 1, 1, H, W)
    out = sam_loss(logits, torch.zeros(1, 1, 1), t, iou_weight=0.0)
    torch.testing.assert_close(out["loss"], 20 * out["focal"] + out["dice"])
    big = torch.nn.functional.interpolate(t, scale_factor=2)              # (1, 1, 16, 16)
    assert math.isfinite(sam_loss(logits, torch.zeros(1, 1, 1), big)["loss"].item())


@pytest.mark.parametrize("logits, iou, target, match", [
    (torch.randn(1, 3, 8, 8), torch.zeros(1, 3), torch.zeros(1, 8, 8), r"mask_logits must be \(B, P, K, h, w\)"),
    (torch.randn(1, 1, 3, 8, 8), torch.zeros(1, 1, 1), torch.zeros(1, 1, 8, 8), r"iou_pred must be \(B, P, K\)"),
    (torch.randn(1, 2, 3, 8, 8), torch.zeros(1, 2, 3), torch.zeros(1, 1, 8, 8), "one true mask per prompt"),
    (torch.randn(1, 1, 3, 8, 8), torch.zeros(1, 1, 3), torch.full((1, 1, 8, 8), 0.5), "binary"),
])
def test_bad_input(logits, iou, target, match):
    with pytest.raises(ValueError, match=match):
        sam_loss(logits, iou, target)
