"""vitcourse: the small, tested package behind the Vision Transformers course."""
from .attention import Attention, MultiHeadAttention, causal_mask, scaled_dot_product_attention
from .blocks import MLP, Block
from .config import ViTConfig, tiny, vit_b16, vit_h14, vit_l16
from .patches import PatchEmbed, patchify, unpatchify
from .pos_embed import LearnedPositionalEmbedding, resize_pos_embed, sincos_2d, sinusoidal_1d
from .train import evaluate, fit, get_device, linear_classifier, linear_probe, predict, seed_everything
from .vit import ViT

__version__ = "0.1.0"

__all__ = [
    "Attention", "MultiHeadAttention", "causal_mask", "scaled_dot_product_attention", "MLP", "Block",
    "ViTConfig", "tiny", "vit_b16", "vit_l16", "vit_h14", "PatchEmbed", "patchify", "unpatchify",
    "LearnedPositionalEmbedding", "resize_pos_embed", "sincos_2d", "sinusoidal_1d",
    "evaluate", "fit", "get_device", "linear_classifier", "linear_probe", "predict", "seed_everything", "ViT",
]
