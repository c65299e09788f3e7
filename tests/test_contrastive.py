"""clip_loss and siglip_loss: float64 parity with transformers, chance value ln B, symmetry,
multi-positive targets, gradients, bad inputs."""
import math

import pytest
import torch
import torch.nn.functional as F

from vitcourse.contrastive import clip_logits, clip_loss, positives_matrix, siglip_loss

transformers = pytest.importorskip("transformers")
modeling_clip = transformers.models.clip.modeling_clip
# 5.x name, 4.x name
HF_CLIP_LOSS = getattr(modeling_clip, "image_text_contrastive_loss", None) or modeling_clip.clip_loss


def features(B=8, D=16, seed=0, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(B, D, generator=g, dtype=dtype), torch.randn(B, D, generator=g, dtype=dtype))


@pytest.mark.parametrize("B,t", [(2, 0.0), (8, math.log(1 / 0.07)), (33, math.log(100))])
def test_clip_loss_equals_transformers(B, t):
    img, txt = features(B)
    logits_per_text = math.exp(t) * F.normalize(txt, dim=-1) @ F.normalize(img, dim=-1).T   # as CLIPModel.forward
    expected = HF_CLIP_LOSS(logits_per_text)
    assert abs(clip_loss(img, txt, torch.tensor(t, dtype=torch.float64)).item() - expected.item()) <= 1e-12
    assert abs(clip_loss(img, txt, t).item() - expected.item()) <= 1e-12                    # a float works too


def test_equal_logits_give_ln_B():
    for B in (2, 7, 128):
        same = torch.ones(B, 4, dtype=torch.float64)
        assert clip_loss(same, same.clone(), 2.0).item() == pytest.approx(math.log(B), abs=1e-12)


def test_symmetry_scale_and_permutation_invariance():
    img, txt = features(10)
    loss = clip_loss(img, txt, 1.3)
    assert clip_loss(txt, img, 1.3).item() == pytest.approx(loss.item(), abs=1e-12)
    assert clip_loss(5 * img, 0.1 * txt, 1.3).item() == pytest.approx(loss.item(), abs=1e-12)  # normalised inside
    perm = torch.randperm(10, generator=torch.Generator().manual_seed(1))
    assert clip_loss(img[perm], txt[perm], 1.3).item() == pytest.approx(loss.item(), abs=1e-12)
    assert clip_loss(img, txt[perm], 1.3).item() != pytest.approx(loss.item(), abs=1e-6)      # pairing matters


def test_aligned_features_beat_chance_and_temperature_sharpens():
    img, _ = features(16)
    assert clip_loss(img, img + 0.01, math.log(100)) < 0.01 < math.log(16)
    assert clip_loss(img, img, math.log(100)) < clip_loss(img, img, 0.0)


def test_logits_match_definition():
    img, txt = features(4, 3)
    expected = 2.0 * (img / img.norm(dim=1, keepdim=True)) @ (txt / txt.norm(dim=1, keepdim=True)).T
    assert torch.allclose(clip_logits(img, txt, math.log(2.0)), expected, atol=1e-14)


def test_identity_targets_equal_no_targets():
    img, txt = features(6)
    loss = clip_loss(img, txt, 1.0)
    assert clip_loss(img, txt, 1.0, targets=torch.arange(6)).item() == pytest.approx(loss.item(), abs=1e-12)
    assert clip_loss(img, txt, 1.0, targets=torch.eye(6, dtype=torch.bool)).item() == pytest.approx(loss.item(), abs=1e-12)


def duplicated_batch():
    """8 images; captions 0-3 each appear twice (pairs (i, i+4)), texts of a caption identical."""
    img, txt = features(8, 16, seed=3)
    txt[4:] = txt[:4]
    img = txt + 0.05 * img                                   # images near their caption
    return img, txt, torch.tensor([0, 1, 2, 3, 0, 1, 2, 3])


def test_multi_positive_targets_reduce_the_loss_on_duplicated_captions():
    img, txt, ids = duplicated_batch()
    identity = clip_loss(img, txt, math.log(100))
    multi = clip_loss(img, txt, math.log(100), targets=ids)
    assert identity > math.log(2) - 0.01                      # identical captions cannot be told apart
    assert multi < 0.05 < identity
    assert torch.equal(positives_matrix(ids, 8), ids[:, None] == ids[None, :])
    captions = ["a red circle", "a blue ring", "a cat", "a dog"] * 2                # the strings work too
    assert clip_loss(img, txt, math.log(100), targets=captions).item() == pytest.approx(multi.item(), abs=1e-12)


def test_soft_targets_do_not_help_with_identical_captions():
    """Why the module removes false negatives instead of using row-normalised soft targets."""
    img, txt, ids = duplicated_batch()
    logits = clip_logits(img, txt, 2.0)
    same = (ids[:, None] == ids[None, :]).double()
    soft = lambda lg, s: -(s / s.sum(1, keepdim=True) * lg.log_softmax(1)).sum(1).mean()
    soft_loss = (soft(logits, same) + soft(logits.T, same.T)) / 2
    assert soft_loss.item() == pytest.approx(clip_loss(img, txt, 2.0).item(), abs=1e-12)


def test_gradients_reach_features_and_logit_scale():
    img, txt = features(5)
    img.requires_grad_(True)
    t = torch.tensor(1.0, dtype=torch.float64, requires_grad=True)
    for loss in (clip_loss(img, txt, t), siglip_loss(img, txt, t, -1.0)):
        gi, gt = torch.autograd.grad(loss, (img, t))
        assert gi.abs().sum() > 0 and gt.abs() > 0


def siglip_model(seed=0):
    text = dict(vocab_size=50, max_position_embeddings=8, hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                intermediate_size=64, pad_token_id=0, bos_token_id=1, eos_token_id=2)
    vision = dict(image_size=16, patch_size=8, hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                  intermediate_size=64)
    model = transformers.SiglipModel(transformers.SiglipConfig(text_config=text, vision_config=vision,
                                                               attn_implementation="sdpa")).double().eval()
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():                          # every parameter, logit scale and bias included
            p.copy_(torch.randn(p.shape, generator=g, dtype=p.dtype) * 0.3)
    return model


def test_siglip_loss_equals_siglip_model():
    model = siglip_model()
    g = torch.Generator().manual_seed(1)
    ids, pixels = torch.randint(0, 50, (6, 8), generator=g), torch.randn(6, 3, 16, 16, generator=g, dtype=torch.float64)
    out = model(input_ids=ids, pixel_values=pixels, return_loss=True)
    assert model.logit_bias.abs().item() > 0
    ours = siglip_loss(out.image_embeds, out.text_embeds, model.logit_scale, model.logit_bias)
    assert abs(ours.item() - out.loss.item()) <= 1e-10


def test_siglip_loss_definition_and_init():
    img, txt = features(8)
    t, b = math.log(10), -10.0
    logits = clip_logits(img, txt, t) + b
    z = 2 * torch.eye(8, dtype=torch.float64) - 1
    expected = -torch.log(torch.sigmoid(z * logits)).sum() / 8
    assert siglip_loss(img, txt, t, b).item() == pytest.approx(expected.item(), rel=1e-12)
    # Hugging Face's init (t = b = 0) starts all B^2 pairs near p = 1/2, a loss of about B ln 2 that
    # grows with the batch; the paper's (ln 10, -10) starts the negatives near p = 0, so the loss
    # starts near 10 (the positives' -log sigmoid(-10)) whatever B is
    img, txt = features(64)
    assert siglip_loss(img, txt, 0.0, 0.0).item() / 64 == pytest.approx(math.log(2), abs=0.05)
    assert 9 < siglip_loss(img, txt, t, b).item() < 11


def test_siglip_multi_positive_targets_reduce_the_loss():
    img, txt, ids = duplicated_batch()
    assert siglip_loss(img, txt, math.log(10), -5.0, targets=ids) < siglip_loss(img, txt, math.log(10), -5.0)


@pytest.mark.parametrize("loss", [lambda i, t: clip_loss(i, t, 1.0), lambda i, t: siglip_loss(i, t, 1.0, -1.0)])
def test_bad_inputs(loss):
    img, txt = features(4)
    with pytest.raises(ValueError, match="B >= 2"):
        loss(img[:1], txt[:1])
    with pytest.raises(ValueError, match="one caption per image"):
        loss(img, txt[:3])
    with pytest.raises(ValueError, match="one caption per image"):
        loss(img, txt[:, :5])
    with pytest.raises(ValueError, match="NaN or infinite"):
        loss(img, txt.clone().index_fill_(0, torch.tensor([2]), float("nan")))
    with pytest.raises(ValueError, match="\\(B, D\\)"):
        loss(img[0], txt[0])
    with pytest.raises(ValueError, match="floating point"):
        loss(img.long(), txt.long())


def test_bad_scale_and_targets():
    img, txt = features(4)
    with pytest.raises(ValueError, match="logit_scale must be one finite number"):
        clip_loss(img, txt, torch.ones(2))
    with pytest.raises(ValueError, match="logit_scale must be one finite number"):
        clip_loss(img, txt, float("inf"))
    with pytest.raises(ValueError, match="logit_bias must be one finite number"):
        siglip_loss(img, txt, 1.0, float("nan"))
    with pytest.raises(ValueError, match="4 integer caption ids"):
        clip_loss(img, txt, 1.0, targets=torch.arange(3))
    with pytest.raises(ValueError, match="4 integer caption ids"):
        clip_loss(img, txt, 1.0, targets=torch.ones(4, 4))
    with pytest.raises(ValueError, match="every pair \\(i, i\\)"):
        clip_loss(img, txt, 1.0, targets=torch.zeros(4, 4, dtype=torch.bool))
