"""SAM: a heavy image encoder run once, a light prompt encoder and mask decoder run per prompt
(Kirillov et al. 2023, Section 3, Fig. 4).

    emb = sam.embed_image(images)                                  # (B, D, h, w), once per image
    masks, iou = sam.predict_masks(emb, points, labels, boxes)     # (B, P, K, 4h, 4w), (B, P, K), per prompt

The image encoder is a package `ViT` (its patch tokens, class token dropped, laid out on the grid;
the paper uses an MAE-pre-trained ViT) or any module returning a (B, C, h, w) map; a neck
(1x1 conv, LayerNorm2d, 3x3 conv, LayerNorm2d, as the original's) maps C to the prompt width D.
Inputs follow Hugging Face's `SamModel`: points (B, P, n, 2), labels (B, P, n), boxes (B, P, 4),
in input-image pixels.
"""
from __future__ import annotations

import torch
from einops import rearrange
from torch import nn

from .._checks import check_images
from ..vit import ViT
from .config import SAMConfig
from .layers import LayerNorm2d
from .mask_decoder import MaskDecoder
from .prompt_encoder import PromptEncoder


class SAM(nn.Module):
    def __init__(self, config: SAMConfig | None = None, image_encoder: nn.Module | None = None,
                 encoder_dim: int | None = None):
        super().__init__()
        self.config = c = config if config is not None else SAMConfig()
        if isinstance(image_encoder, ViT):
            v = image_encoder.config
            if v.grid_size != c.embedding_size or v.image_size != c.image_size:
                raise ValueError(f"the ViT gives a {v.grid_size} x {v.grid_size} grid of {v.image_size}-pixel images, "
                                 f"but SAMConfig says embedding_size={c.embedding_size}, image_size={c.image_size}")
            encoder_dim = v.dim
        elif image_encoder is not None and encoder_dim is None:
            raise ValueError("an image encoder that is not a vitcourse ViT must return (B, C, h, w): "
                             "pass encoder_dim=C")
        self.image_encoder = image_encoder
        self.neck = None if image_encoder is None else nn.Sequential(
            nn.Conv2d(encoder_dim, c.embed_dim, kernel_size=1, bias=False), LayerNorm2d(c.embed_dim),
            nn.Conv2d(c.embed_dim, c.embed_dim, kernel_size=3, padding=1, bias=False), LayerNorm2d(c.embed_dim))
        self.prompt_encoder = PromptEncoder(c)
        self.mask_decoder = MaskDecoder(c)

    def embed_image(self, images: torch.Tensor) -> torch.Tensor:
        """(B, C, H, W) -> image embeddings (B, D, h, w)."""
        if self.image_encoder is None:
            raise ValueError("this SAM has no image encoder (e.g. converted from Hugging Face's prompt encoder and "
                             "mask decoder): pass precomputed image embeddings to predict_masks")
        if isinstance(self.image_encoder, ViT):
            v = self.image_encoder.config
            check_images(images, channels=v.in_channels, size=v.image_size)
            tokens = self.image_encoder.forward_features(images)                   # (B, T, C)
            tokens = tokens[:, 1:] if self.image_encoder.cls_token is not None else tokens
            grid = rearrange(tokens, "b (h w) c -> b c h w", h=v.grid_size)        # (B, C, h, w)
        else:
            grid = self.image_encoder(images)
        s = self.config.embedding_size
        if grid.dim() != 4 or grid.shape[-2:] != (s, s):
            raise ValueError(f"the image encoder must give a (B, C, {s}, {s}) grid, got {tuple(grid.shape)}")
        return self.neck(grid)                                                     # (B, D, h, w)

    def predict_masks(self, image_embeddings: torch.Tensor, points: torch.Tensor | None = None,
                      point_labels: torch.Tensor | None = None, boxes: torch.Tensor | None = None,
                      multimask_output: bool = True, mask_inputs: torch.Tensor | None = None):
        """-> mask_logits (B, P, K, 4h, 4w), iou_scores (B, P, K); K = num_multimask_outputs or 1.

        points (B, P, n, 2) and boxes (B, P, 4) in input pixels; point_labels (B, P, n): 1 foreground,
        0 background, -1 padding; mask_inputs (B, P, 4h, 4w): mask logits, e.g. the previous round's
        (the paper's interactive training). No prompt at all gives P = 1 (a guess from the image alone).
        multimask_output=True returns the 3 ambiguity-aware masks (for one click); False the 4th token's
        single mask, which the paper returns, and trains, for several prompts. Train both, or token 0 stays untrained.
        """
        c, s = self.config, self.config.embedding_size
        if not isinstance(image_embeddings, torch.Tensor) or image_embeddings.dim() != 4 or \
                tuple(image_embeddings.shape[1:]) != (c.embed_dim, s, s):
            raise ValueError(f"image_embeddings must be (B, {c.embed_dim}, {s}, {s}) (from embed_image), got "
                             f"{tuple(getattr(image_embeddings, 'shape', ()))}")
        sparse, dense = self.prompt_encoder(points, point_labels, boxes, mask_inputs,
                                            batch_size=image_embeddings.shape[0])
        return self.mask_decoder(image_embeddings, self.prompt_encoder.dense_pe(), sparse, dense, multimask_output)

    def forward(self, images, points=None, point_labels=None, boxes=None, multimask_output: bool = True,
                mask_inputs=None):
        """embed_image then predict_masks (for training; at inference embed once, prompt many times)."""
        return self.predict_masks(self.embed_image(images), points, point_labels, boxes, multimask_output, mask_inputs)

    def decoder_parameters(self):
        """The prompt encoder's and mask decoder's trainable parameters (a frozen-encoder training run)."""
        return [p for m in (self.prompt_encoder, self.mask_decoder) for p in m.parameters()]
