"""Window attention (Swin, Liu et al. 2021, Section 3.2): partition/reverse, one window == full attention,
windows == full attention with a block-diagonal mask, the shifted-window mask against a brute-force
construction, batch independence, bad input."""
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from vitcourse.attention import MultiHeadAttention
from vitcourse.blocks import Block
from vitcourse.window_attention import WindowAttention, shifted_window_mask, window_partition, window_reverse

TOL = dict(rtol=0, atol=1e-12)


def pair(dim=12, heads=3, window=2, shift=0, grid=None):
    """A float64 WindowAttention and a MultiHeadAttention with the same (random, non-zero) weights."""
    torch.manual_seed(0)
    win = WindowAttention(dim, heads, window, shift, grid_size=grid).double()
    with torch.no_grad():
        for p in win.parameters():
            p.normal_(0, 0.3)
    full = MultiHeadAttention(dim, heads).double()
    full.load_state_dict(win.state_dict())
    return win, full


def brute_force_mask(h, w, m, s):
    """(N, N) mask over the rolled grid (row-major): same window, and neither or both wrapped on each axis."""
    n = h * w
    mask = torch.zeros(n, n, dtype=torch.bool)
    for p in range(n):
        for q in range(n):
            (r1, c1), (r2, c2) = divmod(p, w), divmod(q, w)
            same_window = r1 // m == r2 // m and c1 // m == c2 // m
            same_side = (r1 + s >= h) == (r2 + s >= h) and (c1 + s >= w) == (c2 + s >= w)
            mask[p, q] = same_window and same_side
    return mask


@given(b=st.integers(1, 3), nh=st.integers(1, 3), nw=st.integers(1, 3), m=st.integers(1, 4), c=st.integers(1, 5))
@settings(max_examples=30)
def test_window_reverse_inverts_partition(b, nh, nw, m, c):
    x = torch.randn(b, nh * m, nw * m, c)
    win = window_partition(x, m)
    assert win.shape == (b * nh * nw, m * m, c)
    assert torch.equal(win[0].reshape(m, m, c), x[0, :m, :m])                 # window 0 = the top-left M x M block
    assert torch.equal(win[nh * nw - 1].reshape(m, m, c), x[0, -m:, -m:])     # the last window of image 0
    assert torch.equal(window_reverse(win, m, nh * m, nw * m), x)


def test_one_window_covering_all_tokens_equals_full_attention():
    win, full = pair(window=4)
    x = torch.randn(2, 4, 4, 12, dtype=torch.float64)
    out, w = win(x, return_weights=True)
    ref, ref_w = full(x.reshape(2, 16, 12), return_weights=True)
    torch.testing.assert_close(out.reshape(2, 16, 12), ref, **TOL)
    torch.testing.assert_close(w[:, 0], ref_w, **TOL)
    torch.testing.assert_close(win(x), out, rtol=0, atol=1e-10)               # fused path == explicit path


@pytest.mark.parametrize("h,w,m", [(4, 4, 2), (6, 4, 2), (6, 6, 3), (4, 8, 4)])
def test_windows_equal_full_attention_with_block_diagonal_mask(h, w, m):
    win, full = pair(window=m)
    x = torch.randn(2, h, w, 12, dtype=torch.float64)
    rows, cols = torch.arange(h).repeat_interleave(w), torch.arange(w).repeat(h)   # row-major token coordinates
    block = (rows[:, None] // m == rows[None, :] // m) & (cols[:, None] // m == cols[None, :] // m)
    ref = full(x.reshape(2, h * w, 12), mask=block)
    torch.testing.assert_close(win(x, return_weights=True)[0].reshape(2, h * w, 12), ref, **TOL)


@pytest.mark.parametrize("h,w,m,s", [(4, 4, 2, 1), (6, 6, 3, 1), (6, 6, 3, 2), (8, 4, 4, 2), (4, 4, 4, 2)])
def test_shifted_mask_blocks_exactly_the_cross_region_pairs(h, w, m, s):
    mask = shifted_window_mask(h, w, m, s)                                    # (nW, M*M, M*M)
    n_win = (h // m) * (w // m)
    assert mask.shape == (n_win, m * m, m * m) and mask.dtype == torch.bool
    ids = window_partition(torch.arange(h * w).reshape(1, h, w, 1), m).squeeze(-1)   # (nW, M*M) token ids
    full = torch.zeros(h * w, h * w, dtype=torch.bool)
    for i in range(n_win):
        full[ids[i][:, None], ids[i][None, :]] = mask[i]
    assert torch.equal(full, brute_force_mask(h, w, m, s))
    assert mask[0].all() == (h > m and w > m)                                 # top-left wraps only if one window wide
    assert not mask[-1].all()                                                 # the bottom-right one holds 4 regions


@pytest.mark.parametrize("h,w,m,s", [(4, 4, 2, 1), (6, 6, 3, 1), (8, 4, 4, 2)])
def test_shifted_window_attention_equals_masked_full_attention_on_the_rolled_grid(h, w, m, s):
    win, full = pair(window=m, shift=s)
    x = torch.randn(2, h, w, 12, dtype=torch.float64)
    rolled = torch.roll(x, (-s, -s), (1, 2)).reshape(2, h * w, 12)
    ref = full(rolled, mask=brute_force_mask(h, w, m, s), return_weights=True)[0]
    ref = torch.roll(ref.reshape(2, h, w, 12), (s, s), (1, 2))
    torch.testing.assert_close(win(x, return_weights=True)[0], ref, **TOL)
    torch.testing.assert_close(win(x), ref, rtol=0, atol=1e-10)


def test_token_sequence_input_and_block_swap():
    win, _ = pair(window=2, shift=1, grid=(4, 6))
    x = torch.randn(3, 4, 6, 12, dtype=torch.float64)
    torch.testing.assert_close(win(x.reshape(3, 24, 12)), win(x).reshape(3, 24, 12), **TOL)
    block = Block(12, 3, 24).double()
    block.attn = win
    assert block(x.reshape(3, 24, 12)).shape == (3, 24, 12)


def test_batch_independence_and_gradients():
    win, _ = pair(window=2, shift=1)
    x = torch.randn(3, 4, 4, 12, dtype=torch.float64, requires_grad=True)
    out = win(x)
    for i in range(3):
        torch.testing.assert_close(win(x[i:i + 1]), out[i:i + 1], rtol=0, atol=1e-12)
    out[1].sum().backward()
    assert x.grad[0].abs().max() == 0 and x.grad[2].abs().max() == 0 and x.grad[1].abs().max() > 0


def test_bad_input():
    with pytest.raises(ValueError, match=r"5x4 token grid is not divisible by window_size=2: pad the grid to 6x4"):
        window_partition(torch.randn(1, 5, 4, 3), 2)
    with pytest.raises(ValueError, match=r"shift_size must be an integer in \[0, window_size=2\), got 2"):
        WindowAttention(8, 2, 2, shift_size=2)
    with pytest.raises(ValueError, match=r"got -1"):
        shifted_window_mask(4, 4, 2, -1)
    with pytest.raises(ValueError, match=r"dim=10 must be divisible by num_heads=3"):
        WindowAttention(10, 3, 2)
    with pytest.raises(ValueError, match=r"window_size must be a positive integer, got 0"):
        WindowAttention(8, 2, 0)
    with pytest.raises(ValueError, match=r"6x6 token grid is not divisible by window_size=4"):
        WindowAttention(8, 2, 4, grid_size=(6, 6))
    with pytest.raises(ValueError, match=r"6x6 token grid is not divisible by window_size=4"):
        WindowAttention(8, 2, 4)(torch.randn(1, 6, 6, 8))
    with pytest.raises(ValueError, match=r"x must be \(B, H, W, 8\), got \(1, 16, 8\)"):
        WindowAttention(8, 2, 2)(torch.randn(1, 16, 8))
    with pytest.raises(ValueError, match=r"or \(B, 16, 8\), got \(1, 15, 8\)"):
        WindowAttention(8, 2, 2, grid_size=(4, 4))(torch.randn(1, 15, 8))
    with pytest.raises(ValueError, match="builds its own window mask"):
        WindowAttention(8, 2, 2)(torch.randn(1, 4, 4, 8), causal=True)
    with pytest.raises(ValueError, match=r"windows must be \(B \* 4, 4, C\)"):
        window_reverse(torch.randn(3, 4, 8), 2, 4, 4)
    with pytest.raises(ValueError, match=r"\(B, H, W, C\) token grid"):
        window_partition(torch.randn(4, 4, 3), 2)
