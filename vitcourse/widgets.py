"""ipywidgets explorers for the notebooks (imported lazily: `import vitcourse` never needs them).

The rendered book cannot run widgets, so every explorer also has `static_figure`, a plain
matplotlib figure of a few settings to show next to it.
"""
from __future__ import annotations

import html

from .measure import token_costs


def _divisors(n: int, low: int = 2) -> list[int]:
    return [p for p in range(low, n + 1) if n % p == 0]


class PatchExplorer:
    """Pick a patch size P and an embedding width D; see the patch grid on the photo and what it
    costs: tokens N = HW/P^2, attention entries N^2, patch-embedding parameters P^2 C D + D.

    `explorer.widget` is the ipywidgets box to display; `explorer.update(P, D)` redraws (the
    sliders call it) and returns the costs.
    """

    def __init__(self, image, patch_sizes=None, dims=(64, 192, 384, 768), patch_size=None, dim=None, dpi=60):
        import ipywidgets as W

        if image.dim() != 3:
            raise ValueError(f"PatchExplorer takes one image (C, H, W), got shape {tuple(image.shape)}")
        self.image, self.dpi = image, dpi
        c, h, w = image.shape
        common = [p for p in _divisors(min(h, w)) if h % p == 0 and w % p == 0 and p <= min(h, w) // 2]
        patch_sizes = list(patch_sizes) if patch_sizes is not None else common
        bad = [p for p in patch_sizes if h % p or w % p]
        if bad or not patch_sizes:
            raise ValueError(f"patch sizes {bad or patch_sizes} do not divide the {h}x{w} image; "
                             f"sizes that do: {common}")
        patch_size = patch_size if patch_size is not None else patch_sizes[len(patch_sizes) // 2]
        dim = dim if dim is not None else dims[0]
        self.patch_slider = W.SelectionSlider(options=patch_sizes, value=patch_size, description="patch P")
        self.dim_slider = W.SelectionSlider(options=list(dims), value=dim, description="width D")
        self.picture = W.Image(format="png")
        self.stats = W.HTML()
        self.widget = W.VBox([W.HBox([self.patch_slider, self.dim_slider]), W.HBox([self.picture, self.stats])])
        for s in (self.patch_slider, self.dim_slider):
            s.observe(self._on_change, names="value")
        self.costs = self.update(patch_size, dim)

    def _on_change(self, _change):
        self.costs = self.update(self.patch_slider.value, self.dim_slider.value)

    def update(self, patch_size: int, dim: int) -> dict:
        from .viz import _plt, figure_png, show_patch_grid

        c, h, w = self.image.shape
        costs = token_costs((h, w), patch_size, dim, c)
        plt = _plt()
        fig, ax = plt.subplots(figsize=(3.2, 3.2 * h / w))
        show_patch_grid(self.image, patch_size, ax, numbers=costs["tokens"] <= 64,
                        title=f"P={patch_size}: {costs['grid'][0]}x{costs['grid'][1]} patches")
        self.picture.value = figure_png(fig, dpi=self.dpi)
        plt.close(fig)
        rows = [("tokens N = HW/P²", costs["tokens"]), ("values per patch P²C", costs["patch_values"]),
                ("attention entries N² (per head, per layer)", costs["attention_entries"]),
                ("embedding parameters P²CD + D", costs["embed_params"]),
                ("token matrix N×D", costs["tokens"] * dim)]
        self.stats.value = "<table>" + "".join(
            f"<tr><td>{html.escape(k)}</td><td style='text-align:right'><b>{v:,}</b></td></tr>" for k, v in rows
        ) + "</table>"
        return costs


def static_patch_figure(image, patch_sizes, dim: int):
    """The static companion of `PatchExplorer`: the photo cut with each patch size, costs in the titles."""
    from .viz import _plt, show_patch_grid

    c, h, w = image.shape
    fig, axes = _plt().subplots(1, len(patch_sizes), figsize=(2.0 * len(patch_sizes), 2.5), squeeze=False,
                                layout="constrained")
    for ax, p in zip(axes[0], patch_sizes):
        k = token_costs((h, w), p, dim, c)
        show_patch_grid(image, p, ax, numbers=k["tokens"] <= 64,
                        title=f"P={p}: N={k['tokens']:,}\nN²={k['attention_entries']:,}, params={k['embed_params']:,}")
        ax.title.set_fontsize(8)
    fig.suptitle(f"The same photo as tokens, D={dim}")
    return fig
