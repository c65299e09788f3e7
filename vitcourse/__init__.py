"""vitcourse: the small, tested package behind the Vision Transformers course."""
from .attention import Attention, MultiHeadAttention, causal_mask, scaled_dot_product_attention
from .blocks import MLP, Block
from .clip import CLIP, TextConfig
from .contrastive import clip_loss, siglip_loss
from .config import ViTConfig, tiny, vit_b16, vit_h14, vit_l16
from .encoder_decoder import ImageToText, image_to_text
from .gpt import GPT
from .patches import PatchEmbed, patchify, unpatchify
from .pos_embed import LearnedPositionalEmbedding, resize_pos_embed, sincos_2d, sinusoidal_1d
from .train import evaluate, fit, get_device, linear_classifier, linear_probe, predict, seed_everything
from .tokenizer import WordTokenizer
from .vit import ViT
from .vlm import CrossAttentionFusion, EarlyFusion, LateFusion
from .zeroshot import recall_at_k, retrieve, zero_shot_classifier, zero_shot_predict

__version__ = "0.1.0"

__all__ = [
    "Attention", "MultiHeadAttention", "causal_mask", "scaled_dot_product_attention", "MLP", "Block",
    "ViTConfig", "tiny", "vit_b16", "vit_l16", "vit_h14", "PatchEmbed", "patchify", "unpatchify",
    "LearnedPositionalEmbedding", "resize_pos_embed", "sincos_2d", "sinusoidal_1d",
    "evaluate", "fit", "get_device", "linear_classifier", "linear_probe", "predict", "seed_everything", "ViT",
    "CLIP", "TextConfig", "WordTokenizer", "clip_loss", "siglip_loss", "zero_shot_classifier", "zero_shot_predict",
    "retrieve", "recall_at_k", "GPT", "ImageToText", "image_to_text", "LateFusion", "CrossAttentionFusion",
    "EarlyFusion",
]
