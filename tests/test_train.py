"""Training utilities: seeding, the warm-up + cosine schedule, fit on a separable toy problem,
evaluate against a manual computation, device choice, bad input."""
import math
import random

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from vitcourse.config import ViTConfig
from vitcourse.train import (evaluate, fit, get_device, linear_classifier, linear_probe, predict, seed_everything,
                             warmup_cosine)
from vitcourse.vit import ViT


def toy_data(n=64, seed=0):
    """Two classes of 1x8x8 images: bright top half (0) or bright bottom half (1), plus noise."""
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, 2, (n,), generator=g)
    x = 0.3 * torch.randn(n, 1, 8, 8, generator=g)
    x[y == 0, :, :4] += 1.0
    x[y == 1, :, 4:] += 1.0
    return x, y


def loader(x, y, batch_size=16, shuffle=False):
    return DataLoader(TensorDataset(x, y), batch_size=batch_size, shuffle=shuffle)


def tiny_vit():
    return ViT(ViTConfig(image_size=8, patch_size=4, in_channels=1, num_classes=2, dim=16, depth=1,
                         num_heads=2, mlp_dim=32))


def test_seed_everything_reproduces_every_generator():
    def draw():
        return random.random(), np.random.rand(), torch.rand(3).tolist(), tiny_vit().head.weight.sum().item()
    seed_everything(7)
    a = draw()
    seed_everything(7)
    b = draw()
    seed_everything(8)
    c = draw()
    assert a == b
    assert all(x != y for x, y in zip(a, c))


def test_warmup_cosine_values():
    total, warmup = 10, 4
    factors = [warmup_cosine(s, total, warmup) for s in range(total + 1)]
    assert factors[:4] == [0.25, 0.5, 0.75, 1.0]                    # linear warm-up (step + 1) / warmup
    assert factors[4] == 1.0                                         # cosine starts at its peak
    assert factors[7] == pytest.approx(0.5)                          # halfway through the decay
    assert factors[10] == pytest.approx(0.0, abs=1e-15)             # and ends at 0
    for s in range(4, 11):
        assert factors[s] == pytest.approx(0.5 * (1 + math.cos(math.pi * (s - 4) / 6)))
    assert all(a >= b for a, b in zip(factors[4:], factors[5:]))    # monotone decay
    assert warmup_cosine(0, 5, 0) == 1.0 and warmup_cosine(50, 5, 0) == pytest.approx(0.0, abs=1e-15)


def test_fit_reduces_the_loss_on_a_separable_problem():
    seed_everything(0)
    x, y = toy_data(64)
    model = tiny_vit()
    before = evaluate(model, loader(x, y))
    history = fit(model, loader(x, y, shuffle=True), loader(*toy_data(32, seed=1)), epochs=10, lr=1e-2,
                  device="cpu", progress=False, warmup_epochs=1)
    assert set(history) == {"train_loss", "train_accuracy", "val_loss", "val_accuracy", "lr"}
    assert all(len(v) == 10 for v in history.values())
    assert history["train_loss"][-1] < 0.25 * history["train_loss"][0]
    after = evaluate(model, loader(x, y))
    assert after["loss"] < 0.25 * before["loss"] and after["accuracy"] >= 0.95
    assert history["val_accuracy"][-1] >= 0.9
    # lr after each epoch = lr * warmup_cosine(steps so far): 4 steps per epoch, 4 warm-up steps
    want = [1e-2 * warmup_cosine(4 * (e + 1), 40, 4) for e in range(10)]
    assert history["lr"] == pytest.approx(want) and history["lr"][-1] == pytest.approx(0.0, abs=1e-12)


def test_fit_without_validation_and_with_a_custom_loss():
    x, y = toy_data(32)
    model = nn.Sequential(nn.Flatten(), nn.Linear(64, 2))
    hist = fit(model, loader(x, y), epochs=2, lr=1e-2, device="cpu", progress=False)
    assert hist["val_loss"] == [] and len(hist["train_loss"]) == 2

    def loss_fn(model, batch):                   # e.g. a reconstruction loss: no logits
        images, _ = batch
        return model(images).pow(2).mean(), None, None
    hist = fit(model, loader(x, y), epochs=2, lr=1e-2, device="cpu", progress=False, loss_fn=loss_fn)
    assert len(hist["train_loss"]) == 2 and all(math.isnan(a) for a in hist["train_accuracy"])
    assert hist["train_loss"][1] < hist["train_loss"][0]


def test_fit_with_progress_bar_and_clipping(capsys):
    x, y = toy_data(16)
    hist = fit(nn.Sequential(nn.Flatten(), nn.Linear(64, 2)), loader(x, y), loader(x, y), epochs=1, lr=1e-2,
               device="cpu", progress=True, grad_clip=1.0, label_smoothing=0.1)
    assert len(hist["val_accuracy"]) == 1
    assert "epochs" in capsys.readouterr().err                     # tqdm writes to stderr outside Jupyter


def test_evaluate_and_predict_match_a_manual_computation():
    x, y = toy_data(40)
    model = tiny_vit()
    model.train()
    result = evaluate(model, loader(x, y, batch_size=16))             # uneven last batch (8)
    assert not model.training                                           # evaluation runs in eval mode
    with torch.no_grad():
        logits = model(x)
    assert result["accuracy"] == pytest.approx((logits.argmax(-1) == y).float().mean().item())
    assert result["loss"] == pytest.approx(F.cross_entropy(logits, y).item(), rel=1e-5)
    labels, preds, out = predict(model, loader(x, y, batch_size=16))
    assert torch.equal(labels, y) and torch.equal(preds, logits.argmax(-1))
    torch.testing.assert_close(out, logits)


def test_get_device():
    if torch.cuda.is_available():
        expected = "cuda"
    elif getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        expected = "mps"
    else:
        expected = "cpu"
    assert get_device().type == expected
    assert get_device("cpu") == torch.device("cpu")
    assert get_device(prefer="meta").type == "meta"                   # prefer overrides the search


@pytest.mark.parametrize("epochs, lr", [(0, 1e-3), (-1, 1e-3), (1, 0.0)])
def test_fit_errors(epochs, lr):
    x, y = toy_data(8)
    with pytest.raises(ValueError, match=f"epochs={epochs}, lr={lr}"):
        fit(nn.Linear(64, 2), loader(x, y), epochs=epochs, lr=lr, progress=False)


def test_linear_probe_separates_what_is_linearly_separable_and_not_noise():
    g = torch.Generator().manual_seed(0)
    y = torch.arange(300) % 3
    centres = torch.randn(3, 8, generator=g) * 3
    x = centres[y] + 0.3 * torch.randn(300, 8, generator=g)
    assert linear_probe(x[:200], y[:200], x[200:], y[200:]) == 1.0
    noise = torch.randn(300, 8, generator=g)                          # features unrelated to the labels
    assert linear_probe(noise[:200], y[:200], noise[200:], y[200:]) < 0.55
    xs = (x * 1000 + 50).numpy()                                      # standardised first: scale does not matter
    assert linear_probe(xs[:200], y[:200].numpy(), xs[200:], y[200:].numpy()) == 1.0
    assert linear_classifier().steps[0][0] == "standardscaler"


def test_linear_probe_errors_say_what_shape_is_expected():
    x, y = torch.rand(10, 2, 4, 4), torch.arange(10) % 2
    with pytest.raises(ValueError, match="2-D.*flatten"):
        linear_probe(x, y, x, y)
    with pytest.raises(ValueError, match="one label per sample"):
        linear_probe(x.flatten(1), y[:9], x.flatten(1), y)
    with pytest.raises(ValueError, match="same width"):
        linear_probe(x.flatten(1), y, x.flatten(1)[:, :5], y)


@pytest.mark.parametrize("name", ["cuda", "cuda:0", "mps"])
def test_get_device_refuses_a_missing_accelerator(name, monkeypatch):
    # a machine without the device: CUDA and MPS reported unavailable, whatever this machine has
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    with pytest.raises(RuntimeError, match=rf"device '{name}'.*not available.*get_device\('cpu'\)"):
        get_device(name)
    with pytest.raises(RuntimeError, match="not available"):             # fit(device=...) checks it too
        fit(tiny_vit(), loader(*toy_data(8)), epochs=1, lr=1e-3, device=name, progress=False)


def test_get_device_refuses_a_missing_gpu_index_and_unknown_names(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    assert get_device("cuda:0") == torch.device("cuda:0")
    with pytest.raises(RuntimeError, match="only 1 CUDA device"):
        get_device("cuda:1")
    with pytest.raises(ValueError, match="unknown device 'tpu'.*'cpu', 'cuda', 'cuda:N' or 'mps'"):
        get_device("tpu")


@pytest.mark.parametrize("bad", [torch.zeros(16, 16), np.zeros((16, 16)), (torch.zeros(4, 1, 8, 8), torch.zeros(4)),
                                 TensorDataset(torch.zeros(4, 1, 8, 8), torch.zeros(4, dtype=torch.long)), 3])
def test_fit_asks_for_a_loader(bad):
    with pytest.raises(TypeError, match="must be a DataLoader"):
        fit(tiny_vit(), bad, epochs=1, lr=1e-3, progress=False)
    with pytest.raises(TypeError, match="val_loader must be a DataLoader"):
        fit(tiny_vit(), loader(*toy_data(8)), bad, epochs=1, lr=1e-3, progress=False)
    with pytest.raises(TypeError, match="loader must be a DataLoader"):
        evaluate(tiny_vit(), bad)


def test_fit_refuses_an_empty_loader():
    with pytest.raises(ValueError, match="empty"):
        fit(tiny_vit(), [], epochs=1, lr=1e-3, progress=False)


def test_labels_outside_the_head_name_the_label_and_the_head_size():
    x, y = toy_data(16)
    y = y.clone()
    y[5] = 12                                                            # the model has 2 classes
    with pytest.raises(ValueError, match=r"label 12 is outside the model's 2 classes.*num_classes=13"):
        fit(tiny_vit(), loader(x, y), epochs=1, lr=1e-3, progress=False)
    with pytest.raises(ValueError, match=r"label 12 is outside the model's 2 classes"):
        evaluate(tiny_vit(), loader(x, y))
    y[5] = -1
    with pytest.raises(ValueError, match=r"label -1 is negative"):
        fit(tiny_vit(), loader(x, y), epochs=1, lr=1e-3, progress=False)
    for dtype in (torch.float32, torch.int32, torch.bool):
        with pytest.raises(TypeError, match=rf"integer class indices \(torch.long\), got {dtype}.*labels.long\(\)"):
            evaluate(tiny_vit(), loader(x, (y > 0).to(dtype)))


def test_fit_restore_best_returns_the_weights_of_the_best_validation_epoch():
    seed_everything(0)
    x, _ = toy_data(64)
    y = torch.randint(0, 2, (64,), generator=torch.Generator().manual_seed(5))   # labels unrelated to the images:
    val = loader(*toy_data(32, seed=1))                                          # validation accuracy wanders
    kept = []

    class Snapshot(nn.Module):               # records the weights after each epoch's validation pass
        def __init__(self):
            super().__init__()
            self.net = nn.Sequential(nn.Flatten(), nn.Linear(64, 2))

        def forward(self, images):
            if not self.training:
                kept.append({k: v.clone() for k, v in self.state_dict().items()})
            return self.net(images)

    model = Snapshot()
    hist = fit(model, loader(x, y, shuffle=True), val, epochs=8, lr=0.5, device="cpu", progress=False,
               restore_best=True)
    best = hist["best_epoch"]
    assert best < 7 and max(hist["val_accuracy"]) > hist["val_accuracy"][-1]    # the last epoch is not the best
    assert hist["val_accuracy"][best] == max(hist["val_accuracy"])
    assert best == hist["val_accuracy"].index(max(hist["val_accuracy"]))       # first of the ties
    assert evaluate(model, val)["accuracy"] == pytest.approx(hist["val_accuracy"][best])
    want = kept[best * len(val)]                                                # first val batch of that epoch
    assert all(torch.equal(v, want[k]) for k, v in model.state_dict().items())


def test_fit_restore_best_needs_a_validation_loader():
    x, y = toy_data(16)
    with pytest.raises(ValueError, match="needs a val_loader"):
        fit(nn.Sequential(nn.Flatten(), nn.Linear(64, 2)), loader(x, y), epochs=1, lr=1e-2, device="cpu",
            progress=False, restore_best=True)
