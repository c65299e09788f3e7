"""Linear attention (Katharopoulos et al. 2020, Section 3.2): equals its explicit N x N form in float64,
causal == running sums, weights are positive and normalised, batch independence, bad input."""
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from vitcourse.blocks import Block
from vitcourse.linear_attention import LinearAttention, elu_feature_map, linear_attention

TOL = dict(rtol=0, atol=1e-12)


def explicit(q, k, v, causal=False, eps=1e-6):
    """The quadratic form: A_ij = phi(q_i).phi(k_j) (j <= i when causal), out = A V / row sums of A."""
    fq, fk = F.elu(q) + 1, F.elu(k) + 1
    n, m = q.shape[-2], k.shape[-2]
    a = torch.zeros(*q.shape[:-2], n, m, dtype=q.dtype)
    for i in range(n):
        for j in range(m):
            if not causal or j <= i:
                a[..., i, j] = (fq[..., i, :] * fk[..., j, :]).sum(-1)
    return (a @ v) / (a.sum(-1, keepdim=True) + eps)


@given(b=st.integers(1, 3), nq=st.integers(1, 6), nk=st.integers(1, 6), d=st.integers(1, 5), dv=st.integers(1, 4))
@settings(max_examples=30)
def test_equals_explicit_quadratic_form(b, nq, nk, d, dv):
    q, k, v = (torch.randn(b, 2, n, w, dtype=torch.float64) for n, w in ((nq, d), (nk, d), (nk, dv)))
    out, weights = linear_attention(q, k, v, return_weights=True)
    torch.testing.assert_close(out, explicit(q, k, v), **TOL)
    torch.testing.assert_close(weights @ v, out, **TOL)
    assert (weights > 0).all()
    sums = explicit(q, k, torch.ones(b, 2, nk, 1, dtype=torch.float64))[..., 0]   # S / (S + eps): 1 up to eps
    torch.testing.assert_close(weights.sum(-1), sums, **TOL)


@given(n=st.integers(1, 7), d=st.integers(1, 5))
@settings(max_examples=20)
def test_causal_equals_explicit_and_ignores_the_future(n, d):
    q, k, v = torch.randn(3, 2, n, d, dtype=torch.float64).unbind(0)
    out, weights = linear_attention(q, k, v, causal=True, return_weights=True)
    torch.testing.assert_close(out, explicit(q, k, v, causal=True), **TOL)
    assert (weights.triu(1) == 0).all()
    k2, v2 = k.clone(), v.clone()
    k2[:, -1], v2[:, -1] = 5.0, -5.0                                   # change only the last token's key and value
    torch.testing.assert_close(linear_attention(q, k2, v2, causal=True)[:, :-1], out[:, :-1], **TOL)


def test_feature_map_is_positive_and_elu_plus_one():
    x = torch.linspace(-30, 30, 101, dtype=torch.float64)
    assert (elu_feature_map(x) > 0).all()
    torch.testing.assert_close(elu_feature_map(x), torch.where(x > 0, x + 1, torch.exp(x)), **TOL)


def test_module_equals_heads_by_hand_and_fits_a_block():
    torch.manual_seed(0)
    attn = LinearAttention(12, 3).double()
    x = torch.randn(2, 5, 12, dtype=torch.float64)
    q, k, v = attn.qkv(x).chunk(3, dim=-1)
    heads = [explicit(q[..., 4 * h:4 * h + 4], k[..., 4 * h:4 * h + 4], v[..., 4 * h:4 * h + 4]) for h in range(3)]
    torch.testing.assert_close(attn(x), attn.proj(torch.cat(heads, -1)), **TOL)
    out, w = attn(x, causal=True, return_weights=True)
    assert out.shape == (2, 5, 12) and w.shape == (2, 3, 5, 5)
    block = Block(12, 3, 24).double()
    block.attn = attn
    assert block(x).shape == (2, 5, 12)


def test_batch_independence():
    torch.manual_seed(0)
    attn = LinearAttention(8, 2).double()
    x = torch.randn(4, 6, 8, dtype=torch.float64)
    out = attn(x)
    for i in range(4):
        torch.testing.assert_close(attn(x[i:i + 1]), out[i:i + 1], **TOL)


def test_bad_input():
    q = torch.randn(2, 4, 3)
    with pytest.raises(ValueError, match=r"same feature size d_k, got q \(2, 4, 3\) and k \(2, 4, 2\)"):
        linear_attention(q, torch.randn(2, 4, 2), torch.randn(2, 4, 3))
    with pytest.raises(ValueError, match=r"same number of tokens, got k \(2, 4, 3\) and v \(2, 5, 3\)"):
        linear_attention(q, q, torch.randn(2, 5, 3))
    with pytest.raises(ValueError, match=r"at least 2-D"):
        linear_attention(torch.randn(3), q, q)
    with pytest.raises(ValueError, match=r"as many queries as keys, got 4 and 5"):
        linear_attention(q, torch.randn(2, 5, 3), torch.randn(2, 5, 3), causal=True)
    with pytest.raises(ValueError, match=r"dim=10 must be divisible by num_heads=4"):
        LinearAttention(10, 4)
    with pytest.raises(ValueError, match=r"x must be \(B, N, 8\), got \(2, 4, 6\)"):
        LinearAttention(8, 2)(torch.randn(2, 4, 6))
    with pytest.raises(ValueError, match=r"no explicit mask"):
        LinearAttention(8, 2)(torch.randn(2, 4, 8), mask=torch.ones(4, 4, dtype=torch.bool))
