"""Image to text: a ViT encoder and a GPT decoder with cross-attention (captioning, OCR).

The encoder-decoder of Vaswani et al. (2017, Section 3.1) with a ViT as the encoder: the image
becomes M tokens (Dosovitskiy et al. 2021, Eq. 1-4, no head), and every decoder block attends to
ALL of them (cross-attention) after its causal self-attention. This is Hugging Face's
`VisionEncoderDecoderModel(ViTModel, GPT2LMHeadModel with add_cross_attention)`, e.g. the
`nlpconnect/vit-gpt2-image-captioning` checkpoint, and TrOCR's layout (Li et al. 2021, Section 2).
When the widths differ, `enc_to_dec_proj` (Hugging Face's name) maps encoder tokens to the decoder width:

    c = proj(ViT(image))                        # (B, M, D_dec)
    logits = GPT(token_ids, context=c)          # (B, T, V): position t predicts token t + 1

`token_ids` start with `bos_token_id` (Hugging Face's `decoder_start_token_id`). Any vocabulary,
and any image the encoder accepts: a `ViT` (its `image_size` and channels), or any module with
`forward_features(images) -> (B, M, D_enc)` (give `encoder_dim`), e.g. a convolutional stem for
wide text lines. Convert to and from Hugging Face with
`vitcourse.interop.encoder_decoder_from_hf` / `encoder_decoder_to_hf` (ViT encoders).
"""
from __future__ import annotations

import numbers

import torch
from torch import nn

from .generate import _int
from .gpt import GPT
from .vit import ViT


class ImageToText(nn.Module):
    """`encoder` (a head-less ViT, or a module with `forward_features`), optional `enc_to_dec_proj`,
    `decoder` (a GPT with cross-attention)."""

    def __init__(self, encoder: nn.Module, decoder: GPT, bos_token_id: int, eos_token_id: int | None = None,
                 pad_token_id: int | None = None, encoder_dim: int | None = None):
        super().__init__()
        if not isinstance(encoder, nn.Module) or not callable(getattr(encoder, "forward_features", None)):
            raise TypeError(f"encoder must be a vitcourse.ViT or a module with forward_features(images) -> "
                            f"(B, M, D), got {type(encoder).__name__}")
        if not isinstance(decoder, GPT) or not decoder.cross_attention or not decoder.causal:
            raise TypeError("decoder must be a causal vitcourse.GPT built with cross_attention=True, got "
                            f"{type(decoder).__name__}")
        if isinstance(encoder, ViT) and encoder.config.num_classes:
            raise ValueError(f"the encoder must be head-less (ViTConfig num_classes=0), got num_classes="
                             f"{encoder.config.num_classes}: the decoder reads its tokens, not its class scores")
        v = decoder.vocab_size
        self.bos_token_id = _int("bos_token_id", bos_token_id, 0, v - 1)
        self.eos_token_id = None if eos_token_id is None else _int("eos_token_id", eos_token_id, 0, v - 1)
        self.pad_token_id = None if pad_token_id is None else _int("pad_token_id", pad_token_id, 0, v - 1)
        self.encoder, self.decoder = encoder, decoder
        if encoder_dim is None and not isinstance(encoder, ViT):
            raise ValueError("encoder_dim is needed for an encoder that is not a vitcourse.ViT: the width D "
                             "of its forward_features tokens")
        d_enc, d_dec = encoder.config.dim if encoder_dim is None else encoder_dim, decoder.tok_embed.embedding_dim
        self.enc_to_dec_proj = nn.Linear(d_enc, d_dec) if d_enc != d_dec else None

    @property
    def vocab_size(self) -> int:
        return self.decoder.vocab_size

    def encode(self, images: torch.Tensor) -> torch.Tensor:
        """(B, C, H, W) -> the tokens the decoder attends to (B, M, D_dec): all of them, class token included."""
        x = self.encoder.forward_features(images)                                  # (B, M, D_enc)
        d = self.decoder.tok_embed.embedding_dim if self.enc_to_dec_proj is None else self.enc_to_dec_proj.in_features
        if x.dim() != 3 or x.shape[2] != d:
            raise ValueError(f"the encoder gave tokens of shape {tuple(x.shape)}; expected (B, M, {d})")
        return x if self.enc_to_dec_proj is None else self.enc_to_dec_proj(x)     # (B, M, D_dec)

    def forward(self, images: torch.Tensor, token_ids: torch.Tensor) -> torch.Tensor:
        """images (B, C, H, W), token_ids (B, T) starting with bos -> next-token logits (B, T, V)."""
        context = self.encode(images)
        self._check_batch(images, token_ids)
        return self.decoder(token_ids, context=context)

    def loss(self, images: torch.Tensor, token_ids: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """Mean cross-entropy; targets (B, T) are token_ids shifted left by one (IGNORE_INDEX = skipped)."""
        context = self.encode(images)
        self._check_batch(images, token_ids)
        return self.decoder.loss(token_ids, targets, context=context)

    def _check_batch(self, images, token_ids):
        if isinstance(token_ids, torch.Tensor) and token_ids.dim() == 2 and token_ids.shape[0] != images.shape[0]:
            raise ValueError(f"{images.shape[0]} images but {token_ids.shape[0]} token sequences: one each")

    @torch.no_grad()
    def generate(self, images: torch.Tensor, max_new_tokens: int, prompt: torch.Tensor | None = None, *,
                 do_sample: bool = False, num_beams: int = 1, temperature: float = 1.0, top_k: int | None = None,
                 generator: torch.Generator | None = None, suppress_tokens=(), length_penalty: float = 1.0,
                 early_stopping=False) -> torch.Tensor:
        """Text for each image: (B, 1 + n) ids starting with bos (or (B, T0 + n) after a `prompt` (B, T0)).

        Greedy by default; `num_beams > 1` is beam search, `do_sample=True` seeded sampling
        (`temperature`, `top_k`, `generator`); decoding stops at `eos_token_id` (then `pad_token_id`)
        or after `max_new_tokens` (>= 1), as Hugging Face's `generate` with the same settings."""
        if prompt is None:
            prompt = torch.full((images.shape[0] if isinstance(images, torch.Tensor) and images.dim() else 1, 1),
                                self.bos_token_id, dtype=torch.long, device=images.device)
        if isinstance(prompt, torch.Tensor) and prompt.dim() == 2 and prompt.shape[1] == 0:
            raise ValueError("prompt is empty: it must hold at least the start token "
                             f"(bos_token_id={self.bos_token_id}); leave prompt=None for that default")
        _int("max_new_tokens", max_new_tokens, 1)
        self.decoder.check_idx(prompt, "prompt")
        room = self.decoder.block_size - prompt.shape[1]
        if max_new_tokens > room:
            raise ValueError(f"max_new_tokens={max_new_tokens} does not fit: the decoder has block_size="
                             f"{self.decoder.block_size} positions and the prompt uses {prompt.shape[1]} (at most {room})")
        was_training = self.training
        self.eval()
        try:
            context = self.encode(images)
            self._check_batch(images, prompt)
            return self.decoder.generate(
                prompt, max_new_tokens, temperature, top_k, generator, suppress_tokens, do_sample=do_sample,
                num_beams=num_beams, eos_token_id=self.eos_token_id, pad_token_id=self.pad_token_id,
                length_penalty=length_penalty, early_stopping=early_stopping, context=context)
        finally:
            self.train(was_training)

    @torch.no_grad()
    def cross_attention_maps(self, images: torch.Tensor, token_ids: torch.Tensor) -> list[torch.Tensor]:
        """Per decoder block, the (B, heads, T, M) weights each token puts on the M image tokens
        (for a ViT: the class token first when it has one, then the patch grid in raster order)."""
        context = self.encode(images)
        self._check_batch(images, token_ids)
        return self.decoder.attention_maps(token_ids, context=context, cross=True)

    def num_parameters(self, trainable_only: bool = False) -> int:
        return sum(p.numel() for p in self.parameters() if p.requires_grad or not trainable_only)


def image_to_text(encoder_config, vocab_size: int, block_size: int, bos_token_id: int,
                  eos_token_id: int | None = None, pad_token_id: int | None = None, dim: int | None = None,
                  depth: int = 2, num_heads: int = 4, mlp_dim: int | None = None, dropout: float = 0.0,
                  act_layer: str = "gelu", tie_weights: bool = True) -> ImageToText:
    """Build an `ImageToText` from a `ViTConfig` (its head is dropped) and decoder sizes
    (`dim` defaults to the encoder's width, so no projection)."""
    if isinstance(dim, bool) or (dim is not None and not isinstance(dim, numbers.Integral)):
        raise ValueError(f"dim must be an integer or None, got {dim!r}")
    encoder = ViT(encoder_config, num_classes=0)
    decoder = GPT(vocab_size, block_size, dim=encoder.config.dim if dim is None else dim, depth=depth,
                  num_heads=num_heads, mlp_dim=mlp_dim, dropout=dropout, tie_weights=tie_weights,
                  act_layer=act_layer, cross_attention=True)
    return ImageToText(encoder, decoder, bos_token_id, eos_token_id, pad_token_id)
