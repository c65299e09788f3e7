"""Mask choice and interactive refinement (Kirillov et al. 2023, Sec. 3, App. A): the IoU head's pick,
upscaling to the image, and the click loop (multimask first, then single mask + previous logits +
one corrective click per round, labelled by the error it lands on)."""
import pytest
import torch

from vitcourse.sam import SAM, SAMConfig, refine, select_mask, upscale_masks

CFG = SAMConfig.tiny()


def test_select_mask_takes_the_highest_predicted_iou():
    masks = torch.randn(2, 3, 3, 4, 4)
    iou = torch.tensor([[[0.1, 0.9, 0.2], [0.5, 0.1, 0.0], [0.0, 0.1, 0.7]]] * 2)
    chosen, best = select_mask(masks, iou)
    assert chosen.shape == (2, 3, 4, 4) and best.tolist() == [[1, 0, 2]] * 2
    torch.testing.assert_close(chosen[1, 2], masks[1, 2, 2])
    with pytest.raises(ValueError, match=r"\(B, P, K, h, w\)"):
        select_mask(masks[:, :, 0], iou)


def test_upscale_masks_to_the_image_size():
    up = upscale_masks(torch.full((2, 3, 32, 32), 1.5), 64)
    assert up.shape == (2, 3, 64, 64) and torch.allclose(up, torch.tensor(1.5))
    assert upscale_masks(torch.randn(5, 8, 8), (16, 24)).shape == (5, 16, 24)


class Recorder(SAM):
    """A SAM that records the prompts of every predict_masks call."""

    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        self.calls = []

    def predict_masks(self, emb, points=None, point_labels=None, boxes=None, multimask_output=True, mask_inputs=None):
        out = super().predict_masks(emb, points, point_labels, boxes, multimask_output, mask_inputs)
        self.calls.append(dict(points=points, labels=point_labels, boxes=boxes, multi=multimask_output,
                               mask_inputs=mask_inputs, out=out))
        return out


@pytest.mark.parametrize("first", ["point", "box"])
def test_refine_adds_one_labelled_click_per_round_and_feeds_the_previous_mask(first):
    sam = Recorder(CFG).eval()
    gt = torch.zeros(2, 1, 64, 64, dtype=torch.bool)
    gt[0, 0, 10:40, 10:30] = True
    gt[1, 0, 30:60, 5:50] = True
    emb = torch.randn(2, 32, 8, 8)
    prompt = dict(points=torch.tensor([[[[20.0, 20.0]]], [[[30.0, 40.0]]]]), point_labels=torch.ones(2, 1, 1).long()) \
        if first == "point" else dict(boxes=torch.tensor([[[10.0, 10.0, 29.0, 39.0]], [[5.0, 30.0, 49.0, 59.0]]]))
    with torch.no_grad():
        rounds = refine(sam, emb, gt, clicks=3, generator=torch.Generator().manual_seed(0), **prompt)
    assert len(rounds) == 4 and all(r.shape == (2, 1, 32, 32) for r in rounds)
    assert [c["multi"] for c in sam.calls] == [True, False, False, False]
    n0 = 1 if first == "point" else 0
    for r in range(1, 4):
        call = sam.calls[r]
        assert call["points"].shape == (2, 1, n0 + r, 2)
        torch.testing.assert_close(call["mask_inputs"], rounds[r - 1])
        pred = upscale_masks(rounds[r - 1], 64) > 0
        for b in range(2):
            x, y = call["points"][b, 0, -1].long().tolist()
            lab = call["labels"][b, 0, -1].item()
            if lab == 1:
                assert gt[b, 0, y, x] and not pred[b, 0, y, x]
            elif lab == 0:
                assert pred[b, 0, y, x] and not gt[b, 0, y, x]
            else:
                assert lab == -1 and torch.equal(pred[b, 0], gt[b, 0])
        torch.testing.assert_close(call["out"][0][:, :, 0], rounds[r])


def test_refine_needs_a_prompt_and_image_sized_truth():
    sam = SAM(CFG)
    emb, gt = torch.randn(1, 32, 8, 8), torch.ones(1, 1, 64, 64, dtype=torch.bool)
    with pytest.raises(ValueError, match="first prompt"):
        refine(sam, emb, gt)
    with pytest.raises(ValueError, match=r"gt_masks must be \(B, P, 64, 64\)"):
        refine(sam, emb, gt[..., :32, :32], boxes=torch.tensor([[[1.0, 1.0, 5.0, 5.0]]]))
