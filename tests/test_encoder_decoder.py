"""ImageToText: shapes for any vocabulary and image size, causality, batch independence, the image
matters, the decoder attends to all image tokens, loss, gradients, an overfit check, generation
settings, errors."""
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from vitcourse import ViT, ViTConfig
from vitcourse.encoder_decoder import ImageToText, image_to_text
from vitcourse.gpt import GPT, IGNORE_INDEX

V, T, BOS, EOS, PAD = 11, 10, 1, 2, 0


def small(dec_dim=16, image_size=8, channels=3, vocab=V, pool="cls"):
    torch.manual_seed(0)
    cfg = ViTConfig(image_size=image_size, patch_size=4, in_channels=channels, dim=12, depth=1, num_heads=2, mlp_dim=24,
                    num_classes=0, pool=pool)
    return image_to_text(cfg, vocab, T, BOS, EOS, PAD, dim=dec_dim, depth=2, num_heads=2, mlp_dim=32).eval()


def data(b=3, t=T, seed=0, size=8, channels=3):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(b, channels, size, size, generator=g), torch.randint(0, V, (b, t), generator=g)


@pytest.mark.parametrize("dec_dim, size, channels, vocab", [(12, 8, 3, V), (16, 12, 1, 40), (16, 16, 3, 300)])
def test_shapes_for_any_vocabulary_and_image_size(dec_dim, size, channels, vocab):
    model = small(dec_dim, size, channels, vocab)
    assert (model.enc_to_dec_proj is None) == (dec_dim == 12)
    images, ids = data(size=size, channels=channels)
    assert model(images, ids).shape == (3, T, vocab)
    maps = model.cross_attention_maps(images, ids)
    m = (size // 4) ** 2 + 1                                              # every patch token + the class token
    assert [w.shape for w in maps] == [(3, 2, T, m)] * 2
    torch.testing.assert_close(maps[1].sum(-1), torch.ones(3, 2, T))


@settings(max_examples=20, deadline=None)
@given(t=st.integers(0, T - 2), new=st.integers(0, V - 1), seed=st.integers(0, 20))
def test_future_tokens_never_change_the_past(t, new, seed):
    model = small()
    images, x = data(seed=seed)
    y = x.clone()
    y[:, t + 1] = new
    with torch.no_grad():
        assert torch.equal(model(images, x)[:, : t + 1], model(images, y)[:, : t + 1])


def test_batch_independence_and_the_image_matters():
    model = small()
    images, ids = data()
    with torch.no_grad():
        full = model(images, ids)
        torch.testing.assert_close(model(images[1:2], ids[1:2]), full[1:2], rtol=1e-5, atol=1e-6)
        other = images.clone()
        other[0] = -other[0]
        changed = model(other, ids)
        assert (changed[0] - full[0]).abs().max() > 1e-3                # a different image, different text
        torch.testing.assert_close(changed[1:], full[1:])               # the others untouched


def test_every_image_token_can_change_the_logits():
    model = small(pool="mean")
    images, ids = data(b=1)
    tokens = model.encode(images).detach().requires_grad_(True)         # (1, M, D_dec)
    model.decoder(ids, context=tokens).pow(2).sum().backward()
    assert (tokens.grad.abs().sum(-1) > 0).all()                       # cross-attention reads all M tokens


def test_loss_and_gradients_reach_every_parameter():
    model = small().train()
    images, ids = data()
    targets = torch.roll(ids, -1, dims=1)
    targets[:, -1] = IGNORE_INDEX
    loss = model.loss(images, ids, targets)
    logits = model(images, ids)
    keep = targets != IGNORE_INDEX
    by_hand = torch.nn.functional.cross_entropy(logits[keep], targets[keep])
    torch.testing.assert_close(loss, by_hand)
    loss.backward()
    for name, p in model.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name


def test_overfits_two_captions_and_generates_them():
    """The check every captioning fine-tune needs (TrOCR users: 'see if it can overfit 5 examples')."""
    model = small().train()
    images, _ = data(b=2, seed=3)
    captions = torch.tensor([[BOS, 5, 6, 7, EOS], [BOS, 8, 4, EOS, PAD]])
    targets = torch.cat([captions[:, 1:], torch.full((2, 1), IGNORE_INDEX)], 1)
    targets[targets == PAD] = IGNORE_INDEX
    opt = torch.optim.AdamW(model.parameters(), lr=1e-2)
    for _ in range(80):
        opt.zero_grad()
        loss = model.loss(images, captions, targets)
        loss.backward()
        opt.step()
    assert loss.item() < 0.05
    greedy = model.generate(images, 6)
    assert greedy.tolist() == [[BOS, 5, 6, 7, EOS], [BOS, 8, 4, EOS, PAD]]   # stops at EOS, pads the rest
    assert torch.equal(model.generate(images, 6, num_beams=3), greedy)
    assert model.training                                               # generate restores the mode


def test_generation_settings():
    model = small()
    images, _ = data()
    out = model.generate(images, 5, do_sample=True, temperature=1.5, top_k=4, generator=torch.Generator().manual_seed(0))
    again = model.generate(images, 5, do_sample=True, temperature=1.5, top_k=4, generator=torch.Generator().manual_seed(0))
    assert torch.equal(out, again) and (out[:, 0] == BOS).all() and out.shape[1] <= 6
    prompt = torch.tensor([[BOS, 4]] * 3)
    cont = model.generate(images, 3, prompt=prompt)
    assert torch.equal(cont[:, :2], prompt)
    assert not (model.generate(images, 4, suppress_tokens=[EOS])[:, 1:] == EOS).any()


def test_errors():
    model = small()
    images, ids = data()
    with pytest.raises(ValueError, match=r"\[0, vocab_size=11\)"):
        model(images, torch.full((3, 4), V))
    with pytest.raises(ValueError, match="8x8"):
        model(torch.zeros(3, 3, 12, 12), ids)
    with pytest.raises(ValueError, match="channels"):
        model(torch.zeros(3, 1, 8, 8), ids)
    with pytest.raises(ValueError, match="prompt is empty"):
        model.generate(images, 3, prompt=torch.zeros(3, 0, dtype=torch.long))
    for bad in (0, -1, 2.5):
        with pytest.raises(ValueError, match="max_new_tokens"):
            model.generate(images, bad)
    with pytest.raises(ValueError, match="does not fit"):
        model.generate(images, T)
    with pytest.raises(ValueError, match="one each"):
        model(images[:2], ids)
    with pytest.raises(ValueError, match="num_beams"):
        model.generate(images, 3, num_beams=0)
    with pytest.raises(ValueError, match="sampling with beams"):
        model.generate(images, 3, num_beams=2, do_sample=True)
    enc = ViT(ViTConfig(image_size=8, patch_size=4, dim=12, depth=1, num_heads=2, mlp_dim=8, num_classes=0))
    with pytest.raises(TypeError, match="cross_attention=True"):
        ImageToText(enc, GPT(V, T, dim=12, depth=1, num_heads=2), BOS)
    with pytest.raises(ValueError, match="head-less"):
        ImageToText(ViT(enc.config.replace(num_classes=3)), GPT(V, T, dim=12, depth=1, num_heads=2,
                                                                  cross_attention=True), BOS)
    with pytest.raises(ValueError, match="bos_token_id"):
        ImageToText(enc, GPT(V, T, dim=12, depth=1, num_heads=2, cross_attention=True), V)


class WideStem(torch.nn.Module):
    """A non-ViT encoder for wide text lines (H=8, W=32): one token per 4-pixel column strip."""

    def __init__(self, dim=10):
        super().__init__()
        self.conv = torch.nn.Conv2d(1, dim, kernel_size=(8, 4), stride=(8, 4))

    def forward_features(self, images):                                  # (B, 1, 8, W) -> (B, W / 4, D)
        return self.conv(images).flatten(2).transpose(1, 2)


def test_any_encoder_with_forward_features_and_non_square_images():
    torch.manual_seed(0)
    model = ImageToText(WideStem(), GPT(V, T, dim=16, depth=1, num_heads=2, cross_attention=True), BOS, EOS, PAD,
                        encoder_dim=10)
    lines = torch.randn(2, 1, 8, 32)
    ids = torch.randint(0, V, (2, 5))
    assert model(lines, ids).shape == (2, 5, V)
    assert model.cross_attention_maps(lines, ids)[0].shape == (2, 2, 5, 8)   # 8 column tokens
    assert model.generate(lines, 4, num_beams=2).shape[0] == 2
    with pytest.raises(ValueError, match="encoder_dim"):
        ImageToText(WideStem(), GPT(V, T, dim=16, depth=1, num_heads=2, cross_attention=True), BOS)
    wrong = ImageToText(WideStem(), GPT(V, T, dim=16, depth=1, num_heads=2, cross_attention=True), BOS, encoder_dim=12)
    with pytest.raises(ValueError, match=r"expected \(B, M, 12\)"):
        wrong(lines, ids)
    with pytest.raises(TypeError, match="forward_features"):
        ImageToText(torch.nn.Linear(2, 2), GPT(V, T, dim=16, depth=1, num_heads=2, cross_attention=True), BOS)
