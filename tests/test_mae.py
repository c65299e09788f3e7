"""MAE: random masking, the loss on masked patches, the encoder on visible patches only, errors."""
import math

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from vitcourse import ViT, patchify, sincos_2d
from vitcourse.mae import MAE, mae_loss, mae_tiny, random_masking, vit_from_mae


def small(**kw):
    return MAE(mae_tiny(**{**dict(in_channels=2, dim=32, depth=2, num_heads=4, mlp_dim=48, decoder_dim=24,
                                  decoder_depth=2, decoder_num_heads=2, decoder_mlp_dim=40), **kw}))


def batch(model, b=3, dtype=torch.float32):
    c = model.config
    return torch.randn(b, c.in_channels, c.image_size, c.image_size, dtype=dtype)


# ---- random_masking -------------------------------------------------------------------------

@pytest.mark.parametrize("length, ratio, keep", [(100, 0.9, 9), (196, 0.75, 49), (16, 0.75, 4), (16, 0.5, 8),
                                                 (10, 0.0, 10), (3, 0.9, 0), (50, 0.95, 2)])
def test_kept_count_follows_the_reference_rounding(length, ratio, keep):
    assert int(length * (1 - ratio)) == keep            # 100 * (1 - 0.9) = 9.999... -> 9
    x_vis, mask, ids_restore = random_masking(torch.randn(2, length, 5), ratio)
    assert x_vis.shape == (2, keep, 5)
    assert mask.shape == ids_restore.shape == (2, length)
    assert torch.equal(mask.sum(1), torch.full((2,), float(length - keep)))
    assert set(mask.unique().tolist()) <= {0.0, 1.0}


@given(length=st.integers(1, 60), ratio=st.floats(0, 0.99), b=st.integers(1, 3), seed=st.integers(0, 99))
def test_masking_properties(length, ratio, b, seed):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(b, length, 4, generator=g)
    noise = torch.rand(b, length, generator=g)
    x_vis, mask, ids_restore = random_masking(x, ratio, noise)
    keep = int(length * (1 - ratio))
    for i in range(b):
        smallest = torch.argsort(noise[i])[:keep]                     # the smallest noise is kept ...
        assert torch.equal(x_vis[i], x[i, smallest])                  # ... in order of increasing noise
        assert torch.equal(mask[i] == 0, torch.isin(torch.arange(length), smallest))
        removed = x[i, torch.argsort(noise[i])[keep:]]
        restored = torch.cat([x_vis[i], removed])[ids_restore[i]]     # ids_restore undoes the shuffle
        assert torch.equal(restored, x[i])
    assert torch.equal(torch.sort(ids_restore, dim=1).values, torch.arange(length).expand(b, -1))


def test_same_noise_same_result_and_default_noise_is_random():
    x, noise = torch.randn(2, 16, 3), torch.rand(2, 16)
    a, b = random_masking(x, 0.75, noise), random_masking(x, 0.75, noise.clone())
    assert all(torch.equal(u, v) for u, v in zip(a, b))
    m1, m2 = random_masking(x, 0.75)[1], random_masking(x, 0.75)[1]
    assert not torch.equal(m1, m2)
    torch.manual_seed(3); m3 = random_masking(x, 0.75)[1]
    torch.manual_seed(3); m4 = random_masking(x, 0.75)[1]
    assert torch.equal(m3, m4)


@pytest.mark.parametrize("ratio", [1.0, -0.1, 1.5, True, "0.5", None, math.nan])
def test_bad_mask_ratio(ratio):
    with pytest.raises(ValueError, match="mask_ratio"):
        random_masking(torch.randn(1, 4, 2), ratio)


def test_bad_tokens_and_noise():
    with pytest.raises(ValueError, match=r"\(B, L, D\)"):
        random_masking(torch.randn(4, 2), 0.5)
    with pytest.raises(ValueError, match=r"noise must be a \(2, 4\)"):
        random_masking(torch.randn(2, 4, 3), 0.5, noise=torch.rand(2, 5))


# ---- loss -----------------------------------------------------------------------------------

def test_norm_pix_target_uses_the_unbiased_variance():
    target = torch.tensor([[[0.0, 1.0, 2.0, 5.0], [3.0, 3.0, 3.0, 3.0]]], dtype=torch.float64)
    mask = torch.ones(1, 2, dtype=torch.float64)
    m, v = target.mean(-1, keepdim=True), ((target - target.mean(-1, keepdim=True)) ** 2).sum(-1, keepdim=True) / 3
    normalised = (target - m) / (v + 1e-6) ** 0.5                   # unbiased: divide by n - 1 = 3
    assert mae_loss(normalised, target, mask, norm_pix_loss=True) < 1e-24
    biased = (target - m) / (target.var(-1, unbiased=False, keepdim=True) + 1e-6) ** 0.5
    assert mae_loss(biased, target, mask, norm_pix_loss=True) > 1e-3
    assert torch.equal(normalised[0, 1], torch.zeros(4, dtype=torch.float64))   # flat patch -> zeros
    assert mae_loss(target, target, mask) == 0


def test_loss_counts_masked_patches_only():
    pred, target = torch.randn(2, 6, 4), torch.randn(2, 6, 4)
    mask = torch.tensor([[1, 0, 1, 0, 0, 0], [0, 0, 0, 1, 1, 1]], dtype=torch.float32)
    expected = ((pred - target) ** 2).mean(-1)[mask.bool()].mean()
    assert torch.allclose(mae_loss(pred, target, mask), expected)
    changed = pred.clone()
    changed[mask == 0] += 100.0                                      # visible patches: no effect
    assert torch.equal(mae_loss(changed, target, mask), mae_loss(pred, target, mask))
    changed[mask == 1] += 1.0                                        # masked patches: changes it
    assert not torch.allclose(mae_loss(changed, target, mask), mae_loss(pred, target, mask))
    assert torch.allclose(mae_loss(pred, target, torch.zeros(2, 6)), ((pred - target) ** 2).mean())
    with pytest.raises(ValueError, match="mask"):
        mae_loss(pred, target, mask[:, :5])


# ---- the model ------------------------------------------------------------------------------

def test_names_shapes_and_fixed_positions():
    model = small()
    top = {n.split(".")[0] for n, _ in model.named_parameters()}
    assert top == {"patch_embed", "cls_token", "pos_embed", "blocks", "norm", "decoder_embed", "mask_token",
                   "decoder_pos_embed", "decoder_blocks", "decoder_norm", "decoder_pred"}
    assert not model.pos_embed.requires_grad and not model.decoder_pos_embed.requires_grad
    assert torch.equal(model.pos_embed[0], sincos_2d(4, 4, 32, cls_token=True))
    assert torch.equal(model.decoder_pos_embed[0], sincos_2d(4, 4, 24, cls_token=True))
    out = model(batch(model))
    assert out.loss.shape == () and out.pred.shape == (3, 16, 4 * 4 * 2)
    assert out.mask.shape == out.ids_restore.shape == (3, 16) and torch.equal(out.mask.sum(1), torch.full((3,), 12.0))


def test_target_patch_order_matches_the_reference_patchify():
    x = torch.randn(2, 3, 8, 12)
    b, c, p = 2, 3, 4                                               # the MAE reference / HF ViTMAE patchify
    ref = x.reshape(b, c, 2, p, 3, p).permute(0, 2, 4, 3, 5, 1).reshape(b, 6, p * p * c)
    assert torch.equal(patchify(x, 4), ref)


def test_the_encoder_sees_only_visible_patches():
    model = small().eval()
    x, noise = batch(model, 2), torch.rand(2, 16)
    latent, mask, _ = model.forward_encoder(x, 0.75, noise)
    assert latent.shape == (2, 1 + 4, 32)
    pixel_mask = model.unpatchify(mask[..., None].expand(-1, -1, 32)).bool()   # (B, C, H, W): True = removed
    hidden = x + 10 * torch.randn_like(x) * pixel_mask                 # change only the removed patches
    assert torch.allclose(model.forward_encoder(hidden, 0.75, noise)[0], latent, atol=1e-6)
    seen = x + 10 * torch.randn_like(x) * ~pixel_mask                  # change the visible ones
    assert not torch.allclose(model.forward_encoder(seen, 0.75, noise)[0], latent, atol=1e-3)


def test_model_loss_is_blind_to_predictions_on_visible_patches():
    model = small(norm_pix_loss=True).eval()
    x = batch(model)
    out = model(x)
    target = patchify(x, 4)
    assert torch.allclose(out.loss, mae_loss(out.pred, target, out.mask, norm_pix_loss=True))
    noisy = out.pred + 5 * torch.randn_like(out.pred) * (1 - out.mask)[..., None]
    assert torch.allclose(mae_loss(noisy, target, out.mask, True), out.loss)


def test_features_without_masking_equal_the_encoder_with_identity_order():
    model = small().eval()
    x = batch(model)
    identity = torch.arange(16.0).expand(3, -1)                        # increasing noise: no shuffle
    latent, mask, ids_restore = model.forward_encoder(x, 0.0, identity)
    assert torch.equal(mask, torch.zeros(3, 16)) and torch.equal(ids_restore, identity.long())
    assert torch.allclose(model.forward_features(x), latent, atol=1e-6)
    assert torch.equal(model.encode(x), model.forward_features(x)[:, 0])
    assert torch.allclose(model.encode(x, pool="mean"), model.forward_features(x)[:, 1:].mean(1))


def test_noise_makes_the_forward_deterministic_and_the_batch_independent():
    model = small().eval()
    x, noise = batch(model, 4), torch.rand(4, 16)
    a, b = model(x, noise=noise), model(x, noise=noise)
    assert torch.equal(a.pred, b.pred) and torch.equal(a.loss, b.loss)
    assert torch.allclose(model(x[:2], noise=noise[:2]).pred, a.pred[:2], atol=1e-6)


def test_mask_ratio_default_and_override():
    model = small(mask_ratio=0.5)
    assert model(batch(model)).mask.sum(1).tolist() == [8.0] * 3
    assert model(batch(model), mask_ratio=0.25).mask.sum(1).tolist() == [4.0] * 3


@pytest.mark.parametrize("kw", [dict(norm_pix_loss=True), dict(qkv_bias=False)])
def test_every_trainable_parameter_gets_a_gradient(kw):
    model = small(**kw)
    assert (model.blocks[0].attn.qkv.bias is None) == (not model.config.qkv_bias)
    model(batch(model)).loss.backward()
    for name, p in model.named_parameters():
        if p.requires_grad:
            assert p.grad is not None and p.grad.abs().sum() > 0, name
        else:
            assert name in ("pos_embed", "decoder_pos_embed") and p.grad is None


def test_reconstruct_pastes_visible_input_and_masked_prediction():
    model = small().eval()
    x = batch(model, 2)
    out = model(x)
    pics = model.reconstruct(x, out, fill=0.5)
    m = out.mask[..., None].bool()
    pasted = patchify(pics["pasted"], 4)
    assert torch.allclose(pasted, torch.where(m, out.pred, patchify(x, 4)))
    assert torch.allclose(patchify(pics["masked"], 4), torch.where(m, torch.tensor(0.5), patchify(x, 4)))
    assert torch.allclose(pics["reconstruction"], model.unpatchify(out.pred))


def test_vit_from_mae_carries_the_encoder():
    model = small().eval()
    x = batch(model)
    vit = vit_from_mae(model, num_classes=10).eval()
    assert isinstance(vit, ViT) and vit(x).shape == (3, 10)
    assert torch.allclose(vit.forward_features(x), model.forward_features(x), atol=1e-6)
    mean = vit_from_mae(model.double(), num_classes=5, pool="mean")
    assert mean.cls_token is None and torch.equal(mean.pos_embed, model.pos_embed[:, 1:])
    assert mean.pos_embed.dtype == torch.float64 and mean.pos_embed.requires_grad


def test_bad_inputs_and_configs():
    model = small()
    with pytest.raises(ValueError, match="channels"):
        model(torch.randn(2, 3, 16, 16))
    with pytest.raises(ValueError, match="16x16"):
        model(torch.randn(2, 2, 20, 20))
    with pytest.raises(ValueError, match="4-D"):
        model(torch.randn(2, 16, 16))
    with pytest.raises(ValueError, match="mask_ratio"):
        model(batch(model), mask_ratio=1.0)
    with pytest.raises(ValueError, match="noise"):
        model(batch(model), noise=torch.rand(3, 15))
    with pytest.raises(ValueError, match="pool"):
        model.encode(batch(model), pool="max")
    with pytest.raises(TypeError, match="MAEConfig"):
        MAE(object())


def test_mae_refuses_a_ratio_that_leaves_no_visible_patch():
    model = small()                                                   # 16 patches
    images = batch(model)
    assert random_masking(torch.randn(2, 16, 8), 0.99)[0].shape == (2, 0, 8)   # the reference's rule, kept as is
    assert model(images, mask_ratio=0.9375).mask.sum(1).eq(15).all()  # 16 * 0.0625 = 1 patch visible
    with pytest.raises(ValueError, match="0 of the 16 patches.*at most 0.9375"):
        model(images, mask_ratio=0.99)
