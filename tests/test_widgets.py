"""vitcourse.widgets: the explorers build, and moving a slider redraws and recomputes."""
import matplotlib
import pytest
import torch

matplotlib.use("Agg")
pytest.importorskip("ipywidgets")

from vitcourse.widgets import PatchExplorer, static_patch_figure  # noqa: E402

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def image():
    return torch.rand(3, 48, 64, generator=torch.Generator().manual_seed(0))


def test_patch_explorer_builds_with_a_picture_and_the_costs(image):
    ex = PatchExplorer(image, patch_sizes=[4, 8, 16], dims=(32, 64), patch_size=8, dim=32)
    assert ex.picture.value[:8] == PNG
    assert ex.costs["tokens"] == 48 * 64 // 64 and ex.costs["embed_params"] == 8 * 8 * 3 * 32 + 32
    assert "<b>48</b>" in ex.stats.value
    assert ex.widget.children[0].children == (ex.patch_slider, ex.dim_slider)


def test_moving_the_sliders_redraws_and_recomputes(image):
    ex = PatchExplorer(image, patch_sizes=[4, 8, 16], dims=(32, 64), patch_size=8, dim=32)
    before = ex.picture.value
    ex.patch_slider.value = 4
    assert ex.costs["tokens"] == 48 * 64 // 16 and ex.costs["attention_entries"] == 192 ** 2
    assert ex.picture.value != before and "<b>192</b>" in ex.stats.value
    ex.dim_slider.value = 64
    assert ex.costs["embed_params"] == 4 * 4 * 3 * 64 + 64
    assert f"<b>{4 * 4 * 3 * 64 + 64:,}</b>" in ex.stats.value


def test_default_patch_sizes_divide_both_sides(image):
    ex = PatchExplorer(image)
    assert ex.patch_slider.options == (2, 4, 8, 16)


def test_patch_explorer_rejects_bad_input(image):
    with pytest.raises(ValueError, match=r"patch sizes \[5\] do not divide the 48x64 image"):
        PatchExplorer(image, patch_sizes=[4, 5])
    with pytest.raises(ValueError, match="one image"):
        PatchExplorer(image[None])


def test_static_patch_figure_has_one_panel_per_patch_size(image):
    fig = static_patch_figure(image, [8, 16], dim=32)
    assert len(fig.axes) == 2
    assert fig.axes[0].get_title().startswith("P=8: N=48")
    assert fig.axes[1].get_title().startswith("P=16: N=12")
    matplotlib.pyplot.close(fig)
