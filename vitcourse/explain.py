"""Looking inside a trained ViT: attention rollout and the three panels of Figure 7.

- `attention_rollout`, `rollout_map`: Abnar & Zuidema (2020), "Quantifying Attention Flow in
  Transformers", Section 3: fuse the heads, add the identity for the residual connection,
  re-normalise the rows and multiply the layers, A~_l = A_l A~_{l-1}.
- `mean_attention_distance`: Dosovitskiy et al. (2021), Figure 7 right and Appendix D.7: for each
  head, the attention-weighted average distance in pixels between a query patch and the key patches.
- `position_similarity`: Figure 7 centre, cosine similarity between the learned position embeddings.
- `patch_embedding_pcs`: Figure 7 left, principal components of the patch-embedding filters.

Attention maps are the list `ViT.attention_maps(images)` returns: one (B, heads, T, T) per layer.
"""
from __future__ import annotations

import math

import torch
from einops import rearrange
from torch import nn

HEAD_FUSIONS = ("mean", "max", "min")


def _check_maps(maps) -> torch.Tensor:
    """A list of L (B, h, T, T) tensors -> one (L, B, h, T, T) float64 tensor."""
    if isinstance(maps, torch.Tensor):
        maps = [maps]
    if not isinstance(maps, (list, tuple)) or not maps:
        raise ValueError(f"expected a non-empty list of (B, heads, T, T) attention maps, one per layer "
                         f"(ViT.attention_maps), got {type(maps).__name__}")
    for i, m in enumerate(maps):
        if not isinstance(m, torch.Tensor) or m.dim() != 4 or m.shape[-1] != m.shape[-2]:
            shape = tuple(m.shape) if isinstance(m, torch.Tensor) else type(m).__name__
            raise ValueError(f"attention map {i} must be a (B, heads, T, T) tensor, got {shape}")
        if m.shape != maps[0].shape:
            raise ValueError(f"attention maps differ in shape: layer 0 is {tuple(maps[0].shape)}, "
                             f"layer {i} is {tuple(m.shape)}")
    return torch.stack([m.detach().double() for m in maps])


def _grid(num_patches: int, grid_size) -> tuple[int, int]:
    if grid_size is None:
        side = math.isqrt(num_patches)
        if side * side != num_patches:
            raise ValueError(f"{num_patches} patch tokens do not form a square grid: pass grid_size=(rows, cols)")
        return side, side
    gh, gw = (grid_size, grid_size) if isinstance(grid_size, int) else tuple(grid_size)
    if gh * gw != num_patches:
        raise ValueError(f"grid_size={grid_size!r} holds {gh * gw} patches but the maps have {num_patches} "
                         f"patch tokens (T minus num_prefix_tokens)")
    return gh, gw


def attention_rollout(maps, head_fusion: str = "mean", discard_ratio: float = 0.0,
                      residual: bool = True) -> torch.Tensor:
    """Roll the attention out through the layers: (L x (B, h, T, T)) -> (B, T, T), rows sum to 1.

    Per layer: fuse the heads (mean, as in the paper, or max/min), optionally zero the smallest
    `discard_ratio` of each row (a common denoising trick, not in the paper), then with `residual`
    A = 0.5 W + 0.5 I and rows re-normalised (Section 3). Rollout: R = A_L ... A_2 A_1.
    Entry R[b, i, j] is how much of input token j flows into token i after the last layer.
    """
    a = _check_maps(maps)                                              # (L, B, h, T, T)
    if head_fusion not in HEAD_FUSIONS:
        raise ValueError(f"unknown head_fusion={head_fusion!r}: expected one of {HEAD_FUSIONS}")
    if not 0.0 <= discard_ratio < 1.0:
        raise ValueError(f"discard_ratio must be in [0, 1), got {discard_ratio}")
    a = getattr(a, head_fusion)(dim=2)
    a = a if head_fusion == "mean" else a.values                       # (L, B, T, T)
    t = a.shape[-1]
    if discard_ratio > 0:
        k = int(discard_ratio * t)
        if k:
            low = a.topk(k, dim=-1, largest=False).indices
            a = a.scatter(-1, low, 0.0)
    eye = torch.eye(t, dtype=a.dtype)
    if residual:
        a = 0.5 * a + 0.5 * eye
    a = a / a.sum(-1, keepdim=True).clamp_min(1e-30)
    rollout = eye.expand_as(a[0]).clone()                              # (B, T, T)
    for layer in a:
        rollout = layer @ rollout
    return rollout


def rollout_map(maps, grid_size=None, num_prefix_tokens: int = 1, **kw) -> torch.Tensor:
    """What the class token reads from each patch after rollout, on the patch grid: (B, rows, cols).

    Keyword arguments go to `attention_rollout`. Needs a class token (num_prefix_tokens >= 1).
    """
    if num_prefix_tokens < 1:
        raise ValueError(f"rollout_map reads the class token's row: num_prefix_tokens must be >= 1, "
                         f"got {num_prefix_tokens} (a mean-pooled ViT has no class token)")
    r = attention_rollout(maps, **kw)                                  # (B, T, T)
    gh, gw = _grid(r.shape[-1] - num_prefix_tokens, grid_size)
    return rearrange(r[:, 0, num_prefix_tokens:], "b (h w) -> b h w", h=gh, w=gw)


def patch_distances(grid_size, patch_size: int = 1) -> torch.Tensor:
    """(N, N) Euclidean distances between patch centres in pixels, raster order."""
    gh, gw = (grid_size, grid_size) if isinstance(grid_size, int) else tuple(grid_size)
    if gh <= 0 or gw <= 0:
        raise ValueError(f"grid_size must be positive, got {grid_size!r}")
    rows, cols = torch.meshgrid(torch.arange(gh), torch.arange(gw), indexing="ij")
    centres = torch.stack([rows.flatten(), cols.flatten()], -1).double() * patch_size   # (N, 2)
    return torch.cdist(centres, centres)


def mean_attention_distance(maps, patch_size: int, grid_size=None, num_prefix_tokens: int = 1) -> torch.Tensor:
    """Attention-weighted mean distance in pixels between query and key patches: (L, heads).

    Figure 7 right / Appendix D.7 of Dosovitskiy et al. (2021), the transformer's "receptive field
    size". Only patch queries and patch keys count: each query's weights over the patch keys are
    re-normalised to sum to 1 (the class token has no position), then averaged over queries and images.
    """
    if isinstance(patch_size, bool) or not isinstance(patch_size, int) or patch_size <= 0:
        raise ValueError(f"patch_size must be a positive integer (pixels per patch side), got {patch_size!r}")
    a = _check_maps(maps)                                              # (L, B, h, T, T)
    t = a.shape[-1]
    if not 0 <= num_prefix_tokens < t:
        raise ValueError(f"num_prefix_tokens={num_prefix_tokens} must be in [0, T={t})")
    a = a[..., num_prefix_tokens:, num_prefix_tokens:]                 # (L, B, h, N, N)
    dist = patch_distances(_grid(t - num_prefix_tokens, grid_size), patch_size)
    a = a / a.sum(-1, keepdim=True).clamp_min(1e-30)
    per_query = (a * dist).sum(-1)                                     # (L, B, h, N)
    return per_query.mean(dim=(1, 3))                                  # (L, h)


def position_similarity(pos_embed, grid_size=None, num_prefix_tokens: int | None = None) -> torch.Tensor:
    """Cosine similarity of every patch's position embedding with every other: (rows, cols, rows, cols).

    Figure 7 centre: entry [r, c] is a rows x cols map of how similar patch (r, c)'s position is to all
    others. `pos_embed`: a ViT, or a (1, T, D) / (T, D) table; prefix rows (class token) are dropped
    (by default 1 for a ViT with a class token, 0 for a table).
    """
    if isinstance(pos_embed, nn.Module):
        model = pos_embed
        if not hasattr(model, "pos_embed") or not hasattr(model, "config"):
            raise ValueError(f"expected a vitcourse.ViT or a position table, got {type(model).__name__}")
        pos_embed = model.pos_embed
        if num_prefix_tokens is None:
            num_prefix_tokens = int(model.cls_token is not None)
        grid_size = grid_size or model.patch_embed.grid_size
    if not isinstance(pos_embed, torch.Tensor) or pos_embed.dim() not in (2, 3) or \
            (pos_embed.dim() == 3 and pos_embed.shape[0] != 1):
        shape = tuple(pos_embed.shape) if isinstance(pos_embed, torch.Tensor) else type(pos_embed).__name__
        raise ValueError(f"position table must be (1, T, D) or (T, D), got {shape}")
    pe = pos_embed.detach().reshape(-1, pos_embed.shape[-1]).double()[num_prefix_tokens or 0:]   # (N, D)
    gh, gw = _grid(pe.shape[0], grid_size)
    pe = nn.functional.normalize(pe, dim=-1)
    return rearrange(pe @ pe.T, "(h1 w1) (h2 w2) -> h1 w1 h2 w2", h1=gh, w1=gw, h2=gh, w2=gw)


def patch_embedding_pcs(weight, k: int | None = None):
    """Principal components of the patch-embedding filters (Figure 7 left).

    `weight`: a ViT or its (D, C, P, P) `patch_embed.proj.weight`. The D filters, flattened, are
    centred and decomposed (SVD). Returns (components (k, C, P, P), orthonormal when flattened;
    explained-variance ratio (k,), decreasing).
    """
    if isinstance(weight, nn.Module):
        proj = getattr(getattr(weight, "patch_embed", None), "proj", None)
        if not isinstance(proj, nn.Conv2d):
            raise ValueError(f"expected a ViT with patch_embed.proj (Conv2d), got {type(weight).__name__}")
        weight = proj.weight
    if not isinstance(weight, torch.Tensor) or weight.dim() != 4:
        shape = tuple(weight.shape) if isinstance(weight, torch.Tensor) else type(weight).__name__
        raise ValueError(f"filters must be a (D, C, P, P) tensor, got {shape}")
    d, c, p1, p2 = weight.shape
    x = weight.detach().double().reshape(d, -1)                        # (D, C*P*P)
    x = x - x.mean(0, keepdim=True)
    _, s, vt = torch.linalg.svd(x, full_matrices=False)                # vt: (min(D, CPP), CPP)
    kmax = vt.shape[0]
    k = kmax if k is None else k
    if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= kmax:
        raise ValueError(f"k must be an integer in [1, {kmax}] (min(D={d}, C*P*P={c * p1 * p2})), got {k!r}")
    var = s ** 2
    ratio = var / var.sum().clamp_min(1e-300)
    return vt[:k].reshape(k, c, p1, p2), ratio[:k]
