"""vitcourse.viz: each plot runs and draws what it claims (Agg backend, no display)."""
import subprocess
import sys

import matplotlib
import numpy as np
import pytest
import torch

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from vitcourse import sinusoidal_1d, sincos_2d  # noqa: E402
from vitcourse import viz  # noqa: E402


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def test_importing_viz_and_widgets_does_not_import_matplotlib_or_ipywidgets():
    code = "import sys, vitcourse, vitcourse.viz, vitcourse.widgets; print('matplotlib' in sys.modules, 'ipywidgets' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]


@pytest.mark.parametrize("shape", [(3, 8, 6), (8, 6, 3), (1, 8, 6), (8, 6)])
def test_to_numpy_image_accepts_the_usual_layouts(shape):
    x = viz.to_numpy_image(torch.rand(shape))
    assert x.shape[:2] == (8, 6)


def test_to_numpy_image_rejects_a_batch():
    with pytest.raises(ValueError, match="one image"):
        viz.to_numpy_image(torch.rand(2, 3, 8, 8))


def test_show_images_draws_one_image_per_axis_and_hides_the_rest():
    fig = viz.show_images(torch.rand(5, 3, 8, 8), titles=list("abcde"), ncols=3)
    axes = fig.axes
    assert len(axes) == 6
    assert [len(a.images) for a in axes] == [1, 1, 1, 1, 1, 0]
    assert [a.get_title() for a in axes[:5]] == list("abcde")


def test_show_images_rejects_an_empty_list():
    with pytest.raises(ValueError, match="at least one"):
        viz.show_images([])


def test_show_patch_grid_draws_borders_and_numbers_in_raster_order():
    ax = viz.show_patch_grid(torch.rand(3, 32, 48), 8, title="grid")
    lines = ax.get_lines()
    assert len(lines) == (4 - 1) + (6 - 1)
    texts = [t.get_text() for t in ax.texts]
    assert texts == [str(i) for i in range(24)]
    x, y = ax.texts[7].get_position()                  # patch 7 = row 1, column 1
    assert (x, y) == (1.5 * 8 - 0.5, 1.5 * 8 - 0.5)
    assert ax.get_title() == "grid"


def test_show_patch_grid_without_numbers_and_bad_size():
    assert len(viz.show_patch_grid(torch.rand(3, 16, 16), 4, numbers=False).texts) == 0
    with pytest.raises(ValueError, match="not divisible by patch_size=5"):
        viz.show_patch_grid(torch.rand(3, 16, 16), 5)


def test_show_patches_draws_each_patch_as_it_is_stored():
    from vitcourse import patchify
    img = torch.rand(1, 3, 8, 12)
    patches = patchify(img, 4)[0]                       # (6, 48)
    fig = viz.show_patches(patches, 4)
    shown = [a for a in fig.axes if a.images]
    assert len(shown) == 6 and [a.get_title() for a in shown] == [str(i) for i in range(6)]
    np.testing.assert_allclose(shown[4].images[0].get_array(), img[0, :, 4:8, 4:8].permute(1, 2, 0).numpy(), rtol=1e-6)
    with pytest.raises(ValueError, match=r"patches must be \(N, 48\)"):
        viz.show_patches(patches[:, :10], 4)


def test_heatmap_shows_the_matrix_and_annotates_every_cell():
    m = torch.arange(6.0).reshape(2, 3)
    ax = viz.heatmap(m, annotate=True, fmt=".0f", xticklabels=list("abc"), yticklabels=["r0", "r1"], title="t")
    np.testing.assert_array_equal(ax.images[0].get_array(), m.numpy())
    assert [t.get_text() for t in ax.texts] == ["0", "1", "2", "3", "4", "5"]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["a", "b", "c"]
    assert len(ax.figure.axes) == 2                     # the colour bar
    with pytest.raises(ValueError, match="2-D"):
        viz.heatmap(torch.ones(3))


def test_plot_position_table_shows_the_encoding_itself_on_a_symmetric_scale():
    pe = sinusoidal_1d(50, 16)
    ax = viz.plot_position_table(pe)
    np.testing.assert_array_equal(ax.images[0].get_array(), pe.numpy())
    lo, hi = ax.images[0].get_clim()
    assert lo == -hi == pytest.approx(-1.0, abs=1e-6)
    assert ax.get_xlabel() == "dimension (column of PE)" and ax.get_ylabel() == "position"


def test_plot_position_similarity_is_the_gram_matrix():
    pe = sinusoidal_1d(20, 8)
    np.testing.assert_allclose(viz.plot_position_similarity(pe).images[0].get_array(), (pe @ pe.T).numpy(), rtol=1e-6)
    cos = viz.plot_position_similarity(pe, cosine=True).images[0].get_array()
    np.testing.assert_allclose(np.diag(cos), 1.0, rtol=1e-6)


def test_plot_grid_similarity_puts_each_patch_map_in_its_place():
    pe = sincos_2d(3, 4, 16)
    ax = viz.plot_grid_similarity(pe, 3, 4)
    mosaic = ax.images[0].get_array()
    assert mosaic.shape == (3 * 4 - 1, 4 * 5 - 1)
    cos = torch.nn.functional.normalize(pe, dim=-1)
    cos = (cos @ cos.T).numpy()
    for i in range(12):
        r, c = divmod(i, 4)
        block = np.asarray(mosaic[r * 4:r * 4 + 3, c * 5:c * 5 + 4])
        np.testing.assert_allclose(block, cos[i].reshape(3, 4), rtol=1e-6)
        assert np.unravel_index(np.argmax(block), block.shape) == (r, c)   # most similar to itself
    assert np.ma.getmaskarray(mosaic)[3].all()          # blank separator row
    with pytest.raises(ValueError, match="3x4 grid needs 12 positions, got 13"):
        viz.plot_grid_similarity(sincos_2d(3, 4, 16, cls_token=True), 3, 4)


def test_plot_attention_labels_and_range():
    w = torch.softmax(torch.randn(1, 1, 3, 4), -1)
    ax = viz.plot_attention(w, query_labels=list("abc"), key_labels=list("wxyz"))
    assert ax.images[0].get_array().shape == (3, 4) and ax.images[0].get_clim() == (0.0, 1.0)
    assert len(ax.texts) == 12                          # small: annotated by default
    assert [t.get_text() for t in ax.get_yticklabels()] == list("abc")


def test_plot_mask_draws_booleans_and_rejects_floats():
    from vitcourse import causal_mask
    ax = viz.plot_mask(causal_mask(4))
    np.testing.assert_array_equal(ax.images[0].get_array(), np.tril(np.ones((4, 4))))
    with pytest.raises(ValueError, match="boolean"):
        viz.plot_mask(torch.ones(3, 3))


def test_plot_loglog_reports_the_fitted_slope():
    x = [16, 32, 64, 128]
    ax = viz.plot_loglog(x, {"square": [v ** 2 for v in x], "line": [3 * v for v in x]})
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels == ["square (slope 2.00)", "line (slope 1.00)"]
    assert ax.get_xscale() == ax.get_yscale() == "log"
    assert len(ax.get_lines()) == 4                     # data and fit for each
    assert [t.get_text() for t in ax.get_xticklabels()] == ["16", "32", "64", "128"]


def test_plot_loglog_fit_from_ignores_small_sizes():
    x = [1, 10, 100, 1000]
    ax = viz.plot_loglog(x, {"y": [5, 1e2, 1e4, 1e6]}, fit_from=10)
    assert ax.get_legend().get_texts()[0].get_text() == "y (slope 2.00)"


def test_figure_png_is_a_png():
    fig, _ = plt.subplots()
    assert viz.figure_png(fig)[:8] == b"\x89PNG\r\n\x1a\n"


def test_show_image_rows_labels_each_row_and_keeps_columns_aligned():
    a, b = torch.rand(3, 1, 4, 4), torch.rand(3, 3, 4, 4)
    fig = viz.show_image_rows([("original", a), ("output", b)], suptitle="rows")
    axes = np.array(fig.axes).reshape(2, 3)
    assert [ax.get_ylabel() for ax in axes[:, 0]] == ["original", "output"]
    assert np.allclose(axes[1, 2].images[0].get_array(), b[2].permute(1, 2, 0).numpy())
    assert fig._suptitle.get_text() == "rows"
    plt.close(fig)
    with pytest.raises(ValueError, match="same number of images"):
        viz.show_image_rows([("a", a), ("b", b[:2])])
    with pytest.raises(ValueError, match="at least one"):
        viz.show_image_rows([])
