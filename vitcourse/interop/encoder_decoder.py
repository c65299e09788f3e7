"""ImageToText <-> Hugging Face `VisionEncoderDecoderModel(ViTModel, GPT2LMHeadModel)` (strict).

    ours                 VisionEncoderDecoderModel
    encoder.*            encoder.* (a ViTModel: the key map of interop/vit.py, no "vit." prefix)
    enc_to_dec_proj      enc_to_dec_proj (present only when the widths differ, in both)
    decoder.*            decoder.* (a GPT2LMHeadModel with add_cross_attention: interop/gpt.py)
    bos_token_id         config.decoder_start_token_id
    eos_token_id         config.eos_token_id
    pad_token_id         config.pad_token_id

A `ViTModel` built by `VisionEncoderDecoderModel(config)` has a pooler whose output the decoder
never reads (it attends to `last_hidden_state`); its weights are skipped on the way in, and the
model built on the way out has none (`add_pooling_layer=False`). `transformers` is imported only
inside the functions.
"""
from __future__ import annotations

import torch

from ..encoder_decoder import ImageToText
from .gpt import gpt_from_hf, gpt_to_hf
from .vit import vit_from_hf, vit_to_hf


def encoder_decoder_from_hf(model) -> ImageToText:
    """An `ImageToText` with the weights of a `VisionEncoderDecoderModel` (ViT encoder, GPT-2 decoder).

    The top-level config must carry `decoder_start_token_id` (our bos_token_id); `eos_token_id` and
    `pad_token_id` are taken from it when set. Same dtype, device and train/eval mode."""
    import transformers

    if not isinstance(model, transformers.VisionEncoderDecoderModel):
        raise TypeError(f"expected a transformers VisionEncoderDecoderModel, got {type(model).__name__}")
    if not isinstance(model.encoder, transformers.ViTModel) or not isinstance(model.decoder,
                                                                             transformers.GPT2LMHeadModel):
        raise TypeError(f"only a ViTModel encoder and a GPT2LMHeadModel decoder convert, got "
                        f"{type(model.encoder).__name__} and {type(model.decoder).__name__}")
    c = model.config
    if c.decoder_start_token_id is None:
        raise ValueError("config.decoder_start_token_id is not set: VisionEncoderDecoderModel needs it (and "
                         "pad_token_id) on its top-level config; it becomes our bos_token_id")
    enc_state = {k: v for k, v in model.encoder.state_dict().items() if not k.startswith("pooler.")}
    encoder = vit_from_hf(enc_state, model.encoder.config)
    decoder = gpt_from_hf(model.decoder)
    ref = decoder.tok_embed.weight
    ours = ImageToText(encoder, decoder, c.decoder_start_token_id, c.eos_token_id, c.pad_token_id)
    ours = ours.to(device=ref.device, dtype=ref.dtype)               # the projection too, before it loads
    if (ours.enc_to_dec_proj is None) != (getattr(model, "enc_to_dec_proj", None) is None):
        raise ValueError("enc_to_dec_proj: Hugging Face and the course disagree on whether widths differ")
    if ours.enc_to_dec_proj is not None:
        ours.enc_to_dec_proj.load_state_dict(model.enc_to_dec_proj.state_dict(), strict=True)
    return ours.train(model.training)


def encoder_decoder_to_hf(model: ImageToText, attn_implementation: str = "sdpa"):
    """A `VisionEncoderDecoderModel` with the weights of our `ImageToText` (same dtype, device, mode),
    its top-level config carrying decoder_start_token_id, eos_token_id and pad_token_id."""
    import transformers

    if not isinstance(model, ImageToText):
        raise TypeError(f"encoder_decoder_to_hf expects a vitcourse ImageToText, got {type(model).__name__}")
    encoder = vit_to_hf(model.encoder, attn_implementation).vit               # a ViTModel without pooler
    ids = dict(bos_token_id=model.bos_token_id, eos_token_id=model.eos_token_id, pad_token_id=model.pad_token_id)
    decoder = gpt_to_hf(model.decoder, attn_implementation, is_decoder=True, **ids)
    ref = model.decoder.tok_embed.weight
    hf = transformers.VisionEncoderDecoderModel(encoder=encoder, decoder=decoder).to(device=ref.device, dtype=ref.dtype)
    hf.config.decoder_start_token_id = model.bos_token_id
    hf.config.eos_token_id, hf.config.pad_token_id = model.eos_token_id, model.pad_token_id
    for key, value in dict(decoder_start_token_id=model.bos_token_id, **ids).items():
        setattr(hf.generation_config, key, value)                      # so hf.generate(pixel_values) just works
    if model.enc_to_dec_proj is not None:
        with torch.no_grad():
            hf.enc_to_dec_proj.load_state_dict(model.enc_to_dec_proj.state_dict(), strict=True)
    return hf.train(model.training)
