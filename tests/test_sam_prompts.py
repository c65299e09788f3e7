"""Prompt simulation (Kirillov et al. 2023, App. A): foreground points never leave their mask,
boxes contain their mask and jitter stays within bounds, corrective clicks land on the error region
with the right label; bad masks raise clear errors."""
import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from vitcourse.sam import box_from_mask, corrective_points, sample_boxes, sample_points


@st.composite
def masks(draw, b=2, p=2):
    """Random non-empty binary masks (B, P, H, W) of random sizes and densities."""
    h, w = draw(st.integers(1, 24)), draw(st.integers(1, 24))
    seed, density = draw(st.integers(0, 2 ** 31 - 1)), draw(st.floats(0.01, 0.9))
    rng = np.random.default_rng(seed)
    m = rng.random((b, p, h, w)) < density
    for i in range(b):
        for j in range(p):
            if not m[i, j].any():
                m[i, j, rng.integers(h), rng.integers(w)] = True
    return torch.from_numpy(m)


@given(masks(), st.integers(1, 4), st.integers(0, 1000))
def test_foreground_points_are_inside_their_mask(m, n, seed):
    pts, lab = sample_points(m, n, generator=torch.Generator().manual_seed(seed))
    assert pts.shape == (*m.shape[:2], n, 2) and lab.shape == (*m.shape[:2], n) and (lab == 1).all()
    x, y = pts[..., 0].long(), pts[..., 1].long()
    assert (pts == pts.round()).all()
    b, p = torch.meshgrid(torch.arange(m.shape[0]), torch.arange(m.shape[1]), indexing="ij")
    assert m[b[..., None], p[..., None], y, x].all()


def test_points_are_uniform_over_the_mask():
    m = torch.zeros(1, 1, 4, 4, dtype=torch.bool)
    m[0, 0, 1, 1] = m[0, 0, 2, 3] = True
    pts, _ = sample_points(m, 2000, generator=torch.Generator().manual_seed(0))
    frac = (pts[0, 0, :, 0] == 1).double().mean()
    assert 0.45 < frac < 0.55


@given(masks())
def test_tight_box_contains_the_mask_and_touches_it(m):
    box = box_from_mask(m)                                                 # (B, P, 4)
    ys, xs = torch.meshgrid(torch.arange(m.shape[2]), torch.arange(m.shape[3]), indexing="ij")
    for i in range(m.shape[0]):
        for j in range(m.shape[1]):
            x, y = xs[m[i, j]], ys[m[i, j]]
            assert box[i, j].tolist() == [x.min().item(), y.min().item(), x.max().item(), y.max().item()]


@given(masks(), st.floats(0.0, 1.0), st.floats(0.0, 5.0), st.integers(0, 1000))
def test_jittered_boxes_stay_in_the_image_ordered_and_within_max_jitter(m, jitter, max_jitter, seed):
    tight = box_from_mask(m)
    box = sample_boxes(m, jitter, max_jitter, generator=torch.Generator().manual_seed(seed))
    h, w = m.shape[-2:]
    assert (box[..., 2] >= box[..., 0]).all() and (box[..., 3] >= box[..., 1]).all()
    assert (box >= 0).all() and (box[..., 0::2] <= w - 1).all() and (box[..., 1::2] <= h - 1).all()
    # sorting two corners that each moved by <= max_jitter keeps each within max_jitter of its tight value
    assert ((box - tight).abs() <= max_jitter + 1e-4).all()  # float32 boxes


def test_no_jitter_gives_the_tight_box_and_noise_scales_with_the_side():
    m = torch.zeros(1, 1, 200, 200, dtype=torch.bool)
    m[0, 0, 50:150, 50:150] = True                                         # side 100: std 10 px
    torch.testing.assert_close(sample_boxes(m, 0.0), box_from_mask(m))
    g = torch.Generator().manual_seed(0)
    dev = torch.stack([sample_boxes(m, 0.1, 1e9, generator=g) - box_from_mask(m) for _ in range(300)])
    assert 8.5 < dev.std() < 11.5


@given(masks(), masks(), st.integers(0, 1000))
def test_corrective_clicks_land_on_the_error_with_the_right_label(pred, gt, seed):
    if pred.shape != gt.shape:
        gt = pred.flip(-1) if pred.shape[-1] > 1 else ~pred
    pts, lab = corrective_points(pred, gt, generator=torch.Generator().manual_seed(seed))
    assert pts.shape == (*pred.shape[:2], 1, 2) and lab.shape == (*pred.shape[:2], 1)
    for i in range(pred.shape[0]):
        for j in range(pred.shape[1]):
            x, y = int(pts[i, j, 0, 0]), int(pts[i, j, 0, 1])
            if torch.equal(pred[i, j], gt[i, j]):
                assert lab[i, j, 0] == -1 and x == y == 0                  # nothing to fix: a padding point
            elif lab[i, j, 0] == 1:
                assert gt[i, j, y, x] and not pred[i, j, y, x]             # a missed pixel: foreground click
            else:
                assert lab[i, j, 0] == 0 and pred[i, j, y, x] and not gt[i, j, y, x]  # spill-over: background


def test_bad_masks_raise_clear_errors():
    empty = torch.zeros(1, 1, 4, 4, dtype=torch.bool)
    with pytest.raises(ValueError, match="empty"):
        sample_points(empty)
    with pytest.raises(ValueError, match="empty"):
        sample_boxes(empty)
    with pytest.raises(ValueError, match=r"\(B, P, H, W\)"):
        sample_points(torch.ones(4, 4, dtype=torch.bool))
    with pytest.raises(ValueError, match="binary"):
        sample_points(torch.full((1, 1, 4, 4), 0.3))
    with pytest.raises(ValueError, match="same shape"):
        corrective_points(torch.ones(1, 1, 4, 4), torch.ones(1, 1, 4, 5))
