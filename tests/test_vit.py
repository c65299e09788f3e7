"""The ViT (Dosovitskiy et al. 2021, Eq. 1-4): shapes, attention maps, permutation equivariance
without positions, batch independence, gradients, seeding, preset sizes, bad input."""
import math

import pytest
import torch
from torch import nn

from vitcourse.config import ViTConfig, tiny, vit_b16, vit_h14, vit_l16
from vitcourse.patches import patchify, unpatchify
from vitcourse.vit import ViT

TOL = dict(rtol=0, atol=1e-10)


def small(**kw):
    """A 2-block ViT on 3-channel 8x8 images, 2x2 patches: N = 16 tokens (+1 class token)."""
    cfg = dict(image_size=8, patch_size=2, in_channels=3, num_classes=5, dim=12, depth=2, num_heads=3, mlp_dim=20)
    cfg.update(kw)
    return ViT(ViTConfig(**cfg))


def redraw(model, std=0.3):
    """Large random values everywhere (positions, biases, norms too), so nothing hides behind zeros."""
    with torch.no_grad():
        for p in model.parameters():
            p.normal_(0, std)
    return model


@pytest.mark.parametrize("pool, tokens", [("cls", 17), ("mean", 16)])
def test_shapes(pool, tokens):
    model = small(pool=pool).eval()
    x = torch.randn(3, 3, 8, 8)
    assert model(x).shape == (3, 5)
    assert model.forward_features(x).shape == (3, tokens, 12)
    assert model.pos_embed.shape == (1, tokens, 12) and model.config.num_tokens == tokens
    assert (model.cls_token is None) == (pool == "mean")


def test_pooling_reads_the_class_token_or_the_mean():
    x = torch.randn(2, 3, 8, 8, dtype=torch.float64)
    cls = redraw(small().double())
    feats = cls.forward_features(x)
    torch.testing.assert_close(cls(x), cls.head(feats[:, 0]), **TOL)
    mean = redraw(small(pool="mean").double())
    feats = mean.forward_features(x)
    torch.testing.assert_close(mean(x), mean.head(feats.mean(1)), **TOL)


def test_forward_features_follows_eq_1_to_4():
    model = redraw(small().double())
    x = torch.randn(2, 3, 8, 8, dtype=torch.float64)
    z = torch.cat([model.cls_token.expand(2, -1, -1), model.patch_embed(x)], 1) + model.pos_embed   # Eq. 1
    for block in model.blocks:                                                                      # Eq. 2-3
        z = block(z)
    torch.testing.assert_close(model.forward_features(x), model.norm(z), **TOL)                     # Eq. 4


def test_attention_maps_shape_rows_and_consistency_with_forward():
    model = redraw(small().double()).eval()
    x = torch.randn(2, 3, 8, 8, dtype=torch.float64)
    maps = model.attention_maps(x)
    assert len(maps) == 2 and all(m.shape == (2, 3, 17, 17) for m in maps)
    for m in maps:
        torch.testing.assert_close(m.sum(-1), torch.ones(2, 3, 17, dtype=torch.float64), **TOL)
    # recompute each layer's softmax(q k^T / sqrt(d)) from the tokens forward() sees
    z = model.embed(x)
    for block, m in zip(model.blocks, maps):
        q, k, _ = block.attn._project(block.norm1(z), None)                 # (B, h, T, d)
        torch.testing.assert_close(m, (q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])).softmax(-1), **TOL)
        z = block(z)
    torch.testing.assert_close(model.norm(z), model.forward_features(x), **TOL)
    assert not any(m.requires_grad for m in maps)


@pytest.mark.parametrize("pool", ["cls", "mean"])
def test_permutation_equivariance_without_positions(pool):
    model = redraw(small(pool=pool).double()).eval()
    with torch.no_grad():
        model.pos_embed.zero_()
    x = torch.randn(2, 3, 8, 8, dtype=torch.float64)
    perm = torch.randperm(16)
    shuffled = unpatchify(patchify(x, 2)[:, perm], 2, 8, channels=3)        # move whole patches around
    out, out_p = model.forward_features(x), model.forward_features(shuffled)
    k = 1 if pool == "cls" else 0
    torch.testing.assert_close(out_p[:, k:], out[:, k:][:, perm], **TOL)    # patch tokens permute
    torch.testing.assert_close(model(shuffled), model(x), **TOL)            # the prediction does not move
    # with positions the model does see the order
    redraw(model)
    assert (model(shuffled) - model(x)).abs().max() > 1e-6


@pytest.mark.parametrize("train_mode", [False, True])
def test_batch_independence(train_mode):
    model = redraw(small().double(), std=0.1).train(train_mode)           # dropout=0: train mode is deterministic
    x = torch.randn(5, 3, 8, 8, dtype=torch.float64)
    batch = model(x)
    for i in range(5):
        torch.testing.assert_close(model(x[i:i + 1]), batch[i:i + 1], **TOL)
    y = x.clone()
    y[2] = torch.randn(3, 8, 8, dtype=torch.float64)
    torch.testing.assert_close(model(y)[[0, 1, 3, 4]], batch[[0, 1, 3, 4]], **TOL)


def test_batch_independence_float32_fused_path():
    model = small(dropout=0.3).eval()
    x = torch.randn(5, 3, 8, 8)
    batch = model(x)
    for i in range(5):
        torch.testing.assert_close(model(x[i:i + 1]), batch[i:i + 1], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("pool", ["cls", "mean"])
def test_every_parameter_gets_a_gradient(pool):
    model = small(pool=pool)
    nn.functional.cross_entropy(model(torch.randn(4, 3, 8, 8)), torch.tensor([0, 1, 2, 3])).backward()
    for name, p in model.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name


def test_timm_parameter_names_and_init():
    model = small()
    names = {n for n, _ in model.named_parameters()}
    assert {"patch_embed.proj.weight", "cls_token", "pos_embed", "blocks.0.norm1.weight", "blocks.1.attn.qkv.bias",
            "blocks.0.attn.proj.weight", "blocks.0.mlp.fc1.weight", "blocks.0.mlp.fc2.bias", "norm.weight",
            "head.weight"} <= names
    assert torch.all(model.norm.weight == 1) and torch.all(model.norm.bias == 0)
    assert torch.all(model.head.bias == 0) and torch.all(model.blocks[0].attn.qkv.bias == 0)
    assert 0.01 < model.blocks[0].mlp.fc1.weight.std().item() < 0.03               # trunc-normal(0.02)
    assert 0.0 < model.cls_token.abs().max().item() < 0.1


def test_same_seed_same_model_different_seed_different():
    def state(seed):
        torch.manual_seed(seed)
        return small().state_dict()
    a, b, c = state(3), state(3), state(4)
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert any(not torch.equal(a[k], c[k]) for k in a if a[k].abs().sum() > 0)


@pytest.mark.parametrize("make, count", [(vit_b16, 86_567_656), (vit_l16, 304_326_632), (vit_h14, 632_045_800)])
def test_preset_parameter_counts_on_meta(make, count):
    # the counts of Hugging Face's ViTForImageClassification of the same size with 1000 classes
    with torch.device("meta"):
        model = ViT(make())
    assert model.num_parameters() == count
    assert model.pos_embed.is_meta


def test_num_parameters_closed_form():
    c = small().config
    d, n, t = c.dim, c.num_patches, c.num_tokens
    per_block = (d * 3 * d + 3 * d) + (d * d + d) + (d * c.mlp_dim + c.mlp_dim) + (c.mlp_dim * d + d) + 4 * d
    want = (c.in_channels * c.patch_size ** 2 * d + d) + d + t * d + c.depth * per_block + 2 * d + (d * 5 + 5)
    assert small().num_parameters() == want and n == 16
    model = small()
    model.pos_embed.requires_grad_(False)
    assert model.num_parameters(trainable_only=True) == want - t * d


def test_num_classes_zero_gives_features():
    model = small(num_classes=0).eval()
    assert isinstance(model.head, nn.Identity)
    x = torch.randn(2, 3, 8, 8)
    out = model(x)
    assert out.shape == (2, 12)
    torch.testing.assert_close(out, model.forward_features(x)[:, 0])


def test_config_overrides():
    model = ViT(tiny(), depth=1, num_classes=3)
    assert len(model.blocks) == 1 and model.head.out_features == 3 and model.config.depth == 1
    assert ViT(image_size=8, patch_size=4, dim=8, depth=1, num_heads=2, mlp_dim=8).config.num_classes == 1000
    assert model(torch.randn(2, 1, 16, 16)).shape == (2, 3)


def test_errors():
    model = small()
    with pytest.raises(ValueError, match=r"16x16 but the model expects 8x8"):
        model(torch.randn(1, 3, 16, 16))
    with pytest.raises(ValueError, match=r"1 channels but the model expects 3"):
        model(torch.randn(1, 1, 8, 8))
    with pytest.raises(ValueError, match=r"4-D batch.*\(3, 8, 8\).*unsqueeze"):
        model(torch.randn(3, 8, 8))
    with pytest.raises(ValueError, match=r"1 channels but the model expects 3"):
        model.attention_maps(torch.randn(1, 1, 8, 8))
    with pytest.raises(ValueError, match=r"pool='max'"):
        small(pool="max")
    with pytest.raises(ValueError, match=r"dim=10 must be divisible by num_heads=3"):
        small(dim=10)
    with pytest.raises(ValueError, match=r"image_size=10 is not divisible by patch_size=4"):
        small(image_size=10, patch_size=4)
    with pytest.raises(TypeError, match="ViTConfig, got dict"):
        ViT({"dim": 8})


def test_clip_style_options_pre_norm_no_patch_bias_quick_gelu():
    from vitcourse import ViTConfig
    c = ViTConfig(image_size=16, patch_size=4, in_channels=3, num_classes=0, dim=32, depth=1, num_heads=4,
                  mlp_dim=64, pre_norm=True, patch_bias=False, act_layer="quick_gelu")
    m = ViT(c)
    assert m.patch_embed.proj.bias is None and isinstance(m.norm_pre, torch.nn.LayerNorm)
    tokens = m.embed(torch.rand(2, 3, 16, 16))                     # layer-normalised before block 0
    assert torch.allclose(tokens.mean(-1), torch.zeros(2, 17), atol=1e-5)
    assert m(torch.rand(2, 3, 16, 16)).shape == (2, 32)
    with pytest.raises(ValueError, match="act_layer"):
        ViTConfig(act_layer="swish")


def test_input_dtype_must_match_the_parameters():
    model = small()                                                     # float32 parameters
    pixels = torch.randint(0, 256, (2, 3, 8, 8), dtype=torch.uint8)
    with pytest.raises(TypeError, match=r"torch.uint8 but the model computes in torch.float32.*/ 255"):
        model(pixels)
    with pytest.raises(TypeError, match=r"torch.float64 but the model's parameters are torch.float32"):
        model.attention_maps(pixels.double())                           # every entry point goes through embed
    assert model(pixels.float() / 255).dtype == torch.float32
    model64 = small().double()                                          # the parity tests run in float64
    assert model64(pixels.double() / 255).dtype == torch.float64
    with pytest.raises(TypeError, match=r"torch.float32 but the model's parameters are torch.float64"):
        model64.forward_features(pixels.float())


def test_non_square_images_a_wide_grid_of_tokens():
    # a 8x24 text line in 4-px patches: 2 rows x 6 columns of tokens, raster order, one position each
    model = redraw(small(image_size=(8, 24), patch_size=4, num_classes=0)).double().eval()
    assert model.config.grid_hw == (2, 6) and model.pos_embed.shape == (1, 13, 12)
    x = torch.randn(2, 3, 8, 24, dtype=torch.float64)
    feats = model.forward_features(x)
    assert feats.shape == (2, 13, 12) and model(x).shape == (2, 12)
    # token 1 + j is patch j of the raster order: the patch embedding sees exactly that patch
    tokens = model.patch_embed(x)
    direct = patchify(x, 4) @ model.patch_embed.proj.weight.permute(0, 2, 3, 1).reshape(12, -1).T
    assert torch.allclose(tokens, direct + model.patch_embed.proj.bias, **TOL)
    with pytest.raises(ValueError, match=r"8x8 but the model expects 8x24"):
        model(torch.randn(1, 3, 8, 8, dtype=torch.float64))
