"""The size of a SAM-style prompt encoder and mask decoder (Kirillov et al. 2023, Section 3, Appendix A).

Defaults are the original ViT-B model's decoder (1024-pixel inputs, a 64 x 64 embedding of width
256, 8 heads, MLP 2048); `SAMConfig.tiny()` is the course's CPU size.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, replace


@dataclass
class SAMConfig:
    image_size: int = 1024          # input side in pixels: points and boxes are given in these coordinates
    embedding_size: int = 64        # side of the image-embedding grid (image_size / encoder patch size)
    embed_dim: int = 256            # D: width of prompt tokens, image embeddings and the decoder
    depth: int = 2                  # two-way attention blocks in the decoder's transformer
    num_heads: int = 8              # heads of every decoder attention
    mlp_dim: int = 2048             # hidden width of the token MLP in each two-way block
    downsample_rate: int = 2        # cross-attention runs at D / downsample_rate channels
    num_multimask_outputs: int = 3  # masks for an ambiguous prompt (whole, part, subpart)
    iou_head_depth: int = 3         # layers of the IoU-prediction MLP
    iou_head_hidden_dim: int = 256  # hidden width of the IoU-prediction MLP
    layer_norm_eps: float = 1e-5    # two-way blocks' LayerNorms (original: torch's 1e-5; Hugging Face: 1e-6)
    fourier_scale: float = 1.0      # std of the random-Fourier matrix (original 1.0; HF draws hidden_size // 2)
    mask_input_channels: int = 16   # hidden channels of the mask-prompt downscaling convolutions

    def __post_init__(self):
        for name in ("image_size", "embedding_size", "embed_dim", "depth", "num_heads", "mlp_dim",
                     "downsample_rate", "num_multimask_outputs", "iou_head_depth", "iou_head_hidden_dim",
                     "mask_input_channels"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                raise ValueError(f"SAMConfig.{name} must be a positive integer, got {value!r}")
        if self.embed_dim % 16:
            raise ValueError(f"SAMConfig.embed_dim={self.embed_dim} must be a multiple of 16: the Fourier encoding "
                             f"uses D/2 frequencies (sin and cos) and the upscaling works at D/4 and D/8 channels")
        if self.embed_dim % self.downsample_rate or (self.embed_dim // self.downsample_rate) % self.num_heads:
            raise ValueError(f"embed_dim / downsample_rate = {self.embed_dim} / {self.downsample_rate} must be an "
                             f"integer divisible by num_heads={self.num_heads}")
        if self.mask_input_channels % 4:
            raise ValueError(f"SAMConfig.mask_input_channels must be a multiple of 4, got {self.mask_input_channels}")
        if self.iou_head_depth < 2:
            raise ValueError(f"SAMConfig.iou_head_depth must be >= 2 (an MLP), got {self.iou_head_depth}")
        if self.fourier_scale <= 0:
            raise ValueError(f"SAMConfig.fourier_scale must be positive, got {self.fourier_scale}")

    @property
    def mask_size(self) -> int:
        """Side of the predicted low-resolution masks: 4 x the embedding grid (two stride-2 upscalings)."""
        return 4 * self.embedding_size

    @classmethod
    def tiny(cls, **overrides) -> "SAMConfig":
        """A CPU-sized decoder: 64-pixel images, an 8 x 8 embedding of width 32, 2 heads, MLP 64."""
        base = dict(image_size=64, embedding_size=8, embed_dim=32, num_heads=2, mlp_dim=64, iou_head_hidden_dim=32)
        return cls(**{**base, **overrides})

    def replace(self, **changes) -> "SAMConfig":
        return replace(self, **changes)

    def to_dict(self) -> dict:
        return asdict(self)
