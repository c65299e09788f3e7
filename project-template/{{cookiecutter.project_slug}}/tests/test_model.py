import pytest
import torch

from {{ cookiecutter.package_name }}.config import ModelConfig
from {{ cookiecutter.package_name }}.model import build_model

MODELS = ["vit", "cnn", pytest.param("vitcourse-vit", marks=pytest.mark.skipif(
    __import__("importlib").util.find_spec("vitcourse") is None, reason="the course package is not installed"))]


def small(name):
    torch.manual_seed(0)
    cfg = ModelConfig(name=name, patch_size=4, dim=32, depth=2, num_heads=4, mlp_dim=64, width=8)
    return build_model(cfg, image_size=16, in_channels=1, num_classes=10)


@pytest.mark.parametrize("name", MODELS)
def test_logits_have_one_row_per_image_and_one_column_per_class(name):
    assert small(name)(torch.rand(5, 1, 16, 16)).shape == (5, 10)


@pytest.mark.parametrize("name", MODELS)
def test_every_parameter_gets_a_gradient(name):
    model = small(name)
    model(torch.rand(4, 1, 16, 16)).logsumexp(-1).sum().backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in model.parameters())


@pytest.mark.parametrize("name", MODELS)
def test_an_image_does_not_depend_on_the_rest_of_its_batch(name):
    model = small(name).eval()
    images = torch.rand(6, 1, 16, 16)
    torch.testing.assert_close(model(images[:2]), model(images)[:2], rtol=1e-5, atol=1e-5)


def test_attention_maps_are_distributions_over_the_tokens():
    maps = small("vit").attention_maps(torch.rand(3, 1, 16, 16))
    assert len(maps) == 2 and maps[0].shape == (3, 4, 17, 17)            # T = 1 + (16 / 4)^2
    torch.testing.assert_close(maps[-1].sum(-1), torch.ones(3, 4, 17))


@pytest.mark.parametrize("images, message", [
    (torch.rand(2, 3, 16, 16), r"expected images of shape \(B, 1, 16, 16\), got \(2, 3, 16, 16\)"),
    (torch.rand(1, 16, 16), r"expected images of shape \(B, C, H, W\)"),
    (torch.zeros(2, 1, 16, 16, dtype=torch.uint8), "floating-point"),
])
def test_wrong_inputs_give_clear_messages(images, message):
    for name in ("vit", "cnn"):
        with pytest.raises(ValueError, match=message):
            small(name)(images)
