"""The CTC reader (Graves et al. 2006): frames per column, the loss equals F.ctc_loss on the
frames, the frame budget (characters + repeats) is checked, reading greedy and beam, plain-ViT and
hybrid encoders, every parameter learns, clear errors."""
import pytest
import torch
import torch.nn.functional as F

from vitcourse import ViT, ViTConfig
from vitcourse.ocr import CTCReader, OCRTokenizer, ctc_greedy_decode, ctc_reader


def small(hybrid=True, **kw):
    return ctc_reader((16, 64), 10, hybrid=hybrid, patch_size=4, dim=16, depth=1, num_heads=2, mlp_dim=32, **kw)


def test_frames_per_column_on_both_encoders():
    hybrid, plain = small(), small(hybrid=False, frames_per_column=3)
    assert hybrid.grid_hw == (1, 16) and hybrid.num_frames == 32
    assert plain.grid_hw == (4, 16) and plain.num_frames == 48 and isinstance(plain.encoder, ViT)
    x = torch.rand(2, 1, 16, 64)
    assert hybrid(x).shape == (2, 32, 10) and plain(x).shape == (2, 48, 10)


def test_frames_are_left_to_right_columns():
    # column j's frames read column j's tokens: with the blocks silenced (their residual branches
    # zeroed, so no token sees another), changing the right half leaves the left frames unchanged
    model = CTCReader(ViT(ViTConfig(image_size=(8, 32), patch_size=4, in_channels=1, num_classes=0, dim=8,
                                    depth=1, num_heads=2, mlp_dim=8, pool="mean")), 5)
    with torch.no_grad():
        for p in [*model.encoder.blocks[0].attn.proj.parameters(), *model.encoder.blocks[0].mlp.fc2.parameters()]:
            p.zero_()
    x = torch.rand(1, 1, 8, 32)
    y = x.clone()
    y[..., 16:] = 0
    a, b = model(x), model(y)
    assert model.num_frames == 16 and torch.equal(a[:, :8], b[:, :8]) and not torch.equal(a[:, 8:], b[:, 8:])


def test_loss_is_ctc_on_the_frames_and_every_parameter_learns():
    model = small()
    x = torch.rand(2, 1, 16, 64)
    targets, lengths = torch.tensor([4, 5, 5, 6, 7]), torch.tensor([3, 2])
    loss = model.loss(x, targets, lengths)
    lp = model(x).log_softmax(-1)
    ref = F.ctc_loss(lp.transpose(0, 1), targets, torch.tensor([32, 32]), lengths, blank=0)
    assert torch.allclose(loss, ref)
    loss.backward()
    assert all(p.grad is not None for p in model.parameters())


def test_read_ids_greedy_and_beam():
    model = small()
    x = torch.rand(3, 1, 16, 64)
    assert model.read_ids(x) == ctc_greedy_decode(model(x).log_softmax(-1).double())
    with torch.no_grad():                                       # a reader sure of "4 5 5" in its frames
        model.head.weight.zero_()
        model.head.bias.copy_(torch.tensor([9.0] + [0.0] * 9).repeat(2))        # blank everywhere ...
    x = torch.rand(1, 1, 16, 64)
    assert model.read_ids(x) == [[]] and model.read_ids(x, 3) == [[]]
    assert model.training                                       # reading leaves the mode as it was


def test_clear_errors():
    model = small()
    x = torch.rand(1, 1, 16, 64)
    too_long = torch.tensor([4, 4] * 11)                                 # 22 labels, 21 repeats -> 43 frames
    with pytest.raises(ValueError, match=r"needs 43 frames.*the reader has 32"):
        model.loss(x, too_long, torch.tensor([22]))
    with pytest.raises(ValueError, match="1 images but 2 target lengths"):
        model.loss(x, torch.tensor([4, 5]), torch.tensor([1, 1]))
    with pytest.raises(ValueError, match="blank_id=12"):
        ctc_reader((16, 64), 10, blank_id=12)
    with pytest.raises(TypeError, match="a ViTConfig, a head-less ViT or a LineEncoder"):
        CTCReader(torch.nn.Linear(2, 2), 10)
    with pytest.raises(ValueError, match="head-less"):
        CTCReader(ViT(ViTConfig(image_size=8, patch_size=4, in_channels=1, num_classes=3, dim=8, depth=1,
                                num_heads=2, mlp_dim=8)), 10)
