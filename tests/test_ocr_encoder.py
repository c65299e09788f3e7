"""LineEncoder (ViT's hybrid, Section 3.1): shapes, the ViT inside reads 1x1 patches of the stem's
map, column tokens are local (a change at the right end leaves the left columns' stem features
alone), every parameter learns, clear errors."""
import pytest
import torch

from vitcourse import ViT
from vitcourse.ocr.encoder import LineEncoder


def test_column_tokens():
    enc = LineEncoder((32, 128), dim=32, depth=1, num_heads=2, mlp_dim=64)
    assert isinstance(enc.vit, ViT) and enc.config.patch_size == 1 and enc.grid_hw == (1, 32)
    assert enc.forward_features(torch.rand(2, 1, 32, 128)).shape == (2, 32, 32)       # (B, W/4, D)
    cls = LineEncoder((16, 64), dim=16, depth=1, num_heads=2, mlp_dim=32, pool="cls")
    assert cls.forward_features(torch.rand(1, 1, 16, 64)).shape == (1, 17, 16)       # class token first


def test_stem_is_local_and_every_parameter_learns():
    enc = LineEncoder((32, 128), dim=32, depth=1, num_heads=2, mlp_dim=64)
    x = torch.rand(1, 1, 32, 128)
    y = x.clone()
    y[..., 100:] = 0                                                   # change the right end only
    a, b = enc.stem(x), enc.stem(y)
    assert torch.equal(a[..., :20], b[..., :20]) and not torch.equal(a[..., 28:], b[..., 28:])
    enc.forward_features(x).sum().backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in enc.parameters())


def test_clear_errors():
    with pytest.raises(ValueError, match=r"multiples of 8 and 4"):
        LineEncoder((30, 128))
    enc = LineEncoder((32, 128), dim=16, depth=1, num_heads=2, mlp_dim=32)
    with pytest.raises(ValueError, match=r"32x64 but the model expects 32x128"):
        enc.forward_features(torch.rand(1, 1, 32, 64))
    with pytest.raises(TypeError, match="torch.float64 but the model's parameters are torch.float32"):
        enc.forward_features(torch.rand(1, 1, 32, 128, dtype=torch.float64))
