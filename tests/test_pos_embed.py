"""Positional encodings against closed forms, MAE's numpy reference and Hugging Face."""
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given
from hypothesis import strategies as st

from vitcourse.pos_embed import LearnedPositionalEmbedding, resize_pos_embed, sincos_2d, sinusoidal_1d


# ---- 1-D sinusoids (Vaswani et al. 2017, Section 3.5) ---------------------------------------

@given(n=st.integers(1, 20), d=st.integers(1, 13), base=st.sampled_from([10000.0, 100.0, 7.5]))
def test_sinusoidal_1d_closed_form(n, d, base):
    pe = sinusoidal_1d(n, d, base=base)
    assert pe.shape == (n, d)
    want = torch.empty(n, d, dtype=torch.float64)
    for pos in range(n):
        for j in range(d):
            i = j // 2                                   # column 2i is sin, 2i + 1 is cos
            angle = pos / base ** (2 * i / d)
            want[pos, j] = math.sin(angle) if j % 2 == 0 else math.cos(angle)
    torch.testing.assert_close(pe.double(), want, rtol=0, atol=1e-6)


def test_sinusoidal_1d_i_am_a_robot():
    # the classic worked example: "I am a robot" with n = 100 (the base) and d = 4; the table
    # printed there to two decimals, positions 0..3
    pe = sinusoidal_1d(4, 4, base=100.0)
    want = torch.tensor([[0.00, 1.00, 0.00, 1.00],
                         [0.84, 0.54, 0.10, 1.00],
                         [0.91, -0.42, 0.20, 0.98],
                         [0.14, -0.99, 0.30, 0.96]])
    torch.testing.assert_close(pe, want, rtol=0, atol=0.005)


def test_sinusoidal_1d_odd_dim_and_positions():
    pe = sinusoidal_1d(6, 5)
    assert pe.shape == (6, 5)
    torch.testing.assert_close(pe[:, 4], torch.sin(torch.arange(6.0) / 10000 ** (4 / 5)))   # last column is a sin
    frac = sinusoidal_1d(3, 6, positions=[0.5, 1.5, 2.5])
    torch.testing.assert_close(frac[1, 0], torch.tensor(math.sin(1.5)))
    # relative positions: PE[pos + k] is a rotation of PE[pos] in each (sin, cos) pair
    pe = sinusoidal_1d(10, 8).double()
    k, w = 3, 1 / 10000 ** (torch.arange(0, 8, 2, dtype=torch.float64) / 8)
    s, c = pe[:-k, 0::2], pe[:-k, 1::2]
    torch.testing.assert_close(pe[k:, 0::2], s * torch.cos(k * w) + c * torch.sin(k * w), rtol=0, atol=1e-6)


@pytest.mark.parametrize("n, d", [(0, 4), (4, 0), (-1, 4)])
def test_sinusoidal_1d_errors(n, d):
    with pytest.raises(ValueError, match=f"got {n} and {d}"):
        sinusoidal_1d(n, d)


# ---- 2-D sin-cos, MAE convention (He et al. 2022) ---------------------------------------------

def mae_reference(embed_dim, grid_h, grid_w, cls_token=False):
    """MAE's util/pos_embed.py, written out in numpy (grid_w first in the meshgrid, then concat)."""
    def one_d(dim, pos):
        omega = np.arange(dim // 2, dtype=np.float64) / (dim / 2.0)
        omega = 1.0 / 10000 ** omega
        out = np.einsum("m,d->md", pos.reshape(-1), omega)
        return np.concatenate([np.sin(out), np.cos(out)], axis=1)
    grid = np.meshgrid(np.arange(grid_w, dtype=np.float64), np.arange(grid_h, dtype=np.float64))
    grid = np.stack(grid, axis=0).reshape(2, 1, grid_h, grid_w)
    emb = np.concatenate([one_d(embed_dim // 2, grid[0]), one_d(embed_dim // 2, grid[1])], axis=1)
    if cls_token:
        emb = np.concatenate([np.zeros([1, embed_dim]), emb], axis=0)
    return emb


@pytest.mark.parametrize("gh, gw, d", [(4, 4, 16), (3, 5, 8), (14, 14, 64), (1, 2, 4)])
def test_sincos_2d_matches_mae_numpy(gh, gw, d):
    ours = sincos_2d(gh, gw, d)
    assert ours.shape == (gh * gw, d) and ours.dtype == torch.float32
    torch.testing.assert_close(ours.double(), torch.from_numpy(mae_reference(d, gh, gw)), rtol=0, atol=1e-6)


def test_sincos_2d_layout_closed_form():
    gh, gw, d = 3, 4, 8
    pe = sincos_2d(gh, gw, d).double()
    omega = 10000.0 ** (-torch.arange(d // 4, dtype=torch.float64) / (d // 4))
    for row in range(gh):
        for col in range(gw):
            want = torch.cat([torch.sin(col * omega), torch.cos(col * omega),
                              torch.sin(row * omega), torch.cos(row * omega)])
            torch.testing.assert_close(pe[row * gw + col], want, rtol=0, atol=1e-6)


def test_sincos_2d_cls_row_is_zero():
    pe = sincos_2d(4, 4, 16, cls_token=True)
    assert pe.shape == (17, 16)
    assert torch.equal(pe[0], torch.zeros(16))
    assert torch.equal(pe[1:], sincos_2d(4, 4, 16))
    torch.testing.assert_close(pe.double(), torch.from_numpy(mae_reference(16, 4, 4, cls_token=True)),
                               rtol=0, atol=1e-6)


def test_sincos_2d_matches_hugging_face_vit_mae():
    mae = pytest.importorskip("transformers.models.vit_mae.modeling_vit_mae")
    # transformers 5.x: no get_2d_sincos_pos_embed; a [sin_h|cos_h|sin_w|cos_w] builder whose halves
    # ViTMAEEmbeddings.initialize_weights swaps to MAE's pre-trained layout. Compare that table.
    config = mae.ViTMAEConfig(image_size=24, patch_size=4, hidden_size=32, num_hidden_layers=1,
                              num_attention_heads=2, intermediate_size=16)
    emb = mae.ViTMAEEmbeddings(config)
    emb.initialize_weights()
    theirs = emb.position_embeddings.detach()[0]                   # (1 + 36, 32)
    torch.testing.assert_close(sincos_2d(6, 6, 32, cls_token=True), theirs, rtol=0, atol=1e-6)
    if hasattr(mae, "build_2d_sinusoidal_position_embedding"):     # non-square grid, halves swapped
        hf = mae.build_2d_sinusoidal_position_embedding(3, 5, 16, dtype=torch.float64)
        torch.testing.assert_close(sincos_2d(3, 5, 16).double(), torch.cat([hf[:, 8:], hf[:, :8]], 1),
                                   rtol=0, atol=1e-6)


@pytest.mark.parametrize("d", [6, 10, 0])
def test_sincos_2d_dim_not_divisible_by_4(d):
    with pytest.raises(ValueError, match=f"divisible by 4.*got {d}"):
        sincos_2d(2, 2, d)


def test_sincos_2d_empty_grid():
    with pytest.raises(ValueError, match="grid_h=0, grid_w=3"):
        sincos_2d(0, 3, 8)


# ---- learned table (ViT, Section 3.1) -----------------------------------------------------------

def test_learned_positional_embedding():
    pe = LearnedPositionalEmbedding(5, 8)
    assert pe.pos_embed.shape == (1, 5, 8) and pe.pos_embed.requires_grad
    assert 0.005 < pe.pos_embed.std().item() < 0.05                  # trunc-normal(0.02)
    x = torch.randn(3, 5, 8)
    y = pe(x)
    torch.testing.assert_close(y - x, pe.pos_embed.expand(3, -1, -1))
    y.pow(2).sum().backward()
    assert pe.pos_embed.grad is not None and pe.pos_embed.grad.abs().sum() > 0
    with pytest.raises(ValueError, match=r"\(B, 5, 8\), got \(3, 6, 8\)"):
        pe(torch.randn(3, 6, 8))
    with pytest.raises(ValueError, match=r"\(B, 5, 8\), got \(5, 8\)"):
        pe(torch.randn(5, 8))


# ---- resizing (ViT, Section 3.2) ----------------------------------------------------------------

def test_resize_pos_embed_identity_at_same_size():
    table = torch.randn(1, 1 + 16, 6, dtype=torch.float64)
    torch.testing.assert_close(resize_pos_embed(table, 4), table, rtol=0, atol=1e-12)


@pytest.mark.parametrize("old, new, prefix", [((4, 4), (6, 6), 1), ((4, 4), (3, 5), 1), ((2, 3), (4, 6), 0),
                                              ((3, 3), (5, 5), 2)])
def test_resize_pos_embed_is_bicubic_on_the_grid_and_keeps_prefix(old, new, prefix):
    d = 5
    table = torch.randn(1, prefix + old[0] * old[1], d, dtype=torch.float64)
    out = resize_pos_embed(table, new, num_prefix_tokens=prefix, old_grid=old if old[0] != old[1] else None)
    assert out.shape == (1, prefix + new[0] * new[1], d)
    assert torch.equal(out[:, :prefix], table[:, :prefix])
    image = table[0, prefix:].T.reshape(1, d, *old)                  # (1, D, h, w)
    want = F.interpolate(image, size=new, mode="bicubic", align_corners=False)
    torch.testing.assert_close(out[0, prefix:], want.reshape(d, -1).T, rtol=0, atol=1e-12)


def test_resize_pos_embed_matches_hugging_face_vit():
    vit = pytest.importorskip("transformers.models.vit.modeling_vit")
    config = vit.ViTConfig(image_size=16, patch_size=4, hidden_size=8, num_hidden_layers=1,
                           num_attention_heads=2, intermediate_size=16)
    emb = vit.ViTEmbeddings(config).double()
    with torch.no_grad():
        emb.position_embeddings.normal_()
    table = emb.position_embeddings.detach()                          # (1, 1 + 16, 8)
    for h, w in [(24, 24), (12, 20), (32, 16)]:
        tokens = torch.zeros(1, 1 + (h // 4) * (w // 4), 8, dtype=torch.float64)
        theirs = emb.interpolate_pos_encoding(tokens, h, w).detach()
        torch.testing.assert_close(resize_pos_embed(table, (h // 4, w // 4)), theirs, rtol=0, atol=1e-12)


def test_resize_pos_embed_errors():
    table = torch.randn(1, 1 + 12, 4)
    with pytest.raises(ValueError, match="12 patch positions is not a square grid: pass old_grid"):
        resize_pos_embed(table, 4)
    with pytest.raises(ValueError, match="old_grid 4x4 does not match 12"):
        resize_pos_embed(table, 4, old_grid=(4, 4))
    with pytest.raises(ValueError, match=r"\(1, T, D\), got \(13, 4\)"):
        resize_pos_embed(table[0], 4)
    with pytest.raises(ValueError, match=r"\(1, T, D\), got \(2, 13, 4\)"):
        resize_pos_embed(table.expand(2, -1, -1), 4)
    with pytest.raises(ValueError, match=r"num_prefix_tokens=20 must be in \[0, 13\]"):
        resize_pos_embed(table, 4, num_prefix_tokens=20)
    with pytest.raises(ValueError, match="new_grid must be positive, got 0x3"):
        resize_pos_embed(table, (0, 3), old_grid=(3, 4))
