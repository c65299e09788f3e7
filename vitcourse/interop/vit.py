"""ViT <-> Hugging Face `ViTForImageClassification` / `ViTModel` (strict key maps, 4.x and 5.x names).

The architecture is the same (Dosovitskiy et al. 2021, Section 3.1): only names differ, and our
attention fuses q, k, v into one `qkv` Linear (rows [q; k; v]) where Hugging Face keeps three.

    ours (timm names)              transformers 5.x state_dict()   transformers 4.x (and every checkpoint file)
    patch_embed.proj               vit.embeddings.patch_embeddings.projection          (same)
    cls_token, pos_embed           vit.embeddings.cls_token, .position_embeddings      (same)
    blocks.{i}.norm1               vit.layers.{i}.layernorm_before     vit.encoder.layer.{i}.layernorm_before
    blocks.{i}.attn.qkv            vit.layers.{i}.attention.q/k/v_proj vit.encoder.layer.{i}.attention.attention.query/key/value
    blocks.{i}.attn.proj           vit.layers.{i}.attention.o_proj     vit.encoder.layer.{i}.attention.output.dense
    blocks.{i}.norm2               vit.layers.{i}.layernorm_after      vit.encoder.layer.{i}.layernorm_after
    blocks.{i}.mlp.fc1 / fc2       vit.layers.{i}.mlp.fc1 / fc2        vit.encoder.layer.{i}.intermediate.dense / output.dense
    norm, head                     vit.layernorm, classifier                            (same)

transformers 5.x renames the modules in memory but still *writes* the 4.x names with
`save_pretrained` (and renames them back on `from_pretrained`), so files on disk use 4.x names.
A `ViTModel` (no "vit." prefix, no classifier) converts to a ViT with `num_classes=0`; our
`num_classes=0` converts to a `ViTForImageClassification` with `num_labels=0`, whose identity
classifier returns the normalised class token, exactly as our head-less ViT does.
`transformers` is imported only inside the functions that build its objects.
"""
from __future__ import annotations

import warnings

import torch

from ..config import ViTConfig
from ..vit import ViT

# Hugging Face activation names -> ours (vitcourse.blocks.ACTIVATIONS), and back
HF_ACTIVATIONS = {"gelu": "gelu", "quick_gelu": "quick_gelu", "gelu_new": "gelu_tanh",
                  "gelu_pytorch_tanh": "gelu_tanh", "relu": "relu"}
_TO_HF_ACT = {"gelu": "gelu", "quick_gelu": "quick_gelu", "gelu_tanh": "gelu_pytorch_tanh", "relu": "relu"}

_NAMES = {  # per-layer module names of each transformers generation
    "5.x": dict(layer="layers.{i}.", q="attention.q_proj", k="attention.k_proj", v="attention.v_proj",
                o="attention.o_proj", fc1="mlp.fc1", fc2="mlp.fc2"),
    "4.x": dict(layer="encoder.layer.{i}.", q="attention.attention.query", k="attention.attention.key",
                v="attention.attention.value", o="attention.output.dense", fc1="intermediate.dense",
                fc2="output.dense"),
}


def _layout(c: ViTConfig, naming: str, prefix: str) -> list[tuple[str, str, int | None]]:
    """(hf_key, our_key, part) for every tensor; part k takes rows k*D:(k+1)*D of our fused qkv."""
    n, out = _NAMES[naming], []
    pairs = [("embeddings.cls_token", "cls_token"), ("embeddings.position_embeddings", "pos_embed")]
    pairs += [(f"embeddings.patch_embeddings.projection.{t}", f"patch_embed.proj.{t}") for t in ("weight", "bias")]
    for i in range(c.depth):
        hf, us = n["layer"].format(i=i), f"blocks.{i}."
        mods = [("layernorm_before", "norm1"), (n["o"], "attn.proj"), ("layernorm_after", "norm2"),
                (n["fc1"], "mlp.fc1"), (n["fc2"], "mlp.fc2")]
        pairs += [(hf + a + "." + t, us + b + "." + t) for a, b in mods for t in ("weight", "bias")]
        for part, qkv in enumerate("qkv"):
            for t in ("weight", "bias") if c.qkv_bias else ("weight",):
                out.append((prefix + hf + n[qkv] + "." + t, us + "attn.qkv." + t, part))
    pairs += [(f"layernorm.{t}", f"norm.{t}") for t in ("weight", "bias")]
    out += [(prefix + hf, us, None) for hf, us in pairs]
    if c.num_classes > 0:
        out += [(f"classifier.{t}", f"head.{t}", None) for t in ("weight", "bias")]
    return out


def _expected_shapes(c: ViTConfig, layout) -> dict[str, tuple]:
    with torch.device("meta"):
        ours = {k: tuple(v.shape) for k, v in ViT(c).state_dict().items()}
    return {hf: ours[us] if part is None else (ours[us][0] // 3, *ours[us][1:]) for hf, us, part in layout}


def check_state_keys(state: dict, expected: dict, model: str, hints: tuple = ()) -> None:
    """Strict loading: every key used, none missing, every shape as the config says; else one clear
    ValueError that lists them. `expected`: {key: shape}; `model` names what the state should fit;
    `hints`: (substring of an unexpected key, advice) pairs added when such a key is present."""
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    shapes = [f"{k}: got {tuple(state[k].shape)}, expected {expected[k]}"
              for k in expected if k in state and tuple(state[k].shape) != expected[k]]
    if missing or unexpected or shapes:
        show = lambda xs: ", ".join(xs[:8]) + (f", ... ({len(xs) - 8} more)" if len(xs) > 8 else "")
        lines = [f"state dict does not fit {model} with this config:"]
        lines += [f"  missing keys: {show(missing)}"] if missing else []
        lines += [f"  unexpected (unused) keys: {show(unexpected)}"] if unexpected else []
        lines += [f"  wrong shapes: {show(shapes)}"] if shapes else []
        lines += [f"  ({advice})" for key, advice in hints if any(key in k for k in unexpected)]
        raise ValueError("\n".join(lines))


def _side(value, name: str) -> int:
    """An int, or a square (h, w) pair -> int (patches are square in vitcourse.ViT)."""
    if isinstance(value, (list, tuple)):
        if len(value) != 2 or value[0] != value[1]:
            raise ValueError(f"{name}={value!r}: vitcourse.ViT supports square {name.replace('_size', 'es')} only")
        value = value[0]
    return int(value)


def _image_size(value) -> int | tuple[int, int]:
    """An int or a square pair -> int; a non-square (h, w) pair stays a pair (e.g. (32, 128) text lines)."""
    if isinstance(value, (list, tuple)):
        if len(value) != 2:
            raise ValueError(f"image_size={value!r}: expected an int or a (height, width) pair")
        return int(value[0]) if value[0] == value[1] else (int(value[0]), int(value[1]))
    return int(value)


def config_from_hf(hf_config, num_classes: int | None = None) -> ViTConfig:
    """Our `ViTConfig` from a Hugging Face `ViTConfig` (or its config.json as a dict)."""
    get = hf_config.get if isinstance(hf_config, dict) else lambda k, d=None: getattr(hf_config, k, d)
    act = get("hidden_act", "gelu")
    if act not in HF_ACTIVATIONS:
        raise ValueError(f"hidden_act={act!r} is not supported: vitcourse.ViT knows {sorted(HF_ACTIVATIONS)} "
                         f"(Hugging Face's 'gelu' is the exact erf GELU); another activation would change the outputs")
    dim, heads = int(get("hidden_size", 768)), int(get("num_attention_heads", 12))
    head_dim = get("head_dim", None)
    if head_dim is not None and head_dim * heads != dim:
        raise ValueError(f"head_dim={head_dim} x num_attention_heads={heads} != hidden_size={dim}: "
                         f"vitcourse.ViT needs head_dim = hidden_size / num_attention_heads")
    if float(get("attention_probs_dropout_prob", 0.0) or 0.0) > 0:
        warnings.warn("attention_probs_dropout_prob > 0 is dropped: vitcourse.ViT has no dropout on the "
                      "attention weights (outputs in eval mode are unchanged)", stacklevel=3)
    if num_classes is None:
        num_classes = get("num_labels", None)
        if num_classes is None:  # a config.json stores id2label, not num_labels
            num_classes = len(get("id2label")) if get("id2label") is not None else 2
    return ViTConfig(image_size=_image_size(get("image_size", 224)),
                     patch_size=_side(get("patch_size", 16), "patch_size"),
                     in_channels=int(get("num_channels", 3)), num_classes=int(num_classes), dim=dim,
                     depth=int(get("num_hidden_layers", 12)), num_heads=heads,
                     mlp_dim=int(get("intermediate_size", 3072)), pool="cls",
                     dropout=float(get("hidden_dropout_prob", 0.0) or 0.0),
                     layer_norm_eps=float(get("layer_norm_eps", 1e-12)), qkv_bias=bool(get("qkv_bias", True)),
                     act_layer=HF_ACTIVATIONS[act])


def vit_from_hf(model, config=None) -> ViT:
    """A `vitcourse.ViT` with the weights of a Hugging Face ViT.

    `model`: a `ViTForImageClassification`, a `ViTModel` (-> num_classes=0; build it with
    `add_pooling_layer=False`: we have no pooler), or a plain state dict (4.x or 5.x names, with or
    without the "vit." prefix) together with `config` (a Hugging Face `ViTConfig` or config.json dict).
    The result has the dtype and device of the weights and, for a module, its train/eval mode.
    """
    training = None
    if isinstance(model, torch.nn.Module):
        import transformers

        if isinstance(model, transformers.ViTForImageClassification):
            prefix, head = "vit.", model.config.num_labels > 0
        elif isinstance(model, transformers.ViTModel):
            prefix, head = "", False
        else:
            raise TypeError(f"expected a transformers ViTForImageClassification or ViTModel, got "
                            f"{type(model).__name__}")
        state, training = model.state_dict(), model.training
        config = model.config if config is None else config
    elif isinstance(model, dict):
        if config is None:
            raise ValueError("a state dict needs its config: vit_from_hf(state_dict, config) with a "
                             "Hugging Face ViTConfig or the config.json dict")
        state = model
        prefix = "vit." if any(k.startswith("vit.") for k in state) else ""
        head = bool(prefix)
    else:
        raise TypeError(f"expected a Hugging Face ViT or a state dict, got {type(model).__name__}")
    c = config_from_hf(config, num_classes=None if head else 0)
    layers = {name for name, pat in (("5.x", prefix + "layers."), ("4.x", prefix + "encoder.layer."))
              if any(k.startswith(pat) for k in state)}
    if len(layers) > 1:
        raise ValueError("state dict mixes transformers 4.x (encoder.layer.*) and 5.x (layers.*) names")
    naming = layers.pop() if layers else "5.x"
    layout = _layout(c, naming, prefix)
    check_state_keys(state, _expected_shapes(c, layout), f"a Hugging Face ViT ({naming} names)",
                     hints=(("pooler.", "vitcourse.ViT has no pooler: use ViTModel(config, add_pooling_layer=False)"),))

    ref = state[prefix + "embeddings.patch_embeddings.projection.weight"]
    ours = {}
    for hf, us, part in layout:
        ours.setdefault(us, [None, None, None])[part or 0] = state[hf]
    vit = ViT(c).to(device=ref.device, dtype=ref.dtype)
    vit.load_state_dict({k: torch.cat(v) if v[1] is not None else v[0] for k, v in ours.items()}, strict=True)
    return vit.train(training) if training is not None else vit


def config_to_hf(config: ViTConfig, attn_implementation: str = "sdpa"):
    """A Hugging Face `ViTConfig` for our config (class-token pooling only)."""
    import transformers

    if config.pool != "cls":
        raise ValueError(f"pool={config.pool!r} has no Hugging Face equivalent: ViTForImageClassification "
                         f"classifies the class token, so only pool='cls' converts")
    if config.pre_norm or not config.patch_bias:
        raise ValueError("pre_norm=True or patch_bias=False (CLIP's vision tower) has no Hugging Face ViT "
                         "equivalent: convert a CLIP with vitcourse.interop.clip_to_hf instead")
    return transformers.ViTConfig(
        hidden_size=config.dim, num_hidden_layers=config.depth, num_attention_heads=config.num_heads,
        intermediate_size=config.mlp_dim, hidden_act=_TO_HF_ACT[config.act_layer],
        hidden_dropout_prob=config.dropout,
        attention_probs_dropout_prob=0.0, layer_norm_eps=config.layer_norm_eps,
        image_size=config.image_size if isinstance(config.image_size, int) else list(config.image_size),
        patch_size=config.patch_size, num_channels=config.in_channels,
        qkv_bias=config.qkv_bias, num_labels=config.num_classes, attn_implementation=attn_implementation)


def vit_to_hf(model: ViT, attn_implementation: str = "sdpa"):
    """A Hugging Face `ViTForImageClassification` with the weights of our ViT (same dtype, device, mode)."""
    import transformers

    if not isinstance(model, ViT):
        raise TypeError(f"vit_to_hf expects a vitcourse.ViT, got {type(model).__name__}")
    hf_config = config_to_hf(model.config, attn_implementation)
    ref = model.patch_embed.proj.weight
    hf = transformers.ViTForImageClassification(hf_config).to(device=ref.device, dtype=ref.dtype)
    naming = "4.x" if any(k.startswith("vit.encoder.layer.") for k in hf.state_dict()) else "5.x"
    ours = model.state_dict()
    state = {k: ours[us] if part is None else ours[us].chunk(3)[part]
             for k, us, part in _layout(model.config, naming, "vit.")}
    hf.load_state_dict(state, strict=True)
    return hf.train(model.training)
