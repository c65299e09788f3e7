"""GPT <-> Hugging Face `GPT2LMHeadModel` (strict key maps; with or without `add_cross_attention`).

GPT-2 (Radford et al. 2019, Section 2.3) is the course's GPT with pre-norm blocks and a final norm.
GPT-2 stores its Linear layers as `Conv1D` with (in, out) weights, so every matrix is transposed.

    ours                           GPT2LMHeadModel
    tok_embed, pos_embed           transformer.wte, transformer.wpe (pos_embed has a leading 1)
    blocks.{i}.norm1 / norm2       transformer.h.{i}.ln_1 / ln_2
    blocks.{i}.attn.qkv / proj     transformer.h.{i}.attn.c_attn (columns [q | k | v]) / attn.c_proj
    blocks.{i}.norm_cross          transformer.h.{i}.ln_cross_attn
    blocks.{i}.cross_attn.qkv      transformer.h.{i}.crossattention.q_attn (rows q) + c_attn (rows [k; v])
    blocks.{i}.cross_attn.proj     transformer.h.{i}.crossattention.c_proj
    blocks.{i}.mlp.fc1 / fc2       transformer.h.{i}.mlp.c_fc / mlp.c_proj
    norm, head                     transformer.ln_f, lm_head (tied to wte when tie_word_embeddings)
"""
from __future__ import annotations

import torch

from ..gpt import GPT
from .vit import _TO_HF_ACT, HF_ACTIVATIONS

_NAMES = [("ln_1", "norm1", False), ("attn.c_attn", "attn.qkv", True), ("attn.c_proj", "attn.proj", True),
          ("ln_2", "norm2", False), ("mlp.c_fc", "mlp.fc1", True), ("mlp.c_proj", "mlp.fc2", True)]
_CROSS = [("ln_cross_attn", "norm_cross", False), ("crossattention.c_proj", "cross_attn.proj", True)]


def gpt_state_from_hf(state: dict, depth: int, cross_attention: bool, prefix: str = "") -> dict:
    """A GPT2LMHeadModel state dict (keys under `prefix`) -> the course's GPT names, strictly."""
    used, out = set(), {}

    def get(key):
        if prefix + key not in state:
            raise ValueError(f"state dict does not fit a GPT-2 with depth={depth}, cross_attention={cross_attention}: "
                             f"missing key {prefix + key}")
        used.add(prefix + key)
        return state[prefix + key]

    out["tok_embed.weight"], out["pos_embed"] = get("transformer.wte.weight"), get("transformer.wpe.weight")[None]
    out["norm.weight"], out["norm.bias"] = get("transformer.ln_f.weight"), get("transformer.ln_f.bias")
    out["head.weight"] = get("lm_head.weight")
    for i in range(depth):
        h, us = f"transformer.h.{i}.", f"blocks.{i}."
        for theirs, ours, conv in _NAMES + (_CROSS if cross_attention else []):
            w = get(h + theirs + ".weight")
            out[us + ours + ".weight"], out[us + ours + ".bias"] = (w.t() if conv else w), get(h + theirs + ".bias")
        if cross_attention:
            q, kv = get(h + "crossattention.q_attn.weight"), get(h + "crossattention.c_attn.weight")
            out[us + "cross_attn.qkv.weight"] = torch.cat([q.t(), kv.t()])           # rows [q; k; v]
            out[us + "cross_attn.qkv.bias"] = torch.cat([get(h + "crossattention.q_attn.bias"),
                                                         get(h + "crossattention.c_attn.bias")])
    unused = sorted(k for k in state if k.startswith(prefix) and k not in used)
    if unused:
        raise ValueError(f"state dict has keys with no place in a GPT with depth={depth}, cross_attention="
                         f"{cross_attention}: {', '.join(unused[:8])}")
    return out


def gpt_state_to_hf(gpt: GPT) -> dict:
    """The course's GPT state -> GPT2LMHeadModel names (no prefix)."""
    s, out = gpt.state_dict(), {}
    out["transformer.wte.weight"], out["transformer.wpe.weight"] = s["tok_embed.weight"], s["pos_embed"][0]
    out["transformer.ln_f.weight"], out["transformer.ln_f.bias"] = s["norm.weight"], s["norm.bias"]
    out["lm_head.weight"] = s["head.weight"] if "head.weight" in s else s["tok_embed.weight"]
    d = gpt.tok_embed.embedding_dim
    for i in range(gpt.depth):
        h, us = f"transformer.h.{i}.", f"blocks.{i}."
        for theirs, ours, conv in _NAMES + (_CROSS if gpt.cross_attention else []):
            w = s[us + ours + ".weight"]
            out[h + theirs + ".weight"], out[h + theirs + ".bias"] = (w.t() if conv else w), s[us + ours + ".bias"]
        if gpt.cross_attention:
            w, b = s[us + "cross_attn.qkv.weight"], s[us + "cross_attn.qkv.bias"]
            out[h + "crossattention.q_attn.weight"], out[h + "crossattention.q_attn.bias"] = w[:d].t(), b[:d]
            out[h + "crossattention.c_attn.weight"], out[h + "crossattention.c_attn.bias"] = w[d:].t(), b[d:]
    return {k: v.contiguous() for k, v in out.items()}


def gpt_from_hf_config(config, tie_weights: bool | None = None) -> GPT:
    """An untrained GPT shaped like a Hugging Face `GPT2Config` (refuses what would change the outputs)."""
    if getattr(config, "activation_function", "gelu_new") not in HF_ACTIVATIONS:
        raise ValueError(f"activation_function={config.activation_function!r} is not supported: "
                         f"vitcourse.GPT knows {sorted(HF_ACTIVATIONS)}")
    if not getattr(config, "scale_attn_weights", True) or getattr(config, "scale_attn_by_inverse_layer_idx", False):
        raise ValueError("scale_attn_weights=False or scale_attn_by_inverse_layer_idx=True changes GPT-2's "
                         "attention scale; vitcourse.GPT always divides by sqrt(head_dim)")
    tie = getattr(config, "tie_word_embeddings", True) if tie_weights is None else tie_weights
    return GPT(config.vocab_size, config.n_positions, dim=config.n_embd, depth=config.n_layer,
               num_heads=config.n_head, mlp_dim=config.n_inner or 4 * config.n_embd,
               dropout=float(config.resid_pdrop or 0.0), tie_weights=bool(tie),
               layer_norm_eps=config.layer_norm_epsilon, act_layer=HF_ACTIVATIONS[config.activation_function],
               cross_attention=bool(getattr(config, "add_cross_attention", False)))


def gpt_from_hf(model) -> GPT:
    """A `vitcourse.GPT` with the weights of a `GPT2LMHeadModel` (same dtype, device and mode)."""
    import transformers

    if not isinstance(model, transformers.GPT2LMHeadModel):
        raise TypeError(f"expected a transformers GPT2LMHeadModel, got {type(model).__name__}")
    tie = model.lm_head.weight is model.transformer.wte.weight
    state = gpt_state_from_hf(model.state_dict(), model.config.n_layer, bool(model.config.add_cross_attention))
    ref = state["tok_embed.weight"]
    gpt = gpt_from_hf_config(model.config, tie_weights=tie).to(device=ref.device, dtype=ref.dtype)
    gpt.load_state_dict(state, strict=True)
    return gpt.train(model.training)


def gpt_config_to_hf(gpt: GPT, attn_implementation: str = "sdpa", **extra):
    """A Hugging Face `GPT2Config` for our GPT (causal models only)."""
    import transformers

    if not gpt.causal:
        raise ValueError("a bidirectional GPT (causal=False) has no GPT2LMHeadModel equivalent")
    act = gpt.blocks[0].mlp.act
    name = {"GELU": "gelu_tanh" if getattr(act, "approximate", "none") == "tanh" else "gelu",
            "QuickGELU": "quick_gelu", "ReLU": "relu"}[type(act).__name__]
    drop = gpt.drop.p
    return transformers.GPT2Config(
        vocab_size=gpt.vocab_size, n_positions=gpt.block_size, n_embd=gpt.tok_embed.embedding_dim,
        n_layer=gpt.depth, n_head=gpt.blocks[0].attn.num_heads, n_inner=gpt.blocks[0].mlp.fc1.out_features,
        activation_function=_TO_HF_ACT[name], resid_pdrop=drop, embd_pdrop=drop, attn_pdrop=0.0,
        layer_norm_epsilon=gpt.norm.eps, tie_word_embeddings=gpt.head.weight is gpt.tok_embed.weight,
        add_cross_attention=gpt.cross_attention, attn_implementation=attn_implementation, **extra)


def gpt_to_hf(gpt: GPT, attn_implementation: str = "sdpa", **config_extra):
    """A `GPT2LMHeadModel` with the weights of our GPT (same dtype, device and mode)."""
    import transformers

    if not isinstance(gpt, GPT):
        raise TypeError(f"gpt_to_hf expects a vitcourse.GPT, got {type(gpt).__name__}")
    ref = gpt.tok_embed.weight
    hf = transformers.GPT2LMHeadModel(gpt_config_to_hf(gpt, attn_implementation, **config_extra))
    hf = hf.to(device=ref.device, dtype=ref.dtype)
    hf.load_state_dict(gpt_state_to_hf(gpt), strict=True)
    return hf.train(gpt.training)
