import pytest
import torch

from {{ cookiecutter.package_name }}.config import ModelConfig
from {{ cookiecutter.package_name }}.model import build_model
from {{ cookiecutter.package_name }}.visualize import class_token_attention, plot_attention, plot_confusion_matrix


def test_class_token_attention_is_one_distribution_per_image_upsampled_to_the_image():
    model = build_model(ModelConfig(dim=16, depth=1, num_heads=2, mlp_dim=32), 16, 1, 10)
    images = torch.rand(3, 1, 16, 16)
    heat = class_token_attention(model, images)
    assert heat.shape == (3, 16, 16)
    cls_row = model.attention_maps(images)[-1][:, :, 0, 1:].mean(dim=1)      # (B, 16 patches)
    torch.testing.assert_close(heat[:, ::4, ::4], cls_row.reshape(3, 4, 4))   # one weight per 4x4 patch
    assert torch.equal(heat[:, :4, :4], heat[:, :1, :1].expand(-1, 4, 4))


def test_the_figures_are_written(tmp_path):
    model = build_model(ModelConfig(dim=16, depth=1, num_heads=2, mlp_dim=32), 16, 1, 10)
    images = torch.rand(4, 1, 16, 16)
    out = plot_attention(images, class_token_attention(model, images), tmp_path / "fig" / "attention.png",
                         titles=list("abcd"))
    assert out.is_file() and out.stat().st_size > 0
    assert plot_confusion_matrix([[3, 1], [0, 4]], ["cat", "dog"], tmp_path / "cm.png").is_file()
    with pytest.raises(ValueError, match="must be square"):
        plot_confusion_matrix([[3, 1]], ["cat", "dog"], tmp_path / "bad.png")


def test_a_cnn_has_no_attention_to_show():
    with pytest.raises(ValueError, match="has no attention maps"):
        class_token_attention(build_model(ModelConfig(name="cnn", width=4), 16, 1, 10), torch.rand(1, 1, 16, 16))
