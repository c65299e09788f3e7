"""CLIP: contrastive language-image pre-training (Radford et al. 2021, Section 2).

Two towers meet only at a dot product (Figure 3's pseudo-code):

    I_e = normalize(visual(I) W_i);   T_e = normalize(text(T) W_t)     # (B, E) each
    logits = exp(t) * I_e T_e^T                                         # (B_img, B_txt)

- the image tower is the package's `ViT` without a head (Section 2.4: CLIP adds a layer norm
  before the first block, `ViTConfig(pre_norm=True)`, and its patch projection has no bias);
- the text tower is a causal transformer of the package's pre-norm `Block`s (Section 2.4: "masked
  self-attention"), read at the [EOS] token after a final layer norm;
- W_i, W_t are linear projections without bias; t = `logit_scale` is learned, initialised to
  ln(1/0.07) and clipped so exp(t) <= 100 (Section 2.5); call `clamp_logit_scale_()` after
  each optimiser step, as open_clip does.
With `logit_bias_init` (e.g. `logit_scale_init=ln 10, logit_bias_init=-10`, Zhai et al. 2023,
Section 3.2) the logits gain a learned bias and the model trains with `siglip_loss`.
"""
from __future__ import annotations

import math
import numbers
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn

from .blocks import ACTIVATIONS, Block
from .config import ViTConfig
from .tokenizer import eos_positions
from .vit import ViT

MAX_LOGIT_SCALE = math.log(100.0)   # exp(t) is clipped at 100 (Section 2.5)
TEXT_POOLS = ("eos", "argmax")


@dataclass
class TextConfig:
    vocab_size: int = 64                 # V (WordTokenizer.vocab_size)
    context_length: int = 16             # T_max: learned positions
    dim: int = 64                        # width D ("hidden size")
    depth: int = 2                       # blocks
    num_heads: int = 4
    mlp_dim: int = 256                   # 4 D in CLIP
    eos_token_id: int | None = None      # None: vocab_size - 1, the WordTokenizer's <eos>
    pool: str = "eos"                    # "eos": first eos_token_id; "argmax": largest id (OpenAI's code)
    layer_norm_eps: float = 1e-5         # CLIP's (Hugging Face's CLIPTextConfig default)
    act_layer: str = "quick_gelu"        # OpenAI CLIP's x * sigmoid(1.702 x)
    dropout: float = 0.0

    def __post_init__(self):
        for name in ("vocab_size", "context_length", "dim", "depth", "num_heads", "mlp_dim"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value <= 0:
                raise ValueError(f"TextConfig.{name} must be a positive integer, got {value!r}")
        if self.dim % self.num_heads:
            raise ValueError(f"dim={self.dim} must be divisible by num_heads={self.num_heads}")
        if self.eos_token_id is None:
            self.eos_token_id = self.vocab_size - 1
        if not 0 <= self.eos_token_id < self.vocab_size:
            raise ValueError(f"eos_token_id={self.eos_token_id} must lie in [0, vocab_size={self.vocab_size})")
        if self.pool not in TEXT_POOLS:
            raise ValueError(f"unknown pool={self.pool!r}: expected one of {TEXT_POOLS}")
        if self.act_layer not in ACTIVATIONS:
            raise ValueError(f"unknown act_layer={self.act_layer!r}: expected one of {sorted(ACTIVATIONS)}")

    def to_dict(self) -> dict:
        return asdict(self)


class TextTransformer(nn.Module):
    """Causal text encoder: `token_embed`, `pos_embed`, `blocks`, `norm`; ids (B, T) -> (B, D) at [EOS]."""

    def __init__(self, config: TextConfig):
        super().__init__()
        self.config = c = config
        self.token_embed = nn.Embedding(c.vocab_size, c.dim)
        self.pos_embed = nn.Parameter(torch.zeros(1, c.context_length, c.dim))       # learned positions
        self.blocks = nn.ModuleList(Block(c.dim, c.num_heads, c.mlp_dim, True, c.dropout, c.layer_norm_eps,
                                          c.act_layer) for _ in range(c.depth))
        self.norm = nn.LayerNorm(c.dim, eps=c.layer_norm_eps)
        self.reset_parameters()

    def reset_parameters(self):
        """open_clip's text init: tokens 0.02, positions 0.01, attention D^-1/2, residual projections
        D^-1/2 (2L)^-1/2, MLP input (2D)^-1/2; zero biases, unit LayerNorms (set by torch)."""
        D, L = self.config.dim, self.config.depth
        nn.init.normal_(self.token_embed.weight, std=0.02)
        nn.init.normal_(self.pos_embed, std=0.01)
        for b in self.blocks:
            for lin, std in ((b.attn.qkv, D ** -0.5), (b.attn.proj, (2 * D * L) ** -0.5),
                             (b.mlp.fc1, (2 * D) ** -0.5), (b.mlp.fc2, (2 * D * L) ** -0.5)):
                nn.init.normal_(lin.weight, std=std)
                nn.init.zeros_(lin.bias)

    def check_ids(self, ids) -> None:
        c = self.config
        if not isinstance(ids, torch.Tensor) or ids.dim() != 2 or ids.dtype not in (torch.int64, torch.int32):
            raise ValueError(f"token_ids must be a (B, T) int64 tensor (WordTokenizer output), got "
                             f"{getattr(ids, 'shape', type(ids).__name__)} {getattr(ids, 'dtype', '')}")
        if not 1 <= ids.shape[1] <= c.context_length:
            raise ValueError(f"token_ids have {ids.shape[1]} positions; this text tower takes 1 to "
                             f"context_length={c.context_length}")
        if ids.numel() and (ids.min() < 0 or ids.max() >= c.vocab_size):
            raise ValueError(f"token ids must lie in [0, vocab_size={c.vocab_size}), got {ids.min().item()} "
                             f"to {ids.max().item()}")

    def forward_features(self, ids: torch.Tensor) -> torch.Tensor:
        """(B, T) ids -> (B, T, D) after the causal blocks and the final norm (token t sees 0..t)."""
        self.check_ids(ids)
        x = self.token_embed(ids) + self.pos_embed[:, : ids.shape[1]]               # (B, T, D)
        for block in self.blocks:
            x = block(x, causal=True)
        return self.norm(x)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        """(B, T) ids -> (B, D): the feature at each caption's [EOS] (or at its largest id)."""
        x = self.forward_features(ids)
        pos = eos_positions(ids, self.config.eos_token_id) if self.config.pool == "eos" else ids.argmax(dim=-1)
        return x[torch.arange(len(ids), device=x.device), pos]                        # (B, D)


class CLIP(nn.Module):
    """`visual` (ViT, no head), `text` (TextTransformer), `visual_projection`, `text_projection`, `logit_scale`."""

    def __init__(self, vision: ViTConfig, text: TextConfig, embed_dim: int = 64,
                 logit_scale_init: float = math.log(1 / 0.07), logit_bias_init: float | None = None):
        super().__init__()
        if not isinstance(vision, ViTConfig) or not isinstance(text, TextConfig):
            raise TypeError(f"CLIP(vision: ViTConfig, text: TextConfig), got {type(vision).__name__}, "
                            f"{type(text).__name__}")
        if isinstance(embed_dim, bool) or not isinstance(embed_dim, numbers.Integral) or embed_dim <= 0:
            raise ValueError(f"embed_dim must be a positive integer, got {embed_dim!r}")
        self.visual = ViT(vision, num_classes=0)                                      # head-less
        self.text = TextTransformer(text)
        self.embed_dim = int(embed_dim)
        self.visual_projection = nn.Linear(vision.dim, embed_dim, bias=False)         # W_i
        self.text_projection = nn.Linear(text.dim, embed_dim, bias=False)             # W_t
        nn.init.normal_(self.visual_projection.weight, std=vision.dim ** -0.5)
        nn.init.normal_(self.text_projection.weight, std=text.dim ** -0.5)
        self.logit_scale = nn.Parameter(torch.tensor(float(logit_scale_init)))       # t = log of the multiplier
        self.logit_bias = None if logit_bias_init is None else nn.Parameter(torch.tensor(float(logit_bias_init)))

    @property
    def vision_config(self) -> ViTConfig:
        return self.visual.config

    @property
    def text_config(self) -> TextConfig:
        return self.text.config

    def encode_image(self, images: torch.Tensor) -> torch.Tensor:
        """(B, C, H, W) -> (B, E): the pooled image token, projected (not normalised)."""
        return self.visual_projection(self.visual(images))

    def encode_text(self, token_ids: torch.Tensor) -> torch.Tensor:
        """(B, T) ids -> (B, E): the [EOS] feature, projected (not normalised)."""
        return self.text_projection(self.text(token_ids))

    def forward(self, images: torch.Tensor, token_ids: torch.Tensor) -> torch.Tensor:
        """-> logits_per_image (B_img, B_txt) = exp(t) cos(image_i, text_j) (+ bias); transpose for per-text."""
        img = F.normalize(self.encode_image(images), dim=-1)                          # (B_img, E)
        txt = F.normalize(self.encode_text(token_ids), dim=-1)                        # (B_txt, E)
        logits = self.logit_scale.exp() * img @ txt.T                                 # (B_img, B_txt)
        return logits if self.logit_bias is None else logits + self.logit_bias

    @torch.no_grad()
    def clamp_logit_scale_(self, max_value: float = MAX_LOGIT_SCALE) -> "CLIP":
        """Clip t to [0, ln 100] in place (open_clip, after each optimiser step); returns self."""
        self.logit_scale.clamp_(0.0, max_value)
        return self

    def num_parameters(self, trainable_only: bool = False) -> int:
        return sum(p.numel() for p in self.parameters() if p.requires_grad or not trainable_only)
