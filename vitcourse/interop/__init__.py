"""Converters between the course's models and Hugging Face `transformers`, one file per family.

    vit.py   ViT  <-> ViTForImageClassification / ViTModel
    mae.py   MAE  <-  ViTMAEForPreTraining
    sam.py   SAM's prompt encoder + mask decoder <-> SamModel (given image embeddings)
    clip.py  CLIP <-> CLIPModel
    gpt.py   GPT  <-> GPT2LMHeadModel (with or without cross-attention)
    encoder_decoder.py  ImageToText <-> VisionEncoderDecoderModel(ViTModel, GPT2LMHeadModel)

Every converter is strict: a key with no place, or a shape that differs, is an error that names
it. `transformers` is imported only inside the functions that build its objects.
`from vitcourse.interop import vit_from_hf` works for every converter listed in `__all__`.
"""
from .clip import clip_config_from_hf, clip_config_to_hf, clip_from_hf, clip_to_hf
from .encoder_decoder import encoder_decoder_from_hf, encoder_decoder_to_hf
from .gpt import gpt_from_hf, gpt_to_hf
from .mae import hf_mae_key_to_v5, mae_config_from_hf, mae_from_hf
from .sam import sam_config_from_hf, sam_config_to_hf, sam_from_hf, sam_to_hf
from .vit import config_from_hf, config_to_hf, vit_from_hf, vit_to_hf

__all__ = ["config_from_hf", "config_to_hf", "vit_from_hf", "vit_to_hf",
           "hf_mae_key_to_v5", "mae_config_from_hf", "mae_from_hf",
           "clip_config_from_hf", "clip_config_to_hf", "clip_from_hf", "clip_to_hf",
           "sam_config_from_hf", "sam_config_to_hf", "sam_from_hf", "sam_to_hf",
           "gpt_from_hf", "gpt_to_hf", "encoder_decoder_from_hf", "encoder_decoder_to_hf"]
