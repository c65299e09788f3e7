"""The three fusion patterns: shapes, gradients to every trainable part, frozen encoders, what each
sees of the image (late fusion only a pooled vector, so token order and anything that keeps the mean
are invisible to it), causal question reading with right padding, costs, errors."""
import pytest
import torch

from vitcourse import ViT, ViTConfig
from vitcourse.vlm import CrossAttentionFusion, EarlyFusion, LateFusion

V, A, PAD = 20, 5, 0
MODELS = [LateFusion, CrossAttentionFusion, EarlyFusion]


def build(cls, pool="mean", dim=24, **kw):
    torch.manual_seed(0)
    enc = ViT(ViTConfig(image_size=16, patch_size=4, dim=16, depth=1, num_heads=2, mlp_dim=32, num_classes=0, pool=pool))
    return cls(enc, V, A, dim=dim, depth=2, num_heads=2, max_question_len=8, pad_token_id=PAD, **kw).double()


def batch(b=3, t=6, seed=0):
    g = torch.Generator().manual_seed(seed)
    q = torch.randint(1, V, (b, t), generator=g)
    q[0, 4:] = PAD                                                       # a shorter, right-padded question
    return torch.randn(b, 3, 16, 16, generator=g, dtype=torch.float64), q


@pytest.mark.parametrize("cls", MODELS)
@pytest.mark.parametrize("dim", [16, 24])                                 # same width as the encoder, or not
def test_shapes_and_gradients_reach_every_trainable_part(cls, dim):
    model = build(cls, dim=dim)
    images, q = batch()
    logits = model(images, q)
    assert logits.shape == (3, A) and logits.dtype == torch.float64
    logits.pow(2).sum().backward()
    for name, p in model.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name
    assert model.num_parameters() == sum(p.numel() for p in model.parameters())


@pytest.mark.parametrize("cls", MODELS)
def test_frozen_encoder_and_precomputed_tokens(cls):
    model = build(cls, freeze_image_encoder=True)
    images, q = batch()
    frozen = model.image_encoder.num_parameters()
    assert model.num_parameters(trainable_only=True) == model.num_parameters() - frozen
    tokens = model.encode_images(images)
    assert not tokens.requires_grad and tokens.shape == (3, 16, 16)
    torch.testing.assert_close(model(None, q, image_tokens=tokens), model(images, q), rtol=0, atol=0)


@pytest.mark.parametrize("cls", MODELS)
def test_padding_is_invisible_and_the_image_matters(cls):
    model = build(cls).eval()
    images, q = batch()
    with torch.no_grad():
        out = model(images, q)
        alone = model(images[:1], q[:1, :4])                             # the same question without padding
        torch.testing.assert_close(out[:1], alone, rtol=1e-12, atol=1e-12)   # and batch independence
        other = images.clone()
        other[1] = torch.randn(3, 16, 16, dtype=torch.float64)
        changed = model(other, q)
        assert (changed[1] - out[1]).abs().max() > 1e-6
        torch.testing.assert_close(changed[[0, 2]], out[[0, 2]], rtol=1e-12, atol=1e-12)


def test_late_fusion_sees_only_the_pooled_vector():
    """Late fusion reads mean(tokens): a permutation of the patch tokens, or any token set with the same
    mean, gives the same answer. Cross-attention reads every token: it tells them apart. So a pooled
    vector cannot say what is left of what unless the encoder wrote it into the mean."""
    late, cross = build(LateFusion).eval(), build(CrossAttentionFusion).eval()
    images, q = batch()
    with torch.no_grad():
        tokens = late.encode_images(images)                              # (B, 16, 16), mean pooling
        perm = tokens[:, torch.randperm(16, generator=torch.Generator().manual_seed(0))]
        torch.testing.assert_close(late(None, q, image_tokens=perm), late(None, q, image_tokens=tokens))
        spread = tokens.clone()                                          # same mean, different tokens
        spread[:, 0] += 1.0
        spread[:, 1] -= 1.0
        torch.testing.assert_close(late(None, q, image_tokens=spread), late(None, q, image_tokens=tokens))
        assert (cross(None, q, image_tokens=spread) - cross(None, q, image_tokens=tokens)).abs().max() > 1e-6


def test_early_fusion_positions_the_image_tokens():
    model = build(EarlyFusion).eval()
    images, q = batch()
    with torch.no_grad():
        tokens = model.encode_images(images)
        flipped = tokens.flip(1)                                         # the LM's positions see the order
        assert (model(None, q, image_tokens=flipped) - model(None, q, image_tokens=tokens)).abs().max() > 1e-6


def test_cross_attention_weights_cover_every_image_token():
    model = build(CrossAttentionFusion, pool="cls").eval()
    images, q = batch()
    logits, maps = model(images, q, return_cross_weights=True)
    assert logits.shape == (3, A) and [m.shape for m in maps] == [(3, 2, 6, 17)] * 2
    torch.testing.assert_close(maps[0].sum(-1), torch.ones(3, 2, 6, dtype=torch.float64))


def test_costs_count_language_model_tokens_and_flops():
    costs = {cls.__name__: build(cls).cost(6) for cls in MODELS}
    assert [c["lm_tokens"] for c in costs.values()] == [6, 6, 16 + 6]       # early fusion: M + T tokens
    assert all(c["image_tokens"] == 16 and c["encoder_flops"] > 0 for c in costs.values())
    assert costs["LateFusion"]["fusion_flops"] < costs["CrossAttentionFusion"]["fusion_flops"] \
        < costs["EarlyFusion"]["fusion_flops"]
    longer = build(EarlyFusion).cost(8)
    assert longer["fusion_flops"] > costs["EarlyFusion"]["fusion_flops"]


def test_errors():
    model = build(LateFusion)
    images, q = batch()
    with pytest.raises(ValueError, match="right-padding"):
        model(images, torch.tensor([[3, PAD, 4, 5]] * 3))
    with pytest.raises(ValueError, match="right-padding"):
        model(images, torch.full((3, 4), PAD))
    with pytest.raises(ValueError, match=r"vocab_size=20"):
        model(images, torch.full((3, 4), V))
    with pytest.raises(ValueError, match="1 to block_size=8"):
        model(images, torch.ones(3, 9, dtype=torch.long))
    with pytest.raises(ValueError, match="one each"):
        model(images[:2], q)
    with pytest.raises(ValueError, match="16x16"):
        model(torch.zeros(3, 3, 12, 12, dtype=torch.float64), q)
    with pytest.raises(ValueError, match="images .* or precomputed image_tokens"):
        model(None, q)
    with pytest.raises(ValueError, match=r"image_tokens must be \(B, M, 16\)"):
        model(None, q, image_tokens=torch.zeros(3, 16, 8))
    with pytest.raises(ValueError, match="built for 16 image tokens"):
        build(EarlyFusion)(None, q, image_tokens=torch.zeros(3, 9, 16, dtype=torch.float64))
    with pytest.raises(ValueError, match="head-less"):
        LateFusion(ViT(ViTConfig(image_size=8, patch_size=4, dim=8, depth=1, num_heads=2, mlp_dim=8, num_classes=3)), V, A)
    with pytest.raises(ValueError, match="num_answers"):
        LateFusion(model.image_encoder, V, 1)
