"""Model configurations: one dataclass per model family, with presets.

`MAEConfig` describes a masked autoencoder (He et al. 2022): a ViT encoder and a light decoder.
The ViT presets follow Table 1 of Dosovitskiy et al. (2021), "An Image is Worth 16x16 Words"
(ViT-Base/Large/Huge); their parameter counts equal Hugging Face's and timm's models of the
same size (tested on the meta device).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, replace

from ._checks import check_mask_ratio, pair

POOLS = ("cls", "mean")


def _positive_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


class _PatchGrid:
    """The patch grid of a config with `image_size` (an int, or an (h, w) pair) and `patch_size`."""

    @property
    def image_hw(self) -> tuple[int, int]:
        """(height, width) in pixels, for square and non-square images alike."""
        return pair(self.image_size)

    @property
    def grid_hw(self) -> tuple[int, int]:
        """Patches per column and per row: (H / P, W / P), e.g. (2, 8) for 32x128 lines in 16-px patches."""
        h, w = self.image_hw
        return h // self.patch_size, w // self.patch_size

    @property
    def grid_size(self) -> int:
        """Patches per side of a square grid: image_size / patch_size (non-square: use `grid_hw`)."""
        gh, gw = self.grid_hw
        if gh != gw:
            raise ValueError(f"image_size={self.image_size!r} gives a {gh}x{gw} patch grid, not a square one: "
                             f"use grid_hw (rows, columns) where a non-square grid is allowed")
        return gh

    @property
    def num_patches(self) -> int:
        """N = HW / P^2."""
        gh, gw = self.grid_hw
        return gh * gw


@dataclass
class ViTConfig(_PatchGrid):
    image_size: int | tuple[int, int] = 224  # pixels: an int (square) or (height, width), e.g. (32, 128) text lines
    patch_size: int = 16         # P: each token is a P x P patch
    in_channels: int = 3         # C: 3 for RGB, 1 for grey-scale digits
    num_classes: int = 1000      # size of the classification head (0: no head)
    dim: int = 768               # D: token width ("hidden size")
    depth: int = 12              # L: number of transformer blocks
    num_heads: int = 12          # h: attention heads per block (D must divide by h)
    mlp_dim: int = 3072          # hidden width of each block's MLP (4 D in the paper)
    pool: str = "cls"            # "cls": read the class token; "mean": average the patch tokens
    dropout: float = 0.0         # dropout on embeddings, attention output and MLP
    layer_norm_eps: float = 1e-6  # timm's 1e-6; Hugging Face's ViT uses 1e-12
    qkv_bias: bool = True        # bias in the fused q/k/v projection
    act_layer: str = "gelu"      # MLP activation: "gelu" (ViT), "quick_gelu" (OpenAI CLIP), "gelu_tanh"
    pre_norm: bool = False       # a LayerNorm on the tokens before the first block (CLIP's ln_pre)
    patch_bias: bool = True      # bias in the patch projection (CLIP's has none)

    def __post_init__(self):
        if isinstance(self.image_size, (tuple, list)):
            if len(self.image_size) != 2 or not all(_positive_int(v) for v in self.image_size):
                raise ValueError(f"ViTConfig.image_size must be a positive integer or a (height, width) pair of "
                                 f"positive integers, got {self.image_size!r}")
            self.image_size = tuple(self.image_size)
        for name in ("image_size", "patch_size", "in_channels", "dim", "depth", "num_heads", "mlp_dim"):
            value = getattr(self, name)
            if not (name == "image_size" and isinstance(value, tuple)) and not _positive_int(value):
                raise ValueError(f"ViTConfig.{name} must be a positive integer, got {value!r}")
        if self.num_classes < 0:
            raise ValueError(f"ViTConfig.num_classes must be >= 0 (0 = no head), got {self.num_classes}")
        for side, size in zip(("height ", "width ") if isinstance(self.image_size, tuple) else ("",), self.image_hw):
            p = self.patch_size
            if size % p:
                raise ValueError(
                    f"image_size={self.image_size} is not divisible by patch_size={p}: "
                    f"pad or crop the image {side}to a multiple of {p} "
                    f"(e.g. {size // p * p} or {-(-size // p) * p}), or pick a patch size that divides it")
        if self.dim % self.num_heads:
            raise ValueError(f"dim={self.dim} must be divisible by num_heads={self.num_heads} "
                             f"(each head gets dim / num_heads channels)")
        if self.pool not in POOLS:
            raise ValueError(f"unknown pool={self.pool!r}: expected one of {POOLS}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout}")
        from .blocks import ACTIVATIONS
        if self.act_layer not in ACTIVATIONS:
            raise ValueError(f"unknown act_layer={self.act_layer!r}: expected one of {sorted(ACTIVATIONS)}")

    @property
    def num_tokens(self) -> int:
        """T = N (+1 for the class token when pool='cls')."""
        return self.num_patches + (self.pool == "cls")

    def to_dict(self) -> dict:
        return asdict(self)

    def replace(self, **changes) -> "ViTConfig":
        return replace(self, **changes)


def tiny(image_size=16, patch_size=4, in_channels=1, num_classes=10, dim=64, depth=4,
         num_heads=4, mlp_dim=128, **kw) -> ViTConfig:
    """A ViT that trains on the 8x8 digits (upsampled to 16 px) in well under a minute on a CPU."""
    return ViTConfig(image_size=image_size, patch_size=patch_size, in_channels=in_channels,
                     num_classes=num_classes, dim=dim, depth=depth, num_heads=num_heads,
                     mlp_dim=mlp_dim, **kw)


def vit_b16(num_classes=1000, **kw) -> ViTConfig:
    """ViT-Base/16: D=768, L=12, h=12, MLP 3072 (86.6M parameters with 1000 classes)."""
    return ViTConfig(patch_size=16, dim=768, depth=12, num_heads=12, mlp_dim=3072,
                     num_classes=num_classes, **kw)


def vit_l16(num_classes=1000, **kw) -> ViTConfig:
    """ViT-Large/16: D=1024, L=24, h=16, MLP 4096 (304.3M parameters with 1000 classes)."""
    return ViTConfig(patch_size=16, dim=1024, depth=24, num_heads=16, mlp_dim=4096,
                     num_classes=num_classes, **kw)


def vit_h14(num_classes=1000, **kw) -> ViTConfig:
    """ViT-Huge/14: D=1280, L=32, h=16, MLP 5120 (632.0M parameters with 1000 classes)."""
    return ViTConfig(patch_size=14, dim=1280, depth=32, num_heads=16, mlp_dim=5120,
                     num_classes=num_classes, **kw)


@dataclass
class MAEConfig(_PatchGrid):
    image_size: int = 224          # input height = width, in pixels
    patch_size: int = 16           # P
    in_channels: int = 3           # C
    dim: int = 768                 # encoder width (ViT-Base)
    depth: int = 12                # encoder blocks
    num_heads: int = 12
    mlp_dim: int = 3072
    decoder_dim: int = 512         # the paper's default decoder: 8 blocks of width 512 (Table 1a-b)
    decoder_depth: int = 8
    decoder_num_heads: int = 16
    decoder_mlp_dim: int = 2048
    mask_ratio: float = 0.75       # Section 3 / Figure 5: 75% works well for fine-tuning and probing
    norm_pix_loss: bool = False    # per-patch normalised targets (Table 1d); the reference trains with True
    layer_norm_eps: float = 1e-6   # the reference's 1e-6; Hugging Face's ViTMAE uses 1e-12
    qkv_bias: bool = True

    def __post_init__(self):
        for name in ("image_size", "patch_size", "in_channels", "dim", "depth", "num_heads", "mlp_dim",
                     "decoder_dim", "decoder_depth", "decoder_num_heads", "decoder_mlp_dim"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                raise ValueError(f"MAEConfig.{name} must be a positive integer, got {value!r}")
        if self.image_size % self.patch_size:
            raise ValueError(f"image_size={self.image_size} is not divisible by patch_size={self.patch_size}")
        for width, heads in (("dim", "num_heads"), ("decoder_dim", "decoder_num_heads")):
            if getattr(self, width) % getattr(self, heads):
                raise ValueError(f"{width}={getattr(self, width)} must be divisible by {heads}={getattr(self, heads)}")
            if getattr(self, width) % 4:
                raise ValueError(f"{width}={getattr(self, width)} must be divisible by 4 for the 2-D sin-cos positions")
        check_mask_ratio(self.mask_ratio)

    def to_dict(self) -> dict:
        return asdict(self)

    def replace(self, **changes) -> "MAEConfig":
        return replace(self, **changes)


def mae_tiny(image_size=16, patch_size=4, in_channels=1, dim=48, depth=3, num_heads=4, mlp_dim=96,
             decoder_dim=32, decoder_depth=2, decoder_num_heads=4, decoder_mlp_dim=64, **kw) -> MAEConfig:
    """An MAE for the 8x8 digits upsampled to 16 px (16 patches of 4x4): notebook 09 pre-trains it
    (standardised pixels, batch 32, 35 epochs) in about 12 s on one CPU thread."""
    return MAEConfig(image_size=image_size, patch_size=patch_size, in_channels=in_channels, dim=dim, depth=depth,
                     num_heads=num_heads, mlp_dim=mlp_dim, decoder_dim=decoder_dim, decoder_depth=decoder_depth,
                     decoder_num_heads=decoder_num_heads, decoder_mlp_dim=decoder_mlp_dim, **kw)


PRESETS = {"tiny": tiny, "vit_b16": vit_b16, "vit_l16": vit_l16, "vit_h14": vit_h14}
