"""MAE parity with Hugging Face's ViTMAEForPreTraining in float64, and the strict key map.

Every parameter is redrawn before converting (a freshly built transformers 5.x ViTMAE holds
all-zero position tables, class and mask tokens). The position tables are either filled by
transformers' own sin-cos initialisation (then `mae_from_hf` checks they equal ours) or redrawn
at random (then `check_pos_embed=False` must copy them, proving they are not silently replaced).
Attention runs with "sdpa": "eager" computes the softmax in float32 even for float64 inputs.
"""
import re

import pytest
import torch

from vitcourse import sincos_2d
from vitcourse.mae_interop import config_from_hf, hf_mae_key_to_v5, mae_from_hf

transformers = pytest.importorskip("transformers")
safetensors_torch = pytest.importorskip("safetensors.torch")


def hf_config(**kw):
    base = dict(image_size=16, patch_size=4, num_channels=3, hidden_size=32, num_hidden_layers=2,
                num_attention_heads=4, intermediate_size=48, decoder_hidden_size=24, decoder_num_hidden_layers=2,
                decoder_num_attention_heads=2, decoder_intermediate_size=40, mask_ratio=0.6,
                attn_implementation="sdpa")
    return transformers.ViTMAEConfig(**{**base, **kw})


@torch.no_grad()
def random_hf(random_positions=False, seed=0, **kw):
    """A float64 HF MAE with every tensor redrawn; positions from HF's sin-cos init unless random."""
    hf = transformers.ViTMAEForPreTraining(hf_config(**kw)).double().eval()
    g = torch.Generator().manual_seed(seed)
    tables = ("vit.embeddings.position_embeddings", "decoder.decoder_pos_embed")
    for name, t in [*hf.named_parameters(), *hf.named_buffers()]:
        if name not in tables or random_positions:
            t.copy_(torch.randn(t.shape, generator=g, dtype=t.dtype) * 0.4 + torch.randn((), generator=g, dtype=t.dtype) * 0.1)
    if not random_positions:   # transformers' own initialisation of the fixed tables
        hf.vit.embeddings.patch_embeddings.projection._is_hf_initialized = False
        keep = {k: v.clone() for k, v in hf.state_dict().items() if k not in tables}
        hf.vit.embeddings.initialize_weights()
        hf.decoder.initialize_weights(hf.vit.embeddings.patch_embeddings.num_patches)
        hf.load_state_dict({**hf.state_dict(), **keep})
        assert hf.vit.embeddings.position_embeddings.abs().sum() > 0
    return hf


def compare(hf, ours, batch=3, seed=1):
    c = hf.config
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(batch, c.num_channels, c.image_size, c.image_size, generator=g, dtype=torch.float64)
    n = (c.image_size // c.patch_size) ** 2
    noise = torch.rand(batch, n, generator=g, dtype=torch.float64)
    with torch.no_grad():
        a, b = hf(pixel_values=x, noise=noise), ours(x, noise=noise)
    assert torch.equal(a.ids_restore, b.ids_restore)
    assert torch.equal(a.mask.double(), b.mask)
    assert (a.logits - b.pred).abs().max() < 1e-10
    assert (a.loss - b.loss).abs() < 1e-10
    return a, b


@pytest.mark.parametrize("kw", [{}, dict(norm_pix_loss=True), dict(qkv_bias=False, layer_norm_eps=1e-5),
                                dict(mask_ratio=0.9, num_channels=1, image_size=20, patch_size=4, num_hidden_layers=1),
                                dict(mask_ratio=0.75, decoder_num_hidden_layers=1, norm_pix_loss=True)])
def test_float64_parity_with_hf_sincos_tables(kw):
    hf = random_hf(**kw)
    ours = mae_from_hf(hf)
    c = ours.config
    assert c.layer_norm_eps == hf.config.layer_norm_eps and ours.norm.eps == hf.config.layer_norm_eps
    assert ours.blocks[0].norm1.eps == hf.config.layer_norm_eps and c.mask_ratio == hf.config.mask_ratio
    assert c.norm_pix_loss == hf.config.norm_pix_loss and ours.pos_embed.dtype == torch.float64
    g = c.grid_size
    assert torch.equal(ours.pos_embed[0].float(), sincos_2d(g, g, c.dim, cls_token=True))   # HF's table is ours
    a, b = compare(hf, ours)
    assert b.mask.sum(1).tolist() == [float(g * g - int(g * g * (1 - c.mask_ratio)))] * 3


def test_random_position_tables_are_copied_not_replaced():
    hf = random_hf(random_positions=True, norm_pix_loss=True)
    with pytest.raises(ValueError, match="sin-cos"):
        mae_from_hf(hf)
    ours = mae_from_hf(hf, check_pos_embed=False)
    assert torch.equal(ours.pos_embed, hf.vit.embeddings.position_embeddings)
    assert torch.equal(ours.decoder_pos_embed, hf.decoder.decoder_pos_embed)
    compare(hf, ours)


def test_a_fresh_hf_model_has_zero_tables_and_is_refused():
    hf = transformers.ViTMAEForPreTraining(hf_config())
    assert hf.vit.embeddings.position_embeddings.abs().sum() == 0 and hf.decoder.mask_token.abs().sum() == 0
    with pytest.raises(ValueError, match="zero tables"):
        mae_from_hf(hf)


def test_default_hf_eps_is_carried():
    hf = random_hf(layer_norm_eps=1e-12)
    assert mae_from_hf(hf).decoder_norm.eps == 1e-12


# 4.x names, as in transformers 4.x's modeling_vit_mae.py (ViTMAESelfAttention query/key/value,
# ViTMAESelfOutput dense, ViTMAEIntermediate dense, ViTMAEOutput dense, ViTMAEEncoder `layer`).
V4_LAYER = {"attention.attention.query": "attention.q_proj", "attention.attention.key": "attention.k_proj",
            "attention.attention.value": "attention.v_proj", "attention.output.dense": "attention.o_proj",
            "intermediate.dense": "mlp.fc1", "output.dense": "mlp.fc2",
            "layernorm_before": "layernorm_before", "layernorm_after": "layernorm_after"}


def to_v4(state):
    out = {}
    for k, v in state.items():
        m = re.match(r"^(vit\.layers|decoder\.decoder_layers)\.(\d+)\.(.+)\.(weight|bias)$", k)
        if m:
            prefix = "vit.encoder.layer" if m[1] == "vit.layers" else "decoder.decoder_layers"
            k = f"{prefix}.{m[2]}.{next(o for o, n in V4_LAYER.items() if n == m[3])}.{m[4]}"
        out[k] = v
    return out


def test_4x_names_convert_to_the_same_model():
    hf = random_hf(norm_pix_loss=True)
    v4 = to_v4(hf.state_dict())
    assert "vit.encoder.layer.1.attention.attention.query.weight" in v4
    assert "decoder.decoder_layers.0.output.dense.bias" in v4
    assert {hf_mae_key_to_v5(k) for k in v4} == set(hf.state_dict())
    ours = mae_from_hf(config=hf.config, state_dict=v4)
    compare(hf, ours)


def test_the_4x_rename_agrees_with_transformers_loader(tmp_path):
    """transformers 5 loads a 4.x-named checkpoint through its own conversion: same tensors."""
    hf = random_hf().float()
    hf.config.save_pretrained(tmp_path)
    safetensors_torch.save_file({k: v.contiguous() for k, v in to_v4(hf.state_dict()).items()},
                                tmp_path / "model.safetensors", metadata={"format": "pt"})
    loaded = transformers.ViTMAEForPreTraining.from_pretrained(tmp_path)
    assert all(torch.equal(loaded.state_dict()[k], v) for k, v in hf.state_dict().items())


def test_files_written_by_save_pretrained_convert(tmp_path):
    hf = random_hf()
    hf.save_pretrained(tmp_path)
    on_disk = safetensors_torch.load_file(tmp_path / "model.safetensors")
    assert any(k.startswith("vit.encoder.layer.") for k in on_disk)       # 4.x-style names on disk
    ours = mae_from_hf(config=hf.config, state_dict=on_disk)
    compare(hf, ours)


def test_strict_key_map_errors():
    hf = random_hf()
    state = dict(hf.state_dict())
    with pytest.raises(ValueError, match="no place"):
        mae_from_hf(config=hf.config, state_dict={**state, "vit.pooler.dense.weight": torch.zeros(2, 2)})
    missing = {k: v for k, v in state.items() if k != "decoder.decoder_pred.bias"}
    with pytest.raises(ValueError, match="missing.*decoder_pred.bias"):
        mae_from_hf(config=hf.config, state_dict=missing)
    no_k = {k: v for k, v in state.items() if k != "vit.layers.0.attention.k_proj.weight"}
    with pytest.raises(ValueError, match="expected q, k and v"):
        mae_from_hf(config=hf.config, state_dict=no_k)
    bad = {**state, "decoder.decoder_embed.weight": torch.zeros(24, 31, dtype=torch.float64)}
    with pytest.raises(ValueError, match="shape mismatch for decoder_embed.weight"):
        mae_from_hf(config=hf.config, state_dict=bad)
    with pytest.raises(ValueError, match="hidden_act"):
        config_from_hf(hf_config(hidden_act="relu"))
    with pytest.raises(ValueError, match="config= and state_dict="):
        mae_from_hf(config=hf.config)
