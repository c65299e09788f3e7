"""Masked autoencoders (He et al. 2022, "Masked Autoencoders Are Scalable Vision Learners").

Section 3: mask a large random subset of the patches ("Masking", 75% by default), encode only
the visible ones with a ViT ("MAE encoder"), let a light decoder fill the gaps with a shared
mask token and predict the pixels of every patch ("MAE decoder"), and score the prediction with
the mean squared error on the masked patches only ("Reconstruction target", optionally against
per-patch normalised pixels). Parameter names follow the MAE reference and timm: patch_embed.proj,
cls_token, pos_embed, blocks, norm, decoder_embed, mask_token, decoder_pos_embed, decoder_blocks,
decoder_norm, decoder_pred.
"""
from __future__ import annotations

from typing import NamedTuple

import torch
from einops import repeat
from torch import nn

from ._checks import check_images, check_mask_ratio
from .blocks import Block
from .config import MAEConfig, mae_tiny  # noqa: F401  (the configs live in config.py; re-exported here)
from .patches import PatchEmbed, patchify, unpatchify
from .pos_embed import sincos_2d


def random_masking(x: torch.Tensor, mask_ratio: float, noise: torch.Tensor | None = None):
    """Keep a random subset of the tokens of each sample (Section 3, "Masking").

    x (B, L, D) -> (x_visible (B, len_keep, D), mask (B, L), ids_restore (B, L)) where
    len_keep = int(L * (1 - mask_ratio)) exactly as in the reference (so L=100, ratio 0.9 keeps 9
    because 100 * (1 - 0.9) = 9.999...), the tokens with the smallest `noise` (B, L) are kept
    (uniform noise by default), mask is 1 for removed and 0 for kept tokens, and gathering
    [visible tokens; removed tokens] with ids_restore puts them back in their original order.
    """
    if not isinstance(x, torch.Tensor) or x.dim() != 3:
        raise ValueError(f"x must be a (B, L, D) tensor of tokens, got {getattr(x, 'shape', type(x).__name__)}")
    mask_ratio = check_mask_ratio(mask_ratio)
    b, n, d = x.shape
    len_keep = int(n * (1 - mask_ratio))
    if noise is None:
        noise = torch.rand(b, n, device=x.device)
    elif not isinstance(noise, torch.Tensor) or tuple(noise.shape) != (b, n):
        raise ValueError(f"noise must be a ({b}, {n}) tensor, one value per token, got "
                         f"{tuple(noise.shape) if isinstance(noise, torch.Tensor) else type(noise).__name__}")
    ids_shuffle = torch.argsort(noise.to(x.device), dim=1)          # ascending: small noise = kept
    ids_restore = torch.argsort(ids_shuffle, dim=1)                 # inverse permutation
    ids_keep = ids_shuffle[:, :len_keep]                            # (B, len_keep)
    x_visible = torch.gather(x, 1, repeat(ids_keep, "b n -> b n d", d=d))
    mask = torch.ones(b, n, device=x.device, dtype=x.dtype if x.is_floating_point() else torch.float32)
    mask[:, :len_keep] = 0                                          # in shuffled order ...
    return x_visible, torch.gather(mask, 1, ids_restore), ids_restore   # ... then unshuffled


def mae_loss(pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor, norm_pix_loss: bool = False):
    """Mean squared error per patch, averaged over the masked patches only (Section 3).

    pred, target (B, L, P*P*C); mask (B, L), 1 = removed. With `norm_pix_loss` each target patch
    is normalised by its own mean and standard deviation (unbiased variance + 1e-6, as in the
    reference). If nothing is masked (mask_ratio 0) the mean is over all patches instead.
    """
    if pred.shape != target.shape or mask.shape != pred.shape[:2]:
        raise ValueError(f"pred {tuple(pred.shape)} and target {tuple(target.shape)} must be (B, L, P*P*C) "
                         f"and mask {tuple(mask.shape)} must be (B, L)")
    if norm_pix_loss:
        mean, var = target.mean(dim=-1, keepdim=True), target.var(dim=-1, keepdim=True)
        target = (target - mean) / (var + 1e-6) ** 0.5
    loss = ((pred - target) ** 2).mean(dim=-1)                      # (B, L): one error per patch
    if mask.sum() == 0:
        return loss.mean()
    return (loss * mask).sum() / mask.sum()


class MAEOutput(NamedTuple):
    loss: torch.Tensor          # scalar: MSE on the masked patches
    pred: torch.Tensor          # (B, L, P*P*C): predicted pixels of every patch
    mask: torch.Tensor          # (B, L): 1 = removed, 0 = visible
    ids_restore: torch.Tensor   # (B, L): unshuffles [visible; removed]


class MAE(nn.Module):
    """ViT encoder on the visible patches, light decoder on all of them (Section 3, Figure 1)."""

    def __init__(self, config: MAEConfig | None = None, **overrides):
        super().__init__()
        if config is None:
            config = MAEConfig(**overrides)
        elif not isinstance(config, MAEConfig):
            raise TypeError(f"MAE expects an MAEConfig, got {type(config).__name__}")
        elif overrides:
            config = config.replace(**overrides)
        self.config = c = config
        n = c.num_patches
        self.patch_embed = PatchEmbed(c.image_size, c.patch_size, c.in_channels, c.dim)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, c.dim))
        self.pos_embed = nn.Parameter(torch.zeros(1, n + 1, c.dim), requires_grad=False)   # fixed sin-cos
        self.blocks = nn.ModuleList(Block(c.dim, c.num_heads, c.mlp_dim, c.qkv_bias, layer_norm_eps=c.layer_norm_eps)
                                    for _ in range(c.depth))
        self.norm = nn.LayerNorm(c.dim, eps=c.layer_norm_eps)
        self.decoder_embed = nn.Linear(c.dim, c.decoder_dim)
        self.mask_token = nn.Parameter(torch.zeros(1, 1, c.decoder_dim))
        self.decoder_pos_embed = nn.Parameter(torch.zeros(1, n + 1, c.decoder_dim), requires_grad=False)
        self.decoder_blocks = nn.ModuleList(
            Block(c.decoder_dim, c.decoder_num_heads, c.decoder_mlp_dim, c.qkv_bias, layer_norm_eps=c.layer_norm_eps)
            for _ in range(c.decoder_depth))
        self.decoder_norm = nn.LayerNorm(c.decoder_dim, eps=c.layer_norm_eps)
        self.decoder_pred = nn.Linear(c.decoder_dim, c.patch_size ** 2 * c.in_channels)
        self.reset_parameters()

    @torch.no_grad()
    def reset_parameters(self):
        """The reference initialisation: sin-cos positions, Xavier-uniform linears (and the patch
        projection viewed as a linear), normal(0.02) tokens, zero biases, identity LayerNorms."""
        g = self.config.grid_size
        self.pos_embed.copy_(sincos_2d(g, g, self.config.dim, cls_token=True)[None])
        self.decoder_pos_embed.copy_(sincos_2d(g, g, self.config.decoder_dim, cls_token=True)[None])
        for m in self.modules():
            if isinstance(m, (nn.Linear, nn.Conv2d)):
                nn.init.xavier_uniform_(m.weight.view(m.weight.shape[0], -1))
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, nn.LayerNorm):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
        nn.init.normal_(self.cls_token, std=0.02)
        nn.init.normal_(self.mask_token, std=0.02)

    def _check(self, images):
        c = self.config
        check_images(images, channels=c.in_channels, size=c.image_size, patch_size=c.patch_size)

    def forward_encoder(self, images, mask_ratio: float, noise=None):
        """(B, C, H, W) -> (latent (B, 1 + len_keep, D), mask (B, L), ids_restore (B, L))."""
        self._check(images)
        x = self.patch_embed(images) + self.pos_embed[:, 1:]              # (B, L, D)
        x, mask, ids_restore = random_masking(x, mask_ratio, noise)       # (B, len_keep, D): visible only
        if x.shape[1] == 0:                     # the reference would encode the class token alone
            n = mask.shape[1]
            raise ValueError(f"mask_ratio={mask_ratio} keeps int({n} * (1 - {mask_ratio})) = 0 of the {n} patches, so "
                             f"the encoder would see no patch: use a ratio of at most {1 - 1 / n:.4g} for {n} patches")
        cls = (self.cls_token + self.pos_embed[:, :1]).expand(x.shape[0], -1, -1)
        x = torch.cat([cls, x], dim=1)                                    # (B, 1 + len_keep, D)
        for block in self.blocks:
            x = block(x)
        return self.norm(x), mask, ids_restore

    def forward_decoder(self, latent, ids_restore):
        """latent (B, 1 + len_keep, D) -> predicted pixels (B, L, P*P*C), in the original patch order."""
        x = self.decoder_embed(latent)                                    # (B, 1 + len_keep, Dd)
        b, t, dd = x.shape
        mask_tokens = self.mask_token.expand(b, ids_restore.shape[1] + 1 - t, -1)
        x_ = torch.cat([x[:, 1:], mask_tokens], dim=1)                    # (B, L, Dd), shuffled order
        x_ = torch.gather(x_, 1, repeat(ids_restore, "b n -> b n d", d=dd))   # unshuffle
        x = torch.cat([x[:, :1], x_], dim=1) + self.decoder_pos_embed     # (B, 1 + L, Dd)
        for block in self.decoder_blocks:
            x = block(x)
        return self.decoder_pred(self.decoder_norm(x))[:, 1:]             # drop the class token

    def forward(self, images, mask_ratio: float | None = None, noise=None) -> MAEOutput:
        """images (B, C, H, W) -> MAEOutput(loss, pred, mask, ids_restore); mask_ratio defaults to the config's."""
        ratio = self.config.mask_ratio if mask_ratio is None else mask_ratio
        latent, mask, ids_restore = self.forward_encoder(images, ratio, noise)
        pred = self.forward_decoder(latent, ids_restore)
        loss = mae_loss(pred, patchify(images, self.config.patch_size), mask, self.config.norm_pix_loss)
        return MAEOutput(loss, pred, mask, ids_restore)

    def forward_features(self, images):
        """All tokens, nothing masked, in raster order: (B, C, H, W) -> (B, 1 + L, D) (for probes)."""
        self._check(images)
        x = self.patch_embed(images) + self.pos_embed[:, 1:]
        x = torch.cat([(self.cls_token + self.pos_embed[:, :1]).expand(x.shape[0], -1, -1), x], dim=1)
        for block in self.blocks:
            x = block(x)
        return self.norm(x)

    def encode(self, images, pool: str = "cls"):
        """(B, C, H, W) -> (B, D): the class token ("cls") or the mean patch token ("mean")."""
        if pool not in ("cls", "mean"):
            raise ValueError(f"pool must be 'cls' or 'mean', got {pool!r}")
        x = self.forward_features(images)
        return x[:, 0] if pool == "cls" else x[:, 1:].mean(dim=1)

    def unpatchify(self, patches):
        """(B, L, P*P*C) -> (B, C, H, W)."""
        c = self.config
        return unpatchify(patches, c.patch_size, c.image_size, c.in_channels)

    @torch.no_grad()
    def reconstruct(self, images, out: MAEOutput, fill: float = 0.5) -> dict:
        """Pictures of one forward pass: {"masked", "reconstruction", "pasted"}, each (B, C, H, W).

        masked: the input with removed patches set to `fill`; reconstruction: the prediction for
        every patch; pasted: visible patches from the input, removed ones from the prediction.
        With norm_pix_loss the predictions are normalised patches: they are shown with each true
        patch's mean and standard deviation put back (for display only).
        """
        target = patchify(images, self.config.patch_size)                  # (B, L, P*P*C)
        pred = out.pred
        if self.config.norm_pix_loss:
            pred = pred * (target.var(dim=-1, keepdim=True) + 1e-6) ** 0.5 + target.mean(dim=-1, keepdim=True)
        m = out.mask.unsqueeze(-1).to(target.dtype)                        # (B, L, 1)
        return {"masked": self.unpatchify(target * (1 - m) + fill * m),
                "reconstruction": self.unpatchify(pred),
                "pasted": self.unpatchify(target * (1 - m) + pred * m)}

    def num_parameters(self, trainable_only: bool = False) -> int:
        return sum(p.numel() for p in self.parameters() if p.requires_grad or not trainable_only)


def vit_from_mae(mae: MAE, num_classes: int, pool: str = "cls"):
    """A `ViT` classifier whose encoder is the MAE's (fine-tuning / probing, Section 4); fresh head.

    The sin-cos positions become the ViT's (learnable) position table, as in the reference's
    fine-tuning. With pool="mean" the class token is dropped.
    """
    from .config import ViTConfig
    from .vit import ViT

    c = mae.config
    vit = ViT(ViTConfig(image_size=c.image_size, patch_size=c.patch_size, in_channels=c.in_channels,
                        num_classes=num_classes, dim=c.dim, depth=c.depth, num_heads=c.num_heads,
                        mlp_dim=c.mlp_dim, pool=pool, layer_norm_eps=c.layer_norm_eps, qkv_bias=c.qkv_bias))
    state = {k: v for k, v in mae.state_dict().items()
             if k.split(".")[0] in ("patch_embed", "cls_token", "pos_embed", "blocks", "norm")}
    if pool == "mean":
        del state["cls_token"]
        state["pos_embed"] = state["pos_embed"][:, 1:]
    missing, unexpected = vit.load_state_dict(state, strict=False)
    if sorted(missing) != sorted(k for k in vit.state_dict() if k.startswith("head.")) or unexpected:
        raise RuntimeError(f"MAE -> ViT key mismatch: missing {missing}, unexpected {unexpected}")
    p = next(mae.parameters())
    return vit.to(device=p.device, dtype=p.dtype)
