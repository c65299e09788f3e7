"""Hugging Face interop (ViT both ways, MAE from Hugging Face): float64 parity, round trips, the 4.x and 5.x weight names, strict errors.

Hugging Face models are built from configs (no hub). Every parameter is redrawn before
converting, so default ones/zeros (LayerNorm, biases) cannot hide a swapped or dropped tensor.
Attention runs with attn_implementation="sdpa": its "eager" path computes the softmax in float32
even for float64 inputs (~1e-7 error, measured), while "sdpa" stays in float64 and calls the same
torch kernel as our fused path, so float64 logits agree to ~1e-15.
"""
import json
import re
from pathlib import Path

import pytest
import torch

from vitcourse import ViT, ViTConfig, sincos_2d
from vitcourse.interop import (config_from_hf, config_to_hf, hf_mae_key_to_v5, mae_config_from_hf, mae_from_hf,
                               vit_from_hf, vit_to_hf)

transformers = pytest.importorskip("transformers")
safetensors_torch = pytest.importorskip("safetensors.torch")
FIXTURES = Path(__file__).parent / "fixtures"


def hf_config(**kw):
    base = dict(image_size=16, patch_size=4, num_channels=2, hidden_size=32, num_hidden_layers=2,
                num_attention_heads=4, intermediate_size=48, num_labels=5, attn_implementation="sdpa")
    return transformers.ViTConfig(**{**base, **kw})


@torch.no_grad()
def redraw(model, seed=0):
    g = torch.Generator().manual_seed(seed)
    for p in model.parameters():
        p.copy_(torch.randn(p.shape, generator=g, dtype=p.dtype) * 0.5 + torch.randn((), generator=g, dtype=p.dtype) * 0.1)
    return model


def random_hf(dtype=torch.float64, **kw):
    return redraw(transformers.ViTForImageClassification(hf_config(**kw)).to(dtype).eval())


def images(cfg, dtype=torch.float64, batch=3, seed=1):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(batch, cfg.in_channels, *cfg.image_hw, generator=g, dtype=dtype)


def test_the_installed_transformers_uses_5x_names_in_memory_and_4x_on_disk(tmp_path):
    hf = random_hf()
    assert "vit.layers.0.attention.q_proj.weight" in hf.state_dict()
    hf.save_pretrained(tmp_path)
    on_disk = safetensors_torch.load_file(tmp_path / "model.safetensors")
    assert "vit.encoder.layer.0.attention.attention.query.weight" in on_disk


@pytest.mark.parametrize("kw", [{}, dict(qkv_bias=False), dict(layer_norm_eps=1e-5, num_labels=1),
                                dict(num_channels=3, image_size=12, patch_size=6, num_hidden_layers=3)])
def test_float64_parity_hf_to_ours(kw):
    hf = random_hf(**kw)
    ours = vit_from_hf(hf)
    assert ours.config.layer_norm_eps == hf.config.layer_norm_eps and ours.config.qkv_bias == hf.config.qkv_bias
    assert not ours.training and ours.pos_embed.dtype == torch.float64
    x = images(ours.config)
    with torch.no_grad():
        diff = (ours(x) - hf(x).logits).abs().max().item()
    assert diff <= 1e-10, diff


def test_eager_attention_is_only_float32_exact():
    # documents why the parity tests use sdpa: eager's float32 softmax is far above 1e-10
    hf = random_hf(attn_implementation="eager")
    ours, x = vit_from_hf(hf), images(vit_from_hf(hf).config)
    with torch.no_grad():
        diff = (ours(x) - hf(x).logits).abs().max().item()
    assert 1e-10 < diff < 1e-4, diff


def test_float64_parity_ours_to_hf_and_round_trip():
    ours = ViT(ViTConfig(image_size=16, patch_size=4, in_channels=2, num_classes=7, dim=32, depth=2,
                         num_heads=4, mlp_dim=48, layer_norm_eps=1e-6)).double().eval()
    redraw(ours, seed=3)
    hf = vit_to_hf(ours)
    assert isinstance(hf, transformers.ViTForImageClassification) and not hf.training
    assert hf.config.layer_norm_eps == 1e-6 and hf.config.num_labels == 7
    x = images(ours.config)
    with torch.no_grad():
        assert (ours(x) - hf(x).logits).abs().max().item() <= 1e-10
    back = vit_from_hf(hf)
    assert back.config == ours.config
    a, b = ours.state_dict(), back.state_dict()
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_float32_parity():
    hf = random_hf(dtype=torch.float32)
    ours = vit_from_hf(hf)
    x = images(ours.config, dtype=torch.float32)
    with torch.no_grad():
        torch.testing.assert_close(ours(x), hf(x).logits, rtol=1e-5, atol=1e-5)


def test_no_head_maps_to_num_labels_0_and_vit_model():
    ours = redraw(ViT(ViTConfig(image_size=8, patch_size=4, in_channels=1, num_classes=0, dim=16, depth=1,
                                num_heads=2, mlp_dim=32)).double().eval())
    hf, x = vit_to_hf(ours), images(ours.config)
    assert isinstance(hf.classifier, torch.nn.Identity)
    with torch.no_grad():
        assert (ours(x) - hf(x).logits).abs().max().item() <= 1e-10           # (B, D) class-token features
    base = transformers.ViTModel(hf.config, add_pooling_layer=False).double().eval()
    base.load_state_dict({k.removeprefix("vit."): v for k, v in hf.state_dict().items()})
    back = vit_from_hf(base)
    assert back.config.num_classes == 0
    with torch.no_grad():
        assert (back(x) - base(x).last_hidden_state[:, 0]).abs().max().item() <= 1e-10


def test_transformers_4x_checkpoint_fixture():
    """A real 4.57.6 checkpoint (tests/fixtures/make_vit_hf4.py) and that version's float64 logits."""
    state = safetensors_torch.load_file(FIXTURES / "vit_hf4" / "model.safetensors")
    config = json.loads((FIXTURES / "vit_hf4" / "config.json").read_text())
    io = safetensors_torch.load_file(FIXTURES / "vit_hf4_io.safetensors")
    assert config["transformers_version"].startswith("4.") and "vit.encoder.layer.1.output.dense.weight" in state
    ours = vit_from_hf({k: v.double() for k, v in state.items()}, config).eval()
    assert ours.config.num_classes == 3 and ours.config.layer_norm_eps == 1e-12 and ours.config.depth == 2
    with torch.no_grad():
        assert (ours(io["images"]) - io["logits"]).abs().max().item() <= 1e-10
    # the same file through transformers 5.x's own loader (which renames 4.x -> 5.x) agrees too
    hf = transformers.ViTForImageClassification.from_pretrained(FIXTURES / "vit_hf4", attn_implementation="sdpa")
    hf5 = hf.double().eval()
    with torch.no_grad():
        assert (hf5(io["images"]).logits - io["logits"]).abs().max().item() <= 1e-10
    ours5 = vit_from_hf(hf5)
    assert all(torch.equal(a, b) for a, b in zip(ours.state_dict().values(), ours5.state_dict().values()))


def test_plain_5x_state_dict_with_hf_config():
    hf = random_hf()
    ours = vit_from_hf(dict(hf.state_dict()), hf.config).eval()
    x = images(ours.config)
    with torch.no_grad():
        assert (ours(x) - hf(x).logits).abs().max().item() <= 1e-10


def test_config_translation():
    ours = config_from_hf(hf_config(hidden_dropout_prob=0.1, image_size=[16, 16]))
    assert (ours.dim, ours.depth, ours.num_heads, ours.mlp_dim, ours.image_size, ours.in_channels) == (32, 2, 4, 48, 16, 2)
    assert ours.dropout == 0.1 and ours.pool == "cls" and ours.layer_norm_eps == 1e-12
    back = config_to_hf(ours)
    assert (back.hidden_size, back.intermediate_size, back.num_labels, back.layer_norm_eps) == (32, 48, 5, 1e-12)


# --- errors ---------------------------------------------------------------------------------

def test_missing_key_is_named():
    hf = random_hf()
    state = dict(hf.state_dict())
    del state["vit.layers.1.attention.k_proj.bias"]
    with pytest.raises(ValueError, match=r"missing keys: vit\.layers\.1\.attention\.k_proj\.bias"):
        vit_from_hf(state, hf.config)


def test_unexpected_key_is_named():
    hf = random_hf()
    state = {**hf.state_dict(), "vit.pooler.dense.weight": torch.zeros(32, 32)}
    with pytest.raises(ValueError, match=r"unexpected \(unused\) keys: vit\.pooler\.dense\.weight"):
        vit_from_hf(state, hf.config)
    with pytest.raises(ValueError, match=r"keys: pooler\.dense\.weight, pooler\.dense\.bias(.|\n)*add_pooling_layer=False"):
        vit_from_hf(transformers.ViTModel(hf_config(), add_pooling_layer=True))


def test_wrong_shape_is_named():
    hf = random_hf()
    state = dict(hf.state_dict())
    state["classifier.weight"] = torch.zeros(4, 32, dtype=torch.float64)
    with pytest.raises(ValueError, match=r"wrong shapes: classifier\.weight: got \(4, 32\), expected \(5, 32\)"):
        vit_from_hf(state, hf.config)


def test_mixed_4x_and_5x_names():
    state = dict(random_hf().state_dict())
    state["vit.encoder.layer.0.attention.attention.query.weight"] = state.pop("vit.layers.0.attention.q_proj.weight")
    with pytest.raises(ValueError, match="mixes transformers 4.x"):
        vit_from_hf(state, hf_config())


@pytest.mark.parametrize("act", ["gelu_new", "relu", "gelu_pytorch_tanh", "quick_gelu"])
def test_other_activations_convert_with_identical_logits(act):
    hf = random_hf(hidden_act=act)
    ours = vit_from_hf(hf)
    with torch.no_grad():
        assert (ours(images(ours.config)) - hf(images(ours.config)).logits).abs().max().item() <= 1e-10
    assert vit_to_hf(ours).config.hidden_act in (act, "gelu_pytorch_tanh")


@pytest.mark.parametrize("act", ["silu", "gelu_fast"])
def test_unknown_activation(act):
    with pytest.raises(ValueError, match=f"hidden_act='{act}' is not supported"):
        vit_from_hf(transformers.ViTForImageClassification(hf_config(hidden_act=act)))


def test_mean_pooling_to_hf():
    with pytest.raises(ValueError, match="pool='mean' has no Hugging Face equivalent"):
        vit_to_hf(ViT(ViTConfig(image_size=8, patch_size=4, dim=16, depth=1, num_heads=2, mlp_dim=32, pool="mean")))


def test_non_square_images_convert_both_ways_in_float64():
    # text lines: a 16x32 image in 4-px patches is a 4x8 grid; HF's ViT takes image_size=(h, w) too
    hf = random_hf(image_size=[16, 32])
    ours = vit_from_hf(hf)
    assert ours.config.image_size == (16, 32) and ours.config.grid_hw == (4, 8) and ours.pos_embed.shape[1] == 33
    x = images(ours.config)
    with torch.no_grad():
        assert (ours(x) - hf(x).logits).abs().max().item() <= 1e-10
        back = vit_to_hf(ours)
        assert tuple(back.config.image_size) == (16, 32)
        assert (back(x).logits - hf(x).logits).abs().max().item() <= 1e-10
    assert config_from_hf(hf_config(image_size=[16, 16])).image_size == 16  # a square pair stays an int


def test_bad_inputs():
    with pytest.raises(ValueError, match="needs its config"):
        vit_from_hf({})
    with pytest.raises(TypeError, match="expected a transformers ViTForImageClassification"):
        vit_from_hf(torch.nn.Linear(2, 2))
    with pytest.raises(TypeError, match="expects a vitcourse.ViT"):
        vit_to_hf(torch.nn.Linear(2, 2))
    with pytest.raises(ValueError, match="square patches only"):
        config_from_hf(hf_config(patch_size=[4, 2]))
    with pytest.warns(UserWarning, match="attention_probs_dropout_prob"):
        config_from_hf(hf_config(attention_probs_dropout_prob=0.1))


# --- MAE -------------------------------------------------------------------------------------------------
# MAE parity with Hugging Face's ViTMAEForPreTraining in float64, and the strict key map.
#
# Every parameter is redrawn before converting (a freshly built transformers 5.x ViTMAE holds
# all-zero position tables, class and mask tokens). The position tables are either filled by
# transformers' own sin-cos initialisation (then `mae_from_hf` checks they equal ours) or redrawn
# at random (then `check_pos_embed=False` must copy them, proving they are not silently replaced).
# Attention runs with "sdpa": "eager" computes the softmax in float32 even for float64 inputs.
def hf_mae_config(**kw):
    base = dict(image_size=16, patch_size=4, num_channels=3, hidden_size=32, num_hidden_layers=2,
                num_attention_heads=4, intermediate_size=48, decoder_hidden_size=24, decoder_num_hidden_layers=2,
                decoder_num_attention_heads=2, decoder_intermediate_size=40, mask_ratio=0.6,
                attn_implementation="sdpa")
    return transformers.ViTMAEConfig(**{**base, **kw})


@torch.no_grad()
def random_hf_mae(random_positions=False, seed=0, **kw):
    """A float64 HF MAE with every tensor redrawn; positions from HF's sin-cos init unless random."""
    hf = transformers.ViTMAEForPreTraining(hf_mae_config(**kw)).double().eval()
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


def compare_mae(hf, ours, batch=3, seed=1):
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
def test_mae_float64_parity_with_hf_sincos_tables(kw):
    hf = random_hf_mae(**kw)
    ours = mae_from_hf(hf)
    c = ours.config
    assert c.layer_norm_eps == hf.config.layer_norm_eps and ours.norm.eps == hf.config.layer_norm_eps
    assert ours.blocks[0].norm1.eps == hf.config.layer_norm_eps and c.mask_ratio == hf.config.mask_ratio
    assert c.norm_pix_loss == hf.config.norm_pix_loss and ours.pos_embed.dtype == torch.float64
    g = c.grid_size
    assert torch.equal(ours.pos_embed[0].float(), sincos_2d(g, g, c.dim, cls_token=True))   # HF's table is ours
    a, b = compare_mae(hf, ours)
    assert b.mask.sum(1).tolist() == [float(g * g - int(g * g * (1 - c.mask_ratio)))] * 3


def test_mae_random_position_tables_are_copied_not_replaced():
    hf = random_hf_mae(random_positions=True, norm_pix_loss=True)
    with pytest.raises(ValueError, match="sin-cos"):
        mae_from_hf(hf)
    ours = mae_from_hf(hf, check_pos_embed=False)
    assert torch.equal(ours.pos_embed, hf.vit.embeddings.position_embeddings)
    assert torch.equal(ours.decoder_pos_embed, hf.decoder.decoder_pos_embed)
    compare_mae(hf, ours)


def test_mae_a_fresh_hf_model_has_zero_tables_and_is_refused():
    hf = transformers.ViTMAEForPreTraining(hf_mae_config())
    assert hf.vit.embeddings.position_embeddings.abs().sum() == 0 and hf.decoder.mask_token.abs().sum() == 0
    with pytest.raises(ValueError, match="zero tables"):
        mae_from_hf(hf)


def test_mae_default_hf_eps_is_carried():
    hf = random_hf_mae(layer_norm_eps=1e-12)
    assert mae_from_hf(hf).decoder_norm.eps == 1e-12


# 4.x names, as in transformers 4.x's modeling_vit_mae.py (ViTMAESelfAttention query/key/value,
# ViTMAESelfOutput dense, ViTMAEIntermediate dense, ViTMAEOutput dense, ViTMAEEncoder `layer`).
MAE_V4_LAYER = {"attention.attention.query": "attention.q_proj", "attention.attention.key": "attention.k_proj",
            "attention.attention.value": "attention.v_proj", "attention.output.dense": "attention.o_proj",
            "intermediate.dense": "mlp.fc1", "output.dense": "mlp.fc2",
            "layernorm_before": "layernorm_before", "layernorm_after": "layernorm_after"}


def mae_to_v4(state):
    out = {}
    for k, v in state.items():
        m = re.match(r"^(vit\.layers|decoder\.decoder_layers)\.(\d+)\.(.+)\.(weight|bias)$", k)
        if m:
            prefix = "vit.encoder.layer" if m[1] == "vit.layers" else "decoder.decoder_layers"
            k = f"{prefix}.{m[2]}.{next(o for o, n in MAE_V4_LAYER.items() if n == m[3])}.{m[4]}"
        out[k] = v
    return out


def test_mae_4x_names_convert_to_the_same_model():
    hf = random_hf_mae(norm_pix_loss=True)
    v4 = mae_to_v4(hf.state_dict())
    assert "vit.encoder.layer.1.attention.attention.query.weight" in v4
    assert "decoder.decoder_layers.0.output.dense.bias" in v4
    assert {hf_mae_key_to_v5(k) for k in v4} == set(hf.state_dict())
    ours = mae_from_hf(config=hf.config, state_dict=v4)
    compare_mae(hf, ours)


def test_mae_4x_rename_agrees_with_transformers_loader(tmp_path):
    """transformers 5 loads a 4.x-named checkpoint through its own conversion: same tensors."""
    hf = random_hf_mae().float()
    hf.config.save_pretrained(tmp_path)
    safetensors_torch.save_file({k: v.contiguous() for k, v in mae_to_v4(hf.state_dict()).items()},
                                tmp_path / "model.safetensors", metadata={"format": "pt"})
    loaded = transformers.ViTMAEForPreTraining.from_pretrained(tmp_path)
    assert all(torch.equal(loaded.state_dict()[k], v) for k, v in hf.state_dict().items())


def test_mae_files_written_by_save_pretrained_convert(tmp_path):
    hf = random_hf_mae()
    hf.save_pretrained(tmp_path)
    on_disk = safetensors_torch.load_file(tmp_path / "model.safetensors")
    assert any(k.startswith("vit.encoder.layer.") for k in on_disk)       # 4.x-style names on disk
    ours = mae_from_hf(config=hf.config, state_dict=on_disk)
    compare_mae(hf, ours)


def test_mae_strict_key_map_errors():
    hf = random_hf_mae()
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
        mae_config_from_hf(hf_mae_config(hidden_act="relu"))
    with pytest.raises(ValueError, match="config= and state_dict="):
        mae_from_hf(config=hf.config)
    with pytest.raises(TypeError, match="ViTMAEForPreTraining.*vit_from_hf"):
        mae_from_hf(transformers.ViTForImageClassification(transformers.ViTConfig(hidden_size=32, num_hidden_layers=1,
                                                                                   num_attention_heads=4)))
    with pytest.raises(TypeError, match="ViTMAEConfig"):
        mae_from_hf(config=transformers.ViTConfig(), state_dict=state)
    with pytest.raises(TypeError, match=r"got str: load it first: ViTMAEForPreTraining.from_pretrained\('facebook/vit-mae-base'\)"):
        mae_from_hf("facebook/vit-mae-base")
    with pytest.raises(TypeError, match="config=..., state_dict="):
        mae_from_hf(state)
    with pytest.raises(TypeError, match="encoder only"):
        mae_from_hf(transformers.ViTMAEModel(hf_mae_config()))
