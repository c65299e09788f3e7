"""CLIP <-> Hugging Face CLIPModel: float64 parity with every parameter redrawn (image and text
features, logits_per_image, the loss), both text-pooling paths, round trips, files written by
save_pretrained, strict errors.

Attention runs with attn_implementation="sdpa": transformers' "eager" path computes the softmax in
float32 even for float64 inputs (DESIGN's pitfalls), so only "sdpa" can agree to 1e-10.
"""
import math

import pytest
import torch

from vitcourse.clip import CLIP, TextConfig
from vitcourse.config import ViTConfig
from vitcourse.contrastive import clip_loss
from vitcourse.interop import clip_config_from_hf, clip_from_hf, clip_to_hf
from vitcourse.tokenizer import WordTokenizer

transformers = pytest.importorskip("transformers")
V, T = 40, 10


def hf_config(eos=V - 1, vision=None, **kw):
    text = dict(vocab_size=V, max_position_embeddings=T, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                intermediate_size=48, pad_token_id=0, bos_token_id=V - 2, eos_token_id=eos)
    vis = dict(image_size=16, patch_size=4, hidden_size=24, num_hidden_layers=2, num_attention_heads=2,
               intermediate_size=40, num_channels=3, **(vision or {}))
    return transformers.CLIPConfig(text_config=text, vision_config=vis, projection_dim=12,
                                   logit_scale_init_value=math.log(1 / 0.07), attn_implementation="sdpa", **kw)


@torch.no_grad()
def redraw(model, seed=0, std=0.3):
    g = torch.Generator().manual_seed(seed)
    for p in model.parameters():
        p.copy_(torch.randn(p.shape, generator=g, dtype=p.dtype) * std + torch.randn((), generator=g, dtype=p.dtype) * 0.1)
    return model


def random_hf(seed=0, **kw):
    return redraw(transformers.CLIPModel(hf_config(**kw)).double().eval(), seed)


def inputs(eos=V - 1, batch=5, seed=1):
    """Random token ids below eos with one eos per row at a random place, zeros after; random pixels."""
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(1, eos, (batch, T), generator=g)
    for row, end in enumerate(torch.randint(1, T, (batch,), generator=g).tolist()):
        ids[row, end], ids[row, end + 1:] = eos, 0
    return torch.randn(batch + 1, 3, 16, 16, generator=g, dtype=torch.float64), ids


def check_parity(hf, ours, pixels, ids):
    out = hf(input_ids=ids, pixel_values=pixels, return_loss=False)
    img_hf = hf.get_image_features(pixel_values=pixels)
    txt_hf = hf.get_text_features(input_ids=ids)
    img_hf, txt_hf = (getattr(x, "pooler_output", x) for x in (img_hf, txt_hf))     # 5.x: an output object
    assert (ours.encode_image(pixels) - img_hf).abs().max() <= 1e-10
    assert (ours.encode_text(ids) - txt_hf).abs().max() <= 1e-10
    assert (ours(pixels, ids) - out.logits_per_image).abs().max() <= 1e-10
    assert out.logits_per_image.abs().max() > 1e-3                                  # not trivially zero


def test_float64_parity_hf_to_ours_first_eos_pooling():
    hf = random_hf()
    ours = clip_from_hf(hf)
    assert ours.text_config.pool == "eos" and ours.text_config.eos_token_id == V - 1
    assert not ours.training and next(ours.parameters()).dtype == torch.float64
    check_parity(hf, ours, *inputs())


def test_float64_parity_legacy_eos_2_pools_at_argmax():
    hf = random_hf(eos=2)
    ours = clip_from_hf(hf)
    assert ours.text_config.pool == "argmax"
    pixels, ids = inputs()
    ids[:, 0] = V - 1                                          # the largest id first: argmax != first "eos"
    check_parity(hf, ours, pixels, ids)


def test_loss_equals_clipmodel_return_loss():
    hf = random_hf(seed=4)
    pixels, ids = inputs(batch=5)
    pixels = pixels[:5]
    ours = clip_from_hf(hf)
    expected = hf(input_ids=ids, pixel_values=pixels, return_loss=True).loss
    loss = clip_loss(ours.encode_image(pixels), ours.encode_text(ids), ours.logit_scale)
    assert abs(loss.item() - expected.item()) <= 1e-10


def test_float64_parity_ours_to_hf_and_round_trip():
    tok = WordTokenizer(["a red circle on the left", "a big blue square"], context_length=T)
    vision = ViTConfig(image_size=16, patch_size=4, in_channels=3, num_classes=0, dim=24, depth=2, num_heads=2,
                       mlp_dim=40, act_layer="quick_gelu", pre_norm=True, patch_bias=False, layer_norm_eps=1e-5)
    text = TextConfig(vocab_size=tok.vocab_size, context_length=T, dim=32, depth=2, num_heads=4, mlp_dim=48)
    ours = redraw(CLIP(vision, text, embed_dim=12).double().eval(), seed=3)
    hf = clip_to_hf(ours)
    assert hf.config.text_config.eos_token_id == tok.eos_id != 2
    assert hf.logit_scale.item() == ours.logit_scale.item()
    pixels = torch.randn(3, 3, 16, 16, generator=torch.Generator().manual_seed(5), dtype=torch.float64)
    check_parity(hf, ours, pixels, tok(["a red circle", "a big blue square on the left", "square"]))
    back = clip_from_hf(hf)
    assert all(torch.equal(a, b) for a, b in zip(back.state_dict().values(), ours.state_dict().values()))


def test_vision_without_qkv_bias_converts_with_zero_biases():
    vision = ViTConfig(image_size=16, patch_size=8, in_channels=3, num_classes=0, dim=16, depth=1, num_heads=2,
                       mlp_dim=32, act_layer="quick_gelu", pre_norm=True, patch_bias=False, qkv_bias=False)
    ours = redraw(CLIP(vision, TextConfig(vocab_size=V, context_length=T, dim=16, depth=1, num_heads=2, mlp_dim=32),
                       embed_dim=8).double().eval())
    hf = clip_to_hf(ours)
    assert hf.vision_model.encoder.layers[0].self_attn.q_proj.bias.abs().sum() == 0
    check_parity(hf, ours, *inputs())


def test_save_pretrained_from_pretrained_round_trip(tmp_path):
    hf = random_hf(seed=6)
    hf.save_pretrained(tmp_path)
    loaded = transformers.CLIPModel.from_pretrained(tmp_path, attn_implementation="sdpa").double().eval()
    pixels, ids = inputs()
    torch.testing.assert_close(clip_from_hf(loaded)(pixels, ids), clip_from_hf(hf)(pixels, ids), rtol=0, atol=1e-6)


def test_state_dict_with_config_and_logit_scale_init():
    hf = random_hf(seed=7)
    ours = clip_from_hf(hf.state_dict(), hf.config)
    pixels, ids = inputs()
    check_parity(hf, ours, pixels, ids)
    assert clip_config_from_hf(hf.config)["logit_scale_init"] == pytest.approx(math.log(1 / 0.07))
    # transformers' default 2.6592 is not ln(1/0.07) = 2.659260...: our CLIP starts at the paper's value
    default = transformers.CLIPConfig().logit_scale_init_value
    assert abs(default - math.log(1 / 0.07)) > 1e-5


def test_strict_errors_name_the_key():
    hf = random_hf()
    state = dict(hf.state_dict())
    with pytest.raises(ValueError, match="missing keys: text_projection.weight"):
        clip_from_hf({k: v for k, v in state.items() if k != "text_projection.weight"}, hf.config)
    with pytest.raises(ValueError, match="unexpected \\(unused\\) keys: extra.weight"):
        clip_from_hf({**state, "extra.weight": torch.zeros(1)}, hf.config)
    bad = {**state, "visual_projection.weight": torch.zeros(12, 25, dtype=torch.float64)}
    with pytest.raises(ValueError, match="visual_projection.weight: got \\(12, 25\\), expected \\(12, 24\\)"):
        clip_from_hf(bad, hf.config)
    with pytest.raises(ValueError, match="needs its config"):
        clip_from_hf(state)
    with pytest.raises(TypeError, match="expected a transformers CLIPModel"):
        clip_from_hf(transformers.CLIPTextModelWithProjection(hf.config.text_config))
    with pytest.raises(TypeError, match="vitcourse.CLIP"):
        clip_to_hf(hf)


@pytest.mark.parametrize("change,match", [
    (dict(vision=dict(pool="mean")), "pool='mean'"),
    (dict(vision=dict(patch_bias=True)), "patch_bias=True"),
    (dict(vision=dict(pre_norm=False)), "pre_norm=False"),
    (dict(logit_bias_init=-10.0), "logit_bias"),
    (dict(text=dict(eos_token_id=2)), "eos_token_id=2 with pool='eos'"),
])
def test_to_hf_refuses_what_clipmodel_cannot_hold(change, match):
    vision = {**dict(image_size=8, patch_size=4, in_channels=3, num_classes=0, dim=16, depth=1, num_heads=2, mlp_dim=32,
                     pre_norm=True, patch_bias=False), **change.get("vision", {})}
    text = TextConfig(**{**dict(vocab_size=V, context_length=T, dim=16, depth=1, num_heads=2, mlp_dim=32),
                         **change.get("text", {})})
    model = CLIP(ViTConfig(**vision), text, embed_dim=8, logit_bias_init=change.get("logit_bias_init"))
    with pytest.raises(ValueError, match=match):
        clip_to_hf(model)
