"""The two line readers behind one interface: build, loss, read.

- `ocr_encoder_decoder`: TrOCR's design (Li et al. 2021, "TrOCR: Transformer-based Optical Character
  Recognition with Pre-trained Models", Section 2.1): a ViT encoder over the line image and an
  autoregressive character decoder with cross-attention. It is notebook 11's `ImageToText`, reused
  as it is, with the character vocabulary of `OCRTokenizer`; it converts to Hugging Face's
  `VisionEncoderDecoderModel` with `vitcourse.interop.encoder_decoder_to_hf`.
- `CTCReader` (ctc.py): the same kind of ViT, one label per frame, trained with CTC.

Images enter as (B, 1, H, W) float32 with ink 1 and paper 0 (`as_batch` flips the renderer's paper-1
convention), so a blank patch is all zeros.
"""
from __future__ import annotations

import numpy as np
import torch

from ..config import ViTConfig
from ..encoder_decoder import ImageToText, image_to_text
from .charset import OCRTokenizer
from ..gpt import GPT
from .ctc import CTCReader
from .encoder import LineEncoder


def as_batch(images) -> torch.Tensor:
    """Rendered lines (N, H, W) in [0, 1], paper 1 -> a (N, 1, H, W) float32 tensor, ink 1, paper 0."""
    x = torch.as_tensor(np.asarray(images, dtype=np.float32))
    if x.dim() == 2:
        x = x[None]
    if x.dim() != 3:
        raise ValueError(f"images must be (N, H, W) grey lines, got shape {tuple(x.shape)}")
    return (1.0 - x)[:, None]


def ocr_encoder_decoder(tokenizer: OCRTokenizer, image_size=(32, 128), hybrid: bool = False, patch_size: int = 8,
                        dim: int = 64, depth: int = 3, num_heads: int = 4, mlp_dim: int = 128, decoder_depth: int = 2,
                        max_length: int = 24, in_channels: int = 1) -> ImageToText:
    """A TrOCR-style reader: an encoder over the line (hybrid=True: `LineEncoder`, the CTC reader's
    encoder; hybrid=False: a plain ViT with `patch_size` patches, which converts to Hugging Face) ->
    a character decoder with `max_length` positions (<bos> + at most max_length - 1 characters and <eos>)."""
    if hybrid:
        encoder = LineEncoder(image_size, in_channels, dim=dim, depth=depth, num_heads=num_heads, mlp_dim=mlp_dim)
        decoder = GPT(tokenizer.vocab_size, max_length, dim=dim, depth=decoder_depth, num_heads=num_heads,
                      mlp_dim=mlp_dim, cross_attention=True)
        return ImageToText(encoder, decoder, tokenizer.bos_id, tokenizer.eos_id, tokenizer.pad_id, encoder_dim=dim)
    config = ViTConfig(image_size=image_size, patch_size=patch_size, in_channels=in_channels, num_classes=0,
                       dim=dim, depth=depth, num_heads=num_heads, mlp_dim=mlp_dim, pool="cls")
    return image_to_text(config, tokenizer.vocab_size, max_length, tokenizer.bos_id, tokenizer.eos_id,
                         tokenizer.pad_id, depth=decoder_depth, num_heads=num_heads, mlp_dim=mlp_dim)


def reader_loss(model, images: torch.Tensor, texts, tokenizer: OCRTokenizer) -> torch.Tensor:
    """CTC loss for a `CTCReader`, teacher-forced cross-entropy for an `ImageToText`."""
    if isinstance(model, CTCReader):
        targets, lengths = tokenizer.ctc_targets(texts)
        return model.loss(images, targets.to(images.device), lengths)
    if isinstance(model, ImageToText):
        ids, targets = tokenizer(texts, model.decoder.block_size)
        return model.loss(images, ids.to(images.device), targets.to(images.device))
    raise TypeError(f"expected a CTCReader or an ImageToText, got {type(model).__name__}")


@torch.no_grad()
def read(model, images: torch.Tensor, tokenizer: OCRTokenizer, num_beams: int = 1, batch_size: int = 64,
         max_new_tokens: int | None = None, stop_at_eos: bool = True) -> list[str]:
    """The text of each line image: greedy (num_beams=1) or beam search, for either reader.

    For the encoder-decoder, `stop_at_eos=False` ignores <eos> and decodes `max_new_tokens`
    characters (to show what the end token does); the default uses every position it has."""
    out = []
    for start in range(0, images.shape[0], batch_size):
        x = images[start: start + batch_size]
        if isinstance(model, CTCReader):
            out += [tokenizer.decode(ids) for ids in model.read_ids(x, beam_width=num_beams)]
        elif isinstance(model, ImageToText):
            n = model.decoder.block_size - 1 if max_new_tokens is None else max_new_tokens
            eos = model.eos_token_id
            if not stop_at_eos:
                model.eos_token_id = None
            try:
                ids = model.generate(x, n, num_beams=num_beams,
                                     suppress_tokens=[tokenizer.blank_id, tokenizer.pad_id, tokenizer.bos_id]
                                     + ([] if stop_at_eos else [tokenizer.eos_id]))
            finally:
                model.eos_token_id = eos
            out += [tokenizer.decode(row[1:]) for row in ids]
        else:
            raise TypeError(f"expected a CTCReader or an ImageToText, got {type(model).__name__}")
    return out
