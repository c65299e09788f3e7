"""Attention (Vaswani et al. 2017, Sections 3.2.1-3.2.2): explicit == torch's fused kernel,
probabilities, masks, multi-head reference, equivariance, batch independence, bad input."""
import math

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given
from hypothesis import strategies as st

from torch import nn
from vitcourse.attention import Attention, MultiHeadAttention, causal_mask, scaled_dot_product_attention

TOL = dict(rtol=0, atol=1e-12)


def f64(*shape):
    return torch.randn(*shape, dtype=torch.float64)


def mha64(dim=12, heads=3, **kw):
    attn = MultiHeadAttention(dim, heads, **kw).double()
    with torch.no_grad():                       # non-zero biases, so a missing bias would show
        for p in attn.parameters():
            p.normal_(0, 0.3)
    return attn


# ---- scaled dot-product attention ---------------------------------------------------------------

@given(b=st.integers(1, 3), nq=st.integers(1, 6), nk=st.integers(1, 6), d=st.integers(1, 8), dv=st.integers(1, 5))
def test_explicit_equals_torch_fused_without_mask(b, nq, nk, d, dv):
    q, k, v = f64(b, nq, d), f64(b, nk, d), f64(b, nk, dv)
    out, w = scaled_dot_product_attention(q, k, v)
    assert out.shape == (b, nq, dv) and w.shape == (b, nq, nk)
    torch.testing.assert_close(out, F.scaled_dot_product_attention(q, k, v), **TOL)
    torch.testing.assert_close(w.sum(-1), torch.ones(b, nq, dtype=torch.float64), **TOL)   # rows sum to 1
    assert (w >= 0).all()


@given(seed=st.integers(0, 2 ** 16), shape=st.sampled_from(["2d", "4d", "broadcast_heads"]))
def test_explicit_equals_torch_fused_with_boolean_mask(seed, shape):
    g = torch.Generator().manual_seed(seed)
    b, h, nq, nk, d = 2, 3, 5, 7, 4
    q, k, v = (torch.randn(b, h, n, d, generator=g, dtype=torch.float64) for n in (nq, nk, nk))
    mshape = {"2d": (nq, nk), "4d": (b, h, nq, nk), "broadcast_heads": (b, 1, nq, nk)}[shape]
    mask = torch.rand(mshape, generator=g) > 0.5
    mask[..., 0] = True                                           # every query sees at least one key
    out, w = scaled_dot_product_attention(q, k, v, mask)
    torch.testing.assert_close(out, F.scaled_dot_product_attention(q, k, v, attn_mask=mask), **TOL)
    assert torch.all(w.masked_select(~mask.expand_as(w)) == 0)   # masked keys get exactly zero weight
    torch.testing.assert_close(w.sum(-1), torch.ones(b, h, nq, dtype=torch.float64), **TOL)


def test_closed_form_and_scaling():
    q, k, v = f64(4, 3), f64(5, 3), f64(5, 2)
    out, w = scaled_dot_product_attention(q, k, v)
    want_w = torch.softmax(q @ k.T / math.sqrt(3), dim=-1)
    torch.testing.assert_close(w, want_w, **TOL)
    torch.testing.assert_close(out, want_w @ v, **TOL)
    # one key per query: the output is that value, whatever the scores
    out1, w1 = scaled_dot_product_attention(q, k[:1], v[:1])
    torch.testing.assert_close(out1, v[:1].expand(4, -1), **TOL)
    assert torch.equal(w1, torch.ones(4, 1, dtype=torch.float64))


def test_fully_masked_query_gets_zero_weights_like_torch():
    q, k, v = f64(2, 4, 3), f64(2, 5, 3), f64(2, 5, 2)
    mask = torch.ones(4, 5, dtype=torch.bool)
    mask[1] = False
    q.requires_grad_(True)
    out, w = scaled_dot_product_attention(q, k, v, mask)
    assert torch.equal(w[:, 1], torch.zeros(2, 5, dtype=torch.float64))
    torch.testing.assert_close(out, F.scaled_dot_product_attention(q, k, v, attn_mask=mask), **TOL)
    out.sum().backward()
    assert torch.isfinite(q.grad).all()


def test_causal_mask():
    m = causal_mask(4)
    assert m.dtype == torch.bool and m.shape == (4, 4)
    assert m.tolist() == [[True, False, False, False], [True, True, False, False],
                          [True, True, True, False], [True, True, True, True]]
    q, k, v = f64(1, 4, 3), f64(1, 4, 3), f64(1, 4, 3)
    _, w = scaled_dot_product_attention(q, k, v, m)
    assert torch.all(w.triu(1) == 0) and w[0, 0, 0] == 1
    torch.testing.assert_close(scaled_dot_product_attention(q, k, v, m)[0],
                               F.scaled_dot_product_attention(q, k, v, is_causal=True), **TOL)


def test_sdpa_errors():
    q, k, v = f64(2, 4, 3), f64(2, 5, 3), f64(2, 5, 2)
    with pytest.raises(ValueError, match=r"same feature size d_k.*\(2, 4, 3\).*\(2, 5, 6\)"):
        scaled_dot_product_attention(q, f64(2, 5, 6), v)
    with pytest.raises(ValueError, match=r"same number of tokens.*\(2, 5, 3\).*\(2, 6, 2\)"):
        scaled_dot_product_attention(q, k, f64(2, 6, 2))
    with pytest.raises(ValueError, match="mask must be boolean.*float32"):
        scaled_dot_product_attention(q, k, v, torch.ones(4, 5))
    with pytest.raises(ValueError, match=r"mask of shape \(4, 4\) does not broadcast.*\(2, 4, 5\)"):
        scaled_dot_product_attention(q, k, v, torch.ones(4, 4, dtype=torch.bool))
    with pytest.raises(ValueError, match=r"mask of shape \(3, 2, 4, 5\) does not broadcast"):
        scaled_dot_product_attention(q, k, v, torch.ones(3, 2, 4, 5, dtype=torch.bool))   # would add a dim
    with pytest.raises(ValueError, match="at least 2-D"):
        scaled_dot_product_attention(f64(3), k, v)


# ---- multi-head attention ------------------------------------------------------------------------

def mha_reference(attn, x, context=None, mask=None):
    """Per-head loop over the fused qkv weight: q = W_q x, k = W_k c, v = W_v c; concat; proj."""
    context = x if context is None else context
    d, h = attn.dim, attn.num_heads
    hd = d // h
    w, b = attn.qkv.weight, attn.qkv.bias
    q = x @ w[:d].T + b[:d]
    k = context @ w[d:2 * d].T + b[d:2 * d]
    v = context @ w[2 * d:].T + b[2 * d:]
    heads, weights = [], []
    for i in range(h):
        s = slice(i * hd, (i + 1) * hd)
        scores = q[..., s] @ k[..., s].transpose(-2, -1) / math.sqrt(hd)
        if mask is not None:
            scores = scores.masked_fill(~mask, float("-inf"))
        a = scores.softmax(-1)
        heads.append(a @ v[..., s])
        weights.append(a)
    return attn.proj(torch.cat(heads, -1)), torch.stack(weights, 1)


def test_mha_matches_per_head_reference_and_fused_equals_explicit():
    attn = mha64(12, 3)
    x = f64(2, 5, 12)
    fused = attn(x)
    explicit, w = attn(x, return_weights=True)
    ref, ref_w = mha_reference(attn, x)
    assert fused.shape == (2, 5, 12) and w.shape == (2, 3, 5, 5)
    torch.testing.assert_close(fused, ref, **TOL)
    torch.testing.assert_close(explicit, fused, **TOL)
    torch.testing.assert_close(w, ref_w, **TOL)
    torch.testing.assert_close(w.sum(-1), torch.ones(2, 3, 5, dtype=torch.float64), **TOL)


def test_mha_cross_attention_with_a_longer_context():
    attn = mha64(8, 2)
    x, ctx = f64(2, 3, 8), f64(2, 7, 8)
    out, w = attn(x, ctx, return_weights=True)
    ref, ref_w = mha_reference(attn, x, ctx)
    assert out.shape == (2, 3, 8) and w.shape == (2, 2, 3, 7)
    torch.testing.assert_close(out, ref, **TOL)
    torch.testing.assert_close(attn(x, ctx), out, **TOL)
    torch.testing.assert_close(w, ref_w, **TOL)
    # the context is a set: permuting it changes nothing
    perm = torch.randperm(7)
    torch.testing.assert_close(attn(x, ctx[:, perm]), out, **TOL)


def test_mha_masks_fused_equals_explicit():
    attn = mha64(8, 2)
    x = f64(3, 6, 8)
    per_sample = torch.rand(3, 6, 6) > 0.4
    per_sample[..., 0] = True
    for mask in (per_sample, per_sample[0], per_sample[:, None].expand(3, 2, 6, 6)):
        fused = attn(x, mask=mask)
        explicit, w = attn(x, mask=mask, return_weights=True)
        torch.testing.assert_close(fused, explicit, **TOL)
        blocked = ~(mask[:, None] if mask.dim() == 3 else mask).expand_as(w)   # (B, N, M) is per sample
        assert blocked.any() and torch.all(w[blocked] == 0)
    # a (B, N, M) mask is per sample: sample 1 alone with its own mask gives the same answer
    torch.testing.assert_close(attn(x, mask=per_sample)[1:2], attn(x[1:2], mask=per_sample[1]), **TOL)
    ref, _ = mha_reference(attn, x, mask=per_sample)
    torch.testing.assert_close(attn(x, mask=per_sample), ref, **TOL)


def test_mha_causal_equals_tril_mask_and_future_does_not_leak():
    attn = mha64(8, 2)
    x = f64(2, 6, 8)
    out = attn(x, causal=True)
    torch.testing.assert_close(out, attn(x, mask=torch.ones(6, 6, dtype=torch.bool).tril()), **TOL)
    out_e, w = attn(x, causal=True, return_weights=True)
    torch.testing.assert_close(out_e, out, **TOL)
    assert torch.all(w.triu(1) == 0)
    # changing tokens 3.. leaves outputs 0..2 exactly as they were, and changes token 3's
    y = x.clone()
    y[:, 3:] = f64(2, 3, 8)
    out_y = attn(y, causal=True)
    torch.testing.assert_close(out_y[:, :3], out[:, :3], **TOL)
    assert (out_y[:, 3] - out[:, 3]).abs().max() > 1e-3
    # causal combined with a padding mask: both apply
    pad = torch.ones(6, 6, dtype=torch.bool)
    pad[:, 1] = False
    torch.testing.assert_close(attn(x, mask=pad, causal=True), attn(x, mask=pad & causal_mask(6)), **TOL)


def test_mha_self_attention_is_permutation_equivariant():
    attn = mha64(8, 2)
    x = f64(2, 7, 8)
    perm = torch.randperm(7)
    torch.testing.assert_close(attn(x[:, perm]), attn(x)[:, perm], **TOL)
    _, w = attn(x, return_weights=True)
    _, wp = attn(x[:, perm], return_weights=True)
    torch.testing.assert_close(wp, w[:, :, perm][:, :, :, perm], **TOL)


def test_mha_batch_independence():
    attn = mha64(8, 2)
    x = f64(5, 4, 8)
    full = attn(x)
    for i in range(5):
        torch.testing.assert_close(attn(x[i:i + 1]), full[i:i + 1], **TOL)
    y = x.clone()
    y[0] = f64(4, 8)                                              # change one sample
    torch.testing.assert_close(attn(y)[1:], full[1:], **TOL)


def test_mha_no_qkv_bias_and_gradients():
    attn = MultiHeadAttention(8, 4, qkv_bias=False)
    assert attn.qkv.bias is None and attn.proj.bias is not None
    assert attn.head_dim == 2
    x = torch.randn(2, 3, 8)
    attn(x, f64(2, 5, 8).float()).sum().backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in attn.parameters())


def test_mha_errors():
    with pytest.raises(ValueError, match="dim=10 must be divisible by num_heads=3"):
        MultiHeadAttention(10, 3)
    with pytest.raises(ValueError, match="num_heads=0"):
        MultiHeadAttention(8, 0)
    attn = MultiHeadAttention(8, 2)
    x = torch.randn(2, 4, 8)
    with pytest.raises(ValueError, match=r"x must be \(B, N, 8\), got \(2, 4, 6\)"):
        attn(torch.randn(2, 4, 6))
    with pytest.raises(ValueError, match=r"x must be \(B, N, 8\), got \(4, 8\)"):
        attn(torch.randn(4, 8))
    with pytest.raises(ValueError, match=r"context must be \(B=2, M, 8\), got \(3, 5, 8\)"):
        attn(x, torch.randn(3, 5, 8))
    with pytest.raises(ValueError, match=r"context must be \(B=2, M, 8\), got \(2, 5, 4\)"):
        attn(x, torch.randn(2, 5, 4))
    with pytest.raises(ValueError, match="causal=True is for self-attention"):
        attn(x, torch.randn(2, 5, 8), causal=True)
    with pytest.raises(ValueError, match="boolean.*float32"):
        attn(x, mask=torch.ones(4, 4))
    with pytest.raises(ValueError, match="boolean.*float32"):
        attn(x, mask=torch.ones(4, 4), causal=True)
    with pytest.raises(ValueError, match=r"mask of shape \(4, 5\) does not broadcast.*\(2, 2, 4, 4\)"):
        attn(x, mask=torch.ones(4, 5, dtype=torch.bool))
    with pytest.raises(ValueError, match=r"mask of shape \(3, 1, 4, 4\) does not broadcast"):
        attn(x, mask=torch.ones(3, 4, 4, dtype=torch.bool))


# --- Attention: separate q/k/v/out projections (DETR, SAM) -------------------------------------------

def test_attention_matches_torch_multihead_attention_float64():
    """Same maths as torch's nn.MultiheadAttention with separate key/value inputs (DETR's layer)."""
    torch.manual_seed(0)
    ref = nn.MultiheadAttention(16, 4, batch_first=True).double()
    ours = Attention(16, 4).double()
    w, b = ref.in_proj_weight.chunk(3), ref.in_proj_bias.chunk(3)
    with torch.no_grad():
        for lin, wi, bi in zip((ours.q_proj, ours.k_proj, ours.v_proj), w, b):
            lin.weight.copy_(wi), lin.bias.copy_(bi)
        ours.out_proj.weight.copy_(ref.out_proj.weight), ours.out_proj.bias.copy_(ref.out_proj.bias)
    q, k, v = (torch.randn(2, n, 16, dtype=torch.float64) for n in (3, 7, 7))
    expected, expected_w = ref(q, k, v, average_attn_weights=False)
    got, weights = ours(q, k, v, return_weights=True)
    assert torch.allclose(got, expected, atol=1e-12) and torch.allclose(weights, expected_w, atol=1e-12)
    assert torch.allclose(ours(q, k, v), expected, atol=1e-12)                 # fused path too


def test_attention_internal_dim_and_key_dim_and_errors():
    attn = Attention(16, 2, internal_dim=8, key_dim=12)
    assert attn(torch.randn(2, 3, 16), torch.randn(2, 5, 12), torch.randn(2, 5, 12)).shape == (2, 3, 16)
    assert attn.q_proj.out_features == 8 and attn.k_proj.in_features == 12
    with pytest.raises(ValueError, match="divisible"):
        Attention(16, 3)
    with pytest.raises(ValueError, match="key must be"):
        attn(torch.randn(2, 3, 16), torch.randn(2, 5, 16), torch.randn(2, 5, 12))
    with pytest.raises(ValueError, match="same number of tokens"):
        attn(torch.randn(2, 3, 16), torch.randn(2, 5, 12), torch.randn(2, 4, 12))
    with pytest.raises(ValueError, match="query must be"):
        attn(torch.randn(3, 16))
