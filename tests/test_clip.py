"""CLIP: shapes, logits, temperature and its clamp, the causal text tower and EOS pooling, gradients,
an overfit run (64 pairs far below ln B), bad inputs. Hugging Face parity is in test_interop_clip.py."""
import itertools
import math
import time

import pytest
import torch

from vitcourse.clip import CLIP, MAX_LOGIT_SCALE, TextConfig
from vitcourse.config import ViTConfig
from vitcourse.contrastive import clip_loss, siglip_loss
from vitcourse.tokenizer import WordTokenizer

COLOURS = ["red", "green", "blue", "yellow", "purple", "cyan", "orange", "white"]
SHAPES = ["circle", "square", "triangle", "diamond", "cross", "ring", "star", "heart"]
CAPTIONS = [f"a {c} {s}" for c, s in itertools.product(COLOURS, SHAPES)]            # 64 distinct


def vision(**kw):
    base = dict(image_size=8, patch_size=4, in_channels=3, num_classes=0, dim=32, depth=1, num_heads=2, mlp_dim=64,
                act_layer="quick_gelu", pre_norm=True, patch_bias=False, layer_norm_eps=1e-5)
    return ViTConfig(**{**base, **kw})


def make(tok=None, embed_dim=16, text_kw=None, **kw):
    tok = tok or WordTokenizer(CAPTIONS, context_length=8)
    text = TextConfig(vocab_size=tok.vocab_size, context_length=tok.context_length, dim=32, depth=1, num_heads=2,
                      mlp_dim=64, **(text_kw or {}))
    return CLIP(vision(), text, embed_dim=embed_dim, **kw), tok


def test_shapes_and_logits_definition():
    torch.manual_seed(0)
    model, tok = make()
    images, ids = torch.rand(5, 3, 8, 8), tok(CAPTIONS[:3])
    img, txt = model.encode_image(images), model.encode_text(ids)
    assert img.shape == (5, 16) and txt.shape == (3, 16)
    logits = model(images, ids)
    assert logits.shape == (5, 3)                                                # logits_per_image
    expected = model.logit_scale.exp() * (img / img.norm(dim=1, keepdim=True)) @ (txt / txt.norm(dim=1, keepdim=True)).T
    assert torch.allclose(logits, expected, atol=1e-6)
    assert model.visual_projection.bias is None and model.text_projection.bias is None


def test_logit_scale_init_and_clamp():
    model, _ = make()
    assert model.logit_scale.item() == pytest.approx(math.log(1 / 0.07), abs=1e-6)
    assert model.logit_bias is None
    with torch.no_grad():
        model.logit_scale.fill_(7.0)
    assert model.clamp_logit_scale_() is model
    assert model.logit_scale.item() == pytest.approx(math.log(100), abs=1e-6) == pytest.approx(MAX_LOGIT_SCALE)
    with torch.no_grad():
        model.logit_scale.fill_(-1.0)
    assert model.clamp_logit_scale_().logit_scale.item() == 0.0


def test_siglip_variant_adds_a_learned_bias():
    model, tok = make(logit_scale_init=math.log(10), logit_bias_init=-10.0)
    images, ids = torch.rand(2, 3, 8, 8), tok(CAPTIONS[:2])
    no_bias = model.logit_scale.exp() * torch.nn.functional.normalize(model.encode_image(images), dim=-1) @ \
        torch.nn.functional.normalize(model.encode_text(ids), dim=-1).T
    assert torch.allclose(model(images, ids), no_bias - 10, atol=1e-5)
    assert "logit_bias" in dict(model.named_parameters())


def test_vision_tower_is_headless_vit():
    text = TextConfig(vocab_size=10, context_length=4, dim=32, num_heads=2, mlp_dim=64)
    model = CLIP(vision(num_classes=7), text)
    assert isinstance(model.visual.head, torch.nn.Identity) and model.vision_config.num_classes == 0
    mean = CLIP(vision(pool="mean"), text)
    assert mean.encode_image(torch.rand(2, 3, 8, 8)).shape == (2, 64)


def test_text_tower_is_causal_and_ignores_padding_after_eos():
    torch.manual_seed(1)
    model, tok = make()
    model.eval()
    ids = tok(["a red circle", "a blue ring"], context_length=8)
    feats = model.text.forward_features(ids)
    changed = ids.clone()
    changed[:, 3] = tok.stoi["square"]                                           # change token 3 only
    feats2 = model.text.forward_features(changed)
    assert torch.allclose(feats[:, :3], feats2[:, :3], atol=1e-6)                # positions 0..2 cannot see it
    assert not torch.allclose(feats[:, 3:], feats2[:, 3:], atol=1e-4)
    short = tok(["a red circle", "a blue ring"], context_length=5)               # no padding at all
    assert torch.allclose(model.encode_text(ids), model.encode_text(short), atol=1e-6)


def test_eos_and_argmax_pooling_agree_with_the_tokenizer_layout():
    torch.manual_seed(2)
    model, tok = make()
    argmax = CLIP(model.vision_config, TextConfig(**{**model.text_config.to_dict(), "pool": "argmax"}), embed_dim=16)
    argmax.load_state_dict(model.state_dict())
    ids = tok(CAPTIONS[:6])
    assert torch.allclose(model.encode_text(ids), argmax.encode_text(ids), atol=0)
    assert model.text_config.eos_token_id == tok.eos_id


def test_every_parameter_gets_a_gradient():
    torch.manual_seed(3)
    for model, loss_fn in ((make()[0], lambda m, i, t: clip_loss(i, t, m.logit_scale)),
                           (make(logit_bias_init=-10.0)[0], lambda m, i, t: siglip_loss(i, t, m.logit_scale, m.logit_bias))):
        tok = WordTokenizer(CAPTIONS, context_length=8)
        ids = tok(CAPTIONS[:4])
        loss = loss_fn(model, model.encode_image(torch.rand(4, 3, 8, 8)), model.encode_text(ids))
        loss.backward()
        unused = {"text.token_embed.weight"}  # only rows of tokens in the batch get gradient; the matrix does
        missing = [n for n, p in model.named_parameters() if p.grad is None or (n not in unused and p.grad.abs().sum() == 0)]
        assert missing == []


def test_overfits_64_pairs_far_below_ln_B():
    """open_clip#17's advice: a model must be able to overfit a tiny set. 64 noise images, 64 captions."""
    torch.manual_seed(0)
    model, tok = make()
    images, ids = torch.rand(64, 3, 8, 8), tok(CAPTIONS)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.0)
    start, losses = time.perf_counter(), []
    for _ in range(250):
        loss = clip_loss(model.encode_image(images), model.encode_text(ids), model.logit_scale)
        opt.zero_grad()
        loss.backward()
        opt.step()
        model.clamp_logit_scale_()
        losses.append(loss.item())
    assert losses[0] > 0.8 * math.log(64)                       # starts near chance, ln 64 = 4.16
    assert losses[-1] < 0.1 * math.log(64), losses[-1]
    assert model.logit_scale.item() <= MAX_LOGIT_SCALE + 1e-6
    assert (model(images, ids).argmax(dim=1) == torch.arange(64)).float().mean() > 0.95
    assert time.perf_counter() - start < 60                     # a few seconds on an idle 2-core CPU


def test_bad_inputs():
    model, tok = make()
    with pytest.raises(TypeError, match="CLIP\\(vision: ViTConfig, text: TextConfig\\)"):
        CLIP(model.text_config, model.vision_config)
    with pytest.raises(ValueError, match="embed_dim must be a positive integer"):
        CLIP(model.vision_config, model.text_config, embed_dim=0)
    with pytest.raises(ValueError, match="int64 tensor"):
        model.encode_text(torch.rand(2, 4))
    with pytest.raises(ValueError, match="context_length=8"):
        model.encode_text(torch.zeros(2, 9, dtype=torch.long))
    with pytest.raises(ValueError, match="must lie in \\[0, vocab_size"):
        model.encode_text(torch.full((1, 3), tok.vocab_size))
    with pytest.raises(ValueError, match="no <eos>"):
        model.encode_text(torch.tensor([[tok.bos_id, 2, 3]]))
    with pytest.raises(ValueError, match="expects 3"):
        model.encode_image(torch.rand(2, 1, 8, 8))
    with pytest.raises(ValueError, match="TextConfig.dim must be a positive integer"):
        TextConfig(dim=0)
    with pytest.raises(ValueError, match="eos_token_id=10 must lie in"):
        TextConfig(vocab_size=10, eos_token_id=10)
    with pytest.raises(ValueError, match="unknown pool"):
        TextConfig(pool="cls")
    with pytest.raises(ValueError, match="divisible by num_heads"):
        TextConfig(dim=30, num_heads=4)
