"""Hugging Face `ViTMAEForPreTraining` -> the course's `MAE` (He et al. 2022; strict key map, 4.x and 5.x names)."""
from __future__ import annotations

import re

import torch

from ..config import MAEConfig
from ..mae import MAE
from ..pos_embed import sincos_2d

# Hugging Face `ViTMAEForPreTraining` -> the course's `MAE` (strict key map, both 4.x and 5.x names).
#
# transformers 5.x names an encoder layer `vit.layers.{i}.attention.q_proj/k_proj/v_proj/o_proj`,
# `mlp.fc1/fc2`, `layernorm_before/after`; 4.x checkpoints name the same tensors
# `vit.encoder.layer.{i}.attention.attention.query/key/value`, `attention.output.dense`,
# `intermediate.dense`, `output.dense` (the decoder's `decoder.decoder_layers.{i}` likewise; the
# files transformers 5.23's `save_pretrained` writes call them `decoder.decoder_encoder.layer.{i}`). 4.x
# keys are first renamed to 5.x ones (the renames transformers 5 applies when it loads an old
# checkpoint), then mapped to timm/MAE names; q, k, v are concatenated into the fused `qkv`.
_MAE_V4_TO_V5 = [  # order matters: "attention.output.dense" before "output.dense"
    (r"^vit\.encoder\.layer\.", "vit.layers."),
    (r"^decoder\.decoder_encoder\.layer\.", "decoder.decoder_layers."),   # what 5.23's save_pretrained writes
    (r"\.attention\.attention\.query\.", ".attention.q_proj."),
    (r"\.attention\.attention\.key\.", ".attention.k_proj."),
    (r"\.attention\.attention\.value\.", ".attention.v_proj."),
    (r"\.attention\.output\.dense\.", ".attention.o_proj."),
    (r"\.intermediate\.dense\.", ".mlp.fc1."),
    (r"\.output\.dense\.", ".mlp.fc2."),
]
_MAE_LAYER = {"layernorm_before": "norm1", "layernorm_after": "norm2", "attention.o_proj": "attn.proj",
              "mlp.fc1": "mlp.fc1", "mlp.fc2": "mlp.fc2"}
_MAE_TOP = {"vit.embeddings.cls_token": "cls_token", "vit.embeddings.position_embeddings": "pos_embed",
            "vit.embeddings.patch_embeddings.projection.weight": "patch_embed.proj.weight",
            "vit.embeddings.patch_embeddings.projection.bias": "patch_embed.proj.bias",
            "vit.layernorm.weight": "norm.weight", "vit.layernorm.bias": "norm.bias",
            "decoder.mask_token": "mask_token", "decoder.decoder_pos_embed": "decoder_pos_embed"}
for _name in ("decoder_embed", "decoder_norm", "decoder_pred"):
    for _p in ("weight", "bias"):
        _MAE_TOP[f"decoder.{_name}.{_p}"] = f"{_name}.{_p}"


def hf_mae_key_to_v5(key: str) -> str:
    """Rename one transformers 4.x ViTMAE key to its 5.x name (5.x keys are returned unchanged)."""
    for pattern, new in _MAE_V4_TO_V5:
        key = re.sub(pattern, new, key)
    return key


def mae_config_from_hf(hf_config) -> MAEConfig:
    """An `MAEConfig` equal to a `ViTMAEConfig` (layer-norm eps and mask ratio carried over)."""
    size, patch = hf_config.image_size, hf_config.patch_size
    size = size[0] if isinstance(size, (tuple, list)) and size[0] == size[1] else size
    patch = patch[0] if isinstance(patch, (tuple, list)) and patch[0] == patch[1] else patch
    if not isinstance(size, int) or not isinstance(patch, int):
        raise ValueError(f"only square images and patches are supported, got image_size={hf_config.image_size}, "
                         f"patch_size={hf_config.patch_size}")
    if hf_config.hidden_act != "gelu":
        raise ValueError(f"the course's blocks use exact GELU; hidden_act={hf_config.hidden_act!r} is not supported")
    return MAEConfig(image_size=size, patch_size=patch, in_channels=hf_config.num_channels,
                     dim=hf_config.hidden_size, depth=hf_config.num_hidden_layers,
                     num_heads=hf_config.num_attention_heads, mlp_dim=hf_config.intermediate_size,
                     decoder_dim=hf_config.decoder_hidden_size, decoder_depth=hf_config.decoder_num_hidden_layers,
                     decoder_num_heads=hf_config.decoder_num_attention_heads,
                     decoder_mlp_dim=hf_config.decoder_intermediate_size, mask_ratio=hf_config.mask_ratio,
                     norm_pix_loss=bool(hf_config.norm_pix_loss), layer_norm_eps=hf_config.layer_norm_eps,
                     qkv_bias=hf_config.qkv_bias)


def _mae_map_state(hf_state: dict) -> dict:
    """5.x state dict -> course names, q/k/v fused; raises on any key it does not know."""
    out, used, qkv = {}, set(), {}
    for key, value in hf_state.items():
        m = re.match(r"^(vit\.layers|decoder\.decoder_layers)\.(\d+)\.(.+)\.(weight|bias)$", key)
        if key in _MAE_TOP:
            out[_MAE_TOP[key]] = value
        elif m:
            prefix = "blocks" if m[1] == "vit.layers" else "decoder_blocks"
            name = m[3]
            if name in ("attention.q_proj", "attention.k_proj", "attention.v_proj"):
                qkv.setdefault((prefix, m[2], m[4]), {})[name[-6]] = value
            elif name in _MAE_LAYER:
                out[f"{prefix}.{m[2]}.{_MAE_LAYER[name]}.{m[4]}"] = value
            else:
                continue
        else:
            continue
        used.add(key)
    for (prefix, i, kind), parts in qkv.items():
        if set(parts) != {"q", "k", "v"}:
            raise ValueError(f"layer {prefix}.{i} has {sorted(parts)} {kind} projections, expected q, k and v")
        out[f"{prefix}.{i}.attn.qkv.{kind}"] = torch.cat([parts["q"], parts["k"], parts["v"]], dim=0)
    unused = sorted(set(hf_state) - used)
    if unused:
        raise ValueError(f"Hugging Face keys with no place in the course's MAE: {unused}")
    return out


def mae_from_hf(model=None, *, config=None, state_dict=None, check_pos_embed: bool = True) -> MAE:
    """Convert a Hugging Face `ViTMAEForPreTraining` (or its `config` and `state_dict`) to `MAE`.

    Every key must be used and every course parameter filled, with matching shapes; dtype and
    device follow the source tensors. The fixed position tables are copied; with
    `check_pos_embed` they must first equal the MAE sin-cos table (to 1e-5): a freshly built
    transformers 5.x model holds all-zero tables and tokens (redraw or load weights first).
    """
    if model is not None:
        if not (isinstance(model, torch.nn.Module) and type(model).__name__ == "ViTMAEForPreTraining"):
            hint = {str: f"load it first: ViTMAEForPreTraining.from_pretrained({model!r})",
                    dict: "for a state dict pass mae_from_hf(config=..., state_dict=...)"}.get(type(model))
            if hint is None and isinstance(model, dict):
                hint = "for a state dict pass mae_from_hf(config=..., state_dict=...)"
            if hint is None:
                hint = ("ViTMAEModel is the encoder only, without the decoder that MAE needs"
                        if type(model).__name__ == "ViTMAEModel" else "for a ViT classifier use vit_from_hf")
            raise TypeError(f"expected a transformers ViTMAEForPreTraining, got {type(model).__name__}: {hint}")
        config, state_dict = model.config, model.state_dict()
    if config is None or state_dict is None:
        raise ValueError("pass a ViTMAEForPreTraining model, or both config= and state_dict=")
    if not all(hasattr(config, a) for a in ("decoder_hidden_size", "mask_ratio", "norm_pix_loss")):
        raise TypeError(f"config must be a transformers ViTMAEConfig, got {type(config).__name__}")
    state = _mae_map_state({hf_mae_key_to_v5(k): v for k, v in state_dict.items()})
    mae = MAE(mae_config_from_hf(config))
    ours = mae.state_dict()
    missing, extra = sorted(set(ours) - set(state)), sorted(set(state) - set(ours))
    if missing or extra:
        raise ValueError(f"key mismatch after conversion: missing {missing}, unexpected {extra}")
    for k, v in state.items():
        if v.shape != ours[k].shape:
            raise ValueError(f"shape mismatch for {k}: Hugging Face gives {tuple(v.shape)}, "
                             f"the course's MAE expects {tuple(ours[k].shape)}")
    if check_pos_embed:
        g = mae.config.grid_size
        for k, dim in (("pos_embed", mae.config.dim), ("decoder_pos_embed", mae.config.decoder_dim)):
            err = (state[k].detach().double().cpu() - sincos_2d(g, g, dim, cls_token=True).double()[None]).abs().max()
            if err > 1e-5:
                raise ValueError(f"{k} differs from the MAE sin-cos table by {err:.3g}: a freshly built Hugging Face "
                                 f"ViTMAE holds zero tables until weights are loaded; pass check_pos_embed=False "
                                 f"to copy them anyway")
    first = next(iter(state.values()))
    mae.to(device=first.device, dtype=first.dtype)
    mae.load_state_dict(state, strict=True)
    return mae.eval()
