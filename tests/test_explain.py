"""vitcourse.explain: rollout, mean attention distance, position similarity and filter PCA on
hand-made cases with known answers, and on a real ViT's maps."""
import pytest
import torch

from vitcourse import ViT, sincos_2d, tiny
from vitcourse.explain import (attention_rollout, mean_attention_distance, patch_distances,
                               patch_embedding_pcs, position_similarity, rollout_map)


def eye_maps(layers=3, b=2, h=4, t=5):
    return [torch.eye(t).expand(b, h, t, t).clone() for _ in range(layers)]


def uniform_maps(layers=3, b=2, h=4, t=5):
    return [torch.full((b, h, t, t), 1.0 / t) for _ in range(layers)]


def random_maps(layers=3, b=2, h=4, t=5):
    return [torch.randn(b, h, t, t).softmax(-1) for _ in range(layers)]


@pytest.mark.parametrize("fusion", ["mean", "max", "min"])
def test_identity_attention_rolls_out_to_identity(fusion):
    r = attention_rollout(eye_maps(), head_fusion=fusion)
    assert torch.allclose(r, torch.eye(5).expand(2, 5, 5).double())


def test_uniform_attention_without_residual_rolls_out_to_uniform():
    r = attention_rollout(uniform_maps(), residual=False)
    assert torch.allclose(r, torch.full((2, 5, 5), 0.2, dtype=torch.float64))


@pytest.mark.parametrize("layers", [1, 2, 5])
def test_uniform_attention_with_residual_has_the_closed_form(layers):
    # (U/2 + I/2)^L = U + 2^-L (I - U), since U is idempotent
    u, eye = torch.full((5, 5), 0.2, dtype=torch.float64), torch.eye(5, dtype=torch.float64)
    r = attention_rollout(uniform_maps(layers))
    assert torch.allclose(r, (u + 0.5 ** layers * (eye - u)).expand(2, 5, 5))


@pytest.mark.parametrize("fusion,discard", [("mean", 0.0), ("max", 0.0), ("min", 0.0), ("mean", 0.4)])
def test_rollout_rows_sum_to_one(fusion, discard):
    r = attention_rollout(random_maps(), head_fusion=fusion, discard_ratio=discard)
    assert r.shape == (2, 5, 5) and (r >= 0).all()
    assert torch.allclose(r.sum(-1), torch.ones(2, 5, dtype=torch.float64))


def test_rollout_multiplies_later_layers_on_the_left():
    maps = random_maps(layers=2, h=1)
    a1, a2 = [0.5 * m[:, 0].double() + 0.5 * torch.eye(5, dtype=torch.float64) for m in maps]
    assert torch.allclose(attention_rollout(maps), a2 @ a1)
    assert not torch.allclose(attention_rollout(maps), a1 @ a2)


def test_discard_ratio_zeroes_the_smallest_weights_before_the_residual():
    w = torch.tensor([[0.1, 0.2, 0.7], [0.6, 0.3, 0.1], [0.2, 0.2, 0.6]])[None, None]
    r = attention_rollout([w], discard_ratio=0.34, residual=False)     # drops 1 of 3 per row
    assert torch.allclose(r[0, 0].float(), torch.tensor([0.0, 0.2, 0.7]) / 0.9)
    assert r[0, 1, 2] == 0


def test_rollout_map_reads_the_class_token_row_on_the_grid():
    t = 1 + 6
    w = torch.zeros(1, 1, t, t)
    w[0, 0, 0, 1 + 4] = 1.0                       # the class token looks only at patch 4 = (row 1, col 1)
    w[0, 0, 1:, 1:] = torch.eye(6)
    m = rollout_map([w], grid_size=(2, 3), residual=False)
    assert m.shape == (1, 2, 3)
    expected = torch.zeros(2, 3, dtype=torch.float64)
    expected[1, 1] = 1
    assert torch.equal(m[0], expected)


def test_rollout_on_a_real_vit_is_a_distribution_over_patches():
    model = ViT(tiny()).eval()
    maps = model.attention_maps(torch.rand(3, 1, 16, 16))
    m = rollout_map(maps)
    assert m.shape == (3, 4, 4) and (m > 0).all() and (m.sum((1, 2)) < 1).all()


def right_neighbour_maps(grid=4, prefix=1, heads=2):
    """Head 0 attends only to its right neighbour (left one in the last column); head 1 to itself."""
    n, t = grid * grid, grid * grid + prefix
    w = torch.zeros(1, heads, t, t)
    w[0, :, :prefix, 0] = 1.0
    for i in range(n):
        r, c = divmod(i, grid)
        j = r * grid + (c + 1 if c + 1 < grid else c - 1)
        w[0, 0, prefix + i, prefix + j] = 1.0
        w[0, 1, prefix + i, prefix + i] = 1.0
    return [w]


@pytest.mark.parametrize("patch_size", [1, 4, 16])
@pytest.mark.parametrize("prefix", [0, 1])
def test_a_neighbour_head_has_distance_one_patch_and_a_self_head_zero(patch_size, prefix):
    d = mean_attention_distance(right_neighbour_maps(prefix=prefix), patch_size, num_prefix_tokens=prefix)
    assert d.shape == (1, 2)
    assert d[0, 0].item() == pytest.approx(patch_size)
    assert d[0, 1].item() == 0


def test_uniform_attention_distance_is_the_mean_pairwise_distance():
    t = 1 + 9
    d = mean_attention_distance(uniform_maps(layers=2, t=t), patch_size=2)
    assert d.shape == (2, 4)
    assert torch.allclose(d, patch_distances(3, 2).mean().expand(2, 4))


def test_attention_to_the_class_token_does_not_shorten_the_distance():
    w = right_neighbour_maps()[0]
    w[0, 0, 1:] = 0.5 * w[0, 0, 1:]
    w[0, 0, 1:, 0] = 0.5                              # half the mass on the class token
    assert mean_attention_distance([w], 4)[0, 0].item() == pytest.approx(4.0)


def test_patch_distances_are_euclidean_in_pixels():
    d = patch_distances((2, 3), patch_size=4)
    assert d.shape == (6, 6)
    assert d[0, 5].item() == pytest.approx(4 * (1 + 4) ** 0.5)       # (0,0) -> (1,2)


def test_position_similarity_of_a_sincos_table_has_ones_on_the_diagonal():
    s = position_similarity(sincos_2d(4, 4, 32))
    assert s.shape == (4, 4, 4, 4)
    flat = s.reshape(16, 16)
    assert torch.allclose(flat.diagonal(), torch.ones(16, dtype=torch.float64))
    assert torch.allclose(flat, flat.T) and (flat <= 1 + 1e-12).all()
    assert s[1, 1, 1, 2] > s[1, 1, 3, 3]               # neighbours are more alike than far patches


def test_position_similarity_of_a_vit_drops_the_class_token():
    model = ViT(tiny())
    s = position_similarity(model)
    pe = torch.nn.functional.normalize(model.pos_embed[0, 1:].detach().double(), dim=-1)
    assert torch.allclose(s.reshape(16, 16), pe @ pe.T)
    t = position_similarity(sincos_2d(4, 4, 32, cls_token=True), num_prefix_tokens=1)
    assert t.shape == (4, 4, 4, 4)


def test_patch_embedding_pcs_are_orthonormal_and_sorted():
    w = torch.randn(64, 3, 4, 4) * torch.linspace(2, 0.1, 48).reshape(1, 3, 4, 4)
    comps, ratio = patch_embedding_pcs(w, k=10)
    assert comps.shape == (10, 3, 4, 4) and ratio.shape == (10,)
    flat = comps.reshape(10, -1)
    assert torch.allclose(flat @ flat.T, torch.eye(10, dtype=torch.float64), atol=1e-10)
    assert (ratio[1:] <= ratio[:-1]).all() and 0 < ratio.sum() <= 1
    _, full = patch_embedding_pcs(w)
    assert full.sum().item() == pytest.approx(1.0)


def test_patch_embedding_pcs_recover_a_planted_direction():
    direction = torch.zeros(16)
    direction[5] = 1.0
    w = torch.randn(50, 1)[:, :, None] * direction + 1e-3 * torch.randn(50, 1, 16)   # (50, 1, 16)
    comps, ratio = patch_embedding_pcs(w.reshape(50, 1, 4, 4), k=1)
    assert abs(comps.flatten()[5].item()) == pytest.approx(1.0, abs=1e-3) and ratio[0] > 0.99


def test_patch_embedding_pcs_of_a_vit():
    comps, ratio = patch_embedding_pcs(ViT(tiny()), k=16)
    assert comps.shape == (16, 1, 4, 4)


@pytest.mark.parametrize("maps,match", [
    ([], "non-empty list"),
    ("maps", "non-empty list"),
    ([torch.rand(2, 5, 5)], r"\(B, heads, T, T\) tensor, got \(2, 5, 5\)"),
    ([torch.rand(1, 2, 5, 4)], r"got \(1, 2, 5, 4\)"),
    ([torch.rand(1, 2, 5, 5), torch.rand(1, 2, 6, 6)], "layer 1 is"),
])
def test_bad_maps_are_rejected(maps, match):
    with pytest.raises(ValueError, match=match):
        attention_rollout(maps)


def test_bad_arguments_are_rejected():
    maps = random_maps(t=10)
    with pytest.raises(ValueError, match="head_fusion='median'"):
        attention_rollout(maps, head_fusion="median")
    with pytest.raises(ValueError, match="discard_ratio must be in"):
        attention_rollout(maps, discard_ratio=1.0)
    with pytest.raises(ValueError, match="num_prefix_tokens must be >= 1"):
        rollout_map(maps, num_prefix_tokens=0)
    with pytest.raises(ValueError, match="do not form a square grid"):
        rollout_map(random_maps(t=8))
    with pytest.raises(ValueError, match=r"grid_size=\(2, 2\) holds 4 patches"):
        mean_attention_distance(maps, 4, grid_size=(2, 2))
    with pytest.raises(ValueError, match="patch_size must be a positive integer"):
        mean_attention_distance(maps, 0)
    with pytest.raises(ValueError, match="num_prefix_tokens=10"):
        mean_attention_distance(maps, 4, num_prefix_tokens=10)
    with pytest.raises(ValueError, match=r"\(1, T, D\) or \(T, D\)"):
        position_similarity(torch.rand(2, 5, 8))
    with pytest.raises(ValueError, match="expected a vitcourse.ViT"):
        position_similarity(torch.nn.Linear(2, 2))
    with pytest.raises(ValueError, match=r"k must be an integer in \[1, 16\]"):
        patch_embedding_pcs(torch.rand(32, 1, 4, 4), k=17)
    with pytest.raises(ValueError, match=r"\(D, C, P, P\)"):
        patch_embedding_pcs(torch.rand(32, 16))
    with pytest.raises(ValueError, match="patch_embed.proj"):
        patch_embedding_pcs(torch.nn.Linear(2, 2))
