"""SAM's mask decoder (Kirillov et al. 2023, Section 3 "Mask decoder" and "Resolving ambiguity", Appendix A).

Output tokens [IoU token; K + 1 mask tokens] are prepended to the prompt tokens and run through the
two-way transformer with the image embedding. The image embedding is upscaled 4x by two transposed
convolutions; each mask token, through its own hypernetwork MLP, gives the weights of a dynamic
linear classifier applied at every upscaled pixel:

    mask_k(x, y) = MLP_k(token_k) . upscaled(x, y)          (B, P, K, 4h, 4w)

The IoU head predicts each mask's IoU with the object. Token 0 is the single-mask output
(`multimask_output=False`); tokens 1..3 are the three masks for an ambiguous prompt.
"""
from __future__ import annotations

import torch
from einops import rearrange
from torch import nn

from .config import SAMConfig
from .layers import FeedForward, LayerNorm2d
from .transformer import TwoWayTransformer


class MaskDecoder(nn.Module):
    def __init__(self, config: SAMConfig):
        super().__init__()
        self.config = c = config
        d, self.num_mask_tokens = c.embed_dim, c.num_multimask_outputs + 1
        self.iou_token = nn.Embedding(1, d)
        self.mask_tokens = nn.Embedding(self.num_mask_tokens, d)
        self.transformer = TwoWayTransformer(c.depth, d, c.num_heads, c.mlp_dim, c.downsample_rate, c.layer_norm_eps)
        self.output_upscaling = nn.Sequential(
            nn.ConvTranspose2d(d, d // 4, kernel_size=2, stride=2), LayerNorm2d(d // 4), nn.GELU(),
            nn.ConvTranspose2d(d // 4, d // 8, kernel_size=2, stride=2), nn.GELU())
        self.output_hypernetworks_mlps = nn.ModuleList(
            FeedForward(d, d, d // 8, 3) for _ in range(self.num_mask_tokens))
        self.iou_prediction_head = FeedForward(d, c.iou_head_hidden_dim, self.num_mask_tokens, c.iou_head_depth)

    def forward(self, image_embeddings: torch.Tensor, image_pe: torch.Tensor, sparse: torch.Tensor | None,
                dense: torch.Tensor, multimask_output: bool = True):
        """image_embeddings (B, D, h, w), image_pe (1, D, h, w), sparse (B, P, n, D) or None,
        dense (B, D, h, w) or per prompt (B, P, D, h, w)
        -> masks (B, P, K, 4h, 4w) logits, iou_pred (B, P, K); K = 3 with multimask_output, else 1."""
        b, d, h, w = image_embeddings.shape
        if d != self.config.embed_dim:
            raise ValueError(f"image_embeddings must have {self.config.embed_dim} channels, "
                             f"got {tuple(image_embeddings.shape)}")
        per_prompt = dense.dim() == 5                                                # (B, P, D, h, w): mask prompts
        if (dense.shape[:1] + dense.shape[-3:]) != image_embeddings.shape or \
                (per_prompt and sparse is not None and dense.shape[1] != sparse.shape[1]):
            raise ValueError(f"dense prompt {tuple(dense.shape)} must be (B, [P,] D, h, w) for image_embeddings "
                             f"{tuple(image_embeddings.shape)} and sparse {tuple(getattr(sparse, 'shape', ()))}")
        p = sparse.shape[1] if sparse is not None else dense.shape[1] if per_prompt else 1
        out_tokens = torch.cat([self.iou_token.weight, self.mask_tokens.weight])   # (1 + M, D)
        tokens = out_tokens.expand(b, p, -1, -1)                                     # (B, P, 1 + M, D)
        if sparse is not None:
            tokens = torch.cat([tokens, sparse], dim=2)                              # (B, P, T, D)
        tokens = rearrange(tokens, "b p t d -> (b p) t d")
        if per_prompt:                                                               # (B P, D, h, w): a copy per prompt
            src = image_embeddings.repeat_interleave(p, dim=0) + dense.flatten(0, 1)
        else:
            src = (image_embeddings + dense).repeat_interleave(p, dim=0)
        tokens, src = self.transformer(src, image_pe, tokens)                        # (B P, T, D), (B P, h w, D)
        iou_token_out = tokens[:, 0]                                                 # (B P, D)
        mask_tokens_out = tokens[:, 1:1 + self.num_mask_tokens]                      # (B P, M, D)
        src = rearrange(src, "n (h w) d -> n d h w", h=h, w=w)
        upscaled = self.output_upscaling(src)                                        # (B P, D/8, 4h, 4w)
        hyper_in = torch.stack([mlp(mask_tokens_out[:, i]) for i, mlp in enumerate(self.output_hypernetworks_mlps)],
                               dim=1)                                                # (B P, M, D/8)
        masks = torch.einsum("nmc,nchw->nmhw", hyper_in, upscaled)                   # (B P, M, 4h, 4w)
        iou_pred = self.iou_prediction_head(iou_token_out)                           # (B P, M)
        keep = slice(1, None) if multimask_output else slice(0, 1)
        masks = rearrange(masks[:, keep], "(b p) k h w -> b p k h w", b=b)
        iou_pred = rearrange(iou_pred[:, keep], "(b p) k -> b p k", b=b)
        return masks, iou_pred
