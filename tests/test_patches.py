"""patchify / unpatchify / PatchEmbed against hand loops and closed forms (ViT, Eq. 1)."""
import pytest
import torch
import torch.nn.functional as F
from einops import rearrange
from hypothesis import given
from hypothesis import strategies as st

from vitcourse.patches import PatchEmbed, patchify, unpatchify


def patchify_loop(images, p):
    """The definition, one value at a time: raster order of patches, (p1 p2 c) inside each."""
    b, c, h, w = images.shape
    gh, gw = h // p, w // p
    out = torch.empty(b, gh * gw, p * p * c, dtype=images.dtype)
    for bi in range(b):
        for i in range(gh):                  # patch row (top to bottom)
            for j in range(gw):              # patch column (left to right)
                for p1 in range(p):
                    for p2 in range(p):
                        for ci in range(c):
                            out[bi, i * gw + j, (p1 * p + p2) * c + ci] = images[bi, ci, i * p + p1, j * p + p2]
    return out


@pytest.mark.parametrize("shape, p", [((2, 3, 8, 8), 4), ((1, 2, 6, 9), 3), ((1, 1, 4, 4), 1), ((1, 3, 4, 4), 4)])
def test_patchify_matches_hand_loop(shape, p):
    x = torch.randn(*shape, dtype=torch.float64)
    assert torch.equal(patchify(x, p), patchify_loop(x, p))


def test_patchify_raster_order_and_channel_last_inside_patch():
    # pixel value encodes (channel, row, col) so the layout can be read off directly
    c, h, w, p = 2, 4, 6, 2
    ch, row, col = torch.meshgrid(torch.arange(c), torch.arange(h), torch.arange(w), indexing="ij")
    x = (100 * ch + 10 * row + col).unsqueeze(0).double()
    out = patchify(x, p)[0]                                       # (N, P*P*C)
    assert out.shape == (h * w // p ** 2, p * p * c)
    # patch 1 is the second patch of the TOP row (raster order), not the second of the left column
    # rows 0-1, columns 2-3; inside, (p1 p2 c): channel fastest, then column, then row
    assert out[1].tolist() == [2, 102, 3, 103, 12, 112, 13, 113]
    assert out[3].tolist() == [20, 120, 21, 121, 30, 130, 31, 131]   # the grid is 2 x 3: row 2 starts patch 3


@given(b=st.integers(1, 2), c=st.integers(1, 3), gh=st.integers(1, 4), gw=st.integers(1, 4), p=st.integers(1, 4))
def test_unpatchify_inverts_patchify_and_n_is_hw_over_p2(b, c, gh, gw, p):
    x = torch.randn(b, c, gh * p, gw * p)
    patches = patchify(x, p)
    assert patches.shape == (b, (gh * p) * (gw * p) // p ** 2, p * p * c)      # N = HW / P^2
    assert torch.equal(unpatchify(patches, p, (gh * p, gw * p), channels=c), x)
    assert torch.equal(patchify(unpatchify(patches, p, (gh * p, gw * p), c), p), patches)


def test_unpatchify_square_int_size():
    x = torch.randn(2, 3, 8, 8)
    assert torch.equal(unpatchify(patchify(x, 4), 4, 8), x)        # channels defaults to 3


def test_patch_embed_is_linear_on_patchify_with_rearranged_weight():
    torch.manual_seed(1)
    c, p, d = 3, 4, 5
    pe = PatchEmbed(image_size=(8, 12), patch_size=p, in_channels=c, dim=d).double()
    x = torch.randn(2, c, 8, 12, dtype=torch.float64)
    out = pe(x)
    assert out.shape == (2, 2 * 3, d) and pe.num_patches == 6 and pe.grid_size == (2, 3)
    w = pe.proj.weight                                             # (D, C, P, P)
    good = F.linear(patchify(x, p), rearrange(w, "d c p1 p2 -> d (p1 p2 c)"), pe.proj.bias)
    torch.testing.assert_close(out, good, rtol=0, atol=1e-12)
    # a plain reshape flattens (c p1 p2), which is a different linear map: the test can fail
    bad = F.linear(patchify(x, p), w.reshape(d, -1), pe.proj.bias)
    assert (out - bad).abs().max() > 1e-2


def test_patch_embed_errors():
    pe = PatchEmbed(image_size=8, patch_size=4, in_channels=3, dim=6)
    with pytest.raises(ValueError, match=r"2 channels.*expects 3"):
        pe(torch.randn(1, 2, 8, 8))
    with pytest.raises(ValueError, match=r"12x12.*expects 8x8"):
        pe(torch.randn(1, 3, 12, 12))
    with pytest.raises(ValueError, match=r"4-D.*\(3, 8, 8\).*unsqueeze"):
        pe(torch.randn(3, 8, 8))
    with pytest.raises(TypeError, match="torch.Tensor"):
        pe([[0.0]])
    with pytest.raises(ValueError, match=r"10x10.*patch_size=4.*pad.*12x12.*crop.*8x8"):
        PatchEmbed(image_size=10, patch_size=4)


def test_patchify_errors():
    with pytest.raises(ValueError, match=r"7x8 is not divisible by patch_size=4: pad .*8x8 or crop .*4x8"):
        patchify(torch.randn(1, 3, 7, 8), 4)
    with pytest.raises(ValueError, match=r"4-D batch.*\(3, 8, 8\)"):
        patchify(torch.randn(3, 8, 8), 4)
    with pytest.raises(TypeError, match="ndarray"):
        import numpy as np
        patchify(np.zeros((1, 3, 8, 8)), 4)
    for bad in (0, -2, 2.5):
        with pytest.raises(ValueError, match=f"patch_size must be a positive integer, got {bad}"):
            patchify(torch.randn(1, 3, 8, 8), bad)


def test_unpatchify_errors():
    with pytest.raises(ValueError, match=r"\(1, 4, 47\).*expected \(B, 4, 48\)"):
        unpatchify(torch.randn(1, 4, 47), 4, 8, 3)
    with pytest.raises(ValueError, match=r"\(1, 5, 48\).*expected \(B, 4, 48\)"):
        unpatchify(torch.randn(1, 5, 48), 4, 8, 3)
    with pytest.raises(ValueError, match=r"10x10 is not divisible by patch_size=4"):
        unpatchify(torch.randn(1, 4, 48), 4, 10, 3)
    with pytest.raises(ValueError, match=r"\(B, N, P\*P\*C\)"):
        unpatchify(torch.randn(4, 48), 4, 8, 3)
    with pytest.raises(TypeError, match="list"):
        unpatchify([[0.0]], 4, 8, 3)


def test_patch_embed_names_a_dtype_mismatch():
    from vitcourse.patches import PatchEmbed
    embed = PatchEmbed(8, 4, 3, 16)
    with pytest.raises(TypeError, match="uint8.*images.to"):
        embed(torch.zeros(1, 3, 8, 8, dtype=torch.uint8))
    assert embed.double()(torch.zeros(1, 3, 8, 8, dtype=torch.float64)).dtype == torch.float64
