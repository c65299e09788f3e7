"""CLIP <-> Hugging Face `CLIPModel` (strict key maps; the same names in transformers 4.x and 5.x).

    ours                                transformers CLIPModel
    visual.cls_token (1, 1, D)          vision_model.embeddings.class_embedding (D,)
    visual.pos_embed (1, T, D)          vision_model.embeddings.position_embedding.weight (T, D)
    visual.patch_embed.proj             vision_model.embeddings.patch_embedding (no bias)
    visual.norm_pre                     vision_model.pre_layrnorm (sic)
    visual.norm                         vision_model.post_layernorm (ours normalises every token,
                                        then pools the class token: the same pooled vector)
    text.token_embed, text.pos_embed    text_model.embeddings.token_embedding, .position_embedding
    text.norm                           text_model.final_layer_norm
    {visual,text}.blocks.{i}.norm1      {vision,text}_model.encoder.layers.{i}.layer_norm1
        .attn.qkv (rows [q; k; v])          .self_attn.q_proj / k_proj / v_proj
        .attn.proj, .norm2                  .self_attn.out_proj, .layer_norm2
        .mlp.fc1 / fc2                      .mlp.fc1 / fc2
    visual_projection, text_projection, logit_scale   (same names)

Text pooling: Hugging Face reads the text at `input_ids.argmax(-1)` when `eos_token_id == 2` (the
legacy path, OpenAI's "EOT has the largest id") and at the first `eos_token_id` otherwise; the
converters map these to `TextConfig(pool="argmax")` and `pool="eos"`.
"""
from __future__ import annotations

import warnings

import torch

from ..clip import CLIP, TextConfig
from ..config import ViTConfig
from .vit import _TO_HF_ACT, HF_ACTIVATIONS, check_state_keys

_LEGACY_EOS = 2   # transformers' CLIPTextModel pools at argmax(input_ids) for this eos_token_id


def _tower(prefix: str, ours: str, depth: int) -> list[tuple[str, str, int | None]]:
    out = []
    for i in range(depth):
        hf, us = f"{prefix}.encoder.layers.{i}.", f"{ours}.blocks.{i}."
        for a, b in (("layer_norm1", "norm1"), ("self_attn.out_proj", "attn.proj"), ("layer_norm2", "norm2"),
                     ("mlp.fc1", "mlp.fc1"), ("mlp.fc2", "mlp.fc2")):
            out += [(hf + a + "." + t, us + b + "." + t, None) for t in ("weight", "bias")]
        out += [(hf + f"self_attn.{q}_proj.{t}", us + "attn.qkv." + t, part)
                for part, q in enumerate("qkv") for t in ("weight", "bias")]
    return out


def _layout(v: ViTConfig, t: TextConfig) -> list[tuple[str, str, int | None]]:
    """(hf_key, our_key, part) for every tensor; part k takes rows k*D:(k+1)*D of our fused qkv."""
    e = "vision_model.embeddings."
    out = [(e + "class_embedding", "visual.cls_token", None), (e + "patch_embedding.weight",
           "visual.patch_embed.proj.weight", None), (e + "position_embedding.weight", "visual.pos_embed", None)]
    out += [(f"vision_model.{a}.{x}", f"visual.{b}.{x}", None) for a, b in (("pre_layrnorm", "norm_pre"),
            ("post_layernorm", "norm")) for x in ("weight", "bias")]
    out += [("text_model.embeddings.token_embedding.weight", "text.token_embed.weight", None),
            ("text_model.embeddings.position_embedding.weight", "text.pos_embed", None)]
    out += [(f"text_model.final_layer_norm.{x}", f"text.norm.{x}", None) for x in ("weight", "bias")]
    out += _tower("vision_model", "visual", v.depth) + _tower("text_model", "text", t.depth)
    return out + [(k, k, None) for k in ("visual_projection.weight", "text_projection.weight", "logit_scale")]


def clip_config_from_hf(hf_config) -> dict:
    """CLIP(**clip_config_from_hf(cfg)): our vision/text configs, embed_dim and logit_scale_init."""
    v, t = hf_config.vision_config, hf_config.text_config
    for name, c in (("vision_config", v), ("text_config", t)):
        if c.hidden_act not in HF_ACTIVATIONS:
            raise ValueError(f"{name}.hidden_act={c.hidden_act!r} is not supported: known {sorted(HF_ACTIVATIONS)}")
        if getattr(c, "attention_dropout", 0.0):
            warnings.warn(f"{name}.attention_dropout > 0 is dropped (outputs in eval mode are unchanged)", stacklevel=3)
    size = v.image_size if isinstance(v.image_size, int) else v.image_size[0]
    vision = ViTConfig(image_size=size, patch_size=v.patch_size, in_channels=v.num_channels, num_classes=0,
                       dim=v.hidden_size, depth=v.num_hidden_layers, num_heads=v.num_attention_heads,
                       mlp_dim=v.intermediate_size, pool="cls", layer_norm_eps=v.layer_norm_eps, qkv_bias=True,
                       act_layer=HF_ACTIVATIONS[v.hidden_act], pre_norm=True, patch_bias=False)
    text = TextConfig(vocab_size=t.vocab_size, context_length=t.max_position_embeddings, dim=t.hidden_size,
                      depth=t.num_hidden_layers, num_heads=t.num_attention_heads, mlp_dim=t.intermediate_size,
                      eos_token_id=t.eos_token_id if t.eos_token_id != _LEGACY_EOS else None,
                      pool="argmax" if t.eos_token_id == _LEGACY_EOS else "eos",
                      layer_norm_eps=t.layer_norm_eps, act_layer=HF_ACTIVATIONS[t.hidden_act])
    return dict(vision=vision, text=text, embed_dim=hf_config.projection_dim,
                logit_scale_init=hf_config.logit_scale_init_value)


def _hf_shapes(model: CLIP, layout) -> dict[str, tuple]:
    ours = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    squeeze = {"visual.cls_token": 2, "visual.pos_embed": 1, "text.pos_embed": 1}   # leading 1s HF lacks
    return {hf: (ours[us][0] // 3, *ours[us][1:]) if part is not None else ours[us][squeeze.get(us, 0):]
            for hf, us, part in layout}


def clip_from_hf(model, config=None) -> CLIP:
    """A `vitcourse.CLIP` with the weights of a Hugging Face `CLIPModel` (or its state dict + `config`,
    a `CLIPConfig`). Same dtype, device and train/eval mode as the weights."""
    training = None
    if isinstance(model, torch.nn.Module):
        import transformers

        if not isinstance(model, transformers.CLIPModel):
            raise TypeError(f"expected a transformers CLIPModel, got {type(model).__name__} (the text-only and "
                            f"vision-only CLIP classes hold one tower; convert the full CLIPModel)")
        state, training, config = model.state_dict(), model.training, model.config if config is None else config
    elif isinstance(model, dict):
        if config is None:
            raise ValueError("a state dict needs its config: clip_from_hf(state_dict, CLIPConfig)")
        state = model
    else:
        raise TypeError(f"expected a Hugging Face CLIPModel or a state dict, got {type(model).__name__}")
    kw = clip_config_from_hf(config)
    with torch.device("meta"):
        layout = _layout(kw["vision"], kw["text"])
        check_state_keys(state, _hf_shapes(CLIP(**kw), layout), "a Hugging Face CLIPModel")
    ref = state["logit_scale"]
    ours = {}
    for hf, us, part in layout:
        ours.setdefault(us, [None, None, None])[part or 0] = state[hf]
    clip = CLIP(**kw).to(device=ref.device, dtype=ref.dtype)
    target = clip.state_dict()
    clip.load_state_dict({k: (torch.cat(v) if v[1] is not None else v[0]).reshape(target[k].shape)
                          for k, v in ours.items()}, strict=True)
    return clip.train(training) if training is not None else clip


def clip_config_to_hf(model: CLIP, attn_implementation: str = "sdpa"):
    """A Hugging Face `CLIPConfig` for our CLIP; a ValueError names anything CLIPModel cannot hold."""
    import transformers

    v, t = model.vision_config, model.text_config
    problems = [msg for bad, msg in (
        (v.pool != "cls", "vision pool='mean' (CLIPModel pools the class token)"),
        (not v.pre_norm, "vision pre_norm=False (CLIPModel always has pre_layrnorm)"),
        (v.patch_bias, "vision patch_bias=True (CLIPModel's patch convolution has no bias)"),
        (model.logit_bias is not None, "a logit_bias (SigLIP's; CLIPModel has none)"),
        (t.pool == "eos" and t.eos_token_id == _LEGACY_EOS,
         "text eos_token_id=2 with pool='eos' (transformers pools at argmax(ids) when eos_token_id == 2)"))
        if bad]
    if problems:
        raise ValueError("this CLIP has no Hugging Face CLIPModel equivalent: " + "; ".join(problems))
    common = dict(attention_dropout=0.0, initializer_factor=1.0)
    vision = dict(image_size=v.image_size, patch_size=v.patch_size, num_channels=v.in_channels, hidden_size=v.dim,
                  num_hidden_layers=v.depth, num_attention_heads=v.num_heads, intermediate_size=v.mlp_dim,
                  hidden_act=_TO_HF_ACT[v.act_layer], layer_norm_eps=v.layer_norm_eps, **common)
    text = dict(vocab_size=t.vocab_size, max_position_embeddings=t.context_length, hidden_size=t.dim,
                num_hidden_layers=t.depth, num_attention_heads=t.num_heads, intermediate_size=t.mlp_dim,
                hidden_act=_TO_HF_ACT[t.act_layer], layer_norm_eps=t.layer_norm_eps, pad_token_id=0,
                bos_token_id=max(t.vocab_size - 2, 0),
                eos_token_id=_LEGACY_EOS if t.pool == "argmax" else t.eos_token_id, **common)
    return transformers.CLIPConfig(text_config=text, vision_config=vision, projection_dim=model.embed_dim,
                                   logit_scale_init_value=float(model.logit_scale.detach()), attn_implementation=attn_implementation)


def clip_to_hf(model: CLIP, attn_implementation: str = "sdpa"):
    """A Hugging Face `CLIPModel` with the weights of our CLIP (same dtype, device and mode).
    A vision tower with qkv_bias=False converts with zero q/k/v biases (the same function)."""
    import transformers

    if not isinstance(model, CLIP):
        raise TypeError(f"clip_to_hf expects a vitcourse.CLIP, got {type(model).__name__}")
    hf_config = clip_config_to_hf(model, attn_implementation)
    ref = model.logit_scale
    hf = transformers.CLIPModel(hf_config).to(device=ref.device, dtype=ref.dtype)
    ours, target = model.state_dict(), hf.state_dict()
    state = {}
    for k, us, part in _layout(model.vision_config, model.text_config):
        if us not in ours and us.endswith("attn.qkv.bias"):          # qkv_bias=False: zero biases
            state[k] = torch.zeros_like(target[k])
            continue
        state[k] = (ours[us] if part is None else ours[us].chunk(3)[part]).reshape(target[k].shape)
    hf.load_state_dict(state, strict=True)
    return hf.train(model.training)
