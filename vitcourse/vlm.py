"""Three ways to fuse vision and language, on one interface: visual question answering.

`model(images, question_ids) -> answer logits (B, A)` over a closed answer vocabulary (VQA as
classification, as ViLT does for VQAv2; Kim et al. 2021), so the three are compared on the same
task with the same loss. The generative form of cross-attention fusion (free text) is
`vitcourse.encoder_decoder.ImageToText`. Every model reads the image as the M tokens of a head-less
`ViT` and the question with a causal `GPT` (no LM head); the question is summarised by the hidden
state of its last real token (questions are right-padded with `pad_token_id`), which has seen the
whole question, as GPT's classifiers read the final block's last activation (Radford et al. 2018, Section 3.2).

- `LateFusion`: the pooled image vector (the ViT's class token or mean) and the question vector
  meet only in an MLP over [v; q; v * q] (dual encoders, e.g. CLIP towers + a head). The image is
  one vector before it meets the question.
- `CrossAttentionFusion`: every question token attends to ALL image tokens in every block
  (the pattern of BLIP's text decoder, Li et al. 2022, Section 3.1, and of Flamingo, Alayrac et al.
  2022, Section 2.2, whose cross-attention layers also carry a tanh gate that starts closed: not here).
- `EarlyFusion`: image tokens, projected to the language model's width, are put in front of the
  question tokens as one causal sequence (LLaVA's projector, Liu et al. 2023, Section 4.1; GIT,
  Wang et al. 2022): the language model reads M + T tokens.

`cost(question_len)` reports the tokens through the language model and the forward FLOPs counted
by `torch.utils.flop_counter` (fused attention included), so models can be compared at comparable
parameter counts (`num_parameters`). `image_tokens=` takes precomputed (e.g. frozen) encoder tokens.
"""
from __future__ import annotations

import torch
from torch import nn
from torch.utils import flop_counter

from .gpt import GPT
from .vit import ViT


def _head(in_dim: int, hidden: int, num_answers: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(in_dim, hidden), nn.GELU(), nn.Linear(hidden, num_answers))


def _sdpa_flops(q, k, v, *args, out_shape=None, **kwargs):      # CPU's fused kernel, uncounted by default
    return flop_counter.sdpa_flop_count(q, k, v)


class _Fusion(nn.Module):
    """Shared parts: `image_encoder`, a question `text` model (a GPT without its LM head), `head`."""

    def __init__(self, image_encoder: ViT, vocab_size: int, num_answers: int, dim: int, depth: int, num_heads: int,
                 block_size: int, pad_token_id: int | None, cross_attention: bool, freeze_image_encoder: bool):
        super().__init__()
        if not isinstance(image_encoder, ViT) or image_encoder.config.num_classes:
            raise ValueError("image_encoder must be a head-less vitcourse.ViT (ViTConfig num_classes=0)")
        if isinstance(num_answers, bool) or not isinstance(num_answers, int) or num_answers < 2:
            raise ValueError(f"num_answers must be an integer >= 2 (the closed answer vocabulary), got {num_answers!r}")
        self.image_encoder, self.num_answers, self.pad_token_id = image_encoder, num_answers, pad_token_id
        self.text = GPT(vocab_size, block_size, dim=dim, depth=depth, num_heads=num_heads,
                        cross_attention=cross_attention)
        self.text.head = nn.Identity()                 # the LM head is unused: text(ids) -> normed states
        if freeze_image_encoder:
            self.image_encoder.requires_grad_(False)

    def encode_images(self, images: torch.Tensor) -> torch.Tensor:
        """(B, C, H, W) -> the encoder's tokens (B, M, D_img) (no gradient when the encoder is frozen)."""
        frozen = not any(p.requires_grad for p in self.image_encoder.parameters())
        with torch.set_grad_enabled(torch.is_grad_enabled() and not frozen):
            return self.image_encoder.forward_features(images)

    def _tokens(self, images, question_ids, image_tokens):
        if image_tokens is None:
            if images is None:
                raise ValueError("pass images (B, C, H, W) or precomputed image_tokens (B, M, D_img)")
            image_tokens = self.encode_images(images)
        d, m = self.image_encoder.config.dim, self.image_encoder.config.num_tokens
        if not isinstance(image_tokens, torch.Tensor) or image_tokens.dim() != 3 or image_tokens.shape[2] != d:
            raise ValueError(f"image_tokens must be (B, M, {d}), got {getattr(image_tokens, 'shape', image_tokens)}")
        if getattr(self, "prefix_len", 0) and image_tokens.shape[1] != m:                 # early fusion's positions
            raise ValueError(f"early fusion was built for {m} image tokens, got {image_tokens.shape[1]}")
        self.text.check_idx(question_ids, "question_ids", prefix_len=getattr(self, "prefix_len", 0))
        if question_ids.shape[0] != image_tokens.shape[0]:
            raise ValueError(f"{image_tokens.shape[0]} images but {question_ids.shape[0]} questions: one each")
        return image_tokens

    def last_token(self, question_ids: torch.Tensor) -> torch.Tensor:
        """(B,) index of each question's last real token; questions must be right-padded."""
        if self.pad_token_id is None:
            return torch.full(question_ids.shape[:1], question_ids.shape[1] - 1, device=question_ids.device)
        real = question_ids != self.pad_token_id                                     # (B, T)
        n = real.sum(1)
        if (n == 0).any() or (real.cumsum(1) != torch.arange(1, real.shape[1] + 1, device=real.device)
                              .clamp(max=n[:, None])).any():
            raise ValueError(f"each question needs >= 1 token before its padding (pad_token_id={self.pad_token_id} "
                             f"only at the end: right-padding)")
        return n - 1

    def pool_question(self, states, question_ids):                                 # (B, T, D) -> (B, D)
        return states[torch.arange(states.shape[0], device=states.device), self.last_token(question_ids)]

    def num_parameters(self, trainable_only: bool = False) -> int:
        return sum(p.numel() for p in self.parameters() if p.requires_grad or not trainable_only)

    @torch.no_grad()
    def cost(self, question_len: int) -> dict:
        """For one example with a question of `question_len` tokens: tokens through the language model,
        image tokens, and forward FLOPs of the fusion part (after the image encoder) and of the encoder."""
        c = self.image_encoder.config
        ref = next(self.parameters())
        images = torch.zeros(1, c.in_channels, c.image_size, c.image_size, device=ref.device, dtype=ref.dtype)
        token = 0 if self.pad_token_id is None else (self.pad_token_id + 1) % self.text.vocab_size
        q = torch.full((1, question_len), token, dtype=torch.long, device=ref.device)   # no padding
        mapping = {torch.ops.aten._scaled_dot_product_flash_attention_for_cpu: _sdpa_flops}
        with flop_counter.FlopCounterMode(display=False, custom_mapping=mapping) as enc:
            tokens = self.image_encoder.forward_features(images)
        with flop_counter.FlopCounterMode(display=False, custom_mapping=mapping) as fus:
            self(None, q, image_tokens=tokens)
        return dict(lm_tokens=self.lm_tokens(question_len), image_tokens=tokens.shape[1],
                    fusion_flops=fus.get_total_flops(), encoder_flops=enc.get_total_flops())


class LateFusion(_Fusion):
    """Pooled image vector v and question vector q -> MLP([v; q; v * q]) -> answer logits."""

    def __init__(self, image_encoder: ViT, vocab_size: int, num_answers: int, dim: int = 64, depth: int = 2,
                 num_heads: int = 4, max_question_len: int = 16, hidden_dim: int | None = None,
                 pad_token_id: int | None = None, freeze_image_encoder: bool = False):
        super().__init__(image_encoder, vocab_size, num_answers, dim, depth, num_heads, max_question_len,
                         pad_token_id, False, freeze_image_encoder)
        self.image_proj = nn.Linear(image_encoder.config.dim, dim)
        self.head = _head(3 * dim, hidden_dim or 2 * dim, num_answers)

    def lm_tokens(self, question_len: int) -> int:
        return question_len

    def forward(self, images, question_ids, image_tokens=None):
        """images (B, C, H, W) or image_tokens (B, M, D_img); question_ids (B, T) -> logits (B, A)."""
        tokens = self._tokens(images, question_ids, image_tokens)
        v = self.image_proj(self.image_encoder.pool(tokens))                         # (B, D): one vector
        q = self.pool_question(self.text(question_ids), question_ids)               # (B, D)
        return self.head(torch.cat([v, q, v * q], dim=-1))                          # (B, A)


class CrossAttentionFusion(_Fusion):
    """Question tokens attend to all image tokens in every block; the last token -> MLP -> logits."""

    def __init__(self, image_encoder: ViT, vocab_size: int, num_answers: int, dim: int = 64, depth: int = 2,
                 num_heads: int = 4, max_question_len: int = 16, hidden_dim: int | None = None,
                 pad_token_id: int | None = None, freeze_image_encoder: bool = False):
        super().__init__(image_encoder, vocab_size, num_answers, dim, depth, num_heads, max_question_len,
                         pad_token_id, True, freeze_image_encoder)
        d_img = image_encoder.config.dim
        self.enc_to_dec_proj = nn.Linear(d_img, dim) if d_img != dim else None
        self.head = _head(dim, hidden_dim or 2 * dim, num_answers)

    def lm_tokens(self, question_len: int) -> int:
        return question_len

    def forward(self, images, question_ids, image_tokens=None, return_cross_weights: bool = False):
        """-> logits (B, A); with `return_cross_weights`, also per block the (B, h, T, M) cross weights."""
        tokens = self._tokens(images, question_ids, image_tokens)
        context = tokens if self.enc_to_dec_proj is None else self.enc_to_dec_proj(tokens)   # (B, M, D)
        logits = self.head(self.pool_question(self.text(question_ids, context=context), question_ids))
        if return_cross_weights:
            return logits, self.text.attention_maps(question_ids, context=context, cross=True)
        return logits


class EarlyFusion(_Fusion):
    """[projector(image tokens); question tokens] through one causal language model -> logits."""

    def __init__(self, image_encoder: ViT, vocab_size: int, num_answers: int, dim: int = 64, depth: int = 2,
                 num_heads: int = 4, max_question_len: int = 16, hidden_dim: int | None = None,
                 pad_token_id: int | None = None, freeze_image_encoder: bool = False):
        m = image_encoder.config.num_tokens if isinstance(image_encoder, ViT) else 0      # M image tokens
        super().__init__(image_encoder, vocab_size, num_answers, dim, depth, num_heads,
                         m + max_question_len, pad_token_id, False, freeze_image_encoder)
        self.prefix_len = m
        self.projector = nn.Linear(image_encoder.config.dim, dim)                  # LLaVA's projection W
        self.head = _head(dim, hidden_dim or 2 * dim, num_answers)

    def lm_tokens(self, question_len: int) -> int:
        return self.prefix_len + question_len

    def forward(self, images, question_ids, image_tokens=None):
        tokens = self._tokens(images, question_ids, image_tokens)
        states = self.text(question_ids, prefix=self.projector(tokens))              # (B, M + T, D)
        return self.head(self.pool_question(states[:, self.prefix_len:], question_ids))  # (B, A)
