"""ViTConfig: validation names the bad values; derived sizes; presets; replace."""
import pytest

from vitcourse import mae
from vitcourse.config import PRESETS, MAEConfig, ViTConfig, mae_tiny, tiny, vit_b16, vit_h14, vit_l16


def test_defaults_are_vit_b16():
    assert ViTConfig() == vit_b16()
    c = ViTConfig()
    assert (c.image_size, c.patch_size, c.dim, c.depth, c.num_heads, c.mlp_dim) == (224, 16, 768, 12, 12, 3072)


@pytest.mark.parametrize("make, dim, depth, heads, mlp, patch", [
    (vit_b16, 768, 12, 12, 3072, 16),
    (vit_l16, 1024, 24, 16, 4096, 16),
    (vit_h14, 1280, 32, 16, 5120, 14),
])
def test_presets_follow_table_1(make, dim, depth, heads, mlp, patch):
    c = make()
    got = (c.dim, c.depth, c.num_heads, c.mlp_dim, c.patch_size, c.num_classes)
    assert got == (dim, depth, heads, mlp, patch, 1000)
    assert make(num_classes=10).num_classes == 10
    assert set(PRESETS) == {"tiny", "vit_b16", "vit_l16", "vit_h14"}


def test_grid_patches_tokens():
    c = ViTConfig(image_size=224, patch_size=16)
    assert (c.grid_size, c.num_patches, c.num_tokens) == (14, 196, 197)
    assert c.replace(pool="mean").num_tokens == 196
    h = vit_h14()
    assert (h.grid_size, h.num_patches, h.num_tokens) == (16, 256, 257)
    t = tiny()
    assert (t.grid_size, t.num_patches, t.num_tokens) == (4, 16, 17)


def test_replace_returns_a_validated_copy():
    c = tiny()
    d = c.replace(depth=2, pool="mean")
    assert (d.depth, d.pool) == (2, "mean") and (c.depth, c.pool) == (4, "cls")
    assert d.to_dict()["depth"] == 2 and set(d.to_dict()) == set(c.to_dict())
    with pytest.raises(ValueError, match="num_heads=5"):
        c.replace(num_heads=5)


@pytest.mark.parametrize("kw, match", [
    (dict(image_size=30, patch_size=16), r"image_size=30.*patch_size=16.*pad or crop"),
    (dict(dim=100, num_heads=12), r"dim=100.*num_heads=12"),
    (dict(pool="max"), r"pool='max'.*'cls', 'mean'"),
    (dict(dropout=1.0), r"dropout.*1\.0"),
    (dict(dropout=-0.1), r"dropout.*-0\.1"),
    (dict(num_classes=-1), r"num_classes.*-1"),
    (dict(depth=0), r"depth.*0"),
    (dict(dim=64.0), r"dim.*64\.0"),
    (dict(patch_size=-4), r"patch_size.*-4"),
])
def test_validation_names_the_values(kw, match):
    with pytest.raises(ValueError, match=match):
        ViTConfig(**kw)


def test_non_square_image_size_gives_a_grid_per_side():
    c = ViTConfig(image_size=(32, 128), patch_size=16)
    assert (c.image_hw, c.grid_hw, c.num_patches, c.num_tokens) == ((32, 128), (2, 8), 16, 17)
    assert ViTConfig(image_size=[32, 128], patch_size=16).image_size == (32, 128)   # a list becomes a tuple
    square = ViTConfig(image_size=(64, 64), patch_size=16)
    assert (square.grid_size, square.grid_hw, square.num_patches) == (4, (4, 4), 16)
    assert ViTConfig().grid_hw == (14, 14) and ViTConfig().image_hw == (224, 224)
    with pytest.raises(ValueError, match=r"2x8 patch grid, not a square one: use grid_hw"):
        c.grid_size


@pytest.mark.parametrize("size, match", [
    ((32, 130), r"image_size=\(32, 130\) is not divisible by patch_size=16.*width to a multiple of 16.*128 or 144"),
    ((30, 128), r"height to a multiple of 16"),
    ((32,), r"positive integer or a \(height, width\) pair"),
    ((32, 0), r"positive integer or a \(height, width\) pair"),
    ((32.0, 128), r"positive integer or a \(height, width\) pair"),
])
def test_non_square_validation_names_the_side(size, match):
    with pytest.raises(ValueError, match=match):
        ViTConfig(image_size=size, patch_size=16)


def test_num_classes_zero_is_allowed():
    assert ViTConfig(num_classes=0).num_classes == 0


def test_mae_config_validation_names_the_values():
    for kw, msg in [(dict(dim=30, num_heads=3), "divisible by 4"), (dict(decoder_dim=20, decoder_num_heads=3), "decoder_dim"),
                    (dict(image_size=18), "divisible by patch_size"), (dict(depth=0), "depth"),
                    (dict(mask_ratio=0.999 + 1), "mask_ratio"), (dict(mask_ratio=True), "mask_ratio")]:
        with pytest.raises(ValueError, match=msg):
            mae_tiny(**kw)


def test_mae_config_grid_and_replace():
    assert MAEConfig().num_patches == 196 and MAEConfig().replace(image_size=32, patch_size=8).grid_size == 4
    assert mae_tiny().grid_size == 4 and mae_tiny().num_patches == 16
    assert mae.MAEConfig is MAEConfig and mae.mae_tiny is mae_tiny      # still importable from vitcourse.mae
