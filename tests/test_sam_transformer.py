"""SAM's two-way transformer (Kirillov et al. 2023, App. A): shapes, what each stream sees
(tokens are permutation-equivariant, the image update is invariant to the token order), the
first block's missing residual, gradients, bad input."""
import pytest
import torch

from vitcourse.sam import TwoWayAttentionBlock, TwoWayTransformer


def model(depth=2, dim=32):
    m = TwoWayTransformer(depth, dim, num_heads=2, mlp_dim=48, downsample_rate=2).double()
    with torch.no_grad():
        for p in m.parameters():
            p.normal_(0, 0.3)
    return m


def inputs(b=2, t=5, dim=32, h=4, w=3):
    return (torch.randn(b, dim, h, w, dtype=torch.float64), torch.randn(1, dim, h, w, dtype=torch.float64),
            torch.randn(b, t, dim, dtype=torch.float64))


def test_shapes_and_downsampled_cross_attention():
    m = model()
    tokens, image = m(*inputs())
    assert tokens.shape == (2, 5, 32) and image.shape == (2, 12, 32)
    block = m.layers[0]
    assert block.self_attn.internal_dim == 32 and block.cross_attn_token_to_image.internal_dim == 16
    assert block.cross_attn_image_to_token.internal_dim == 16 and m.final_attn_token_to_image.internal_dim == 16
    assert block.skip_first_layer_pe and not m.layers[1].skip_first_layer_pe


def test_tokens_are_equivariant_and_image_invariant_to_token_order():
    m = model()
    img, pe, tok = inputs()
    perm = torch.tensor([3, 0, 4, 1, 2])
    t1, i1 = m(img, pe, tok)
    t2, i2 = m(img, pe, tok[:, perm])
    torch.testing.assert_close(t2, t1[:, perm], rtol=0, atol=1e-12)
    torch.testing.assert_close(i2, i1, rtol=0, atol=1e-12)


def test_batch_elements_are_independent():
    m = model()
    img, pe, tok = inputs()
    t_all, i_all = m(img, pe, tok)
    t_one, i_one = m(img[1:], pe, tok[1:])
    torch.testing.assert_close(t_all[1:], t_one, rtol=0, atol=1e-12)
    torch.testing.assert_close(i_all[1:], i_one, rtol=0, atol=1e-12)


@pytest.mark.parametrize("skip", [True, False])
def test_block_follows_the_papers_equations(skip):
    blk = TwoWayAttentionBlock(16, 2, 32, skip_first_layer_pe=skip).double()
    with torch.no_grad():
        for p in blk.parameters():
            p.normal_(0, 0.3)
    tok, img = torch.randn(1, 3, 16, dtype=torch.float64), torch.randn(1, 6, 16, dtype=torch.float64)
    tpe, ipe = torch.randn_like(tok), torch.randn_like(img)
    if skip:   # the first block: tokens are replaced by their self-attention (no pe, no residual)
        t = blk.norm1(blk.self_attn(tok, tok, tok))
    else:
        t = blk.norm1(tok + blk.self_attn(tok + tpe, tok + tpe, tok))
    t = blk.norm2(t + blk.cross_attn_token_to_image(t + tpe, img + ipe, img))
    t = blk.norm3(t + blk.mlp(t))
    i = blk.norm4(img + blk.cross_attn_image_to_token(img + ipe, t + tpe, t))
    got_t, got_i = blk(tok, img, tpe, ipe)
    torch.testing.assert_close(got_t, t, rtol=0, atol=1e-13)
    torch.testing.assert_close(got_i, i, rtol=0, atol=1e-13)


def test_every_parameter_gets_a_gradient():
    m = model()
    tokens, image = m(*inputs())
    (tokens.sum() + image.pow(2).sum()).backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in m.parameters())


@pytest.mark.parametrize("args, match", [
    ((torch.randn(2, 16, 4, 4), torch.randn(1, 32, 4, 4), torch.randn(2, 5, 32)), r"image must be \(B, 32, h, w\)"),
    ((torch.randn(2, 32, 4, 4), torch.randn(1, 32, 4, 3), torch.randn(2, 5, 32)), "image_pe must be"),
    ((torch.randn(2, 32, 4, 4), torch.randn(1, 32, 4, 4), torch.randn(3, 5, 32)), r"tokens must be \(B=2"),
])
def test_bad_input(args, match):
    with pytest.raises(ValueError, match=match):
        TwoWayTransformer(1, 32, 2, 48)(*args)
