"""MLP and the pre-norm Block (ViT, Eq. 2-3): shapes, the residual structure, weights."""
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from vitcourse.blocks import MLP, Block

TOL = dict(rtol=0, atol=1e-12)


def test_mlp_shapes_and_formula():
    mlp = MLP(6, 10).double()
    assert (mlp.fc1.in_features, mlp.fc1.out_features, mlp.fc2.out_features) == (6, 10, 6)
    x = torch.randn(2, 3, 6, dtype=torch.float64)
    y = mlp(x)
    assert y.shape == (2, 3, 6)
    torch.testing.assert_close(y, mlp.fc2(F.gelu(mlp.fc1(x))), **TOL)     # exact (erf) GELU


def test_mlp_dropout_only_in_training():
    mlp = MLP(6, 10, dropout=0.5)
    x = torch.randn(4, 3, 6)
    mlp.eval()
    torch.testing.assert_close(mlp(x), mlp(x))
    mlp.train()
    assert not torch.equal(mlp(x), mlp(x))


def block64(dim=8, heads=2, mlp_dim=16, **kw):
    block = Block(dim, heads, mlp_dim, **kw).double()
    with torch.no_grad():
        for p in block.parameters():
            p.normal_(0, 0.3)
    return block


def test_block_equals_its_equations():
    block = block64()
    x = torch.randn(2, 5, 8, dtype=torch.float64)
    h = x + block.attn(block.norm1(x))                 # x = x + MSA(LN(x))
    want = h + block.mlp(block.norm2(h))               # x = x + MLP(LN(x))
    torch.testing.assert_close(block(x), want, **TOL)


def test_block_with_zeroed_outputs_is_the_identity():
    block = block64()
    for layer in (block.attn.proj, block.mlp.fc2):
        nn.init.zeros_(layer.weight)
        nn.init.zeros_(layer.bias)
    x = torch.randn(2, 5, 8, dtype=torch.float64)
    assert torch.equal(block(x), x)
    out, w = block(x, return_weights=True)
    assert torch.equal(out, x) and w.shape == (2, 2, 5, 5)


def test_block_is_not_the_identity_otherwise():
    block = block64()
    x = torch.randn(2, 5, 8, dtype=torch.float64)
    assert (block(x) - x).abs().max() > 1e-2


def test_block_return_weights_and_masks():
    block = block64(layer_norm_eps=1e-12)
    assert block.norm1.eps == 1e-12 and block.norm2.eps == 1e-12
    x = torch.randn(3, 5, 8, dtype=torch.float64)
    out, w = block(x, return_weights=True)
    torch.testing.assert_close(out, block(x), **TOL)
    assert w.shape == (3, 2, 5, 5)
    torch.testing.assert_close(w.sum(-1), torch.ones(3, 2, 5, dtype=torch.float64), **TOL)
    _, wc = block(x, causal=True, return_weights=True)
    assert torch.all(wc.triu(1) == 0)
    mask = torch.ones(5, 5, dtype=torch.bool)
    mask[:, 2] = False
    out_m, wm = block(x, mask=mask, return_weights=True)
    torch.testing.assert_close(out_m, block(x, mask=mask), **TOL)
    assert torch.all(wm[..., 2] == 0)


def test_block_gradients_reach_every_parameter():
    block = Block(8, 2, 16)
    block(torch.randn(2, 5, 8)).pow(2).sum().backward()
    for name, p in block.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name
    names = {n for n, _ in block.named_parameters()}
    assert {"norm1.weight", "attn.qkv.weight", "attn.proj.weight", "norm2.bias", "mlp.fc1.weight",
            "mlp.fc2.bias"} <= names


def test_activations_by_name_and_unknown_name():
    import torch.nn.functional as F
    from vitcourse.blocks import make_activation
    x = torch.linspace(-4, 4, 101, dtype=torch.float64)
    assert torch.allclose(make_activation("gelu")(x), F.gelu(x))
    assert torch.allclose(make_activation("quick_gelu")(x), x * torch.sigmoid(1.702 * x))
    assert torch.allclose(make_activation("gelu_tanh")(x), F.gelu(x, approximate="tanh"))
    assert Block(8, 2, 16, act_layer="quick_gelu").mlp.act.__class__.__name__ == "QuickGELU"
    with pytest.raises(ValueError, match="unknown activation"):
        make_activation("swish")


# ---- cross-attention (decoder blocks) --------------------------------------------------------

def test_cross_attention_block_equals_its_equations():
    block = block64(cross_attention=True)
    x = torch.randn(2, 5, 8, dtype=torch.float64)
    context = torch.randn(2, 7, 8, dtype=torch.float64)
    h = x + block.attn(block.norm1(x), causal=True)                              # x = x + MSA(LN(x))
    h = h + block.cross_attn(block.norm_cross(h), context)                       # x = x + CrossMHA(LN(x), c)
    want = h + block.mlp(block.norm2(h))                                         # x = x + MLP(LN(x))
    torch.testing.assert_close(block(x, causal=True, context=context), want, **TOL)
    out, (w_self, w_cross) = block(x, causal=True, return_weights=True, context=context)
    torch.testing.assert_close(out, want, **TOL)
    assert w_self.shape == (2, 2, 5, 5) and w_cross.shape == (2, 2, 5, 7)
    assert torch.all(w_self.triu(1) == 0)
    torch.testing.assert_close(w_cross.sum(-1), torch.ones(2, 2, 5, dtype=torch.float64), **TOL)


def test_cross_attention_reads_the_context_and_its_mask():
    block = block64(cross_attention=True)
    x = torch.randn(2, 5, 8, dtype=torch.float64)
    context = torch.randn(2, 7, 8, dtype=torch.float64)
    other = context.clone()
    other[1, 3] += 1.0
    a, b = block(x, context=context), block(x, context=other)
    assert torch.equal(a[0], b[0]) and (a[1] - b[1]).abs().max() > 1e-6         # example 1 only
    keep = torch.ones(5, 7, dtype=torch.bool)
    keep[:, 3] = False                                                           # hide context token 3
    torch.testing.assert_close(block(x, context=context, context_mask=keep),
                               block(x, context=other, context_mask=keep), **TOL)
    perm = torch.randperm(7)
    torch.testing.assert_close(block(x, context=context[:, perm]), a, rtol=0, atol=1e-12)   # a set of keys


def test_cross_attention_block_gradients_and_errors():
    block = Block(8, 2, 16, cross_attention=True)
    assert {"norm_cross.weight", "cross_attn.qkv.weight", "cross_attn.proj.bias"} <= {n for n, _ in block.named_parameters()}
    block(torch.randn(2, 5, 8), context=torch.randn(2, 3, 8)).pow(2).sum().backward()
    for name, p in block.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name
    with pytest.raises(ValueError, match="pass context"):
        block(torch.randn(2, 5, 8))
    with pytest.raises(ValueError, match="without cross_attention"):
        Block(8, 2, 16)(torch.randn(2, 5, 8), context=torch.randn(2, 3, 8))
    with pytest.raises(ValueError, match=r"context must be \(B=2, M, 8\)"):
        block(torch.randn(2, 5, 8), context=torch.randn(2, 3, 6))
    assert not hasattr(Block(8, 2, 16), "cross_attn")                            # encoder blocks unchanged
