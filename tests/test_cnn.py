"""The CNN baseline, the convolutional stem and the hybrid ViT: shapes, parameter counts,
gradients, batch independence, translation equivariance of the feature maps, bad input."""
import pytest
import torch

from vitcourse.cnn import ConvStem, HybridViT, SmallCNN, translate
from vitcourse.config import tiny
from vitcourse.vit import ViT

TOL = dict(rtol=0, atol=1e-10)


def centred(b=2, c=1, size=16, margin=5):
    """Random images, zero within `margin` pixels of every border (room to shift)."""
    x = torch.zeros(b, c, size, size, dtype=torch.float64)
    x[..., margin:size - margin, margin:size - margin] = torch.rand(b, c, size - 2 * margin, size - 2 * margin)
    return x


def warm_bn(model, x):
    """Non-trivial BatchNorm statistics (one training pass), then eval mode."""
    model.train()
    with torch.no_grad():
        model(x)
    return model.eval()


def test_translate():
    x = torch.arange(16.).reshape(1, 1, 4, 4)
    y = translate(x, 1, -2)
    assert y[0, 0, 1:, :2].tolist() == x[0, 0, :3, 2:].tolist()
    assert y[0, 0, 0].abs().sum() == 0 and y[0, 0, :, 2:].abs().sum() == 0
    assert torch.equal(translate(x, 0, 0), x)
    c = centred()
    assert torch.equal(translate(translate(c, 2, 3), -2, -3), c)     # nothing left the frame


@pytest.mark.parametrize("bad", [4, -4, 1.5, True])
def test_translate_rejects_bad_shift(bad):
    with pytest.raises(ValueError, match="dx must be an integer shift"):
        translate(torch.rand(1, 1, 4, 4), 0, bad)


def test_small_cnn_shapes_and_parameters():
    model = SmallCNN()
    x = torch.rand(3, 1, 16, 16)
    assert model(x).shape == (3, 10)
    assert model.forward_features(x).shape == (3, 144, 4, 4)
    w = 36   # conv weights (no bias: BatchNorm follows), BatchNorm scale + shift, linear head
    expected = 9 * w + 9 * w * 2 * w + 9 * 2 * w * 4 * w + 2 * (w + 2 * w + 4 * w) + 4 * w * 10 + 10
    assert model.num_parameters() == expected == 118_918
    assert 0.8 < expected / ViT(tiny()).num_parameters() < 1.0          # comparable to the tiny ViT
    assert SmallCNN(in_channels=3, num_classes=7, width=4, image_size=8)(torch.rand(2, 3, 8, 8)).shape == (2, 7)


def test_small_cnn_gradients_and_batch_independence():
    model = warm_bn(SmallCNN(width=4).double(), torch.rand(8, 1, 16, 16, dtype=torch.float64))
    x = torch.rand(5, 1, 16, 16, dtype=torch.float64)
    full = model(x)
    torch.testing.assert_close(full[2:3], model(x[2:3]), **TOL)
    model.train()
    model(x).sum().backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in model.parameters())


@pytest.mark.parametrize("k", [4, 8])
def test_small_cnn_feature_maps_are_translation_equivariant(k):
    """Shift the input by k pixels (a multiple of the pooling stride 4): the feature map shifts
    by k / 4 cells, exactly, away from the borders (zero padding meets a non-zero background
    from the second layer on, which reaches two cells in)."""
    model = warm_bn(SmallCNN(width=4, image_size=48).double(), torch.rand(8, 1, 48, 48, dtype=torch.float64))
    x = centred(size=48, margin=16)
    f, g = model.forward_features(x), model.forward_features(translate(x, k, -k))   # (B, 16, 12, 12)
    s, n = k // 4, f.shape[-1]
    torch.testing.assert_close(g[..., 2 + s:n - 2, 2:n - 2 - s], f[..., 2:n - 2 - s, 2 + s:n - 2], **TOL)
    assert not torch.allclose(g, f)                       # it did move


def test_first_conv_is_equivariant_to_every_shift():
    model = SmallCNN(width=3).double().eval()
    x = centred(margin=4)
    for k in (1, 2, 3):
        f, g = model.features[0](x), model.features[0](translate(x, k, -k))
        torch.testing.assert_close(g[..., k:, :16 - k], f[..., :16 - k, k:], **TOL)


def test_conv_stem_tokens():
    stem = ConvStem(image_size=16, patch_size=4, in_channels=1, dim=8, channels=(3, 5))
    assert stem(torch.rand(2, 1, 16, 16)).shape == (2, 16, 8) and stem.num_patches == 16
    assert ConvStem(32, 8, 3, 6, (2, 2, 2))(torch.rand(1, 3, 32, 32)).shape == (1, 16, 6)


def test_conv_stem_shift_by_patch_moves_tokens_by_one_cell():
    stem = warm_bn(ConvStem(16, 4, 1, 8, (3, 5)).double(), torch.rand(4, 1, 16, 16, dtype=torch.float64))
    x = centred(margin=5)
    grid = lambda t: t.reshape(t.shape[0], 4, 4, -1)     # (B, N, D) -> (B, h, w, D), raster order
    f, g = grid(stem(x)), grid(stem(translate(x, 4, 0)))
    torch.testing.assert_close(g[:, 2:3], f[:, 1:2], **TOL)


def test_hybrid_vit():
    cfg = tiny()
    model = HybridViT(cfg, stem_channels=(8, 16))
    assert isinstance(model, ViT) and isinstance(model.patch_embed, ConvStem)
    names = {n for n, _ in model.named_parameters()}
    assert {"patch_embed.backbone.0.0.weight", "patch_embed.proj.weight", "pos_embed", "cls_token",
            "blocks.3.attn.qkv.weight", "norm.weight", "head.weight"} <= names
    vit = ViT(cfg)
    stem = sum(p.numel() for p in model.patch_embed.parameters())
    assert stem == 9 * 8 + 16 + 9 * 8 * 16 + 32 + 16 * 64 + 64
    assert model.num_parameters() - stem == vit.num_parameters() - sum(p.numel() for p in vit.patch_embed.parameters())
    x = torch.rand(3, 1, 16, 16)
    assert model(x).shape == (3, 10) and model.forward_features(x).shape == (3, 17, 64)
    assert len(model.attention_maps(x)) == 4
    model(x).logsumexp(-1).sum().backward()
    assert model.patch_embed.backbone[0][0].weight.grad.abs().sum() > 0


def test_hybrid_batch_independence_in_eval():
    model = warm_bn(HybridViT(tiny(dim=16, num_heads=2, mlp_dim=32, depth=1)).double(),
                    torch.rand(6, 1, 16, 16, dtype=torch.float64))
    x = torch.rand(4, 1, 16, 16, dtype=torch.float64)
    torch.testing.assert_close(model(x)[1:2], model(x[1:2]), **TOL)


@pytest.mark.parametrize("kwargs, match", [
    (dict(width=0), "width must be a positive integer"),
    (dict(in_channels=2.5), "in_channels must be a positive integer"),
    (dict(num_classes=0), "num_classes must be a positive integer"),
    (dict(image_size=3), "image_size must be at least 4"),
])
def test_small_cnn_rejects_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        SmallCNN(**kwargs)


def test_models_reject_bad_images():
    with pytest.raises(ValueError, match="2 channels but the model expects 1"):
        SmallCNN()(torch.rand(1, 2, 16, 16))
    with pytest.raises(ValueError, match="8x8 but the model expects 16x16"):
        SmallCNN()(torch.rand(1, 1, 8, 8))
    with pytest.raises(ValueError, match="4-D batch"):
        HybridViT(tiny())(torch.rand(1, 16, 16))


@pytest.mark.parametrize("channels, match", [
    ((16,), "1 layers .* give stride 2, but patch_size=4"),
    ((), "give stride 1"),
    ((16, 0), "each stem channel count must be a positive integer"),
])
def test_conv_stem_rejects_bad_channels(channels, match):
    with pytest.raises(ValueError, match=match):
        ConvStem(16, 4, 1, 8, channels)
    with pytest.raises(ValueError, match=match):
        HybridViT(tiny(), stem_channels=channels)


def test_conv_stem_rejects_indivisible_image():
    with pytest.raises(ValueError, match="not divisible by patch_size=4"):
        ConvStem(18, 4, 1, 8, (4, 4))


def test_cnn_names_a_dtype_mismatch():
    from vitcourse.cnn import SmallCNN
    cnn = SmallCNN()
    x = torch.zeros(2, cnn.in_channels, *cnn.image_size, dtype=torch.float64)
    with pytest.raises(TypeError, match="float64"):
        cnn(x)
