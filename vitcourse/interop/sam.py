"""SAM's prompt encoder and mask decoder <-> Hugging Face `SamModel` (strict key map).

`SamModel` accepts precomputed `image_embeddings`, so only the prompt encoder and mask decoder
convert; its `vision_encoder.*` (a windowed ViT with relative positions) is skipped, by name.

    ours                                                 Hugging Face SamModel
    prompt_encoder.pe_layer.positional_encoding_gaussian_matrix (buffer)
                                                         prompt_encoder.shared_embedding.positional_embedding
                                                         = shared_image_embedding.positional_embedding (tied parameter)
    prompt_encoder.point_embed.{0..3}, not_a_point_embed, no_mask_embed                     (same)
    prompt_encoder.mask_downscaling.{0, 1, 3, 4, 6}      prompt_encoder.mask_embed.conv1, layer_norm1, conv2,
                                                         layer_norm2, conv3
    mask_decoder.iou_token, mask_tokens                                                      (same)
    ....transformer.layers.{i}.norm{1..4}                ....transformer.layers.{i}.layer_norm{1..4}
    ....transformer.layers.{i}.mlp.fc1 / fc2             ....transformer.layers.{i}.mlp.lin1 / lin2
    ....transformer.norm_final_attn                      ....transformer.layer_norm_final_attn
    (attention q_proj, k_proj, v_proj, out_proj: same names)
    mask_decoder.output_upscaling.{0, 1, 3}              mask_decoder.upscale_conv1, upscale_layer_norm, upscale_conv2
    ...mlps.{i}.layers.{0, 1.., last}                    ...mlps.{i}.proj_in, layers.{0..}, proj_out
"""
from __future__ import annotations

import re

import torch

from ..sam import SAM, SAMConfig

_SKIPPED = ("vision_encoder.",)
_PE = "prompt_encoder.pe_layer.positional_encoding_gaussian_matrix"
_HF_PE = ("prompt_encoder.shared_embedding.positional_embedding", "shared_image_embedding.positional_embedding")
_MASK = {"conv1": 0, "layer_norm1": 1, "conv2": 3, "layer_norm2": 4, "conv3": 6}
_RULES = [(r"^prompt_encoder\.mask_embed\.(\w+)\.",
           lambda m: f"prompt_encoder.mask_downscaling.{_MASK.get(m[1], m[1])}."),
          (r"\.layer_norm(\d)\.", r".norm\1."), (r"\.layer_norm_final_attn\.", ".norm_final_attn."),
          (r"\.mlp\.lin(\d)\.", r".mlp.fc\1."), (r"\.upscale_conv1\.", ".output_upscaling.0."),
          (r"\.upscale_layer_norm\.", ".output_upscaling.1."), (r"\.upscale_conv2\.", ".output_upscaling.3.")]


def _hf_to_ours(key: str, config: SAMConfig) -> str:
    """The name of a Hugging Face prompt-encoder / mask-decoder tensor in our SAM."""
    if key in _HF_PE:
        return _PE
    for pat, rep in _RULES:
        key = re.sub(pat, rep, key)
    m = re.match(r"(mask_decoder\.(?:output_hypernetworks_mlps\.\d+|iou_prediction_head))"
                 r"\.(proj_in|layers\.(\d+)|proj_out)\.(.*)", key)
    if m:
        last = 2 if "hypernetworks" in m[1] else config.iou_head_depth - 1
        j = 0 if m[2] == "proj_in" else last if m[2] == "proj_out" else int(m[3]) + 1
        key = f"{m[1]}.layers.{j}.{m[4]}"
    return key


def sam_config_from_hf(hf_config) -> SAMConfig:
    """Our `SAMConfig` from a Hugging Face `SamConfig`."""
    v, p, d = hf_config.vision_config, hf_config.prompt_encoder_config, hf_config.mask_decoder_config
    widths = {"prompt_encoder_config.hidden_size": p.hidden_size, "mask_decoder_config.hidden_size": d.hidden_size,
              "vision_config.output_channels": v.output_channels,
              "2 x vision_config.num_pos_feats": 2 * v.num_pos_feats}
    if len(set(widths.values())) != 1:
        raise ValueError(f"SAM needs one width D for prompts, decoder, image embeddings and Fourier features; "
                         f"got {widths}")
    if p.hidden_act != "gelu" or p.layer_norm_eps != 1e-6 or p.num_point_embeddings != 4:
        raise ValueError(f"prompt_encoder_config hidden_act={p.hidden_act!r}, layer_norm_eps={p.layer_norm_eps}, "
                         f"num_point_embeddings={p.num_point_embeddings}: ours are the original's exact GELU, "
                         f"LayerNorm2d eps 1e-6 and 4 point embeddings (background, foreground, two box corners)")
    if d.hidden_act != "relu":
        raise ValueError(f"mask_decoder_config.hidden_act={d.hidden_act!r}: our two-way blocks use ReLU (the original's)")
    return SAMConfig(image_size=int(p.image_size), embedding_size=int(p.image_embedding_size),
                     embed_dim=int(d.hidden_size), depth=int(d.num_hidden_layers), num_heads=int(d.num_attention_heads),
                     mlp_dim=int(d.mlp_dim), downsample_rate=int(d.attention_downsample_rate),
                     num_multimask_outputs=int(d.num_multimask_outputs), iou_head_depth=int(d.iou_head_depth),
                     iou_head_hidden_dim=int(d.iou_head_hidden_dim), layer_norm_eps=float(d.layer_norm_eps),
                     mask_input_channels=int(p.mask_input_channels))


def _check(got: dict, ours: dict, what: str) -> None:
    missing = sorted(set(ours) - set(got))
    unexpected = sorted(set(got) - set(ours))
    shapes = [f"{k}: {tuple(got[k].shape)} vs {tuple(ours[k].shape)}" for k in ours
              if k in got and got[k].shape != ours[k].shape]
    if missing or unexpected or shapes:
        raise ValueError(f"{what} does not fit this config: missing {missing[:6]}, unexpected {unexpected[:6]}, "
                         f"wrong shapes {shapes[:6]}")


def sam_from_hf(model) -> SAM:
    """A `SAM` (no image encoder) with the prompt encoder and mask decoder of a Hugging Face `SamModel`.

    Same dtype, device and train/eval mode. Feed it the image embeddings you feed `SamModel`."""
    import transformers

    if not isinstance(model, transformers.SamModel):
        raise TypeError(f"sam_from_hf expects a transformers SamModel, got {type(model).__name__}")
    config = sam_config_from_hf(model.config)
    state = model.state_dict()
    a, b = (state[k] for k in _HF_PE)
    if not torch.equal(a, b):
        raise ValueError(f"{_HF_PE[0]} and {_HF_PE[1]} differ: our SAM shares one Fourier matrix for prompts and image")
    ours = {}
    for k, t in state.items():
        if not k.startswith(_SKIPPED):
            ours[_hf_to_ours(k, config)] = t
    sam = SAM(config).to(device=a.device, dtype=a.dtype)
    _check(ours, sam.state_dict(), "the SamModel's prompt encoder and mask decoder")
    sam.load_state_dict(ours, strict=True)
    return sam.train(model.training)


def sam_config_to_hf(config: SAMConfig, attn_implementation: str = "sdpa"):
    """A Hugging Face `SamConfig`; its vision encoder is a minimal placeholder (feed `image_embeddings`)."""
    import transformers

    c = config
    if c.image_size % c.embedding_size:
        raise ValueError(f"Hugging Face needs image_size ({c.image_size}) divisible by embedding_size "
                         f"({c.embedding_size})")
    patch = c.image_size // c.embedding_size
    vision = transformers.SamVisionConfig(hidden_size=16, output_channels=c.embed_dim, num_hidden_layers=1,
                                          num_attention_heads=1, image_size=c.image_size, patch_size=patch,
                                          window_size=0, global_attn_indexes=[0], num_pos_feats=c.embed_dim // 2,
                                          mlp_dim=16)
    prompt = transformers.SamPromptEncoderConfig(hidden_size=c.embed_dim, image_size=c.image_size, patch_size=patch,
                                                 mask_input_channels=c.mask_input_channels)
    decoder = transformers.SamMaskDecoderConfig(
        hidden_size=c.embed_dim, mlp_dim=c.mlp_dim, num_hidden_layers=c.depth, num_attention_heads=c.num_heads,
        attention_downsample_rate=c.downsample_rate, num_multimask_outputs=c.num_multimask_outputs,
        iou_head_depth=c.iou_head_depth, iou_head_hidden_dim=c.iou_head_hidden_dim, layer_norm_eps=c.layer_norm_eps)
    return transformers.SamConfig(vision_config=vision, prompt_encoder_config=prompt, mask_decoder_config=decoder,
                                  attn_implementation=attn_implementation)


def sam_to_hf(model: SAM, attn_implementation: str = "sdpa"):
    """A Hugging Face `SamModel` with our prompt encoder and mask decoder (same dtype, device, mode).

    Its vision encoder keeps Hugging Face's initialisation (weights of std 1e-10): pass `image_embeddings`."""
    import transformers

    if not isinstance(model, SAM):
        raise TypeError(f"sam_to_hf expects a vitcourse SAM, got {type(model).__name__}")
    ours = dict(model.prompt_encoder.state_dict(prefix="prompt_encoder."))
    ours.update(model.mask_decoder.state_dict(prefix="mask_decoder."))
    ref = ours[_PE]
    hf = transformers.SamModel(sam_config_to_hf(model.config, attn_implementation))
    hf = hf.to(device=ref.device, dtype=ref.dtype)
    hf_state = hf.state_dict()
    targets = {k: _hf_to_ours(k, model.config) for k in hf_state if not k.startswith(_SKIPPED)}
    _check({v: hf_state[k] for k, v in targets.items()}, ours, "a SamModel's prompt encoder and mask decoder")
    result = hf.load_state_dict({k: ours[v] for k, v in targets.items()}, strict=False)
    left = [k for k in result.missing_keys if not k.startswith(_SKIPPED)] + list(result.unexpected_keys)
    if left:
        raise ValueError(f"Hugging Face tensors left without a value: {left[:6]}")
    return hf.train(model.training)
