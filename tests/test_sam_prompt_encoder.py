"""SAM's prompt encoder (Kirillov et al. 2023, App. A): random Fourier features as a fixed buffer,
point / box / padding tokens, the dense grid encoding, and clear errors on bad prompts."""
import math

import pytest
import torch

from vitcourse.sam import PromptEncoder, RandomFourierPositionalEncoding, SAMConfig

CFG = SAMConfig.tiny()


def encoder(**kw):
    pe = PromptEncoder(CFG.replace(**kw)).double()
    with torch.no_grad():
        for p in pe.parameters():
            p.normal_(0, 1)
    return pe


def test_fourier_features_are_sin_cos_pairs_of_a_fixed_gaussian():
    pe = RandomFourierPositionalEncoding(8, scale=1.0).double()
    assert [n for n, _ in pe.named_parameters()] == [] and "positional_encoding_gaussian_matrix" in dict(pe.named_buffers())
    xy = torch.rand(5, 2, dtype=torch.float64)
    out = pe(xy)                                                          # (5, 16)
    assert out.shape == (5, 16)
    torch.testing.assert_close(out[:, :8] ** 2 + out[:, 8:] ** 2, torch.ones(5, 8, dtype=torch.float64))
    g = pe.positional_encoding_gaussian_matrix
    torch.testing.assert_close(out[:, :8], torch.sin(2 * math.pi * (2 * xy - 1) @ g))


def test_fourier_scale_sets_the_frequency_spread():
    torch.manual_seed(0)
    small, big = RandomFourierPositionalEncoding(512, 1.0), RandomFourierPositionalEncoding(512, 10.0)
    assert 0.9 < small.positional_encoding_gaussian_matrix.std() < 1.1
    assert 9 < big.positional_encoding_gaussian_matrix.std() < 11


def test_grid_encodes_cell_centres_and_pixels_are_shifted_to_their_centre():
    pe = RandomFourierPositionalEncoding(4).double()
    grid = pe.grid(3, 5)                                                  # (8, 3, 5)
    assert grid.shape == (8, 3, 5)
    torch.testing.assert_close(grid[:, 1, 4], pe(torch.tensor([4.5 / 5, 1.5 / 3], dtype=torch.float64)))
    torch.testing.assert_close(pe.encode_pixels(torch.tensor([3.0, 7.0], dtype=torch.float64), 16),
                               pe(torch.tensor([3.5 / 16, 7.5 / 16], dtype=torch.float64)))


def test_point_tokens_padding_and_labels():
    pe = encoder()
    pts = torch.tensor([[[[10.0, 20.0], [30.0, 40.0]]]], dtype=torch.float64)
    sparse, dense = pe(pts, torch.tensor([[[1, 0]]]))
    assert sparse.shape == (1, 1, 3, 32) and dense.shape == (1, 32, 8, 8)  # + one "not a point" (no box)
    torch.testing.assert_close(sparse[0, 0, 2], pe.not_a_point_embed.weight[0])
    fourier = pe.pe_layer.encode_pixels(pts, 64)
    torch.testing.assert_close(sparse[0, 0, 0], fourier[0, 0, 0] + pe.point_embed[1].weight[0])
    torch.testing.assert_close(sparse[0, 0, 1], fourier[0, 0, 1] + pe.point_embed[0].weight[0])
    torch.testing.assert_close(dense, pe.no_mask_embed.weight.view(1, 32, 1, 1).expand(1, 32, 8, 8))


def test_a_padding_point_ignores_its_coordinates():
    pe = encoder()
    lab = torch.tensor([[[1, -1]]])
    a, _ = pe(torch.tensor([[[[5.0, 5.0], [0.0, 0.0]]]], dtype=torch.float64), lab)
    b, _ = pe(torch.tensor([[[[5.0, 5.0], [63.0, 12.0]]]], dtype=torch.float64), lab)
    torch.testing.assert_close(a, b)


def test_box_tokens_are_two_corners_and_no_padding_point():
    pe = encoder()
    boxes = torch.tensor([[[4.0, 8.0, 30.0, 50.0]]], dtype=torch.float64)
    sparse, _ = pe(boxes=boxes)
    assert sparse.shape == (1, 1, 2, 32)
    corners = pe.pe_layer.encode_pixels(boxes.view(1, 1, 2, 2), 64)
    torch.testing.assert_close(sparse[0, 0, 0], corners[0, 0, 0] + pe.point_embed[2].weight[0])
    torch.testing.assert_close(sparse[0, 0, 1], corners[0, 0, 1] + pe.point_embed[3].weight[0])
    both, _ = pe(torch.full((1, 1, 1, 2), 3.0, dtype=torch.float64), torch.ones(1, 1, 1, dtype=torch.long), boxes)
    assert both.shape == (1, 1, 3, 32)                                    # point + 2 corners, no padding
    torch.testing.assert_close(both[:, :, 1:], sparse)


def test_mask_prompts_give_one_dense_prompt_per_prompt():
    pe = encoder()
    masks = torch.randn(2, 3, 32, 32, dtype=torch.float64)                 # (B, P, 4h, 4w) logits
    sparse, dense = pe(masks=masks)
    assert sparse is None and dense.shape == (2, 3, 32, 8, 8)
    _, one = pe(masks=masks[1:, 2:])
    torch.testing.assert_close(one[0, 0], dense[1, 2])
    conv_shapes = [tuple(m.weight.shape) for m in pe.mask_downscaling if isinstance(m, torch.nn.Conv2d)]
    assert conv_shapes == [(4, 1, 2, 2), (16, 4, 2, 2), (32, 16, 1, 1)]   # 4x down to the embedding grid


P1, L1 = torch.full((2, 1, 1, 2), 5.0), torch.ones(2, 1, 1, dtype=torch.long)


@pytest.mark.parametrize("points, labels, boxes, match", [
    (torch.tensor([[[[64.0, 3.0]]]]), torch.ones(1, 1, 1), None, "inside the 64 x 64"),
    (torch.tensor([[[[-1.0, 3.0]]]]), torch.ones(1, 1, 1), None, "inside the 64 x 64"),
    (P1, torch.full((2, 1, 1), 2), None, "must be 1 .foreground., 0 .background. or -1"),
    (P1, torch.full((2, 1, 1), -10), None, "must be 1 .foreground., 0 .background. or -1"),
    (None, None, torch.tensor([[[30.0, 5.0, 10.0, 20.0]]]), "x1 >= x0"),
    (None, None, torch.tensor([[[5.0, 30.0, 10.0, 20.0]]]), "y1 >= y0"),
    (None, None, torch.tensor([[[5.0, 3.0, 10.0, 65.0]]]), "inside the 64 x 64"),
    (None, None, torch.tensor([[5.0, 3.0, 10.0, 20.0]]), r"\(B, P, 4\)"),
    (torch.full((2, 1, 2), 5.0), torch.ones(2, 1), None, r"\(B, P, n, 2\)"),
    (P1, torch.ones(2, 1, 2), None, r"point_labels must be \(B, P, n\)"),
    (P1, None, None, "need point_labels"),
    (None, L1, None, "without points"),
    (torch.full((2, 3, 1, 2), 5.0), torch.ones(2, 3, 1), torch.tensor([[[1.0, 1, 5, 5]]] * 2), "same prompts"),
])
def test_bad_prompts_raise_clear_errors(points, labels, boxes, match):
    with pytest.raises(ValueError, match=match):
        PromptEncoder(CFG)(points, labels, boxes)


def test_bad_mask_prompts():
    pe = PromptEncoder(CFG)
    with pytest.raises(ValueError, match=r"mask_inputs must be \(B, P, 32, 32\)"):
        pe(masks=torch.randn(2, 1, 64, 64))
    with pytest.raises(ValueError, match="one mask prompt per prompt"):
        pe(P1, L1, masks=torch.randn(2, 3, 32, 32))


def test_padding_points_may_lie_anywhere_and_batch_size_is_checked():
    pe = PromptEncoder(CFG)
    pe(torch.tensor([[[[5.0, 5.0], [-7.0, 99.0]]]]), torch.tensor([[[1, -1]]]))
    with pytest.raises(ValueError, match="for 2 images but the image embeddings hold 3"):
        pe(P1, L1, batch_size=3)
